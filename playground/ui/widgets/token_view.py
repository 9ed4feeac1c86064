"""Text shown split into coloured tokens, like the Tiktokenizer web app.

Each token gets a background colour; hovering one tells its id, the
vocabulary entry and its bytes. Tokens that cover only part of a character
(byte-level BPE splits an emoji into four byte tokens) show their bytes; an
unknown token ([UNK], <unk>) is red and struck through: the model sees only
[UNK] where that text was.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent
from PySide6.QtGui import QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QToolTip

from playground.core.tokenization import TokenPiece
from playground.ui.themes import follow_look, qcolour
from playground.ui.widgets.wrapped_placeholder import WrappedPlaceholderTextEdit

# Soft colours that keep dark text readable, cycled token by token (their roles).
PALETTE = [f"token_{i}" for i in range(1, 9)]
TOKEN_PROPERTY = QTextCharFormat.Property.UserProperty + 1
MAX_TOKENS_SHOWN = 20_000


def visible_whitespace(text: str) -> str:
    """Spaces as '·', tabs as '→', line breaks as '↵' (and still a line break)."""
    return text.replace(" ", "·").replace("\t", "→\t").replace("\n", "↵\n")


def byte_label(raw: bytes) -> str:
    return " ".join(f"{b:02X}" for b in raw)


def readable_bytes(raw: bytes) -> str:
    """A token's bytes as text where they are whole characters, hex only where they are not:
    a space merged with the first bytes of '€' reads '·<E2 80>', not '<20 E2 80>'."""
    # surrogateescape turns each byte that is no whole character into U+DC80..U+DCFF.
    text = raw.decode("utf-8", errors="surrogateescape")
    parts = re.split(r"([\udc80-\udcff]+)", text)
    return "".join(
        f"<{byte_label(part.encode('utf-8', errors='surrogateescape'))}>" if i % 2 else visible_whitespace(part)
        for i, part in enumerate(parts)
    )


def piece_label(piece: TokenPiece, overlaps: bool, show_whitespace: bool = False) -> str:
    """What a token's chip shows: its slice of the text, or its bytes when it shares a character
    (whole characters among them as text, so a merged space shows as '·', not as '20')."""
    if piece.special:
        return piece.token
    text = piece.text
    if piece.partial or overlaps:
        try:
            text = piece.raw.decode("utf-8")
        except UnicodeDecodeError:
            return readable_bytes(piece.raw)
    return visible_whitespace(text) if show_whitespace else text


def piece_tooltip(piece: TokenPiece) -> str:
    kind = "special token" if piece.special else ("part of a character" if piece.partial else "token")
    if piece.unknown:
        kind = (
            f"unknown token: the vocabulary cannot write <code>{_escape(repr(piece.text))}</code>, "
            f"so the model sees only {_escape(piece.token)}"
        )
    return (
        f"<b>Token #{piece.index}</b> ({kind})<br>id <b>{piece.id}</b><br>"
        f"vocabulary entry <code>{_escape(repr(piece.token))}</code><br>"
        f"bytes <code>{byte_label(piece.raw) or '—'}</code> ({len(piece.raw)})<br>"
        f"characters {piece.start}–{piece.end}"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class TokenView(WrappedPlaceholderTextEdit):
    """Read-only view of text split into tokens."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(11)
        self.setFont(font)
        self.pieces: list[TokenPiece] = []
        self.show_whitespace = False
        self._text = ""
        self.setPlaceholderText("Tokens appear here.")
        follow_look(self, self._render)  # the dropped text's grey follows the look

    def set_tokens(self, text: str, pieces: list[TokenPiece]) -> None:
        self._text, self.pieces = text, pieces
        self._render()

    def set_show_whitespace(self, on: bool) -> None:
        self.show_whitespace = on
        self._render()

    def _render(self) -> None:
        self.clear()
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        gap_fmt = QTextCharFormat()
        gap_fmt.setForeground(qcolour("faint"))
        shown = self.pieces[:MAX_TOKENS_SHOWN]
        pos = 0
        for piece in shown:
            if not piece.special and piece.start > pos:
                # Text the tokenizer dropped (BERT and word-level drop spaces).
                cursor.insertText(self._show(self._text[pos : piece.start]), gap_fmt)
            overlaps = not piece.special and piece.start < pos
            fmt = QTextCharFormat()
            if piece.special:
                fmt.setBackground(qcolour("special_bg"))
                fmt.setForeground(qcolour("special_fg"))
            elif piece.unknown:
                fmt.setBackground(qcolour("unknown_bg"))
                fmt.setForeground(qcolour("unknown_fg"))
                fmt.setFontStrikeOut(True)
            else:
                fmt.setBackground(qcolour(PALETTE[piece.index % len(PALETTE)]))
                fmt.setForeground(qcolour("on_pastel"))
                if piece.partial or overlaps:
                    fmt.setFontItalic(True)
                    fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DotLine)
            fmt.setProperty(TOKEN_PROPERTY, piece.index)
            cursor.insertText(piece_label(piece, overlaps, self.show_whitespace) or "∅", fmt)
            pos = max(pos, piece.end)
        if len(self.pieces) > len(shown):
            cursor.insertText(f"\n… {len(self.pieces) - len(shown):,} more tokens not drawn", gap_fmt)
        elif pos < len(self._text):
            cursor.insertText(self._show(self._text[pos:]), gap_fmt)
        cursor.endEditBlock()

    def _show(self, text: str) -> str:
        return visible_whitespace(text) if self.show_whitespace else text

    def piece_at(self, pos) -> TokenPiece | None:
        cursor = self.cursorForPosition(pos)
        # The format left of the cursor belongs to the character under the mouse
        # only when the mouse is on its right half: look one to the right too.
        for step in (1, 0):
            c = QTextCursor(cursor)
            if step:
                c.movePosition(QTextCursor.MoveOperation.NextCharacter)
            index = c.charFormat().property(TOKEN_PROPERTY)
            if isinstance(index, int) and 0 <= index < len(self.pieces):
                rect = self.cursorRect(c)
                if abs(rect.center().y() - pos.y()) <= rect.height():
                    return self.pieces[index]
        return None

    def viewportEvent(self, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.ToolTip:
            piece = self.piece_at(event.pos())
            if piece is not None:
                QToolTip.showText(event.globalPos(), piece_tooltip(piece), self)
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)
