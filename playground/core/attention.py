"""Attention weights for the Attention Lab: capture them for a text, pick a head, measure it, save it.

A captured attention tensor is [n_layer, n_head, T, T]: for each layer and
head, row q is how query token q spread its attention over the key tokens,
and each row sums to 1. A decoder is causal: query q reads keys 0..q only,
so nothing lies above the diagonal (a triangle). An encoder reads the whole
text at once, so every row spreads over every key (a full square); it reads
its text between [CLS] and [SEP], as it was trained.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from .files import write_bytes_atomic
from .progress import UserError

Weights = Union[Tensor, np.ndarray]
HEAD_MEAN = "mean"


@dataclass
class AttentionCapture:
    """What the model read and where each of its heads looked.

    tokens: the display text of each token the model read (spaces and new
        lines kept; a special token shows as itself, e.g. '<|endoftext|>').
    ids: the token ids the model read.
    weights: float32 on the CPU, [n_layer, n_head, T, T], query by key.
    cut_tokens: tokens cut from the start because the text was too long.
    notice: a sentence saying what was cut, or "".
    causal: True for a decoder (nothing above the diagonal), False for an encoder (a full square).
    """

    tokens: list[str]
    ids: list[int]
    weights: Weights
    cut_tokens: int = 0
    notice: str = ""
    causal: bool = True

    @property
    def n_layer(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_head(self) -> int:
        return int(self.weights.shape[1])


def capture_ids(model, ids: Union[Sequence[int], Tensor]) -> Tensor:
    """Attention weights [n_layer, n_head, T, T] (float32, CPU) of one forward pass over `ids`.

    Runs in eval mode without gradients and puts the model back in the mode it
    was in, so a training loop can probe its model between steps. Only the
    last `context_length` ids are read.
    """
    idx = torch.as_tensor(ids, dtype=torch.long).reshape(-1)
    if idx.numel() == 0:
        raise UserError("There are no tokens to look at: give the model some text first.")
    idx = idx[-model.config.context_length :]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(idx[None, :].to(device), capture_attention=True, last_only=True)
    finally:
        model.train(was_training)
    # [n_layer, B=1, n_head, T, T] -> [n_layer, n_head, T, T]
    return output.attentions[:, 0].float().cpu()


def capture_attention(model, tokenizer, text: str, max_tokens: Optional[int] = None) -> AttentionCapture:
    """Encode `text`, run the model over it once, and return every layer's and head's weights.

    At most the model's context length of tokens is read (fewer if
    `max_tokens` says so): a longer text keeps its last tokens, with a notice.
    An encoder reads the text between [CLS] and [SEP] (`is_encoder`), which
    count within that limit.
    """
    if not text:
        raise UserError("There is no text to look at: type a sentence for the model to read.")
    ids, tokens = _encode(tokenizer, text)
    if not ids:
        raise UserError("The text gave no tokens with this tokenizer: try some ordinary words.")
    encoder = bool(model.config.is_encoder)
    context = model.config.context_length
    limit = context if max_tokens is None else max(1, min(int(max_tokens), context))
    wrapping = _wrapper(tokenizer) if encoder else None
    if wrapping is not None:
        limit = max(1, limit - wrapping.wrapping)
        context = max(1, context - wrapping.wrapping)
    cut, notice = 0, ""
    if len(ids) > limit:
        cut = len(ids) - limit
        ids, tokens = ids[cut:], tokens[cut:]
        if limit == context:
            notice = (
                f"The text has {cut + limit:,} tokens; the model reads at most {context:,}, "
                f"so the heatmap shows the last {limit:,}."
            )
        else:
            notice = (
                f"The text has {cut + limit:,} tokens; the heatmap shows at most {limit:,}, "
                f"so it shows the last {limit:,}."
            )
    if wrapping is not None:
        ids, tokens = _wrap(wrapping, ids, tokens)
    weights = capture_ids(model, ids)
    return AttentionCapture(tokens=tokens, ids=ids, weights=weights, cut_tokens=cut, notice=notice, causal=not encoder)


def _wrapper(tokenizer):
    """The tokenizer's [CLS]/[SEP] (`masking.EncoderTokens`), or None when it has no [MASK] (nothing to wrap with)."""
    from .masking import encoder_tokens

    try:
        return encoder_tokens(tokenizer)
    except UserError:
        return None


def _wrap(wrapping, ids: list[int], tokens: list[str]) -> tuple[list[int], list[str]]:
    """ids and tokens between [CLS] and [SEP], as an encoder read them in training."""
    before = ["[CLS]"] if wrapping.cls is not None else []
    after = ["[SEP]"] if wrapping.sep is not None else []
    return wrapping.wrap(ids), before + list(tokens) + after


def _encode(tokenizer, text: str) -> tuple[list[int], list[str]]:
    """The ids the model reads (as generation encodes them) and each one's display text."""
    ids = list(tokenizer.encode_ids([text])[0])
    encode = getattr(tokenizer, "encode", None)
    if encode is not None:
        pieces = encode(text)
        # A tokenizer.json from elsewhere may add tokens of its own (a template's
        # [CLS] ... [SEP]); those are not what the model reads when generating.
        if [p.id for p in pieces] == ids:
            return ids, [p.token if (p.special or not p.text) else p.text for p in pieces]
    return ids, [tokenizer.decode([i]) for i in ids]


# -- one head ---------------------------------------------------------------------


def _range(noun: str, count: int) -> str:
    return f"only {noun} 0" if count == 1 else f"{noun}s 0–{count - 1}"


def select(weights: Weights, layer: int, head: Union[int, str]) -> np.ndarray:
    """One head's [T, T] matrix as float32, or with head="mean" the mean over the layer's heads."""
    n_layer, n_head = int(weights.shape[0]), int(weights.shape[1])
    index = _index(layer)
    if index is None or not 0 <= index < n_layer:
        raise UserError(f"layer {layer} does not exist: this model has {_range('layer', n_layer)}.")
    per_layer = weights[index]
    per_layer = per_layer.numpy() if isinstance(per_layer, Tensor) else np.asarray(per_layer)
    if isinstance(head, str) and head.strip().lower() == HEAD_MEAN:
        return per_layer.astype(np.float32).mean(axis=0)
    index = _index(head)
    if index is None or not 0 <= index < n_head:
        raise UserError(
            f"head {head} does not exist: this model has {_range('head', n_head)} (or '{HEAD_MEAN}' for their average)."
        )
    return per_layer[index].astype(np.float32)


def _index(value) -> Optional[int]:
    """An int, or an int written as text; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


# -- what each head does ------------------------------------------------------------


@dataclass(frozen=True)
class HeadStats:
    """A head's habits, averaged over the query tokens.

    entropy: bits; 0 when every query looks at one key, log2(q + 1) at most
        for query q spreading evenly. Every row counts (the first, with one
        key to look at, has entropy 0).
    previous_token, first_token, self_token: the mean weight on the key just
        before the query, on key 0, and on the query itself. These average the
        rows 1..T-1, where the query had a choice (row 0 can only look at
        itself, which is also key 0); with one token, they read row 0.

    Cross-attention (a rectangle [T, S]: output tokens read another text, the
    input) has no "itself" and no "token just before": previous_token and
    self_token are NaN there, and first_token averages every row (each had
    every input token to choose from); its entropy is at most log2(S).
    """

    layer: int
    head: int
    entropy: float
    previous_token: float
    first_token: float
    self_token: float


def head_stats(weights: Weights, cross: bool = False) -> list[HeadStats]:
    """The HeadStats of every head of [n_layer, n_head, T, T] weights, layer by layer; with `cross` (always
    for a rectangle [.., T, S]) as cross-attention, whose queries and keys are two texts' tokens."""
    w = torch.as_tensor(np.asarray(weights) if not isinstance(weights, Tensor) else weights)
    w = w.detach().to("cpu", torch.float64)
    n_layer, n_head, T, S = w.shape
    # -p log2 p, with 0 log 0 = 0.
    entropy = -torch.special.xlogy(w, w).sum(-1).mean(-1) / math.log(2)
    diagonal = w.diagonal(dim1=-2, dim2=-1)  # [L, H, T]
    if cross or T != S:  # cross-attention: no "itself", no "the token before"
        previous = self_ = torch.full((n_layer, n_head), math.nan, dtype=w.dtype)
        first = w[..., 0].mean(-1)
    elif T > 1:
        previous = w.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1)  # w[q, q-1] for q = 1..T-1
        first = w[..., 1:, 0].mean(-1)
        self_ = diagonal[..., 1:].mean(-1)
    else:
        previous = torch.zeros(n_layer, n_head, dtype=w.dtype)
        first = w[..., 0, 0]
        self_ = diagonal[..., 0]
    return [
        HeadStats(
            layer=i,
            head=h,
            entropy=max(0.0, float(entropy[i, h])),
            previous_token=float(previous[i, h]),
            first_token=float(first[i, h]),
            self_token=float(self_[i, h]),
        )
        for i in range(n_layer)
        for h in range(n_head)
    ]


# -- saving -------------------------------------------------------------------------


def save_matrix(
    matrix: Weights,
    path: Union[str, os.PathLike],
    tokens: Optional[Sequence[str]] = None,
    key_tokens: Optional[Sequence[str]] = None,
) -> Path:
    """Write a matrix to `path`: .npy (NumPy's format) or .csv (readable by spreadsheets).

    A CSV gets a header row of the key tokens and a first column of the query
    tokens when `tokens` are given; `key_tokens` name the columns when they are
    another text's (cross-attention's rectangle). Written under a temporary name and renamed.
    """
    path = Path(path)
    array = matrix.detach().cpu().numpy() if isinstance(matrix, Tensor) else np.asarray(matrix)
    array = array.astype(np.float32)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise UserError(f"Cannot save a matrix as {path.name}: choose a name ending in .npy or .csv.")
    keys = None
    if tokens is not None:
        tokens = list(tokens)
        keys = list(tokens if key_tokens is None else key_tokens)
        if array.ndim != 2 or array.shape != (len(tokens), len(keys)):
            raise ValueError(f"{len(tokens)} x {len(keys)} tokens do not label a matrix of shape {tuple(array.shape)}")
    # Made in memory, then written whole or not at all.
    if suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, array)
        data = buffer.getvalue()
    else:
        if array.ndim != 2:
            raise UserError(f"A CSV file holds a table: this matrix has {array.ndim} dimensions. Use .npy.")
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        if tokens is not None:
            writer.writerow(["query \\ key", *(keys or [])])
        for q, row in enumerate(array):
            cells = [str(v) for v in row]  # numpy's shortest text that reads back the same float32
            writer.writerow([tokens[q], *cells] if tokens is not None else cells)
        data = text.getvalue().encode("utf-8")
    try:
        write_bytes_atomic(path, data)
    except OSError as e:
        raise UserError(f"Could not save the matrix to {path}: {e.strerror or e}.") from e
    return path


# -- the live probe during training -------------------------------------------------------


@dataclass
class ProbeRecord:
    """The probe sentence's attention at one training step: weights [n_layer, n_head, T, T],
    and each head's statistics (worked out here, on the training thread, not in the window)."""

    step: int
    tokens: list[str]
    weights: Tensor
    stats: Optional[list] = None  # HeadStats, layer by layer
    causal: bool = True  # False for an encoder's full square


class LiveProbe:
    """Runs a probe sentence through the model now and then while it trains.

    A probe is one forward pass with the weights spelled out: cheap, but not
    free. It runs only while the time spent probing stays within `budget` of the
    time spent training (5% by default), and at most every `min_interval_s`,
    which is as often as a person can watch a heatmap change anyway.
    """

    def __init__(self, tokenizer, text: str, budget: float = 0.05, min_interval_s: float = 0.25):
        self.tokenizer = tokenizer
        self.budget = budget
        self.min_interval_s = min_interval_s
        self.spent_s = 0.0
        self.last_cost_s = 0.0
        self.last_at: Optional[float] = None
        self._text: Optional[str] = None
        self._pending: Optional[str] = text
        self.ids: list[int] = []
        self.tokens: list[str] = []

    def set_text(self, text: str) -> None:
        """A new probe sentence; taken up before the next probe (safe from another thread)."""
        self._pending = text

    def due(self, elapsed_s: float, now: float) -> bool:
        if self.last_at is not None and now - self.last_at < self.min_interval_s:
            return False
        return self.spent_s + self.last_cost_s <= self.budget * elapsed_s

    def probe(self, model, step: int, now: float) -> Optional[ProbeRecord]:
        """Capture the probe's attention now (the caller checks `due` first); None without a sentence."""
        import time

        pending, self._pending = self._pending, None
        if pending is not None and pending != self._text:
            self._text = pending
            self.ids, self.tokens = _encode(self.tokenizer, pending) if pending.strip() else ([], [])
        if not self.ids:
            return None
        started = time.perf_counter()
        encoder = bool(model.config.is_encoder)
        wrapping = _wrapper(self.tokenizer) if encoder else None
        context = model.config.context_length - (wrapping.wrapping if wrapping is not None else 0)
        ids, tokens = self.ids[-context:], self.tokens[-context:]
        if wrapping is not None:  # as the encoder reads a text: between [CLS] and [SEP]
            ids, tokens = _wrap(wrapping, ids, tokens)
        weights = capture_ids(model, ids)
        self.last_cost_s = time.perf_counter() - started
        self.spent_s += self.last_cost_s
        self.last_at = now
        return ProbeRecord(step=step, tokens=tokens, weights=weights, stats=head_stats(weights), causal=not encoder)
