"""The page a step shows while there is no model yet: a title, a sentence, and two ways on:
load the demo model that ships with the app (in a job), or go and train one."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from playground.core.loading import load_model
from playground.engine.jobs import Job, JobSlot
from playground.engine.session import Session
from playground.ui.themes import themed_style

DEMO_TIP = (
    "Load the small model that ships with the app: GPT-2-style, 4 layers × 4 heads, about a million "
    "parameters, trained for about half an hour on Python's documentation (validation loss 4.12). "
    "It writes docstring-like English phrases, not sense."
)
NO_DEMO_TIP = "This installation has no demo model (models/demo is missing): train a model instead."
LOADING_TIP = "Loading the demo model…"
DEMO_LABEL = "Load the demo model"
TRAIN_TIP = "Go to the Train step and train a model on your corpus."


def demo_load_job(session: Session, adopt: Optional[Callable[[Any, Any], None]] = None) -> Optional[Job]:
    """A job, to start, that loads the demo model and hands it to `adopt(checkpoint, model)` (by default it
    becomes the session's model); the session says the demo model is loading until the job ends. None when
    this installation has no demo model."""
    from playground.paths import demo_model_dir

    folder = demo_model_dir()
    if folder is None:
        return None
    # On the device every model of the session sits on (the store moves nothing then).
    job = Job(load_model, folder, session.models.device_name, doing="loading the demo model")
    take = adopt or session.set_checkpoint
    job.result.connect(lambda loaded: take(*loaded))
    job.done.connect(lambda: session.set_demo_loading(False))
    session.set_demo_loading(True)
    return job


def is_demo(checkpoint) -> bool:
    """True when `checkpoint` was read from the demo model's folder."""
    from playground.paths import demo_model_dir

    folder, path = demo_model_dir(), getattr(checkpoint, "path", None)
    if folder is None or path is None:
        return False
    folder, path = Path(folder).resolve(), Path(path).resolve()
    return path == folder or folder in path.parents


class NoModelPage(QWidget):
    """'No model yet': `demo_button` loads the demo model into the session, `train_button` asks the
    window for the Train step; `status` says what the loading does, `load_job` is the job while it runs.
    While the demo model loads (this page's job, or the one the app starts at launch, which the session
    announces) the button is off, says so, and `busy` spins."""

    def __init__(self, session: Session, title: str, text: str, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = JobSlot(self)
        self.slot.changed.connect(self.refresh)
        session.demo_loading_changed.connect(self.refresh)
        self._failed = False

        self.title = QLabel(title)
        themed_style(self.title, "font-size: 16pt; font-weight: 600; color: {heading};")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        themed_style(self.text, "font-size: 11pt; color: {body};")
        self.demo_button = QPushButton(DEMO_LABEL)
        self.demo_button.clicked.connect(self.load_demo)
        self.train_button = QPushButton("Train a model")
        self.train_button.setToolTip(TRAIN_TIP)
        self.train_button.clicked.connect(lambda: self.session.show_step.emit("train"))
        for button in (self.demo_button, self.train_button):
            button.setMinimumHeight(34)
            button.setMinimumWidth(180)
        self.status = QLabel()
        themed_style(self.status, "color: {muted};")
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.busy = QProgressBar()  # no range: a busy indicator while the demo model loads
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(8)
        self.busy.hide()

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.demo_button)
        buttons.addWidget(self.train_button)
        buttons.addStretch(1)
        box = QWidget()
        box.setMinimumWidth(400)  # narrower beside a column of controls on a small screen
        box.setMaximumWidth(560)
        bl = QVBoxLayout(box)
        bl.addWidget(self.title)
        bl.addWidget(self.text)
        bl.addSpacing(12)
        bl.addLayout(buttons)
        bl.addWidget(self.busy)
        bl.addWidget(self.status)
        centre = QHBoxLayout()
        centre.addStretch(1)
        centre.addWidget(box)
        centre.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(centre)
        layout.addStretch(2)
        self.refresh()

    @property
    def load_job(self) -> Optional[Job]:
        """The job loading the demo model, while it runs."""
        return self.slot.job

    def is_loading(self) -> bool:
        """True while the demo model loads, whoever started it."""
        return self.load_job is not None or self.session.demo_loading

    def refresh(self) -> None:
        """Enable the demo button only when the demo model exists and is not loading already."""
        from playground.paths import demo_model_dir

        has_demo = demo_model_dir() is not None
        loading = has_demo and self.is_loading()
        self.demo_button.setEnabled(has_demo and not loading)
        self.demo_button.setText(LOADING_TIP if loading else DEMO_LABEL)
        self.busy.setVisible(loading)
        if not has_demo:
            self.demo_button.setToolTip(NO_DEMO_TIP)
        elif loading:
            self.demo_button.setToolTip(LOADING_TIP)
        else:
            self.demo_button.setToolTip(DEMO_TIP)

    def showEvent(self, event) -> None:  # noqa: N802
        self.refresh()
        super().showEvent(event)

    def load_demo(self) -> Optional[Job]:
        """Load the demo model in a job and make it the session's model; the running job if one runs
        already, None when there is no demo model."""
        from playground.paths import demo_model_dir

        if self.load_job is not None:
            return self.load_job
        if self.session.demo_loading:  # the start-up load (or another page's) will make it current
            self.refresh()
            return None
        folder = demo_model_dir()
        if folder is None:
            self.refresh()
            self.session.error(
                "This installation has no demo model (models/demo is missing). Train a model in the Train step instead."
            )
            return None
        job = demo_load_job(self.session)
        assert job is not None  # the demo folder is there: checked above
        self._failed = False
        job.error.connect(self._on_error)
        job.done.connect(self._finished)
        self.status.setText("Loading the demo model…")
        return self.slot.start(job)  # refreshes the buttons (slot.changed)

    def _on_error(self, message: str) -> None:
        self._failed = True
        self.session.error(message)

    def _finished(self) -> None:
        self.status.setText("The demo model could not be loaded: see the message above." if self._failed else "")

    def is_busy(self) -> bool:
        return self.load_job is not None

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Cancel the loading, if any, and wait for its thread to end."""
        job = self.load_job
        if job is None:
            return True
        job.cancel()
        return job.wait(timeout_ms)
