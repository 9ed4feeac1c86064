"""Checking a stranger's zip before anything of it is written, and reading it within what it promised.

`check_zip` looks at the zip's own directory only: a name that climbs out or
is absolute, a link or another non-regular entry, encryption, an unknown
compression, too many members, a member or a total that would unpack too big,
a compression ratio only a zip bomb has, a name given twice, a file that other
members lie inside as in a folder. `read_member` and `copy_member` then never
take more bytes from a member than its header promised. Every refusal is a
`UserError` sentence; nothing here knows what the zip holds (a workspace).
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from pathlib import PurePosixPath, PureWindowsPath
from typing import BinaryIO, Iterator

from playground.core.progress import UserError

MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_TOTAL_BYTES = 2 * 2**30
MAX_ZIP_MEMBER_BYTES = 2 * 2**30
MAX_COMPRESSION_RATIO = 200  # a zip bomb expands thousands of times; real files far less
RATIO_CHECK_FROM_BYTES = 1 * 2**20  # tiny files may compress very well and harm nobody
MAX_MEMBER_NAME_CHARS = 400
ALLOWED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
COPY_CHUNK_BYTES = 1 << 20

NOTHING = "Nothing was extracted."
# What a damaged member raises while it is read.
READ_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, RuntimeError, ValueError)


def _is_absolute(name: str) -> bool:
    return PurePosixPath(name).is_absolute() or bool(PureWindowsPath(name).drive) or name.startswith("\\")


def member_parts(name: str) -> tuple[str, ...]:
    """The parts of a zip member's name; UserError for any name that could land outside its folder."""
    problem = None
    if not name or len(name) > MAX_MEMBER_NAME_CHARS:
        problem = "an empty or overlong name"
    elif "\x00" in name or "\\" in name:
        problem = "a name with a backslash or a NUL character"
    elif re.match(r"^[A-Za-z]:", name) or any(":" in part for part in name.split("/")):
        problem = "a drive letter or a colon"
    elif name.startswith("/") or _is_absolute(name):
        problem = "an absolute path"
    elif ".." in name.split("/"):
        problem = "a path that climbs out with '..'"
    if problem:
        raise UserError(
            f"The zip is refused: its member {name[:80]!r} has {problem}, which could write outside "
            f"the chosen folder. {NOTHING}"
        )
    return tuple(p for p in name.split("/") if p not in ("", "."))


def _check_kind(info: zipfile.ZipInfo) -> None:
    """Only regular files and folders: a link could point anywhere, a device or pipe is no file."""
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UserError(
            f"The zip is refused: {info.filename!r} is a symbolic link, which could point outside "
            f"the chosen folder. {NOTHING}"
        )
    kind = stat.S_IFMT(mode)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise UserError(
            f"The zip is refused: {info.filename!r} is not a regular file (a device, a pipe or a socket). {NOTHING}"
        )


def check_zip(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Every member of `zf`, checked from the zip's own directory before anything is read (see the module)."""
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UserError(
            f"The zip is refused: it holds {len(infos):,} members, more than a workspace ever has "
            f"({MAX_ZIP_MEMBERS:,}). {NOTHING}"
        )
    total, packed, seen, files = 0, 0, set(), set()
    for info in infos:
        parts = member_parts(info.filename)
        _check_kind(info)
        if info.flag_bits & 0x1:
            raise UserError(f"The zip is refused: {info.filename!r} is encrypted. {NOTHING}")
        if info.compress_type not in ALLOWED_COMPRESSION:
            raise UserError(
                f"The zip is refused: {info.filename!r} uses a compression this app does not read "
                f"(method {info.compress_type}). {NOTHING}"
            )
        key = "/".join(parts).lower()
        if key in seen:
            raise UserError(f"The zip is refused: it holds {info.filename!r} twice. {NOTHING}")
        seen.add(key)
        if not info.is_dir():
            files.add(key)
        if info.file_size > MAX_ZIP_MEMBER_BYTES:
            raise UserError(
                f"The zip is refused: {info.filename!r} would unpack to {info.file_size / 2**30:.1f} GB, "
                f"more than {MAX_ZIP_MEMBER_BYTES / 2**30:.0f} GB. {NOTHING}"
            )
        packed_size = max(1, info.compress_size)
        if info.file_size > RATIO_CHECK_FROM_BYTES and info.file_size > MAX_COMPRESSION_RATIO * packed_size:
            raise UserError(
                f"The zip is refused: {info.filename!r} would unpack {info.file_size // packed_size:,} "
                f"times bigger than it is packed, as only a zip bomb does. {NOTHING}"
            )
        total += info.file_size
        packed += info.compress_size
        if total > MAX_ZIP_TOTAL_BYTES:
            raise UserError(
                f"The zip is refused: it would unpack to more than {MAX_ZIP_TOTAL_BYTES / 2**30:.0f} GB. {NOTHING}"
            )
    # Many members that each stay under the check above add up: the whole archive's ratio counts too.
    if total > RATIO_CHECK_FROM_BYTES and total > MAX_COMPRESSION_RATIO * max(1, packed):
        raise UserError(
            f"The zip is refused: it would unpack {total // max(1, packed):,} times bigger than it is "
            f"packed ({packed / 2**20:.1f} MB to {total / 2**30:.2f} GB), as only a zip bomb does. "
            f"{NOTHING}"
        )
    for key in seen:
        names = key.split("/")  # not `parts`: that holds the member_parts tuple above
        clash = next(("/".join(names[:n]) for n in range(1, len(names)) if "/".join(names[:n]) in files), None)
        if clash is not None:
            raise UserError(
                f"The zip is refused: {clash!r} is a file, yet other members lie inside it as in a folder. {NOTHING}"
            )
    return infos


def _too_much(info: zipfile.ZipInfo) -> UserError:
    return UserError(f"The zip is refused: {info.filename} holds more than its header says. {NOTHING}")


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, zip_name: str) -> bytes:
    """The bytes of a (small) member, never more than its header promised."""
    try:
        with zf.open(info) as f:
            data = f.read(info.file_size + 1)
    except (*READ_ERRORS, OSError) as e:
        raise UserError(f"{zip_name} is damaged: {info.filename} could not be read ({e}).") from e
    if len(data) > info.file_size:
        raise _too_much(info)
    return data


def copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dst: BinaryIO, zip_name: str) -> Iterator[int]:
    """Copy a member into `dst` a chunk at a time, yielding each chunk's size; never more than promised.

    A generator, so the caller reports progress (and can stop) between chunks.
    """
    written = 0
    try:
        with zf.open(info) as src:
            while True:
                chunk = src.read(COPY_CHUNK_BYTES)
                if not chunk:
                    return
                written += len(chunk)
                if written > info.file_size:
                    raise _too_much(info)
                dst.write(chunk)
                yield len(chunk)
    except READ_ERRORS as e:
        raise UserError(f"{zip_name} is damaged: {info.filename} could not be unpacked ({e}). {NOTHING}") from e
