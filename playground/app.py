"""Starting the window: show it first, load the heavy parts (PyTorch) after."""

from __future__ import annotations

import html
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Mapping, Optional

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from playground import __version__
from playground.core.crash_log import CrashHooks, CrashReport
from playground.paths import icons_dir

log = logging.getLogger("playground")


def app_icon() -> QIcon:
    icons = icons_dir()
    icon = QIcon()
    for name in ("llm-playground-64.png", "llm-playground.png"):
        if (icons / name).exists():
            icon.addFile(str(icons / name))
    return icon


def make_application(argv: Optional[list[str]] = None) -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or sys.argv[:1])
    app.setApplicationName("llm-playground")
    app.setOrganizationName("llm-playground")
    app.setApplicationDisplayName("LLM Playground")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("llm-playground")
    app.setWindowIcon(app_icon())
    return app


def start_background_work(window) -> None:
    """After the window shows: read the built-in corpus, find the device, warm a tokenizer worker."""
    from playground.core.startup import start_up
    from playground.engine.jobs import Job
    from playground.ui.widgets.no_model import demo_load_job

    window.tokenizer_panel.use_default_corpus()
    window.tokenizer_panel.restore_saved_tokenizers()

    job = Job(start_up, doing="looking for a GPU")
    job.partial.connect(window.session.set_device)
    job.error.connect(window.session.error)
    job.start()

    if window.session.checkpoint is None:
        session = window.session
        loader = demo_load_job(session, adopt=lambda checkpoint, model: adopt_demo(session, checkpoint, model))
        if loader is not None:
            loader.error.connect(session.warn)
            loader.start()


class _FirstPaint(QObject):
    """Calls `fn` once, on the event-loop turn after `window` first paints (or after `fallback_ms`)."""

    def __init__(self, window: QWidget, fn: Callable[[], None], fallback_ms: int) -> None:
        super().__init__(window)
        self.fn: Optional[Callable[[], None]] = fn
        window.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self, self._run)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint and self.fn is not None:
            QTimer.singleShot(0, self, self._run)
        return False

    def _run(self) -> None:
        fn, self.fn = self.fn, None
        if fn is not None:
            window = self.parent()
            assert window is not None  # the window is this filter's parent
            window.removeEventFilter(self)
            fn()


def after_first_paint(window: QWidget, fn: Callable[[], None], fallback_ms: int = 2000) -> None:
    """Run `fn` once the window has painted: a job started earlier (torch's import holds the GIL
    for long stretches) would hold the first paint back."""
    _FirstPaint(window, fn, fallback_ms)


def adopt_demo(session, checkpoint, model=None) -> None:
    """The demo model becomes current unless the person trained or chose one meanwhile;
    its tokenizer fills an empty list, so the first window already shows tokens."""
    if session.checkpoint is None:
        session.set_checkpoint(checkpoint, model)
    if not session.tokenizers:
        checkpoint.tokenizer.name = "BPE 2,000 · demo model"
        session.add_tokenizer(checkpoint.tokenizer)


def show_crash_dialog(parent: Optional[QWidget], report: CrashReport) -> QMessageBox:
    """The crash dialog: what happened, where the details are, and that the work is safe. Not modal: the
    window keeps running behind it. Tests replace this function (``playground.app.show_crash_dialog``)."""
    where = (
        f"The details were written to <br><tt>{report.log_path}</tt>"
        if report.log_path is not None
        else "The details could not be written to the crash log; they are below."
    )
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Something unexpected went wrong",
        "<p><b>Something unexpected went wrong</b>, but the app is still running and your work "
        "is still here.</p>"
        f"<p><tt>{html.escape(report.summary())}</tt></p><p>{where}</p>"
        "<p>If it keeps happening, please send that file with a few words on what you did.</p>",
        QMessageBox.StandardButton.Close,
        parent,
    )
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setDetailedText(report.traceback)
    box.setModal(False)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if report.log_path is not None:
        folder_button = box.addButton("Open the log folder", QMessageBox.ButtonRole.ActionRole)
        folder_button.clicked.connect(lambda: _open_folder(report.log_path.parent))
    box.show()
    return box


def _open_folder(folder: Path) -> None:
    from playground.ui.help_window import open_folder

    open_folder(folder)


class CrashReporter(QObject):
    """Receives crash reports from any thread and shows them on the GUI thread: a message in the window's
    message bar and one dialog at a time (errors that repeat while it is open are counted, not stacked)."""

    reported = Signal(object)  # CrashReport, emitted from the thread where the error happened

    def __init__(
        self, session=None, parent_widget: Optional[QWidget] = None, dialog: Optional[Callable[..., object]] = None
    ) -> None:
        super().__init__()
        self.session = session
        self.parent_widget = parent_widget
        self.dialog = dialog  # None: playground.app.show_crash_dialog, looked up at each report
        self.hooks: Optional[CrashHooks] = None
        self.open_dialog: object = None  # what the dialog function returned: a QMessageBox, or a test's stand-in
        self.repeats = 0
        self.shown: list[CrashReport] = []
        self.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def report(self, report: CrashReport) -> None:
        """Called by the hooks, in any thread."""
        self.reported.emit(report)

    def _show(self, report: CrashReport) -> None:
        self.shown.append(report)
        del self.shown[:-20]
        log.error("Unhandled error (%s); written to %s\n%s", report.summary(), report.log_path, report.traceback)
        if self.session is not None:
            where = f"the details are in {report.log_path}" if report.log_path else "the details are in the terminal"
            self.session.error(
                f"Something unexpected went wrong: {report.summary()}. Your work is still here; "
                f"{where} (Help ▸ Open the crash log folder)."
            )
        box = self.open_dialog
        if box is not None and isinstance(box, QWidget):
            try:
                if box.isVisible():  # one dialog at a time: count the others in it
                    self.repeats += 1
                    if isinstance(box, QMessageBox):
                        box.setInformativeText(
                            f"{self.repeats} more unexpected error"
                            f"{'s' if self.repeats > 1 else ''} since; the log has them all."
                        )
                    return
            except RuntimeError:  # closed and deleted
                pass
        self.repeats = 0
        show = self.dialog or show_crash_dialog
        self.open_dialog = show(self.parent_widget, report)

    def uninstall(self) -> None:
        if self.hooks is not None:
            self.hooks.uninstall()


def install_excepthook(
    session=None,
    window: Optional[QWidget] = None,
    log_path: Optional[Path] = None,
    dialog: Optional[Callable[..., object]] = None,
) -> CrashReporter:
    """Unhandled exceptions (in the GUI thread, in Qt callbacks and in Python threads) go to the crash log
    (`core.crash_log`), to a message in the window and to a dialog; the app keeps running.
    Returns the reporter; ``.uninstall()`` puts the previous hooks back."""
    reporter = CrashReporter(session, window, dialog)
    reporter.hooks = CrashHooks(reporter.report, log_path).install()
    return reporter


def display_problem(env: Optional[Mapping[str, str]] = None, platform: str = sys.platform) -> Optional[str]:
    """Why no window can open here, as one sentence (Qt itself would abort the process), or None."""
    env = os.environ if env is None else env
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith(("xcb", "wayland")):
        return None  # offscreen, vnc, eglfs …: no desktop needed
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return (
        "LLM Playground needs a display: start it from a desktop session (or over ssh -X), or set "
        "QT_QPA_PLATFORM=offscreen to take screenshots without one (playground --screenshot DIR)."
    )


def run_gui(screenshot_dir: Optional[Path] = None) -> int:
    problem = display_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = make_application()
    from playground.core.tokenizer_worker import shutdown_workers
    from playground.engine.session import Session
    from playground.ui.main_window import MainWindow

    session = Session()
    reporter = install_excepthook(session)  # before the window: an error while building it is caught too
    window = MainWindow(session)
    reporter.parent_widget = window
    window.show()
    app.aboutToQuit.connect(shutdown_workers)
    after_first_paint(window, lambda: start_background_work(window))
    if screenshot_dir is not None:
        from playground.ui.screenshots import take_screenshots

        def shoot() -> None:
            for path in take_screenshots(window, screenshot_dir):
                print(path)
            window.close()
            app.quit()

        QTimer.singleShot(50, shoot)
    return app.exec()
