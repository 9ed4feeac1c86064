"""The same text through several tokenizers side by side, and a chart of
characters per token against vocab size."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground.core.tokenization import LoadedTokenizer
from playground.core.tokenizer_sweep import SWEEP_SAMPLE_CHARS, SWEEP_SIZES
from playground.ui.themes import colour, plot_colours, themed_text
from playground.ui.widgets.token_view import TokenView


class SidewaysScroll(QScrollArea):
    """A scroll area that scrolls only sideways, so it asks for its content's whole minimum height
    (plus its scroll bar): squeezed below that, the columns' bottoms would be cut off."""

    def setWidget(self, widget: QWidget) -> None:  # noqa: N802
        super().setWidget(widget)
        widget.installEventFilter(self)  # its height follows its columns: ask the layout again

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if watched is self.widget() and event.type() in (QEvent.Type.LayoutRequest, QEvent.Type.Resize):
            self.updateGeometry()
        return super().eventFilter(watched, event)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        hint = super().minimumSizeHint()
        inner = self.widget()
        if inner is None:
            return hint
        height = inner.minimumSizeHint().height()
        if inner.hasHeightForWidth():  # wrapped column titles: their height at the columns' width
            height = max(height, inner.heightForWidth(max(inner.width(), self.viewport().width())))
        height += self.horizontalScrollBar().sizeHint().height()
        return QSize(hint.width(), max(hint.height(), height + 2 * self.frameWidth()))


COLUMN_MIN_WIDTH = 170  # a tokenizer's column stays readable; the rest scroll


class TokenColumn(QFrame):
    """One tokenizer's view of the text, with its counts."""

    def __init__(self, tok: LoadedTokenizer) -> None:
        super().__init__()
        self.tok = tok
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.view = TokenView()
        self.setMinimumWidth(COLUMN_MIN_WIDTH)  # more columns than fit scroll sideways in their own area
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)

    def show_text(self, text: str, show_whitespace: bool) -> int:
        pieces = self.tok.encode(text)
        self.view.show_whitespace = show_whitespace
        self.view.set_tokens(text, pieces)
        per = len(text) / len(pieces) if pieces else 0.0
        themed_text(
            self.title,
            "<b>{name}</b><br><span style='color:{muted}'>{kind}, vocab {vocab}</span>"
            "<br><b>{count}</b> tokens · {per} chars/token",
            name=self.tok.name,
            kind=self.tok.kind_label,
            vocab=f"{self.tok.vocab_size:,}",
            count=f"{len(pieces):,}",
            per=f"{per:.2f}",
        )
        return len(pieces)


class TokenizerCompare(QWidget):
    """Columns of token views plus the vocab-size sweep chart."""

    sweep_requested = Signal()
    sweep_cancel_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.tokenizers: list[LoadedTokenizer] = []
        self.sizes: tuple[int, ...] = SWEEP_SIZES
        self.text = ""
        self.show_whitespace = False

        self.chooser = QListWidget()
        self.chooser.setToolTip("Tick the tokenizers to compare. Train or open more on the left.")
        self.chooser.setMinimumWidth(150)
        self.chooser.setMaximumWidth(200)
        self.chooser.setWordWrap(True)
        self.chooser.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.chooser.itemChanged.connect(lambda _: self.refresh())
        self.columns_box = QWidget()
        self.columns = QHBoxLayout(self.columns_box)
        self.columns.setContentsMargins(0, 0, 0, 0)
        self.empty = QLabel("Train or open two or more tokenizers to compare them here.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.columns.addWidget(self.empty)
        self._columns: dict[int, TokenColumn] = {}

        top = QWidget()
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        pick = QVBoxLayout()
        pick.addWidget(QLabel("<b>Compare</b>"))
        pick.addWidget(self.chooser, 1)
        top_layout.addLayout(pick)
        # The columns scroll sideways inside their own area: six tokenizers never widen the window.
        self.columns_scroll = SidewaysScroll()
        self.columns_scroll.setWidget(self.columns_box)
        self.columns_scroll.setWidgetResizable(True)
        self.columns_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.columns_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # a rare squeeze
        top_layout.addWidget(self.columns_scroll, 1)

        # The sweep chart (pyqtgraph loads on first show: it takes a second to import).
        self.sweep_button = QPushButton("Measure chars/token vs vocab size")
        self.sweep_button.setMinimumWidth(0)
        self.sweep_button.setToolTip(
            f"Trains byte-level BPE at vocab sizes {', '.join(f'{s:,}' for s in SWEEP_SIZES)} on the first "
            f"{SWEEP_SAMPLE_CHARS // 1_000_000} MB of the corpus and measures characters per token on it."
        )
        self.sweep_button.clicked.connect(self.sweep_requested)
        self.sweep_cancel = QPushButton("Cancel")
        self.sweep_cancel.setEnabled(False)
        self.sweep_cancel.clicked.connect(self.sweep_cancel_requested)
        self.sweep_progress = QProgressBar()
        self.sweep_progress.setTextVisible(True)
        self.sweep_progress.setFormat("")
        self.sweep_status = QLabel(
            "A bigger vocabulary packs more characters into each token — with diminishing returns."
        )
        self.sweep_status.setWordWrap(True)
        self.plot_host = QVBoxLayout()
        # pyqtgraph items, made when first shown (pyqtgraph has no type information)
        self.plot: Any = None
        self.curve: Any = None
        self.marks: Any = None
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.sweep_button)
        row.addWidget(self.sweep_cancel)
        row.addWidget(self.sweep_progress, 1)
        bl.addLayout(row)
        bl.addWidget(self.sweep_status)
        bl.addLayout(self.plot_host, 1)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setSizes([400, 300])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.points: list[tuple[int, float]] = []

    # ------------------------------------------------------------------ tokenizers and text

    def set_tokenizers(self, tokenizers: list[LoadedTokenizer]) -> None:
        ticked = {
            self.chooser.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.chooser.count())
            if self.chooser.item(i).checkState() == Qt.CheckState.Checked
        }
        known = {self.chooser.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.chooser.count())}
        self.tokenizers = list(tokenizers)
        self.chooser.blockSignals(True)
        self.chooser.clear()
        for tok in tokenizers:
            item = QListWidgetItem(tok.name)
            item.setData(Qt.ItemDataRole.UserRole, id(tok))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            new = id(tok) not in known
            item.setCheckState(Qt.CheckState.Checked if (id(tok) in ticked or new) else Qt.CheckState.Unchecked)
            self.chooser.addItem(item)
        self.chooser.blockSignals(False)
        self.refresh()

    def set_text(self, text: str, show_whitespace: bool) -> None:
        self.text, self.show_whitespace = text, show_whitespace
        if self.isVisible():
            self.refresh()

    def chosen(self) -> list[LoadedTokenizer]:
        ticked = {
            self.chooser.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.chooser.count())
            if self.chooser.item(i).checkState() == Qt.CheckState.Checked
        }
        return [t for t in self.tokenizers if id(t) in ticked]

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.refresh()
        if self.plot is None:
            QTimer.singleShot(0, self, self._make_plot)

    def refresh(self) -> None:
        """Show one column per ticked tokenizer, reusing the columns that stay."""
        chosen = self.chosen()
        keep = {id(t) for t in chosen}
        for key in [k for k in self._columns if k not in keep]:
            gone = self._columns.pop(key)
            self.columns.removeWidget(gone)
            gone.hide()
            gone.setParent(None)
            gone.deleteLater()
        self.empty.setVisible(not chosen)
        for position, tok in enumerate(chosen):
            column = self._columns.get(id(tok))
            if column is None:
                column = self._columns[id(tok)] = TokenColumn(tok)
            self.columns.insertWidget(position + 1, column, 1)
            column.show_text(self.text, self.show_whitespace)

    def column_widgets(self) -> list[TokenColumn]:
        return [self._columns[id(t)] for t in self.chosen() if id(t) in self._columns]

    # ------------------------------------------------------------------ the sweep chart

    def _make_plot(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg

        background, foreground = plot_colours()
        pg.setConfigOptions(antialias=True, background=background, foreground=foreground)
        self.plot = pg.PlotWidget()
        self.plot.setLogMode(x=True, y=False)
        # Plain numbers on the log axis (pyqtgraph would print 3·10²).
        self.plot.getAxis("bottom").setTicks([[(math.log10(s), f"{s:,}") for s in self.sizes], []])
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "vocab size (log scale)")
        self.plot.setLabel("left", "characters per token")
        self.plot.setTitle("Byte-level BPE on this corpus")
        self.curve = self.plot.plot(
            [],
            [],
            pen=pg.mkPen(colour("series_blue"), width=2),
            symbol="o",
            symbolBrush=colour("series_blue"),
            symbolSize=8,
        )
        self.plot_host.addWidget(self.plot)
        if self.points:
            self._draw()

    def sweep_started(self) -> None:
        self.points = []
        self._draw()
        self.sweep_button.setEnabled(False)
        self.sweep_cancel.setEnabled(True)
        self.sweep_progress.setRange(0, 1000)
        self.sweep_progress.setValue(0)

    def sweep_progress_update(self, fraction: float | None, message: str) -> None:
        if fraction is not None:
            self.sweep_progress.setValue(int(fraction * 1000))
        self.sweep_progress.setFormat(message)

    def add_point(self, size: int, cpt: float) -> None:
        self.points.append((size, cpt))
        self._draw()
        self.sweep_status.setText("  ·  ".join(f"{s:,}: {c:.2f}" for s, c in self.points))

    def sweep_finished(self, note: str = "") -> None:
        self.sweep_button.setEnabled(True)
        self.sweep_cancel.setEnabled(False)
        self.sweep_progress.setValue(self.sweep_progress.maximum())
        self.sweep_progress.setFormat(note)
        if note:
            self.sweep_status.setText(
                ("  ·  ".join(f"{s:,}: {c:.2f}" for s, c in self.points) + "\n" if self.points else "") + note
            )

    def _draw(self) -> None:
        if self.curve is None:
            return
        xs = [s for s, _ in self.points]
        ys = [c for _, c in self.points]
        self.curve.setData(xs, ys)
