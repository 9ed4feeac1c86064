"""The Attention Lab's "Token embeddings" tab: the map of the current model's token embeddings,
computed in a job once per checkpoint (the map widget is made on first use: it imports pyqtgraph)."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QVBoxLayout, QWidget

from playground.engine.jobs import Job, JobSlot


class EmbeddingTab(QWidget):
    def __init__(self, session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = JobSlot(self)
        self.slot.changed.connect(self._on_slot_changed)
        self._for = None  # the checkpoint the map shows (or is being computed for)
        self._view = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 6, 4, 4)

    @property
    def view(self):
        """The map widget (made on first use)."""
        if self._view is None:
            from playground.ui.widgets.embedding_view import EmbeddingView

            self._view = EmbeddingView()
            self._layout.addWidget(self._view)
            self._view.clear("The map appears once a model is loaded.")
        return self._view

    def compute(self) -> Optional[Job]:
        """Compute the map of the session's model in a job, unless it shows (or is computing) that one."""
        checkpoint = self.session.checkpoint
        if checkpoint is None:
            self.view.clear("No model yet: load the demo model or train one.")
            self._for = None
            return None
        if checkpoint is self._for or self.slot.busy:
            return self.slot.job
        from playground.core.attention_jobs import map_embeddings  # PyTorch: loaded once there is a model

        self._for = checkpoint
        self.view.title.setText("Computing the map of the token embeddings…")
        job = Job(map_embeddings, self.session.models, checkpoint, doing="mapping the token embeddings")
        job.result.connect(lambda data, checkpoint=checkpoint: self._computed(checkpoint, data))
        job.error.connect(self.session.error)
        job.error.connect(self._failed)
        return self.slot.start(job)

    def _computed(self, checkpoint, data) -> None:
        if checkpoint is self.session.checkpoint:
            self.view.set_map(data)

    def _failed(self, _message: str) -> None:
        self._for = None  # the next look at the tab tries again (not at once: the same error would come back)

    def _on_slot_changed(self) -> None:
        # A newer checkpoint came while the map of the last one was computed: map it too, if it is on view.
        if (
            not self.slot.busy
            and self._for is not None
            and self.session.checkpoint is not self._for
            and self.isVisible()
        ):
            self.compute()

    def is_busy(self) -> bool:
        return self.slot.any_not_done

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        return self.slot.stop_and_wait(timeout_ms)
