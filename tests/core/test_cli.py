"""The command line: train and encode as a workshop script would, and fail politely."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from playground import __version__

ROOT = Path(__file__).resolve().parents[2]


def playground(*args: str, timeout: float = 120, encoding: str = "utf-8") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run(
        [sys.executable, "-m", "playground", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding=encoding,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "corpus.txt"
    lines = [f"hello world number {i}, the quick brown fox jumps over the lazy dog.\n" for i in range(2000)]
    path.write_text("".join(lines) + "café naïve 🙂\n", encoding="utf-8")
    return path


def test_version():
    result = playground("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"LLM Playground {__version__}"


def test_train_then_encode(tmp_path, small_corpus):
    out = tmp_path / "tok.json"
    trained = playground(
        "tokenizer", "train", "--corpus", small_corpus, "--kind", "bpe", "--vocab-size", 300, "--out", out
    )
    assert trained.returncode == 0, trained.stderr
    assert "Trained Byte-level BPE" in trained.stderr and "300 tokens" in trained.stderr
    assert out.exists() and not out.with_name("tok.json.tmp").exists()
    library = Tokenizer.from_file(str(out))
    assert library.get_vocab_size() == 300

    for text in ["hello world", "café 🙂 naïve"]:
        encoded = playground("tokenizer", "encode", "--tokenizer", out, text)
        assert encoded.returncode == 0, encoded.stderr
        result = json.loads(encoded.stdout)
        expected = library.encode(text)
        assert result == {"ids": expected.ids, "tokens": expected.tokens, "count": len(expected.ids)}
        assert library.decode(result["ids"]) == text


def test_encode_to_a_narrow_console(tmp_path, small_corpus):
    """A pipe on Windows is cp1252, which has no 'Ġ': the JSON comes out escaped, not as a crash."""
    out = tmp_path / "tok.json"
    assert playground("tokenizer", "train", "--corpus", small_corpus, "--vocab-size", 300, "--out", out).returncode == 0
    encoded = playground("tokenizer", "encode", "--tokenizer", out, "hello world", encoding="cp1252")
    assert encoded.returncode == 0, encoded.stderr
    assert json.loads(encoded.stdout)["tokens"] == Tokenizer.from_file(str(out)).encode("hello world").tokens


def test_train_other_kind_and_lowercase(tmp_path, small_corpus):
    out = tmp_path / "words.json"
    trained = playground(
        "tokenizer",
        "train",
        "--corpus",
        small_corpus,
        "--kind",
        "wordlevel",
        "--vocab-size",
        50,
        "--lowercase",
        "--out",
        out,
    )
    assert trained.returncode == 0, trained.stderr
    encoded = json.loads(playground("tokenizer", "encode", "--tokenizer", out, "HELLO World").stdout)
    assert encoded["tokens"] == ["hello", "world"]


def test_train_on_default_corpus(tmp_path):
    out = tmp_path / "default.json"
    trained = playground("tokenizer", "train", "--corpus", "default", "--vocab-size", 400, "--out", out)
    assert trained.returncode == 0, trained.stderr
    assert "Python docs (built-in)" in trained.stderr
    assert Tokenizer.from_file(str(out)).get_vocab_size() == 400


def test_binary_corpus_is_an_error_not_a_traceback(tmp_path):
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    result = playground("tokenizer", "train", "--corpus", binary, "--out", tmp_path / "t.json")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "binary" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "t.json").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["tokenizer", "train", "--corpus", "{missing}", "--out", "{tmp}/t.json"], "does not exist"),
        (
            ["tokenizer", "train", "--corpus", "{corpus}", "--vocab-size", "100", "--out", "{tmp}/t.json"],
            "at least 257",
        ),
        (
            ["tokenizer", "train", "--corpus", "{corpus}", "--vocab-size", "300", "--out", "{tmp}/no/such/t.json"],
            "Could not save",
        ),
        (["tokenizer", "encode", "--tokenizer", "{corpus}", "hello"], "not a tokenizer.json"),
    ],
)
def test_user_errors_exit_2(tmp_path, small_corpus, args, words):
    filled = [a.format(missing=tmp_path / "missing.txt", tmp=tmp_path, corpus=small_corpus) for a in args]
    result = playground(*filled)
    assert result.returncode == 2, result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: ") and words in last_line
    assert "Traceback" not in result.stderr
