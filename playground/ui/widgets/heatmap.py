"""An attention heatmap: one query-by-key matrix with its tokens on both axes, a fixed 0..1 colour bar
and a read-out of the cell under the mouse.

Made once and updated in place: a new matrix is one `setImage` on the same
`ImageItem` (levels fixed at 0..1, never auto); the axes are redrawn only when
the tokens, the view or the highlighted token change, and the hatched "future"
triangle only when the number of tokens does (a decoder's; an encoder's matrix
is a full square, with nothing hatched). A redraw on new tokens costs about
what a bare `ImageItem.setImage` does (benchmarks/attention.py measures both).
"""

from __future__ import annotations

import math
from operator import itemgetter
from typing import Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QFont, QFontMetricsF, QImage, QPainter, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QGraphicsRectItem

from playground.core.token_labels import display_token
from playground.ui.themes import colour, follow_look, font_scale, qcolour

LEVELS = (0.0, 1.0)  # attention weights lie in 0..1: the colours never rescale

# Cream (nothing) through orange to a dark red (all of a token's attention): dark reads as "a lot".
# Heatmaps are paper: white in every look, for this scale is made for white.
_STOPS = [(0.0, "heat_1"), (0.08, "heat_2"), (0.25, "heat_3"), (0.45, "heat_4"), (0.7, "heat_5"), (1.0, "heat_6")]


def attention_colormap() -> pg.ColorMap:
    return pg.ColorMap([p for p, _ in _STOPS], [qcolour(role) for _, role in _STOPS], name="attention")


def attention_colour_bar(image_item: pg.ImageItem) -> pg.ColorBarItem:
    """The 0..1 colour scale beside an attention image (fixed levels: weights are comparable across views)."""
    bar = pg.ColorBarItem(values=LEVELS, colorMap=attention_colormap(), interactive=False, width=14, colorMapMenu=False)
    bar.setImageItem(image_item)
    bar.axis.setPen(pg.mkPen(colour("paper_muted")))
    bar.axis.setTextPen(pg.mkPen(colour("paper_text")))
    bar.axis.setLabel("attention weight", color=colour("paper_muted"))  # on paper, whatever the theme
    for item in (bar.bar, bar.axis):  # it never changes: painted once, then reused
        item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return bar


def hatch_brush() -> QBrush:
    brush = QBrush(qcolour("paper_mask"), Qt.BrushStyle.BDiagPattern)
    return brush


LABEL_POINTS = 9.0  # token labels on the axes, at font scale 1


def label_font(size: float = LABEL_POINTS) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPointSizeF(size)
    return font


class TokenAxis(pg.AxisItem):
    """An axis that names positions (tokens, layers, heads) instead of numbering them.

    Labels sit at given centres in view coordinates; when they would overlap,
    only every n-th is drawn (n as small as legibility allows, recomputed as
    the view zooms), and the highlighted one is always drawn, in bold. A
    bottom axis writes its labels vertically, so long tokens still fit.

    Redrawing is cheap because tokens come back redraw after redraw: each label
    text is measured once and rendered once into a small image (turned already
    for a vertical axis), which a redraw only places; and the axis is painted
    into a pixmap that is reused until its labels, range or highlight change.
    """

    PAD = 2  # room around a label's image for antialiased edges
    MAX_IMAGES = 4096  # label images kept (a few MB); the oldest half goes when full

    def __init__(self, orientation: str, rotate: bool = False, max_size: int = 120) -> None:
        super().__init__(orientation)
        self.labels: list[str] = []
        self.centres: np.ndarray = np.zeros(0)
        self.highlight: Optional[int] = None
        self.rotate = rotate and orientation in ("top", "bottom")
        self.max_size = max_size
        self._set_fonts()
        self.setPen(pg.mkPen(colour("paper_muted")))
        self.setTextPen(pg.mkPen(colour("paper_text")))
        self.setStyle(tickLength=0, showValues=False, hideOverlappingLabels=False)
        self.stride = 1
        self._widths: dict[str, tuple[float, float]] = {}  # label -> (advance, bold advance)
        self._label_widths: list[tuple[float, float]] = []  # of each label, in order
        self._longest = 0.0  # the widest label in the normal font
        self._images: dict[tuple[str, bool, float], QImage] = {}
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._room_at_one: tuple[list[str], Optional[float]] = ([], None)
        follow_look(self, self._follow_font_scale)  # presentation mode: bigger labels, more room

    def _set_fonts(self) -> None:
        self.scale = font_scale()
        self.font = label_font(LABEL_POINTS * self.scale)
        self.bold = QFont(self.font)
        self.bold.setBold(True)

    def _follow_font_scale(self) -> None:
        if font_scale() == self.scale:
            return
        vertical = self.orientation in ("left", "right")
        if self.scale == 1.0:  # remember the room at scale 1, to give it back exactly
            self._room_at_one = (list(self.labels), self.fixedWidth if vertical else self.fixedHeight)
        self._set_fonts()
        self._widths.clear()
        self._images.clear()
        highlight = self.highlight
        self._measure(exact=True)  # the room its labels need at this scale, not just "no less"
        if self.scale == 1.0:
            labels, room = self._room_at_one
            if labels == self.labels:
                (self.setWidth if vertical else self.setHeight)(room)
            self._room_at_one = ([], None)
        self.highlight = highlight

    def _width_of(self, text: str) -> tuple[float, float]:
        width = self._widths.get(text)
        if width is None:
            if len(self._widths) > 50_000:
                self._widths.clear()
            width = self._widths[text] = (
                QFontMetricsF(self.font).horizontalAdvance(text),
                QFontMetricsF(self.bold).horizontalAdvance(text),
            )
        return width

    def set_labels(self, labels: Sequence[str], centres: Optional[Sequence[float]] = None) -> None:
        self.labels = list(labels)
        self.centres = np.arange(len(self.labels)) + 0.5 if centres is None else np.asarray(centres, dtype=float)
        self.highlight = None
        self._measure()

    def _measure(self, exact: bool = False) -> None:
        known = self._widths.get
        self._label_widths = [known(s) or self._width_of(s) for s in self.labels]
        self._longest = max(map(itemgetter(0), self._label_widths), default=0.0)
        longest = max(map(itemgetter(1), self._label_widths), default=0.0)
        label_room = self.label.boundingRect().height() if self.label.isVisible() else 0.0
        across = min(self.max_size * self.scale, longest + 10)
        if self.orientation in ("left", "right"):
            self._set_room(self.setWidth, self.width(), across + label_room, exact)
        elif self.rotate:
            self._set_room(self.setHeight, self.height(), across + label_room, exact)
        else:
            self._set_room(self.setHeight, self.height(), QFontMetricsF(self.bold).height() + 8 + label_room, exact)
        self.picture = None
        self.update()

    @staticmethod
    def _set_room(setter, now: float, wanted: float, exact: bool = False) -> None:
        """Grow to fit the labels at once; shrink only when a third of the room would be left over.
        New tokens of about the same length then leave the layout alone: the plot does not jump as
        the text is typed, and a redraw does not lay the whole plot out again."""
        wanted = int(math.ceil(wanted))
        if exact or wanted > now or wanted < now * 2 / 3:
            setter(wanted)

    def set_highlight(self, index: Optional[int]) -> None:
        if index != self.highlight:
            self.highlight = index
            self.update()

    def _to_pixels(self, values: np.ndarray, bounds: QRectF) -> np.ndarray:
        r0, r1 = self.range
        view = self.linkedView()
        if view is not None:  # read the view itself: its range is the truth, whatever signal came last
            vertical = self.orientation in ("left", "right")
            r0, r1 = view.viewRange()[1 if vertical else 0]
            if view.yInverted() if vertical else view.xInverted():
                r0, r1 = r1, r0
        if r1 == r0:
            return np.full_like(values, np.nan)
        if self.orientation in ("left", "right"):
            return bounds.bottom() - (values - r0) / (r1 - r0) * bounds.height()
        return bounds.left() + (values - r0) / (r1 - r0) * bounds.width()

    def _image(self, text: str, strong: bool, ratio: float) -> QImage:
        """The label drawn once, on a transparent image with PAD around its line (turned to read
        upwards on a vertical axis), in the device's pixels."""
        key = (text, strong, ratio)
        image = self._images.get(key)
        if image is None:
            if len(self._images) >= self.MAX_IMAGES:
                for old in list(self._images)[: self.MAX_IMAGES // 2]:
                    del self._images[old]
            font = self.bold if strong else self.font
            metrics = QFontMetricsF(font)
            width = (self._widths.get(text) or self._width_of(text))[strong]
            size = QSize(
                math.ceil((width + 2 * self.PAD) * ratio), math.ceil((metrics.height() + 2 * self.PAD) * ratio)
            )
            image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            painter.scale(ratio, ratio)
            painter.setFont(font)
            painter.setPen(qcolour("paper_select" if strong else "paper_text"))
            painter.drawText(QPointF(self.PAD, self.PAD + metrics.ascent()), text)
            painter.end()
            if self.rotate:
                image = image.transformed(QTransform().rotate(-90))
            image.setDevicePixelRatio(ratio)
            self._images[key] = image
        return image

    def paint(self, p, opt, widget) -> None:  # noqa: D401 - Qt's name
        if not self.labels:
            return
        bounds = self.mapRectFromParent(self.geometry())
        pixels = self._to_pixels(self.centres, bounds)
        line = QFontMetricsF(self.font).height()
        spacing = abs(pixels[1] - pixels[0]) if len(pixels) > 1 else line * 2
        if self.orientation in ("left", "right") or self.rotate:
            need = line * 1.05
        else:
            need = self._longest + 8
        self.stride = max(1, math.ceil(need / max(spacing, 1e-6)))
        label_room = self.label.boundingRect().height() if self.label.isVisible() else 0.0
        shown = set(range(0, len(self.labels), self.stride))
        if self.highlight is not None and 0 <= self.highlight < len(self.labels):
            # Make room for the highlighted label: drop its overlapping neighbours.
            shown = {i for i in shown if abs(i - self.highlight) >= self.stride} | {self.highlight}
        # Where each label's line goes (its top left; vertical labels: the top left of the turned
        # line), as Qt would align the text in a box; labels stay off the axis title.
        pad = self.PAD
        if self.orientation == "left":
            p.setClipRect(
                QRectF(
                    bounds.left() + label_room,
                    bounds.top() - line,
                    bounds.width() - label_room - 6,
                    bounds.height() + 2 * line,
                )
            )

            def corner(i: int, width: float) -> tuple[float, float]:
                return bounds.right() - 6 - width, pixels[i] - line / 2
        elif self.orientation == "right":
            p.setClipRect(
                QRectF(bounds.left() + 6, bounds.top() - line, bounds.width() - 6, bounds.height() + 2 * line)
            )

            def corner(i: int, width: float) -> tuple[float, float]:
                return bounds.left() + 6, pixels[i] - line / 2
        elif self.rotate:  # written upwards, ending 5 px below (bottom) or starting 5 px above (top) the plot
            room = bounds.height() - label_room - 5
            top = bounds.top() + 5 if self.orientation == "bottom" else bounds.bottom() - 5 - room
            p.setClipRect(QRectF(bounds.left() - line, top, bounds.width() + 2 * line, room))

            def corner(i: int, width: float) -> tuple[float, float]:
                y = bounds.top() + 5 if self.orientation == "bottom" else bounds.bottom() - 5 - width
                return pixels[i] - line / 2, y
        else:
            p.setClipRect(bounds.adjusted(-line, -line, line, line))
            top = bounds.bottom() - line - 4 if self.orientation == "top" else bounds.top() + 4

            def corner(i: int, width: float) -> tuple[float, float]:
                return pixels[i] - width / 2, top

        ratio = p.device().devicePixelRatioF() if p.device() is not None else 1.0
        images, labels, widths = self._images, self.labels, self._label_widths
        for i in sorted(shown):
            if not math.isfinite(pixels[i]):
                continue
            strong = i == self.highlight
            x, y = corner(i, widths[i][strong])
            image = images.get((labels[i], strong, ratio)) or self._image(labels[i], strong, ratio)
            p.drawImage(QPointF(x - pad, y - pad), image)


def staircase(T: int) -> QPainterPath:
    """The cells above the diagonal (keys after the query) of a T×T matrix, as one polygon."""
    if T < 2:
        return QPainterPath()
    # (1, 0), (T, 0), (T, T-1), then back up the steps: (T-1, T-1), (T-1, T-2), ..., (1, 1), (1, 0).
    q = np.repeat(np.arange(T - 1, 0, -1, dtype=float), 2)
    x = np.concatenate([[1.0, T, T], q])
    y = np.concatenate([[0.0, 0.0, T - 1], q - np.tile([0.0, 1.0], T - 1)])
    path = pg.arrayToQPath(x, y, connect="all", finiteCheck=False)
    path.closeSubpath()
    return path


def cell_grid(T: int, S: Optional[int] = None) -> QPainterPath:
    """Thin lines between the cells of a T×S matrix (S = T: a square), while cells are big enough to see
    them (both sides ≤ 48)."""
    S = T if S is None else S
    grid = QPainterPath()
    if 0 < T <= 48 and 0 < S <= 48:
        for k in range(1, S):  # between the columns (keys)
            grid.moveTo(k, 0)
            grid.lineTo(k, T)
        for q in range(1, T):  # between the rows (queries)
            grid.moveTo(0, q)
            grid.lineTo(S, q)
    return grid


def causal_nan_mask(T: int) -> np.ndarray:
    """1 on and below the diagonal, NaN above (NaN draws transparent): multiply a matrix by it."""
    mask = np.ones((T, T), dtype=np.float32)
    mask[np.triu_indices(T, k=1)] = np.nan
    return mask


class MaskOverlay(QGraphicsPathItem):
    """The cells a query cannot look at, hatched on the view's own background, drawn over the image.

    Covering them (rather than NaN in the image, drawn transparent over the hatching) keeps the
    image free of NaN, so pyqtgraph need not find half a matrix of NaN at every redraw (about a
    tenth of a 256-token redraw); the picture is the same. Painted once into a pixmap and reused
    until the path or the zoom changes.
    """

    def __init__(self, view_box: pg.ViewBox) -> None:
        super().__init__()
        self.view_box = view_box
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def paint(self, p, opt, widget=None) -> None:  # noqa: D401 - Qt's name
        path = self.path()
        p.fillPath(path, self.view_box.background.brush())
        p.fillPath(path, self.brush())


# The axes' titles: (left, bottom) for self-attention (False) and for cross-attention (True).
AXIS_TITLES = {
    False: ("query: the token reading ↓", "key: the token being read →"),
    True: ("output token being written ↓", "input token being read →"),
}


class AttentionHeatmap(pg.GraphicsLayoutWidget):
    """One query-by-key attention matrix: row q is how token q spread its attention over tokens 0..q
    (a decoder's, `causal`: the cells above the diagonal hatched) or over every token (an encoder's);
    or, for cross-attention, how output token q spread it over the input's tokens (a rectangle)."""

    hovered = Signal(str)  # what the cell under the mouse holds ("" when none)
    cell_clicked = Signal(int, int)  # query, key

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground(colour("paper"))
        self.tokens: list[str] = []
        self.labels: list[str] = []
        self.matrix: Optional[np.ndarray] = None
        self.hover_text = ""
        self.hover_cell: Optional[tuple[int, int]] = None
        self.key_tokens: list[str] = []  # the columns' tokens (the same as `tokens` but for cross-attention)
        self.key_labels: list[str] = []
        self.causal = True
        self.cross = False  # the rows are output tokens, the columns input tokens
        self._shape: tuple = ((0, 0), True)  # (matrix shape, causal) the mask and grid were made for
        self._mask: Optional[np.ndarray] = None
        self.ci.setContentsMargins(4, 4, 4, 4)

        self.title = self.addLabel("", row=0, col=0, colspan=2, color=colour("paper_text"), size="10pt")
        self.left = TokenAxis("left")
        self.bottom = TokenAxis("bottom", rotate=True)
        self.left.setLabel(AXIS_TITLES[False][0], color=colour("paper_muted"))
        self.bottom.setLabel(AXIS_TITLES[False][1], color=colour("paper_muted"))
        self.plot = self.addPlot(row=1, col=0, axisItems={"left": self.left, "bottom": self.bottom})
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        vb = self.plot.getViewBox()
        vb.invertY(True)  # row 0 (the first token) at the top, as the matrix prints
        vb.setDefaultPadding(0.0)  # cells fill the view (not square), so the labels stay beside them
        vb.setBackgroundColor(colour("paper"))

        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image_item)
        self.mask_item = MaskOverlay(vb)
        self.mask_item.setBrush(hatch_brush())
        self.mask_item.setPen(QPen(Qt.PenStyle.NoPen))
        self.mask_item.setZValue(1)  # over the image: the cells above the diagonal are covered, not transparent
        self.plot.addItem(self.mask_item, ignoreBounds=True)
        self.grid_item = QGraphicsPathItem()
        pen = QPen(qcolour("paper", alpha=200))
        pen.setCosmetic(True)
        pen.setWidthF(1.0)
        self.grid_item.setPen(pen)
        self.grid_item.setZValue(5)
        self.plot.addItem(self.grid_item, ignoreBounds=True)
        self.hover_item = QGraphicsRectItem(0, 0, 1, 1)
        hover_pen = QPen(qcolour("paper_select"))
        hover_pen.setCosmetic(True)
        hover_pen.setWidthF(2.0)
        self.hover_item.setPen(hover_pen)
        self.hover_item.setZValue(10)
        self.hover_item.hide()
        self.plot.addItem(self.hover_item, ignoreBounds=True)

        self.colour_bar = attention_colour_bar(self.image_item)
        self.addItem(self.colour_bar, row=1, col=1)

        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.scene().sigMouseClicked.connect(self._mouse_clicked)
        self.setMouseTracking(True)
        self.setToolTip(
            "Hover over a cell to read its weight. Scroll to zoom, drag to pan, double-click to see the whole matrix."
        )

    def show_colour_bar(self, show: bool) -> None:
        """Show or leave out the colour bar (heatmaps side by side share one: the scale is always 0..1)."""
        placed = self.colour_bar.scene() is not None and self.colour_bar.isVisible()
        if show and not placed:
            self.addItem(self.colour_bar, row=1, col=1)
            self.colour_bar.show()
        elif not show and placed:
            self.ci.removeItem(self.colour_bar)
            self.colour_bar.hide()

    # ------------------------------------------------------------------ data

    def set_matrix(
        self,
        matrix: np.ndarray,
        tokens: Sequence[str],
        title: str = "",
        causal: bool = True,
        key_tokens: Optional[Sequence[str]] = None,
    ) -> None:
        """Show a [T, T] matrix (query by key) whose rows and columns are `tokens`; `causal`
        (a decoder's) hatches the cells above the diagonal, which a query cannot look at.

        With `key_tokens` (cross-attention) the matrix is a [T, S] rectangle: its rows are the T
        output tokens being written (`tokens`), its columns the S input tokens read (`key_tokens`)."""
        matrix = np.asarray(matrix, dtype=np.float32)
        keys = list(tokens) if key_tokens is None else list(key_tokens)
        if matrix.ndim != 2 or matrix.shape != (len(tokens), len(keys)):
            raise ValueError(f"{len(tokens)} × {len(keys)} tokens do not label a matrix of shape {matrix.shape}")
        cross = key_tokens is not None
        causal = causal and not cross
        self.causal = causal
        if list(tokens) != self.tokens or keys != self.key_tokens or self._shape != (matrix.shape, causal):
            self._set_tokens(list(tokens), keys, cross)
        self.matrix = matrix
        self.image_item.setImage(matrix, autoLevels=False, levels=LEVELS)  # the mask covers what is above
        if title != self.title.text:
            self.title.setText(title)
        if self.hover_cell is not None:
            self._hover(*self.hover_cell)

    def clear(self, title: str = "") -> None:
        self.matrix = None
        self._set_tokens([], [], False)
        self.image_item.clear()
        self.title.setText(title)

    def _set_tokens(self, tokens: list[str], keys: list[str], cross: bool) -> None:
        T, S = len(tokens), len(keys)
        self.tokens, self.key_tokens = tokens, keys
        self.labels = [display_token(t) for t in tokens]
        self.key_labels = [display_token(t) for t in keys]
        self.left.set_labels(self.labels)
        self.bottom.set_labels(self.key_labels)
        if cross != self.cross:
            self.cross = cross
            left, bottom = AXIS_TITLES[cross]
            self.left.setLabel(left, color=colour("paper_muted"))
            self.bottom.setLabel(bottom, color=colour("paper_muted"))
        self.hover_cell = None
        self.hover_item.hide()
        vb = self.plot.getViewBox()
        if ((T, S), self.causal) != self._shape:  # the shape, only when it changes
            self._shape = ((T, S), self.causal)
            self.mask_item.setPath(staircase(T) if self.causal else QPainterPath())
            self.grid_item.setPath(cell_grid(T, S))
            if T and S:
                vb.setLimits(xMin=-S, xMax=2 * S, yMin=-T, yMax=2 * T, minXRange=2, minYRange=2)
        if T and not all(vb.autoRangeEnabled()):
            vb.enableAutoRange()  # fit the whole matrix, and keep fitting it as the widget resizes

    @property
    def image(self) -> Optional[np.ndarray]:
        """What the heatmap shows now: the matrix, NaN above the diagonal where the mask covers it (causal)."""
        if self.matrix is None:
            return None
        if not self.causal:
            return self.matrix.copy()
        T = self.matrix.shape[0]
        if self._mask is None or self._mask.shape[0] != T:
            self._mask = causal_nan_mask(T)
        return self.matrix * self._mask

    # ------------------------------------------------------------------ hovering

    def cell_text(self, q: int, k: int) -> str:
        """'query → key: weight' for cell (q, k), the way the read-out says it."""
        if self.matrix is None:
            return ""
        query, key = self.labels[q], self.key_labels[k]
        if self.cross:
            return f"writing ‘{query}’ (output #{q}) → input ‘{key}’ (#{k}): {self.matrix[q, k]:.3f}"
        if self.causal and k > q:
            return f"‘{query}’ (#{q}) → ‘{key}’ (#{k}): not allowed — a token cannot look at tokens after it"
        return f"‘{query}’ (#{q}) → ‘{key}’ (#{k}): {self.matrix[q, k]:.3f}"

    def cell_at(self, scene_pos) -> Optional[tuple[int, int]]:
        vb = self.plot.getViewBox()
        if self.matrix is None or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        point = vb.mapSceneToView(scene_pos)
        k, q = math.floor(point.x()), math.floor(point.y())
        T, S = self.matrix.shape
        if 0 <= q < T and 0 <= k < S:
            return q, k
        return None

    def scene_pos_of(self, q: int, k: int) -> QPointF:
        """Where cell (q, k)'s centre is in the scene (for tests and tours)."""
        return self.plot.getViewBox().mapViewToScene(QPointF(k + 0.5, q + 0.5))

    def _mouse_moved(self, scene_pos) -> None:
        cell = self.cell_at(scene_pos)
        if cell is None:
            if self.hover_cell is not None:
                self.hover_cell = None
                self.hover_item.hide()
                self.left.set_highlight(None)
                self.bottom.set_highlight(None)
                self.hover_text = ""
                self.hovered.emit("")
            return
        if cell != self.hover_cell:
            self._hover(*cell)

    def _hover(self, q: int, k: int) -> None:
        self.hover_cell = (q, k)
        self.hover_item.setRect(QRectF(k, q, 1, 1))
        self.hover_item.show()
        self.left.set_highlight(q)
        self.bottom.set_highlight(k)
        self.hover_text = self.cell_text(q, k)
        self.setToolTip(self.hover_text)
        self.hovered.emit(self.hover_text)

    def _mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if event.double():
            self.plot.getViewBox().enableAutoRange()
            return
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.cell_clicked.emit(*cell)
