"""Token data for training: a corpus encoded once into one flat array of ids,
split into training and validation parts, and cut into random windows.

As in nanoGPT, the whole corpus is a single stream of token ids; a training
example is any window of `context_length + 1` consecutive ids, the model reads
the first `context_length` and learns to predict each one's successor.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch

from playground.core.corpus import Corpus
from playground.core.progress import CancelToken, JobGenerator, Progress, UserError
from playground.core.tokenization import LoadedTokenizer


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id fits (a vocabulary below 65,536), else uint32: half the memory of int32."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def encode_corpus(
    corpus: Corpus,
    tokenizer: LoadedTokenizer,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[np.ndarray]:
    """Encode the whole corpus into one flat array of token ids (a job generator: yields Progress).

    Chunks are split into lines and encoded with `encode_batch`, which spreads
    the lines over the library's threads; the ids of all lines are simply
    concatenated (no end-of-text token between files: the model sees one text).
    Progress is counted in characters against the corpus size in bytes, which
    is the same for ASCII and close enough otherwise. `cancel` also stops a
    slow read inside a chunk.

        ids = run_quietly(encode_corpus(corpus, tokenizer))
    """
    dtype = token_dtype(tokenizer.vocab_size)
    total = max(1, corpus.size_bytes)
    done = 0
    parts: list[np.ndarray] = []
    for chunk in corpus.iter_text(cancel):
        encoded = tokenizer.encode_ids(chunk.splitlines(keepends=True))
        count = sum(len(ids) for ids in encoded)
        parts.append(np.fromiter(itertools.chain.from_iterable(encoded), dtype=dtype, count=count))
        done += len(chunk)
        yield Progress(min(1.0, done / total), f"Encoding: {done / 1e6:.1f} MB, {_count(parts):,} tokens")
        if cancel is not None:
            cancel.raise_if_cancelled()
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _count(parts: list[np.ndarray]) -> int:
    return sum(len(p) for p in parts)


@dataclass
class TokenData:
    """The encoded corpus, split: the model learns from `train` and is measured on `val`."""

    train: np.ndarray
    val: np.ndarray

    @property
    def total(self) -> int:
        return len(self.train) + len(self.val)


def split_tokens(ids: np.ndarray, val_fraction: float = 0.1) -> TokenData:
    """The last `val_fraction` of the ids is held out for validation.

    A contiguous tail (not random windows) so that no validation window
    overlaps a training window: the validation loss then measures text the
    model has never seen.
    """
    n_val = int(round(len(ids) * val_fraction))
    cut = len(ids) - n_val
    return TokenData(train=ids[:cut], val=ids[cut:])


def check_data(data: TokenData, context_length: int, batch_size: int) -> None:
    """Raise `UserError` with a sentence when the data cannot feed this model.

    Each split needs at least one window of `context_length + 1` tokens. The
    batch size asks for nothing more: windows are drawn with replacement.
    """
    if batch_size < 1:
        raise UserError(f"The batch size must be at least 1, not {batch_size}.")
    need = context_length + 1
    if len(data.train) < need:
        raise UserError(
            f"The corpus has {len(data.train):,} tokens for training, fewer than one context window "
            f"({context_length:,} tokens) plus one. Use a longer corpus or a shorter context."
        )
    if len(data.val) < need:
        raise UserError(
            f"The corpus has {len(data.val):,} tokens for validation (its last part), fewer than one "
            f"context window ({context_length:,} tokens) plus one. Use a longer corpus, a shorter "
            f"context or a larger validation share."
        )


def get_batch(
    tokens: np.ndarray,
    batch_size: int,
    context_length: int,
    generator: torch.Generator,
    device: Union[str, torch.device] = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` random windows: inputs x and targets y (x shifted by one), each [B, T] int64.

    The start positions come from `generator` alone (a CPU generator), so the
    same generator state always gives the same batch, on any device.
    """
    starts = torch.randint(len(tokens) - context_length, (batch_size,), generator=generator).numpy()
    # One fancy-indexing gather instead of a Python loop over windows.
    windows = tokens[starts[:, None] + np.arange(context_length + 1)].astype(np.int64)
    batch = torch.from_numpy(windows)
    device = torch.device(device)
    if device.type == "cuda":
        # Pinned memory lets the copy run while the GPU is still busy.
        batch = batch.pin_memory().to(device, non_blocking=True)
    elif device.type != "cpu":
        batch = batch.to(device)
    return batch[:, :-1], batch[:, 1:]
