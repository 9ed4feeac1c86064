"""Where one token looks, drawn as lines, in the manner of BertViz's head view.

The same tokens stand in two columns: the one reading (the query) on the
left, the ones being read (the keys) on the right. Lines go from the selected
query to every key it may look at (a decoder's: the keys up to it; an
encoder's: every key); a line's opacity and width are the weight. Clicking a token on the left selects it; the arrow keys move the
selection.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from playground.core.token_labels import display_token
from playground.ui.themes import follow_look, font_scale, qcolour

# Paper, like the heatmaps: white in every look. Lines in the heatmap's strong red; a key is shaded by the
# weight it receives, in its orange; keys after the query (it cannot look at them) are faint.
MIN_ROW, MAX_ROW = 16, 26
TOP = 34  # room for the column headings


class AttentionLines(QWidget):
    """Two columns of the same tokens; lines from the selected query (left) to each key (right)."""

    token_selected = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.tokens: list[str] = []
        self.labels: list[str] = []
        self.matrix: Optional[np.ndarray] = None
        self.key_tokens: list[str] = []  # the right column (the same as `tokens` but for cross-attention)
        self.key_labels: list[str] = []
        self.causal = True  # a decoder's tokens cannot look at later ones; an encoder's can
        self.cross = False  # the left column is an output being written, the right one the input it reads
        self.selected: Optional[int] = None
        self.hover: Optional[tuple[str, int]] = None  # ("query" | "key", index)
        self.font_normal = QFont("DejaVu Sans")
        self.font_normal.setPointSizeF(10)
        self.font_bold = QFont(self.font_normal)
        self.font_bold.setBold(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), qcolour("paper"))
        self.setPalette(palette)
        self.setToolTip("Click a token on the left to see where it looks; ↑ and ↓ move along.")
        follow_look(self, self._follow_font_scale)

    # ------------------------------------------------------------------ data

    def set_attention(
        self,
        matrix: np.ndarray,
        tokens: Sequence[str],
        causal: bool = True,
        key_tokens: Optional[Sequence[str]] = None,
    ) -> None:
        """Lines of a [T, T] matrix over `tokens`; with `key_tokens` (cross-attention) a [T, S] matrix:
        the output tokens being written on the left, the input tokens they read on the right."""
        keys = list(tokens) if key_tokens is None else list(key_tokens)
        self.cross = key_tokens is not None
        self.causal = causal and not self.cross
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape != (len(tokens), len(keys)):
            raise ValueError(f"{len(tokens)} × {len(keys)} tokens do not label a matrix of shape {matrix.shape}")
        if list(tokens) != self.tokens or keys != self.key_tokens:
            self.tokens, self.key_tokens = list(tokens), keys
            self.labels = [display_token(t, 16) for t in tokens]
            self.key_labels = [display_token(t, 16) for t in keys]
            if self.selected is None or self.selected >= len(tokens):
                self.selected = len(tokens) - 1 if tokens else None
            self._fit_height()
        self.matrix = matrix
        self.update()

    def _rows(self) -> int:
        return max(len(self.tokens), len(self.key_tokens))

    def _fit_height(self) -> None:
        self.setMinimumHeight(round((TOP + MIN_ROW * self._rows()) * font_scale()) + 8 if self.tokens else 0)
        self.updateGeometry()

    def _follow_font_scale(self) -> None:
        self._fit_height()
        self.update()

    def clear(self) -> None:
        self.tokens, self.labels, self.matrix, self.selected = [], [], None, None
        self.key_tokens, self.key_labels = [], []
        self.setMinimumHeight(0)
        self.update()

    def select(self, index: Optional[int]) -> None:
        if index is not None and not 0 <= index < len(self.tokens):
            return
        if index != self.selected:
            self.selected = index
            self.update()
            if index is not None:
                self.token_selected.emit(index)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(520, round((TOP + MAX_ROW * max(1, self._rows())) * font_scale()) + 8)

    # ------------------------------------------------------------------ geometry

    def _row_height(self) -> float:
        n = max(1, self._rows())
        scale = font_scale()  # presentation mode: taller rows for the bigger type
        return max(MIN_ROW * scale, min(MAX_ROW * scale, (self.height() - TOP * scale - 8) / n))

    def _columns(self) -> tuple[float, float, float]:
        """x of the left column's right edge, of the right column's left edge, and the label width."""
        w = self.width()
        label = min(180.0 * font_scale(), w * 0.3)
        gap = w - 2 * label - 40
        left = 20 + label
        return left, left + max(gap, 60), label

    def _y(self, i: int) -> float:
        return TOP * font_scale() + (i + 0.5) * self._row_height()

    def token_at(self, pos) -> Optional[tuple[str, int]]:
        if not self.tokens:
            return None
        i = int((pos.y() - TOP * font_scale()) // self._row_height())
        left, right, label = self._columns()
        if left - label - 10 <= pos.x() <= left + 6 and 0 <= i < len(self.tokens):
            return "query", i
        if right - 6 <= pos.x() <= right + label + 10 and 0 <= i < len(self.key_tokens):
            return "key", i
        return None

    def query_pos(self, i: int) -> QPointF:
        left, _, label = self._columns()
        return QPointF(left - label / 2, self._y(i))

    # ------------------------------------------------------------------ drawing

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        ink, future_ink, header, selected_bg = (
            qcolour(role) for role in ("paper_text", "paper_ghost", "paper_muted", "paper_select")
        )
        if self.matrix is None or not self.tokens:
            p.setPen(header)
            self.font_normal.setPointSizeF(10.0 * font_scale())
            p.setFont(self.font_normal)
            p.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), "No attention to draw yet.")
            return
        left, right, label = self._columns()
        row = self._row_height()
        scale = font_scale()
        size = max(7.5 * scale, min(10.0 * scale, row * 0.55))
        self.font_normal.setPointSizeF(size)
        self.font_bold.setPointSizeF(size)
        p.setFont(self.font_bold)
        p.setPen(header)
        p.drawText(
            QRectF(left - label, 4, label, 22 * scale),
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            "writing (output)" if self.cross else "reading (query)",
        )
        p.drawText(
            QRectF(right, 4, label, 22 * scale),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            "reading (input)" if self.cross else "being read (keys)",
        )
        q = self.selected
        weights = self.matrix[q] if q is not None else np.zeros(len(self.key_tokens), dtype=np.float32)

        # Lines first, under the labels: strongest last, so it stays on top.
        if q is not None:
            for k in np.argsort(weights[: q + 1] if self.causal else weights, kind="stable"):
                w = float(weights[k])
                if w < 0.005:
                    continue
                colour = qcolour("heat_5")
                colour.setAlphaF(min(1.0, 0.12 + 0.88 * w))
                pen = QPen(colour)
                pen.setWidthF(0.8 + 6.0 * w)
                pen.setCapStyle(Qt.PenCapStyle.RoundCap)
                p.setPen(pen)
                p.drawLine(QPointF(left + 4, self._y(q)), QPointF(right - 4, self._y(int(k))))

        metrics = QFontMetricsF(self.font_normal)
        box_h = min(row - 2, metrics.height() + 4)
        for i, text in enumerate(self.labels):
            y = self._y(i)
            # Left column: the queries.
            rect = QRectF(left - label, y - box_h / 2, label, box_h)
            if i == q:
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(selected_bg)
                width = min(label, metrics.horizontalAdvance(text) + 12)
                p.drawRoundedRect(QRectF(left - width, rect.top(), width, box_h), 3, 3)
                p.setPen(qcolour("paper"))
                p.setFont(self.font_bold)
            else:
                hovered = self.hover == ("query", i)
                p.setPen(selected_bg if hovered else ink)
                p.setFont(self.font_bold if hovered else self.font_normal)
            p.drawText(
                rect.adjusted(0, 0, -6, 0), int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), text
            )
        for i, text in enumerate(self.key_labels):
            y = self._y(i)
            # Right column: the keys, shaded by the weight each receives.
            rect = QRectF(right, y - box_h / 2, label, box_h)
            future = self.causal and q is not None and i > q
            if not future and q is not None and weights[i] >= 0.005:
                shade = qcolour("heat_4")
                shade.setAlphaF(min(1.0, float(weights[i])))
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(shade)
                width = min(label, metrics.horizontalAdvance(text) + 12)
                p.drawRoundedRect(QRectF(right, rect.top(), width, box_h), 3, 3)
            p.setFont(self.font_normal)
            p.setPen(future_ink if future else ink)
            p.drawText(rect.adjusted(6, 0, 0, 0), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        p.end()

    # ------------------------------------------------------------------ mouse and keys

    def key_text(self, k: int) -> str:
        q = self.selected
        if q is None or self.matrix is None:
            return ""
        if self.causal and k > q:
            return f"‘{self.labels[q]}’ cannot look at ‘{self.key_labels[k]}’: it comes later."
        if self.cross:
            return f"writing ‘{self.labels[q]}’ (#{q}) → input ‘{self.key_labels[k]}’ (#{k}): {self.matrix[q, k]:.3f}"
        return f"‘{self.labels[q]}’ (#{q}) → ‘{self.key_labels[k]}’ (#{k}): {self.matrix[q, k]:.3f}"

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        hit = self.token_at(event.position())
        if hit != self.hover:
            self.hover = hit
            self.setCursor(
                Qt.CursorShape.PointingHandCursor if hit and hit[0] == "query" else Qt.CursorShape.ArrowCursor
            )
            self.update()
        if hit and hit[0] == "key":
            QToolTip.showText(event.globalPosition().toPoint(), self.key_text(hit[1]), self)
        elif hit and hit[0] == "query":
            QToolTip.showText(
                event.globalPosition().toPoint(), f"Click to see where ‘{self.labels[hit[1]]}’ looks", self
            )
        else:
            QToolTip.hideText()

    def leaveEvent(self, event) -> None:  # noqa: N802
        if self.hover is not None:
            self.hover = None
            self.update()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        hit = self.token_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and hit and hit[0] == "query":
            self.select(hit[1])

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if self.selected is not None and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            step = 1 if event.key() == Qt.Key.Key_Down else -1
            self.select(max(0, min(len(self.tokens) - 1, self.selected + step)))
            return
        super().keyPressEvent(event)
