"""`playground tokenizer train` as a person types it: relative paths, an --out that holds something,
special tokens that are words, Ctrl+C, and nothing imported that the command does not use."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[2]
WORDS = "quokka wombat numbat dingo"


def env() -> dict:
    return {
        **os.environ,
        "PYTHONIOENCODING": "utf-8",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }


def playground(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "playground", *map(str, args)],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


@pytest.fixture
def folder(tmp_path) -> Path:
    """A working folder holding a corpus named like a file of the app's own (README.md)."""
    (tmp_path / "README.md").write_text((WORDS + " ") * 300 + "\n", encoding="utf-8")
    return tmp_path


def test_relative_corpus_and_out_are_read_where_the_command_runs(folder):
    result = playground(
        "tokenizer",
        "train",
        "--corpus",
        "README.md",
        "--kind",
        "wordlevel",
        "--vocab-size",
        50,
        "--out",
        "tok.json",
        cwd=folder,
    )
    assert result.returncode == 0, result.stderr
    vocab = Tokenizer.from_file(str(folder / "tok.json")).get_vocab()
    assert set(vocab) == {"[UNK]", *WORDS.split()}  # this folder's README, not the app's


def test_out_that_is_the_corpus_is_refused(folder):
    before = (folder / "README.md").read_text(encoding="utf-8")
    for out in ("README.md", "./README.md", folder / "README.md"):
        result = playground("tokenizer", "train", "--corpus", "README.md", "--out", out, "--overwrite", cwd=folder)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "is the corpus the tokenizer learns from" in result.stderr
    assert (folder / "README.md").read_text(encoding="utf-8") == before


def test_existing_out_needs_overwrite(folder):
    out = folder / "tok.json"
    out.write_text("keep me", encoding="utf-8")
    refused = playground("tokenizer", "train", "--corpus", "README.md", "--kind", "wordlevel", "--out", out, cwd=folder)
    assert refused.returncode == 2 and "already exists" in refused.stderr and "--overwrite" in refused.stderr
    assert out.read_text(encoding="utf-8") == "keep me"
    replaced = playground(
        "tokenizer", "train", "--corpus", "README.md", "--kind", "wordlevel", "--out", out, "--overwrite", cwd=folder
    )
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["model"]["type"] == "WordLevel"


def test_special_tokens_that_are_words_are_refused(folder):
    (folder / "story.txt").write_text("the cat ate a pear and the dog ate an apple.\n" * 200, encoding="utf-8")
    out = folder / "tok.json"
    result = playground(
        "tokenizer", "train", "--corpus", "story.txt", "--special-tokens", "the,a,e", "--out", out, cwd=folder
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: The special tokens “the”, “a” and “e” occur in the corpus as ordinary text.")
    assert "--allow-special-in-text" in last and not out.exists()
    anyway = playground(
        "tokenizer",
        "train",
        "--corpus",
        "story.txt",
        "--special-tokens",
        "the,a,e",
        "--allow-special-in-text",
        "--out",
        out,
        cwd=folder,
    )
    assert anyway.returncode == 0, anyway.stderr


def test_the_command_imports_neither_numpy_nor_torch(folder):
    code = (
        "import sys; from playground.cli import main; "
        "code = main(['tokenizer', 'train', '--corpus', 'default', '--vocab-size', '300', '--out', 'tok.json']); "
        "print(code, sorted(m for m in ('numpy', 'torch', 'importlib.metadata') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=env(), capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "0 []", result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is how Ctrl+C reaches a POSIX process")
def test_ctrl_c_stops_the_training_at_once(folder):
    # A corpus of many distinct words, so the merges take several seconds (the built-in corpus is done in ~1 s).
    import random

    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 12))) for _ in range(200_000)]
    (folder / "big.txt").write_text(" ".join(words) + "\n", encoding="utf-8")
    out = folder / "tok.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "playground",
            "tokenizer",
            "train",
            "--corpus",
            "big.txt",
            "--vocab-size",
            "60000",
            "--out",
            str(out),
        ],
        cwd=folder,
        env=env(),
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    for line in process.stderr:  # wait until the training has begun
        if "Counting words" in line or "Learning" in line:
            break
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    code = process.wait(timeout=30)
    assert code == 130 and time.monotonic() - started < 2.0
    assert "cancelled" in process.stderr.read() and not out.exists()
