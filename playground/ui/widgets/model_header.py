"""The line above the Generate step's work: which model it uses, how far it trained, what it reads."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


class ModelHeader(QLabel):
    """The current model's name, step, validation loss, context length and vocabulary, in one line."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)  # a long model name wraps instead of widening the step
        self.setStyleSheet("font-size: 10.5pt; padding: 2px 0;")

    def show_model(self, checkpoint) -> None:
        """Describe `checkpoint` (a core.checkpoints.Checkpoint; None: no model yet)."""
        if checkpoint is None:
            self.setText("<b>Model:</b> none loaded yet")
            self.setToolTip("")
            return
        loss = f" · val loss {checkpoint.val_loss:.2f}" if checkpoint.val_loss is not None else ""
        self.setText(
            f"<b>Model:</b> {checkpoint.name} · step {checkpoint.step:,}{loss} · reads up to "
            f"{checkpoint.model_config.context_length:,} tokens · vocabulary {checkpoint.tokenizer.vocab_size:,}"
        )
        self.setToolTip(f"The model the Generate step uses (the latest you trained or loaded).\n{checkpoint.path}")
