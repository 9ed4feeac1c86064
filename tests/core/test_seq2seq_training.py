"""Training an encoder-decoder (T5 style): span corruption on a corpus and text to text on a task, in the
same loop as the other families, with curves, samples, checkpoints, fine-tuning and exact resumption."""

from __future__ import annotations

import json

import pytest
import torch
from sample_text import sentences  # tests/ is on sys.path

from playground.core.checkpoints import load_checkpoint
from playground.core.config import ModelConfig
from playground.core.corpus import corpus_from_text
from playground.core.data import TokenData, encode_corpus, split_tokens
from playground.core.progress import CancelToken, UserError, run_quietly
from playground.core.seq2seq_training import EpochStream, Seq2SeqObjective, Seq2SeqSample
from playground.core.t5_model import T5
from playground.core.t5_tokens import t5_tokens, with_t5_tokens
from playground.core.text_to_text import Seq2SeqExample
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process
from playground.core.training import EvalRecord, StepRecord, StoppedRecord, TrainConfig, TrainingRun
from playground.core.training_job import TrainingRequest, train

pytestmark = pytest.mark.usefixtures("one_thread")

PAIRS = [("the cat sat", "sat cat the"), ("a red dog", "dog red a"), ("the mat", "mat the"), ("it ran", "ran it")]


def plain_tokenizer() -> LoadedTokenizer:
    spec = spec_for_kind("bpe", vocab_size=300)
    return LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(sentences(200)), spec)), spec=spec)


@pytest.fixture(scope="module")
def tokenizer() -> LoadedTokenizer:
    return with_t5_tokens(plain_tokenizer(), n_sentinels=8)


@pytest.fixture(scope="module")
def data(tokenizer) -> TokenData:
    return split_tokens(run_quietly(encode_corpus(corpus_from_text(sentences(60, seed=1)), tokenizer)))


@pytest.fixture()
def task_file(tmp_path):
    path = tmp_path / "reverse.jsonl"
    rows = [{"input": f"{a} {n}", "reference": f"{n} {b}"} for n in range(12) for a, b in PAIRS]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def t5_config(tokenizer: LoadedTokenizer, **changes) -> ModelConfig:
    sizes = dict(vocab_size=tokenizer.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=32)
    return ModelConfig.t5_style(**{**sizes, **changes})


def fast(**changes) -> TrainConfig:
    settings = dict(
        batch_size=4, max_steps=10, warmup_steps=2, eval_interval=5, eval_batches=2, sample_interval=0, device="cpu"
    )
    return TrainConfig(**{**settings, **changes})


def test_span_corruption_trains_with_curves_samples_and_checkpoints(tokenizer, data, tmp_path):
    cfg = fast(max_steps=30, eval_interval=15, sample_interval=15, learning_rate=1e-2)
    run = TrainingRun(t5_config(tokenizer), cfg, tokenizer, data, tmp_path / "run")
    assert isinstance(run.model, T5)
    records = list(run.steps())
    evals = [r for r in records if isinstance(r, EvalRecord)]
    assert [r.step for r in evals] == [0, 15, 30]
    assert evals[-1].val_loss < evals[0].val_loss - 1.0 and all(r.masked_accuracy is None for r in evals)
    steps = [r for r in records if isinstance(r, StepRecord)]
    # The speed counts the tokens read and written, padding left out (the first step's alone).
    first_batch = Seq2SeqObjective(tokenizer, t5_config(tokenizer), cfg, data).batch(4, torch.device("cpu"))
    assert steps[0].tokens_per_s * steps[0].step_time_s == pytest.approx(first_batch[1])
    assert first_batch[1] == int(first_batch[0].attention_mask.sum()) + int((first_batch[0].labels != -100).sum())
    samples = [r for r in records if isinstance(r, Seq2SeqSample)]
    assert [s.step for s in samples] == [15, 30]
    first, last = samples
    assert first.objective == "span-corruption" and first.input == last.input and first.target == last.target
    assert "<extra_id_0>" in first.input and first.target.startswith("<extra_id_0>")
    assert "</s>" not in first.input + first.target  # the end token is left out of the text shown
    assert isinstance(last.filled, str) and isinstance(last.answer, str)
    assert isinstance(records[-1], StoppedRecord) and records[-1].reason == "finished"

    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["step"] for h in history if h["kind"] == "seq2seq_sample"] == [15, 30]
    assert [h["step"] for h in history if h["kind"] == "eval"] == [0, 15, 30]
    checkpoint, model = load_checkpoint(tmp_path / "run", which="last")
    assert isinstance(model, T5) and checkpoint.step == 30
    assert checkpoint.train_config.objective == "span-corruption"
    ids, decoder_ids = torch.tensor([[5, 6, 7, 8]]), torch.tensor([[0, 9, 10]])
    torch.testing.assert_close(model(ids, decoder_ids).logits, run.model.eval()(ids, decoder_ids).logits)


def test_the_sample_fills_the_models_answer_into_the_corrupted_sentence(tokenizer, data, tmp_path, monkeypatch):
    import playground.core.seq2seq_training as seq2seq_training

    run = TrainingRun(t5_config(tokenizer), fast(), tokenizer, data, tmp_path / "run")
    example = run.seq2seq._sample_example(run.train_config.seed)
    # A model that writes the target exactly: its answer fills the gaps back into the validation text.
    monkeypatch.setattr(seq2seq_training, "greedy_decode", lambda *a, **k: torch.tensor([example.target_ids]))
    sample = run.sample()
    assert isinstance(sample, Seq2SeqSample) and sample.correct and sample.answer == sample.target
    # A stretch of the validation text that begins a line (a sentence, not the middle of one).
    assert "\n" + sample.filled in tokenizer.tokenizer.decode([int(i) for i in data.val[:300]])
    assert "<extra_id_" not in sample.filled and len(sample.filled) > len(sample.input.split("<extra_id_")[0])
    assert run.history[-1] == sample.to_history() and run.history[-1]["kind"] == "seq2seq_sample"


def test_text_to_text_trains_on_a_task_file_and_measures_the_held_out_examples(tokenizer, task_file, tmp_path):
    cfg = fast(
        objective="text-to-text", task=str(task_file), task_prefix="reverse: ", max_steps=20, eval_interval=10,
        sample_interval=10, learning_rate=1e-2,
    )  # fmt: skip
    run = TrainingRun(t5_config(tokenizer), cfg, tokenizer, None, tmp_path / "run")
    held_out = run.seq2seq.held_out
    assert run.data is None and 0 < len(held_out) < len(run.seq2seq.train_pairs)
    records = list(run.steps())
    evals = [r for r in records if isinstance(r, EvalRecord)]
    assert [r.step for r in evals] == [0, 10, 20] and evals[-1].val_loss < evals[0].val_loss
    sample = [r for r in records if isinstance(r, Seq2SeqSample)][-1]
    assert sample.objective == "text-to-text" and sample.filled == ""
    first = held_out.examples[0]
    assert sample.input == tokenizer.tokenizer.decode(list(first.input_ids[:-1]))
    assert sample.input.startswith("reverse: ")
    assert sample.target == tokenizer.tokenizer.decode(list(first.target_ids[:-1]))
    assert "pairs of reverse.jsonl" in run.seq2seq.describe()


def test_a_shipped_task_set_brings_its_prefix_and_held_out_file(tokenizer, tmp_path):
    cfg = fast(objective="text-to-text", task="reverse-words", max_steps=2, sample_interval=2)
    run = TrainingRun(t5_config(tokenizer), cfg, tokenizer, None, tmp_path / "run")
    assert len(run.seq2seq.held_out) == 100 and len(run.seq2seq.train_pairs) == 900
    sample = [r for r in run.steps() if isinstance(r, Seq2SeqSample)][0]
    assert sample.input.startswith("reverse: ")


def test_text_to_text_needs_a_task_it_can_find(tokenizer, tmp_path):
    with pytest.raises(UserError, match="Text to text needs a task.*reverse-words"):
        TrainingRun(t5_config(tokenizer), fast(objective="text-to-text"), tokenizer, None, tmp_path / "a")
    with pytest.raises(UserError, match="There is no task file 'nowhere.csv'"):
        TrainingRun(t5_config(tokenizer), fast(objective="text-to-text", task="nowhere.csv"), tokenizer, None,
                    tmp_path / "b")  # fmt: skip


@pytest.mark.parametrize("objective", ["span-corruption", "text-to-text"])
@pytest.mark.parametrize("grad_accum", [1, 2])
def test_resuming_an_encoder_decoder_gives_the_same_losses_as_never_stopping(
    tokenizer, data, task_file, tmp_path, objective, grad_accum
):
    # Dropout, the examples, their order and (span corruption) the spans of each epoch all come back
    # exactly; a small corpus makes several epochs, so the stop and the resume cross their boundaries.
    config = t5_config(tokenizer, dropout=0.1)
    cfg = fast(max_steps=16, eval_interval=5, sample_interval=4, grad_accum=grad_accum, objective=objective,
               task=str(task_file))  # fmt: skip
    corpus = data if objective == "span-corruption" else None

    straight = TrainingRun(config, cfg, tokenizer, corpus, tmp_path / "straight")
    expected = [r for r in straight.steps() if isinstance(r, (StepRecord, EvalRecord, Seq2SeqSample))]
    assert straight.seq2seq.stream.epoch >= 1

    first = TrainingRun(config, cfg, tokenizer, corpus, tmp_path / "stopped")
    cancel = CancelToken()
    got = []
    for record in first.steps(cancel):
        if isinstance(record, (StepRecord, EvalRecord, Seq2SeqSample)):
            got.append(record)
        if isinstance(record, StepRecord) and record.step == 7:  # between two evaluations
            cancel.cancel()
    assert first.step == 7
    second = TrainingRun(config, cfg, tokenizer, corpus, tmp_path / "stopped", resume=True)
    got += [r for r in second.steps() if isinstance(r, (StepRecord, EvalRecord, Seq2SeqSample))]

    def losses(records):
        return [
            (type(r).__name__, r.step, getattr(r, "loss", None), getattr(r, "val_loss", None),
             getattr(r, "answer", None))
            for r in records
        ]  # fmt: skip

    assert losses(got) == losses(expected)  # exact floats
    for a, b in zip(straight.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)


def test_the_epoch_stream_draws_fresh_spans_each_epoch_and_resumes_mid_epoch(tokenizer, data):
    tokens = t5_tokens(tokenizer)
    from playground.core.span_corruption import span_corruption_examples

    def make_epoch(generator):
        return span_corruption_examples(data.train[:300], tokens, 32, generator)  # two spans each

    stream = EpochStream(make_epoch, seed=3)
    epoch_size = len(make_epoch(torch.Generator().manual_seed(0)))
    first_epoch = stream.take(epoch_size)
    second_epoch = stream.take(epoch_size)
    assert stream.epoch == 1 and set(first_epoch) != set(second_epoch)  # new spans, not only a new order
    stream.take(3)
    saved = stream.state()
    ahead = stream.take(epoch_size + 2)  # into the next epoch
    again = EpochStream(make_epoch, seed=99)
    again.load_state(saved)
    assert again.take(epoch_size + 2) == ahead


def test_the_stream_takes_the_text_to_text_pairs_once_per_epoch_in_a_new_order():
    pairs = [Seq2SeqExample((i, 1), (i, 1)) for i in range(6)]
    stream = EpochStream(lambda generator: pairs, seed=0)
    one, two = stream.take(6), stream.take(6)
    assert sorted(one, key=str) == sorted(two, key=str) == sorted(pairs, key=str) and one != two


def test_a_tokenizer_without_t5s_tokens_is_refused_with_the_fix(data, tmp_path):
    plain = plain_tokenizer()
    with pytest.raises(UserError, match=r"lacks <pad>, </s> and \d+ sentinels.*with_t5_tokens"):
        TrainingRun(t5_config(plain), fast(), plain, data, tmp_path / "refused")
    few = with_t5_tokens(plain, n_sentinels=1)  # a context of 32 drops two spans
    with pytest.raises(UserError, match=r"lacks the sentinel <extra_id_1>"):
        TrainingRun(t5_config(few), fast(), few, data, tmp_path / "few")


def test_the_objective_settings_are_checked_and_older_files_read():
    old = TrainConfig.from_dict({"batch_size": 4, "mask_share": 0.2})
    assert (old.objective, old.noise_share, old.mean_span, old.task, old.task_prefix) == (
        "span-corruption", 0.15, 3.0, "", None,
    )  # fmt: skip
    assert TrainConfig.from_dict(fast(objective="text-to-text", task="x").to_dict()).objective == "text-to-text"
    problems = " ".join(TrainConfig(objective="translate", noise_share=1.0, mean_span=0.5).validate())
    assert "objective must be one of span-corruption, text-to-text" in problems
    assert "share of tokens to drop" in problems and "mean span length" in problems


def test_an_encoder_decoder_fine_tunes_text_to_text_from_span_corruption(tokenizer, data, task_file, tmp_path):
    parent = TrainingRun(t5_config(tokenizer), fast(max_steps=3), tokenizer, data, tmp_path / "parent")
    list(parent.steps())
    cfg = fast(max_steps=2, objective="text-to-text", task=str(task_file))
    child = TrainingRun(t5_config(tokenizer), cfg, tokenizer, None, tmp_path / "child", init_from=tmp_path / "parent")
    for a, b in zip(parent.model.parameters(), child.model.parameters()):
        assert torch.equal(a, b)
    assert isinstance(list(child.steps())[-1], StoppedRecord)


def test_the_job_trains_text_to_text_without_reading_a_corpus(tokenizer, task_file, tmp_path):
    cfg = fast(max_steps=2, objective="text-to-text", task=str(task_file))
    request = TrainingRequest(t5_config(tokenizer), cfg, tokenizer, None, tmp_path / "run", probe_text="the cat")
    items = []
    run = run_quietly(train(request), on_partial=items.append)
    assert run.step == 2 and any(isinstance(i, StoppedRecord) for i in items)
