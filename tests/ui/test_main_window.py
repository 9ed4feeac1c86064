"""The main window: panels in workflow order, device in the status bar, errors as messages."""

import pytest

from playground.core.progress import Progress, UserError
from playground.engine.jobs import Job


@pytest.fixture
def window(qtbot, session):
    from playground.ui.main_window import MainWindow

    w = MainWindow(session)
    qtbot.addWidget(w)
    w.show()
    return w


def test_only_working_panels_are_listed(window):
    steps = [window.steps.item(i).text() for i in range(window.steps.count())]
    assert steps == [
        "1  Tokenize",
        "2  Build",
        "3  Train",
        "4  Prompt",
        "5  Generate",
        "6  Attention",
        "7  Evaluate",
    ]  # in workflow order, nothing unbuilt
    assert window.stack.count() == len(steps)
    window.steps.setCurrentRow(2)
    assert window.current_panel() is window.training_panel
    assert "loss" in window.concept.text()


def test_panels_are_built_when_first_shown_and_the_rest_once_the_window_is_up(qtbot, window):
    from playground.ui.main_window import WORKFLOW

    assert window.built_panels() == [window.tokenizer_panel]  # only the step on show
    window.go_to("train")  # built on first show
    assert window.current_panel() is window.training_panel
    # ...with Build before it: Build gives the session the model config the later steps read
    assert window.built_panels() == [window.tokenizer_panel, window.build_panel, window.training_panel]
    assert window.session.model_config is not None
    assert "loss" in window.concept.text()
    qtbot.waitUntil(lambda: len(window.built_panels()) == len(WORKFLOW), timeout=30_000)  # the rest, idle
    assert [panel.title for panel in window.panels] == WORKFLOW  # the sidebar's titles are the panels'
    assert window.stack.count() == len(WORKFLOW)
    assert [window.stack.widget(row).panel for row in range(len(WORKFLOW))] == window.panels
    assert window.current_panel() is window.training_panel  # building others moved nothing


def test_a_panel_can_ask_for_another_step(window, session):
    session.show_step.emit("train")
    assert window.current_panel() is window.training_panel
    session.show_step.emit("no such step")  # a step not built yet: nothing happens
    assert window.current_panel() is window.training_panel


def test_device_appears_in_status_bar(qtbot, window, session):
    from playground.core.devices import detect_device

    job = Job(detect_device, doing="looking for a GPU")
    job.result.connect(session.set_device)
    with qtbot.waitSignal(job.done, timeout=60_000):
        job.start()
    qtbot.waitUntil(lambda: session.device is not None)
    text = window.device_label.text()
    assert text.startswith(("CPU:", "GPU:", "Apple GPU")) and text == session.device.describe()
    if session.device.kind == "cpu":
        assert "threads" in text


def test_job_exception_becomes_message_and_app_survives(qtbot, window, session):
    def boom():
        yield Progress(None, "adding")
        raise ValueError("the numbers did not add up")

    job = Job(boom, doing="adding numbers")
    job.error.connect(session.error)
    with qtbot.waitSignal(job.done, timeout=5000):
        job.start()
    qtbot.waitUntil(lambda: window.message_bar.isVisible())
    assert "adding numbers" in window.message_bar.text.text()
    assert "the numbers did not add up" in window.message_bar.text.text()
    assert window.message_bar.level == "error"

    # Still alive: a user error reads as the plain sentence.
    def refuse():
        yield Progress(None, "opening")
        raise UserError("Choose a file first.")

    job2 = Job(refuse, doing="opening")
    job2.error.connect(session.error)
    with qtbot.waitSignal(job2.done, timeout=5000):
        job2.start()
    qtbot.waitUntil(lambda: window.message_bar.text.text() == "Choose a file first.")


def test_progress_is_throttled(qtbot):
    from playground.core.progress import Progress

    received = []

    def chatty():
        for i in range(200_000):
            yield Progress(i / 200_000, "working")
        return "ok"

    job = Job(chatty, doing="chatting")
    job.progress.connect(received.append)
    with qtbot.waitSignal(job.done, timeout=20_000):
        job.start()
    qtbot.wait(50)
    # 200,000 reports, but at most ~30 a second reach the GUI (plus the final one).
    assert 1 <= len(received) < 200
    assert received[-1].fraction == pytest.approx(199_999 / 200_000)


def test_cancel_stops_a_job(qtbot):
    import time

    def slow(cancel):
        while True:
            cancel.raise_if_cancelled()
            time.sleep(0.01)
            yield Progress(None, "waiting")

    job = Job(slow, doing="waiting")
    job.start()
    qtbot.wait(50)
    with qtbot.waitSignal(job.cancelled, timeout=2000):
        job.cancel()
    qtbot.waitUntil(lambda: not Job.running(), timeout=2000)  # the job deletes itself: never wait on it


def test_view_and_help_menus(window):
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles[:1] == ["File"] and "View" in titles and titles[-1] == "Help"
    help_items = [a.text().replace("&", "") for a in window.help_menu.actions() if not a.isSeparator()]
    assert help_items == [
        "Start here",
        "Guided tour",
        "Run the whole demo",
        "Keyboard shortcuts",
        "Open the crash log folder",
        "About LLM Playground",
    ]
    assert window.presentation_action.shortcut().toString() == "Ctrl+Shift+P"
    assert set(window.theme_actions) == {"system", "light", "dark"} and window.theme_actions["system"].isChecked()


def test_crash_log_folder_item_opens_the_folder(window, monkeypatch):
    from playground.core.crash_log import crash_log_path
    from playground.ui import help_window

    opened = []
    monkeypatch.setattr(help_window, "open_folder", lambda path: opened.append(path) or True)
    window.open_crash_log_folder()
    assert opened == [crash_log_path().parent]


def test_closing_in_presentation_mode_gives_the_font_back(qtbot, session):
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    from playground.ui.main_window import MainWindow

    before = QFont(QApplication.font())
    w = MainWindow(session)
    qtbot.addWidget(w)
    w.show()
    w.set_presentation_mode(True)
    assert QApplication.font() != before
    w.close()
    assert QApplication.font() == before


def test_the_window_is_built_before_torch_is_imported():
    """The window shows first and PyTorch (2 s to import) loads behind it: no panel may import it while building."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from playground.app import make_application; from playground.engine.session import Session; "
        "from playground.ui.main_window import MainWindow; app = make_application(); MainWindow(Session()); "
        "print('torch loaded' if 'torch' in sys.modules else 'no torch')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.stdout.strip().splitlines()[-1] == "no torch", done.stderr


def _run_python(code: str, timeout: int = 180) -> str:
    """Run `code` in a fresh interpreter (offscreen Qt) and return its last line of output."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    return lines[-1]


def test_the_window_paints_before_numpy_and_torch_load():
    """The real start (`playground.cli.main([])`): at the window's first paint neither numpy nor torch is loaded,
    nor what only the About box, the command-line commands or the workspace files need; the panels not shown are
    built after it."""
    code = r"""
import os, sys
import playground.ui.main_window as mw
from PySide6.QtCore import QEvent, QObject

class Watch(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Paint:
            loaded = [m for m in ("numpy", "torch", "importlib.metadata", "playground.cli_model",
                                  "playground.core.workspace") if m in sys.modules]
            built = len(obj.built_panels() if hasattr(obj, "built_panels") else obj.panels)
            print(f"loaded {loaded} built {built}", flush=True)
            os._exit(0)
        return False

class Window(mw.MainWindow):
    def __init__(self, session):
        super().__init__(session)
        self.watch = Watch(self)
        self.installEventFilter(self.watch)

mw.MainWindow = Window
from playground.cli import main
main([])
print("never painted")
"""
    assert _run_python(code) == "loaded [] built 1"


def test_torch_dynamo_is_imported_in_the_background_before_training_starts():
    """The first AdamW imports torch._dynamo (~900 modules, 1-2 s in torch 2.x): the start-up job pays it right
    after torch loads, not the person's first click on Start training."""
    code = r"""
import sys, time
from playground.app import make_application, start_background_work
from playground.engine.jobs import Job
from playground.engine.session import Session
from playground.ui.main_window import MainWindow

app = make_application()
window = MainWindow(Session())
window.show()
start_background_work(window)
deadline = time.monotonic() + 150
while (window.session.device is None or Job.running()) and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.02)
Job.cancel_all()
import gc
print("device", window.session.device is not None, "dynamo", "torch._dynamo" in sys.modules,
      "frozen", gc.get_freeze_count() > 10_000, flush=True)
"""
    # ...and freezes what it imported, so later full collections (whichever thread runs them) skip it
    assert _run_python(code) == "device True dynamo True frozen True"


def test_the_sidebar_scroll_bar_is_navy_like_the_sidebar_in_every_look(qtbot, window):
    from PySide6.QtGui import QColor

    from playground.ui import themes

    window.resize(1100, 420)  # short: the concept text scrolls
    window.go_to("Train")
    bar = window.concept_scroll.verticalScrollBar()
    qtbot.waitUntil(bar.isVisible, timeout=3000)
    try:
        for theme in ("light", "dark"):
            window.set_theme(theme)
            assert themes.colour("sidebar_scroll") in window.concept_scroll.styleSheet()
            image = bar.grab().toImage()
            groove = QColor(image.pixel(image.width() - 1, image.height() - 1)).name()
            assert groove == themes.colour("sidebar_bg"), theme  # not the style's light groove
    finally:
        window.set_theme("system")
