"""The training job generator (core/training_job.py) and the checkpoint loads (core/loading.py), without Qt."""

from __future__ import annotations

import pytest
from sample_text import sentences  # tests/ is on sys.path

from playground.core.attention import LiveProbe, ProbeRecord
from playground.core.checkpoints import checkpoint_dir, is_checkpoint
from playground.core.config import ModelConfig
from playground.core.corpus import corpus_from_text
from playground.core.loading import load_model, load_trained_model, read_checkpoint
from playground.core.progress import Cancelled, CancelToken, Progress, UserError, run_quietly
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process
from playground.core.training import EvalRecord, StepRecord, StoppedRecord, TrainConfig, TrainingRun
from playground.core.training_job import RunStarted, StepBatch, TrainingRequest, train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus():
    return corpus_from_text(sentences(400, seed=1))


@pytest.fixture(scope="module")
def tokenizer(corpus) -> LoadedTokenizer:
    spec = spec_for_kind("bpe", vocab_size=300)
    return LoadedTokenizer(run_quietly(train_in_process(corpus, spec)), spec=spec)


def request_for(tokenizer, corpus, run_dir, **changes) -> TrainingRequest:
    config = ModelConfig.gpt2_style(vocab_size=tokenizer.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=32)
    settings = dict(
        batch_size=4, max_steps=10, warmup_steps=2, eval_interval=5, eval_batches=2, sample_interval=0, device="cpu"
    )
    train_config = TrainConfig(**{**settings, **changes})
    return TrainingRequest(config, train_config, tokenizer, corpus, run_dir)


def drive(gen):
    """Every item the generator yields, and what it returns."""
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as done:
            return items, done.value


def test_a_run_reports_encoding_then_its_start_then_batched_steps_and_returns_the_run(tokenizer, corpus, tmp_path):
    items, run = drive(train(request_for(tokenizer, corpus, tmp_path / "run"), batch_interval_s=3600))
    started = next(i for i, item in enumerate(items) if isinstance(item, RunStarted))
    before = items[:started]
    assert before and all(isinstance(p, Progress) for p in before)
    assert any(p.fraction == pytest.approx(1.0) and p.message.startswith("Encoding") for p in before)
    assert items[started].run is run and isinstance(run, TrainingRun) and run.step == 10
    assert isinstance(items[started].probe, LiveProbe)
    # No step record on its own: with a long batching interval, the steps come in one batch per evaluation.
    assert not any(isinstance(item, StepRecord) for item in items)
    batches = [item for item in items if isinstance(item, StepBatch)]
    assert [[r.step for r in b.records] for b in batches] == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    for batch in batches:  # each batch is followed by how far the run is
        after = items[items.index(batch) + 1]
        assert isinstance(after, Progress) and after.fraction == batch.records[-1].step / 10
    assert [e.step for e in items if isinstance(e, EvalRecord)] == [0, 5, 10]
    partials = [item for item in items if not isinstance(item, Progress)]
    assert isinstance(partials[-1], StoppedRecord) and partials[-1].reason == "finished"
    assert checkpoint_dir(tmp_path / "run", "best") is not None


def test_steps_are_gathered_for_at_most_the_batching_interval(tokenizer, corpus, tmp_path):
    items, _ = drive(train(request_for(tokenizer, corpus, tmp_path / "run", eval_interval=100), batch_interval_s=0))
    batches = [item.records for item in items if isinstance(item, StepBatch)]
    assert [len(b) for b in batches] == [1] * 10  # no time to gather: every step is its own batch


def test_stop_saves_then_stops(tokenizer, corpus, tmp_path):
    stop = CancelToken()
    gen = train(request_for(tokenizer, corpus, tmp_path / "run", max_steps=100_000, eval_interval=1000), stop)
    steps = 0
    for item in gen:
        if isinstance(item, StepBatch):
            steps = item.records[-1].step
            if steps >= 3:
                stop.cancel()
        if isinstance(item, StoppedRecord):
            break
    assert item.reason == "stopped" and item.step >= 3
    _, run = drive(gen)
    assert run.step == item.step
    assert run_quietly(read_checkpoint(tmp_path / "run")).step == item.step  # saved, though no evaluation was due


def test_closing_the_generator_abandons_the_run_unsaved(tokenizer, corpus, tmp_path):
    gen = train(
        request_for(tokenizer, corpus, tmp_path / "run", max_steps=100_000, eval_interval=1000), batch_interval_s=0
    )
    for item in gen:
        if isinstance(item, StepBatch) and item.records[-1].step >= 3:
            break
    gen.close()  # what the engine does on cancel
    assert not is_checkpoint(tmp_path / "run")


def test_stop_while_encoding_cancels(tokenizer, corpus, tmp_path):
    stop = CancelToken()
    stop.cancel()
    with pytest.raises(Cancelled):
        run_quietly(train(request_for(tokenizer, corpus, tmp_path / "run"), stop))
    assert not (tmp_path / "run").exists()


def test_probe_records_follow_the_sentence_set_while_training(tokenizer, corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(LiveProbe, "due", lambda self, elapsed_s, now: True)  # probe after every step
    request = request_for(tokenizer, corpus, tmp_path / "run", max_steps=6, eval_interval=100)
    from dataclasses import replace

    probes = []
    for item in train(replace(request, probe_text="The cat sat."), batch_interval_s=0):
        if isinstance(item, RunStarted):
            probe = item.probe
        elif isinstance(item, ProbeRecord):
            probes.append(item)
            if item.step == 3:
                probe.set_text("A dog ran.")  # as the Attention Lab does, from another thread
    assert [p.step for p in probes] == [1, 2, 3, 4, 5, 6]
    assert "".join(probes[0].tokens) == "The cat sat." and "".join(probes[-1].tokens) == "A dog ran."
    assert probes[0].weights.shape[:2] == (1, 2)


def test_loads_are_job_generators(tokenizer, corpus, tmp_path):
    run_quietly(train(request_for(tokenizer, corpus, tmp_path / "run")))
    gen = load_model(tmp_path / "run", device="cpu")
    first = next(gen)
    assert isinstance(first, Progress) and first.fraction is None  # says what it does before the slow part
    _, (checkpoint, model) = drive(gen)
    assert checkpoint.step == 10 and not model.training
    assert run_quietly(read_checkpoint(tmp_path / "run")).step == 10
    loaded = run_quietly(load_trained_model(tmp_path / "run", "cpu"))
    assert loaded is not None and loaded[0].which == "best"
    with pytest.raises(UserError, match="not a checkpoint"):
        (tmp_path / "photos").mkdir()
        run_quietly(read_checkpoint(tmp_path / "photos"))


def test_a_run_that_saved_nothing_leaves_no_folder_unless_kept(tmp_path):
    empty = tmp_path / "empty-run"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    assert run_quietly(load_trained_model(empty, "cpu", keep_if_empty=True)) is None and empty.exists()
    assert run_quietly(load_trained_model(empty, "cpu")) is None and not empty.exists()
