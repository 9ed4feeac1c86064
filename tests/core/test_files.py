"""Reading a person's files: what is not a regular file is refused (never waited on), and every JSON or
TOML reader turns a hostile file into a sentence naming it.

A regression that waits on a named pipe fails on the timeout instead of hanging the run.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from playground.core import files
from playground.core.files import check_record, open_regular, parse_json, parse_toml, read_bytes, read_json
from playground.core.progress import UserError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "models" / "demo"

pytestmark = pytest.mark.timeout(120)
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")

DEEP_JSON = "[" * 100_000 + "]" * 100_000  # past Python's recursion limit
NESTED_JSON = '{"a": ' * 500 + "1" + "}" * 500  # parses in Python, deeper than any file of ours
LONG_INT_JSON = '{"vocab_size": ' + "7" * 5000 + "}"  # past the 4,300-digit limit of int()


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


# -- the readers themselves ------------------------------------------------------------------


@needs_fifo
def test_a_named_pipe_is_refused_without_waiting(tmp_path):
    pipe = fifo(tmp_path / "pipe.json")
    with pytest.raises(UserError, match=r"pipe.json is a named pipe \(FIFO\), not a regular file"):
        read_bytes(pipe, "a tokenizer.json")
    with pytest.raises(UserError, match="named pipe"):
        read_json(pipe, "a model configuration")


@needs_fifo
def test_the_open_file_is_checked_too(tmp_path, monkeypatch):
    """A pipe swapped in after the first look is refused by the non-blocking open, not waited on."""
    pipe = fifo(tmp_path / "pipe.txt")
    monkeypatch.setattr(files, "check_regular", lambda path, what="": None)
    with pytest.raises(UserError, match="named pipe"):
        open_regular(pipe)


def test_a_folder_and_a_missing_file(tmp_path):
    with pytest.raises(UserError, match="is a folder, not a tokenizer.json"):
        read_bytes(tmp_path, "a tokenizer.json")
    with pytest.raises(UserError, match="Could not read .*absent.json: it does not exist"):
        read_bytes(tmp_path / "absent.json", "a tokenizer.json")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_is_refused(tmp_path):
    link = tmp_path / "config.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(UserError, match="is a device, not a regular file"):
        read_json(link, "a model configuration")


def test_a_file_too_big_is_refused(tmp_path):
    path = tmp_path / "big.json"
    path.write_text("[" + "0," * 1000 + "0]")
    assert len(read_json(path, "a list")) == 1001
    with pytest.raises(UserError, match="big.json is too big to be a list"):
        read_json(path, "a list", limit=1000)


@pytest.mark.parametrize(
    "text, words",
    [
        (DEEP_JSON, "nests lists or tables more than 100 levels deep"),
        (NESTED_JSON, "nests lists or tables more than 100 levels deep"),
        (LONG_INT_JSON, "a number of thousands of digits"),
        ('{"a": ', "is not valid JSON (Expecting value at column 7)"),
        ('{\n"a": ', "is not valid JSON (Expecting value at line 2, column 6)"),
    ],
)
def test_hostile_json_is_a_sentence(text, words):
    with pytest.raises(UserError) as raised:
        parse_json(text, "x.json", "a model configuration")
    assert str(raised.value).startswith("x.json is not a model configuration: it ")
    assert words in str(raised.value)


def test_a_hundred_levels_are_fine_and_one_more_is_not():
    assert parse_json("[" * 100 + "]" * 100, "x.json") is not None
    assert parse_json('{"a": ' * 99 + "[]" + "}" * 99, "x.json") is not None
    with pytest.raises(UserError, match="more than 100 levels deep"):
        parse_json("[" * 101 + "]" * 101, "x.json")


@pytest.mark.parametrize(
    "text, words",
    [
        ("a = " + "[" * 100_000 + "]" * 100_000, "more than 100 levels deep"),
        ("a = " + "[" * 200 + "]" * 200, "more than 100 levels deep"),
        ("a = " + "7" * 5000, "a number of thousands of digits"),
        ('name = "x\n', "is not valid TOML"),
    ],
)
def test_hostile_toml_is_a_sentence(text, words):
    with pytest.raises(UserError, match=words):
        parse_toml(text, "t.toml")


def test_a_byte_order_mark_is_accepted_and_other_encodings_refused():
    assert parse_json(b'\xef\xbb\xbf{"a": 1}', "x.json") == {"a": 1}
    assert parse_json('\ufeff{"a": 1}', "x.json") == {"a": 1}
    assert parse_toml(b"\xef\xbb\xbfa = 1\n", "x.toml") == {"a": 1}
    with pytest.raises(UserError, match="x.json is not valid JSON: it is not UTF-8 text"):
        parse_json('{"a": "é"}'.encode("utf-16"), "x.json")


@pytest.mark.parametrize(
    "record, words",
    [
        ({"step": "abc"}, "its step should be a whole number of at least 0, not 'abc'"),
        ({"step": -1}, "not -1"),
        ({"step": True}, "not True"),
        ({"step": 2**70}, "whole number"),
        ({"step": 1, "val_loss": float("inf")}, "its val_loss should be a finite number or null, not inf"),
        ({"step": 1, "val_loss": 10**400}, "not 1000000000"),
        ({"step": 1, "val_loss": "low"}, "not 'low'"),
        ({"step": 1, "parent": 3}, "its parent should be text or null"),
    ],
)
def test_record_values_are_checked(record, words):
    fields = {"step": "count", "val_loss": "number?", "parent": "text?"}
    with pytest.raises(UserError, match="meta.json is damaged: ") as raised:
        check_record(record, "meta.json", fields)
    assert words in str(raised.value)
    assert check_record({"step": 3, "val_loss": None, "parent": None, "other": "x"}, "m", fields)["step"] == 3


# -- every opener of a person's file refuses a named pipe ------------------------------------


@needs_fifo
def test_corpus_pipes_named_and_in_a_folder(tmp_path):
    from playground.core.corpus import Corpus, corpus_from_paths, scan_corpus
    from playground.core.progress import run_quietly

    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("Some text to learn from.\n")
    pipe = fifo(folder / "b.txt")
    with pytest.raises(UserError, match="b.txt is a named pipe"):
        corpus_from_paths([pipe])
    corpus = corpus_from_paths([folder])
    assert corpus.files == (folder / "a.txt",)  # the pipe in the folder is skipped
    with pytest.raises(UserError, match="named pipe"):  # a corpus named elsewhere (a workspace) is read safely too
        run_quietly(scan_corpus(Corpus(name="x", files=(folder / "a.txt", pipe))))


@needs_fifo
@pytest.mark.parametrize(
    "opener", ["tokenizer", "text", "template", "task", "workspace", "zip", "template in workspace"]
)
def test_each_opener_refuses_a_pipe(tmp_path, opener):
    from playground.core.evaluation import read_text_file
    from playground.core.progress import run_quietly
    from playground.core.prompts import load_template
    from playground.core.task_eval import load_task
    from playground.core.tokenization import open_tokenizer
    from playground.core.workspace import read_template
    from playground.core.workspace_zip import import_workspace

    open_ = {
        "tokenizer": lambda: open_tokenizer(fifo(tmp_path / "tokenizer.json")),
        "text": lambda: read_text_file(fifo(tmp_path / "text.txt")),
        "template": lambda: load_template(fifo(tmp_path / "t.toml")),
        "task": lambda: load_task(fifo(tmp_path / "task.jsonl")),
        "workspace": lambda: read_json(fifo(tmp_path / "workspace.json"), "a workspace"),
        "zip": lambda: run_quietly(import_workspace(fifo(tmp_path / "ws.zip"), tmp_path / "dest")),
        "template in workspace": lambda: read_template(fifo(tmp_path / "template.toml")),
    }[opener]
    with pytest.raises(UserError, match="named pipe"):
        open_()


@needs_fifo
def test_run_and_hf_folders_with_pipes(tmp_path, exported):
    from playground.core.checkpoints import load_checkpoint
    from playground.core.huggingface import import_hf
    from playground.core.progress import run_quietly

    run = Path(shutil.copytree(DEMO, tmp_path / "run"))
    (run / "train_config.json").unlink()
    fifo(run / "train_config.json")
    assert load_checkpoint(run)[0].train_config is None  # passed over as absent, not waited on
    (run / "config.json").unlink()
    fifo(run / "config.json")
    with pytest.raises(UserError, match="is not a checkpoint folder"):
        load_checkpoint(run)

    hf = Path(shutil.copytree(exported, tmp_path / "hf"))
    (hf / "model.safetensors").rename(tmp_path / "shard.safetensors")
    fifo(hf / "model-00001-of-00001.safetensors")
    (hf / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"transformer.wte.weight": "model-00001-of-00001.safetensors"}})
    )
    with pytest.raises(UserError, match="named pipe"):
        run_quietly(import_hf(hf, tmp_path / "out"))


@needs_fifo
def test_the_command_line_refuses_a_pipe(tmp_path):
    pipe = fifo(tmp_path / "corpus.txt")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (
        ["tokenizer", "train", "--corpus", str(pipe), "--out", str(tmp_path / "t.json")],
        ["eval", "perplexity", "--model", str(DEMO), "--text", str(pipe)],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "playground", *args], capture_output=True, text=True, timeout=100, env=env
        )
        assert result.returncode == 2, result.stderr
        assert (
            result.stderr.startswith("error: ") and "named pipe" in result.stderr and "Traceback" not in result.stderr
        )


# -- every JSON and TOML reader turns hostile content into a sentence ------------------------------


def _run(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DEMO, tmp_path / "run"))


def _load(run: Path):
    from playground.core.checkpoints import load_checkpoint

    return load_checkpoint(run)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    from playground.core.huggingface import export_checkpoint
    from playground.core.progress import run_quietly

    return run_quietly(export_checkpoint(DEMO, tmp_path_factory.mktemp("export") / "hf"))


def _hf(tmp_path: Path) -> Path:
    return Path(shutil.copytree(_hf.source, tmp_path / "hf"))


def _import(folder: Path):
    from playground.core.huggingface import import_hf
    from playground.core.progress import run_quietly

    return run_quietly(import_hf(folder, folder.parent / "imported"))


def _workspace_zip(tmp_path: Path, text: str):
    from playground.core.progress import run_quietly
    from playground.core.workspace_zip import import_workspace

    zip_path = tmp_path / "ws.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("workspace.json", text)
    return run_quietly(import_workspace(zip_path, tmp_path / "dest"))


def _in_run(name: str):
    def read(tmp_path: Path, text: str):
        run = _run(tmp_path)
        (run / name).write_text(text)
        return _load(run)

    return read


def _in_hf(name: str):
    def read(tmp_path: Path, text: str):
        folder = _hf(tmp_path)
        if name == "model.safetensors.index.json":
            (folder / "model.safetensors").rename(folder / "model-00001-of-00001.safetensors")
        (folder / name).write_text(text)
        return _import(folder)

    return read


def _file(name: str, read):
    def go(tmp_path: Path, text: str):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return read(path)

    return go


def _workspace(tmp_path: Path, text: str):
    from playground.core.workspace import read_workspace

    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "workspace.json").write_text(text)
    return read_workspace(tmp_path / "ws")


def _readers():
    from playground.core.prompts import load_template
    from playground.core.task_eval import load_task
    from playground.core.tokenization import open_tokenizer
    from playground.core.workspace import read_template

    return {
        "tokenizer.json": _file("tokenizer.json", open_tokenizer),
        "run config.json": _in_run("config.json"),
        "train_config.json": _in_run("train_config.json"),
        "history.json": _in_run("history.json"),
        "tokenizer.json of a run": _in_run("tokenizer.json"),
        "meta.json": _in_run("best/meta.json"),
        "HF config.json": _in_hf("config.json"),
        "HF tokenizer.json": _in_hf("tokenizer.json"),
        "HF index": _in_hf("model.safetensors.index.json"),
        "template .json": _file("t.json", load_template),
        "template .toml": _file("t.toml", load_template),
        "workspace template": _file("t.toml", read_template),
        "task .json": _file("task.json", load_task),
        "task .jsonl": _file("task.jsonl", load_task),
        "workspace.json": _workspace,
        "workspace.json in a zip": _workspace_zip,
    }


READERS = list(_readers())


def _content(reader: str, kind: str) -> str:
    toml = reader in ("template .toml", "workspace template")
    if kind == "deep":
        return ("a = " + "[" * 50_000 + "]" * 50_000) if toml else ("[" * 50_000 + "]" * 50_000)
    if kind == "nested":
        return ("a = " + "[" * 300 + "]" * 300) if toml else ("[" * 300 + "]" * 300)
    return ("a = " + "9" * 5000) if toml else ('{"a": ' + "9" * 5000 + "}")


@pytest.mark.parametrize("kind", ["deep", "nested", "long number"])
@pytest.mark.parametrize("reader", READERS)
def test_every_reader_turns_hostile_content_into_a_sentence(tmp_path, exported, reader, kind):
    _hf.source = exported
    read = _readers()[reader]
    with pytest.raises(UserError) as raised:
        read(tmp_path, _content(reader, kind))
    message = str(raised.value)
    assert "levels deep" in message or "thousands of digits" in message, message


@pytest.mark.parametrize(
    "meta, words",
    [
        ({"step": "abc"}, "its step should be a whole number"),
        ({"step": 3, "val_loss": 1e400}, "its val_loss should be a finite number or null, not inf"),
        ({"step": 3, "elapsed_s": "long"}, "its elapsed_s should be a finite number"),
        ({"step": 3, "parent": ["x"]}, "its parent should be text"),
    ],
)
def test_meta_json_values_are_checked(tmp_path, meta, words):
    run = _run(tmp_path)
    text = json.dumps(meta).replace("Infinity", "1e400")  # as a hand-edited file would say it
    (run / "best" / "meta.json").write_text(text)
    with pytest.raises(UserError, match="meta.json is damaged") as raised:
        _load(run)
    assert words in str(raised.value)


def test_a_history_step_that_is_not_a_number(tmp_path):
    run = _run(tmp_path)
    (run / "history.json").write_text(json.dumps([{"kind": "train", "step": "abc", "loss": 1.0}]))
    with pytest.raises(UserError, match="history.json is damaged: its step should be a whole number"):
        _load(run)


def test_the_demo_run_still_loads(tmp_path):
    checkpoint, _ = _load(_run(tmp_path))
    assert checkpoint.step > 0


def test_a_cut_short_gz_corpus_is_a_sentence(tmp_path):
    from playground.core.corpus import corpus_from_paths, scan_corpus
    from playground.core.progress import run_quietly

    whole = gzip.compress(("Plenty of words to learn from. " * 20_000).encode())
    path = tmp_path / "corpus.txt.gz"
    path.write_bytes(whole[: len(whole) // 2])
    corpus = corpus_from_paths([path])  # the start reads fine
    with pytest.raises(UserError, match="corpus.txt.gz is cut short: the compressed file ends before"):
        run_quietly(scan_corpus(corpus))
    path.write_bytes(whole[:10] + b"\xff" * 200 + whole[210:])
    with pytest.raises(UserError, match="corpus.txt.gz is damaged"):
        run_quietly(scan_corpus(corpus_from_paths([path])))


# -- writing: one atomic writer --------------------------------------------------------------------


def test_an_atomic_file_appears_whole_or_not_at_all(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with files.atomic_file(path) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("the writer failed")
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    with files.atomic_file(path) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(files.TEMP_SUFFIX)
        tmp.write_bytes(b"new")
    assert path.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_a_folder_is_replaced_only_once_the_new_one_is_whole(tmp_path, monkeypatch):
    final = tmp_path / "model"
    final.mkdir()
    (final / "weights").write_text("old")
    with pytest.raises(OSError):
        with files.atomic_folder(final) as tmp:
            (tmp / "weights").write_text("half")
            raise OSError("disk full")
    assert (final / "weights").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["model"]

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.fstat(fd).st_ino) or real_fsync(fd))
    with files.atomic_folder(final) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "weights").write_text("new")
        inode = (tmp / "sub" / "weights").stat().st_ino
    assert inode in synced  # on the disk before the folder was swapped in
    assert (final / "sub" / "weights").read_text() == "new" and not (final / "weights").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary or old folder left


def test_a_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    final, new = tmp_path / "last", tmp_path / "last.tmp"
    final.mkdir()
    (final / "a").write_text("old")
    new.mkdir()
    (new / "a").write_text("new")
    real_replace = os.replace

    def fail_second(src, dst):
        if str(src).endswith(".tmp"):
            raise OSError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_second)
    with pytest.raises(OSError):
        files.replace_atomically(new, final, tmp_path / "last.old")
    monkeypatch.undo()
    assert (final / "a").read_text() == "old" and not (tmp_path / "last.old").exists()
    files.replace_atomically(new, final, tmp_path / "last.old")
    assert (final / "a").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_a_free_folder_never_mixes_with_an_older_one(tmp_path):
    assert files.free_folder(tmp_path / "export") == tmp_path / "export"
    (tmp_path / "export").mkdir()
    (tmp_path / "export-2").mkdir()
    assert files.free_folder(tmp_path / "export") == tmp_path / "export-3"
