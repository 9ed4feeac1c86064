"""The Attention Lab's job over what Generate wrote with an encoder-decoder (`seq2seq_look.look_at_written`):
the rows generation handed over, a row per written token, equal to reading the pair afresh."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground import paths
from playground.core import seq2seq_look
from playground.core.attention_records import AttentionSoFar
from playground.core.config import ModelConfig
from playground.core.progress import Progress, UserError, run_quietly
from playground.core.sampling import SamplingSettings, generate_tokens
from playground.core.seq2seq_generation import prepare_input
from playground.core.t5_model import T5
from playground.core.t5_tokens import t5_tokens, with_t5_tokens
from playground.core.tokenization import open_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")


class Checkpoint:
    def __init__(self, model, tokenizer):
        self.model_config, self.tokenizer = model.config, tokenizer


class Store:
    def __init__(self, model):
        self.model, self.calls = model, 0

    def model_for(self, checkpoint):
        self.calls += 1
        return self.model


@pytest.fixture(scope="module")
def written():
    """A tiny random T5, an input, and six tokens it wrote with their attention handed over."""
    tokenizer = with_t5_tokens(open_tokenizer(paths.demo_model_dir() / "tokenizer.json"), n_sentinels=4)
    config = ModelConfig.t5_style(
        vocab_size=tokenizer.vocab_size, context_length=24, n_layer=2, n_decoder_layer=3, n_head=2,
        n_embd=16, relative_buckets=8,
    )  # fmt: skip
    torch.manual_seed(0)
    model = T5(config).eval()
    input_ids = prepare_input(tokenizer, "reverse: red green blue", 24).ids
    settings = SamplingSettings(strategy="greedy", max_new_tokens=6, stop_at_end=False)
    start = [t5_tokens(tokenizer).decoder_start]
    tokens = list(generate_tokens(model, start, settings, input_ids=input_ids, tokenizer=tokenizer, attention=True))
    return model, tokenizer, list(input_ids), tokens


def test_the_rows_generation_handed_over_are_a_row_per_written_token_and_need_no_model(written):
    model, tokenizer, input_ids, tokens = written
    checkpoint, store = Checkpoint(model, tokenizer), Store(model)
    fresh = seq2seq_look.capture_ids_pair(model, tokenizer, input_ids, [t.id for t in tokens])
    so_far = AttentionSoFar()
    for n, token in enumerate(tokens, 1):
        so_far = so_far.add(token.attention)
        ids = input_ids + [t.id for t in tokens[:n]]
        items = []
        pair = run_quietly(seq2seq_look.look_at_written(store, checkpoint, ids, len(input_ids), so_far), items.append)
        assert pair.cross.shape == (3, 2, n, len(input_ids)) and pair.decoder.shape == (3, 2, n, n)
        assert pair.written_tokens[-1] == tokenizer.token_text(tokens[n - 1].id)
        np.testing.assert_allclose(pair.cross, fresh.cross[:, :, :n], atol=1e-5, rtol=0)
        np.testing.assert_allclose(pair.decoder, fresh.decoder[:, :, :n, :n], atol=1e-5, rtol=0)
    np.testing.assert_allclose(pair.encoder, fresh.encoder, atol=1e-5, rtol=0)
    assert store.calls == 0 and pair.generated


def test_without_rows_the_model_reads_the_pair_and_nothing_written_says_so(written):
    model, tokenizer, input_ids, tokens = written
    checkpoint, store = Checkpoint(model, tokenizer), Store(model)
    ids = input_ids + [t.id for t in tokens]
    progress = []
    gen = seq2seq_look.look_at_written(store, checkpoint, ids, len(input_ids), None)
    pair = run_quietly(gen, progress.append)
    assert store.calls == 1 and pair.cross.shape == (3, 2, len(tokens), len(input_ids))
    with pytest.raises(UserError, match="Nothing written yet"):
        run_quietly(seq2seq_look.look_at_written(store, checkpoint, input_ids, len(input_ids), None))
    assert isinstance(next(seq2seq_look.look_at_written(store, checkpoint, ids, len(input_ids))), Progress)
