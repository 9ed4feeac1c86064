"""The Prompt step's Formats tab: how examples and the query are written out, and what separates them."""

from __future__ import annotations

import re

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

from playground.core.prompts import PromptTemplate
from playground.ui.themes import themed_style

FORMAT_LABELS = {
    "example_format": "Example",
    "cot_format": "Example, chain of thought",
    "query_format": "Query",
    "cot_query_format": "Query, chain of thought",
}
FORMAT_TIPS = {
    "example_format": "How each example is written out. Placeholders: {input}, {output}, {reasoning}. "
    "Write {{ and }} for a literal brace.",
    "cot_format": "How each example is written in chain-of-thought mode: its reasoning comes before the output. "
    "Placeholders: {input}, {output}, {reasoning}.",
    "query_format": "How the query is written. Only {input} (the output is what the model writes). Its end, "
    'such as "Output:", is the output prefix: where the model starts writing.',
    "cot_query_format": "The query in chain-of-thought mode: it ends where the reasoning should start, "
    "so the model writes its steps before the answer. Only {input}.",
}


def escape_separator(text: str) -> str:
    """A separator as one line: a line break shown as \\n, a tab as \\t."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def unescape_separator(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}.get(m.group(1), m.group(0)), text)


class FormatsEditor(QWidget):
    """The four formats and the two separators of a template; ``edited`` on any change."""

    edited = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.format_edits: dict[str, QPlainTextEdit] = {}
        form = QFormLayout()
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        for key, label in FORMAT_LABELS.items():
            edit = QPlainTextEdit()
            edit.setFont(mono)
            edit.setToolTip(FORMAT_TIPS[key])
            edit.setTabChangesFocus(True)
            edit.setFixedHeight(3 * edit.fontMetrics().lineSpacing() + 12)
            edit.textChanged.connect(self.edited)
            self.format_edits[key] = edit
            form.addRow(label, edit)
        self.instruction_separator_edit = QLineEdit()
        self.instruction_separator_edit.setToolTip(
            "Text between the instruction and what follows it. \\n is a line break, \\t a tab."
        )
        self.example_separator_edit = QLineEdit()
        self.example_separator_edit.setToolTip(
            "Text between examples, and between the last example and the query. \\n is a line break, \\t a tab."
        )
        for separator_edit in (self.instruction_separator_edit, self.example_separator_edit):
            separator_edit.setFont(mono)
            separator_edit.textChanged.connect(self.edited)
        # One row each (not side by side): with presentation mode's big type the pair was wider than the tab.
        form.addRow("After the instruction", self.instruction_separator_edit)
        form.addRow("Between examples", self.example_separator_edit)
        note = QLabel(
            "Placeholders: {input}, {output}, {reasoning} (a query only {input}). Write {{ and }} for a literal brace."
        )
        themed_style(note, "color: {muted};")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addStretch(1)

    def values(self) -> dict[str, str]:
        """The template fields this tab edits, by their names in `PromptTemplate`."""
        fields = {key: edit.toPlainText() for key, edit in self.format_edits.items()}
        fields["instruction_separator"] = unescape_separator(self.instruction_separator_edit.text())
        fields["example_separator"] = unescape_separator(self.example_separator_edit.text())
        return fields

    def show_template(self, t: PromptTemplate) -> None:
        for key, edit in self.format_edits.items():
            edit.setPlainText(getattr(t, key))
        self.instruction_separator_edit.setText(escape_separator(t.instruction_separator))
        self.example_separator_edit.setText(escape_separator(t.example_separator))
