"""Fill the mask's guesses: for each [MASK] of the text, its best candidates as bars, to click.

`MaskChart` is one mask's chart (the candidate chart's `BarRows`, one series: the
model's probability) and says which row was clicked; `MaskCandidatesView` lays out
one chart per mask, two to a row, and passes a click on as `chosen(mask index,
Candidate)`. The guesses are core's `FillMaskResult` (`core/fill_mask.py`).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from playground.ui.themes import themed_style, themed_text
from playground.ui.widgets.candidate_chart import BarRow, BarRows
from playground.ui.widgets.generated_text import _escape, percent, visible_token


def candidate_label(candidate) -> str:
    """A guess as a row label: its text, "…ing" when it continues the word before it."""
    text = visible_token(candidate.text)
    return "…" + text if candidate.glued else text


class MaskChart(BarRows):
    """One mask's candidates as bars, most likely first; a click on a row emits `clicked(row)`."""

    clicked = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(["series_blue"], bar_height=10, gap=8, parent=parent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click a candidate to put it in place of this [MASK].")

    def row_at(self, y: float) -> Optional[int]:
        """The row drawn at height `y` (None: none)."""
        row = int((y - 2) // self.row_height())
        return row if 0 <= row < len(self.rows) else None

    def row_centre(self, row: int) -> int:
        """The height of the middle of `row` (for a test's click)."""
        return int(2 + row * self.row_height() + self.row_height() / 2)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        row = self.row_at(event.position().y())
        if row is not None and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(row)
            return
        super().mousePressEvent(event)


class MaskCard(QWidget):
    """A title ("[MASK] 2") and the chart of that mask's candidates."""

    def __init__(self, slot, parent=None) -> None:
        super().__init__(parent)
        self.slot = slot
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        best = slot.candidates[0] if slot.candidates else None
        themed_text(
            self.title,
            "<b>[MASK] {number}</b> <span style='color:{muted}'>best guess</span> "
            "<code style='background:{chip_bg}; color:{chip_fg}'>&nbsp;{best}&nbsp;</code> "
            "<span style='color:{muted}'>{prob}</span>",
            number=str(slot.index + 1),
            best=_escape(candidate_label(best)) if best else "",
            prob=percent(best.probability) if best else "",
        )
        self.chart = MaskChart()
        self.chart.set_rows([BarRow(candidate_label(c), [c.probability]) for c in slot.candidates])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.chart)


class MaskCandidatesView(QWidget):
    """One `MaskCard` per mask of a `FillMaskResult`; `chosen(mask index, Candidate)` on a click."""

    chosen = Signal(int, object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.result = None
        self.cards: list[MaskCard] = []
        self.legend = QLabel(
            "Bars: the probability the model gives each token at that place, reading the whole text "
            "(both sides of the gap, the other masks still hidden). Click one to put it in."
        )
        self.legend.setWordWrap(True)
        themed_style(self.legend, "color: {muted};")
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(12)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.legend)
        layout.addLayout(self.grid)
        layout.addStretch(1)
        self.show_result(None)

    def show_result(self, result) -> None:
        """Draw a chart per mask of `result` (None: nothing)."""
        for card in self.cards:
            self.grid.removeWidget(card)
            card.deleteLater()
        self.result = result
        self.cards = []
        slots = result.slots if result is not None else ()
        columns = 2 if len(slots) > 1 else 1
        for n, slot in enumerate(slots):
            card = MaskCard(slot)
            card.chart.clicked.connect(lambda row, slot=slot: self.choose(slot.index, row))
            self.grid.addWidget(card, n // columns, n % columns)
            self.cards.append(card)
        self.legend.setVisible(bool(slots))

    def choose(self, index: int, row: int) -> None:
        """Put candidate `row` of mask `index` in (what a click on its bar does)."""
        if self.result is None:
            return
        slot = self.result.slots[index]
        if 0 <= row < len(slot.candidates):
            self.chosen.emit(index, slot.candidates[row])

    def labels(self, index: int) -> list[str]:
        """The row labels of mask `index`'s chart, best first."""
        return self.cards[index].chart.labels()
