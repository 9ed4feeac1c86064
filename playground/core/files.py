"""Reading and writing a person's files safely.

Reading: every file a person names (a corpus, a tokenizer.json, a template, a
task, a run's JSON, a workspace) is opened with `open_regular`, which refuses
what is not a regular file (a named pipe would wait forever for a writer, a
device would never end) without blocking; JSON and TOML go through
`parse_json` / `parse_toml`, which turn every way a file can be wrong (not
UTF-8, not valid, nested thousands deep, a number of thousands of digits) into
a `UserError` sentence naming the file. A UTF-8 byte-order mark (Windows
Notepad writes one) is accepted.

Writing, in one place: a file or a folder is written under a temporary name
beside its target, synced to the disk, then renamed into place
(`atomic_file`, `write_bytes_atomic`, `write_text_atomic`, `atomic_folder`); a
folder that replaces another keeps the old one until the new one is there
(`replace_atomically`). A crash never leaves half a file or half a folder.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
import tempfile
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Mapping, Optional, Union

from playground.core.progress import UserError

PathLike = Union[str, os.PathLike]

# Far above any tokenizer.json (the biggest common ones are ~35 MB) or run file, far below what parsing
# into Python objects could hold in memory.
MAX_JSON_BYTES = 256 * 2**20
MAX_TOML_BYTES = 16 * 2**20
# No file this app reads nests more than ~10 levels; the tokenizers library stops at 128, Python's parser
# near 1,000, and a deep structure parsed here could still overflow the stack of code that walks it later.
MAX_DEPTH = 100
UTF8_BOM = b"\xef\xbb\xbf"


# -- regular files only ----------------------------------------------------------------------


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _refusal(path: Path, mode: int, what: str) -> UserError:
    if stat.S_ISDIR(mode):
        return UserError(f"{path} is a folder, not {what or 'a file'}.")
    return UserError(
        f"{path} is {_kind(mode)}, not a regular file: it is not read, because reading it could "
        f"wait forever. Choose an ordinary file{' (' + what + ')' if what else ''}."
    )


def is_regular(path: PathLike) -> bool:
    """True for a regular file (or a link to one); False for anything else, or nothing."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def check_regular(path: PathLike, what: str = "") -> None:
    """UserError unless `path` is a regular file (links are followed); `what` names what it should hold."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UserError(f"Could not read {path}: it does not exist.") from None
    except (OSError, ValueError) as e:
        raise UserError(f"Could not read {path}: {getattr(e, 'strerror', None) or e}.") from None
    if not stat.S_ISREG(mode):
        raise _refusal(path, mode, what)


def open_regular(path: PathLike, what: str = "") -> BinaryIO:
    """`path` opened for reading bytes; UserError for a missing file or one that is not regular.

    Checked before opening (opening a device may act) and again on the open file, which is opened
    without blocking, so a named pipe swapped in between is refused rather than waited on.
    """
    path = Path(path)
    check_regular(path, what)
    nonblock = getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_BINARY", 0))
    except OSError as e:
        raise UserError(f"Could not read {path}: {e.strerror or e}.") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refusal(path, mode, what)
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: PathLike, what: str, limit: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; UserError otherwise."""
    path = Path(path)
    try:
        with open_regular(path, what) as f:
            raw = f.read(limit + 1)
    except OSError as e:
        raise UserError(f"Could not read {path}: {e.strerror or e}.") from None
    if len(raw) > limit:
        raise UserError(f"{path} is too big to be {what}: it holds more than {_size(limit)}. Is it the right file?")
    return raw


def _size(n: int) -> str:
    return f"{n / 2**30:g} GB" if n >= 2**30 else f"{n / 2**20:g} MB"


# -- JSON and TOML ---------------------------------------------------------------------------


def _problem(source: str, what: Optional[str], phrase: str, hint: str = "") -> UserError:
    """'{source} is not {what}: it {phrase}.' or, without `what`, '{source} {phrase}.'"""
    sentence = f"{source} is not {what}: it {phrase}." if what else f"{source} {phrase}."
    return UserError(sentence + hint)


def _text(raw: Union[bytes, str], source: str, what: Optional[str], language: str, hint: str) -> str:
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    try:
        return raw.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError:
        raise _problem(source, what, f"is not valid {language}: it is not UTF-8 text", hint) from None


def _too_deep(data: Any) -> bool:
    """True when lists and tables nest more than MAX_DEPTH levels (walked level by level, without recursion)."""
    level = [data]
    for _ in range(MAX_DEPTH):
        deeper = []
        for value in level:
            for child in value.values() if type(value) is dict else value:
                if type(child) is list or type(child) is dict:  # what json and tomllib make
                    deeper.append(child)
        if not deeper:
            return False
        level = deeper
    return True


_DEEP = f"nests lists or tables more than {MAX_DEPTH} levels deep"
_LONG = "holds a number of thousands of digits, which no setting needs"


def _checked(data: Any, source: str, what: Optional[str], hint: str) -> Any:
    if isinstance(data, (dict, list)) and _too_deep(data):
        raise _problem(source, what, _DEEP, hint)
    return data


def parse_json(raw: Union[bytes, str], source: str, what: Optional[str] = None, hint: str = "") -> Any:
    """JSON from UTF-8 bytes or text (a byte-order mark is skipped); a UserError naming `source` otherwise.

    Message: "{source} is not {what}: it is not valid JSON (...)." (without `what`:
    "{source} is not valid JSON (...)."), then `hint`.
    """
    text = _text(raw, source, what, "JSON", hint)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        where = f"line {e.lineno}, column {e.colno}" if "\n" in text else f"column {e.colno}"
        raise _problem(source, what, f"is not valid JSON ({e.msg} at {where})", hint) from None
    except RecursionError:
        raise _problem(source, what, _DEEP, hint) from None
    except ValueError:  # an integer of more than 4,300 digits (sys.get_int_max_str_digits)
        raise _problem(source, what, _LONG, hint) from None
    return _checked(data, source, what, hint)


def parse_toml(raw: Union[bytes, str], source: str, what: Optional[str] = None, hint: str = "") -> dict:
    """TOML as `parse_json` reads JSON: every problem a UserError naming `source`."""
    text = _text(raw, source, what, "TOML", hint)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _problem(source, what, f"is not valid TOML ({e})", hint) from None
    except RecursionError:
        raise _problem(source, what, _DEEP, hint) from None
    except ValueError:
        raise _problem(source, what, _LONG, hint) from None
    return _checked(data, source, what, hint)


def read_json(path: PathLike, what: str, limit: int = MAX_JSON_BYTES, hint: str = "") -> Any:
    """Parse a JSON file (regular, at most `limit` bytes); `UserError` naming the file and `what` it should hold."""
    return parse_json(read_bytes(path, what, limit), str(path), what, hint)


def read_toml(path: PathLike, what: str, limit: int = MAX_TOML_BYTES, hint: str = "") -> dict:
    """Parse a TOML file as `read_json` does a JSON file."""
    return parse_toml(read_bytes(path, what, limit), str(path), what, hint)


# -- values read from a file ---------------------------------------------------------------------

# What a field of a record may hold; a trailing "?" allows null too.
_KINDS = {
    "count": "a whole number of at least 0",
    "number": "a finite number",
    "text": "text",
}


def _fits(value: Any, kind: str) -> bool:
    if kind == "count":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63
    if kind == "number":
        try:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        except OverflowError:  # an int too big for a float
            return False
    return isinstance(value, str)


def check_record(data: Mapping[str, Any], source: PathLike, fields: Mapping[str, str]) -> Any:
    """`data`, after checking each of `fields` it holds ({"step": "count", "val_loss": "number?"}).

    UserError naming `source` and the field for a value of the wrong kind, or not finite.
    """
    for key, kind in fields.items():
        if key not in data:
            continue
        value, optional = data[key], kind.endswith("?")
        if value is None and optional:
            continue
        if not _fits(value, kind.rstrip("?")):
            shown = short_repr(value)
            raise UserError(
                f"{source} is damaged: its {key} should be {_KINDS[kind.rstrip('?')]}"
                f"{' or null' if optional else ''}, not {shown}."
            )
    return data


def short_repr(value: Any, limit: int = 40) -> str:
    """A value from a stranger's file, shown short in a sentence."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return "a number of thousands of digits"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def same_file(a: Path, b: Path) -> bool:
    """True when `a` and `b` name one file (through links too); for a file not there yet, the same path."""
    try:
        return a.samefile(b)
    except OSError:
        return a.absolute() == b.absolute()


def free_folder(path: PathLike) -> Path:
    """`path`, or `path-2`, `path-3`, ... when it exists: a new folder never mixes with an older one."""
    path = Path(path)
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{n}")
        n += 1
    return candidate


def is_inside(path: Path, folder: Path) -> bool:
    """True when `path`, links followed, is `folder` or lies inside it."""
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


# -- writing ---------------------------------------------------------------------------------

TEMP_SUFFIX = ".tmp"  # what a file or folder being written is named with; copies and readers skip it
OLD_SUFFIX = ".old"  # a folder being replaced, kept until its successor is in place


def write_synced(path: Path, data: bytes) -> None:
    """Write `data` to `path` and wait until it is on the disk (before a rename publishes it)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def sync_file(path: Path) -> None:
    """Wait until a file written by someone else (a library that closes it itself) is on the disk."""
    with open(path, "r+b") as f:
        os.fsync(f.fileno())


def _sync_tree(folder: Path) -> None:
    """Every regular file under `folder` on the disk (before the folder is renamed into place)."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            sync_file(path)


def remove(path: Path) -> None:
    """Delete a file or a folder (and what it holds); nothing there is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def atomic_file(path: PathLike) -> Iterator[Path]:
    """A temporary name beside `path` to write by any means; synced and renamed to `path` when
    the block ends without error, deleted otherwise. Raises OSError as it comes."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        sync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all: a temporary name beside it, synced, then a rename.

    Raises OSError, so a caller can tell a full disk from other failures.
    """
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: Path, text: str, what: str = "") -> None:
    """Write `text` (UTF-8) to `path` whole or not at all; a failure is a UserError naming `what` (or the file)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, text.encode("utf-8"))
    except OSError as e:
        raise UserError(f"Could not write {what or path}: {e.strerror or e}.") from None


def replace_atomically(new: Path, final: Path, old: Optional[Path] = None) -> None:
    """Put `new` (a finished file or folder) where `final` is, keeping `final` until `new` is there.

    `final` is renamed to `old` (by default `.NAME.old` beside it), `new` to
    `final`, then `old` is deleted. If the second rename fails, `final` is put
    back and the error raised. A crash between the two renames leaves `old`
    whole: a reader may take it instead (a run's `last.old` checkpoint is read
    so). An `old` left by such a crash is deleted once `new` is in place.
    """
    new, final = Path(new), Path(final)
    old = Path(old) if old is not None else final.with_name(f".{final.name}{OLD_SUFFIX}")
    moved = False
    if final.exists() or final.is_symlink():
        remove(old)  # left by an earlier swap that stopped after its first rename: `final` is newer
        os.replace(final, old)
        moved = True
    try:
        os.replace(new, final)
    except BaseException:
        if moved and not final.exists():
            try:
                os.replace(old, final)
            except OSError:
                pass  # `old` is still there, whole
        raise
    try:
        remove(old)
    except OSError:
        pass  # the new one is in place; a leftover is deleted by the next swap


@contextmanager
def atomic_folder(final: PathLike, tmp: Optional[PathLike] = None, old: Optional[PathLike] = None) -> Iterator[Path]:
    """A temporary folder to fill; its files synced and the folder swapped in for `final`
    (`replace_atomically`) when the block ends without error, deleted otherwise.

    `tmp` and `old` fix the temporary names (a checkpoint's `last.tmp` and
    `last.old`); by default `tmp` is a fresh hidden folder beside `final`.
    Raises OSError (or whatever the block raises) with nothing changed at `final`.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if tmp is None:
        folder = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=TEMP_SUFFIX, dir=final.parent))
    else:
        folder = Path(tmp)
        remove(folder)  # left by a write that never finished
        folder.mkdir()
    try:
        yield folder
        _sync_tree(folder)
        replace_atomically(folder, final, None if old is None else Path(old))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
