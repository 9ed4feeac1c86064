"""Corpora: what a scan finds, how files stream, and a sentence for every bad input."""

from __future__ import annotations

import codecs
import gzip
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from run_job import run_job  # tests/ is on sys.path

from playground.core.corpus import (
    CHUNK_BYTES,
    check_text_file,
    corpus_from_paths,
    corpus_from_text,
    default_corpus,
    default_corpus_path,
    read_text_chunks,
    scan_corpus,
    text_file_size,
)
from playground.core.progress import Cancelled, CancelToken, UserError, run_quietly
from playground.core.tokenization import spec_for_kind, train_tokenizer

PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(
    range(256)
)


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8"))
    else:
        path.write_bytes(data)
    return path


def varied_lines(n: int) -> str:
    """``n`` lines of different lengths (some long, some empty), ASCII with a few accents."""
    words = ["alpha", "beta", "gamma", "café", "naïve", "x", "tokenizer", "merge", "byte", "—"]
    return "".join(" ".join(words[(i + j) % len(words)] for j in range(i % 37)) + "\n" for i in range(n))


# --------------------------------------------------------------------------- the built-in corpus


def test_default_corpus_scans():
    corpus = default_corpus()
    stats = run_quietly(scan_corpus(corpus))
    raw = gzip.decompress(default_corpus_path().read_bytes())
    assert stats.size_bytes == corpus.size_bytes == len(raw) > default_corpus_path().stat().st_size
    assert stats.characters == len(raw.decode("utf-8")) > 100_000
    assert stats.lines == raw.count(b"\n") > 1000
    assert stats.distinct_characters > 50
    assert set("abcxyzABC.,()") <= set(stats.alphabet)
    assert stats.alphabet == "".join(sorted(stats.alphabet))
    assert stats.warnings == ()


def test_gz_corpus_size_is_uncompressed_size(tmp_path):
    text = "the same line again and again\n" * 5000
    path = tmp_path / "notes.txt.gz"
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    assert path.stat().st_size < len(text) // 10
    assert text_file_size(path) == len(text)
    corpus = corpus_from_paths([path])
    assert corpus.size_bytes == len(text)
    assert corpus.read_text() == text
    stats = run_quietly(scan_corpus(corpus))
    assert (stats.size_bytes, stats.characters, stats.lines) == (len(text), len(text), 5000)


# --------------------------------------------------------------------------- files, folders, pasted text


def test_single_file(tmp_path):
    path = write(tmp_path / "story.txt", "Once upon a time\nthere was a token.")
    corpus = corpus_from_paths([str(path)])
    assert corpus.name == "story.txt" and corpus.files == (path,)
    stats = run_quietly(scan_corpus(corpus))
    assert stats.characters == 35
    assert stats.lines == 2  # the last line has no line break but still counts
    assert stats.alphabet == "".join(sorted(set("Once upon a time\nthere was a token.")))


def test_folder_takes_text_files_and_skips_binary_and_hidden(tmp_path):
    folder = tmp_path / "notes"
    a = write(folder / "a.txt", "first file\n")
    b = write(folder / "b.md", "# second\n")
    c = write(folder / "sub" / "c.py", "print('third')\n")
    write(folder / "image.png", PNG_BYTES)  # not a text suffix
    write(folder / "fake.txt", PNG_BYTES)  # text suffix, binary content
    write(folder / ".git" / "config.txt", "hidden\n")  # inside a hidden folder
    write(folder / "data.bin", "not a text suffix\n")
    corpus = corpus_from_paths([folder])
    assert corpus.files == (a, b, c)
    assert corpus.name == "3 files"
    stats = run_quietly(scan_corpus(corpus))
    assert stats.characters == len("first file\n# second\nprint('third')\n")
    assert stats.lines == 3


def test_files_and_folders_together(tmp_path):
    single = write(tmp_path / "one.txt", "one\n")
    folder = tmp_path / "more"
    write(folder / "two.txt", "two\n")
    write(folder / "three.txt", "three\n")
    corpus = corpus_from_paths([single, folder])
    assert corpus.files == (single, folder / "three.txt", folder / "two.txt")
    assert corpus.read_text() == "one\nthree\ntwo\n"
    assert run_quietly(scan_corpus(corpus)).lines == 3


def test_pasted_text():
    corpus = corpus_from_text("Hello\nwörld 🙂")
    assert corpus.name == "Pasted text" and corpus.files == ()
    assert corpus.size_bytes == len("Hello\nwörld 🙂".encode("utf-8")) == 17
    stats = run_quietly(scan_corpus(corpus))
    assert (stats.characters, stats.lines, stats.size_bytes) == (13, 2, 17)
    assert set(stats.alphabet) == set("Helowrdö🙂\n ")


# --------------------------------------------------------------------------- bad inputs


def test_empty_file_is_an_empty_corpus(tmp_path):
    corpus = corpus_from_paths([write(tmp_path / "empty.txt", b"")])
    with pytest.raises(UserError, match="empty.*no text to learn from"):
        run_quietly(scan_corpus(corpus))


@pytest.mark.parametrize("text", ["", "   \n\t\n  ", "\n" * 1000])
def test_whitespace_only_text_is_an_empty_corpus(text):
    with pytest.raises(UserError, match="empty"):
        run_quietly(scan_corpus(corpus_from_text(text)))


def test_whitespace_only_file_is_an_empty_corpus(tmp_path):
    with pytest.raises(UserError, match="empty"):
        run_quietly(scan_corpus(corpus_from_paths([write(tmp_path / "blank.txt", " \n \r\n\t\n")])))


def test_binary_file_named_directly(tmp_path):
    path = write(tmp_path / "photo.txt", PNG_BYTES)
    with pytest.raises(UserError) as info:
        corpus_from_paths([path])
    message = str(info.value)
    assert "photo.txt" in message and "binary" in message and ".txt" in message


def test_control_characters_count_as_binary(tmp_path):
    path = write(tmp_path / "noise.log", bytes([1, 2, 3, 4, 5, 6, 7, 8]) * 100)
    with pytest.raises(UserError, match="binary"):
        check_text_file(path)


def test_missing_path(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        corpus_from_paths([tmp_path / "nowhere.txt"])


def test_folder_with_no_text_files(tmp_path):
    folder = tmp_path / "pictures"
    write(folder / "a.png", PNG_BYTES)
    write(folder / "b.jpg", b"\xff\xd8\xff\xe0" + bytes(100))
    with pytest.raises(UserError, match="pictures holds no text files"):
        corpus_from_paths([folder])
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(UserError, match="empty-folder holds no text files"):
        corpus_from_paths([empty])


def test_folder_whose_text_files_are_all_binary(tmp_path):
    folder = tmp_path / "odd"
    write(folder / "a.txt", PNG_BYTES)
    write(folder / "b.md", PNG_BYTES)
    with pytest.raises(UserError) as info:
        corpus_from_paths([folder])
    assert "odd holds no text files" in str(info.value)
    assert "2 had such a name but held binary data" in str(info.value)


def test_nothing_chosen():
    with pytest.raises(UserError, match="No text files"):
        corpus_from_paths([])


# --------------------------------------------------------------------------- encodings


def test_latin1_bytes_warn_with_file_and_offset(tmp_path):
    path = write(tmp_path / "menu.txt", "Menu\nCafé au lait\n".encode("latin-1"))
    stats = run_quietly(scan_corpus(corpus_from_paths([path])))
    assert len(stats.warnings) == 1
    warning = stats.warnings[0]
    assert "menu.txt" in warning and "not valid UTF-8" in warning and "offset 8" in warning
    assert corpus_from_paths([path]).read_text() == "Menu\nCaf\ufffd au lait\n"
    assert "\ufffd" in stats.alphabet and stats.characters == len("Menu\nCafé au lait\n")


def test_bad_byte_offset_is_exact_in_a_later_chunk(tmp_path):
    """The offset counts bytes from the file start, across chunk boundaries."""
    good = ("ok line\n" * (CHUNK_BYTES // 8 * 2)).encode()
    bad_at = len(good) + 3
    path = write(tmp_path / "late.txt", good + b"abc\xe9def\n" + b"more \xff\n")
    offsets = []
    text = "".join(read_text_chunks(path, on_invalid_utf8=offsets.append))
    assert offsets == [bad_at]  # only the first bad byte is reported
    assert text.endswith("abc\ufffddef\nmore \ufffd\n")
    assert f"offset {bad_at:,}" in run_quietly(scan_corpus(corpus_from_paths([path]))).warnings[0]


def test_truncated_character_at_end_of_file(tmp_path):
    path = write(tmp_path / "cut.txt", b"abc\xc3")
    offsets = []
    assert "".join(read_text_chunks(path, on_invalid_utf8=offsets.append)) == "abc\ufffd"
    assert offsets == [3]


def test_character_split_by_a_chunk_boundary_is_not_an_error(tmp_path):
    # The first read is 4 bytes of sniffing plus CHUNK_BYTES: put 'é' across that boundary.
    boundary = 4 + CHUNK_BYTES
    data = b"a" * (boundary - 1) + "é\n".encode() + b"tail\n"
    path = write(tmp_path / "split.txt", data)
    stats = run_quietly(scan_corpus(corpus_from_paths([path])))
    assert stats.warnings == ()
    assert corpus_from_paths([path]).read_text() == data.decode("utf-8")


def test_utf8_bom_is_dropped(tmp_path):
    path = write(tmp_path / "bom.txt", codecs.BOM_UTF8 + "héllo\nwörld\n".encode())
    corpus = corpus_from_paths([path])
    assert corpus.read_text() == "héllo\nwörld\n"
    stats = run_quietly(scan_corpus(corpus))
    assert stats.warnings == () and stats.characters == 12 and "\ufeff" not in stats.alphabet


@pytest.mark.parametrize("encoding, bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE)])
def test_utf16_with_bom(tmp_path, encoding, bom):
    text = "héllo 🙂\nwörld\n" * 100_000  # ~3 MB in UTF-16: several chunks
    path = write(tmp_path / "wide.txt", bom + text.encode(encoding))
    corpus = corpus_from_paths([path])  # NUL bytes, but not binary: the BOM says so
    assert corpus.read_text() == text
    stats = run_quietly(scan_corpus(corpus))
    assert stats.warnings == ()
    assert (stats.characters, stats.lines) == (len(text), 200_000)
    assert set(stats.alphabet) == set(text)


def test_bytes_reported_add_up_to_the_file_size(tmp_path):
    """Progress counts each byte once (the sniffed head was once counted twice)."""
    for name, data in [
        ("plain.txt", b"abc\n" * 1000),
        ("bom.txt", codecs.BOM_UTF8 + b"abc\n" * 1000),
        ("wide.txt", "abc\n".encode("utf-16")),
        ("tiny.txt", b"ab"),
    ]:
        path = write(tmp_path / name, data)
        counted = []
        list(read_text_chunks(path, on_bytes=counted.append))
        assert sum(counted) == len(data), name


# --------------------------------------------------------------------------- chunking


def test_file_chunks_are_line_aligned(tmp_path):
    text = varied_lines(40_000)
    assert len(text.encode()) > 2.5 * CHUNK_BYTES
    path = write(tmp_path / "long.txt", text)
    chunks = list(corpus_from_paths([path]).iter_text())
    assert len(chunks) >= 3
    assert all(chunk.endswith("\n") for chunk in chunks[:-1])
    assert "".join(chunks) == text
    assert max(len(c) for c in chunks) <= 2 * CHUNK_BYTES


def test_last_chunk_may_lack_a_line_break(tmp_path):
    text = varied_lines(30_000) + "no newline at the end"
    chunks = list(corpus_from_paths([write(tmp_path / "f.txt", text)]).iter_text())
    assert chunks[-1].endswith("no newline at the end")
    assert all(chunk.endswith("\n") for chunk in chunks[:-1])
    assert "".join(chunks) == text


def test_pasted_text_chunks_are_line_aligned():
    text = varied_lines(40_000)
    chunks = list(corpus_from_text(text).iter_text())
    assert len(chunks) >= 2
    assert all(chunk.endswith("\n") for chunk in chunks[:-1])
    assert "".join(chunks) == text


def test_read_text_limit(tmp_path):
    text = varied_lines(30_000)
    corpus = corpus_from_paths([write(tmp_path / "f.txt", text)])
    assert corpus.read_text(limit_chars=1000) == text[:1000]
    assert corpus.read_text() == text


def test_cancel_stops_reading_and_scanning(tmp_path):
    corpus = corpus_from_paths([write(tmp_path / "f.txt", varied_lines(30_000))])
    token = CancelToken()
    chunks = corpus.iter_text(token)
    next(chunks)
    token.cancel()
    with pytest.raises(Cancelled):
        next(chunks)
    with pytest.raises(Cancelled):
        run_quietly(scan_corpus(corpus, cancel=token))


# --------------------------------------------------------------------------- a 200 MB file


BIG_BLOCKS = 200


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A ~200 MB text file, written as 200 copies of a 1 MB block of whole lines."""
    line_set = [
        "The quick brown fox jumps over the lazy dog; 0123456789.\n",
        "Tokenizers learn merges from frequent pairs of symbols.\n",
        "Une phrase en français, avec des accents : café, naïve, où.\n",
        "\n",
        "Emoji too 🙂 and dashes — and tabs\there.\n",
    ]
    lines, size = [], 0
    while size < CHUNK_BYTES - 200:
        line = line_set[len(lines) % len(line_set)]
        lines.append(line)
        size += len(line.encode())
    block_text = "".join(lines)
    block = block_text.encode()
    path = tmp_path_factory.mktemp("big") / "big.txt"
    with open(path, "wb") as f:
        for _ in range(BIG_BLOCKS):
            f.write(block)
    yield path, block_text
    path.unlink()  # 200 MB: do not leave it among pytest's kept temporary folders


def test_scan_200_mb_streams_with_little_memory(big_file):
    path, block_text = big_file
    corpus = corpus_from_paths([path])
    fractions = []
    tracemalloc.start()
    try:
        started = time.monotonic()
        reports: list = []
        stats = run_job(scan_corpus(corpus), reports)
        fractions.extend(p.fraction for p in reports)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    block_bytes = len(block_text.encode())
    assert stats.size_bytes == BIG_BLOCKS * block_bytes > 190_000_000
    assert stats.characters == BIG_BLOCKS * len(block_text)
    assert stats.lines == BIG_BLOCKS * block_text.count("\n")
    assert stats.alphabet == "".join(sorted(set(block_text)))
    assert stats.warnings == ()
    assert len(fractions) >= BIG_BLOCKS
    assert all(b >= a for a, b in zip(fractions, fractions[1:]))
    assert fractions[0] < 0.05 and fractions[-1] == pytest.approx(1.0)
    assert peak < 50e6, f"peak Python memory {peak / 1e6:.1f} MB while streaming 200 MB"
    assert elapsed < 60, f"scanning 200 MB took {elapsed:.1f} s"


def test_train_on_200_mb_and_cancel(big_file):
    path, _ = big_file
    corpus = corpus_from_paths([path])
    token = CancelToken()
    reports = []
    cancelled_at = []

    def cancel_now():
        cancelled_at.append(time.monotonic())
        token.cancel()

    timer = threading.Timer(1.0, cancel_now)
    timer.start()
    try:
        with pytest.raises(Cancelled):
            run_job(train_tokenizer(corpus, spec_for_kind("bpe", vocab_size=5000), cancel=token), reports)
        returned_at = time.monotonic()
    finally:
        timer.cancel()
    assert cancelled_at, "the training ended before Cancel was pressed"
    assert returned_at - cancelled_at[0] < 2.0
    assert reports, "the worker reported no progress in its first second"


# --------------------------------------------------------------------------- the jobs


def test_scanning_reports_each_chunk_then_the_whole(tmp_path):
    corpus = corpus_from_paths([write(tmp_path / "f.txt", varied_lines(60_000))])
    reports: list = []
    stats = run_job(scan_corpus(corpus), reports)
    assert stats.characters > 2 * CHUNK_BYTES  # several chunks
    assert len(reports) >= 3 and reports[-1].fraction == pytest.approx(1.0)
    assert reports[0].message.startswith("Reading ") and reports[0].fraction < reports[-1].fraction


def test_opening_a_corpus_makes_it_in_the_job_and_scans_it(tmp_path):
    from functools import partial

    from playground.core.corpus import open_corpus

    text_file = write(tmp_path / "f.txt", varied_lines(500))
    made = []

    def make():
        made.append(True)
        return corpus_from_paths([text_file])

    job = open_corpus(make)
    assert not made  # nothing is read before the job runs
    corpus, stats = run_quietly(job)
    assert made and corpus.files == (text_file,) and stats.lines == 500
    binary = tmp_path / "picture.png"
    binary.write_bytes(PNG_BYTES)
    with pytest.raises(UserError, match="binary"):
        run_quietly(open_corpus(partial(corpus_from_paths, [binary])))
