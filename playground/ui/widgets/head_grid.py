"""Many attention heads at once: small multiples of a layer's heads, or every layer and head in a grid.

The heads are tiles of one mosaic image, so a redraw is one `setImage` however
many heads there are (an 8×8 grid of 64-token heads draws as fast as one
head). Long texts are averaged down to at most `MAX_TILE` cells a side per
tile. Clicking a tile says which head it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsRectItem

from playground.ui.themes import colour, qcolour
from playground.ui.widgets.heatmap import LEVELS, TokenAxis, attention_colour_bar, hatch_brush

MAX_TILE = 96  # a tile shows at most this many cells a side (longer texts are averaged down)


def pooled_size(T: int, size: int) -> int:
    """How many cells a side `pool` leaves of T (at most `size`: T=128 in 96 becomes 64, blocks of 2)."""
    return T if T <= size else math.ceil(T / math.ceil(T / size))


def pool(weights: np.ndarray, size: int) -> np.ndarray:
    """[..., T, S] averaged down in blocks so that each side has at most `size` cells (a square stays square)."""
    T, S = weights.shape[-2:]
    if T <= size and S <= size:
        return weights
    fq, fk = math.ceil(T / size), math.ceil(S / size)
    nq, nk = pooled_size(T, size), pooled_size(S, size)
    padded = np.zeros(weights.shape[:-2] + (nq * fq, nk * fk), dtype=np.float32)
    padded[..., :T, :S] = weights
    return padded.reshape(weights.shape[:-2] + (nq, fq, nk, fk)).mean(axis=(-3, -1))


def grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns for `n` small multiples: one row up to 4, then near-square rows of at most 4-5."""
    if n <= 4:
        return 1, max(1, n)
    if n <= 16:
        rows = math.ceil(n / 4)
        cols = math.ceil(n / rows)
        return rows, cols
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


@dataclass(frozen=True)
class Tile:
    layer: int
    head: int
    row: int
    col: int


class HeadGrid(pg.GraphicsLayoutWidget):
    """Attention heads as tiles of a grid; each tile a small query-by-key heatmap."""

    head_clicked = Signal(int, int)  # layer, head
    hovered = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground(colour("paper"))
        self.tiles: list[Tile] = []
        self.rows = self.cols = 0
        self.tile_size = 0  # cells across a tile (its keys)
        self.tile_rows = 0  # cells down a tile (its queries): tile_size but for cross-attention's rectangles
        self.gap = 1
        self.mosaic: Optional[np.ndarray] = None
        self.selected: Optional[tuple[int, int]] = None
        self.hover_text = ""
        self.notes: dict[tuple[int, int], str] = {}  # (layer, head) -> a line for the tooltip
        self._layout_key: Optional[tuple] = None
        self._tile_mask: Optional[np.ndarray] = None
        self._corner_labels: list[pg.TextItem] = []
        self.ci.setContentsMargins(4, 4, 4, 4)

        self.title = self.addLabel("", row=0, col=0, colspan=2, color=colour("paper_text"), size="10pt")
        self.left = TokenAxis("left")
        self.top = TokenAxis("top")
        self.plot = self.addPlot(row=1, col=0, axisItems={"left": self.left, "top": self.top})
        self.plot.showAxis("top")
        self.plot.hideAxis("bottom")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        vb = self.plot.getViewBox()
        vb.invertY(True)
        vb.setAspectLocked(True)
        vb.setMouseEnabled(False, False)
        vb.setDefaultPadding(0.0)

        self.backgrounds: list[QGraphicsRectItem] = []
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image_item)
        self.select_item = self._outline("paper_select", 3.0, 11)
        self.hover_item = self._outline("paper_hover", 2.0, 10)

        self.colour_bar = attention_colour_bar(self.image_item)
        self.addItem(self.colour_bar, row=1, col=1)

        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.scene().sigMouseClicked.connect(self._mouse_clicked)
        self.setMouseTracking(True)

    def _outline(self, role: str, width: float, z: float) -> QGraphicsRectItem:
        item = QGraphicsRectItem(0, 0, 1, 1)
        pen = QPen(qcolour(role))
        pen.setCosmetic(True)
        pen.setWidthF(width)
        item.setPen(pen)
        item.setZValue(z)
        item.hide()
        self.plot.addItem(item, ignoreBounds=True)
        return item

    # ------------------------------------------------------------------ data

    def set_heads(
        self,
        weights: np.ndarray,
        tiles: Sequence[Tile],
        rows: int,
        cols: int,
        *,
        row_labels: Sequence[str] = (),
        col_labels: Sequence[str] = (),
        corner_labels: bool = False,
        title: str = "",
        causal: bool = True,
    ) -> None:
        """Show `weights[tile.layer, tile.head]` ([L, H, T, T], or [L, H, T, S] rectangles of cross-attention)
        for each tile at its row and column.

        Row and column labels go on the left and top axes; with
        `corner_labels` each tile is named in its top-right corner instead
        (a decoder's is empty, where a query cannot look; over an encoder's
        full square, `causal` False, the label sits on a paper patch).
        `causal` hatches the cells above each tile's diagonal.
        """
        weights = np.asarray(weights)
        T, S = weights.shape[-2:]
        causal = causal and T == S
        size, down = pooled_size(S, MAX_TILE), pooled_size(T, MAX_TILE)
        gap = max(1, round(max(size, down) / 8))
        key = (tuple(tiles), rows, cols, (down, size), tuple(row_labels), tuple(col_labels), corner_labels, causal)
        if key != self._layout_key:
            self._layout(list(tiles), rows, cols, (down, size), gap, row_labels, col_labels, corner_labels, causal)
            self._layout_key = key
        assert self.mosaic is not None  # _layout() made it, for this call or an earlier one
        layers = np.fromiter((t.layer for t in self.tiles), dtype=np.intp, count=len(self.tiles))
        heads = np.fromiter((t.head for t in self.tiles), dtype=np.intp, count=len(self.tiles))
        chosen = pool(np.asarray(weights[layers, heads], dtype=np.float32), MAX_TILE)  # [n, down, size]
        step_y, step_x = down + gap, size + gap
        blocks = self.mosaic.reshape(rows, step_y, cols, step_x)
        filled = np.full((rows * cols, down, size), np.nan, dtype=np.float32)
        filled[[t.row * cols + t.col for t in self.tiles]] = chosen * self._tile_mask
        blocks[:, :down, :, :size] = filled.reshape(rows, cols, down, size).transpose(0, 2, 1, 3)
        self.image_item.setImage(
            self.mosaic[: rows * step_y - gap, : cols * step_x - gap], autoLevels=False, levels=LEVELS
        )
        if title != self.title.text:
            self.title.setText(title)

    def _layout(self, tiles, rows, cols, shape, gap, row_labels, col_labels, corner_labels, causal=True) -> None:
        down, size = shape
        self.tiles, self.rows, self.cols, self.tile_size, self.tile_rows, self.gap = tiles, rows, cols, size, down, gap
        step_y, step_x = down + gap, size + gap
        self.mosaic = np.full((rows * step_y, cols * step_x), np.nan, dtype=np.float32)
        mask = np.ones((down, size), dtype=np.float32)
        if causal:
            mask[np.triu_indices(size, k=1)] = np.nan
        self._tile_mask = mask
        for item in self.backgrounds:
            self.plot.removeItem(item)
        self.backgrounds = []
        no_pen = QPen(Qt.PenStyle.NoPen)
        for t in tiles:
            rect = QGraphicsRectItem(t.col * step_x, t.row * step_y, size, down)
            rect.setBrush(hatch_brush())
            rect.setPen(no_pen)
            rect.setZValue(-1)
            self.plot.addItem(rect, ignoreBounds=True)
            self.backgrounds.append(rect)
        for label in self._corner_labels:
            self.plot.removeItem(label)
        self._corner_labels = []
        if corner_labels:
            for t in tiles:
                fill = None if causal else pg.mkBrush(colour("paper"))
                label = pg.TextItem(f"head {t.head}", color=colour("paper_text"), anchor=(1, 0), fill=fill)
                label.setPos(t.col * step_x + size, t.row * step_y)
                label.setZValue(12)
                self.plot.addItem(label, ignoreBounds=True)
                self._corner_labels.append(label)
        centres_r = [r * step_y + down / 2 for r in range(rows)]
        centres_c = [c * step_x + size / 2 for c in range(cols)]
        self.left.set_labels(list(row_labels), centres_r[: len(row_labels)])
        self.top.set_labels(list(col_labels), centres_c[: len(col_labels)])
        self.plot.showAxis("left", bool(row_labels))
        self.plot.showAxis("top", bool(col_labels))
        self.plot.getViewBox().enableAutoRange()
        self.hover_item.hide()
        self._show_selected()

    def set_selected(self, layer: Optional[int], head: Optional[int]) -> None:
        self.selected = None if layer is None or head is None else (layer, head)
        self._show_selected()

    def _show_selected(self) -> None:
        tile = next((t for t in self.tiles if (t.layer, t.head) == self.selected), None)
        if tile is None:
            self.select_item.hide()
            return
        self.select_item.setRect(self._tile_rect(tile))
        self.select_item.show()

    @property
    def image(self) -> Optional[np.ndarray]:
        return self.image_item.image

    # ------------------------------------------------------------------ mouse

    def tile_at(self, scene_pos) -> Optional[Tile]:
        vb = self.plot.getViewBox()
        if not self.tiles or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        point = vb.mapSceneToView(scene_pos)
        col, x = divmod(point.x(), self.tile_size + self.gap)
        row, y = divmod(point.y(), self.tile_rows + self.gap)
        if x >= self.tile_size or y >= self.tile_rows:
            return None
        return next((t for t in self.tiles if t.row == int(row) and t.col == int(col)), None)

    def scene_pos_of(self, layer: int, head: int):
        """The scene position of a tile's centre (for tests and tours)."""
        tile = next(t for t in self.tiles if (t.layer, t.head) == (layer, head))
        return self.plot.getViewBox().mapViewToScene(self._tile_rect(tile).center())

    def _tile_rect(self, tile: Tile) -> QRectF:
        x, y = tile.col * (self.tile_size + self.gap), tile.row * (self.tile_rows + self.gap)
        return QRectF(x, y, self.tile_size, self.tile_rows)

    def tile_text(self, tile: Tile) -> str:
        note = self.notes.get((tile.layer, tile.head), "")
        return f"Layer {tile.layer}, head {tile.head}{': ' + note if note else ''} — click to enlarge"

    def _mouse_moved(self, scene_pos) -> None:
        tile = self.tile_at(scene_pos)
        if tile is None:
            self.hover_item.hide()
            if self.hover_text:
                self.hover_text = ""
                self.hovered.emit("")
            return
        self.hover_item.setRect(self._tile_rect(tile))
        self.hover_item.show()
        text = self.tile_text(tile)
        if text != self.hover_text:
            self.hover_text = text
            self.setToolTip(text)
            self.hovered.emit(text)

    def _mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        tile = self.tile_at(event.scenePos())
        if tile is not None:
            self.head_clicked.emit(tile.layer, tile.head)
