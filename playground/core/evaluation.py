"""Perplexity and bits per byte: how well a checkpoint predicts a text it is given.

The text is encoded the way training encodes a corpus (line by line, the ids
simply concatenated) and read in windows of the model's context. Every token
but the very first is predicted exactly once, from the tokens before it in its
window; the first token has nothing before it and is only read, never scored.

Windows (``stride``, in tokens; default the context length):

    window k reads ids[k*stride : k*stride + context]   and predicts the token after each
    the first window scores all its predictions; a later one only those no window scored yet

With ``stride == context_length`` the windows do not overlap: a token near the
start of a window is predicted from few tokens (the first from one), so the
score is a little worse than the model can do. A smaller stride gives every
token at least ``context - stride`` tokens of context, at the price of reading
the text ``context / stride`` times. Either way each token counts once.

Four numbers, from the summed negative log-likelihood (NLL, in nats):

    mean loss          NLL / tokens scored (the training loss, on this text)
    perplexity         exp(mean loss): per token, as unsure as a fair choice among this many tokens
    bits per byte      NLL / ln 2 / bytes scored: per byte of UTF-8 text, so models with
                       different tokenizers compare fairly (per-token numbers do not:
                       a tokenizer with longer tokens has fewer, harder ones to predict)

*Bytes scored* are the UTF-8 bytes of the text minus those the first token
stands for (it is never predicted): the bytes match the scored tokens exactly
for a tokenizer that gives the text back unchanged (byte-level BPE), and
closely for others. `perplexity` counts the text it was given;
`perplexity_on_ids` decodes the ids to count, so the two agree on the same text.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch.nn import functional as F

from playground.core.corpus import Corpus, check_text_file, read_text_chunks
from playground.core.model import GPT
from playground.core.progress import CancelToken, Progress, ProgressFn, UserError, no_progress
from playground.core.tokenization import LoadedTokenizer

PathLike = Union[str, os.PathLike]
LN2 = math.log(2)


@dataclass(frozen=True)
class PerplexityResult:
    """How well a model predicted a text.

    tokens: tokens scored (every token of the text but the first).
    total_nll: their summed negative log-likelihood, in nats.
    mean_loss: total_nll / tokens, the cross-entropy the training curve shows.
    perplexity: exp(mean_loss), per token.
    bits_per_byte: total_nll / ln 2 / scored_bytes, comparable across tokenizers.
    characters, bytes: the whole text's length in characters and UTF-8 bytes.
    scored_bytes: the bytes the scored tokens cover (bytes less the first token's).
    windows: how many windows were read; context_length and stride: how they were cut.
    """

    tokens: int
    total_nll: float
    mean_loss: float
    perplexity: float
    bits_per_byte: float
    characters: int
    bytes: int
    scored_bytes: int
    windows: int
    context_length: int
    stride: int

    @property
    def bits_per_token(self) -> float:
        return self.mean_loss / LN2

    def to_dict(self) -> dict:
        return {**asdict(self), "bits_per_token": self.bits_per_token}


@dataclass(frozen=True)
class PerplexityRow:
    """One checkpoint's line in a comparison table (see `compare_checkpoints`)."""

    name: str
    path: str
    which: str
    parameters: int
    vocab_size: int
    tokenizer_kind: str
    context_length: int
    steps: int
    tokens: int
    mean_loss: float
    perplexity: float
    bits_per_byte: float

    def to_dict(self) -> dict:
        return asdict(self)


# -- reading a person's text file ------------------------------------------------------------


def read_text_file(path: PathLike, cancel: Optional[CancelToken] = None, what: str = "text") -> str:
    """The whole text of a file, read as the corpus reads it (a UTF-8 or UTF-16 byte-order mark
    honoured, .gz opened); `UserError` for a missing, binary, empty or not-UTF-8 file."""
    path = Path(path)
    check_text_file(path)  # missing, a folder, unreadable or binary: a sentence each
    bad: list[int] = []
    try:
        text = "".join(read_text_chunks(path, cancel=cancel, on_invalid_utf8=bad.append))
    except OSError as e:
        raise UserError(f"{path.name} could not be read: {e.strerror or e}.") from e
    if bad:
        raise UserError(
            f"{path.name} is not valid UTF-8 (the first bad byte is at offset {bad[0]:,}). "
            f"Save it as UTF-8 text and open it again.")
    if not text.strip():
        raise UserError(f"{path.name} is empty: it holds no {what}.")
    return text


# -- scoring -------------------------------------------------------------------------------------


def encode_text(tokenizer: LoadedTokenizer, text: str) -> list[int]:
    """The ids of `text` as training sees a corpus: encoded line by line and concatenated."""
    lines = text.splitlines(keepends=True)
    return [i for ids in tokenizer.encode_ids(lines) for i in ids] if lines else []


def _first_token_bytes(tokenizer: Optional[LoadedTokenizer], first_id: int) -> int:
    if tokenizer is None:
        return 0
    token = tokenizer.tokenizer.id_to_token(int(first_id))
    return len(tokenizer.token_bytes(token)) if token is not None else 0


def _windows(n_ids: int, context: int, stride: int) -> list[tuple[int, int, int]]:
    """(start, end, first) for each window over `n_ids` ids.

    A window reads ids[start:end] and predicts ids[start + 1:end + 1]; it scores
    the predictions of positions `first`..`end` (the earlier ones were scored by
    the window before). `end` stops at the last id, so the last window may be shorter.
    """
    windows, start, scored_to = [], 0, 0  # position 0 is never predicted
    while scored_to < n_ids - 1:
        end = min(start + context, n_ids - 1)
        windows.append((start, end, scored_to + 1))
        scored_to = end
        start += stride
    return windows


@torch.no_grad()
def _score_ids(
    model: GPT,
    ids: Sequence[int],
    batch_size: int,
    stride: Optional[int],
    progress: ProgressFn,
    cancel: Optional[CancelToken],
) -> tuple[float, int, int, int, int]:
    """(total NLL, tokens scored, windows, context, stride) over `ids`."""
    if batch_size < 1:
        raise UserError(f"The batch size must be at least 1, not {batch_size}.")
    context = model.config.context_length
    stride = context if stride is None else int(stride)
    if not 1 <= stride <= context:
        raise UserError(f"The stride must be between 1 and the context length ({context}), not {stride}.")
    data = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    if int(data.max()) >= model.config.vocab_size or int(data.min()) < 0:
        raise UserError(f"The token ids run up to {int(data.max()):,}, but this model knows only "
                        f"{model.config.vocab_size:,} tokens: the ids come from another tokenizer.")
    windows = _windows(len(data), context, stride)
    width = max(end - start for start, end, _ in windows)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = 0.0
    scored = 0
    try:
        for b in range(0, len(windows), batch_size):
            if cancel is not None:
                cancel.raise_if_cancelled()
            batch = windows[b:b + batch_size]
            x = torch.zeros(len(batch), width, dtype=torch.int64)
            y = torch.full((len(batch), width), -1, dtype=torch.int64)  # -1: not scored (padding or done)
            for row, (start, end, first) in enumerate(batch):
                n = end - start
                x[row, :n] = data[start:end]
                targets = data[start + 1:end + 1].clone()
                targets[:first - (start + 1)] = -1  # scored by an earlier window
                y[row, :n] = targets
            # Padding sits after the real tokens, so causal attention never lets it change them.
            logits = model(x.to(device)).logits
            nll = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.to(device).reshape(-1),
                                  ignore_index=-1, reduction="sum")
            total += float(nll)
            scored += int((y >= 0).sum())
            done = min(len(windows), b + batch_size)
            progress(Progress(done / len(windows), f"Scoring: window {done:,} of {len(windows):,}"))
    finally:
        model.train(was_training)
    return total, scored, len(windows), context, stride


def _result(total: float, scored: int, windows: int, context: int, stride: int,
            characters: int, n_bytes: int, first_bytes: int) -> PerplexityResult:
    mean = total / scored
    scored_bytes = max(1, n_bytes - first_bytes)
    return PerplexityResult(
        tokens=scored, total_nll=total, mean_loss=mean, perplexity=math.exp(min(mean, 700.0)),
        bits_per_byte=total / LN2 / scored_bytes, characters=characters, bytes=n_bytes,
        scored_bytes=scored_bytes, windows=windows, context_length=context, stride=stride)


def perplexity_on_ids(
    model: GPT,
    ids: Sequence[int],
    tokenizer: Optional[LoadedTokenizer] = None,
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelToken] = None,
    batch_size: int = 8,
    stride: Optional[int] = None,
    text: Optional[str] = None,
) -> PerplexityResult:
    """Score token ids directly (the validation split, say).

    Characters and bytes come from `text` when given, else from decoding the
    ids with `tokenizer`; with neither, bits per byte cannot be known and
    `UserError` says so.
    """
    ids = np.asarray(ids).reshape(-1)
    if len(ids) < 2:
        raise UserError(f"The text has {len(ids)} token{'s' if len(ids) != 1 else ''}: at least two are needed, "
                        "one to read and one to predict. Use a longer text.")
    if text is None:
        if tokenizer is None:
            raise UserError("Counting bytes needs the tokenizer (or the text) that the ids came from.")
        text = tokenizer.decode(ids.tolist())
    total, scored, windows, context, stride = _score_ids(model, ids, batch_size, stride, progress, cancel)
    return _result(total, scored, windows, context, stride, len(text), len(text.encode("utf-8")),
                   _first_token_bytes(tokenizer, ids[0]))


def perplexity(
    model: GPT,
    tokenizer: LoadedTokenizer,
    text: str,
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelToken] = None,
    batch_size: int = 8,
    stride: Optional[int] = None,
) -> PerplexityResult:
    """Perplexity and bits per byte of `model` on `text` (see the module docstring for how)."""
    if not text or not text.strip():
        raise UserError("The text is empty: give the model some text to predict.")
    ids = encode_text(tokenizer, text)
    return perplexity_on_ids(model, ids, tokenizer, progress, cancel, batch_size, stride, text=text)


def perplexity_of_file(
    model: GPT,
    tokenizer: LoadedTokenizer,
    path: PathLike,
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelToken] = None,
    batch_size: int = 8,
    stride: Optional[int] = None,
) -> PerplexityResult:
    """`perplexity` of the text in a file (UTF-8, or UTF-16 with a byte-order mark; .gz opened)."""
    text = read_text_file(path, cancel)
    return perplexity(model, tokenizer, text, progress, cancel, batch_size, stride)


def validation_ids(
    corpus: Corpus,
    tokenizer: LoadedTokenizer,
    val_fraction: float = 0.1,
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelToken] = None,
) -> np.ndarray:
    """The ids training held out for validation: the last `val_fraction` of the encoded corpus.

    Encoded and split exactly as training does (`encode_corpus`, `split_tokens`),
    so `perplexity_on_ids(model, validation_ids(...), tokenizer)` scores the very
    text the validation loss was measured on (all of it, not random windows).
    """
    from playground.core.data import encode_corpus, split_tokens

    return split_tokens(encode_corpus(corpus, tokenizer, progress, cancel), val_fraction).val


# -- comparing checkpoints -----------------------------------------------------------------------


def compare_checkpoints(
    paths: Sequence[PathLike],
    text: str,
    which: str = "best",
    device: Union[str, torch.device] = "cpu",
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelToken] = None,
    batch_size: int = 8,
    stride: Optional[int] = None,
) -> list[PerplexityRow]:
    """Score each checkpoint on the same text: one row each, in the order given.

    Compare models with different tokenizers by bits per byte; per-token
    perplexity only compares models that share a tokenizer. Each model is
    loaded, scored and let go before the next, so only one is in memory.
    """
    from playground.core.checkpoints import load_checkpoint

    if not paths:
        raise UserError("Choose at least one checkpoint to score.")
    rows = []
    for n, path in enumerate(paths):
        if cancel is not None:
            cancel.raise_if_cancelled()
        checkpoint, model = load_checkpoint(path, device=device, which=which)

        def part(p: Progress, n: int = n, name: str = checkpoint.name) -> None:
            inner = 0.0 if p.fraction is None else p.fraction
            progress(Progress((n + inner) / len(paths), f"{name} ({n + 1} of {len(paths)}): {p.message}"))

        result = perplexity(model, checkpoint.tokenizer, text, part, cancel, batch_size, stride)
        rows.append(PerplexityRow(
            name=checkpoint.name, path=str(checkpoint.path), which=checkpoint.which,
            parameters=model.num_parameters(), vocab_size=checkpoint.model_config.vocab_size,
            tokenizer_kind=checkpoint.tokenizer.kind_label,
            context_length=checkpoint.model_config.context_length, steps=checkpoint.step,
            tokens=result.tokens, mean_loss=result.mean_loss, perplexity=result.perplexity,
            bits_per_byte=result.bits_per_byte))
        del model
    return rows
