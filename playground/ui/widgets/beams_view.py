"""The Generate step's Beams tab: beam search's beams in a table, live while it searches.

Beam search reports every step (a small model makes hundreds a second); the
table shows the latest at most every `GUI_INTERVAL_S`, the rate the window
draws anything, and the final beams at once.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core.progress import GUI_INTERVAL_S
from playground.ui.themes import themed_style

HEADERS = [
    ("#", "Rank: best score first."),
    ("Continuation", "What the beam adds after the prompt (↵ is a line break)."),
    ("log-prob", "Sum of the log-probabilities of its tokens: 0 would be certain, lower is less likely."),
    (
        "score",
        "log-prob ÷ length^length penalty: what finished beams are ranked by (beams still "
        "searching are ranked by their log-prob).",
    ),
    (
        "finished",
        "Whether the beam ended with the end-of-text token (else it hit the length "
        "limit, was cut by Stop, or is still being searched).",
    ),
]


class BeamsView(QWidget):
    """A sentence on how beams are ranked, and `table`: one row per beam."""

    live_drawn = Signal(int, int)  # steps so far, live beams: the table now shows them

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        about = QLabel(
            "Beam search keeps the most likely continuations at every step and ranks them by "
            "<b>score</b> = log-probability ÷ length<sup>length penalty</sup>. A log-probability is "
            "the sum of the log of each token's probability: closer to 0 is likelier. "
            "Choose the strategy <i>Beam search</i> on the left and press Generate."
        )
        about.setWordWrap(True)
        themed_style(about, "color: {muted};")
        self.table = QTableWidget(0, len(HEADERS))
        for c, (name, tip) in enumerate(HEADERS):
            item = QTableWidgetItem(name)
            item.setToolTip(tip)
            self.table.setHorizontalHeaderItem(c, item)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for c in (2, 3, 4):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self._mono = QFont("DejaVu Sans Mono")
        self._mono.setStyleHint(QFont.StyleHint.Monospace)
        self._mono.setPointSize(10)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 4)
        layout.addWidget(about)
        layout.addWidget(self.table, 1)

        self.latest = None  # the last BeamsUpdate of the search under way
        self._drawn = None
        self._redraw = QTimer(self, singleShot=True, interval=max(1, round(GUI_INTERVAL_S * 1000)))
        self._redraw.timeout.connect(self._draw_latest)

    def set_output_only(self, output_only: bool) -> None:
        """Name the beams' text for an encoder-decoder (its output) or a decoder (what continues the prompt)."""
        item = self.table.horizontalHeaderItem(1)
        assert item is not None  # set in __init__
        item.setText("Output" if output_only else HEADERS[1][0])
        item.setToolTip(
            "What the beam's decoder writes for the input (↵ is a line break)." if output_only else HEADERS[1][1]
        )

    def clear(self) -> None:
        self._redraw.stop()
        self.latest = self._drawn = None
        self.table.setRowCount(0)

    def show_update(self, update) -> None:
        """A step of the search (a `BeamsUpdate`): drawn with the next redraw."""
        self.latest = update
        if not self._redraw.isActive():
            self._redraw.start()

    def show_result(self, result) -> None:
        """The search's `BeamResult`: drawn now, marking how each beam ended."""
        self._redraw.stop()
        self.latest = None
        self._fill(result.beams, live=False, stopped=result.stopped)

    def result_so_far(self):
        """What the search had when it was stopped (a `BeamResult`), or None before its first step."""
        return None if self.latest is None else self.latest.if_stopped

    def _draw_latest(self) -> None:
        update = self.latest
        if update is None or update is self._drawn:
            return
        self._drawn = update
        self._fill(update.live, live=True)
        self.live_drawn.emit(update.steps, len(update.live))

    def _fill(self, beams, live: bool, stopped: bool = False) -> None:
        table = self.table
        table.setRowCount(len(beams))
        for r, beam in enumerate(beams):
            text = beam.text.replace("\n", "↵") if beam.text else "(nothing yet)"
            if live:
                ended = "searching"
            else:
                ended = "✓ end of text" if beam.finished else "stopped" if stopped else "length limit"
            values = [str(r + 1), text, f"{beam.logprob:.2f}", f"{beam.score:.3f}", ended]
            for c, value in enumerate(values):
                item = table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    if c == 1:
                        item.setFont(self._mono)
                    if c in (0, 2, 3):
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    table.setItem(r, c, item)
                item.setText(value)
                if c == 1:
                    item.setToolTip(f"{len(beam.ids)} tokens: {beam.text}")
        table.resizeRowsToContents()
