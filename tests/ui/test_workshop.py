"""Workshop mode: presentation mode, themes, the guided tour, the shortcuts list, About, crash safety and
the one-click demo, on the real main window."""

import platform
import sys
import threading
from importlib import metadata

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer, qVersion
from PySide6.QtGui import QFont, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import QApplication

from playground.ui import themes


@pytest.fixture
def window(qtbot, session):
    from playground.ui.main_window import MainWindow

    w = MainWindow(session)
    qtbot.addWidget(w)
    w.show()
    yield w
    # The look is the application's, shared by every later test: put it back.
    w.set_presentation_mode(False)
    themes.apply_look(themes.Look())
    QSettings().remove("view/theme")


def _form_label(widget):
    from playground.ui.presentation import _form_label as find

    return find(widget)


# ---------------------------------------------------------------------------------------------- presentation


def test_presentation_mode_enlarges_hides_and_restores_exactly(qtbot, window):
    app = QApplication.instance()
    font_before = QFont(app.font())
    steps_style = window.steps.styleSheet()
    tokenizer, generate, prompt = window.tokenizer_panel, window.generate_panel, window.prompt_panel
    min_freq, min_freq_label = tokenizer.min_freq, _form_label(tokenizer.min_freq)
    mono_size = generate.prompt_edit.font().pointSizeF()  # a size the panel set in code
    stat = window.training_panel.stats["loss"].value  # a size set in a style sheet
    stat_style = stat.styleSheet()
    sidebar_width = window.sidebar.width()
    assert min_freq_label is not None and min_freq_label.text() == "Min frequency"
    assert not min_freq.isHidden() and prompt.tabs.isTabVisible(1)

    window.presentation_action.trigger()  # View ▸ Presentation mode (Ctrl+Shift+P)
    assert window.presentation_mode
    assert app.font().pointSizeF() == pytest.approx(1.5 * font_before.pointSizeF(), abs=0.1)
    assert generate.prompt_edit.font().pointSizeF() == pytest.approx(1.5 * mono_size, abs=0.1)
    assert "22.5pt" in stat.styleSheet() and "18pt" in window.steps.styleSheet()
    assert window.sidebar.width() > sidebar_width
    assert min_freq.isHidden() and min_freq_label.isHidden()  # the row goes, its label too
    assert window.training_panel.device.parentWidget().isHidden()  # a whole box
    assert not prompt.tabs.isTabVisible(1)  # the Formats tab
    assert not window.tokenizer_panel.vocab_size.isHidden()  # the basics stay

    window.presentation_action.trigger()
    assert not window.presentation_mode
    assert app.font() == font_before
    assert generate.prompt_edit.font().pointSizeF() == mono_size
    assert stat.styleSheet() == stat_style and window.steps.styleSheet() == steps_style
    assert window.sidebar.width() == sidebar_width
    assert not min_freq.isHidden() and not min_freq_label.isHidden()
    assert not window.training_panel.device.parentWidget().isHidden()
    assert prompt.tabs.isTabVisible(1)


def test_presentation_mode_keeps_what_a_panel_hid_itself_hidden(window):
    # A control hidden before presentation mode stays hidden after it (restore means restore).
    lowercase = window.tokenizer_panel.lowercase
    lowercase.hide()
    window.set_presentation_mode(True)
    window.set_presentation_mode(False)
    assert lowercase.isHidden()
    assert not window.tokenizer_panel.specials.isHidden()


def test_presentation_mode_scales_plot_axes(qtbot, window):
    train = window.training_panel
    window.go_to("train")
    qtbot.waitUntil(lambda: train.plots_ready)
    axis = train.loss_plot.getAxis("bottom")
    assert axis.style.get("tickFont") is None
    window.set_presentation_mode(True)
    qtbot.wait(20)
    tick_font = axis.style.get("tickFont")
    assert tick_font is not None and tick_font.pointSizeF() == pytest.approx(QApplication.font().pointSizeF())
    assert train.loss_plot.getPlotItem().titleLabel.opts["size"] == "16.5pt"
    window.set_presentation_mode(False)
    assert axis.style.get("tickFont") is None
    assert train.loss_plot.getPlotItem().titleLabel.opts["size"] == "11pt"


# ---------------------------------------------------------------------------------------------- themes


def test_theme_switch_changes_the_palette_plots_and_text_and_is_kept(qtbot, window):
    app = QApplication.instance()
    system_window = app.palette().color(QPalette.Window)
    train = window.training_panel
    window.go_to("train")
    qtbot.waitUntil(lambda: train.plots_ready)
    stat = train.stats["loss"].value  # "color: #1d2a4d": dark blue, for a light window
    stat_style = stat.styleSheet()

    window.theme_actions["dark"].trigger()  # View ▸ Theme ▸ Dark
    assert themes.is_dark()
    assert app.palette().color(QPalette.Window) != system_window
    assert app.palette().color(QPalette.WindowText).lightnessF() > 0.8
    assert QSettings().value("view/theme") == "dark"
    assert window.theme_actions["dark"].isChecked()
    assert train.loss_plot.backgroundBrush().color().lightnessF() < 0.3  # the plot follows
    assert "#1d2a4d" not in stat.styleSheet()  # the text stays readable
    import pyqtgraph as pg

    assert pg.getConfigOption("background") != "w"
    window.session.error("A message on its own light background")
    assert "#8a1c12" in window.message_bar.styleSheet()  # keeps its dark text

    window.set_theme("light")
    assert not themes.is_dark()
    assert train.loss_plot.backgroundBrush().color().lightnessF() > 0.9
    assert stat.styleSheet() == stat_style

    window.set_theme("system")
    assert app.palette().color(QPalette.Window) == system_window
    assert QSettings().value("view/theme") == "system"


def test_the_saved_theme_comes_back_in_a_new_window(qtbot, session, window):
    from playground.ui.main_window import MainWindow

    window.set_theme("dark")
    themes.apply_look(themes.Look())  # as if the app started again
    second = MainWindow(session)
    qtbot.addWidget(second)
    assert themes.current_look().theme == "dark" and second.theme_actions["dark"].isChecked()
    assert themes.is_dark()


def test_rich_text_colours_are_readable_in_the_dark_theme(qtbot):
    from PySide6.QtGui import QColor

    try:
        themes.apply_look(themes.Look(theme="dark"))
        assert QColor(themes.colour("error")).lightnessF() > 0.55  # the Tokenizer Lab's "N unknown"
    finally:
        themes.apply_look(themes.Look())
    assert themes.colour("error") == "#b3261e"


def test_adjusting_style_sheets(qtbot):
    # Colours come from the roles of the look a template is rendered in; font sizes from the scale.
    adjust, render = themes.adjust_style_sheet, themes.render
    sheet = "QLabel { color: {heading}; font-size: 9pt; } QFrame { background: {sidebar_bg}; color: {sidebar_fg}; }"
    bar = "MessageBar { background: {alert_bg}; } QLabel { color: {alert_fg}; }"
    card = "#stage { background: {paper}; } #stage QLabel { color: {paper_text}; }"
    try:
        themes.apply_look(themes.Look(theme="dark"))
        dark, dark_bar, dark_card = adjust(render(sheet), font_scale=1.5), render(bar), render(card)
    finally:
        themes.apply_look(themes.Look())
    assert "13.5pt" in dark
    assert "#1d2a4d" not in dark and "color: #e8eaf2" in dark  # the sidebar keeps its own background and text
    assert adjust("font-size: 12px; color: #5f6368", 2.0) == "font-size: 24px; color: #5f6368"
    # Text on a light background of its own stays dark; a white card keeps dark text.
    assert dark_bar == "MessageBar { background: #fdecea; } QLabel { color: #8a1c12; }" == render(bar)
    assert "#stage QLabel { color: #2b2f3a; }" in dark_card
    assert render(card) == dark_card  # light: as it was


# ---------------------------------------------------------------------------------------------- the tour


def test_starting_the_tour_builds_only_the_panel_it_shows(qtbot, window):
    assert len(window.built_panels()) == 1
    tour = window.start_tour(0)
    assert "step 1 of 7" in tour.counter.text() and window.built_panels() == [window.tokenizer_panel]


def test_the_tour_walks_through_every_panel_in_order(qtbot, window):
    tour = window.start_tour()  # Help ▸ Guided tour (F1)
    n = len(window.panels)
    texts = []
    for i in range(n):
        assert tour.isVisible()
        assert tour.current_panel is window.panels[i]
        assert window.current_panel() is window.panels[i]
        assert window.steps.currentRow() == i
        assert f"step {i + 1} of {n}" in tour.counter.text()
        assert tour.heading.text() and tour.text.text()
        assert tour.back_button.isEnabled() == (i > 0)
        texts.append(tour.text.text())
        if i < n - 1:
            qtbot.mouseClick(tour.next_button, Qt.LeftButton)
    assert tour.next_button.text().replace("&", "") == "Finish"
    qtbot.mouseClick(tour.back_button, Qt.LeftButton)
    assert tour.current_panel is window.panels[n - 2]
    assert len(set(texts)) == n  # a card of its own for each step
    words = " ".join(texts).lower()
    for idea in (
        "subword",
        "embedding",
        "self-attention",
        "heads",
        "causal",
        "masked",
        "sampling",
        "zero-shot",
        "few-shot",
        "perplexity",
    ):
        assert idea in words, idea
    # The card sits inside the window, over the panel.
    assert window.rect().contains(tour.geometry())
    tour.next()
    with qtbot.waitSignal(tour.closed, timeout=1000):
        tour.next()  # Finish
    assert not tour.isVisible()


def test_the_tour_includes_a_panel_added_later():
    from PySide6.QtWidgets import QWidget

    from playground.ui.tour import tour_steps

    class Evaluate(QWidget):
        title = "Evaluate"

    class Unknown(QWidget):
        title = "Someday"
        concept = "<b>Something new</b>"

    panels = [Evaluate(), Unknown()]
    steps = tour_steps(panels)
    assert [s.panel for s in steps] == panels
    assert "Perplexity" in steps[0].heading and "perplexity" in steps[0].text.lower()
    assert steps[1].heading == "Someday" and steps[1].text == "<b>Something new</b>"


# ---------------------------------------------------------------------------------------------- help


def test_the_shortcuts_window_lists_every_panel_and_menu(qtbot, window):
    shown = window.show_shortcuts()  # Help ▸ Keyboard shortcuts
    rows = shown.rows()
    places = {where for _, _, where in rows}
    assert {"Tokenize", "Train", "Prompt", "Generate", "Attention"} <= places
    assert any(where.startswith("Everywhere") for where in places)
    assert all(description and "no description" not in description for _, description, _ in rows)

    def row(where, key):
        return next(r for r in rows if r[2] == where and key in r[0].split(" or "))

    assert "Start training" in row("Train", "Ctrl+Return")[1]
    assert "Train tokenizer" in row("Tokenize", "Ctrl+Return")[1]
    assert "Presentation mode" in row("Everywhere · View menu", "Ctrl+Shift+P")[1]
    assert "Ctrl+Enter" in row("Prompt", "Ctrl+Return")[0]  # two keys, one row
    assert "Step" in row("Generate", "Ctrl+Shift+Return")[1]  # found through "Ctrl+Shift+Enter"
    shown.filter.setText("whitespace")
    assert [r[2] for r in shown.rows()] == ["Tokenize"]
    shown.close()

    # Never out of date: a new shortcut appears with its description, and a clash is pointed out.
    added = QShortcut(QKeySequence("Ctrl+Shift+P"), window.build_panel)
    added.setWhatsThis("Print the parameter table")
    from playground.ui.help_window import gather_shortcuts

    infos = gather_shortcuts(window)
    mine = next(i for i in infos if i.description == "Print the parameter table")
    assert mine.where == "Build" and mine.keys == ["Ctrl+Shift+P"]
    assert any("Presentation mode" in c for c in mine.conflicts)


def test_about_lists_the_versions_and_the_crash_log(window, session):
    import PySide6

    from playground import __version__
    from playground.core.crash_log import crash_log_path

    box = window.show_about()  # Help ▸ About
    text = box.text()
    torch = sys.modules.get("torch")
    for expected in (
        __version__,
        qVersion(),
        PySide6.__version__,
        platform.python_version(),
        metadata.version("tokenizers"),
        str(crash_log_path()),
    ):
        assert expected in text, expected
    assert "PyTorch" in text and (torch.__version__.split("+")[0] in text if torch else "loading" in text)
    assert "still detecting" in text
    assert not box.isModal()
    from playground.core.devices import DeviceInfo

    session.set_device(DeviceInfo("cpu", "Test CPU", threads=4))
    assert "Test CPU" in window.show_about().text()
    box.close()


# ---------------------------------------------------------------------------------------------- crash safety


@pytest.fixture
def crashes(window, session, tmp_path):
    """The crash handler as the app installs it, logging to a temporary file, its dialogs recorded."""
    from playground.app import install_excepthook

    shown = []
    reporter = install_excepthook(
        session, window, log_path=tmp_path / "crash.log", dialog=lambda parent, report: shown.append(report)
    )
    yield shown, tmp_path / "crash.log"
    reporter.uninstall()


def test_an_unhandled_exception_is_logged_and_the_window_lives(qtbot, window, crashes):
    shown, log = crashes
    try:
        raise ValueError("the numbers did not add up")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: bool(shown))
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "ValueError: the numbers did not add up" in text
    assert "test_an_unhandled_exception_is_logged_and_the_window_lives" in text
    assert shown[0].log_path == log and shown[0].summary() == "ValueError: the numbers did not add up"
    assert window.isVisible()
    assert window.message_bar.level == "error" and str(log) in window.message_bar.text.text()


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_qt_callback_or_a_thread_is_caught(qtbot, window, crashes):
    shown, log = crashes

    def in_a_timer():
        raise RuntimeError("raised in a QTimer callback")

    QTimer.singleShot(0, in_a_timer)
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=5000)

    def in_a_thread():
        raise KeyError("raised in a thread")

    thread = threading.Thread(target=in_a_thread, name="worker")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=5000)
    assert shown[0].kind == "RuntimeError" and shown[1].kind == "KeyError" and shown[1].thread == "worker"
    text = log.read_text(encoding="utf-8")
    assert "in_a_timer" in text and "in_a_thread" in text
    assert window.isVisible()
    window.go_to("build")  # and it still works
    assert window.current_panel() is window.build_panel


def test_the_crash_dialog_is_not_modal(qtbot, window, tmp_path):
    from playground.app import show_crash_dialog
    from playground.core.crash_log import record_exception

    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        report = record_exception(*sys.exc_info(), path=tmp_path / "crash.log")
    box = show_crash_dialog(window, report)
    qtbot.addWidget(box)
    assert box.isVisible() and not box.isModal()
    assert str(tmp_path / "crash.log") in box.text() and "ZeroDivisionError" in box.text()
    assert "division by zero" in box.detailedText()
    box.close()


# ---------------------------------------------------------------------------------------------- the demo


@pytest.fixture
def demo_window(window, session, tiny_corpus, tmp_path, monkeypatch):
    import playground.core.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    session.set_corpus(*tiny_corpus)
    return window


TINY_DEMO = dict(
    vocab_size=300,
    preset="tiny",
    steps=12,
    batch_size=4,
    eval_interval=6,
    sample_interval=0,
    max_new_tokens=6,
    use_default_corpus=False,
    auto_advance_s=0,
)


def test_the_one_click_demo_runs_the_whole_flow(qtbot, demo_window, session):
    from playground.ui.demo_flow import DemoSettings

    window = demo_window
    stages = []
    runner = window.run_demo(DemoSettings(**TINY_DEMO))
    assert runner is not None and runner.running
    runner.stage_started.connect(lambda i, n, name, label: stages.append((name, window.demo_label.text())))
    results = []
    runner.finished.connect(lambda ok, message: results.append((ok, message)))
    assert window.demo_stop_button.isVisible()
    qtbot.waitUntil(lambda: bool(results), timeout=120_000)
    assert results[0][0], results[0][1]
    assert runner.history == ["corpus", "tokenizer", "build", "train", "prompt", "generate", "attention"]
    assert ("train", "Demo · step 4 of 7: Training the model for 12 steps…") in stages  # said where it is
    assert session.tokenizer.vocab_size == 300
    assert session.checkpoint.step == 12 and len(window.training_panel.train_curve.getData()[0]) == 12
    assert "Return the running event loop." in window.generate_panel.prompt_edit.toPlainText()  # the few-shot prompt
    assert window.generate_panel.output.tokens()
    assert window.current_panel() is window.attention_panel
    # It ends on a short sentence (every token's label fits), no longer on the long generated text.
    shown = window.attention_panel.shown
    assert shown is not None and "".join(shown.tokens) == DemoSettings().attention_text
    assert not window.demo_stop_button.isVisible() and "done" in window.message_bar.text.text()


def test_the_demo_can_be_stopped(qtbot, demo_window, session):
    from playground.ui.demo_flow import DemoSettings

    window = demo_window
    runner = window.run_demo(DemoSettings(**{**TINY_DEMO, "steps": 100_000, "eval_interval": 1000}))
    results = []
    runner.finished.connect(lambda ok, message: results.append((ok, message)))
    qtbot.waitUntil(lambda: runner.history[-1:] == ["train"] and window.training_panel.job is not None, timeout=60_000)
    assert window.run_demo() is runner  # one demo at a time
    qtbot.mouseClick(window.demo_stop_button, Qt.LeftButton)
    assert results and not results[0][0] and "stopped" in results[0][1]
    qtbot.waitUntil(lambda: window.training_panel.job is None, timeout=30_000)
    assert not runner.running and window.demo_action.text().replace("&", "") == "Run the whole demo"


def test_the_demo_waits_while_the_window_is_busy(demo_window, session):
    from playground.ui.demo_flow import DemoSettings

    window = demo_window
    window.training_panel.slot.job = object()  # as if a model were training
    try:
        assert window.run_demo(DemoSettings(**TINY_DEMO)) is None
        assert window.message_bar.level == "warning" and "training" in window.message_bar.text.text()
    finally:
        window.training_panel.slot.job = None
