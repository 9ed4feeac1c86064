"""The demo as a presenter paces it: each stage waits for Next, Back and Next only show, Hold stops the
auto-advance, the clicker's keys, a talking point per stage; and every stage is convincing on the demo's
model: the prompt fits whole, the answer stops at the template's separator, and the demo ends on the
head with the clearest habit, every label drawn."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from playground.core.attention import HeadStats
from playground.core.prompts import generation_reserve
from playground.ui import themes
from playground.ui.demo_stages import context_for, most_distinctive_head

STAGES = ["corpus", "tokenizer", "build", "train", "prompt", "generate", "attention"]
TINY = dict(
    vocab_size=300,
    preset="tiny",
    steps=12,
    batch_size=4,
    eval_interval=6,
    sample_interval=0,
    max_new_tokens=6,
    use_default_corpus=False,
)


@pytest.fixture
def window(qtbot, session, tiny_corpus, tmp_path, monkeypatch):
    import playground.core.checkpoints as checkpoints
    from playground.ui.main_window import MainWindow

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    session.set_corpus(*tiny_corpus)
    w = MainWindow(session)
    qtbot.addWidget(w)
    w.ask_stop_training = lambda: True  # closing mid-training (a failed test) asks nobody
    w.resize(1280, 720)  # a projector
    w.show()
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)
    yield w
    w.stop_demo()
    themes.apply_look(themes.Look())


def _run(window, **settings):
    from playground.ui.demo_flow import DemoSettings

    runner = window.run_demo(DemoSettings(**{**TINY, **settings}))
    assert runner is not None and runner.running
    return runner


def _wait_for(qtbot, runner, name: str) -> None:
    """Until stage `name` is on screen, its work done and the demo waiting for the host."""
    qtbot.waitUntil(lambda: runner.history[-1:] == [name] and runner.waiting, timeout=60_000)


# ---------------------------------------------------------------------------------------------- Qt-free parts


def test_the_context_holds_the_prompt_with_room_for_the_answer():
    for tokens in (1, 47, 48, 49, 95, 96, 97, 200, 400):
        context = context_for(tokens, 64)
        assert context >= 64 and (context - 64) % 32 == 0
        assert context - generation_reserve(context) >= tokens  # the Prompt step's window holds it
        smaller = context - 32
        assert smaller < 64 or smaller - generation_reserve(smaller) < tokens  # and no bigger than needed
    assert context_for(50, 64) == 96  # the phrases prompt on the demo's tokenizer: 72 tokens for a prompt
    assert context_for(95, 64) == 128  # the keywords prompt: 96


def test_the_most_distinctive_head_has_the_strongest_habit():
    def head(layer, h, entropy, previous, first, itself):
        return HeadStats(layer, h, entropy, previous, first, itself)

    stats = [
        head(0, 0, 2.5, 0.2, 0.3, 0.2),  # spread out
        head(0, 1, 0.9, 0.82, 0.05, 0.1),  # a previous-token head
        head(1, 0, 1.2, 0.1, 0.7, 0.1),  # a sink, weaker
        head(1, 1, 0.5, 0.1, 0.82, 0.05),  # as strong a sink as the previous-token head, but sharper
    ]
    best, habit, weight = most_distinctive_head(stats)
    assert (best.layer, best.head, habit, weight) == (1, 1, "first_token", 0.82)
    best, habit, weight = most_distinctive_head(stats[:3])
    assert (best.layer, best.head, habit) == (0, 1, "previous_token")
    with pytest.raises(ValueError):
        most_distinctive_head([])


# ---------------------------------------------------------------------------------------------- pacing


def test_each_stage_waits_for_next_and_back_shows_without_redoing(qtbot, window, session):
    runner = _run(window)
    bar = window.presenter_bar
    assert bar.isVisible() and runner.auto_advance_s is None and not bar.auto_box.isChecked()
    _wait_for(qtbot, runner, "corpus")
    assert bar.talk_label.text() == runner.stages[0].talk() and "documentation" not in bar.talk_label.text()
    qtbot.wait(400)  # nothing moves on by itself
    assert runner.history == ["corpus"] and runner.running and runner.waiting
    assert bar.next_button.isEnabled() and not bar.back_button.isEnabled()
    assert "Next" in bar.state_label.text()

    qtbot.mouseClick(bar.next_button, Qt.LeftButton)
    assert runner.history == ["corpus", "tokenizer"]
    assert not bar.next_button.isEnabled() and bar.state_label.text() == "working…"  # waits for the work
    assert not runner.next()
    _wait_for(qtbot, runner, "tokenizer")
    qtbot.mouseClick(bar.next_button, Qt.LeftButton)
    _wait_for(qtbot, runner, "build")
    assert window.current_panel() is window.build_panel
    tokenizers, tokenizer = len(session.tokenizers), session.tokenizer

    qtbot.mouseClick(bar.back_button, Qt.LeftButton)  # back to the tokenizer: its result, nothing retrained
    assert runner.index == 1 and window.current_panel() is window.tokenizer_panel
    assert window.tokenizer_panel.train_job is None and len(session.tokenizers) == tokenizers
    assert "looking back" in bar.state_label.text() and "step 2 of 7" in bar.step_label.text()
    qtbot.mouseClick(bar.back_button, Qt.LeftButton)
    assert runner.index == 0 and not bar.back_button.isEnabled() and not runner.back()
    qtbot.mouseClick(bar.next_button, Qt.LeftButton)
    qtbot.mouseClick(bar.next_button, Qt.LeftButton)  # the build stage again, as it was left
    assert runner.index == 2 and window.current_panel() is window.build_panel and runner.waiting
    assert runner.history == ["corpus", "tokenizer", "build"]  # nothing started again
    assert session.tokenizer is tokenizer and len(session.tokenizers) == tokenizers

    qtbot.mouseClick(bar.next_button, Qt.LeftButton)  # on to training
    assert runner.history[-1] == "train"
    _wait_for(qtbot, runner, "train")
    assert window.message_bar.isVisible() and "Training finished" in window.message_bar.text.text()
    qtbot.mouseClick(bar.next_button, Qt.LeftButton)
    assert runner.history[-1] == "prompt" and not window.message_bar.isVisible()  # the news went with its stage
    _wait_for(qtbot, runner, "prompt")
    for name in ("generate", "attention"):
        qtbot.mouseClick(bar.next_button, Qt.LeftButton)
        _wait_for(qtbot, runner, name)
    assert bar.next_button.text().startswith("Finish") and runner.running  # the last stage waits too
    results = []
    runner.finished.connect(lambda ok, message: results.append((ok, message)))
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key_Escape)  # Esc here ends it as Finish does
    assert results and results[0][0] and "done" in results[0][1] and not bar.isVisible()
    assert runner.history == STAGES


def test_hold_stops_the_auto_advance(qtbot, window):
    runner = _run(window, auto_advance_s=0.2)
    bar = window.presenter_bar
    assert bar.auto_box.isChecked() and bar.hold_button.isEnabled()
    qtbot.mouseClick(bar.hold_button, Qt.LeftButton)
    assert runner.held and bar.hold_button.isChecked()
    _wait_for(qtbot, runner, "corpus")
    qtbot.wait(700)  # more than three times the auto-advance
    assert runner.history == ["corpus"] and not runner.auto_advancing()
    assert "held" in bar.state_label.text()
    qtbot.mouseClick(bar.hold_button, Qt.LeftButton)  # let go: it moves on by itself
    qtbot.waitUntil(lambda: runner.history[-1:] == ["tokenizer"], timeout=5000)
    _wait_for(qtbot, runner, "tokenizer")
    bar.auto_box.setChecked(False)  # auto-advance off: waits again
    assert not bar.hold_button.isEnabled()
    qtbot.wait(700)
    assert runner.history == ["corpus", "tokenizer"]


def test_presenter_keys_page_the_demo_but_arrows_stay_a_text_boxs(qtbot, window):
    runner = _run(window)
    bar = window.presenter_bar
    _wait_for(qtbot, runner, "corpus")
    qtbot.waitUntil(bar.hasFocus, timeout=2000)  # the bar took the focus: a clicker's → reaches the demo
    qtbot.keyClick(bar, Qt.Key_Right)
    assert runner.history == ["corpus", "tokenizer"]
    _wait_for(qtbot, runner, "tokenizer")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Left)
    assert runner.index == 0
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageDown)
    assert runner.index == 1

    # The host clicks into a text box to type: → moves its cursor; PageDown/PageUp still page the demo.
    box = window.tokenizer_panel.input
    box.setPlainText("hello")
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=2000)
    cursor = box.textCursor()
    cursor.setPosition(0)
    box.setTextCursor(cursor)
    qtbot.keyClick(box, Qt.Key_Right)
    assert box.textCursor().position() == 1 and runner.index == 1 and runner.history[-1] == "tokenizer"
    qtbot.keyClick(box, Qt.Key_PageUp)
    assert runner.index == 0 and box.toPlainText() == "hello"
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageDown)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_PageDown)
    assert runner.history[-1] == "build"

    runner.stop()  # after the demo the keys are the panels' again
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=2000)
    qtbot.keyClick(box, Qt.Key_PageDown)
    assert runner.history[-1] == "build"


def test_the_bar_fits_a_small_screen_also_in_presentation_mode(qtbot, window):
    from playground.ui.main_window import SIDEBAR_WIDTH

    runner = _run(window)
    _wait_for(qtbot, runner, "corpus")
    room = 1000 - SIDEBAR_WIDTH - 20  # the window's narrowest, less the sidebar and margins
    try:
        for presenting in (False, True):
            window.set_presentation_mode(presenting)
            QApplication.processEvents()
            assert window.presenter_bar.minimumSizeHint().width() <= room, presenting
    finally:
        window.set_presentation_mode(False)


def test_the_shortcuts_window_lists_the_presenter_keys(window):
    from playground.ui.help_window import gather_shortcuts
    from playground.ui.host_keys import WHILE_THE_DEMO_RUNS

    rows = [info for info in gather_shortcuts(window) if info.where == WHILE_THE_DEMO_RUNS]
    by_keys = {frozenset(info.keys): info.description for info in rows}
    assert "Next stage" in by_keys[frozenset({"PgDown", "Right"})]
    assert "Back" in by_keys[frozenset({"PgUp", "Left"})]
    assert "Stop the demo" in by_keys[frozenset({"Esc"})]
    assert not any(info.conflicts for info in rows)


# ---------------------------------------------------------------------------------------------- convincing


def test_the_whole_demo_fits_its_prompt_stops_at_the_separator_and_ends_on_a_clear_head(qtbot, window, session):
    from playground.ui.attention_panel import VIEW_HEAD
    from playground.ui.demo_flow import DemoSettings

    messages = []
    session.message.connect(lambda *args: messages.append(" ".join(map(str, args))))
    # The tests' tokenizer knows only this corpus: its sentence is as short for it as the demo's for the demo's.
    runner = _run(window, auto_advance_s=0, attention_text="The cat sat on the mat.")
    bar = window.presenter_bar
    talks = {}
    runner.changed.connect(lambda: talks.setdefault(runner.stages[runner.index].name, bar.talk_label.text()))
    stops = []
    runner.stage_started.connect(
        lambda _i, _n, name, _l: name == "attention" and stops.append(window.generate_panel.controls.settings())
    )
    results = []
    runner.finished.connect(lambda ok, message: results.append((ok, message)))
    qtbot.waitUntil(lambda: bool(results), timeout=120_000)
    assert results[0][0], results[0][1]
    assert runner.history == STAGES

    # The few-shot prompt fits whole: in the Prompt step and in Generate; no "are cut" anywhere.
    prompt, generate = window.prompt_panel, window.generate_panel
    assert prompt.fit is not None and prompt.fit.fits and prompt.fit.n_tokens > 48  # more than the tiny preset's
    assert not prompt.warning_label.isVisibleTo(prompt)
    assert not generate.prompt_box.notice.isVisibleTo(generate)
    assert not any("cut" in m for m in messages), messages
    # The answer stops at the template's example separator.
    separator = prompt.template().example_separator
    assert separator in stops[0].stop_strings
    assert stops[0].temperature == DemoSettings().temperature  # cooler: a short line, then the separator
    assert separator not in "".join(t.text for t in generate.output.tokens()).rstrip()

    # It ends on the head the head summary shows as the most distinctive, with every label drawn.
    attention = window.attention_panel
    shown = attention.shown
    head, habit, weight = most_distinctive_head(shown.stats)
    assert runner.chosen_head == (head.layer, head.head)
    assert (attention.layer.value(), attention.head.value()) == runner.chosen_head
    assert attention.view.currentIndex() == VIEW_HEAD and window.current_panel() is attention
    row = attention.summary.table.currentRow()
    assert [attention.summary.table.item(row, c).text() for c in (0, 1)] == [str(head.layer), str(head.head)]
    window.grab()  # paints the axes, which choose how many labels fit
    assert len(attention.heatmap.left.labels) == len(shown.tokens) >= 5
    assert attention.heatmap.left.stride == 1 and attention.heatmap.bottom.stride == 1

    # A talking point for every stage (the first one is checked in the pacing test); the last names the chosen head.
    assert set(talks) == set(STAGES[1:]) and all(len(t) > 40 for t in talks.values()), talks
    assert all(stage.talk() for stage in runner.stages)
    assert f"Layer {head.layer}, head {head.head}" in runner.stages[-1].talk()
