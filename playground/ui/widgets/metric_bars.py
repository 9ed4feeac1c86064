"""A vertical bar chart of one number per item (bits per byte per checkpoint, say), made once and
updated in place, with each bar's value and a second line of text written above it.

Imports pyqtgraph at the top: import this module only once a chart is wanted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pyqtgraph as pg

from playground.ui.themes import colour, follow_look, plot_colours, render

BAR_COLOUR, HIGHLIGHT_COLOUR = "cat_1", "cat_3"  # colour roles
MAX_TICK_CHARS = 22
TEXT_WIDTH = 130  # pixels: the text above a bar


@dataclass
class Bar:
    """One bar: its label under the axis, its height, the extra line above it, and whether it stands out."""

    label: str
    value: float
    note: str = ""
    highlight: bool = False


def _elide(text: str, limit: int = MAX_TICK_CHARS) -> str:
    """Cut in the middle: a run's name starts with its date and ends with what it is."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


class MetricBars(pg.PlotWidget):
    """`set_bars` replaces the bars; the plot, the bar item and the labels are reused."""

    def __init__(self, y_label: str, value_format: str = "{:.2f}", parent=None) -> None:
        background, self.foreground = plot_colours()  # this plot's colours, not a change to every plot's
        super().__init__(parent=parent, background=background)
        self.setAntialiasing(True)
        self.value_format = value_format
        self.bars: list[Bar] = []
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.showGrid(x=False, y=True, alpha=0.25)
        self.setLabel("left", y_label)
        self.getAxis("bottom").setStyle(tickLength=0)
        self.item = pg.BarGraphItem(x=[], height=[], width=0.6, brush=colour(BAR_COLOUR), pen=None)
        self.addItem(self.item)
        self.texts: list[pg.TextItem] = []
        self.placeholder = pg.TextItem("", color=colour("plot_muted"), anchor=(0.5, 0.5))
        self.addItem(self.placeholder)
        self._placeholder = ""
        self.set_bars([])
        follow_look(self, self._follow_look)

    def _follow_look(self) -> None:
        """The texts above the bars are drawn in the plot's colours: take the new look's."""
        background, self.foreground = plot_colours()
        self.setBackground(background)
        self.placeholder.setColor(colour("plot_muted"))
        for text in self.texts:
            text.setColor(self.foreground)
        self.set_bars(self.bars, self._placeholder)

    def set_bars(self, bars: list[Bar], placeholder: str = "") -> None:
        self.bars = list(bars)
        self._placeholder = placeholder
        n = len(self.bars)
        xs = list(range(n))
        heights = [b.value for b in self.bars]
        brushes = [pg.mkBrush(colour(HIGHLIGHT_COLOUR if b.highlight else BAR_COLOUR)) for b in self.bars]
        # One shared pen: pyqtgraph 0.14 fails on an empty list of pens.
        self.item.setOpts(x=xs, height=heights, width=0.6, brushes=brushes, pen=None)
        while len(self.texts) < n:
            text = pg.TextItem(anchor=(0.5, 1.0), color=self.foreground)
            self.addItem(text)
            self.texts.append(text)
        top = max(heights, default=1.0) or 1.0
        for i, text in enumerate(self.texts):
            if i < n:
                bar = self.bars[i]
                value = self.value_format.format(bar.value)
                note = render("<br><span style='color:{plot_muted}'>{note}</span>", note=bar.note) if bar.note else ""
                text.setHtml(f"<div align='center'><b>{value}</b>{note}</div>")
                text.setTextWidth(TEXT_WIDTH)  # a set width lets the lines centre on the bar
                text.setPos(i, bar.value)
                text.show()
            else:
                text.hide()
        self.getAxis("bottom").setTicks([[(i, _elide(b.label)) for i, b in enumerate(self.bars)], []])
        self.setXRange(-0.6, max(n, 1) - 0.4, padding=0)
        self.setYRange(0, top * 1.3, padding=0)
        self.placeholder.setText("" if n else placeholder)
        self.placeholder.setPos((max(n, 1) - 1) / 2, top * 0.65)
        self.setToolTip(
            "\n".join(
                f"{b.label}: {self.value_format.format(b.value)}" + (f" ({b.note})" if b.note else "")
                for b in self.bars
            )
        )

    def values(self) -> list[float]:
        """The heights on show, left to right."""
        return [b.value for b in self.bars]

    def labels(self) -> list[str]:
        return [b.label for b in self.bars]

    def highlighted(self) -> Optional[int]:
        return next((i for i, b in enumerate(self.bars) if b.highlight), None)
