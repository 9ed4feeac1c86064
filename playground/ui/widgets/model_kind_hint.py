"""A sentence for the wrong kind of model, with the action that helps.

Fill the mask needs an encoder (BERT style), Generate a decoder (GPT style).
`ModelKindHint.want("encoder")` says so where a decoder is current and offers
to load the demo encoder (when this installation ships one: `paths.demo_encoder_dir`),
else to build one; `want("decoder")` offers the demo model. The loading is core's
`load_model`, run as a job; the loaded model becomes the session's.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from playground.engine.jobs import Job, JobSlot
from playground.engine.session import Session
from playground.ui.themes import themed_style

NEED_ENCODER = (
    "The text has a [MASK], but this model is a decoder: it continues text and cannot fill a gap. "
    "Fill the mask needs an encoder (BERT style), which reads the whole text at once."
)
NEED_DECODER = (
    "This model is an encoder (BERT style): it guesses hidden words from both sides and does not "
    "continue text. To generate, make a decoder (GPT style) the current model."
)


def demo_encoder_dir():
    """The demo encoder's folder, or None (this installation has none, or the app does not know of one yet)."""
    from playground import paths

    find = getattr(paths, "demo_encoder_dir", None)
    return find() if find is not None else None


class ModelKindHint(QWidget):
    """A sentence and one button: load the demo model of the kind wanted (or go and build one)."""

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = JobSlot(self)
        self.slot.changed.connect(self._refresh_button)
        self.wanted = "encoder"
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.button = QPushButton()
        self.button.clicked.connect(self.act)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # the note's background, as a box
        themed_style(
            self,
            "ModelKindHint { background: {note_bg}; border: 1px solid {note_border}; border-radius: 4px; } "
            "QLabel { color: {note_fg}; background: transparent; }",
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.button)
        self.want("encoder")

    def want(self, kind: str) -> None:
        """Say that the step needs `kind` ("encoder" or "decoder") and offer what helps."""
        self.wanted = kind
        self.text.setText(NEED_ENCODER if kind == "encoder" else NEED_DECODER)
        self._refresh_button()

    def _demo_folder(self):
        from playground.paths import demo_model_dir

        return demo_encoder_dir() if self.wanted == "encoder" else demo_model_dir()

    def _refresh_button(self) -> None:
        loading = self.slot.busy
        if self._demo_folder() is not None:
            what = "demo encoder" if self.wanted == "encoder" else "demo model"
            self.button.setText(f"Loading the {what}…" if loading else f"Load the {what}")
            self.button.setToolTip(f"Make the {what} that ships with the app the current model.")
        else:
            self.button.setText("Build an encoder" if self.wanted == "encoder" else "Build a decoder")
            self.button.setToolTip("Go to the Build step and choose the family there, then train it.")
        self.button.setEnabled(not loading)

    @property
    def load_job(self) -> Optional[Job]:
        return self.slot.job

    def act(self) -> Optional[Job]:
        """Load the demo model of the kind wanted (a job), or show the Build step when there is none."""
        from playground.core.loading import load_model

        folder = self._demo_folder()
        if folder is None:
            self.session.show_step.emit("build")
            return None
        if self.slot.busy:
            return self.slot.job
        what = "the demo encoder" if self.wanted == "encoder" else "the demo model"
        job = Job(load_model, folder, self.session.models.device_name, doing=f"loading {what}")
        job.result.connect(lambda loaded: self.session.set_checkpoint(*loaded))
        job.error.connect(self.session.error)
        return self.slot.start(job)

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        job = self.slot.job
        if job is None:
            return True
        job.cancel()
        return job.wait(timeout_ms)
