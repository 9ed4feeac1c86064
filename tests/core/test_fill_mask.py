"""Fill the mask (candidates for each [MASK], filling all, surest first) and pseudo-perplexity."""

from __future__ import annotations

import math

import pytest
import torch
from sample_text import sentences  # tests/ is on sys.path
from torch.nn import functional as F

from playground.core.attention import capture_attention
from playground.core.config import ModelConfig
from playground.core.corpus import corpus_from_text
from playground.core.fill_mask import Candidate, MaskFilled, fill_all_masks, fill_mask, fill_mask_job, put_in
from playground.core.masked_eval import pseudo_perplexity, pseudo_perplexity_on_ids
from playground.core.masking import encoder_tokens
from playground.core.model import GPT
from playground.core.progress import Progress, UserError, run_quietly
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tokenizer() -> LoadedTokenizer:
    spec = spec_for_kind("wordpiece", vocab_size=120)
    return LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(sentences(200)), spec)), spec=spec)


@pytest.fixture(scope="module")
def model(tokenizer) -> GPT:
    torch.manual_seed(0)
    config = ModelConfig.bert_style(vocab_size=tokenizer.vocab_size, context_length=16, n_layer=1, n_head=2, n_embd=32)
    return GPT(config).eval()


def test_each_mask_gets_its_top_candidates_from_one_pass(model, tokenizer):
    result = fill_mask(model, tokenizer, "the [MASK] sat on the [MASK] .", top_k=4)
    tokens = encoder_tokens(tokenizer)
    assert result.ids[0] == tokens.cls and result.ids[-1] == tokens.sep
    assert [slot.index for slot in result.slots] == [0, 1]
    assert [result.ids[slot.position] for slot in result.slots] == [tokens.mask, tokens.mask]
    logits = model(torch.tensor([result.ids])).logits[0]
    for slot in result.slots:
        assert len(slot.candidates) == 4
        probabilities = torch.softmax(logits[slot.position], dim=-1)
        special = torch.tensor(tokens.special)
        assert not set(c.id for c in slot.candidates) & set(tokens.special)  # special tokens stand for no text
        probabilities[special] = 0.0
        top = probabilities.topk(4)
        assert [c.id for c in slot.candidates] == top.indices.tolist()
        assert [c.probability for c in slot.candidates] == pytest.approx(top.values.tolist())
        assert all(c.text for c in slot.candidates)


def test_the_one_pass_is_also_a_job(model, tokenizer):
    result = run_quietly(fill_mask_job(model, tokenizer, "the [MASK] sat", top_k=2))
    assert result == fill_mask(model, tokenizer, "the [MASK] sat", top_k=2)


def test_the_attention_lab_captures_a_full_square_for_an_encoder(model, tokenizer):
    capture = capture_attention(model, tokenizer, "the cat sat on the mat")
    weights = torch.as_tensor(capture.weights)  # [n_layer, n_head, T, T]
    T = len(capture.ids)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(weights.shape[:-1]))
    assert torch.all(weights[..., torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)] > 0)


def test_filling_all_masks_goes_surest_first_and_reads_again(model, tokenizer):
    text = "the [MASK] sat on the [MASK] ."
    items = []
    job = fill_all_masks(model, tokenizer, text)
    while True:
        try:
            items.append(next(job))
        except StopIteration as stop:
            result = stop.value
            break
    filled = [i for i in items if isinstance(i, MaskFilled)]
    assert any(isinstance(i, Progress) for i in items)
    assert [f.order for f in filled] == [1, 2] and sorted(f.index for f in filled) == [0, 1]
    first = fill_mask(model, tokenizer, text, top_k=1)
    surest = max(first.slots, key=lambda slot: slot.candidates[0].probability)
    assert filled[0].index == surest.index and filled[0].candidate.id == surest.candidates[0].id
    assert "[MASK]" not in result.text and result.text == filled[-1].text and result.filled == tuple(filled)
    assert filled[0].text.count("[MASK]") == 1


def test_putting_a_candidate_in_keeps_the_spaces_right():
    word, piece = Candidate(1, "dog", "dog", 0.5), Candidate(2, "##s", "s", 0.2, glued=True)
    assert put_in("the [MASK] sat on the [MASK].", 1, word) == "the [MASK] sat on the dog."
    assert put_in("the dog [MASK] ran", 0, piece) == "the dogs ran"
    with pytest.raises(UserError, match="no \\[MASK\\] number 2"):
        put_in("the [MASK]", 1, word)


def test_perplexity_of_an_encoder_points_to_pseudo_perplexity(model, tokenizer):
    from playground.core.evaluation import perplexity

    with pytest.raises(UserError, match="Measure its pseudo-perplexity instead"):
        run_quietly(perplexity(model, tokenizer, "the cat sat on the mat"))


def test_bad_input_is_a_sentence(model, tokenizer):
    with pytest.raises(UserError, match="has no \\[MASK\\]: write \\[MASK\\]"):
        fill_mask(model, tokenizer, "the cat sat")
    decoder = GPT(ModelConfig.gpt2_style(vocab_size=tokenizer.vocab_size, context_length=16, n_layer=1, n_embd=16))
    with pytest.raises(UserError, match="needs an encoder"):
        fill_mask(decoder, tokenizer, "the [MASK] sat")
    with pytest.raises(UserError, match="needs an encoder"):
        run_quietly(pseudo_perplexity(decoder, tokenizer, "the cat sat"))
    long = "the cat sat on the mat " * 10 + "[MASK]"
    with pytest.raises(UserError, match="past the 14 tokens"):
        fill_mask(model, tokenizer, long)
    cut = fill_mask(model, tokenizer, "the [MASK] " + "sat on the mat " * 10)
    assert "so the rest was cut" in cut.notice and len(cut.ids) == 16


# -- pseudo-perplexity -------------------------------------------------------------------------


@torch.no_grad()
def by_hand(model, tokenizer, ids: list[int]) -> tuple[float, int, int]:
    """(summed NLL, tokens, correct): each token hidden alone, one forward pass each, window by window."""
    tokens = encoder_tokens(tokenizer)
    room = model.config.context_length - 2
    total, count, correct = 0.0, 0, 0
    for start in range(0, len(ids), room):
        window = tokens.wrap(ids[start : start + room])
        for position in range(1, len(window) - 1):
            if window[position] in tokens.special:
                continue
            hidden = list(window)
            hidden[position] = tokens.mask
            logits = model(torch.tensor([hidden])).logits[0, position]
            total += float(F.cross_entropy(logits[None], torch.tensor([window[position]])))
            correct += int(logits.argmax()) == window[position]
            count += 1
    return total, count, correct


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_pseudo_perplexity_hides_each_token_in_turn(model, tokenizer, batch_size):
    text = sentences(4, seed=3)
    ids = [i for line in tokenizer.encode_ids(text.splitlines(keepends=True)) for i in line]
    assert len(ids) > 14  # more than one window
    result = run_quietly(pseudo_perplexity(model, tokenizer, text, batch_size=batch_size))
    total, count, correct = by_hand(model, tokenizer, ids)
    assert result.tokens == count == len(ids)
    assert result.total_nll == pytest.approx(total, rel=1e-5)
    assert result.pseudo_perplexity == pytest.approx(math.exp(total / count), rel=1e-5)
    assert result.masked_accuracy == correct / count
    assert result.windows == math.ceil(len(ids) / 14) and result.bytes == len(text.encode())
    again = run_quietly(pseudo_perplexity_on_ids(model, ids, tokenizer, batch_size=batch_size, text=text))
    assert again.total_nll == pytest.approx(result.total_nll, rel=1e-6)
