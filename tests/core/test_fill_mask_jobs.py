"""The Fill-the-mask step's jobs (the model from a store, inside the job) and the shipped [MASK] template."""

from __future__ import annotations

import pytest
import torch
from sample_text import sentences  # tests/ is on sys.path

from playground.core.config import ModelConfig
from playground.core.corpus import corpus_from_text
from playground.core.fill_mask import FilledText, MaskFilled, fill_all_masks, fill_mask
from playground.core.fill_mask_jobs import fill_every_mask, guess_masks
from playground.core.generation_jobs import OneModel
from playground.core.model import GPT
from playground.core.progress import Progress, UserError, run_quietly
from playground.core.prompts import builtin_templates
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process

pytestmark = pytest.mark.usefixtures("one_thread")
TEXT = "the [MASK] sat on the [MASK] ."


@pytest.fixture(scope="module")
def tokenizer() -> LoadedTokenizer:
    spec = spec_for_kind("wordpiece", vocab_size=120)
    return LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(sentences(200)), spec)), spec=spec)


@pytest.fixture(scope="module")
def model(tokenizer) -> GPT:
    torch.manual_seed(0)
    config = ModelConfig.bert_style(vocab_size=tokenizer.vocab_size, context_length=16, n_layer=1, n_head=2, n_embd=32)
    return GPT(config).eval()


class Store:
    """Stands in for the session's ModelStore: says whether the job asked it for the model."""

    def __init__(self, model) -> None:
        self.model, self.asked = model, []

    def model_for(self, checkpoint):
        self.asked.append(checkpoint)
        return self.model


def checkpoint_of(tokenizer):
    from types import SimpleNamespace

    return SimpleNamespace(tokenizer=tokenizer, name="tiny")


def test_guess_masks_asks_the_store_inside_the_job_and_guesses_each_mask(model, tokenizer):
    store, checkpoint = Store(model), checkpoint_of(tokenizer)
    job = guess_masks(store, checkpoint, TEXT, 3)
    assert isinstance(next(job), Progress) and store.asked == []  # nothing loaded before the job runs
    result = run_quietly(job)
    assert store.asked == [checkpoint]
    assert result == fill_mask(model, tokenizer, TEXT, top_k=3)
    assert [len(slot.candidates) for slot in result.slots] == [3, 3]


def test_fill_every_mask_yields_each_step_and_returns_the_filled_text(model, tokenizer):
    steps: list = []
    result = run_quietly(fill_every_mask(OneModel(model), checkpoint_of(tokenizer), TEXT), on_partial=steps.append)
    expected = run_quietly(fill_all_masks(model, tokenizer, TEXT))
    assert isinstance(result, FilledText) and result == expected
    assert [s for s in steps if isinstance(s, MaskFilled)] == list(expected.filled)


def test_a_decoder_gets_the_sentence_that_points_to_an_encoder(tokenizer):
    decoder = GPT(ModelConfig(vocab_size=tokenizer.vocab_size, context_length=16, n_layer=1, n_head=2, n_embd=32))
    with pytest.raises(UserError, match="needs an encoder"):
        run_quietly(guess_masks(OneModel(decoder), checkpoint_of(tokenizer), TEXT))


def test_the_shipped_mask_template_renders_a_text_for_fill_the_mask(tokenizer):
    template = next(t for t in builtin_templates() if "[MASK]" in t.query_format)
    for mode in ("zero-shot", "few-shot"):
        text = template.render(mode=mode).text
        assert text.endswith(f"Review: {template.input} Sentiment: [MASK].") and text.count("[MASK]") == 1
    config = ModelConfig.bert_style(vocab_size=tokenizer.vocab_size, context_length=64, n_layer=1, n_head=2, n_embd=32)
    result = fill_mask(GPT(config).eval(), tokenizer, template.render().text)
    assert not result.notice  # the whole review is read
    assert len(result.slots) == 1
