"""The rendered prompt as the model reads it: its parts coloured, what the context cuts struck through."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolTip,
    QVBoxLayout,
)

from playground.core.prompts import RenderedPrompt
from playground.ui.themes import qcolour, themed_style, themed_text
from playground.ui.widgets.wrapped_placeholder import WrappedPlaceholderTextEdit

# The parts' colour roles: light shades with dark text on them, the same in every look.
EXAMPLE_BGS = ("part_example_1", "part_example_2")  # alternate, so neighbouring examples stay apart
PREVIEW_END_CHARS = 2000  # a huge prompt's preview shows its first characters,
PREVIEW_TAIL_CHARS = 40_000  # ... at most this many of its end, and an ellipsis between


def preview_legend() -> QHBoxLayout:
    """A row of coloured chips naming the preview's parts."""
    legend = QHBoxLayout()
    legend.setSpacing(6)
    for text, bg, tip, extra in (
        ("Instruction", "part_instruction", "What to do, in words.", "color: {on_pastel};"),
        ("Examples", EXAMPLE_BGS[0], "Worked examples, in two shades so neighbours stay apart.", "color: {on_pastel};"),
        ("Query", "part_query", "Your input; the model writes what comes after its end.", "color: {on_pastel};"),
        (
            "Cut",
            "cut_bg",
            "Text beyond the context: the model never reads it.",
            "color: {on_pastel}; text-decoration: line-through;",  # the cut text itself is faint (WCAG
            # exempts text the model never reads); the legend naming it is read, so it is dark
        ),
    ):
        chip = QLabel(text)
        themed_style(chip, f"background: {{{bg}}}; border-radius: 3px; padding: 1px 8px; {extra}")
        chip.setToolTip(tip)
        legend.addWidget(chip)
    legend.addStretch(1)
    return legend


class PromptPreview(WrappedPlaceholderTextEdit):
    """The rendered prompt, read-only, its parts coloured; hovering tells which part is where."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMouseTracking(True)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(10)
        self.setFont(font)
        self.rendered: Optional[RenderedPrompt] = None
        self.cut_chars = 0
        self.elided: tuple[int, int] = (0, 0)  # (position in the view, characters left out there)

    def show_prompt(self, rendered: Optional[RenderedPrompt], cut_chars: int = 0) -> None:
        self.rendered, self.cut_chars = rendered, cut_chars
        self.elided = (0, 0)
        self.clear()
        if rendered is None:
            return
        cursor = QTextCursor(self.document())
        cut = QTextCharFormat()
        cut.setForeground(qcolour("cut_fg"))
        cut.setBackground(qcolour("cut_bg"))
        cut.setFontStrikeOut(True)
        # A huge prompt (a pasted book) is shown by its ends: drawing megabytes, most of which
        # the model never reads, would freeze the window.
        hidden = (PREVIEW_END_CHARS, max(cut_chars - PREVIEW_END_CHARS, len(rendered.text) - PREVIEW_TAIL_CHARS))
        if hidden[1] - hidden[0] <= PREVIEW_END_CHARS:
            hidden = (0, 0)
        n_example = 0
        for part in rendered.parts:
            fmt = QTextCharFormat()
            if part.kind != "separator":
                fmt.setForeground(qcolour("on_pastel"))  # dark on the light colours, whatever the theme
            if part.kind == "instruction":
                fmt.setBackground(qcolour("part_instruction"))
            elif part.kind == "example":
                fmt.setBackground(qcolour(EXAMPLE_BGS[n_example % 2]))
                n_example += 1
            elif part.kind == "query":
                fmt.setBackground(qcolour("part_query"))
            split = part.start + min(max(cut_chars - part.start, 0), len(part.text))
            self._insert(cursor, part, part.start, split, cut, hidden)
            self._insert(cursor, part, split, part.end, fmt, hidden)
        self.moveCursor(QTextCursor.MoveOperation.End)  # the end is what the model continues
        self.ensureCursorVisible()

    def _insert(self, cursor: QTextCursor, part, start: int, end: int, fmt, hidden: tuple[int, int]) -> None:
        """Insert the text between offsets ``start`` and ``end`` (within ``part``), leaving out ``hidden``."""
        hide_from, hide_to = hidden
        pieces = ((start, min(end, hide_from)), (max(start, hide_to), end)) if hide_from < hide_to else ((start, end),)
        for a, b in pieces:
            if a < b:
                cursor.insertText(part.text[a - part.start : b - part.start], fmt)
            if hide_from < hide_to and a == start and start <= hide_from < end:
                what = "cut" if hide_to <= self.cut_chars else "not shown"
                note = f"\n[… {hide_to - hide_from:,} more characters {what} …]\n"
                self.elided = (cursor.position(), hide_to - hide_from - len(note))
                cursor.insertText(note, fmt)

    def text_offset(self, position: int) -> int:
        """The offset in the rendered text of a position in the view (which may leave text out)."""
        at, left_out = self.elided
        return position + left_out if left_out and position >= at else position

    def viewportEvent(self, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.ToolTip and self.rendered is not None:
            offset = self.text_offset(self.cursorForPosition(event.pos()).position())
            part = self.rendered.part_at(offset)
            if part is None or part.kind == "separator":
                QToolTip.hideText()
            else:
                tip = {
                    "instruction": "<b>Instruction</b>: what to do, in words.",
                    "query": "<b>Query</b>: the input you ask about. The model writes what comes next.",
                }.get(
                    part.kind,
                    f"<b>Example {part.example + 1 if part.example is not None else ''}</b>: "
                    "a worked input and output the model can copy.",
                )
                if offset < self.cut_chars:
                    tip += "<br><i>Cut: this lies beyond the context, so the model never reads it.</i>"
                QToolTip.showText(event.globalPos(), tip, self)
            return True
        return super().viewportEvent(event)


class PreviewBox(QGroupBox):
    """The prompt the model reads, how much of the context it fills, what is cut, and the button that sends it."""

    def __init__(self, parent=None) -> None:
        super().__init__("The prompt the model reads", parent)
        self.preview = PromptPreview()
        self.preview.setToolTip("")  # the parts tell their own tooltips
        self.preview.setPlaceholderText("The prompt appears here.")
        self.usage_bar = QProgressBar()
        self.usage_bar.setTextVisible(False)
        self.usage_bar.setFixedHeight(8)
        self.usage_bar.setToolTip("How much of the context the prompt fills.")
        self.token_count_label = QLabel()
        self.token_count_label.setWordWrap(True)
        self.token_count_label.setTextFormat(Qt.TextFormat.RichText)
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        themed_style(
            self.warning_label,
            "color: {amber_fg}; background: {amber_bg}; "
            "border: 1px solid {amber_border}; border-radius: 4px; padding: 4px 6px;",
        )
        self.warning_label.setToolTip(
            "The model keeps only the last tokens it can read: the struck-through text above is lost."
        )
        self.warning_label.hide()
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        themed_style(self.problem_label, "color: {error};")
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label.hide()
        self.send_button = QPushButton("Send to Generate ▶")
        self.send_button.setToolTip("Use this prompt in the Generate step, where the model continues it (Ctrl+Enter).")
        self.send_button.setDefault(True)
        self.send_button.setMinimumHeight(32)
        self.send_button.setStyleSheet("QPushButton { font-weight: 600; padding: 4px 18px; }")
        bottom = QHBoxLayout()
        bottom.addWidget(self.token_count_label, 1)
        bottom.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.addLayout(preview_legend())
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.usage_bar)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.problem_label)
        layout.addLayout(bottom)

    def name_reader(self, encoder_input: bool) -> None:
        """Name what reads the text: a decoder's prompt, or an encoder-decoder's input."""
        self.setTitle("The input the encoder reads" if encoder_input else "The prompt the model reads")
        self.send_button.setToolTip(
            "Use this text as the input in the Generate step, where the model writes its output (Ctrl+Enter)."
            if encoder_input
            else "Use this prompt in the Generate step, where the model continues it (Ctrl+Enter)."
        )

    def show_input_count(self, prepared, context: int, model_name: str) -> None:
        """An encoder-decoder's input (a `PreparedPrompt` from `prepare_input`): its tokens and </s> against
        the context, with no room kept for the answer, and a warning when its end is cut."""
        themed_text(
            self.token_count_label,
            "{more}<b>{n}</b> tokens and &lt;/s&gt; of the <b>{context}</b> the encoder reads "
            "<span style='color:{muted}'>(the whole text is the encoder's input; the decoder writes "
            "the answer apart)</span>",
            more="" if prepared.exact else "More than ",
            n=f"{prepared.total_tokens - 1:,}",
            context=f"{context:,}",
        )
        self.token_count_label.setToolTip(
            f"The model “{model_name}” is an encoder-decoder: its encoder reads this whole text at once, at "
            f"most {context:,} tokens with the end token </s>; its decoder then writes the answer from its own "
            "start token, so no room is kept for it here. A longer input loses its end."
        )
        self.usage_bar.setRange(0, max(1, context))
        self.usage_bar.setValue(min(prepared.total_tokens, context))
        role = "cat_3" if prepared.cut_tokens else "cat_1"  # orange when it does not fit
        themed_style(self.usage_bar, f"QProgressBar::chunk {{ background: {{{role}}}; }}")
        self.usage_bar.show()
        self.warning_label.setText("⚠ " + prepared.notice)
        self.warning_label.setVisible(bool(prepared.cut_tokens))
