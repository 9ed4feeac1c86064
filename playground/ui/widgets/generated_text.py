"""Generated text token by token, each token shaded by the probability the model gave it.

The prompt comes first in plain grey; every new token is appended as it
arrives (never re-rendering what is there, so a thousand tokens stay fast),
as a span whose background runs from green (the model was sure) through
yellow to red (an unlikely draw). Thin white lines mark where tokens meet,
line breaks show as ↵, and clicking a token selects it (an outline) and
emits `token_selected`, so a chart can show what else the model considered.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Optional

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QLinearGradient, QPainter, QPen, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from playground.ui.themes import follow_look, font_scale, qcolour
from playground.ui.widgets.wrapped_placeholder import WrappedPlaceholderTextEdit

# (probability, colour role): the shade runs on a log scale between these stops.
PROB_STOPS = [(0.01, "prob_1"), (0.05, "prob_2"), (0.2, "prob_3"), (0.5, "prob_4"), (1.0, "prob_5")]
LEGEND_TICKS = [(0.01, "≤1%"), (0.05, "5%"), (0.2, "20%"), (1.0, "100%")]


def prob_colour(p: float) -> QColor:
    """The background for a token the model gave probability `p`."""
    x = math.log10(min(1.0, max(p, PROB_STOPS[0][0])))
    for (p0, c0), (p1, c1) in zip(PROB_STOPS, PROB_STOPS[1:]):
        x0, x1 = math.log10(p0), math.log10(p1)
        if x <= x1:
            t = (x - x0) / (x1 - x0)
            a, b = qcolour(c0), qcolour(c1)
            return QColor(
                round(a.red() + t * (b.red() - a.red())),
                round(a.green() + t * (b.green() - a.green())),
                round(a.blue() + t * (b.blue() - a.blue())),
            )
    return qcolour(PROB_STOPS[-1][1])


def percent(p: float) -> str:
    """A probability as a short percentage: 23%, 4.5%, 0.12%, <0.01%."""
    if p >= 0.1:
        return f"{100 * p:.0f}%"
    if p >= 0.01:
        return f"{100 * p:.1f}%"
    if p >= 0.0001:
        return f"{100 * p:.2f}%"
    return "<0.01%" if p > 0 else "0%"


def visible_token(text: str) -> str:
    """A token's text for a label: spaces as '␣', line breaks as '↵', tabs as '⇥', nothing as '∅'."""
    if text == "":
        return "∅"
    return text.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥").replace("\r", "␍")


def token_label(token_id: int, text: str, specials: Optional[dict] = None) -> str:
    """`visible_token`, except that special tokens (which decode to nothing) show their name."""
    if specials and token_id in specials:
        return specials[token_id]
    return visible_token(text)


def _display(text: str) -> str:
    """A token's text in the running view: line breaks stay line breaks but also show as ↵."""
    return text.replace("\r", "").replace("\t", "⇥\t").replace("\n", "↵\n")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def token_tooltip(token, specials: Optional[dict] = None) -> str:
    label = token_label(token.id, token.text, specials)
    lines = [
        f"<b>Token {token.index + 1}</b>: <code>{_escape(label)}</code> (id {token.id})",
        f"The model gave it <b>{percent(token.prob)}</b>.",
    ]
    if abs(token.chosen_prob - token.prob) > 1e-6:
        lines.append(f"After the settings reshaped the distribution it had {percent(token.chosen_prob)}.")
    if token.text == "" and not (specials and token.id in specials):
        lines.append("It is part of a character split across tokens: the character shows with the next token.")
    if token.stop_reason:
        lines.append(f"Generation stopped here: {_escape(token.stop_reason)}.")
    lines.append("<i>Click to see the other tokens it could have been.</i>")
    return "<br>".join(lines)


class ProbabilityLegend(QWidget):
    """The colour scale of the shading, with a caption."""

    CAPTION = "shade = probability"  # short, so it never cuts; the tooltip says the rest
    BAR_MIN = 150  # the colour bar's least width (at font scale 1)
    HEIGHT = 30  # at font scale 1: presentation mode's bigger ticks get a taller legend

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setFixedHeight(round(self.HEIGHT * font_scale()))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(
            "Each generated token is shaded by the probability the model gave it before any "
            "setting reshaped the distribution: green when it was sure, red when the token was "
            "an unlikely draw. Click a token to see the alternatives."
        )
        follow_look(self, self._follow_look)  # its ticks and caption are painted in the look's text colours

    def _follow_look(self) -> None:
        self.setFixedHeight(round(self.HEIGHT * font_scale()))
        self.update()

    def _caption_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(7.5, font.pointSizeF() - 1))
        return font

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Room for the shortest bar and the whole caption: the caption is never cut."""
        caption = QFontMetrics(self._caption_font()).horizontalAdvance(self.CAPTION)
        return QSize(6 + round(self.BAR_MIN * font_scale()) + 12 + caption + 6, round(self.HEIGHT * font_scale()))

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(self._caption_font())
        fm = painter.fontMetrics()
        caption_w = fm.horizontalAdvance(self.CAPTION) + 12
        scale = font_scale()
        bar_w = round(max(self.BAR_MIN * scale, min(240 * scale, self.width() - caption_w - 16)))
        x0, y0, h = 6, 3, round(10 * scale)
        gradient = QLinearGradient(x0, 0, x0 + bar_w, 0)
        lo, hi = math.log10(PROB_STOPS[0][0]), 0.0
        for p, role in PROB_STOPS:
            gradient.setColorAt((math.log10(p) - lo) / (hi - lo), qcolour(role))
        painter.setPen(QPen(qcolour("faint"), 0.8))
        painter.setBrush(gradient)
        painter.drawRoundedRect(QRectF(x0, y0, bar_w, h), 2, 2)
        painter.setPen(qcolour("muted"))
        for p, label in LEGEND_TICKS:
            x = x0 + bar_w * (math.log10(p) - lo) / (hi - lo)
            w = fm.horizontalAdvance(label)
            tx = min(max(x - w / 2, 0), x0 + bar_w - w)
            painter.drawText(QPoint(round(tx), y0 + h + fm.ascent() + 1), label)
        painter.setPen(qcolour("body"))
        painter.drawText(QPoint(x0 + bar_w + 12, y0 + h), self.CAPTION)
        painter.end()


class GeneratedTextView(WrappedPlaceholderTextEdit):
    """The prompt, then the generated tokens, appended one by one."""

    token_selected = Signal(object)  # the clicked GeneratedToken (None when the selection clears)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(11)
        self.setFont(font)
        self.document().setDocumentMargin(8)
        self._tokens: list = []
        self._starts: list[int] = []  # where each token's span starts in the document
        self._ends: list[int] = []
        self._selected: Optional[int] = None
        self._prompt = ""
        self._prompt_span = (0, 0, 0)  # where the cut part ends, and where the prompt ends, in the document
        self._cursor = QTextCursor(self.document())
        self.specials: dict[int, str] = {}  # token id -> what to show for a special token (it decodes to "")
        self.setPlaceholderText("The model's text appears here, one token at a time.")
        follow_look(self, self._recolour_prompt)

    # ------------------------------------------------------------------ content

    def clear_all(self) -> None:
        """Forget the prompt and every token."""
        self.clear()
        self._cursor = QTextCursor(self.document())
        self._tokens, self._starts, self._ends = [], [], []
        self._prompt = ""
        self._prompt_span = (0, 0, 0)
        if self._selected is not None:
            self._selected = None
            self.token_selected.emit(None)

    def set_prompt(self, text: str, cut: str = "", tooltip: str = "The prompt: the text the model continues.") -> None:
        """Start afresh with `text` (what the model reads) in grey; `cut`, the part of the
        prompt that did not fit the context, goes before it, struck through."""
        self.clear_all()
        self._prompt = text
        self._cursor.beginEditBlock()
        start = self._cursor.position()
        if cut:
            fmt = QTextCharFormat()
            fmt.setForeground(qcolour("ghost"))
            fmt.setFontStrikeOut(True)
            fmt.setToolTip("Cut: the model reads only its last tokens of context and never sees this part.")
            shown = cut if len(cut) <= 3000 else "…" + cut[-3000:]
            self._cursor.insertText(shown, fmt)
        cut_end = self._cursor.position()
        fmt = QTextCharFormat()
        fmt.setForeground(qcolour("muted"))
        fmt.setToolTip(tooltip)
        self._cursor.insertText(text, fmt)
        self._cursor.endEditBlock()
        self._prompt_span = (start, cut_end, self._cursor.position())
        self._scroll_to_end()  # where the tokens arrive, not the top of a long struck-through prompt

    def _scroll_to_end(self) -> None:
        # A long document may be laid out lazily: asking for the end's rectangle lays it out up to there,
        # so the scroll bar's range is the whole text before it moves.
        end = QTextCursor(self.document())
        end.movePosition(QTextCursor.MoveOperation.End)
        self.cursorRect(end)
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _recolour_prompt(self) -> None:
        """The prompt's greys for the new look (the tokens' shades are the same in every look)."""
        start, cut_end, end = self._prompt_span
        for a, b, role in ((start, cut_end, "ghost"), (cut_end, end, "muted")):
            if b > a:
                cursor = QTextCursor(self.document())
                cursor.setPosition(a)
                cursor.setPosition(b, QTextCursor.MoveMode.KeepAnchor)
                fmt = QTextCharFormat()
                fmt.setForeground(qcolour(role))
                cursor.mergeCharFormat(fmt)

    def append_token(self, token) -> None:
        """Add one token at the end, shaded by its probability."""
        bar = self.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        fmt = QTextCharFormat()
        fmt.setForeground(qcolour("on_pastel"))
        fmt.setBackground(prob_colour(token.prob))
        fmt.setAnchor(True)
        fmt.setAnchorHref(str(len(self._tokens)))
        start = self._cursor.position()
        if token.text:
            shown = _display(token.text)
        elif token.id in self.specials:
            shown = self.specials[token.id]
            fmt.setFontItalic(True)
        else:
            shown = "·"  # part of a character: the character itself comes with the next token
        self._cursor.insertText(shown, fmt)
        self._starts.append(start)
        self._ends.append(self._cursor.position())
        self._tokens.append(token)
        if at_bottom:
            self._scroll_to_end()

    def append_tokens(self, tokens) -> None:
        for token in tokens:
            self.append_token(token)

    def tokens(self) -> list:
        """Every generated token so far (GeneratedToken), in order."""
        return list(self._tokens)

    def token_count(self) -> int:
        return len(self._tokens)

    def prompt_text(self) -> str:
        return self._prompt

    def generated_text(self) -> str:
        """What the model wrote (without the prompt), exactly as decoded."""
        return "".join(t.text for t in self._tokens)

    def generated_ids(self) -> list[int]:
        return [t.id for t in self._tokens]

    # ------------------------------------------------------------------ selection

    @property
    def selected_index(self) -> Optional[int]:
        return self._selected

    def selected_token(self):
        return None if self._selected is None else self._tokens[self._selected]

    def select(self, index: Optional[int]) -> None:
        """Select token `index` (negative counts from the end; None clears) and say so."""
        if index is not None:
            if index < 0:
                index += len(self._tokens)
            if not 0 <= index < len(self._tokens):
                index = None
        self._selected = index
        if index is not None:
            cursor = QTextCursor(self.document())
            cursor.setPosition(self._starts[index])
            self.setTextCursor(cursor)
            self.ensureCursorVisible()
        self.viewport().update()
        self.token_selected.emit(self.selected_token())

    def index_at(self, pos: QPoint) -> Optional[int]:
        href = self.anchorAt(pos)
        if href.isdigit() and int(href) < len(self._tokens):
            return int(href)
        return None

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            index = self.index_at(event.position().toPoint())
            if index is not None:
                self.select(index)
                return
        super().mousePressEvent(event)

    def viewportEvent(self, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.ToolTip:
            index = self.index_at(event.pos())
            if index is not None:
                QToolTip.showText(event.globalPos(), token_tooltip(self._tokens[index], self.specials), self.viewport())
                return True
        return super().viewportEvent(event)

    # ------------------------------------------------------------------ drawing

    def _char_rect(self, position: int) -> Optional[QRect]:
        cursor = QTextCursor(self.document())
        cursor.setPosition(position)
        a = self.cursorRect(cursor)
        cursor.setPosition(position + 1)
        b = self.cursorRect(cursor)
        if b.top() != a.top() or b.left() <= a.left():
            return None  # a line break (or a wrap): no box of its own
        return QRect(a.left(), a.top(), b.left() - a.left(), a.height())

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if not self._tokens:
            return
        painter = QPainter(self.viewport())
        # Token boundaries: a thin white line where a token starts, for the visible tokens only.
        first = self.cursorForPosition(QPoint(0, 0)).position()
        last = self.cursorForPosition(QPoint(self.viewport().width(), self.viewport().height())).position()
        i = max(0, bisect_right(self._starts, first) - 1)
        j = min(len(self._starts), bisect_right(self._starts, last) + 1)
        painter.setPen(QPen(qcolour("token_edge"), 1.5))
        cursor = QTextCursor(self.document())
        for k in range(i, j):
            if self._starts[k] == self._ends[k]:
                continue
            cursor.setPosition(self._starts[k])
            r = self.cursorRect(cursor)
            painter.drawLine(r.left(), r.top() + 1, r.left(), r.bottom() - 1)
        # The selected token: an outline around each line it covers.
        if self._selected is not None:
            rows: dict[int, QRect] = {}
            for position in range(self._starts[self._selected], self._ends[self._selected]):
                char = self._char_rect(position)
                if char is not None:
                    rows[char.top()] = rows[char.top()].united(char) if char.top() in rows else char
            if not rows:  # a bare line break or an empty piece: mark where it is
                cursor.setPosition(self._starts[self._selected])
                r = self.cursorRect(cursor)
                rows[r.top()] = QRect(r.left(), r.top(), 8, r.height())
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(qcolour("token_outline"), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for r in rows.values():
                painter.drawRoundedRect(QRectF(r).adjusted(-1.5, -0.5, 1.5, 0.5), 3, 3)
        painter.end()
