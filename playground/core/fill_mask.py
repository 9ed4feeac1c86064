"""Fill the mask: what an encoder guesses for each [MASK] in a text, and filling them all, surest first.

    result = fill_mask(model, tokenizer, "The [MASK] sat on the [MASK].", top_k=5)
    for slot in result.slots:
        print(slot.index, [(c.text, round(c.probability, 3)) for c in slot.candidates])
    filled = run_quietly(fill_all_masks(model, tokenizer, text))   # a job: yields MaskFilled, returns FilledText

The model reads the text as BERT does, between [CLS] and [SEP] (where the
tokenizer has them), which is how `encoder_training` cuts its windows. One
forward pass scores every mask at once: each mask is guessed from the whole
text around it, the other masks still hidden. Filling all of them goes one at
a time: the mask whose best guess is the surest is filled first, and the
model reads the text again before choosing the next (Devlin et al. 2018
fill one; this order is the common "most confident first" decoding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .masking import MASK_TOKEN, EncoderTokens, encoder_tokens
from .progress import JobGenerator, Progress, UserError
from .tokenization import LoadedTokenizer

TOP_K = 5


@dataclass(frozen=True)
class Candidate:
    """One guess for a mask: the token, the text it puts in, and how likely the model finds it.

    `glued`: the token continues the word before it (WordPiece's "##ing", a
    byte-level token without its leading space), so it goes in with no space.
    """

    id: int
    token: str
    text: str
    probability: float
    glued: bool = False


@dataclass(frozen=True)
class MaskSlot:
    """One [MASK] of the text: `index` counts the masks from 0, `position` is its place among the tokens read."""

    index: int
    position: int
    candidates: tuple[Candidate, ...]  # most likely first


@dataclass(frozen=True)
class FillMaskResult:
    """Every mask of a text with its top guesses, from one forward pass."""

    text: str
    ids: tuple[int, ...]  # what the model read, [CLS] and [SEP] included
    slots: tuple[MaskSlot, ...]
    notice: str = ""  # a sentence when the text was cut to the context


@dataclass(frozen=True)
class MaskFilled:
    """Partial result of `fill_all_masks`: one mask filled (`order` counts from 1)."""

    order: int
    index: int  # which mask of the original text
    candidate: Candidate
    text: str  # the text with the masks filled so far


@dataclass(frozen=True)
class FilledText:
    """The result of `fill_all_masks`: the text with every mask filled, in the order they were filled."""

    text: str
    filled: tuple[MaskFilled, ...]


# -- one pass -------------------------------------------------------------------------------


def require_encoder(model) -> None:
    """`UserError` unless `model` is a masked-language encoder."""
    if not model.config.is_encoder:
        raise UserError(
            "Fill the mask needs an encoder (a BERT style model trained to recover hidden tokens); this model is a "
            "decoder, which predicts the next token. Use Generate with it, or build and train an encoder."
        )


def candidate(tokenizer: LoadedTokenizer, token_id: int, probability: float) -> Candidate:
    """A guess, with the text it stands for and whether it continues the word before it."""
    token = tokenizer.tokenizer.id_to_token(int(token_id)) or ""
    prefix = tokenizer.description.get("model", {}).get("continuing_subword_prefix") or ""
    if prefix and token.startswith(prefix) and token != prefix:
        return Candidate(int(token_id), token, token[len(prefix) :], probability, glued=True)
    text = tokenizer.token_bytes(token).decode("utf-8", errors="replace")
    spaced = tokenizer.is_byte_level or tokenizer.model_type == "Unigram" or "▁" in token
    glued = spaced and not text.startswith(" ") and token not in tokenizer.special_tokens
    return Candidate(int(token_id), token, text.strip(" ") if spaced else text, probability, glued)


@torch.no_grad()
def mask_candidates(
    model, tokenizer: LoadedTokenizer, ids: Sequence[int], positions: Sequence[int], top_k: int = TOP_K
) -> list[tuple[Candidate, ...]]:
    """The `top_k` guesses (most likely first) at each of `positions` in `ids`, from one forward pass.

    Special tokens ([MASK], [SEP], ...) are left out of the guesses: they stand for no text. The
    probabilities are the model's own (not spread again over the tokens left), so they may sum below 1.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        logits = model(torch.tensor([list(ids)], dtype=torch.long, device=device)).logits[0]
    finally:
        model.train(was_training)
    probabilities = torch.softmax(logits[list(positions)].float(), dim=-1)
    special = [i for i in encoder_tokens(tokenizer).special if i < probabilities.size(-1)]
    probabilities[:, special] = -1.0  # below every real probability: never among the top
    k = max(1, min(int(top_k), probabilities.size(-1) - len(special)))
    values, indices = probabilities.topk(k, dim=-1)
    return [
        tuple(candidate(tokenizer, i, p) for i, p in zip(row_ids.tolist(), row_p.tolist()))
        for row_ids, row_p in zip(indices, values)
    ]


def read_masked_text(model, tokenizer: LoadedTokenizer, text: str) -> tuple[list[int], list[int], EncoderTokens, str]:
    """(ids the model reads, positions of the masks, the tokenizer's special ids, a notice when cut)."""
    require_encoder(model)
    tokens = encoder_tokens(tokenizer)
    if MASK_TOKEN not in text:
        raise UserError(
            f"The text has no {MASK_TOKEN}: write {MASK_TOKEN} where a word should be guessed, as in "
            f"“The cat sat on the {MASK_TOKEN}.”, or insert one at the cursor with the button."
        )
    body = tokenizer.encode_ids([text])[0]
    room = model.config.context_length - tokens.wrapping
    notice = ""
    if len(body) > room:
        notice = f"The text has {len(body):,} tokens; the model reads at most {room:,}, so the rest was cut."
        body = body[:room]
    ids = tokens.wrap(body)
    positions = [i for i, token_id in enumerate(ids) if token_id == tokens.mask]
    if not positions:
        raise UserError(f"Every {MASK_TOKEN} lies past the {room:,} tokens the model reads: put one earlier.")
    return ids, positions, tokens, notice


def fill_mask(model, tokenizer: LoadedTokenizer, text: str, top_k: int = TOP_K) -> FillMaskResult:
    """Each [MASK] in `text` with its `top_k` guesses and their probabilities (one forward pass)."""
    ids, positions, _, notice = read_masked_text(model, tokenizer, text)
    guesses = mask_candidates(model, tokenizer, ids, positions, top_k)
    slots = tuple(MaskSlot(index, position, found) for index, (position, found) in enumerate(zip(positions, guesses)))
    return FillMaskResult(text, tuple(ids), slots, notice)


def fill_mask_job(model, tokenizer: LoadedTokenizer, text: str, top_k: int = TOP_K) -> JobGenerator[FillMaskResult]:
    """`fill_mask` as a job (one forward pass: quick for the app's models, a moment for a big imported BERT)."""
    yield Progress(None, "Reading the text…")
    return fill_mask(model, tokenizer, text, top_k)


# -- putting guesses in ----------------------------------------------------------------------


def put_in(text: str, index: int, guess: Candidate) -> str:
    """`text` with its mask number `index` (from 0) replaced by the guess's text."""
    start = -1
    for _ in range(index + 1):
        start = text.find(MASK_TOKEN, start + 1)
        if start < 0:
            raise UserError(f"The text has no {MASK_TOKEN} number {index + 1}.")
    before, after = text[:start], text[start + len(MASK_TOKEN) :]
    if guess.glued:
        before = before.rstrip(" ")
    return before + guess.text + after


def fill_all_masks(model, tokenizer: LoadedTokenizer, text: str) -> JobGenerator[FilledText]:
    """Job: fill every [MASK], the surest first, reading the text again after each (yields `MaskFilled`)."""
    ids, positions, _, _ = read_masked_text(model, tokenizer, text)
    remaining = dict(enumerate(positions))  # mask index -> position
    filled: list[MaskFilled] = []
    current = text
    while remaining:
        yield Progress(len(filled) / len(positions), f"Filling mask {len(filled) + 1} of {len(positions)}")
        indices = list(remaining)
        best = [found[0] for found in mask_candidates(model, tokenizer, ids, [remaining[i] for i in indices], 1)]
        pick = max(range(len(indices)), key=lambda n: best[n].probability)
        index, guess = indices[pick], best[pick]
        ids[remaining.pop(index)] = guess.id
        # Masks before this one in the text are filled or not; count the unfilled ones to find it.
        current = put_in(current, sum(1 for i in remaining if i < index), guess)
        step = MaskFilled(len(filled) + 1, index, guess, current)
        filled.append(step)
        yield step
    return FilledText(current, tuple(filled))
