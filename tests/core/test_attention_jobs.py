"""The Attention Lab's jobs: what they yield and return, and that handed-over attention runs no model."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from playground.core.attention import capture_ids
from playground.core.attention_jobs import look_at_generated, look_at_text, map_embeddings
from playground.core.attention_records import AttentionSoFar
from playground.core.config import ModelConfig
from playground.core.model import GPT
from playground.core.progress import Progress, run_quietly
from playground.core.sampling import SamplingSettings, generate_tokens
from playground.core.tokenization import open_tokenizer

DEMO = Path(__file__).resolve().parents[2] / "models" / "demo"


class Store:
    """The session's model store, counting how often a job asked for the model."""

    def __init__(self, model):
        self.model = model
        self.asked = 0

    def model_for(self, checkpoint):
        self.asked += 1
        return self.model


@pytest.fixture(scope="module")
def lab(one_thread):
    tokenizer = open_tokenizer(DEMO / "tokenizer.json")
    torch.manual_seed(0)
    config = ModelConfig.llama_style(vocab_size=tokenizer.vocab_size, context_length=12, n_layer=2, n_head=2, n_embd=16)
    model = GPT(config).eval()
    checkpoint = SimpleNamespace(tokenizer=tokenizer, model_config=config, name="tiny")
    return checkpoint, model


def drain(gen):
    """Run a job generator to its end: (what it yielded, what it returned)."""
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def test_looking_at_a_text_yields_progress_and_returns_a_snapshot(lab):
    checkpoint, model = lab
    store = Store(model)
    gen = look_at_text(store, checkpoint, "The cat sat.")
    assert isinstance(next(gen), Progress) and store.asked == 0  # says what it does before it loads
    snapshot = run_quietly(gen)
    assert "".join(snapshot.tokens) == "The cat sat." and store.asked == 1
    T = len(snapshot.tokens)
    assert snapshot.weights.shape == (2, 2, T, T) and snapshot.weights.dtype == np.float32
    assert len(snapshot.stats) == 4 and snapshot.describe() == "" and snapshot.notice == ""


def test_a_generated_text_with_handed_over_attention_is_drawn_without_the_model(lab):
    checkpoint, model = lab
    settings = SamplingSettings(strategy="greedy", max_new_tokens=15, stop_at_end=False)
    prompt = checkpoint.tokenizer.encode_ids(["def add"])[0]
    ids, so_far = list(prompt), AttentionSoFar()
    for token in generate_tokens(model, prompt, settings, attention=True):
        ids.append(token.id)
        so_far = so_far.add(token.attention)
    tokens = [checkpoint.tokenizer.decode([i]) for i in ids]
    store = Store(model)
    items, snapshot = drain(look_at_generated(store, checkpoint, ids, tokens, len(prompt), so_far))
    assert store.asked == 0 and items and all(isinstance(i, Progress) for i in items)
    cut = len(ids) - 12  # the text outgrew the context: the window is shown, and said so
    assert snapshot.tokens == tokens[cut:] and "the last 12" in snapshot.notice
    assert snapshot.prompt_tokens == max(0, len(prompt) - cut)
    np.testing.assert_allclose(snapshot.weights, capture_ids(model, ids[cut:]).numpy(), atol=1e-5, rtol=0)

    # without it (generation did not hand it over), the model reads the window once
    _, again = drain(look_at_generated(store, checkpoint, ids, tokens, len(prompt)))
    assert store.asked == 1
    np.testing.assert_allclose(again.weights, snapshot.weights, atol=1e-5, rtol=0)


def test_the_embedding_map_job(lab):
    checkpoint, model = lab
    store = Store(model)
    items, data = drain(map_embeddings(store, checkpoint))
    assert [i.message for i in items] == ["Loading the model…", "Mapping the token embeddings…"]
    assert data.coords.shape == (checkpoint.tokenizer.vocab_size, 2) and data.name == "tiny"


def test_a_job_closed_before_it_loads_the_model_never_loads_it(lab):
    """The engine's cancel stops asking and closes the generator: nothing more runs."""
    checkpoint, model = lab
    store = Store(model)
    for gen in (
        look_at_text(store, checkpoint, "hello"),
        map_embeddings(store, checkpoint),
        look_at_generated(store, checkpoint, [1, 2], ["a", "b"], 1),
    ):
        next(gen)
        gen.close()
    assert store.asked == 0
