"""Training an encoder: the masked-LM objective in the same loop, its accuracy and fill-the-mask samples,
checkpoints, and exact resumption."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sample_text import sentences  # tests/ is on sys.path

from playground.core.checkpoints import load_checkpoint
from playground.core.config import ModelConfig
from playground.core.corpus import corpus_from_text
from playground.core.data import TokenData, encode_corpus, split_tokens
from playground.core.encoder_training import FillMaskSample, MaskedLM
from playground.core.progress import CancelToken, UserError, run_quietly
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process, with_encoder_tokens
from playground.core.training import EvalRecord, StepRecord, StoppedRecord, TrainConfig, TrainingRun

pytestmark = pytest.mark.usefixtures("one_thread")


def trained(kind: str) -> LoadedTokenizer:
    spec = spec_for_kind(kind, vocab_size=120 if kind == "wordpiece" else 300)
    return LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(sentences(300)), spec)), spec=spec)


@pytest.fixture(scope="module")
def tokenizer() -> LoadedTokenizer:
    return trained("wordpiece")


@pytest.fixture(scope="module")
def data(tokenizer) -> TokenData:
    return split_tokens(run_quietly(encode_corpus(corpus_from_text(sentences(400, seed=1)), tokenizer)))


def encoder_config(tokenizer: LoadedTokenizer, **changes) -> ModelConfig:
    sizes = dict(vocab_size=tokenizer.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=32)
    return ModelConfig.bert_style(**{**sizes, **changes})


def fast(**changes) -> TrainConfig:
    settings = dict(
        batch_size=4, max_steps=10, warmup_steps=2, eval_interval=5, eval_batches=2, sample_interval=0, device="cpu"
    )
    return TrainConfig(**{**settings, **changes})


def test_batches_are_wrapped_windows_with_bert_masking(tokenizer, data):
    mlm = MaskedLM(tokenizer, encoder_config(tokenizer), fast())
    inputs, labels = mlm.batch(data.train, 64, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert inputs.shape == labels.shape == (64, 32)
    cls, sep = mlm.tokens.cls, mlm.tokens.sep
    assert torch.all(inputs[:, 0] == cls) and torch.all(inputs[:, -1] == sep)
    assert torch.all(labels[:, [0, -1]] == -100)
    chosen = labels != -100
    assert 0.1 < chosen.float().mean() < 0.2
    # The labels are the windows' own tokens: each row is a stretch of the training ids.
    stream = data.train.tolist()
    row = torch.where(chosen[0], labels[0], inputs[0])[1:-1].tolist()
    unchanged = (~chosen[0, 1:-1]) | (inputs[0, 1:-1] == labels[0, 1:-1])
    starts = [i for i in range(len(stream) - 30) if all(stream[i + j] == row[j] for j in range(30) if unchanged[j])]
    assert starts


def test_an_encoder_trains_with_masked_accuracy_and_fill_mask_samples(tokenizer, data, tmp_path):
    cfg = fast(max_steps=60, eval_interval=20, sample_interval=30, batch_size=8, learning_rate=1e-2)
    run = TrainingRun(encoder_config(tokenizer), cfg, tokenizer, data, tmp_path / "run")
    records = list(run.steps())
    evals = [r for r in records if isinstance(r, EvalRecord)]
    assert [r.step for r in evals] == [0, 20, 40, 60]
    assert evals[0].val_loss == pytest.approx(math.log(tokenizer.vocab_size), abs=0.5)
    assert evals[-1].val_loss < evals[0].val_loss - 1.0
    assert all(r.masked_accuracy is not None and 0 <= r.masked_accuracy <= 1 for r in evals)
    assert evals[-1].masked_accuracy > evals[0].masked_accuracy
    samples = [r for r in records if isinstance(r, FillMaskSample)]
    assert [s.step for s in samples] == [30, 60]
    sample = samples[-1]
    assert sample.text.count("[MASK]") == len(sample.masks) == 3
    for hidden in sample.masks:
        assert hidden.answer and len(hidden.guesses) == 3
        probabilities = [g.probability for g in hidden.guesses]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-6
    assert samples[0].text == samples[1].text  # the same sentence every time
    assert isinstance(records[-1], StoppedRecord) and records[-1].reason == "finished"

    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["step"] for h in history if h["kind"] == "fill_mask"] == [30, 60]
    assert all("masked_accuracy" in h for h in history if h["kind"] == "eval")
    checkpoint, model = load_checkpoint(tmp_path / "run", which="last")
    assert checkpoint.model_config.is_encoder and checkpoint.step == 60
    x = torch.from_numpy(data.val[:32].astype(np.int64))[None]
    torch.testing.assert_close(model(x).logits, run.model.eval()(x).logits)


@pytest.mark.parametrize("grad_accum", [1, 2])
def test_resuming_an_encoder_gives_the_same_losses_as_never_stopping(tokenizer, data, tmp_path, grad_accum):
    # Dropout, windows and hidden tokens all come back exactly.
    config = encoder_config(tokenizer, dropout=0.1)
    cfg = fast(max_steps=16, eval_interval=5, sample_interval=4, grad_accum=grad_accum)

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
    got += [r for r in second.steps() if isinstance(r, (StepRecord, EvalRecord))]

    def losses(records):
        return [
            (type(r).__name__, r.step, getattr(r, "loss", None), getattr(r, "val_loss", None),
             getattr(r, "masked_accuracy", None))
            for r in records
        ]  # fmt: skip

    assert losses(got) == losses(expected)  # exact floats
    for a, b in zip(straight.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)


def test_a_tokenizer_without_mask_is_refused_until_the_tokens_are_added(tmp_path):
    bpe = trained("bpe")
    ids = run_quietly(encode_corpus(corpus_from_text(sentences(200, seed=2)), bpe))
    data = split_tokens(ids)
    with pytest.raises(UserError, match=r"needs a \[MASK\] token; this one lacks \[MASK\], \[CLS\]"):
        TrainingRun(encoder_config(bpe), fast(), bpe, data, tmp_path / "refused")
    added = with_encoder_tokens(bpe)
    run = TrainingRun(encoder_config(added), fast(max_steps=2), added, data, tmp_path / "run")
    assert isinstance(list(run.steps())[-1], StoppedRecord)


def test_the_mask_share_is_a_checked_setting():
    assert TrainConfig().mask_share == 0.15
    assert TrainConfig.from_dict({"batch_size": 4}).mask_share == 0.15  # older files
    assert any("share of tokens to hide" in p for p in TrainConfig(mask_share=1.5).validate())


def test_an_encoder_fine_tunes_from_an_encoder_but_not_from_a_decoder(tokenizer, data, tmp_path):
    parent = TrainingRun(encoder_config(tokenizer), fast(max_steps=5), tokenizer, data, tmp_path / "parent")
    list(parent.steps())
    child = TrainingRun(
        encoder_config(tokenizer), fast(max_steps=3), tokenizer, data, tmp_path / "child", init_from=tmp_path / "parent"
    )
    for a, b in zip(parent.model.parameters(), child.model.parameters()):
        assert torch.equal(a, b)
    assert isinstance(list(child.steps())[-1], StoppedRecord)
    decoder = encoder_config(tokenizer).replace(family="decoder", flavour="gpt2")
    with pytest.raises(UserError, match="family is 'encoder' there but 'decoder' here"):
        TrainingRun(decoder, fast(), tokenizer, data, tmp_path / "decoder", init_from=tmp_path / "parent")
