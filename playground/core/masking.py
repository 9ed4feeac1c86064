"""BERT's masked-language-model objective: hide some tokens, learn to recover them.

    tokens = encoder_tokens(tokenizer)                  # the ids of [MASK], [CLS], ... (UserError if [MASK] is missing)
    inputs, labels = mask_tokens(ids, tokens, generator)  # what the model reads, what it must recover

Devlin et al. (2018): choose 15% of the positions (`mask_share`); of those,
replace 80% by [MASK], 10% by a random token and leave 10% unchanged, so the
model cannot learn that only [MASK] positions matter. The labels hold the
original token at each chosen position and -100 elsewhere, so the loss
counts the chosen positions only. Special tokens ([CLS], [SEP], [PAD], ...)
and padding are never chosen, and never drawn as the random token.

Every random number comes from the `torch.Generator` given, on the CPU, so
the same generator state always hides the same tokens (exact resume).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor

from .model import ENCODER_IGNORE
from .progress import UserError
from .tokenization import ENCODER_SPECIAL_TOKENS, LoadedTokenizer, missing_encoder_tokens

MASK_SHARE = 0.15  # BERT's share of positions chosen
MASK_TOKEN = "[MASK]"
# Of the chosen positions: this share becomes [MASK], the same again a random token, the rest stays.
MASKED, RANDOM = 0.8, 0.1


@dataclass(frozen=True)
class EncoderTokens:
    """The ids an encoder needs from its tokenizer.

    mask: [MASK]'s id. cls, sep, pad: those tokens' ids, None where the tokenizer lacks them.
    special: every special token's id (never chosen, never the random replacement).
    ordinary: every other id of the vocabulary, from which random replacements are drawn.
    """

    mask: int
    cls: Optional[int]
    sep: Optional[int]
    pad: Optional[int]
    special: tuple[int, ...]
    ordinary: tuple[int, ...]

    def wrap(self, ids: Sequence[int]) -> list[int]:
        """[CLS] ids [SEP], as BERT reads a text (either left out where the tokenizer lacks it)."""
        return ([self.cls] if self.cls is not None else []) + list(ids) + ([self.sep] if self.sep is not None else [])

    @property
    def wrapping(self) -> int:
        """How many tokens `wrap` adds: 0, 1 or 2."""
        return (self.cls is not None) + (self.sep is not None)


def encoder_tokens(tokenizer: LoadedTokenizer) -> EncoderTokens:
    """The special ids of `tokenizer` that masking needs; `UserError` naming what is missing without [MASK]."""
    if MASK_TOKEN not in tokenizer.special_tokens:
        missing = missing_encoder_tokens(tokenizer)
        raise UserError(
            f"An encoder learns by recovering hidden tokens, so its tokenizer needs a {MASK_TOKEN} token; this one "
            f"lacks {', '.join(missing)}. Add them as special tokens (new ids at the end of the vocabulary), "
            f"or train a WordPiece tokenizer, which has all of {', '.join(ENCODER_SPECIAL_TOKENS)}."
        )
    tok = tokenizer.tokenizer
    vocab = tok.get_vocab(with_added_tokens=True)
    special = sorted({vocab[t] for t in tokenizer.special_tokens if t in vocab})
    ordinary = tuple(sorted(set(vocab.values()) - set(special)))
    if not ordinary:
        raise UserError("The tokenizer has only special tokens: there is nothing to hide and recover.")

    def id_of(token: str) -> Optional[int]:
        return vocab[token] if token in tokenizer.special_tokens and token in vocab else None

    return EncoderTokens(
        mask=vocab[MASK_TOKEN],
        cls=id_of("[CLS]"),
        sep=id_of("[SEP]"),
        pad=id_of("[PAD]"),
        special=tuple(special),
        ordinary=ordinary,
    )


def mask_tokens(
    ids: Tensor,
    tokens: EncoderTokens,
    generator: torch.Generator,
    mask_share: float = MASK_SHARE,
    attention_mask: Optional[Tensor] = None,
) -> tuple[Tensor, Tensor]:
    """(inputs, labels) for token ids [B, T] on the CPU, by BERT's rule (see the module docstring).

    `attention_mask` [B, T]: 0 at padding, never chosen. At least one position
    of the batch is chosen whenever one may be, so the loss is always defined.
    """
    if not 0.0 < mask_share < 1.0:
        raise UserError(f"The share of tokens to hide must be above 0 and below 1 (BERT: 0.15), not {mask_share!r}.")
    ids = ids.to(torch.long)
    eligible = ~torch.isin(ids, torch.tensor(tokens.special, dtype=torch.long))
    if attention_mask is not None:
        eligible &= attention_mask.to(torch.bool)
    chosen = (torch.rand(ids.shape, generator=generator) < mask_share) & eligible
    if not chosen.any() and eligible.any():
        candidates = eligible.flatten().nonzero().squeeze(1)
        pick = candidates[torch.randint(len(candidates), (1,), generator=generator)]
        chosen.view(-1)[pick] = True
    labels = torch.where(chosen, ids, torch.full_like(ids, ENCODER_IGNORE))

    roll = torch.rand(ids.shape, generator=generator)
    to_mask = chosen & (roll < MASKED)
    to_random = chosen & (roll >= MASKED) & (roll < MASKED + RANDOM)
    ordinary = torch.tensor(tokens.ordinary, dtype=torch.long)
    random_ids = ordinary[torch.randint(len(ordinary), ids.shape, generator=generator)]
    inputs = torch.where(to_mask, torch.full_like(ids, tokens.mask), ids)
    inputs = torch.where(to_random, random_ids, inputs)
    return inputs, labels


def masked_accuracy_counts(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """(correct, chosen) as tensors: how many chosen positions the model's top guess recovers, of how many."""
    chosen = labels != ENCODER_IGNORE
    correct = (logits.argmax(dim=-1) == labels) & chosen
    return correct.sum(), chosen.sum()
