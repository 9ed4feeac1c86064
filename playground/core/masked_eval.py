"""Pseudo-perplexity: how well an encoder predicts a text, one hidden token at a time.

An encoder has no left-to-right probability of a text, so perplexity is not
defined for it. Salazar et al. (2020) score each token instead by hiding it
alone and reading how likely the model finds it from everything around it:

    pseudo-log-likelihood  PLL = sum over tokens i of  log p(x_i | every other token)
    pseudo-perplexity           = exp(-PLL / tokens)

It is not the same kind of number as a decoder's perplexity: each token is
predicted from both sides (an easier task), and the guesses are not the
factors of one probability of the whole text. Compare pseudo-perplexities
with each other (same tokenizer), never with a decoder's perplexity; the
bits per byte computed from it compare between encoders only, for the same reason.

The text is read in windows of the context (between [CLS] and [SEP], as
training reads it); each window's tokens are hidden one per row and the rows
go through the model `batch_size` at a time (shorter windows padded, the
padding masked out). A job generator: yields `Progress` after each batch.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch.nn import functional as F

from .evaluation import encode_text, read_text_file
from .fill_mask import require_encoder
from .masking import encoder_tokens
from .progress import CancelToken, JobGenerator, Progress, UserError
from .tokenization import LoadedTokenizer

LN2 = math.log(2)


@dataclass(frozen=True)
class PseudoPerplexityResult:
    """How well an encoder recovers each token of a text when it alone is hidden.

    tokens: tokens scored (every token but special ones).
    total_nll: minus the pseudo-log-likelihood, in nats.
    mean_loss: total_nll / tokens. pseudo_perplexity: exp(mean_loss).
    masked_accuracy: the share of tokens that were the model's top guess.
    bits_per_byte: total_nll / ln 2 / bytes: comparable between encoders only (see the module docstring).
    characters, bytes: the text's length. windows, context_length: how it was read.
    """

    tokens: int
    total_nll: float
    mean_loss: float
    pseudo_perplexity: float
    masked_accuracy: float
    bits_per_byte: float
    characters: int
    bytes: int
    windows: int
    context_length: int

    def to_dict(self) -> dict:
        return asdict(self)


def _windows(
    ids: list[int], room: int, wrap: Callable[[Sequence[int]], list[int]], pad: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every window of `room` ids, wrapped, as rows of one tensor padded with `pad`; and which entries are real."""
    windows = [wrap(ids[start : start + room]) for start in range(0, len(ids), room)]
    width = max(len(w) for w in windows)
    tokens = torch.full((len(windows), width), pad, dtype=torch.long)
    real = torch.zeros((len(windows), width), dtype=torch.long)
    for row, window in enumerate(windows):
        tokens[row, : len(window)] = torch.tensor(window, dtype=torch.long)
        real[row, : len(window)] = 1
    return tokens, real


def pseudo_perplexity_on_ids(
    model,
    ids: Union[Sequence[int], np.ndarray],
    tokenizer: LoadedTokenizer,
    batch_size: int = 32,
    text: Optional[str] = None,
) -> JobGenerator[PseudoPerplexityResult]:
    """Job: pseudo-perplexity of `model` on token ids (the text is decoded from them unless given)."""
    require_encoder(model)
    if batch_size < 1:
        raise UserError(f"The batch size must be at least 1, not {batch_size}.")
    tokens = encoder_tokens(tokenizer)
    ids = [int(i) for i in np.asarray(ids).reshape(-1)]
    if not ids:
        raise UserError("The text has no tokens to score: use a longer text.")
    room = model.config.context_length - tokens.wrapping
    pad = tokens.pad if tokens.pad is not None else 0
    windows, real = _windows(ids, room, tokens.wrap, pad)
    # One row for every token to hide: (its window, its position there).
    scored = real.bool() & ~torch.isin(windows, torch.tensor(tokens.special, dtype=torch.long))
    row_window, row_position = scored.nonzero(as_tuple=True)
    n_rows = len(row_window)
    if not n_rows:
        raise UserError("The text has no tokens to score (only special tokens): use a longer text.")
    if text is None:
        text = tokenizer.decode(ids)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    try:
        for start in range(0, n_rows, batch_size):
            w, position = row_window[start : start + batch_size], row_position[start : start + batch_size]
            rows = torch.arange(len(w))
            x = windows[w]  # a copy: each row is its window
            targets = x[rows, position].to(device)
            x[rows, position] = tokens.mask
            with torch.no_grad():
                logits = model(x.to(device), attention_mask=real[w].to(device)).logits
                hidden = logits[rows.to(device), position.to(device)].float()
                total += float(F.cross_entropy(hidden, targets, reduction="sum"))
                correct += int((hidden.argmax(dim=-1) == targets).sum())
            done = min(n_rows, start + batch_size)
            yield Progress(done / n_rows, f"Hiding each token in turn: {done:,} of {n_rows:,}")
    finally:
        model.train(was_training)
    n_bytes = len(text.encode("utf-8"))
    mean = total / n_rows
    return PseudoPerplexityResult(
        tokens=n_rows,
        total_nll=total,
        mean_loss=mean,
        pseudo_perplexity=math.exp(min(mean, 700.0)),
        masked_accuracy=correct / n_rows,
        bits_per_byte=total / LN2 / max(1, n_bytes),
        characters=len(text),
        bytes=n_bytes,
        windows=int(windows.size(0)),
        context_length=model.config.context_length,
    )


def pseudo_perplexity(
    model, tokenizer: LoadedTokenizer, text: str, batch_size: int = 32
) -> JobGenerator[PseudoPerplexityResult]:
    """Job: pseudo-perplexity of `model` on `text`, encoded as training encodes a corpus."""
    if not text or not text.strip():
        raise UserError("The text is empty: give the model some text to recover.")
    return (yield from pseudo_perplexity_on_ids(model, encode_text(tokenizer, text), tokenizer, batch_size, text))


def pseudo_perplexity_of_file(
    model,
    tokenizer: LoadedTokenizer,
    path: Union[str, os.PathLike],
    batch_size: int = 32,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[PseudoPerplexityResult]:
    """Job: `pseudo_perplexity` of the text in a file (read as `evaluation.read_text_file` reads it)."""
    yield Progress(0.0, f"Reading {Path(path).name}…")
    text = read_text_file(path, cancel)
    return (yield from pseudo_perplexity(model, tokenizer, text, batch_size))
