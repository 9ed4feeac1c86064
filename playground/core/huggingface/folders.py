"""Writing the folder an export or an import makes: refused where it would harm, written whole or not at all."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from safetensors import SafetensorError

from playground.core.files import atomic_folder

from .formats import ConversionError


def check_out(out: Path, overwrite: bool, sources: list[Path]) -> None:
    """ConversionError for an `out` that is a file, holds a source, or is not empty (unless `overwrite`)."""
    if out.exists() and not out.is_dir():
        raise ConversionError(f"{out} is a file: give a folder to write into.")
    resolved = out.resolve()
    for source in sources:
        source = source.resolve()
        if resolved == source or resolved in source.parents:
            raise ConversionError(f"{out} holds the model being converted: write into another folder.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConversionError(
            f"{out} is not empty: choose a new or empty folder, or allow replacing what is there "
            f"(--overwrite on the command line)."
        )


@contextmanager
def written_folder(out: Path, overwrite: bool) -> Iterator[Path]:
    """A temporary folder beside `out` to write into, swapped in for `out` when the block ends
    without error (`files.atomic_folder`: what `out` held is deleted only once the new one is there).

    A failure to write is a ConversionError saying nothing changed at `out`.
    """
    check_out(out, overwrite, sources=[])
    try:
        with atomic_folder(out) as tmp:
            yield tmp
    except (OSError, SafetensorError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise ConversionError(f"Could not write {out} ({reason}); nothing was changed there.") from e


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
