"""Starting the window: show it first, load the heavy parts (PyTorch) after."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from playground import __version__
from playground.paths import resources_dir

log = logging.getLogger("playground")


def app_icon() -> QIcon:
    icons = resources_dir().parent / "packaging" / "icons"
    icon = QIcon()
    for name in ("llm-playground-64.png", "llm-playground.png"):
        if (icons / name).exists():
            icon.addFile(str(icons / name))
    return icon


def make_application(argv: Optional[list[str]] = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("llm-playground")
    app.setOrganizationName("llm-playground")
    app.setApplicationDisplayName("LLM Playground")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("llm-playground")
    app.setWindowIcon(app_icon())
    return app


def start_background_work(window) -> None:
    """After the window shows: read the built-in corpus, find the device, warm a tokenizer worker."""
    from playground.core.devices import detect_device
    from playground.core.tokenizer_worker import prestart_worker
    from playground.engine.jobs import Job

    window.tokenizer_panel.use_default_corpus()
    window.tokenizer_panel.restore_saved_tokenizers()

    def find_device(report, cancel):
        prestart_worker()
        return detect_device()  # imports torch: ~2 s, off the GUI thread

    job = Job(find_device, "looking for a GPU")
    job.result.connect(window.session.set_device)
    job.error.connect(window.session.error)
    job.start()

    from playground.paths import demo_model_dir

    demo = demo_model_dir()
    if demo is not None and window.session.checkpoint is None:
        def load_demo(report, cancel):
            from playground.core.checkpoints import load_checkpoint
            return load_checkpoint(demo)

        loader = Job(load_demo, "loading the demo model")
        loader.result.connect(lambda loaded: adopt_demo(window.session, *loaded))
        loader.error.connect(window.session.warn)
        loader.start()


def adopt_demo(session, checkpoint, model=None) -> None:
    """The demo model becomes current unless the person trained or chose one meanwhile;
    its tokenizer fills an empty list, so the first window already shows tokens."""
    if session.checkpoint is None:
        session.set_checkpoint(checkpoint, model)
    if not session.tokenizers:
        checkpoint.tokenizer.name = "BPE 2,000 · demo model"
        session.add_tokenizer(checkpoint.tokenizer)


def install_excepthook(session) -> None:
    """An unexpected error becomes a message in the window; the app keeps running."""
    def hook(kind, value, tb):
        log.error("Unhandled error\n%s", "".join(traceback.format_exception(kind, value, tb)))
        session.error(f"Something unexpected went wrong: {kind.__name__}: {value}. "
                      "Your work is still here; the details were written to the terminal log.")
    sys.excepthook = hook


def run_gui(screenshot_dir: Optional[Path] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = make_application()
    from playground.core.tokenizer_worker import shutdown_workers
    from playground.engine.session import Session
    from playground.ui.main_window import MainWindow

    session = Session()
    window = MainWindow(session)
    install_excepthook(session)
    window.show()
    app.aboutToQuit.connect(shutdown_workers)
    QTimer.singleShot(0, lambda: start_background_work(window))
    if screenshot_dir is not None:
        from playground.ui.screenshots import take_screenshots

        def shoot() -> None:
            for path in take_screenshots(window, screenshot_dir):
                print(path)
            window.close()
            app.quit()
        QTimer.singleShot(50, shoot)
    return app.exec()
