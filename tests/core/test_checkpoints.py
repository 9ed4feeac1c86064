"""Checkpoints: a round trip gives the same model, writes are all or nothing,
and every damaged or wrong folder is refused with a sentence."""

from __future__ import annotations

import ast
import errno
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from sample_text import sentences  # tests/ is on sys.path

import playground.core.checkpoints as checkpoints
from playground.core.checkpoints import (
    Checkpoint,
    checkpoint_dir,
    is_checkpoint,
    load_checkpoint,
    load_state,
    new_run_dir,
    runs_dir,
)
from playground.core.config import ModelConfig
from playground.core.corpus import corpus_from_text
from playground.core.data import encode_corpus, split_tokens
from playground.core.progress import UserError, run_quietly
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process
from playground.core.training import CheckpointRecord, TrainConfig, TrainingRun

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tokenizer() -> LoadedTokenizer:
    return LoadedTokenizer(
        run_quietly(train_in_process(corpus_from_text(sentences(300)), spec_for_kind("bpe", vocab_size=300)))
    )


@pytest.fixture(scope="module")
def data(tokenizer):
    return split_tokens(run_quietly(encode_corpus(corpus_from_text(sentences(400, seed=1)), tokenizer)))


def tiny_config(tokenizer: LoadedTokenizer, flavour: str = "gpt2") -> ModelConfig:
    sizes = dict(vocab_size=tokenizer.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=32)
    return ModelConfig.llama_style(**sizes) if flavour == "llama" else ModelConfig.gpt2_style(**sizes)


def train(tokenizer, data, run_dir: Path, flavour: str = "gpt2", steps: int = 10) -> TrainingRun:
    config = TrainConfig(
        batch_size=4, max_steps=steps, eval_interval=5, eval_batches=2, sample_interval=0, warmup_steps=2, device="cpu"
    )
    run = TrainingRun(tiny_config(tokenizer, flavour), config, tokenizer, data, run_dir)
    records = list(run.steps())
    assert records[-1].reason == "finished"
    return run


@pytest.fixture(scope="module")
def trained_run(tokenizer, data, tmp_path_factory) -> Path:
    """A finished run folder; tests that damage it work on a copy (see `run_copy`)."""
    return train(tokenizer, data, tmp_path_factory.mktemp("runs") / "run").run_dir


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    return Path(shutil.copytree(trained_run, tmp_path / "run"))


def logits_of(model, ids: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(ids).logits


# -- round trip -----------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["gpt2", "llama"])
def test_round_trip_gives_the_same_model(tokenizer, data, tmp_path, flavour):
    run = train(tokenizer, data, tmp_path / "run", flavour=flavour)
    checkpoint, model = load_checkpoint(tmp_path / "run", which="last")
    ids = torch.from_numpy(data.val[:32].astype("int64"))[None]
    assert torch.equal(logits_of(model, ids), logits_of(run.model, ids))
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.model_config == run.model_config
    assert checkpoint.step == 10 and checkpoint.which == "last"
    assert checkpoint.train_config == run.train_config
    assert checkpoint.tokenizer.tokenizer.to_str() == tokenizer.tokenizer.to_str()
    assert [h["kind"] for h in checkpoint.history].count("train") == 10
    assert checkpoint.parent is None
    # Tied weights are stored once and come back tied; untied ones stay two matrices.
    with safe_open(str(checkpoint.path / "model.safetensors"), "pt") as f:
        stored = set(f.keys())
    tied = flavour == "gpt2"
    assert ("lm_head.weight" in stored) == (not tied)
    assert (model.lm_head.weight is model.token_embedding.weight) == tied


def test_best_and_last_and_their_folders(trained_run, data):
    best, _ = load_checkpoint(trained_run)  # "best" by default
    last, _ = load_checkpoint(trained_run, which="last")
    assert best.which == "best" and last.which == "last"
    assert best.val_loss <= last.val_loss or best.step == last.step
    assert best.val_loss == min(h["val_loss"] for h in best.history if h["kind"] == "eval" and h["step"] > 0)
    for sub in ("best", "last"):
        checkpoint, _ = load_checkpoint(trained_run / sub)
        assert checkpoint.path == trained_run / sub and checkpoint.run_dir == trained_run
    assert is_checkpoint(trained_run) and is_checkpoint(trained_run / "last")
    assert not is_checkpoint(trained_run.parent)


def test_a_run_without_best_falls_back_to_last(run_copy):
    shutil.rmtree(run_copy / "best")
    checkpoint, _ = load_checkpoint(run_copy, which="best")
    assert checkpoint.which == "last"


# -- refusing what is not a checkpoint --------------------------------------------


def test_a_folder_that_is_not_a_checkpoint(tmp_path):
    with pytest.raises(
        UserError, match="is not a checkpoint folder: expected config.json, tokenizer.json and last/model.safetensors"
    ):
        load_checkpoint(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match="is a file, not a checkpoint folder"):
        load_checkpoint(tmp_path / "notes.txt")


def test_missing_tokenizer_is_not_a_checkpoint(run_copy):
    (run_copy / "tokenizer.json").unlink()
    with pytest.raises(UserError, match="is not a checkpoint folder"):
        load_checkpoint(run_copy)


@pytest.mark.parametrize("keep", [0, 7, 100, 0.5])
def test_a_truncated_safetensors_file(run_copy, keep):
    weights = run_copy / "best" / "model.safetensors"
    raw = weights.read_bytes()
    weights.write_bytes(raw[: int(len(raw) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(UserError, match="is damaged"):
        load_checkpoint(run_copy)


def test_a_config_that_is_not_json(run_copy):
    (run_copy / "config.json").write_text('{"vocab_size": 300, "n_layer": ')
    with pytest.raises(UserError, match="config.json is not a model configuration: it is not valid JSON"):
        load_checkpoint(run_copy)


def test_a_config_with_unknown_keys(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    config["n_layers"] = 3
    (run_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="'n_layers'"):
        load_checkpoint(run_copy)


def test_a_config_that_cannot_be_built(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    config["n_head"] = 5  # 32 is not divisible by 5
    (run_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="not a usable model configuration.*not divisible"):
        load_checkpoint(run_copy)


def test_weights_whose_shapes_do_not_match_the_config(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    config["n_embd"] = 48
    (run_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        UserError,
        match=r"do not fit config.json: .*token_embedding.weight is \d+×32 but the configuration needs \d+×48",
    ):
        load_checkpoint(run_copy)


@pytest.mark.parametrize(
    "size, phrase",
    [
        ("n_embd", r"token_embedding.weight is \d+×32 but the configuration needs \d+×1000000000"),
        ("context_length", r"position_embedding.weight is 32×32 but the configuration needs 1000000000×32"),
        ("vocab_size", r"token_embedding.weight is \d+×32 but the configuration needs 1000000000×32"),
        ("n_layer", r"the weights hold 1 layers but the configuration needs 1,000,000,000"),
    ],
)
def test_a_damaged_size_is_refused_before_anything_is_built(run_copy, monkeypatch, size, phrase):
    config = json.loads((run_copy / "config.json").read_text())
    config[size] = 1_000_000_000  # terabytes of weights
    if size == "n_embd":
        config["n_head"] = 1
    (run_copy / "config.json").write_text(json.dumps(config))
    from playground.core.model import GPT

    monkeypatch.setattr(GPT, "from_config", lambda *a, **k: pytest.fail("built the damaged model"))
    with pytest.raises(UserError, match=f"do not fit config.json: .*{phrase}"):
        load_checkpoint(run_copy)


def test_a_model_larger_than_the_memory_is_refused_before_it_is_built(run_copy, monkeypatch):
    import playground.core.devices as devices
    from playground.core.model import GPT

    monkeypatch.setattr(devices, "physical_memory", lambda: 50_000)
    monkeypatch.setattr(GPT, "from_config", lambda *a, **k: pytest.fail("built a model too big to fit"))
    with pytest.raises(
        UserError,
        match=r"^Loading this model needs at least .* \(4 bytes for each of its .* "
        r"parameters\), but this computer has 48.8 KiB of memory in all\. "
        r"Most of the parameters are in the token embedding",
    ):
        load_checkpoint(run_copy)


def test_weights_of_a_different_architecture(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    config["tie_weights"] = False  # the file has no separate output head
    (run_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="lm_head.weight is missing"):
        load_checkpoint(run_copy)


def test_a_tokenizer_larger_than_the_model(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    config["vocab_size"] = 100
    (run_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="do not belong together"):
        load_checkpoint(run_copy)


def test_a_bad_train_config_and_history(run_copy):
    (run_copy / "history.json").write_text("[{")
    with pytest.raises(UserError, match="history.json is not a training history"):
        load_checkpoint(run_copy)
    (run_copy / "history.json").write_text("[]")
    (run_copy / "train_config.json").write_text(json.dumps({"batch_sise": 4}))
    with pytest.raises(UserError, match="'batch_sise'"):
        load_checkpoint(run_copy)


# -- writing is all or nothing -------------------------------------------------------


def test_a_failed_write_keeps_the_previous_checkpoint(tokenizer, data, run_copy, monkeypatch):
    before, model_before = load_checkpoint(run_copy, which="last")
    run = TrainingRun(
        before.model_config, before.train_config.replace(max_steps=14), tokenizer, data, run_copy, resume=True
    )

    def disk_full(path, state):  # the weights are written; the disk fills up on the next file
        assert (path.parent / "model.safetensors").exists()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints, "_write_state", disk_full)
    with pytest.raises(
        UserError, match=r"Could not save the checkpoint .*No space left on device.*the previous checkpoint is kept\."
    ):
        list(run.steps())
    after, model_after = load_checkpoint(run_copy, which="last")
    assert after.step == before.step == 10
    ids = torch.from_numpy(data.val[:32].astype("int64"))[None]
    assert torch.equal(logits_of(model_after, ids), logits_of(model_before, ids))
    assert sorted(p.name for p in run_copy.iterdir()) == [
        "best",
        "config.json",
        "history.json",
        "last",
        "tokenizer.json",
        "train_config.json",
    ]


def test_a_full_disk_is_named_and_the_intact_checkpoints_too(tokenizer, data, run_copy, monkeypatch):
    shutil.rmtree(run_copy / "best")  # as before a run's first evaluation: only last/ is on disk
    checkpoint, model = load_checkpoint(run_copy, which="last")

    def disk_full(path, state):  # as torch.save reports it: its own message, the OSError underneath
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")  # noqa: B904 - as torch does

    monkeypatch.setattr(checkpoints, "_write_state", disk_full)
    with pytest.raises(UserError) as refused:
        checkpoints.save_checkpoint(run_copy, "best", model, {"step": 10}, {"step": 10})
    assert str(refused.value) == (
        f"Could not save the checkpoint to {run_copy / 'best'} (the disk is full: No space left on device); "
        f"no best checkpoint was saved. Intact on disk: the last checkpoint (step 10, in {run_copy / 'last'}). "
        f"Free some space on the disk, then continue the run from there."
    )
    assert not (run_copy / "best.tmp").exists() and load_checkpoint(run_copy, which="last")[0].step == 10


def test_checkpoint_files_reach_the_disk_before_the_rename(run_copy, monkeypatch):
    _, model = load_checkpoint(run_copy, which="last")
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(checkpoints.os, "fsync", lambda fd: events.append(os.fstat(fd).st_ino) or real_fsync(fd))
    monkeypatch.setattr(checkpoints.os, "replace", lambda a, b: events.append(Path(a).name) or real_replace(a, b))
    checkpoints.save_checkpoint(run_copy, "last", model, {"step": 11}, {"step": 11})
    files = {(run_copy / "last" / name).stat().st_ino for name in ("model.safetensors", "state.pt", "meta.json")}
    assert set(events[: events.index("last.tmp")]) >= files  # each file synced before the folder is swapped in


def test_a_failed_rename_puts_the_previous_checkpoint_back(run_copy, monkeypatch):
    _, model = load_checkpoint(run_copy, which="last")
    real_replace = os.replace

    def fail_second(src, dst):  # last -> last.old works, last.tmp -> last fails
        if str(src).endswith(".tmp"):
            raise OSError(errno.EACCES, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(checkpoints.os, "replace", fail_second)
    with pytest.raises(UserError, match="the previous checkpoint is kept"):
        checkpoints.save_checkpoint(run_copy, "last", model, {"step": 99}, {"step": 99})
    monkeypatch.undo()
    assert (run_copy / "last").is_dir() and not (run_copy / "last.old").exists()
    assert load_checkpoint(run_copy, which="last")[0].step == 10


def test_a_crash_between_the_renames_recovers_from_last_old(tokenizer, data, run_copy):
    # What a crash after `last -> last.old` and before `last.tmp -> last` leaves behind.
    os.replace(run_copy / "last", run_copy / "last.old")
    (run_copy / "last.tmp").mkdir()
    (run_copy / "last.tmp" / "model.safetensors").write_bytes(b"half a fi")
    assert checkpoint_dir(run_copy, "last") == run_copy / "last.old"
    checkpoint, _ = load_checkpoint(run_copy, which="last")
    assert checkpoint.step == 10 and checkpoint.path == run_copy / "last.old"

    # Training continues from it, and the next save tidies up.
    run = TrainingRun(
        checkpoint.model_config, checkpoint.train_config.replace(max_steps=12), tokenizer, data, run_copy, resume=True
    )
    assert run.step == 10
    records = list(run.steps())
    assert any(isinstance(r, CheckpointRecord) and r.which == "last" for r in records)
    assert sorted(p.name for p in run_copy.iterdir() if p.is_dir()) == ["best", "last"]
    assert load_checkpoint(run_copy, which="last")[0].step == 12


# -- never unpickling code -----------------------------------------------------------


def test_torch_load_is_only_called_with_weights_only():
    calls = []
    for path in (ROOT / "playground").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "from torch import load" not in source, path.name
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                calls.append((path.name, {k.arg: k.value for k in node.keywords}))
    assert calls, "expected torch.load in checkpoints.py"
    for name, keywords in calls:
        assert "weights_only" in keywords and ast.literal_eval(keywords["weights_only"]) is True, name


def test_resuming_loads_state_with_weights_only(tokenizer, data, run_copy, monkeypatch):
    seen = []
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    checkpoint, _ = load_checkpoint(run_copy, which="last")
    TrainingRun(checkpoint.model_config, checkpoint.train_config, tokenizer, data, run_copy, resume=True)
    assert seen == [True]


class Payload:
    def __reduce__(self):
        return (print, ("this code ran",))


def test_a_state_file_with_code_is_refused(run_copy):
    torch.save({"step": 1, "evil": Payload()}, run_copy / "last" / "state.pt")
    with pytest.raises(UserError, match="state.pt is damaged or not a training state"):
        load_state(run_copy / "last")


# -- where runs live ---------------------------------------------------------------------


def test_run_folders(tmp_path, monkeypatch):
    import playground.paths

    monkeypatch.setattr(playground.paths, "user_data_dir", lambda: tmp_path)
    assert runs_dir() == tmp_path / "runs" and runs_dir().is_dir()
    a, b = new_run_dir("tiny model/1"), new_run_dir("tiny model/1")
    assert a != b and a.parent == b.parent == tmp_path / "runs"
    assert a.is_dir() and not any(a.iterdir())
    assert "/" not in a.name[20:] and a.name.endswith("tiny-model-1")


def test_the_run_layout_names_what_a_run_folder_holds(trained_run):
    from playground.core import run_layout

    assert {p.name for p in trained_run.iterdir() if p.is_file()} == set(run_layout.RUN_FILES)
    assert {p.name for p in trained_run.iterdir() if p.is_dir()} == set(run_layout.CHECKPOINT_NAMES)
    for which in run_layout.CHECKPOINT_NAMES:
        folder = run_layout.checkpoint_dir(trained_run, which)
        assert {p.name for p in folder.iterdir()} == {
            run_layout.WEIGHTS_FILE,
            run_layout.STATE_FILE,
            run_layout.META_FILE,
        }
        assert run_layout.run_and_which(folder) == (trained_run, which)
    assert run_layout.looks_like_run(trained_run) and run_layout.run_and_which(trained_run) == (trained_run, "best")
    assert run_layout.writing_dir(trained_run, "last").name == "last.tmp"
    assert run_layout.old_dir(trained_run, "last").name == "last.old"
