"""The head summary: one sortable row per head with its entropy and where it looks most, and a click
on a row to choose that head."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetrics
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QVBoxLayout, QWidget

from playground.ui.themes import follow_look, qcolour, themed_style
from playground.ui.widgets.number_item import NumberItem
from playground.ui.widgets.table_cells import header_cell

HEAD_COLUMNS = ["Layer", "Head", "Entropy\n(bits)", "Token\nbefore", "First\ntoken", "Itself"]  # short: six fit 330 px
HEAD_TIPS = [
    "The layer, counted from 0 (the first reads the token embeddings).",
    "The head within its layer, counted from 0.",
    "Entropy in bits, averaged over the tokens: 0 means each token looks at exactly one token; higher means "
    "its attention is spread over many. A head that spreads evenly over q tokens has log₂ q bits.",
    "The average weight a token puts on the token just before it. Near 1: a previous-token head, which "
    "tells later layers what came before.",
    "The average weight on the very first token ([CLS] for an encoder). High: an attention sink — a head with nothing useful to "
    "look at parks its attention there.",
    "The average weight a token puts on itself.",
]


NO_MEANING = (
    "No meaning for cross-attention: the output tokens read another text (the input), so there is no "
    "token just before a query, nor the query itself, among its keys."
)


def _shown(value: float) -> tuple[float, str]:
    """A statistic's sort value and text: "—" (sorted first) where it has no meaning (NaN, cross-attention)."""
    if math.isnan(value):
        return -1.0, "—"
    return value, f"{value:.2f}"


def weight_shade(value: float) -> QBrush:
    """A cell background as light as the heatmap's low end, stronger for bigger weights."""
    v = max(0.0, min(1.0, value))
    low, high = ((c.red(), c.green(), c.blue()) for c in (qcolour("heat_1"), qcolour("weight_high")))
    return QBrush(QColor(*(int(a + v * (b - a)) for a, b in zip(low, high))))


class HeadSummary(QWidget):
    """A title, a hint and the table of every head's habits (HeadStats)."""

    head_chosen = Signal(int, int)  # layer, head: the person clicked its row

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._filling = False
        self.table = table = QTableWidget(0, len(HEAD_COLUMNS))
        table.setHorizontalHeaderLabels(HEAD_COLUMNS)
        for column, tip in enumerate(HEAD_TIPS):
            header_cell(table, column).setToolTip(tip)
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        table.setSortingEnabled(True)
        header = table.horizontalHeader()
        # Layer and head as wide as their titles and sort arrow, the four measures sharing what is left;
        # no column narrower than its title's longest line (big type: the view then scrolls sideways).
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for column in (0, 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
        self._fit_titles()
        follow_look(self, self._fit_titles)
        table.itemSelectionChanged.connect(self._on_selection)
        table.setToolTip("One row per head. Click a column's title to sort by it; click a row to see that head.")
        hint = QLabel(
            "Each head's habits, averaged over the tokens. <i>Entropy</i>: how spread out its attention is "
            "(0 bits = one token). The other three: the weight a token puts on the token just before it, on the "
            "first token, on itself. Sort to find previous-token heads and sinks; click a row to see the head."
        )
        hint.setWordWrap(True)
        themed_style(hint, "color: {muted}; font-size: 9pt;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.addWidget(QLabel("<b>Head summary</b>"))
        layout.addWidget(hint)
        layout.addWidget(table, 1)
        self.setMinimumWidth(340)

    def _fit_titles(self) -> None:
        header = self.table.horizontalHeader()
        metrics = QFontMetrics(header.font())
        arrow = metrics.height()  # room for the sort arrow beside the title
        for column in (0, 1):
            self.table.setColumnWidth(column, metrics.horizontalAdvance(HEAD_COLUMNS[column]) + arrow + 4)
        widest = max(metrics.horizontalAdvance(line) for title in HEAD_COLUMNS[2:] for line in title.split("\n"))
        header.setMinimumSectionSize(widest + 6)

    def fill(self, stats: list, same_heads: bool, layer: int, head: int) -> None:
        """Show `stats`; with `same_heads` (the same model's heads) rows stay where sorting put them."""
        table = self.table
        self._filling = True
        sort_column = table.horizontalHeader().sortIndicatorSection()
        sort_order = table.horizontalHeader().sortIndicatorOrder()
        table.setSortingEnabled(False)
        try:
            if not same_heads or table.rowCount() != len(stats):
                table.setRowCount(0)
                table.setRowCount(len(stats))
            # Find each head's row by its layer and head.
            rows = {}
            for r in range(table.rowCount()):
                li, hi = table.item(r, 0), table.item(r, 1)
                if isinstance(li, NumberItem) and isinstance(hi, NumberItem):
                    rows[(int(li.value), int(hi.value))] = r
            free = iter([r for r in range(table.rowCount()) if r not in rows.values()])
            for s in stats:
                known = rows.get((s.layer, s.head))
                r = known if known is not None else next(free)
                values = [
                    (s.layer, str(s.layer)),
                    (s.head, str(s.head)),
                    _shown(s.entropy),
                    _shown(s.previous_token),
                    _shown(s.first_token),
                    _shown(s.self_token),
                ]
                for c, (value, text) in enumerate(values):
                    item = table.item(r, c)
                    if not isinstance(item, NumberItem):
                        item = NumberItem(value, text)
                        table.setItem(r, c, item)
                    else:
                        item.value = value
                        item.setText(text)
                    if c >= 3 and value >= 0:
                        item.setBackground(weight_shade(value))
                        item.setForeground(qcolour("on_pastel"))  # dark on the light shades, whatever the theme
                        item.setToolTip("")
                    elif c >= 3:  # no meaning here: no shade, and the tooltip says why
                        item.setData(Qt.ItemDataRole.BackgroundRole, None)
                        item.setData(Qt.ItemDataRole.ForegroundRole, None)
                        item.setToolTip(NO_MEANING)
        finally:
            table.setSortingEnabled(True)
            table.sortItems(sort_column, sort_order)
            self._filling = False
        self.select(layer, head)

    def clear(self) -> None:
        self.table.setRowCount(0)

    def select(self, layer: int, head: int) -> None:
        """Highlight the row of `layer` and `head` (without telling anyone: the choice came from elsewhere)."""
        table = self.table
        for r in range(table.rowCount()):
            li, hi = table.item(r, 0), table.item(r, 1)
            if (
                isinstance(li, NumberItem)
                and isinstance(hi, NumberItem)
                and (int(li.value), int(hi.value)) == (layer, head)
            ):
                if table.currentRow() != r or not table.selectedItems():
                    self._filling = True
                    table.selectRow(r)
                    self._filling = False
                return

    def _on_selection(self) -> None:
        if self._filling:
            return
        items = self.table.selectedItems()
        if not items:
            return
        r = items[0].row()
        layer, head = self.table.item(r, 0), self.table.item(r, 1)
        assert isinstance(layer, NumberItem) and isinstance(head, NumberItem)  # fill() made every row's items
        self.head_chosen.emit(int(layer.value), int(head.value))
