"""The tokenizers kept between sessions: every trained one is saved in the data folder, and the
next launch reopens the newest few, with the one that was current made current again.

Which one was current is remembered in QSettings (its saved file), so a relaunch never silently
swaps the tokenizer the person was looking at for whichever was trained last.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings

from playground.core.progress import UserError
from playground.core.tokenization import LoadedTokenizer, open_tokenizer
from playground.engine.session import Session
from playground.paths import user_data_dir

CURRENT_KEY = "tokenizers/current"  # the saved file of the tokenizer that was current
RECENT_LIMIT = 4


def saved_tokenizers_dir() -> Path:
    return user_data_dir() / "tokenizers"


def autosave_tokenizer(tok: LoadedTokenizer) -> Optional[Path]:
    """Keep every trained tokenizer in the data folder, so closing the app loses none."""
    folder = saved_tokenizers_dir()
    slug = "".join("_" if c in '/\\:*?"<>|' else c for c in tok.name).strip()[:80]
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tok.save(path)
    except (OSError, UserError):
        return None
    tok.path = path
    return path


def recent_saved_tokenizers(limit: int = RECENT_LIMIT) -> list[Path]:
    folder = saved_tokenizers_dir()
    return sorted(folder.glob("*.json"))[-limit:] if folder.exists() else []


def remember_current(tok: Optional[LoadedTokenizer]) -> None:
    """Note the current tokenizer's saved file (a tokenizer with none, like the demo model's, clears it)."""
    path = tok.path if tok is not None else None
    saved = path is not None and path.parent == saved_tokenizers_dir()
    QSettings().setValue(CURRENT_KEY, str(path) if saved else "")


def remembered_current() -> Optional[Path]:
    value = str(QSettings().value(CURRENT_KEY, "", str) or "")
    return Path(value) if value else None


def reopen_saved_tokenizers(session: Session) -> str:
    """Add the newest saved tokenizers (and the remembered current one, however old) to `session`;
    make the remembered one current, else the newest. Returns a sentence for the status bar ("" if none)."""
    paths = recent_saved_tokenizers()
    current_path = remembered_current()
    if current_path is not None and current_path not in paths and current_path.is_file():
        paths = sorted([*paths, current_path])
    opened: list[LoadedTokenizer] = []
    current: Optional[LoadedTokenizer] = None
    for path in paths:
        try:
            tok = open_tokenizer(path)
        except UserError:
            continue  # a damaged file from an earlier session is skipped
        tok.name = path.stem.split("-", 2)[-1] or tok.name  # drop the date-time prefix
        tok.path = path
        session.add_tokenizer(tok, make_current=False)
        opened.append(tok)
        if path == current_path:
            current = tok
    if not opened:
        return ""
    count = f"{len(opened)} tokenizers" if len(opened) > 1 else "your tokenizer"
    which = f"{current.name} is current, as when you left" if current else f"the newest, {opened[-1].name}, is current"
    session.set_tokenizer(current or opened[-1])
    return f"Reopened {count} from earlier sessions; {which}."
