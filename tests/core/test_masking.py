"""BERT's masking rule (15% chosen; 80% [MASK], 10% random, 10% kept), and the encoder's special tokens."""

from __future__ import annotations

import pytest
import torch
from sample_text import sentences  # tests/ is on sys.path
from torch.nn import functional as F

from playground.core.config import ModelConfig
from playground.core.corpus import corpus_from_text
from playground.core.masking import EncoderTokens, encoder_tokens, mask_tokens, masked_accuracy_counts
from playground.core.model import GPT
from playground.core.progress import UserError, run_quietly
from playground.core.tokenization import (
    ENCODER_SPECIAL_TOKENS,
    LoadedTokenizer,
    missing_encoder_tokens,
    spec_for_kind,
    train_in_process,
    with_encoder_tokens,
)

VOCAB = 200
SPECIAL = (0, 1, 2, 3, 4)  # [PAD] [UNK] [CLS] [SEP] [MASK]
TOKENS = EncoderTokens(mask=4, cls=2, sep=3, pad=0, special=SPECIAL, ordinary=tuple(range(5, VOCAB)))


def batch_with_specials(generator: torch.Generator, batch: int = 16, length: int = 64) -> torch.Tensor:
    ids = torch.randint(5, VOCAB, (batch, length), generator=generator)
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    ids[:, 10] = 1  # an [UNK] in every row
    return ids


def test_the_shares_follow_bert_over_many_batches():
    generator = torch.Generator().manual_seed(0)
    eligible = chosen = masked = replaced = kept = 0
    for _ in range(200):
        ids = batch_with_specials(generator)
        inputs, labels = mask_tokens(ids, TOKENS, generator)
        picked = labels != -100
        eligible += int((~torch.isin(ids, torch.tensor(SPECIAL))).sum())
        chosen += int(picked.sum())
        masked += int((inputs[picked] == 4).sum())
        replaced += int(((inputs[picked] != 4) & (inputs[picked] != ids[picked])).sum())
        kept += int((inputs[picked] == ids[picked]).sum())
        assert torch.equal(inputs[~picked], ids[~picked])  # what is not chosen is never changed
        assert torch.equal(labels[picked], ids[picked])  # the labels are the original tokens
    assert chosen / eligible == pytest.approx(0.15, abs=0.005)
    assert masked / chosen == pytest.approx(0.8, abs=0.01)
    # A random token equals the original one time in 195: it then counts as kept.
    assert replaced / chosen == pytest.approx(0.1 * (1 - 1 / 195), abs=0.01)
    assert kept / chosen == pytest.approx(0.1 + 0.1 / 195, abs=0.01)


def test_no_special_token_or_padding_is_ever_chosen_or_drawn():
    generator = torch.Generator().manual_seed(1)
    for _ in range(100):
        ids = batch_with_specials(generator, batch=8, length=32)
        padding = torch.zeros_like(ids, dtype=torch.bool)
        padding[:4, 20:] = True
        ids[padding] = 0
        inputs, labels = mask_tokens(ids, TOKENS, generator, mask_share=0.5, attention_mask=~padding)
        special = torch.isin(ids, torch.tensor(SPECIAL))
        assert torch.all(labels[special | padding] == -100)
        assert torch.equal(inputs[special], ids[special])
        replaced = (labels != -100) & (inputs != 4)
        assert not torch.isin(inputs[replaced], torch.tensor(SPECIAL)).any()


def test_the_same_generator_state_hides_the_same_tokens():
    ids = batch_with_specials(torch.Generator().manual_seed(2))
    first = mask_tokens(ids, TOKENS, torch.Generator().manual_seed(7))
    again = mask_tokens(ids, TOKENS, torch.Generator().manual_seed(7))
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_a_tiny_share_still_chooses_one_position_so_the_loss_is_defined():
    ids = torch.tensor([[2, 50, 60, 3]])
    for seed in range(20):
        inputs, labels = mask_tokens(ids, TOKENS, torch.Generator().manual_seed(seed), mask_share=1e-6)
        assert int((labels != -100).sum()) == 1
        assert labels[0, 0] == labels[0, 3] == -100
    with pytest.raises(UserError, match="above 0 and below 1"):
        mask_tokens(ids, TOKENS, torch.Generator(), mask_share=0.0)


def test_the_loss_ignores_the_positions_not_chosen():
    torch.manual_seed(0)
    model = GPT(ModelConfig.bert_style(vocab_size=VOCAB, context_length=32, n_layer=1, n_head=2, n_embd=16))
    ids = batch_with_specials(torch.Generator().manual_seed(3), batch=2, length=32)
    inputs, labels = mask_tokens(ids, TOKENS, torch.Generator().manual_seed(4))
    out = model(inputs, targets=labels)
    picked = labels != -100
    expected = F.cross_entropy(out.logits[picked], labels[picked])
    torch.testing.assert_close(out.loss, expected)
    # Gradients reach the logits at the chosen positions only.
    logits = out.logits.detach().requires_grad_()
    F.cross_entropy(logits.view(-1, VOCAB), labels.view(-1), ignore_index=-100).backward()
    assert torch.all(logits.grad[~picked] == 0) and torch.all(logits.grad[picked].abs().sum(-1) > 0)
    correct, total = masked_accuracy_counts(out.logits, labels)
    assert int(total) == int(picked.sum()) and 0 <= int(correct) <= int(total)


# -- the special tokens an encoder needs ----------------------------------------------------


def trained(kind: str) -> LoadedTokenizer:
    spec = spec_for_kind(kind, vocab_size=300)
    return LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(sentences(100)), spec)), spec=spec)


def test_a_wordpiece_tokenizer_has_every_encoder_token():
    tokenizer = trained("wordpiece")
    assert missing_encoder_tokens(tokenizer) == []
    assert with_encoder_tokens(tokenizer) is tokenizer
    tokens = encoder_tokens(tokenizer)
    assert tokens.mask == tokenizer.tokenizer.token_to_id("[MASK]")
    assert tokens.wrap([7, 8]) == [tokens.cls, 7, 8, tokens.sep] and tokens.wrapping == 2


def test_missing_tokens_are_named_then_added_with_new_ids():
    tokenizer = trained("bpe")
    assert missing_encoder_tokens(tokenizer) == list(ENCODER_SPECIAL_TOKENS)
    with pytest.raises(UserError, match=r"lacks \[MASK\], \[CLS\], \[SEP\], \[PAD\], \[UNK\]"):
        encoder_tokens(tokenizer)
    added = with_encoder_tokens(tokenizer)
    assert missing_encoder_tokens(added) == [] and missing_encoder_tokens(tokenizer) != []  # a copy
    assert added.vocab_size == tokenizer.vocab_size + 5
    new_ids = [added.tokenizer.token_to_id(t) for t in ENCODER_SPECIAL_TOKENS]
    assert sorted(new_ids) == list(range(tokenizer.vocab_size, tokenizer.vocab_size + 5))
    text = "The cat sat on the mat."
    assert added.encode_ids([text]) == tokenizer.encode_ids([text])  # ordinary text encodes as before
    # [MASK] takes the space before it: it stands for a whole word with its space.
    masked = added.encode_ids(["The [MASK] sat"])[0]
    assert masked == tokenizer.encode_ids(["The"])[0] + [new_ids[0]] + tokenizer.encode_ids([" sat"])[0]
    assert added.spec is not None and "[MASK]" in added.spec.special_tokens
    tokens = encoder_tokens(added)
    assert set(tokens.special).isdisjoint(tokens.ordinary)
    assert len(tokens.special) + len(tokens.ordinary) == added.vocab_size
