"""Keys for a host on the real main window: Ctrl+1…7 show a step from anywhere, F5 starts and stops the
demo, Esc stops it only while it runs, and the shortcuts window lists them all."""

import functools

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from playground.ui import themes


@pytest.fixture
def window(qtbot, session):
    from playground.ui.main_window import MainWindow

    w = MainWindow(session)
    qtbot.addWidget(w)
    w.ask_stop_training = lambda: True  # closing mid-training (a failed test) asks nobody
    w.show()
    w.activateWindow()  # window shortcuts need the active window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)
    yield w
    w.stop_demo()
    themes.apply_look(themes.Look())


def _type_into(qtbot, widget) -> None:
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=2000)


def test_ctrl_number_shows_that_step_even_while_typing(qtbot, window):
    from playground.ui.main_window import WORKFLOW

    prompt = window.generate_panel.prompt_edit
    window.go_to("Generate")
    _type_into(qtbot, prompt)
    text = prompt.toPlainText()
    qtbot.keyClick(prompt, Qt.Key_3, Qt.ControlModifier)  # from a text box, focused
    assert window.current_panel() is window.training_panel
    assert prompt.toPlainText() == text  # the text box did not get a "3"
    for row, title in enumerate(WORKFLOW):
        focused = QApplication.focusWidget() or window
        qtbot.keyClick(focused, getattr(Qt, f"Key_{row + 1}"), Qt.ControlModifier)
        assert window.steps.currentRow() == row and window.current_panel() is window.panel(title), title
    # The tokenizer's text box and a spin box too.
    window.go_to("Tokenize")
    _type_into(qtbot, window.tokenizer_panel.input)
    qtbot.keyClick(window.tokenizer_panel.input, Qt.Key_7, Qt.ControlModifier)
    assert window.current_panel() is window.evaluate_panel
    window.go_to("Train")
    _type_into(qtbot, window.training_panel.steps)
    qtbot.keyClick(window.training_panel.steps, Qt.Key_2, Qt.ControlModifier)
    assert window.current_panel() is window.build_panel
    assert "Ctrl+2" in window.steps.item(1).toolTip()  # the sidebar says so


def test_no_panel_uses_the_host_keys(window):
    from playground.ui.help_window import gather_shortcuts

    host = {f"ctrl+{n}" for n in range(1, 8)} | {"f5"}
    for info in gather_shortcuts(window):  # builds every panel
        mine = {key.lower() for key in info.keys} & host
        if mine:
            assert info.where.startswith("Everywhere") and not info.conflicts, info


@pytest.fixture
def demo_window(window, session, tiny_corpus, tmp_path, monkeypatch):
    import playground.core.checkpoints as checkpoints
    from playground.ui import demo_flow

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    session.set_corpus(*tiny_corpus)
    # F5 runs the demo with its default settings: a tiny one that trains until it is stopped.
    slow = dict(vocab_size=300, steps=100_000, batch_size=4, eval_interval=1000, sample_interval=0)
    real = demo_flow.DemoSettings
    monkeypatch.setattr(
        demo_flow, "DemoSettings", functools.partial(real, **slow, use_default_corpus=False, auto_advance_s=0)
    )
    return window


def test_f5_starts_and_stops_the_demo_and_esc_stops_it_while_it_runs(qtbot, demo_window):
    window = demo_window
    prompt = window.prompt_panel.instruction_edit
    window.go_to("Prompt")
    _type_into(qtbot, prompt)
    qtbot.keyClick(prompt, Qt.Key_F5)  # from a text box
    demo = window.demo
    assert demo is not None and demo.running
    qtbot.waitUntil(lambda: demo.history[-1:] == ["train"] and window.training_panel.job is not None, timeout=60_000)
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key_F5)
    assert not demo.running and "stopped" in window.message_bar.text.text()
    qtbot.waitUntil(lambda: window.training_panel.job is None, timeout=30_000)

    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key_F5)  # again, then Esc
    demo = window.demo
    assert demo.running
    qtbot.waitUntil(lambda: demo.history[-1:] == ["train"] and window.training_panel.job is not None, timeout=60_000)
    window.go_to("Tokenize")  # Esc from a text box of another step (Train's own are locked while it trains)
    _type_into(qtbot, window.tokenizer_panel.input)
    qtbot.keyClick(window.tokenizer_panel.input, Qt.Key_Escape)
    assert not demo.running and "stopped" in window.message_bar.text.text()
    qtbot.waitUntil(lambda: window.training_panel.job is None, timeout=30_000)


def test_esc_is_the_steps_own_when_no_demo_runs(qtbot, window):
    from PySide6.QtGui import QKeySequence, QShortcut

    train = window.training_panel
    window.go_to("Train")
    esc = next(s for s in train.findChildren(QShortcut) if s.key() == QKeySequence(Qt.Key_Escape))
    fired, ambiguous = [], []
    esc.activated.connect(lambda: fired.append(True))
    esc.activatedAmbiguously.connect(lambda: ambiguous.append(True))
    _type_into(qtbot, train.steps)
    qtbot.keyClick(train.steps, Qt.Key_Escape)
    assert fired == [True] and not ambiguous  # no clash: Train's Stop keeps Esc


def test_the_shortcuts_window_lists_the_host_keys(window):
    from playground.ui.main_window import WORKFLOW

    rows = window.show_shortcuts().rows()

    def row(key):
        return next(r for r in rows if key in r[0].split(" or "))

    for number, title in enumerate(WORKFLOW, start=1):
        keys, description, where = row(f"Ctrl+{number}")
        assert description == f"Show step {number} of 7: {title}" and where.startswith("Everywhere")
    keys, description, where = row("F5")
    assert "demo" in description and where.startswith("Everywhere") and "⚠" not in description
    keys, description, where = next(r for r in rows if r[2] == "While the demo runs")
    assert keys == "Esc" and "Stop the demo" in description and "⚠" not in description
    assert sum(1 for r in rows if "Esc" in r[0].split(" or ")) >= 2  # the steps keep theirs
