"""The Generate step's prompt: the text box, how many tokens it is against the model's context,
and a notice when the model cannot read all of it.

For an encoder-decoder (T5) the box is its *input*: the encoder reads it once, whole, with </s>
after it, and the decoder writes the output apart; a long input loses its end, not its beginning.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from playground.ui.themes import themed_style, themed_text

COUNT_DELAY_MS = 250  # count once typing pauses
COUNT_LIMIT_CHARS = 200_000  # counting a longer text would hold up typing; the model reads only part anyway
CUT_SHOWN_CHARS = 80  # the notice quotes at most this much of what an encoder-decoder does not read

PROMPT_TIP = "The prompt: the model continues this text. Ctrl+Enter generates."
PROMPT_PLACEHOLDER = "Type the start of a text for the model to continue, or send a prompt from the Prompt step."
INPUT_TIP = (
    "The input: the encoder reads it once, whole (every token sees all the others), with </s> after it. "
    "The decoder then writes the output below, token by token, looking back at the input through "
    "cross-attention. Ctrl+Enter generates."
)
INPUT_PLACEHOLDER = (
    "Type the input for the model to answer (as in its training: a task's input, or a text with "
    "<extra_id_0> where a span is missing), or send a prompt from the Prompt step."
)


def reads_input(checkpoint) -> bool:
    """True when `checkpoint`'s model is an encoder-decoder: it reads an input and writes an output apart."""
    return checkpoint is not None and bool(getattr(checkpoint.model_config, "is_encoder_decoder", False))


class PromptBox(QWidget):
    """`edit` (the prompt), `count` (its length in tokens) and `notice` (what the model does not read)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.checkpoint = None  # whose tokenizer counts, and whose context the count is against
        self.edit = QPlainTextEdit()
        self.edit.setPlaceholderText(PROMPT_PLACEHOLDER)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSize(10)
        self.edit.setFont(mono)
        self.edit.setFixedHeight(66)
        self.edit.setToolTip(PROMPT_TIP)
        self.edit.textChanged.connect(self._edited)
        self.count = QLabel()
        self.count.setTextFormat(Qt.TextFormat.RichText)
        themed_style(self.count, "color: {muted};")
        self.count.setToolTip("How many tokens the prompt is, against how many the model can read at once.")
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)  # it quotes the person's text, and names </s>
        themed_style(
            self.notice,
            "background: {amber_bg}; color: {amber_fg}; padding: 4px 6px; "
            "border: 1px solid {amber_border}; border-radius: 4px;",
        )
        self.notice.hide()
        self._count_timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self.recount)
        top = QHBoxLayout()
        self.title = QLabel("<b>Prompt</b>")
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.edit)
        layout.addWidget(self.notice)

    def text(self) -> str:
        return self.edit.toPlainText()

    @property
    def reads_input(self) -> bool:
        """True while the model is an encoder-decoder: the box is its input."""
        return reads_input(self.checkpoint)

    def set_checkpoint(self, checkpoint) -> None:
        self.checkpoint = checkpoint
        is_input = self.reads_input
        self.title.setText("<b>Input</b>" if is_input else "<b>Prompt</b>")
        self.title.setToolTip(INPUT_TIP if is_input else PROMPT_TIP)
        self.edit.setToolTip(INPUT_TIP if is_input else PROMPT_TIP)
        self.edit.setPlaceholderText(INPUT_PLACEHOLDER if is_input else PROMPT_PLACEHOLDER)
        self.recount()

    def show_notice(self, prompt) -> None:
        """The notice of a `PromptPrepared` (a cut prompt, an empty one), or none; for a cut input
        (an `InputPrepared`) it quotes the end the encoder does not read."""
        notice = prompt.prepared.notice
        cut = prompt.cut if self.reads_input else ""
        if cut:
            half = CUT_SHOWN_CHARS // 2  # its start and its end, so both ends of the cut are seen
            shown = cut if len(cut) <= CUT_SHOWN_CHARS else cut[:half].rstrip() + " … " + cut[-half:].lstrip()
            notice += f" Not read: “{shown}”"
        self.notice.setText("⚠ " + notice if notice else "")
        self.notice.setVisible(bool(notice))

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
        if self.reads_input:
            self._count_input(text, checkpoint.tokenizer, context)
            return
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

    def _count_input(self, text: str, tokenizer, context: int) -> None:
        """An encoder-decoder's input: its tokens and </s> against the context; the end is what a cut drops."""
        if len(text) > COUNT_LIMIT_CHARS:
            themed_text(
                self.count,
                "<span style='color:{warning}'><b>{n} characters</b>: the encoder reads the first {context} tokens"
                "</span>",
                n=f"{len(text):,}",
                context=f"{context:,}",
            )
            return
        n = (len(tokenizer.encode_ids([text])[0]) if text else 0) + 1  # and </s>
        if n > context:
            themed_text(
                self.count,
                "<span style='color:{warning}'><b>{n} tokens</b> with &lt;/s&gt;: the encoder reads the first "
                "{context}</span>",
                n=f"{n:,}",
                context=f"{context:,}",
            )
        else:
            self.count.setText(f"{n:,} of {context:,} tokens, with &lt;/s&gt;")
