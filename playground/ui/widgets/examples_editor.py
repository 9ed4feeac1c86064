"""The Prompt step's worked examples: a table to tick, edit and reorder them, and its buttons."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core.prompts import Example, PromptTemplate, RenderedPrompt
from playground.ui.themes import follow_look, qcolour
from playground.ui.widgets.prompt_preview import EXAMPLE_BGS
from playground.ui.widgets.table_cells import cell, header_cell

COL_ON, COL_INPUT, COL_OUTPUT, COL_REASONING = range(4)
COLUMN_TIPS = [
    "Ticked examples may be shown; unticked ones never are.",
    "What the example asks: it takes the place of {input}.",
    "The answer the model should learn to give: {output}.",
    "The steps from input to output, shown only in chain of thought: {reasoning}.",
]


def _text(item: Optional[QTableWidgetItem]) -> str:
    return item.text() if item is not None else ""


def examples_used(template: PromptTemplate, rendered: RenderedPrompt) -> str:
    """Which rows of the table the prompt shows, in words."""
    used = [i + 1 for i in rendered.examples]
    enabled = len(template.enabled_examples())
    if rendered.mode in ("zero-shot", "instruction"):
        return "No examples in this mode."
    if not used:
        return "No ticked examples: this prompt is zero-shot."
    rows = ", ".join(map(str, used[:-1])) + (" and " if len(used) > 1 else "") + str(used[-1])
    text = f"Shows example{'s' if len(used) > 1 else ''} {rows} ({len(used)} of {enabled} ticked)."
    if rendered.mode in ("few-shot", "chain-of-thought") and template.k > enabled:
        text += f" k is {template.k}, but only {enabled} are ticked."
    return text


class ExamplesEditor(QWidget):
    """The examples table with Add, Remove, Move up and Move down; ``edited`` after any change by the person."""

    edited = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._filling = False  # rows being written by the program, not edited by the person
        self._used: Optional[list[int]] = None  # the rows the prompt shows, as last marked
        follow_look(self, lambda: self._used is not None and self.mark_used_rows(self._used))
        self.table = table = QTableWidget(0, 4)
        table.setHorizontalHeaderLabels(["On", "Input", "Output", "Reasoning"])
        table.setToolTip(
            "Worked examples. Untick one to leave it out; double-click a cell to edit it. Few-shot "
            "shows the first k ticked rows; greyed rows are not in the prompt."
        )
        for column, tip in enumerate(COLUMN_TIPS):
            header_cell(table, column).setToolTip(tip)
        header = table.horizontalHeader()
        header.setSectionResizeMode(COL_ON, QHeaderView.ResizeMode.ResizeToContents)
        for column in (COL_INPUT, COL_OUTPUT, COL_REASONING):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setToolTip("The example's number, as the token count's warning names it.")
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.itemChanged.connect(self._on_item_changed)
        table.itemSelectionChanged.connect(self.update_buttons)

        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Add an empty example at the end and start typing its input (Ctrl+Shift+N).")
        self.add_button.clicked.connect(lambda: self.add_example())
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip(
            "Remove the selected example (Ctrl+Shift+Delete). Revert brings a template's examples back."
        )
        self.remove_button.clicked.connect(lambda: self.remove_example())
        self.up_button = QPushButton("Move up")
        self.up_button.setToolTip("Move the selected example earlier (Alt+Up): few-shot takes the first k.")
        self.up_button.clicked.connect(lambda: self.move_example(delta=-1))
        self.down_button = QPushButton("Move down")
        self.down_button.setToolTip("Move the selected example later (Alt+Down).")
        self.down_button.clicked.connect(lambda: self.move_example(delta=1))
        up = QShortcut(QKeySequence("Alt+Up"), table, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        up.activated.connect(lambda: self.move_example(delta=-1))
        down = QShortcut(QKeySequence("Alt+Down"), table, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        down.activated.connect(lambda: self.move_example(delta=1))
        row = QHBoxLayout()
        for b in (self.add_button, self.remove_button, self.up_button, self.down_button):
            row.addWidget(b)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(table, 1)
        layout.addLayout(row)

    # ------------------------------------------------------------------ the rows

    def examples(self) -> list[Example]:
        """The examples as the table shows them."""
        table, examples = self.table, []
        for row in range(table.rowCount()):
            input_, output, reasoning = (_text(table.item(row, c)) for c in (COL_INPUT, COL_OUTPUT, COL_REASONING))
            on = table.item(row, COL_ON)
            examples.append(Example(input_, output, reasoning, on is None or on.checkState() == Qt.CheckState.Checked))
        return examples

    def set_examples(self, examples: list[Example]) -> None:
        """Show these examples (the person edited nothing: no ``edited``)."""
        self.table.setRowCount(0)
        for example in examples:
            self._append_row(example)
        self.update_buttons()

    def _append_row(self, example: Example) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self._fill_row(row, example)
        return row

    def _fill_row(self, row: int, example: Example) -> None:
        was, self._filling = self._filling, True
        on = QTableWidgetItem()
        on.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable)
        on.setCheckState(Qt.CheckState.Checked if example.enabled else Qt.CheckState.Unchecked)
        self.table.setItem(row, COL_ON, on)
        for column, text in (
            (COL_INPUT, example.input),
            (COL_OUTPUT, example.output),
            (COL_REASONING, example.reasoning),
        ):
            self.table.setItem(row, column, QTableWidgetItem(text))
        self._filling = was

    def _row_example(self, row: int) -> Example:
        t = self.table
        return Example(
            cell(t, row, COL_INPUT).text(),
            cell(t, row, COL_OUTPUT).text(),
            cell(t, row, COL_REASONING).text(),
            cell(t, row, COL_ON).checkState() == Qt.CheckState.Checked,
        )

    def selected_row(self) -> Optional[int]:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            return rows[0].row()
        current = self.table.currentRow()
        return current if current >= 0 else None

    # ------------------------------------------------------------------ the person's edits

    def add_example(self, example: Optional[Example] = None, edit: bool = True) -> int:
        """Append an example (empty by default) and select it; returns its row."""
        row = self._append_row(example or Example("", ""))
        self.table.selectRow(row)
        if edit:
            self.table.setFocus()
            self.table.editItem(cell(self.table, row, COL_INPUT))
        self._changed()
        return row

    def remove_example(self, row: Optional[int] = None) -> None:
        row = self.selected_row() if row is None else row
        if row is None or not 0 <= row < self.table.rowCount():
            return
        self.table.removeRow(row)
        if self.table.rowCount():
            self.table.selectRow(min(row, self.table.rowCount() - 1))
        self._changed()

    def move_example(self, row: Optional[int] = None, delta: int = -1) -> None:
        row = self.selected_row() if row is None else row
        if row is None:
            return
        other = row + delta
        if not (0 <= row < self.table.rowCount() and 0 <= other < self.table.rowCount()):
            return
        a, b = self._row_example(row), self._row_example(other)
        self._fill_row(row, b)
        self._fill_row(other, a)
        self.table.selectRow(other)
        self._changed()

    def _on_item_changed(self, _item: QTableWidgetItem) -> None:
        if not self._filling:  # rows the program writes are no edit of the person's
            self._changed()

    def _changed(self) -> None:
        self.update_buttons()
        self.edited.emit()

    def update_buttons(self) -> None:
        row = self.selected_row()
        n = self.table.rowCount()
        self.remove_button.setEnabled(row is not None)
        self.up_button.setEnabled(row is not None and row > 0)
        self.down_button.setEnabled(row is not None and row < n - 1)

    # ------------------------------------------------------------------ what the prompt shows

    def mark_used_rows(self, used: list[int]) -> None:
        """Colour the rows the prompt shows like the preview's examples; grey the others."""
        self._used = list(used)
        table = self.table
        used_at = {index: n for n, index in enumerate(used)}
        was, self._filling = self._filling, True
        table.blockSignals(True)
        for row in range(table.rowCount()):
            shown = row in used_at
            for column in range(table.columnCount()):
                item = table.item(row, column)
                if item is None:
                    continue
                item.setData(Qt.ItemDataRole.ForegroundRole, None if shown else qcolour("faint"))
                if column != COL_ON:
                    item.setToolTip(item.text() if len(item.text()) > 30 else "")  # the whole of an elided cell
                if column == COL_ON:
                    item.setData(
                        Qt.ItemDataRole.BackgroundRole, qcolour(EXAMPLE_BGS[used_at[row] % 2]) if shown else None
                    )
                    item.setToolTip(
                        f"Example {row + 1}: in the prompt."
                        if shown
                        else f"Example {row + 1}: not in the prompt in this mode."
                    )
        table.blockSignals(False)
        self._filling = was
