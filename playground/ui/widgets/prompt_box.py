"""The Generate step's prompt: the text box, how many tokens it is against the model's context,
and a notice when the model cannot read all of it."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from playground.ui.themes import themed_style, themed_text

COUNT_DELAY_MS = 250  # count once typing pauses
COUNT_LIMIT_CHARS = 200_000  # counting a longer text would hold up typing; the model reads only the end anyway


class PromptBox(QWidget):
    """`edit` (the prompt), `count` (its length in tokens) and `notice` (what the model does not read)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.checkpoint = None  # whose tokenizer counts, and whose context the count is against
        self.edit = QPlainTextEdit()
        self.edit.setPlaceholderText(
            "Type the start of a text for the model to continue, or send a prompt from the Prompt step."
        )
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSize(10)
        self.edit.setFont(mono)
        self.edit.setFixedHeight(66)
        self.edit.setToolTip("The prompt: the model continues this text. Ctrl+Enter generates.")
        self.edit.textChanged.connect(self._edited)
        self.count = QLabel()
        themed_style(self.count, "color: {muted};")
        self.count.setToolTip("How many tokens the prompt is, against how many the model can read at once.")
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        themed_style(
            self.notice,
            "background: {amber_bg}; color: {amber_fg}; padding: 4px 6px; "
            "border: 1px solid {amber_border}; border-radius: 4px;",
        )
        self.notice.hide()
        self._count_timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self.recount)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Prompt</b>"))
        top.addStretch(1)
        top.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.edit)
        layout.addWidget(self.notice)

    def text(self) -> str:
        return self.edit.toPlainText()

    def set_checkpoint(self, checkpoint) -> None:
        self.checkpoint = checkpoint
        self.recount()

    def show_notice(self, prepared) -> None:
        """The notice of a `PreparedPrompt` (a cut prompt, an empty one), or none."""
        self.notice.setText("⚠ " + prepared.notice if prepared.notice else "")
        self.notice.setVisible(bool(prepared.notice))

    def _edited(self) -> None:
        self.notice.hide()
        self._count_timer.start()

    def recount(self) -> None:
        checkpoint = self.checkpoint
        if checkpoint is None:
            self.count.setText("")
            return
        text = self.edit.toPlainText()
        context = checkpoint.model_config.context_length
        if len(text) > COUNT_LIMIT_CHARS:
            themed_text(
                self.count,
                "<span style='color:{warning}'><b>{n} characters</b>: the model reads the last {context} tokens</span>",
                n=f"{len(text):,}",
                context=f"{context:,}",
            )
            return
        n = len(checkpoint.tokenizer.encode_ids([text])[0]) if text else 0
        if n > context:
            themed_text(
                self.count,
                "<span style='color:{warning}'><b>{n} tokens</b>: the model reads the last {context}</span>",
                n=f"{n:,}",
                context=f"{context:,}",
            )
        else:
            self.count.setText(f"{n:,} of {context:,} tokens")
