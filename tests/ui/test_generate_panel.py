"""pytest-qt tests for the Generate step: streaming, Stop, candidates, step mode, beams, comparisons."""

from dataclasses import replace
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

from playground.engine.jobs import Job


@pytest.fixture(scope="module")
def demo():
    from playground.core.checkpoints import load_checkpoint
    from playground.paths import demo_model_dir

    path = demo_model_dir()
    assert path is not None, "models/demo is missing: it ships with the repository, so restore it"
    return load_checkpoint(path)


def make_panel(qtbot, session):
    from playground.ui.generate_panel import GeneratePanel

    panel = GeneratePanel(session)
    qtbot.addWidget(panel)
    panel.resize(1150, 780)
    panel.show()
    return panel


@pytest.fixture
def panel(qtbot, session, demo):
    checkpoint, model = demo
    session.set_checkpoint(checkpoint, model)
    widget = make_panel(qtbot, session)
    yield widget
    widget.stop_and_wait()


def finish(qtbot, panel, timeout=60_000):
    """Wait until the panel's jobs are done and their threads have ended."""
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=timeout)
    qtbot.waitUntil(lambda: not Job.running(), timeout=timeout)


def use(panel, **changes):
    panel.set_settings(replace(panel.settings(), **changes))


def greedy(panel, **changes):
    use(panel, strategy="greedy", repetition_penalty=1.0, stop_at_end=False, **changes)


# ------------------------------------------------------------------ streaming


def test_streaming_appends_tokens_one_by_one(qtbot, panel, demo, monkeypatch):
    checkpoint, _ = demo
    greedy(panel, max_new_tokens=20)
    panel.prompt_edit.setPlainText("def ")
    counts = []
    original = panel.output.append_token

    def spy(token):
        counts.append(panel.output.token_count())
        original(token)

    monkeypatch.setattr(panel.output, "append_token", spy)
    assert panel.generate() is not None
    assert not panel.generate_button.isEnabled() and panel.stop_button.isEnabled()
    finish(qtbot, panel)
    tokens = panel.output.tokens()
    assert len(tokens) == 20
    assert counts == list(range(20))  # one partial per token, each adding one
    assert [t.index for t in tokens] == list(range(20))
    assert panel.output.generated_text() == checkpoint.tokenizer.decode([t.id for t in tokens])
    assert panel.output.prompt_text() == "def "
    assert panel.status.text().startswith("Stopped: max new tokens")
    assert "tokens/s" in panel.status.text()
    assert panel.generate_button.isEnabled() and not panel.stop_button.isEnabled()


def test_stop_keeps_what_was_generated(qtbot, panel):
    use(panel, strategy="sample", max_new_tokens=100_000, stop_at_end=False)
    panel.prompt_edit.setPlainText("The")
    panel.generate()
    qtbot.waitUntil(lambda: panel.output.token_count() >= 3, timeout=30_000)
    panel.stop()
    finish(qtbot, panel)
    n = panel.output.token_count()
    assert 3 <= n < 100_000
    assert panel.status.text().startswith("Stopped by you")
    assert panel.generate_button.isEnabled()


def test_a_model_change_stops_generation(qtbot, panel, session, demo):
    use(panel, strategy="sample", max_new_tokens=100_000, stop_at_end=False)
    panel.generate()
    qtbot.waitUntil(lambda: panel.output.token_count() >= 2, timeout=30_000)
    session.set_checkpoint(demo[0], demo[1])
    finish(qtbot, panel)
    assert panel.output.token_count() == 0
    assert "model changed" in panel.status.text()


def test_candidate_chart_shows_the_clicked_token(qtbot, panel, demo):
    greedy(panel, max_new_tokens=12)
    panel.prompt_edit.setPlainText("The function")
    panel.generate()
    finish(qtbot, panel)
    assert panel.candidate_chart.token is None
    tokens = panel.output.tokens()
    index = next(i for i, t in enumerate(tokens) if t.text.strip())
    # A real click on the middle of the token's first character.
    rect = panel.output._char_rect(panel.output._starts[index])
    qtbot.mouseClick(panel.output.viewport(), Qt.LeftButton, pos=rect.center())
    token = tokens[index]
    assert panel.output.selected_index == index
    chart = panel.candidate_chart
    assert chart.token is token
    assert chart.bars.isVisible()
    labels = chart.labels()
    assert len(labels) >= 5
    chosen = [row for row in chart.bars.rows if row.chosen]
    assert len(chosen) == 1
    assert chosen[0].label == labels[0]  # greedy picks the best candidate
    assert labels[0].replace("␣", " ").replace("↵", "\n") == token.before[0].text
    panel.output.select(0)
    assert chart.token is tokens[0]
    finish(qtbot, panel)  # selecting starts a job that explains the token's stages
    assert panel.stages.stage_names() == ["the model"]


# ------------------------------------------------------------------ step mode


def test_step_adds_one_token_per_click_and_shows_the_stages(qtbot, panel):
    use(panel, strategy="sample", temperature=0.7, top_k=20, top_p=1.0, min_p=0.0, repetition_penalty=1.0, seed=3)
    panel.prompt_edit.setPlainText("The")
    for n in (1, 2, 3):
        assert panel.step() is not None
        finish(qtbot, panel)
        assert panel.output.token_count() == n
        assert panel.output.tokens()[-1].index == n - 1
    assert panel.output.selected_index == 2
    assert panel.stages.stage_names() == ["the model", "temperature 0.7", "top-k 20"]
    assert [c.name for c in panel.stages.charts[:3]] == panel.stages.stage_names()
    assert panel.stages.stages[-1].kept == 20
    # Changing a setting recomputes the stages of the same position, without adding a token.
    panel.top_k.setValue(5)
    panel.top_p.setValue(0.9)
    qtbot.waitUntil(lambda: panel.stages.stage_names()[-2:] == ["top-k 5", "top-p 0.9"], timeout=10_000)
    finish(qtbot, panel)
    assert panel.output.token_count() == 3
    assert "recomputed" in panel.stages.heading.text()


def test_seeded_steps_continue_the_draw(qtbot, panel):
    """Three Steps draw the same tokens as one seeded run of three: the generator carries on."""
    use(
        panel,
        strategy="sample",
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        min_p=0.0,
        repetition_penalty=1.0,
        seed=11,
        max_new_tokens=3,
        stop_at_end=False,
    )
    panel.prompt_edit.setPlainText("The")
    panel.generate()
    finish(qtbot, panel)
    run = [t.id for t in panel.output.tokens()]
    panel.clear_output()  # Step now starts from the prompt, with a fresh generator
    assert panel.output.token_count() == 0
    for _ in range(3):
        panel.step()
        finish(qtbot, panel)
    assert [t.id for t in panel.output.tokens()] == run


def test_step_is_off_for_beam_search(panel):
    use(panel, strategy="beam")
    assert not panel.step_button.isEnabled()
    assert "beam" in panel.step_button.toolTip().lower()
    assert panel.step() is None


def test_the_early_stopping_tooltip_says_what_it_does(panel):
    tip = panel.early_stopping.toolTip()
    assert "only finished beams are shown" in tip and "On:" in tip and "Off:" in tip


# ------------------------------------------------------------------ beams


def test_beam_search_fills_the_table(qtbot, panel):
    use(panel, strategy="beam", beams=3, max_new_tokens=12, stop_at_end=False)
    panel.prompt_edit.setPlainText("def ")
    panel.generate()
    finish(qtbot, panel)
    table = panel.beams_table
    assert panel.tabs.currentWidget() is panel.beams_tab
    assert table.rowCount() == 3
    assert [table.item(r, 0).text() for r in range(3)] == ["1", "2", "3"]
    scores = [float(table.item(r, 3).text()) for r in range(3)]
    assert scores == sorted(scores, reverse=True)
    assert all(table.item(r, 1).text() for r in range(3))
    assert "finished after 12 steps" in panel.status.text()


def test_stop_in_the_middle_of_beam_search_keeps_the_beams(qtbot, panel):
    use(panel, strategy="beam", beams=2, max_new_tokens=100_000, stop_at_end=False)
    panel.prompt_edit.setPlainText("The")
    panel.generate()
    qtbot.waitUntil(lambda: panel.beams_table.rowCount() > 0, timeout=30_000)
    panel.stop()
    finish(qtbot, panel)
    assert panel.beams_table.rowCount() == 2
    assert [panel.beams_table.item(r, 4).text() for r in range(2)] == ["stopped", "stopped"]
    assert "these are the beams so far" in panel.status.text()
    assert panel.status.text().startswith("Stopped after")


@pytest.fixture
def one_torch_thread():
    """One PyTorch thread, so the job leaves a core to the window on a busy two-core machine (else the
    watchdog measures the machine, not the panel)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_beam_search_draws_live_beams_at_the_windows_pace(qtbot, panel, monkeypatch, watchdog, one_torch_thread):
    """Every step reaches the panel; the table is drawn at most every GUI_INTERVAL_S, and the window stays smooth."""
    use(panel, strategy="beam", beams=4, max_new_tokens=300, stop_at_end=False, early_stopping=True)
    panel.prompt_edit.setPlainText("The")
    updates, live_fills = [], []
    show_update, fill = panel.beams_tab.show_update, panel.beams_tab._fill

    def count_update(update):
        updates.append(update.steps)
        show_update(update)

    def count_fill(beams, live, stopped=False):
        if live:
            live_fills.append(panel.beams_table.rowCount())
        fill(beams, live, stopped)

    monkeypatch.setattr(panel.beams_tab, "show_update", count_update)
    monkeypatch.setattr(panel.beams_tab, "_fill", count_fill)
    watchdog.reset()
    panel.generate()
    finish(qtbot, panel)
    watchdog.assert_smooth("beam search showed its beams")
    assert updates == list(range(1, 300))  # none lost on the way
    assert 0 < len(live_fills) < len(updates)
    assert "finished after 300 steps" in panel.status.text()
    assert [panel.beams_table.item(r, 4).text() for r in range(4)] == ["length limit"] * 4


# ------------------------------------------------------------------ no model


def test_without_a_model_the_panel_offers_the_demo(qtbot, session):
    panel = make_panel(qtbot, session)
    assert panel.pages.currentWidget() is panel.empty_state
    assert panel.empty_state.isVisible()
    assert not panel.generate_button.isEnabled()
    assert "none" in panel.header.text()
    with qtbot.waitSignal(session.show_step) as shown:
        panel.train_button.click()
    assert shown.args == ["train"]
    with qtbot.waitSignal(session.checkpoint_changed, timeout=60_000):
        panel.demo_button.click()
    finish(qtbot, panel)
    assert session.checkpoint is not None
    assert panel.pages.currentWidget() is panel.work_area
    assert f"step {session.checkpoint.step:,}" in panel.header.text() and "128 tokens" in panel.header.text()
    assert panel.generate_button.isEnabled()


# ------------------------------------------------------------------ prompt


def test_a_prompt_longer_than_the_context_is_cut_with_a_notice(qtbot, panel, demo):
    greedy(panel, max_new_tokens=2)
    panel.prompt_edit.setPlainText("the cat sat on the mat. " * 100)
    panel.generate()
    finish(qtbot, panel)
    assert panel.notice.isVisible()
    assert "cut" in panel.notice.text()
    assert len(panel._prompt_ids) == demo[0].model_config.context_length
    assert panel.output.token_count() == 2
    panel.prompt_edit.setPlainText("short")
    assert not panel.notice.isVisible()


def test_a_sent_template_fills_the_prompt(panel, session):
    template = FakeTemplate()
    session.send_prompt(template)
    assert panel.prompt_edit.toPlainText() == template.render().text
    assert "Sentiment" in panel.template_label.text()


# ------------------------------------------------------------------ settings


def test_presets_set_the_controls(panel):
    from playground.core.sampling_settings import PRESETS

    panel.apply_preset("creative")
    creative = PRESETS["creative"]
    assert panel.preset.currentText() == "creative"
    assert panel.temperature.value() == pytest.approx(creative.temperature)
    assert panel.top_p.value() == pytest.approx(creative.top_p)
    assert panel.min_p.value() == pytest.approx(creative.min_p)
    assert panel.settings().repetition_penalty == pytest.approx(creative.repetition_penalty)
    panel.temperature.setValue(0.5)
    assert panel.preset.currentText() == "custom"
    panel.preset.setCurrentIndex(panel.preset.findData("deterministic"))
    panel.preset.activated.emit(panel.preset.currentIndex())
    assert panel.settings().strategy == "greedy"
    assert not panel.temperature.isEnabled()
    assert "Off now" in panel.temperature.toolTip()
    assert panel.repetition_penalty.isEnabled()


def test_settings_round_trip(panel):
    from playground.core.sampling import SamplingSettings

    s = SamplingSettings(
        strategy="beam",
        temperature=1.3,
        top_k=7,
        top_p=0.85,
        min_p=0.05,
        repetition_penalty=1.2,
        beams=5,
        length_penalty=0.7,
        early_stopping=False,
        max_new_tokens=42,
        stop_strings=("\n\n", "Input:", "a, b", " x", "\\"),
        seed=None,
        stop_at_end=False,
    )
    panel.set_settings(s)
    assert panel.settings() == s
    assert panel.beams.isEnabled() and not panel.top_k.isEnabled() and not panel.stop_strings.isEnabled()
    s2 = replace(s, strategy="sample", seed=1234, stop_strings=())
    panel.set_settings(s2)
    assert panel.settings() == s2
    assert panel.seed.isEnabled() and not panel.beams.isEnabled()


def test_stop_strings_parse_commas_lines_and_escapes():
    from playground.ui.widgets.sampling_controls import format_stop_strings, parse_stop_strings

    assert parse_stop_strings("Input:, \\n\\n\nEND") == ("Input:", "\n\n", "END")
    assert parse_stop_strings("a\\,b, \\sx") == ("a,b", " x")
    assert parse_stop_strings("") == ()
    for strings in [("\n",), (" lead", "trail ", "a,b", "back\\slash", "\t")]:
        assert parse_stop_strings(format_stop_strings(strings)) == strings


def test_problems_show_inline_and_block_generation(panel):
    use(panel, strategy="sample")
    panel.temperature.setValue(0.0)
    assert panel.problems_label.isVisible()
    assert "temperature" in panel.problems_label.text()
    assert not panel.generate_button.isEnabled()
    panel.temperature.setValue(0.8)
    assert not panel.problems_label.isVisible()
    assert panel.generate_button.isEnabled()


# ------------------------------------------------------------------ side by side


def test_samples_side_by_side(qtbot, panel):
    use(
        panel,
        strategy="sample",
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        min_p=0.0,
        seed=5,
        max_new_tokens=12,
        stop_at_end=False,
    )
    panel.prompt_edit.setPlainText("The")
    panel.samples_count.setValue(3)
    assert panel.generate_samples() is not None
    finish(qtbot, panel)
    columns = panel.sample_columns
    assert len(columns) == 3
    assert [c.caption for c in columns] == ["seed 5", "seed 6", "seed 7"]
    texts = [c.view.generated_text() for c in columns]
    assert all(c.view.token_count() == 12 for c in columns)
    assert len(set(texts)) == 3
    panel.samples_count.setValue(2)
    panel.generate_samples()
    finish(qtbot, panel)
    assert len(panel.sample_columns) == 2


class FakeTemplate:
    """Stands in for core.prompts.PromptTemplate: only `render(mode)` with `.text` is used."""

    name = "Sentiment"
    mode = "few-shot"

    def render(self, mode=None, input=None):
        mode = mode or self.mode
        examples = "" if mode == "zero-shot" else "Review: great\nSentiment: positive\n\n"
        return SimpleNamespace(text=f"Is it positive?\n\n{examples}Review: dull\nSentiment:", mode=mode)


def test_zero_shot_against_few_shot(qtbot, panel, session):
    assert not panel.compare_button.isEnabled()
    assert "Send a few-shot prompt from the Prompt panel first" in panel.template_label.text()
    template = FakeTemplate()
    session.send_prompt(template)
    greedy(panel, max_new_tokens=8)
    assert panel.compare_button.isEnabled()
    panel.compare_prompts()
    finish(qtbot, panel)
    zero, few = panel.compare_columns
    assert zero.caption == "Zero-shot" and few.caption == "Few-shot"
    assert zero.view.prompt_text() == template.render(mode="zero-shot").text
    assert few.view.prompt_text() == template.render().text
    assert zero.view.token_count() == few.view.token_count() == 8
    assert "prompt tokens" in zero.title.text() and "8 new tokens" in few.title.text()


def test_keyboard_shortcuts_generate_step_and_stop(qtbot, panel):
    use(panel, strategy="sample", max_new_tokens=100_000, stop_at_end=False)
    panel.prompt_edit.setPlainText("The")
    panel.activateWindow()
    panel.prompt_edit.setFocus()
    qtbot.waitUntil(panel.prompt_edit.hasFocus)
    qtbot.keyClick(panel.prompt_edit, Qt.Key_Return, Qt.ControlModifier)
    assert panel.job is not None
    qtbot.waitUntil(lambda: panel.output.token_count() >= 2, timeout=30_000)
    qtbot.keyClick(panel.prompt_edit, Qt.Key_Escape)
    finish(qtbot, panel)
    assert panel.status.text().startswith("Stopped by you")
    assert panel.prompt_edit.toPlainText() == "The"  # the keys did not reach the text
    n = panel.output.token_count()
    qtbot.keyClick(panel.prompt_edit, Qt.Key_Return, Qt.ControlModifier | Qt.ShiftModifier)
    finish(qtbot, panel)
    assert panel.output.token_count() == n + 1


def test_a_failed_generation_keeps_its_failure_in_the_status_line(qtbot, panel, session, monkeypatch):
    """`done` comes after `error`: the status must not turn into a success message."""
    from playground.core import generation_jobs

    def broken(*args):
        raise OSError(5, "The model could not be read")
        yield

    monkeypatch.setattr(generation_jobs, "generate_columns", broken)
    use(panel, strategy="sample")
    messages = []
    session.message.connect(lambda level, text: messages.append((level, text)))
    assert panel.generate_samples() is not None
    finish(qtbot, panel)
    assert "failed" in panel.status.text()
    assert messages and messages[-1][0] == "error" and "could not be read" in messages[-1][1]
