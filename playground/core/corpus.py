"""Corpora: the text a tokenizer and a model learn from.

A :class:`Corpus` names its text (files on disk and/or pasted text) without
holding the files in memory: everything streams in line-aligned chunks, so a
200 MB file costs a few MB of RAM. :func:`scan_corpus` (a job generator) measures a
corpus and finds what is wrong with it (binary files, bytes that are not UTF-8, nothing
to read) in sentences a person can act on.
"""

from __future__ import annotations

import ast
import codecs
import gzip
import os
import re
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, Optional, Union

from playground.core.files import is_regular, open_regular
from playground.core.progress import CancelToken, JobGenerator, Progress, UserError
from playground.paths import resources_dir

# Suffixes taken when a folder is opened; single files of any suffix may be opened.
TEXT_SUFFIXES = {
    ".txt",
    ".md",
    ".rst",
    ".py",
    ".text",
    ".csv",
    ".tsv",
    ".json",
    ".jsonl",
    ".html",
    ".htm",
    ".xml",
    ".tex",
    ".c",
    ".h",
    ".js",
    ".ts",
    ".java",
    ".rs",
    ".go",
    ".toml",
    ".yaml",
    ".yml",
    ".ini",
    ".cfg",
    ".log",
    ".srt",
    ".gz",
}
CHUNK_BYTES = 1 << 20
_ASCII = [chr(i) for i in range(128)]
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
SNIFF_BYTES = 8192
DEFAULT_CORPUS_FILE = "python-docs.txt.gz"


@dataclass(frozen=True)
class Corpus:
    """Text to learn from: files read lazily, plus text held in memory."""

    name: str
    files: tuple[Path, ...] = ()
    text: str = ""

    @property
    def size_bytes(self) -> int:
        """Bytes of text: files (uncompressed size for .gz) plus the in-memory text."""
        on_disk = sum(text_file_size(p) for p in self.files if p.exists())
        return on_disk + len(self.text.encode("utf-8"))

    def iter_text(self, cancel: Optional[CancelToken] = None) -> Iterator[str]:
        """Yield the whole corpus as line-aligned chunks of about 1 MB."""
        for path in self.files:
            yield from read_text_chunks(path, cancel=cancel)
        start = 0
        while start < len(self.text):
            if cancel is not None:
                cancel.raise_if_cancelled()
            end = start + CHUNK_BYTES
            if end < len(self.text):  # end at a line break, as file chunks do
                end = self.text.rfind("\n", start, end) + 1 or end
            yield self.text[start:end]
            start = end

    def read_text(self, limit_chars: Optional[int] = None) -> str:
        """The corpus as one string, stopping after ``limit_chars`` if given."""
        parts, count = [], 0
        for chunk in self.iter_text():
            parts.append(chunk)
            count += len(chunk)
            if limit_chars is not None and count >= limit_chars:
                break
        text = "".join(parts)
        return text if limit_chars is None else text[:limit_chars]


@dataclass(frozen=True)
class CorpusStats:
    """What a scan of a corpus found."""

    size_bytes: int
    characters: int
    lines: int
    alphabet: str  # every distinct character, sorted
    warnings: tuple[str, ...] = ()

    @property
    def distinct_characters(self) -> int:
        return len(self.alphabet)


# --------------------------------------------------------------------------- reading


def is_binary(head: bytes) -> bool:
    """True when the first bytes of a file look like binary data, not text."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    # Text has few control characters besides tab, newline, carriage return, form feed.
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return len(head) > 0 and controls / len(head) > 0.1


def text_file_size(path: Path) -> int:
    """Size of the text in ``path``; for .gz the uncompressed size from its trailer."""
    size = path.stat().st_size
    if path.suffix == ".gz" and size >= 18 and is_regular(path):
        with open(path, "rb") as f:
            f.seek(-4, os.SEEK_END)
            return int.from_bytes(f.read(4), "little")  # ISIZE: exact below 4 GB
    return size


# What _open_bytes yields: the open file itself, or a gzip reader over it.
_ByteStream = Union[BinaryIO, gzip.GzipFile]


@contextmanager
def _open_bytes(path: Path) -> Iterator[_ByteStream]:
    """The file's bytes (uncompressed for .gz); a UserError, never a wait, for what is not a regular file."""
    with open_regular(path, "text") as raw:
        if path.suffix == ".gz":
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                yield f
        else:
            yield raw


def _read(f: _ByteStream, n: int, path: Path) -> bytes:
    """Up to `n` bytes; a damaged or cut-short .gz is a UserError sentence."""
    try:
        return f.read(n)
    except EOFError:
        raise UserError(
            f"{path.name} is cut short: the compressed file ends before its end-of-stream marker "
            "(it may not have been copied whole). Copy it again, or choose another file."
        ) from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise UserError(f"{path.name} is damaged: it is not a valid gzip file ({e}).") from None
    except OSError as e:
        raise UserError(f"{path.name} could not be read: {e.strerror or e}.") from None


def check_text_file(path: Path) -> None:
    """Raise :class:`UserError` unless ``path`` is a readable text file."""
    if not path.exists():
        raise UserError(f"{path} does not exist.")
    if path.is_dir():
        raise UserError(f"{path} is a folder; open it with “Open folder…”.")
    with _open_bytes(path) as f:
        head = _read(f, SNIFF_BYTES, path)
    if is_binary(head):
        raise UserError(
            f"{path.name} looks like a binary file (images, archives and programs are "
            "not text). Choose a text file such as .txt, .md or .py."
        )


def read_text_chunks(
    path: Path,
    cancel: Optional[CancelToken] = None,
    on_invalid_utf8: Optional[Callable[[int], None]] = None,
    on_bytes: Optional[Callable[[int], None]] = None,
) -> Iterator[str]:
    """Stream a text file as line-aligned string chunks.

    UTF-8 is assumed (a UTF-8 or UTF-16 byte-order mark is honoured). Bytes
    that are not valid UTF-8 become U+FFFD; ``on_invalid_utf8`` hears the file
    offset of the first one. ``on_bytes`` hears how many raw bytes were read.
    """
    with _open_bytes(path) as f:
        head = _read(f, 4, path)
        if head.startswith(codecs.BOM_UTF8):
            encoding, skip = "utf-8", 3
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            # The byte order named explicitly: the decoder is replaced after a bad
            # byte, and a fresh "utf-16" decoder would no longer know the BOM.
            encoding = "utf-16-le" if head.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
            skip = 2
        else:
            encoding, skip = "utf-8", 0
        pending_raw = head[skip:]
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        offset, reported, carry = skip, False, ""
        if on_bytes is not None and skip:
            on_bytes(skip)  # the rest of ``head`` is counted with the first chunk
        while True:
            if cancel is not None:
                cancel.raise_if_cancelled()
            raw = pending_raw + _read(f, CHUNK_BYTES, path)
            pending_raw = b""
            final = len(raw) == 0
            try:
                text = decoder.decode(raw, final=final)
            except UnicodeDecodeError as e:
                if not reported and on_invalid_utf8 is not None:
                    buffered = len(decoder.getstate()[0])
                    on_invalid_utf8(max(0, offset - buffered + e.start))
                reported = True
                buffered_bytes = decoder.getstate()[0]
                decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
                text = decoder.decode(buffered_bytes + raw, final=final)
            offset += len(raw)
            if on_bytes is not None and raw:
                on_bytes(len(raw))
            text = carry + text
            if final:
                if text:
                    yield text
                return
            cut = text.rfind("\n") + 1 or text.rfind(" ") + 1
            if cut == 0 and len(text) < 4 * CHUNK_BYTES:
                carry = text  # no line break yet: wait for more
                continue
            cut = cut or len(text)
            carry = text[cut:]
            if cut:
                yield text[:cut]


# --------------------------------------------------------------------------- building corpora


def corpus_from_text(text: str, name: str = "Pasted text") -> Corpus:
    return Corpus(name=name, text=text)


def corpus_from_paths(paths: Iterable[os.PathLike | str]) -> Corpus:
    """A corpus of files and folders (folders: their text files, recursively).

    Raises :class:`UserError` for a missing or binary file that was named
    directly; binary files found inside a folder are skipped.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in TEXT_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            kept = 0
            for p in found:
                try:
                    check_text_file(p)
                except UserError:
                    continue
                files.append(p)
                kept += 1
            if not kept:
                raise UserError(
                    f"The folder {path.name} holds no text files "
                    f"(looked for {', '.join(sorted(TEXT_SUFFIXES)[:6])}, …"
                    + (f"; {len(found)} had such a name but held binary data" if found else "")
                    + ")."
                )
        else:
            check_text_file(path)
            files.append(path)
    if not files:
        raise UserError("No text files were chosen.")
    name = files[0].name if len(files) == 1 else f"{len(files)} files"
    return Corpus(name=name, files=tuple(files))


def default_corpus_path() -> Path:
    return resources_dir() / "corpora" / DEFAULT_CORPUS_FILE


def default_corpus() -> Corpus:
    """The corpus that ships with the app: Python's own documentation text."""
    return Corpus(name="Python docs (built-in)", files=(default_corpus_path(),))


# --------------------------------------------------------------------------- scanning


def scan_corpus(corpus: Corpus, *, cancel: Optional[CancelToken] = None) -> JobGenerator[CorpusStats]:
    """Count bytes, characters, lines and distinct characters, streaming: a job
    generator that yields progress after each chunk read and returns the stats.

    Raises :class:`UserError` when there is nothing to learn from.
    """
    total = max(1, corpus.size_bytes)
    done = 0
    warnings: list[str] = []
    seen: set[str] = set()
    characters = lines = 0
    last_char = ""

    def count_bytes(n: int) -> None:
        nonlocal done
        done += n

    def read_so_far() -> Progress:
        return Progress(min(1.0, done / total), f"Reading {done / 1e6:.1f} of {total / 1e6:.1f} MB")

    def measure(chunk: str) -> None:
        nonlocal characters, lines, last_char
        characters += len(chunk)
        lines += chunk.count("\n")
        # Distinct characters without visiting each one in Python: a C-speed search for each ASCII
        # character, and a regex for the rest (twice as fast as set(chunk), and no numpy to import).
        seen.update(c for c in _ASCII if c not in seen and c in chunk)
        seen.update(_NON_ASCII.findall(chunk))
        last_char = chunk[-1]

    for path in corpus.files:

        def invalid(offset: int, path: Path = path) -> None:
            warnings.append(
                f"{path.name} is not valid UTF-8 (first bad byte at offset {offset:,}); "
                "those bytes were replaced by �. Save the file as UTF-8 for exact results."
            )

        for chunk in read_text_chunks(path, cancel, on_invalid_utf8=invalid, on_bytes=count_bytes):
            measure(chunk)
            yield read_so_far()
    if corpus.text:
        measure(corpus.text)
        count_bytes(len(corpus.text.encode("utf-8")))
    yield read_so_far()
    if characters and last_char != "\n":
        lines += 1
    if characters == 0 or not (corpus.text.strip() or any(not c.isspace() for c in seen)):
        raise UserError(
            "The corpus is empty: there is no text to learn from. Open a text file or "
            "folder, paste some text, or go back to the built-in corpus."
        )
    return CorpusStats(
        size_bytes=corpus.size_bytes,
        characters=characters,
        lines=lines,
        alphabet="".join(sorted(seen)),
        warnings=tuple(warnings),
    )


def open_corpus(
    make_corpus: Callable[[], Corpus], *, cancel: Optional[CancelToken] = None
) -> JobGenerator[tuple[Corpus, CorpusStats]]:
    """Make a corpus and scan it: the job behind opening files, a folder, pasted text or the built-in corpus.

    ``make_corpus`` (``default_corpus``, or ``corpus_from_paths`` with its paths bound) runs in
    the job too: finding a folder's text files and refusing binary ones reads the disk.
    """
    corpus = make_corpus()
    stats = yield from scan_corpus(corpus, cancel=cancel)
    return corpus, stats


# --------------------------------------------------------------------------- the default corpus


def build_default_corpus_text() -> str:
    """Gather English prose that ships with Python: pydoc topics and docstrings.

    Used once to write ``resources/corpora/python-docs.txt.gz`` (see
    ``scripts/build_default_corpus.py``); modules are parsed, never imported.
    """
    import pydoc_data.topics as topics
    import sysconfig

    parts = [topics.topics[key].strip() for key in sorted(topics.topics)]
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo", "__pycache__"}
    for path in sorted(stdlib.rglob("*.py")):
        if skip & set(path.relative_to(stdlib).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= 40:
                    parts.append(doc.strip())
    return "\n\n".join(parts) + "\n"
