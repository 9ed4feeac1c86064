"""Writing a file so that a crash never leaves half of it: a temporary file beside it, then a rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from playground.core.progress import UserError


def write_text_atomic(path: Path, text: str, what: str = "") -> None:
    """Write `text` (UTF-8) to `path` whole or not at all; a failure is a UserError naming `what` (or the file)."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False) as f:
            tmp = f.name
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise UserError(f"Could not write {what or path}: {e.strerror or e}.") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
