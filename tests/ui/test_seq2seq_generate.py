"""pytest-qt tests for the Generate and Prompt steps with an encoder-decoder (T5): the box is its input,
the Output tab holds what its decoder writes, through every decoder (greedy, sample, beam) and step mode."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from sample_text import sentences  # tests/ is on sys.path
from tiny_runs import wordpiece_tokenizer

from playground.engine.jobs import Job

SIZES = dict(context_length=16, n_layer=2, n_head=4, n_embd=32, relative_buckets=8, relative_max_distance=20)
TEXT = "the cat sat on the mat"


@pytest.fixture(scope="module")
def t5_run(tmp_path_factory):
    """A tiny T5 with random weights, saved as a checkpoint the window can use (training one, even a
    little, takes a minute on a busy machine: these tests check the window, the core's tests the model)."""
    from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
    from playground.core.config import ModelConfig
    from playground.core.t5_model import T5
    from playground.core.t5_tokens import with_t5_tokens
    from playground.core.train_config import TrainConfig

    tokenizer = with_t5_tokens(wordpiece_tokenizer(sentences(100), vocab_size=80))
    torch.manual_seed(0)
    model = T5(ModelConfig.t5_style(vocab_size=tokenizer.vocab_size, **SIZES)).eval()
    folder = tmp_path_factory.mktemp("runs") / "t5"
    write_run_files(folder, model.config, TrainConfig(), tokenizer)
    save_checkpoint(folder, "best", model, {}, {"step": 0})
    return load_checkpoint(folder)


@pytest.fixture
def panel(qtbot, session, t5_run):
    from playground.ui.generate_panel import GeneratePanel

    session.set_checkpoint(*t5_run)
    widget = GeneratePanel(session)
    qtbot.addWidget(widget)
    widget.resize(1150, 780)
    widget.show()
    yield widget
    widget.stop_and_wait()


def finish(qtbot, panel, timeout=60_000):
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=timeout)
    qtbot.waitUntil(lambda: not Job.running(), timeout=timeout)


def use(panel, **changes):
    panel.set_settings(replace(panel.settings(), **changes))


def end_token(t5_run) -> int:
    from playground.core.t5_tokens import t5_tokens

    return t5_tokens(t5_run[0].tokenizer).eos


def expected_greedy(t5_run, text=TEXT, n=12):
    """What the core's generation writes for `text`, greedy: the panel must show exactly that."""
    from playground.core.generation_jobs import OneModel, generate_text
    from playground.core.progress import run_quietly
    from playground.core.sampling_settings import SamplingSettings

    checkpoint, model = t5_run
    settings = SamplingSettings(strategy="greedy", max_new_tokens=n, repetition_penalty=1.0)
    return [t.id for t in run_quietly(generate_text(OneModel(model), checkpoint, text, settings))]


def test_the_box_is_the_input_and_a_decoder_still_has_a_prompt(qtbot, panel, session, t5_run):
    box = panel.prompt_box
    assert panel.reads_input() and not panel.fills_masks()
    assert panel.modes.currentWidget() is panel.decoder_page
    assert box.title.text() == "<b>Input</b>"
    assert "encoder reads it once, whole" in box.title.toolTip()
    assert "encoder reads it once, whole" in panel.prompt_edit.toolTip()
    assert "encoder-decoder" in panel.concept
    panel.prompt_edit.setPlainText(TEXT)
    box.recount()
    n = len(t5_run[0].tokenizer.encode_ids([TEXT])[0]) + 1
    assert panel.prompt_count.text() == f"{n} of 16 tokens, with &lt;/s&gt;"

    from playground.core.checkpoints import load_checkpoint
    from playground.paths import demo_model_dir

    session.set_checkpoint(*load_checkpoint(demo_model_dir()))  # a decoder: as before
    assert not panel.reads_input()
    assert box.title.text() == "<b>Prompt</b>"
    assert "continues this text" in panel.prompt_edit.toolTip()
    assert panel.concept == panel.GENERATION_CONCEPT
    assert panel.output.placeholderText() == "The model's text appears here, one token at a time."
    assert panel.beams_table.horizontalHeaderItem(1).text() == "Continuation"


def test_greedy_writes_the_output_below_the_input(qtbot, panel, t5_run):
    use(panel, strategy="greedy", max_new_tokens=12, repetition_penalty=1.0)
    panel.prompt_edit.setPlainText(TEXT)
    assert panel.generate() is not None
    finish(qtbot, panel)
    ids = [t.id for t in panel.output.tokens()]
    assert ids == expected_greedy(t5_run)
    assert panel.output.prompt_text() == ""  # the input stays in its box: the view holds the output alone
    tokenizer = t5_run[0].tokenizer
    assert panel.output.generated_text() == tokenizer.decode(ids)
    assert panel.output_tab.prompt_ids[-1] == end_token(t5_run)  # the input as the encoder read it
    assert panel.status.text().startswith("Stopped:")
    assert not panel.notice.isVisible()


def test_sampling_draws_with_its_settings_and_repeats_with_a_seed(qtbot, panel):
    use(panel, strategy="sample", temperature=1.5, top_k=20, top_p=0.95, min_p=0.01, repetition_penalty=1.3)
    use(panel, max_new_tokens=10, seed=5, stop_at_end=False)
    panel.prompt_edit.setPlainText(TEXT)
    panel.generate()
    finish(qtbot, panel)
    first = [t.id for t in panel.output.tokens()]
    assert len(first) == 10
    panel.generate()
    finish(qtbot, panel)
    assert [t.id for t in panel.output.tokens()] == first


def test_beam_search_shows_its_beams(qtbot, panel, t5_run):
    use(panel, strategy="beam", beams=3, max_new_tokens=12, repetition_penalty=1.0)
    panel.prompt_edit.setPlainText(TEXT)
    panel.generate()
    finish(qtbot, panel)
    assert panel.tabs.currentWidget() is panel.beams_tab
    assert panel.beams_table.rowCount() == 3
    assert panel.beams_table.horizontalHeaderItem(1).text() == "Output"
    from playground.core.generation_jobs import OneModel, search_beams
    from playground.core.progress import run_quietly

    checkpoint, model = t5_run
    expected = run_quietly(search_beams(OneModel(model), checkpoint, TEXT, panel.settings()))
    shown = [panel.beams_table.item(r, 1).text() for r in range(3)]
    assert shown == [(b.text.replace("\n", "↵") or "(nothing yet)") for b in expected.beams]
    assert all(panel.beams_table.item(r, 4).text() in ("✓ end of text", "length limit") for r in range(3))
    assert "failed" not in panel.status.text()


def test_step_mode_writes_one_token_at_a_time_with_its_stages(qtbot, panel, t5_run):
    use(panel, strategy="greedy", repetition_penalty=1.0, max_new_tokens=12)
    panel.prompt_edit.setPlainText(TEXT)
    for _ in range(3):
        panel.step()
        finish(qtbot, panel)
    tokens = panel.output.tokens()
    assert [t.id for t in tokens] == expected_greedy(t5_run)[:3]
    assert [t.index for t in tokens] == [0, 1, 2]
    assert tokens[-1].stages and panel.output.selected_index == 2
    assert panel.stages.stages and panel.candidate_chart.token is tokens[-1]


def test_a_generated_token_is_explained_from_the_input(qtbot, panel, t5_run):
    """Clicking a token of a Generate run recomputes its stages: the decoder's tokens before it, reading
    the input (explain_next_token with input_ids)."""
    use(panel, strategy="greedy", repetition_penalty=1.0, max_new_tokens=6)
    panel.prompt_edit.setPlainText(TEXT)
    panel.generate()
    finish(qtbot, panel)
    tokens = panel.output.tokens()
    assert not tokens[1].stages
    panel.output.select(1)
    finish(qtbot, panel)
    stages = panel.stages.stages
    assert stages and stages[0].candidates[0].id == tokens[1].id  # greedy took the most likely


def test_a_cut_input_says_what_the_encoder_does_not_read(qtbot, panel):
    use(panel, strategy="greedy", max_new_tokens=3)
    long_text = " ".join(["the cat sat on the mat"] * 6) + " and the very last words"
    panel.prompt_edit.setPlainText(long_text)
    panel.prompt_box.recount()
    assert "the encoder reads the first 16" in panel.prompt_count.text()
    panel.generate()
    finish(qtbot, panel)
    notice = panel.notice.text()
    assert panel.notice.isVisible() and "the encoder reads at most 16" in notice
    assert "Not read:" in notice and "last words" in notice and "</s>" in notice


def test_side_by_side_samples_show_the_input_then_each_output(qtbot, panel):
    use(panel, strategy="sample", max_new_tokens=5, seed=1, stop_at_end=False)
    panel.samples_count.setValue(2)
    panel.prompt_edit.setPlainText(TEXT)
    panel.generate_samples()
    finish(qtbot, panel)
    for column in panel.sample_columns:
        assert column.view.prompt_text().endswith("\n→ ")
        assert column.view.token_count() == 5
        assert "input tokens" in column.title.text()


def test_a_prompt_template_fills_the_input(qtbot, session, t5_run):
    """The Prompt step's template renders into the input box; its preview says the whole text is the
    encoder's input, counted with </s> against the context and no room kept for an answer."""
    from playground.core.prompts import builtin_templates
    from playground.ui.generate_panel import GeneratePanel
    from playground.ui.prompt_panel import PromptPanel

    session.set_checkpoint(*t5_run)
    prompt = PromptPanel(session)
    generate = GeneratePanel(session)
    qtbot.addWidget(prompt)
    qtbot.addWidget(generate)
    template = replace(builtin_templates()[0], mode="one-shot")
    prompt.set_template(template)
    prompt.refresh()
    assert prompt.preview_box.title() == "The input the encoder reads"
    assert "encoder's input" in prompt.token_count_label.text()
    assert "kept for the answer" not in prompt.token_count_label.text()
    assert prompt.prompt_window == 16 - 1  # </s> takes one
    assert "encoder-decoder" in prompt.concept
    prompt.send()
    assert generate.prompt_edit.toPlainText() == template.render().text
    assert generate.prompt_box.title.text() == "<b>Input</b>"
    generate.stop_and_wait()
