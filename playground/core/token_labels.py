"""How a token reads as a label: its spaces, line breaks and tabs made visible (no Qt, no NumPy)."""

from __future__ import annotations

from functools import lru_cache

MAX_LABEL_CHARS = 12


@lru_cache(maxsize=65536)  # the same tokens come back redraw after redraw (typing, generating)
def display_token(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """A token as a label: spaces as '␣', line breaks as '⏎', tabs as '⇥'; long ones shortened with '…'."""
    shown = text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", "⇥").replace(" ", "␣")
    if not shown:
        shown = "∅"
    if limit and len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown
