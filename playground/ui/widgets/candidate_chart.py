"""What else the model considered: a token's best candidates as horizontal bars.

`BarRows` paints rows of a label and one or more bars (one per series) with
QPainter, made once and updated in place. `CandidateChart` uses it for a
clicked token: its ten best candidates *before the filters* (the model's own
probabilities) and *after the filters* (the distribution it was drawn from),
with the token that was picked highlighted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from playground.ui.themes import follow_look, font_scale, qcolour, themed_style, themed_text
from playground.ui.widgets.generated_text import _escape, percent, token_label

MAX_ROWS = 10
VALUE_POINTS = 8.5  # the numbers beside the bars, at font scale 1


@dataclass
class BarRow:
    """One row: a label and a value per series (None: not known, 0.0: removed)."""

    label: str
    values: list[Optional[float]]
    chosen: bool = False
    below: list[float] = field(default_factory=list)  # for an unknown value: it is below this


class BarRows(QWidget):
    """Rows of label + bars, painted; `set_rows` replaces the data and repaints. `roles`: each series'
    colour role."""

    def __init__(
        self, roles: list[str], bar_height: int = 9, gap: int = 6, label_points: float = 9.5, parent=None
    ) -> None:
        super().__init__(parent)
        self.roles = roles
        self._sizes = (bar_height, gap, label_points)  # at font scale 1
        self.rows: list[BarRow] = []
        self.scale = 1.0
        self.label_font = QFont("DejaVu Sans Mono")
        self.label_font.setStyleHint(QFont.StyleHint.Monospace)
        self.value_font = QFont(self.font())
        self._set_sizes()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(100)
        follow_look(self, self._follow_font_scale)

    def _set_sizes(self) -> None:
        """Bars, gaps and type grow together in presentation mode (font_scale)."""
        self.font_scale = font_scale()
        bar_height, gap, label_points = self._sizes
        self.bar_height = round(bar_height * self.font_scale)
        self.gap = round(gap * self.font_scale)
        self.label_font.setPointSizeF(label_points * self.font_scale)
        self.value_font.setPointSizeF(VALUE_POINTS * self.font_scale)

    def _follow_font_scale(self) -> None:
        if font_scale() != self.font_scale:
            self._set_sizes()
            self.set_rows(self.rows, self.scale)

    def row_height(self) -> int:
        n = len(self.roles)
        return n * self.bar_height + (n - 1) + self.gap

    def set_rows(self, rows: list[BarRow], scale: Optional[float] = None) -> None:
        self.rows = rows
        known = [v for r in rows for v in r.values if v]
        self.scale = scale if scale else max(known, default=1.0)
        self.setFixedHeight(max(1, len(rows)) * self.row_height() + 4)
        self.updateGeometry()
        self.update()

    def labels(self) -> list[str]:
        return [r.label for r in self.rows]

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(280, max(1, len(self.rows)) * self.row_height() + 4)

    def _value_pieces(self, row: BarRow) -> list[tuple[str, str]]:
        """The row's numbers as (text, colour role) pieces: "9.8% → 19%", "2.1% → removed"."""
        pieces = []
        for s, value in enumerate(row.values):
            if s:
                pieces.append((" → ", "paper_muted"))
            if value is None:
                below = row.below[s] if s < len(row.below) else 0.0
                pieces.append((f"<{percent(below)}" if below else "?", "paper_muted"))
            elif value <= 0:
                pieces.append(("removed", "paper_error"))
            else:
                pieces.append((percent(value), "paper_text"))
        return pieces

    def paintEvent(self, event) -> None:  # noqa: N802
        if not self.rows:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        # Paper, like the heatmaps: the bar colours and dark labels read the same in either theme.
        painter.fillRect(self.rect(), qcolour("paper"))
        lfm = QFontMetrics(self.label_font)
        vfm = QFontMetrics(self.value_font)
        label_w = min(max(lfm.horizontalAdvance(r.label) for r in self.rows) + 10, int(self.width() * 0.42))
        sample = " → ".join(["0.00%"] * len(self.roles))
        value_w = vfm.horizontalAdvance(sample) + 8
        bar_x = label_w + 4
        bar_w = max(10, self.width() - bar_x - value_w - 2)
        rh = self.row_height()
        body = rh - self.gap
        flags = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextDontClip
        for i, row in enumerate(self.rows):
            top = 2 + self.gap / 2 + i * rh
            if row.chosen:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(qcolour("picked_bg"))
                painter.drawRoundedRect(QRectF(0, top - self.gap / 2, self.width(), rh), 3, 3)
                painter.setBrush(qcolour("picked_edge"))
                painter.drawRect(QRectF(0, top - self.gap / 2, 3, rh))
            font = QFont(self.label_font)
            font.setBold(row.chosen)
            painter.setFont(font)
            painter.setPen(qcolour("paper_text"))
            text = lfm.elidedText(row.label, Qt.TextElideMode.ElideRight, label_w - 8)
            painter.drawText(
                QRectF(6, top, label_w - 6, body),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight | Qt.TextFlag.TextDontClip,
                text,
            )
            right: float = bar_x
            for s, value in enumerate(row.values):
                if not value:
                    continue
                y = top + s * (self.bar_height + 1)
                w = max(1.5, bar_w * min(1.0, value / self.scale))
                painter.setPen(QPen(qcolour("picked_edge"), 1.5) if row.chosen else Qt.PenStyle.NoPen)
                painter.setBrush(qcolour(self.roles[s]))
                painter.drawRoundedRect(QRectF(bar_x, y, w, self.bar_height), 2, 2)
                right = max(right, bar_x + w)
            painter.setFont(self.value_font)
            x = right + 5
            for piece, role in self._value_pieces(row):
                painter.setPen(qcolour(role))
                painter.drawText(QRectF(x, top, value_w, body), flags, piece)
                x += vfm.horizontalAdvance(piece)
        painter.end()


def candidate_rows(token, limit: int = MAX_ROWS, specials: Optional[dict] = None) -> list[BarRow]:
    """Rows for `token`: its best candidates before and after the filters, the picked one always among them."""
    from playground.core.sampling import CANDIDATES

    before = {c.id: c for c in token.before}
    after = {c.id: c for c in token.after}
    texts = {c.id: c.text for c in token.before + token.after}
    texts.setdefault(token.id, token.text)
    after_complete = len(token.after) < CANDIDATES  # fewer than 10 survive: every other token is removed
    min_before = min((c.prob for c in token.before), default=0.0)
    min_after = min((c.prob for c in token.after), default=0.0)

    def key(i: int):
        return (after[i].prob if i in after else -1.0, before[i].prob if i in before else -1.0)

    ids = sorted(set(before) | set(after), key=key, reverse=True)[:limit]
    if token.id not in ids:
        ids.append(token.id)
    rows = []
    for i in ids:
        b = before[i].prob if i in before else None
        if i in after:
            a = after[i].prob
        elif after_complete:
            a = 0.0
        elif i == token.id:
            a = token.chosen_prob
        else:
            a = None
        if b is None and i == token.id:
            b = token.prob
        rows.append(
            BarRow(token_label(i, texts[i], specials), [b, a], chosen=i == token.id, below=[min_before, min_after])
        )
    return rows


class CandidateChart(QWidget):
    """The clicked token's best candidates: before the filters and after, the picked one highlighted."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.token = None
        self.specials: dict[int, str] = {}
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.legend = QLabel()
        themed_text(
            self.legend,
            "<span style='color:{bar_before}; font-size:13pt'>■</span> before the filters &nbsp; "
            "<span style='color:{series_blue}; font-size:13pt'>■</span> after the filters &nbsp; "
            "<span style='background:{picked_bg}; color:{picked_fg}'>&nbsp;picked&nbsp;</span>",
        )
        themed_style(self.legend, "color: {muted}; font-size: 9pt;")
        self.legend.setWordWrap(True)
        self.legend.setToolTip(
            "Grey: the probability the model itself gave each token. Blue: the probability after the "
            "repetition penalty, temperature, top-k, top-p and min-p reshaped the distribution; the token "
            "was drawn from the blue bars. 'removed' means a filter took the token out."
        )
        self.bars = BarRows(["bar_before", "series_blue"], bar_height=8, gap=7)
        self.placeholder = QLabel(
            "Click a token in the text to see the ten tokens the model thought "
            "most likely at that point, and the one it picked."
        )
        self.placeholder.setWordWrap(True)
        themed_style(self.placeholder, "color: {muted}; padding: 16px 4px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.legend)
        layout.addWidget(self.bars)
        layout.addWidget(self.placeholder)
        layout.addStretch(1)
        self.set_token(None)

    def set_token(self, token) -> None:
        """Show `token`'s candidates (None: the hint to click a token)."""
        self.token = token
        has = token is not None
        self.legend.setVisible(has)
        self.bars.setVisible(has)
        self.placeholder.setVisible(not has)
        if not has:
            self.title.setText("<b>Candidates</b>")
            self.bars.set_rows([])
            return
        label = _escape(token_label(token.id, token.text, self.specials))
        extra = (
            "" if abs(token.chosen_prob - token.prob) < 1e-6 else f", {percent(token.chosen_prob)} after the filters"
        )
        themed_text(
            self.title,
            "<b>Candidates for token {number}</b> "
            "<code style='background:{chip_bg}; color:{chip_fg}'>&nbsp;{label}&nbsp;</code><br>"
            "<span style='color:{muted}'>The model gave it {prob}{extra}.</span>",
            number=str(token.index + 1),
            label=label,
            prob=percent(token.prob),
            extra=extra,
        )
        self.bars.set_rows(candidate_rows(token, specials=self.specials))

    def labels(self) -> list[str]:
        """The row labels shown (visible-whitespace token texts), best first."""
        return self.bars.labels()
