"""Training: the schedule, the data, the loop's records, exact resumption,
NaN and out-of-memory handling, fine-tuning, sampling, and the command line."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sample_text import sentences  # tests/ is on sys.path

from playground.core.checkpoints import load_checkpoint, read_meta
from playground.core.config import ModelConfig, parameter_breakdown
from playground.core.corpus import corpus_from_text
from playground.core.data import TokenData, check_data, encode_corpus, get_batch, split_tokens, token_dtype
from playground.core.estimates import human_bytes, human_count
from playground.core.model import GPT
from playground.core.progress import Cancelled, CancelToken, Progress, UserError, run_quietly
from playground.core.sampling import generate_ids
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process
from playground.core.train_config import lr_schedule
from playground.core.training import (
    CheckpointRecord,
    EvalRecord,
    SampleRecord,
    StepRecord,
    StoppedRecord,
    TrainConfig,
    TrainingRun,
    lr_at,
    resolve_device,
    resolve_precision,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("one_thread")


def bpe(text: str, vocab_size: int = 300) -> LoadedTokenizer:
    spec = spec_for_kind("bpe", vocab_size=vocab_size)
    return LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(text), spec)), spec=spec)


@pytest.fixture(scope="module")
def tokenizer() -> LoadedTokenizer:
    return bpe(sentences(300))


@pytest.fixture(scope="module")
def data(tokenizer) -> TokenData:
    return split_tokens(run_quietly(encode_corpus(corpus_from_text(sentences(400, seed=1)), tokenizer)))


def tiny_config(tokenizer: LoadedTokenizer, **changes) -> ModelConfig:
    sizes = dict(vocab_size=tokenizer.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=32)
    return ModelConfig.gpt2_style(**{**sizes, **changes})


def fast(**changes) -> TrainConfig:
    settings = dict(
        batch_size=4, max_steps=10, warmup_steps=2, eval_interval=5, eval_batches=2, sample_interval=0, device="cpu"
    )
    return TrainConfig(**{**settings, **changes})


# -- settings and schedule ------------------------------------------------------------


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(learning_rate=1e-2, min_lr_ratio=0.1, warmup_steps=10, max_steps=100)
    steps, lrs = lr_schedule(cfg)
    assert steps == list(range(100)) and len(lrs) == 100
    warmup, decay = lrs[:10], lrs[10:]
    assert all(a < b for a, b in zip(warmup, warmup[1:]))  # a straight rise
    assert np.allclose(np.diff(warmup), warmup[1] - warmup[0])
    assert lrs[10] == pytest.approx(1e-2)  # the peak, right after warm-up
    assert all(a >= b for a, b in zip(decay, decay[1:]))  # then only down
    assert lrs[55] == pytest.approx(1e-3 + 0.5 * 9e-3, rel=1e-6)  # halfway: the cosine's midpoint
    assert lrs[-1] == pytest.approx(1e-3, rel=0.01) and min(lrs[10:]) >= 1e-3
    assert lr_at(500, cfg) == pytest.approx(1e-3)  # past the end: the floor
    assert lr_schedule(cfg.replace(warmup_steps=0))[1][0] == pytest.approx(1e-2)
    # A long run is drawn from a thousand-odd points, the peak included.
    steps, lrs = lr_schedule(cfg.replace(max_steps=10_000_000, warmup_steps=777))
    assert len(steps) <= 1003 and 777 in steps and steps[-1] == 9_999_999
    assert max(lrs) == pytest.approx(1e-2)


def test_train_config_round_trip_and_problems():
    cfg = TrainConfig(batch_size=8, precision="bf16", sample_prompt="Once")
    assert cfg.validate() == []
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert TrainConfig.from_dict({"max_steps": 7}) == TrainConfig(max_steps=7)
    with pytest.raises(UserError, match="'max_stpes'"):
        TrainConfig.from_dict({"max_stpes": 7})
    bad = TrainConfig(
        batch_size=0, learning_rate=0, val_fraction=1.0, device="tpu", precision="fp8", grad_clip=-1, min_lr_ratio=2
    )
    problems = " ".join(bad.validate())
    for words in (
        "batch size",
        "learning rate",
        "validation share",
        "device",
        "precision",
        "Gradient clipping",
        "final learning-rate share",
    ):
        assert words in problems
    with pytest.raises(UserError, match="batch size"):
        bad.raise_if_invalid()


def test_devices_and_precision():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="No CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(UserError, match="Unknown device"):
        resolve_device("tpu")
    assert resolve_precision("fp32", torch.device("cpu")) == ("fp32", None)
    precision, note = resolve_precision("bf16", torch.device("cpu"))
    assert precision == "fp32" and "CUDA" in note


# -- data -------------------------------------------------------------------------------


def test_encode_corpus_concatenates_the_lines(tokenizer):
    text = sentences(50, seed=3)
    encoding = encode_corpus(corpus_from_text(text), tokenizer)
    reports = []
    while True:  # a job generator: it yields progress and returns the ids
        try:
            reports.append(next(encoding))
        except StopIteration as done:
            ids = done.value
            break
    assert all(isinstance(r, Progress) for r in reports)
    assert ids.dtype == np.uint16
    expected = [i for line in text.splitlines(keepends=True) for i in tokenizer.tokenizer.encode(line).ids]
    assert ids.tolist() == expected
    assert tokenizer.decode(ids.tolist()) == text
    assert reports and reports[-1].fraction == pytest.approx(1.0)
    assert token_dtype(65_536) == np.uint16 and token_dtype(100_000) == np.uint32
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        run_quietly(encode_corpus(corpus_from_text(text), tokenizer, cancel=cancel))


def test_split_and_batches():
    ids = np.arange(1000, dtype=np.uint16)
    data = split_tokens(ids, 0.1)
    assert len(data.train) == 900 and data.val[0] == 900 and data.total == 1000
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    x, y = get_batch(data.train, 6, 16, g1, "cpu")
    assert x.shape == y.shape == (6, 16) and x.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1]) and torch.equal(y, x + 1)  # y is x shifted by one
    assert int(y.max()) < 900  # never reads past the training part
    assert all(torch.equal(a, b) for a, b in zip(get_batch(data.train, 6, 16, g2, "cpu"), (x, y)))


def test_a_corpus_shorter_than_the_context_is_refused(tokenizer):
    short = split_tokens(np.arange(200, dtype=np.uint16), 0.1)
    with pytest.raises(UserError) as error:
        check_data(short, 256, 16)
    assert str(error.value) == (
        "The corpus has 180 tokens for training, fewer than one context window "
        "(256 tokens) plus one. Use a longer corpus or a shorter context."
    )
    with pytest.raises(UserError, match="20 tokens for validation"):
        check_data(short, 32, 16)
    with pytest.raises(UserError, match="fewer than one context window"):
        TrainingRun(tiny_config(tokenizer, context_length=256), fast(), tokenizer, short, "unused")


# -- the loop ---------------------------------------------------------------------------


def test_records_come_in_order_and_the_loss_falls(tokenizer, data, tmp_path):
    cfg = fast(max_steps=60, eval_interval=20, sample_interval=30, sample_tokens=12, batch_size=8)
    run = TrainingRun(tiny_config(tokenizer), cfg, tokenizer, data, tmp_path / "run")
    records = list(run.steps())
    kinds = [type(r).__name__ for r in records]
    assert kinds[0] == "EvalRecord" and records[0].step == 0  # the untrained model first
    assert kinds.count("StepRecord") == 60 and [r.step for r in records if isinstance(r, StepRecord)] == list(
        range(1, 61)
    )
    assert [r.step for r in records if isinstance(r, EvalRecord)] == [0, 20, 40, 60]
    assert [r.step for r in records if isinstance(r, SampleRecord)] == [30, 60]
    assert {(r.step, r.which) for r in records if isinstance(r, CheckpointRecord)} >= {
        (20, "last"),
        (20, "best"),
        (60, "last"),
    }
    assert isinstance(records[-1], StoppedRecord) and records[-1].reason == "finished"
    assert "finished after 60 steps" in records[-1].message

    evals = [r for r in records if isinstance(r, EvalRecord)]
    assert evals[0].val_loss == pytest.approx(math.log(tokenizer.vocab_size), abs=0.3)
    assert evals[-1].val_loss < evals[0].val_loss - 1.5  # it learned something
    assert evals[-1].perplexity == pytest.approx(math.exp(evals[-1].val_loss))
    step = next(r for r in records if isinstance(r, StepRecord) and r.step == 30)
    assert step.max_steps == 60 and step.tokens_per_s > 0 and step.eta_s > 0 and step.grad_norm > 0
    assert step.lr == pytest.approx(lr_at(29, cfg)) and step.memory_bytes is None
    sample = next(r for r in records if isinstance(r, SampleRecord))
    assert sample.prompt == "" and isinstance(sample.text, str) and sample.text

    assert run.step == 60 and run.device == torch.device("cpu") and run.parent is None
    assert [h["step"] for h in run.history if h["kind"] == "train"] == list(range(1, 61))
    assert json.loads((tmp_path / "run" / "history.json").read_text()) == run.history
    assert read_meta(tmp_path / "run" / "best")["val_loss"] == min(e.val_loss for e in evals[1:])


def test_cancel_saves_and_stops(tokenizer, data, tmp_path):
    run = TrainingRun(tiny_config(tokenizer), fast(max_steps=50), tokenizer, data, tmp_path / "run")
    cancel = CancelToken()
    records = []
    for record in run.steps(cancel):
        records.append(record)
        if isinstance(record, StepRecord) and record.step == 3:
            cancel.cancel()
    assert isinstance(records[-2], CheckpointRecord) and records[-2].which == "last" and records[-2].step == 3
    assert records[-1].reason == "stopped" and "step 3 of 50" in records[-1].message
    assert load_checkpoint(tmp_path / "run", which="last")[0].step == 3


@pytest.mark.parametrize("grad_accum", [1, 2])
def test_resuming_gives_the_same_losses_as_never_stopping(tokenizer, data, tmp_path, grad_accum):
    # Dropout draws from the global generator and samples at temperature 0.8 from
    # their own: both must come back exactly for the losses to match.
    config = tiny_config(tokenizer, dropout=0.1)
    cfg = fast(max_steps=16, eval_interval=5, sample_interval=4, sample_tokens=5, grad_accum=grad_accum)

    straight = TrainingRun(config, cfg, tokenizer, data, tmp_path / "straight")
    expected = [r for r in straight.steps() if isinstance(r, (StepRecord, EvalRecord))]

    first = TrainingRun(config, cfg, tokenizer, data, tmp_path / "stopped")
    cancel = CancelToken()
    got = []
    for record in first.steps(cancel):
        if isinstance(record, (StepRecord, EvalRecord)):
            got.append(record)
        if isinstance(record, StepRecord) and record.step == 7:  # between two evaluations
            cancel.cancel()
    assert first.step == 7
    second = TrainingRun(config, cfg, tokenizer, data, tmp_path / "stopped", resume=True)
    assert second.step == 7
    got += [r for r in second.steps() if isinstance(r, (StepRecord, EvalRecord))]

    def losses(records):
        return [(type(r).__name__, r.step, getattr(r, "loss", None), getattr(r, "val_loss", None)) for r in records]

    assert losses(got) == losses(expected)  # exact floats
    for a, b in zip(straight.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)
    trained = [(h["step"], h["loss"]) for h in second.history if h["kind"] == "train"]
    assert trained == [(r.step, r.loss) for r in expected if isinstance(r, StepRecord)]


def test_a_nan_loss_stops_and_keeps_the_last_good_checkpoint(tokenizer, data, tmp_path):
    run = TrainingRun(tiny_config(tokenizer), fast(max_steps=20), tokenizer, data, tmp_path / "run")
    steps = run.steps()
    for record in steps:
        if isinstance(record, CheckpointRecord) and record.step == 5 and record.which == "best":
            break
    good = [p.detach().clone() for p in run.model.parameters()]
    run._forward = lambda x, y: run.model(x, y).loss * float("nan")  # the loss blows up from here on
    records = list(steps)
    assert [type(r) for r in records] == [StoppedRecord]
    stopped = records[0]
    assert stopped.reason == "nan" and stopped.step == 5
    assert stopped.message == (
        "The loss became NaN (not a number) at step 6, so training stopped. The last good checkpoint "
        "(step 5) is kept. Try a lower learning rate (e.g. 1e-3) or more warmup steps."
    )
    checkpoint, model = load_checkpoint(tmp_path / "run", which="last")
    assert checkpoint.step == 5
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(good, run.model.parameters()))


def test_an_infinite_gradient_stops_before_the_optimizer_step(tokenizer, data, tmp_path):
    run = TrainingRun(tiny_config(tokenizer), fast(), tokenizer, data, tmp_path / "run")
    before = [p.detach().clone() for p in run.model.parameters()]
    run.model.blocks[0].mlp.up.weight.register_hook(lambda grad: grad * math.inf)
    records = list(run.steps())
    assert [type(r) for r in records] == [EvalRecord, StoppedRecord]
    assert records[-1].reason == "nan" and records[-1].message.startswith(
        "The gradient became infinite at step 1, so training stopped. No checkpoint had been saved yet."
    )
    assert all(torch.equal(a, b) for a, b in zip(before, run.model.parameters()))  # no step was taken
    assert not (tmp_path / "run" / "last").exists()


def test_weights_that_overflow_stop_at_the_evaluation(tokenizer, data, tmp_path):
    run = TrainingRun(tiny_config(tokenizer), fast(), tokenizer, data, tmp_path / "run")
    with torch.no_grad():
        run.model.token_embedding.weight.mul_(1e38)
    records = list(run.steps())
    assert [type(r) for r in records] == [StoppedRecord]
    assert records[0].message.startswith("The validation loss became NaN (not a number) at step 0")


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:83] DefaultCPUAllocator: "
            "can't allocate memory: you tried to allocate 123 bytes"
        ),
        MemoryError(),
    ],
)
def test_running_out_of_memory_becomes_a_sentence(tokenizer, data, tmp_path, error):
    run = TrainingRun(tiny_config(tokenizer), fast(), tokenizer, data, tmp_path / "run")

    def boom(x, y):
        raise error

    run._forward = boom
    with pytest.raises(UserError, match=r"ran out of memory on the CPU at step 1\. Try a smaller batch size \(now 4\)"):
        list(run.steps())


def test_other_errors_pass_through(tokenizer, data, tmp_path):
    run = TrainingRun(tiny_config(tokenizer), fast(), tokenizer, data, tmp_path / "run")
    run._forward = lambda x, y: (_ for _ in ()).throw(RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        list(run.steps())


def test_a_folder_holding_a_run_is_not_overwritten(tokenizer, data, tmp_path):
    run = TrainingRun(tiny_config(tokenizer), fast(max_steps=5), tokenizer, data, tmp_path / "run")
    list(run.steps())
    with pytest.raises(UserError, match="already holds a training run"):
        TrainingRun(tiny_config(tokenizer), fast(), tokenizer, data, tmp_path / "run")
    with pytest.raises(UserError, match="has no saved checkpoint"):
        TrainingRun(tiny_config(tokenizer), fast(), tokenizer, data, tmp_path / "empty", resume=True)
    with pytest.raises(UserError, match="another model"):
        TrainingRun(tiny_config(tokenizer, n_layer=2), fast(), tokenizer, data, tmp_path / "run", resume=True)


def test_resuming_with_more_steps_follows_the_new_plan_and_says_what_differs(tokenizer, data, tmp_path):
    # 30 steps, then continued to 40: the learning rate of every later step is
    # a 40-step run's; steps 22-30 (after the warm-up's 20 and the peak) were not.
    config, cfg = tiny_config(tokenizer), fast(max_steps=30, warmup_steps=20, eval_interval=50)
    list(TrainingRun(config, cfg, tokenizer, data, tmp_path / "run").steps())
    longer = cfg.replace(max_steps=40)
    second = TrainingRun(config, longer, tokenizer, data, tmp_path / "run", resume=True)
    assert second.notes == [
        "The learning-rate schedule is now planned for 40 steps: from step 31 on, every step gets exactly the "
        "learning rate of a run planned for 40 steps from the start, but steps 22 to 30 were trained on the "
        "earlier plan, so the result will differ from 40 steps trained in one go."
    ]
    lrs = [r.lr for r in second.steps() if isinstance(r, StepRecord)]
    assert lrs == [lr_at(step, longer) for step in range(30, 40)]

    # Stopped inside the warm-up, every step taken had the 40-step plan's rate: no note, and
    # the same losses as 40 steps in one go.
    def losses(run):
        return [r.loss for r in run.steps() if isinstance(r, StepRecord)]

    first = losses(TrainingRun(config, cfg.replace(max_steps=15), tokenizer, data, tmp_path / "short"))
    resumed = TrainingRun(config, longer, tokenizer, data, tmp_path / "short", resume=True)
    assert resumed.notes == []
    assert first + losses(resumed) == losses(TrainingRun(config, longer, tokenizer, data, tmp_path / "straight"))


def test_a_folder_that_holds_files_is_not_trained_into_unasked(tokenizer, data, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_text('{"my": "settings"}')
    with pytest.raises(UserError, match=r"mine is not empty \(it holds config.json\).*--overwrite"):
        TrainingRun(tiny_config(tokenizer), fast(max_steps=2), tokenizer, data, folder)
    assert (folder / "config.json").read_text() == '{"my": "settings"}'

    # Allowed, it replaces the files, and a run that was there goes entirely.
    run = TrainingRun(tiny_config(tokenizer), fast(max_steps=5), tokenizer, data, folder, overwrite=True)
    list(run.steps())
    assert json.loads((folder / "config.json").read_text())["n_embd"] == 32
    again = TrainingRun(
        tiny_config(tokenizer), fast(max_steps=2, eval_interval=50), tokenizer, data, folder, overwrite=True
    )
    assert not (folder / "last").exists() and not (folder / "best").exists()
    list(again.steps())
    assert load_checkpoint(folder, which="best")[0].step == 2


def test_a_kill_right_after_the_checkpoint_keeps_its_history(tokenizer, data, tmp_path, monkeypatch):
    import playground.core.training as training

    real_save = training.save_checkpoint

    def save_then_die(run_dir, which, *args):
        path = real_save(run_dir, which, *args)
        if which == "last" and args[2]["step"] == 5:
            raise KeyboardInterrupt  # the process ends between the checkpoint and anything after it
        return path

    monkeypatch.setattr(training, "save_checkpoint", save_then_die)
    run = TrainingRun(tiny_config(tokenizer), fast(max_steps=10), tokenizer, data, tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        list(run.steps())
    checkpoint, _ = load_checkpoint(tmp_path / "run", which="last")
    assert checkpoint.step == 5
    assert [h["step"] for h in checkpoint.history if h["kind"] == "train"] == [1, 2, 3, 4, 5]


def test_a_model_too_big_for_the_device_is_refused_before_it_is_built(tokenizer, data, tmp_path, monkeypatch):
    import playground.core.devices as devices

    monkeypatch.setattr(devices, "physical_memory", lambda: 100_000)
    monkeypatch.setattr(GPT, "from_config", lambda *a, **k: pytest.fail("built a model too big to fit"))
    with pytest.raises(UserError) as refused:
        TrainingRun(tiny_config(tokenizer), fast(), tokenizer, data, tmp_path / "run")
    params = parameter_breakdown(tiny_config(tokenizer)).total
    assert str(refused.value) == (
        f"Training this model needs at least {human_bytes(16 * params)} (16 bytes for each of its "
        f"{human_count(params)} parameters), but this computer has 97.7 KiB of memory in all. Most of the "
        f"parameters are in the token embedding (vocabulary size {tokenizer.vocab_size:,} × width 32): "
        f"choose smaller sizes."
    )


# -- fine-tuning --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parent_run(tokenizer, data, tmp_path_factory) -> Path:
    run = TrainingRun(tiny_config(tokenizer), fast(), tokenizer, data, tmp_path_factory.mktemp("parent") / "run")
    list(run.steps())
    return run.run_dir


def test_fine_tuning_with_another_tokenizer_is_refused(parent_run, tmp_path):
    other = bpe(sentences(300, seed=9).upper())
    other_data = split_tokens(run_quietly(encode_corpus(corpus_from_text(sentences(400, seed=2).upper()), other)))
    with pytest.raises(UserError, match="Fine-tuning needs the same tokenizer"):
        TrainingRun(tiny_config(other), fast(), other, other_data, tmp_path / "child", init_from=parent_run)


def test_fine_tuning_keeps_the_shape(tokenizer, data, parent_run, tmp_path):
    with pytest.raises(UserError, match="shape must stay the same: n_embd is 32 there but 64 here"):
        TrainingRun(
            tiny_config(tokenizer, n_embd=64), fast(), tokenizer, data, tmp_path / "child", init_from=parent_run
        )


def test_fine_tuning_starts_from_the_parent_and_records_it(tokenizer, data, parent_run, tmp_path):
    parent, _ = load_checkpoint(parent_run)
    reopened = LoadedTokenizer(parent.tokenizer.tokenizer)  # the same tokenizer, read back from disk
    child = TrainingRun(
        tiny_config(tokenizer, dropout=0.1), fast(max_steps=5), reopened, data, tmp_path / "child", init_from=parent_run
    )
    assert child.parent == str(parent_run / "best") and child.parent_step == parent.step
    assert child.parent_history == parent.history and child.history[0]["kind"] == "parent"
    records = list(child.steps())
    first_eval = records[0]
    assert first_eval.step == 0 and first_eval.val_loss == pytest.approx(parent.val_loss, rel=1e-5)
    assert child.step == 5  # a new run counts its own steps
    checkpoint, _ = load_checkpoint(tmp_path / "child", which="last")
    assert checkpoint.parent == str(parent_run / "best")
    assert checkpoint.meta["parent_step"] == parent.step
    assert checkpoint.history[0] == {
        "kind": "parent",
        "step": 0,
        "path": str(parent_run / "best"),
        "parent_step": parent.step,
    }


# -- sampling -----------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["gpt2", "llama"])
def test_generate_ids_crops_to_the_context_and_matches_a_full_forward(flavour):
    torch.manual_seed(0)
    sizes = dict(vocab_size=50, context_length=8, n_layer=2, n_head=2, n_embd=16)
    model = GPT(ModelConfig.gpt2_style(**sizes) if flavour == "gpt2" else ModelConfig.llama_style(**sizes))
    prompt = list(range(1, 13))  # longer than the context
    new = generate_ids(model, prompt, 10)
    assert model.training  # the mode it had is given back

    sequence, expected = list(prompt), []
    model.eval()
    with torch.no_grad():
        for _ in range(10):
            logits = model(torch.tensor([sequence[-8:]])).logits[0, -1]
            expected.append(int(logits.argmax()))
            sequence.append(expected[-1])
    assert new == expected

    def draw(seed):
        return generate_ids(model, [1, 2], 12, temperature=1.0, top_k=5, generator=torch.Generator().manual_seed(seed))

    assert draw(1) == draw(1) and len(draw(1)) == 12


# -- the command line ---------------------------------------------------------------------------


def cli(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "playground", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
    )


def test_cli_train_then_generate(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(sentences(600, seed=4), encoding="utf-8")
    out = tmp_path / "run"
    trained = cli(
        "train",
        "--corpus",
        corpus,
        "--vocab-size",
        300,
        "--preset",
        "tiny",
        "--context",
        32,
        "--steps",
        30,
        "--eval-interval",
        15,
        "--batch-size",
        8,
        "--device",
        "cpu",
        "--threads",
        1,
        "--out",
        out,
    )
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.strip() == str(out)
    assert "val loss" in trained.stderr and "tok/s" in trained.stderr and "Training finished" in trained.stderr
    assert (out / "best" / "model.safetensors").is_file()

    generated = cli("generate", "--model", out, "--prompt", "the cat", "--max-new-tokens", 12, "--threads", 1)
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout.startswith("the cat") and len(generated.stdout.strip()) > len("the cat")
    assert "12 tokens" in generated.stderr

    missing = cli("generate", "--model", tmp_path / "nowhere")
    assert missing.returncode == 2 and "error:" in missing.stderr and "does not exist" in missing.stderr


CLI_SMALL = (
    "--vocab-size",
    300,
    "--context",
    32,
    "--batch-size",
    8,
    "--eval-interval",
    50,
    "--device",
    "cpu",
    "--threads",
    1,
)


def test_cli_resume_with_more_steps_says_the_plan_changed(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(sentences(600, seed=4), encoding="utf-8")
    out = tmp_path / "run"
    assert cli("train", "--corpus", corpus, *CLI_SMALL, "--steps", 30, "--out", out).returncode == 0
    resumed = cli("train", "--corpus", corpus, "--resume", "--out", out, "--steps", 40, "--threads", 1)
    assert resumed.returncode == 0, resumed.stderr
    assert (
        "note: The learning-rate schedule is now planned for 40 steps: from step 31 on, every step gets exactly "
        "the learning rate of a run planned for 40 steps from the start, but steps 22 to 30 were trained on the "
        "earlier plan"
    ) in resumed.stderr

    # A config.json whose width was damaged is refused from the weights' shapes, before anything is built.
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "n_embd": 1_000_000_000, "n_head": 1}))
    damaged = cli("train", "--corpus", corpus, "--resume", "--out", out, "--steps", 50, "--threads", 1)
    assert damaged.returncode == 2
    assert re.search(
        r"do not fit config.json: token_embedding.weight is \d+×48 but the configuration needs "
        r"\d+×1000000000",
        damaged.stderr,
    ), damaged.stderr


def test_cli_does_not_train_into_a_folder_that_holds_files_unasked(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(sentences(600, seed=4), encoding="utf-8")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text("my own settings")
    refused = cli("train", "--corpus", corpus, *CLI_SMALL, "--steps", 4, "--out", mine)
    assert refused.returncode == 2 and "Training a" not in refused.stderr  # refused before any work
    assert f"error: {mine} is not empty (it holds config.json)" in refused.stderr and "--overwrite" in refused.stderr
    assert (mine / "config.json").read_text() == "my own settings"

    replaced = cli("train", "--corpus", corpus, *CLI_SMALL, "--steps", 4, "--out", mine, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads((mine / "config.json").read_text())["context_length"] == 32
    again = cli("train", "--corpus", corpus, *CLI_SMALL, "--steps", 4, "--out", mine)
    assert again.returncode == 2 and "already holds a training run" in again.stderr


@pytest.mark.parametrize(
    "option, value",
    [
        ("--context", 0),
        ("--context", -3),
        ("--threads", 0),
        ("--steps", 0),
        ("--batch-size", 0),
        ("--eval-interval", 0),
        ("--lr", -1),
        ("--lr", 0),
        ("--vocab-size", 0),
    ],
)
def test_cli_refuses_a_zero_or_negative_size_at_once(tmp_path, option, value):
    result = cli("train", "--corpus", "default", "--steps", 3, "--out", tmp_path / "run", option, value)
    assert result.returncode == 2
    assert f"argument {option}: must be " in result.stderr  # "at least 1" or "above 0"
    assert "Training a" not in result.stderr and not (tmp_path / "run").exists()  # nothing was done


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is how Ctrl+C reaches a POSIX process")
def test_cli_ctrl_c_saves_then_stops(tmp_path):
    import signal

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(sentences(600, seed=4), encoding="utf-8")
    out = tmp_path / "run"
    args = ["train", "--corpus", corpus, *CLI_SMALL, "--steps", 1_000_000, "--eval-interval", 1_000_000, "--out", out]
    process = subprocess.Popen(
        [sys.executable, "-m", "playground", *map(str, args)],
        cwd=ROOT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    seen = []
    for line in process.stderr:  # wait until the run takes steps
        seen.append(line)
        if line.lstrip("\r").startswith("step      1/"):
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, "".join(seen) + stderr
    assert "Training stopped at step" in stderr and stdout.strip() == str(out)
    checkpoint, _ = load_checkpoint(out, which="last")  # saved, although no evaluation was due
    assert checkpoint.step >= 1
