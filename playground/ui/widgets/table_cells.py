"""The items of a table whose cells are all filled when it is made.

`QTableWidget.item()` answers None for an empty cell. These tables have no
empty cells, so a missing item is a bug: these helpers say so at once (and
tell the type checker the item is there).
"""

from PySide6.QtWidgets import QTableWidget, QTableWidgetItem


def cell(table: QTableWidget, row: int, column: int) -> QTableWidgetItem:
    """The item at `row`, `column`, which the table's maker put there."""
    item = table.item(row, column)
    assert item is not None, f"no item at row {row}, column {column}"
    return item


def header_cell(table: QTableWidget, column: int) -> QTableWidgetItem:
    """The header item of `column` (setHorizontalHeaderLabels made one for each)."""
    item = table.horizontalHeaderItem(column)
    assert item is not None, f"no header item for column {column}"
    return item
