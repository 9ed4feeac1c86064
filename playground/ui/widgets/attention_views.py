"""The Attention Lab's views of one snapshot: one head, the layer mean, the heads of a layer, every head,
and lines; with a read-out line under them and a message in their place when there is nothing to show.

The pyqtgraph views are made the first time they are needed (importing
pyqtgraph takes a moment, and the window opens faster without it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from playground.core.token_labels import display_token
from playground.ui.themes import qcolour, themed_style

if TYPE_CHECKING:
    from playground.ui.widgets.attention_lines import AttentionLines
    from playground.ui.widgets.head_grid import HeadGrid
    from playground.ui.widgets.heatmap import AttentionHeatmap

VIEW_HEAD, VIEW_MEAN, VIEW_LAYER, VIEW_ALL, VIEW_LINES = range(5)
VIEWS = ["One head", "Layer mean", "Layer's heads", "All heads", "Lines"]  # short: they fit big type at 1280 px
VIEW_TIPS = [
    "One head's weights: row = the token reading (query), column = the token being read (key).",
    "The average of the layer's heads: what the layer as a whole looks at.",
    "All heads of the layer side by side; click one to enlarge it.",
    "Every head of every layer: rows are layers, columns heads. Click one to enlarge it.",
    "Where one token looks, as lines (like BertViz): click a token on the left.",
]

# An encoder-decoder's kinds, short for the titles (the axes say which tokens read which).
SHORT_KINDS = {"encoder": "encoder self-attention", "decoder": "decoder self-attention", "cross": "cross-attention"}


class AttentionViews(QWidget):
    """A stack of views over an `AttentionSnapshot`, and the read-out of what the mouse is over."""

    head_clicked = Signal(int, int)  # layer, head: a small multiple was clicked (enlarge it)
    # The views, made by ensure_built()
    _heatmap: AttentionHeatmap
    _grid: HeadGrid
    _lines: AttentionLines

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.built = False
        self._drawn: Optional[tuple] = None  # (snapshot, layer, head) of the last draw, for the lines title
        self.stack = QStackedWidget()
        self.blank = QLabel()
        self.blank.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.blank.setWordWrap(True)
        themed_style(self.blank, "color: {paper_muted}; font-size: 11pt; background: {paper};")
        self.stack.addWidget(self.blank)
        self.readout = QLabel()
        themed_style(self.readout, "color: {muted};")
        self.readout.setMinimumHeight(22)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.readout)

    def ensure_built(self) -> None:
        """Make the pyqtgraph views (importing pyqtgraph) the first time they are needed."""
        if self.built:
            return
        self.built = True
        from playground.ui.widgets.attention_lines import AttentionLines
        from playground.ui.widgets.head_grid import HeadGrid
        from playground.ui.widgets.heatmap import AttentionHeatmap

        self._heatmap = AttentionHeatmap()
        self._heatmap.hovered.connect(self._on_hover)
        self._heatmap.cell_clicked.connect(lambda q, k: self._lines.select(q))  # its row's token, for Lines
        self._grid = HeadGrid()
        self._grid.hovered.connect(self._on_hover)
        self._grid.head_clicked.connect(self.head_clicked)
        self._lines = AttentionLines()
        self._lines.token_selected.connect(lambda _q: self._update_lines_title())
        self.lines_title = QLabel()
        themed_style(self.lines_title, "color: {paper_text}; background: {paper}; padding: 4px;")
        self.lines_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.lines_title.setWordWrap(True)  # a long title (cross-attention's) must not widen the window
        scroll = QScrollArea()
        scroll.setWidget(self._lines)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.lines_page = QWidget()
        themed_style(self.lines_page, "background: {paper};")
        lp = QVBoxLayout(self.lines_page)
        lp.setContentsMargins(0, 0, 0, 0)
        lp.setSpacing(0)
        lp.addWidget(self.lines_title)
        lp.addWidget(scroll, 1)
        for widget in (self._heatmap, self._grid, self.lines_page):
            widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            self.stack.addWidget(widget)

    @property
    def heatmap(self):
        self.ensure_built()
        return self._heatmap

    @property
    def grid(self):
        self.ensure_built()
        return self._grid

    @property
    def lines(self):
        self.ensure_built()
        return self._lines

    # ------------------------------------------------------------------ drawing

    def show_message(self, message: str) -> None:
        """Nothing to draw: say why in the views' place."""
        self._drawn = None
        self.blank.setText(message)
        self.stack.setCurrentWidget(self.blank)
        self.readout.setText("")

    def draw(self, snapshot, view: int, layer: int, head: int, matrix: np.ndarray) -> None:
        """Draw `snapshot` in `view` for `layer` and `head`; `matrix` is that head's (or the layer mean's)."""
        self.ensure_built()
        self._drawn = (snapshot, layer, head)
        weights, tokens = snapshot.weights, snapshot.tokens
        L, H = weights.shape[:2]
        step = _kind_title(snapshot)
        if view in (VIEW_HEAD, VIEW_MEAN):
            what = f"mean of its {H} heads" if view == VIEW_MEAN else f"head {head}"
            # (Cross-attention's kind, in `step`, already says that output tokens read input tokens.)
            reads = "" if snapshot.causal or snapshot.is_rectangle else ", every token reads every token"
            self._heatmap.set_matrix(
                matrix,
                tokens,
                f"Layer {layer} · {what}{step} — each row sums to 1{reads}",
                causal=snapshot.causal,
                key_tokens=snapshot.key_tokens,
            )
            self.stack.setCurrentWidget(self._heatmap)
            # The hovered cell's text only while a cell is hovered: new tokens forget the old one.
            hovering = self._heatmap.hover_cell is not None and self._heatmap.hover_text
            self.readout.setText(
                self._heatmap.hover_text
                if hovering
                else "Hover over a cell to read its weight; scroll to zoom, double-click to see it all."
            )
        elif view in (VIEW_LAYER, VIEW_ALL):
            self._draw_grid(snapshot, view, layer, head)
        else:
            self._lines.set_attention(matrix, tokens, causal=snapshot.causal, key_tokens=snapshot.key_tokens)
            self._update_lines_title()
            self.stack.setCurrentWidget(self.lines_page)
            self.readout.setText("Click a token on the left to see where it looks; ↑ and ↓ move along.")

    def _draw_grid(self, snapshot, view: int, layer: int, head: int) -> None:
        from playground.ui.widgets.head_grid import Tile, grid_shape

        weights, step = snapshot.weights, _kind_title(snapshot)
        L, H = weights.shape[:2]
        self._grid.notes = {(s.layer, s.head): _note(s) for s in snapshot.stats}
        if view == VIEW_LAYER:
            rows, cols = grid_shape(H)
            if H == 4 and self._grid.width() < 1.6 * self._grid.height():
                rows, cols = 2, 2  # four heads fill a squarish view better as 2 × 2
            tiles = [Tile(layer, h, h // cols, h % cols) for h in range(H)]
            self._grid.set_heads(
                weights,
                tiles,
                rows,
                cols,
                corner_labels=True,
                title=f"Layer {layer}: its {H} heads{step} — click one to enlarge",
                causal=snapshot.causal,
            )
        else:
            tiles = [Tile(i, h, i, h) for i in range(L) for h in range(H)]
            self._grid.set_heads(
                weights,
                tiles,
                L,
                H,
                row_labels=[f"layer {i}" for i in range(L)],
                col_labels=[f"head {h}" for h in range(H)],
                title=f"Every layer and head ({L} × {H}){step} — click one to enlarge",
                causal=snapshot.causal,
            )
        self._grid.set_selected(layer, head)
        self.stack.setCurrentWidget(self._grid)
        self.readout.setText("Hover over a head to read its summary; click it to enlarge it.")

    def _update_lines_title(self) -> None:
        if self._drawn is None:
            return
        snapshot, layer, head = self._drawn
        q = self._lines.selected
        who = f"where ‘{display_token(self._lines.tokens[q], 16)}’ (#{q}) looks" if q is not None else ""
        self.lines_title.setText(
            f"Layer {layer} · head {head}{_kind_title(snapshot)}: {who} — thicker, darker lines carry more weight"
        )

    def clear_readout(self) -> None:
        """Forget what was hovered: it belonged to another text or source."""
        self.readout.setText("")

    def _on_hover(self, text: str) -> None:
        if text:
            self.readout.setText(text)

    # ------------------------------------------------------------------ pictures

    def picture(self) -> QPixmap:
        """The current view as a picture (the Lines view with its title above it)."""
        self.ensure_built()
        current = self.stack.currentWidget()
        if current is self.lines_page:
            pixmap = self._lines.grab()
            return _with_title(pixmap, self.lines_title.text()) if self.lines_title.text() else pixmap
        assert current is not None  # the stack always holds the blank page at least
        return current.grab()


def _kind_title(snapshot) -> str:
    """What a title adds: an encoder-decoder's kind, short (the axes say which tokens read which), or as before."""
    return f" · {SHORT_KINDS[snapshot.kind]}" if snapshot.kind in SHORT_KINDS else snapshot.describe()


def _note(s) -> str:
    """A head's summary for a tile's tooltip (cross-attention has no token before and no first token of its own:
    its keys are the input's tokens)."""
    if s.previous_token != s.previous_token:  # NaN: cross-attention
        return f"entropy {s.entropy:.2f} bits, first input token {s.first_token:.2f}"
    return f"entropy {s.entropy:.2f} bits, previous {s.previous_token:.2f}, first {s.first_token:.2f}"


def _with_title(pixmap: QPixmap, title: str) -> QPixmap:
    out = QPixmap(pixmap.width(), pixmap.height() + 28)
    out.fill(qcolour("paper"))
    p = QPainter(out)
    p.setPen(qcolour("paper_text"))
    p.drawText(0, 0, out.width(), 28, int(Qt.AlignmentFlag.AlignCenter), title)
    p.drawPixmap(0, 28, pixmap)
    p.end()
    return out
