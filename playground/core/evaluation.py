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

Each scorer is a job generator (``playground/engine/jobs.py``): it yields
`Progress` after every batch of windows and returns its result; run it with
`run_quietly` when nobody watches. `compare_checkpoints` also yields each
checkpoint's row as it is scored (`CheckpointScored`), for a live table.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, TypeVar, Union

import numpy as np
import torch
from torch.nn import functional as F

from playground.core.checkpoints import CHECKPOINT_NAMES, Checkpoint, load_checkpoint
from playground.core.corpus import Corpus, check_text_file, read_text_chunks
from playground.core.model import GPT
from playground.core.progress import CancelToken, JobGenerator, Progress, UserError
from playground.core.tokenization import LoadedTokenizer

PathLike = Union[str, os.PathLike]
LN2 = math.log(2)
T = TypeVar("T")


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
    """One checkpoint's line in a comparison table (see `compare_checkpoints`).

    For an encoder (`measure` PSEUDO), `perplexity` is its pseudo-perplexity
    (core/masked_eval.py: each token hidden in turn), not the same kind of
    number as a decoder's, and its bits per byte compare with encoders' only;
    `masked_accuracy` is the share of hidden tokens it guessed (None for a decoder).
    """

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
    measure: str = "perplexity"  # or PSEUDO for an encoder
    masked_accuracy: Optional[float] = None

    @property
    def is_pseudo(self) -> bool:
        return self.measure == PSEUDO

    def to_dict(self) -> dict:
        return asdict(self)


PSEUDO = "pseudo-perplexity"


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
            f"Save it as UTF-8 text and open it again."
        )
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


def _score_ids(
    model: GPT, ids: Union[Sequence[int], np.ndarray], batch_size: int, stride: Optional[int]
) -> JobGenerator[tuple[float, int, int, int, int]]:
    """Job: (total NLL, tokens scored, windows, context, stride) over `ids`, progress after each batch."""
    if batch_size < 1:
        raise UserError(f"The batch size must be at least 1, not {batch_size}.")
    if model.config.is_encoder:
        raise UserError(
            "This model is an encoder: it reads the whole text at once, so perplexity (each token predicted "
            "from the ones before it) is not defined for it. Measure its pseudo-perplexity instead (each token "
            "hidden in turn and guessed from both sides; not comparable with a decoder's perplexity)."
        )
    context = model.config.context_length
    stride = context if stride is None else int(stride)
    if not 1 <= stride <= context:
        raise UserError(f"The stride must be between 1 and the context length ({context}), not {stride}.")
    data = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    if int(data.max()) >= model.config.vocab_size or int(data.min()) < 0:
        raise UserError(
            f"The token ids run up to {int(data.max()):,}, but this model knows only "
            f"{model.config.vocab_size:,} tokens: the ids come from another tokenizer."
        )
    windows = _windows(len(data), context, stride)
    width = max(end - start for start, end, _ in windows)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = 0.0
    scored = 0
    try:  # the finally also runs when the job is stopped between two batches (the generator is closed)
        for b in range(0, len(windows), batch_size):
            batch = windows[b : b + batch_size]
            x = torch.zeros(len(batch), width, dtype=torch.int64)
            y = torch.full((len(batch), width), -1, dtype=torch.int64)  # -1: not scored (padding or done)
            for row, (start, end, first) in enumerate(batch):
                n = end - start
                x[row, :n] = data[start:end]
                targets = data[start + 1 : end + 1].clone()
                targets[: first - (start + 1)] = -1  # scored by an earlier window
                y[row, :n] = targets
            # Padding sits after the real tokens, so causal attention never lets it change them.
            with torch.no_grad():
                logits = model(x.to(device)).logits
                nll = F.cross_entropy(
                    logits.float().reshape(-1, logits.size(-1)),
                    y.to(device).reshape(-1),
                    ignore_index=-1,
                    reduction="sum",
                )
            total += float(nll)
            scored += int((y >= 0).sum())
            done = min(len(windows), b + batch_size)
            yield Progress(done / len(windows), f"Scoring: window {done:,} of {len(windows):,}")
    finally:
        model.train(was_training)
    return total, scored, len(windows), context, stride


def _result(
    total: float, scored: int, windows: int, context: int, stride: int, characters: int, n_bytes: int, first_bytes: int
) -> PerplexityResult:
    mean = total / scored
    scored_bytes = max(1, n_bytes - first_bytes)
    return PerplexityResult(
        tokens=scored,
        total_nll=total,
        mean_loss=mean,
        perplexity=math.exp(min(mean, 700.0)),
        bits_per_byte=total / LN2 / scored_bytes,
        characters=characters,
        bytes=n_bytes,
        scored_bytes=scored_bytes,
        windows=windows,
        context_length=context,
        stride=stride,
    )


def perplexity_on_ids(
    model: GPT,
    ids: Union[Sequence[int], np.ndarray],
    tokenizer: Optional[LoadedTokenizer] = None,
    batch_size: int = 8,
    stride: Optional[int] = None,
    text: Optional[str] = None,
) -> JobGenerator[PerplexityResult]:
    """Job: score token ids directly (the validation split, say).

    Characters and bytes come from `text` when given, else from decoding the
    ids with `tokenizer`; with neither, bits per byte cannot be known and
    `UserError` says so.
    """
    ids = np.asarray(ids).reshape(-1)
    if len(ids) < 2:
        raise UserError(
            f"The text has {len(ids)} token{'s' if len(ids) != 1 else ''}: at least two are needed, "
            "one to read and one to predict. Use a longer text."
        )
    if text is None:
        if tokenizer is None:
            raise UserError("Counting bytes needs the tokenizer (or the text) that the ids came from.")
        text = tokenizer.decode(ids.tolist())
    total, scored, windows, context, stride = yield from _score_ids(model, ids, batch_size, stride)
    return _result(
        total,
        scored,
        windows,
        context,
        stride,
        len(text),
        len(text.encode("utf-8")),
        _first_token_bytes(tokenizer, ids[0]),
    )


def perplexity(
    model: GPT,
    tokenizer: LoadedTokenizer,
    text: str,
    batch_size: int = 8,
    stride: Optional[int] = None,
) -> JobGenerator[PerplexityResult]:
    """Job: perplexity and bits per byte of `model` on `text` (see the module docstring for how)."""
    if not text or not text.strip():
        raise UserError("The text is empty: give the model some text to predict.")
    ids = encode_text(tokenizer, text)
    return (yield from perplexity_on_ids(model, ids, tokenizer, batch_size, stride, text=text))


def perplexity_of_file(
    model: GPT,
    tokenizer: LoadedTokenizer,
    path: PathLike,
    batch_size: int = 8,
    stride: Optional[int] = None,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[PerplexityResult]:
    """Job: `perplexity` of the text in a file (UTF-8, or UTF-16 with a byte-order mark; .gz opened).
    `cancel` stops the read of a big file."""
    yield Progress(0.0, f"Reading {Path(path).name}…")
    text = read_text_file(path, cancel)
    return (yield from perplexity(model, tokenizer, text, batch_size, stride))


def validation_ids(
    corpus: Corpus,
    tokenizer: LoadedTokenizer,
    val_fraction: float = 0.1,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[np.ndarray]:
    """Job: the ids training held out for validation, the last `val_fraction` of the encoded corpus.

    Encoded and split exactly as training does (`encode_corpus`, `split_tokens`),
    so `perplexity_on_ids(model, validation_ids(...), tokenizer)` scores the very
    text the validation loss was measured on (all of it, not random windows).
    `cancel` stops the encoding between chunks.
    """
    from playground.core.data import encode_corpus, split_tokens

    yield Progress(None, f"Encoding {corpus.name}…")
    ids = yield from encode_corpus(corpus, tokenizer, cancel=cancel)
    return split_tokens(ids, val_fraction).val


class ValidationSplits:
    """The validation ids of a corpus per tokenizer, the last few kept: encoding a big corpus takes seconds.

    Safe to share between the window (which clears it when the corpus changes)
    and a job's thread (which reads and fills it).
    """

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._splits: dict[tuple, tuple[Corpus, np.ndarray]] = {}

    def get(self, corpus: Corpus, tokenizer_id: str, fraction: float) -> Optional[np.ndarray]:
        with self._lock:
            kept = self._splits.get((id(corpus), tokenizer_id, fraction))
        return kept[1] if kept is not None and kept[0] is corpus else None

    def put(self, corpus: Corpus, tokenizer_id: str, fraction: float, ids: np.ndarray) -> None:
        with self._lock:
            while len(self._splits) >= self.keep:
                self._splits.pop(next(iter(self._splits)))
            self._splits[(id(corpus), tokenizer_id, fraction)] = (corpus, ids)  # the corpus kept: its id stays its own

    def clear(self) -> None:
        with self._lock:
            self._splits.clear()


def tokenizer_id(tokenizer: LoadedTokenizer) -> str:
    """A fingerprint of the whole tokenizer: equal for checkpoints that cut text the same way."""
    return hashlib.sha1(tokenizer.tokenizer.to_str().encode("utf-8")).hexdigest()


# -- comparing checkpoints -----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointScored:
    """Partial result of `compare_checkpoints`: one checkpoint's row, as soon as it is scored."""

    row: PerplexityRow
    tokenizer_id: str  # `tokenizer_id` of its tokenizer: rows whose ids differ compare by bits per byte only


@dataclass(frozen=True)
class CheckpointFailed:
    """Partial result of `compare_checkpoints(..., keep_going=True)`: a checkpoint that could not be scored."""

    name: str
    message: str


def _within(job: JobGenerator[T], lo: float, hi: float, prefix: str) -> JobGenerator[T]:
    """Run `job` as one stretch, `lo`..`hi`, of a longer one: its fractions scaled, its messages prefixed."""
    try:
        while True:
            try:
                item = next(job)
            except StopIteration as stop:
                return stop.value
            if isinstance(item, Progress):
                item = Progress(lo + (hi - lo) * (item.fraction or 0.0), prefix + item.message)
            yield item
    finally:
        job.close()  # stopped early: the inner job's clean-up runs now


def _label(item: Union[PathLike, Checkpoint]) -> str:
    """A checkpoint's name before it is loaded: its run folder's."""
    if isinstance(item, Checkpoint):
        return item.name
    path = Path(item)
    return path.parent.name if path.name.split(".")[0] in CHECKPOINT_NAMES else path.name


def compare_checkpoints(
    checkpoints: Sequence[Union[PathLike, Checkpoint]],
    text: Union[str, os.PathLike, Corpus],
    which: str = "best",
    device: Union[str, torch.device] = "cpu",
    batch_size: int = 8,
    stride: Optional[int] = None,
    model_of: Optional[Callable[[Checkpoint], GPT]] = None,
    splits: Optional[ValidationSplits] = None,
    keep_going: bool = False,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[list[PerplexityRow]]:
    """Job: score each checkpoint on the same text; one row each, in the order given.

    `checkpoints` are folders (a run, or its best/ or last/ folder; loaded on
    `device` and let go before the next, so one is in memory at a time) or
    checkpoints already read, whose model `model_of` gives (the window's shared
    model; without it, loaded from its folder). `text` is the text itself, a
    file (read in the job), or a corpus: then each checkpoint reads the
    validation split its own run held out (`validation_ids`, kept in `splits`).
    Each row is yielded as a `CheckpointScored` as soon as it is known; with
    `keep_going`, a checkpoint that cannot be scored is a `CheckpointFailed`
    and the others go on, else its `UserError` stops the job.

    Compare models with different tokenizers by bits per byte; per-token
    perplexity only compares models that share a tokenizer. An encoder is
    scored by pseudo-perplexity instead (`PerplexityRow.measure`), which
    compares with encoders only.
    """
    if not checkpoints:
        raise UserError("Choose at least one checkpoint to score.")
    if isinstance(text, os.PathLike):
        yield Progress(0.0, f"Reading {Path(text).name}…")
        text = read_text_file(text, cancel)
    rows = []
    n = len(checkpoints)
    for i, item in enumerate(checkpoints):
        name = _label(item)
        prefix = f"{name} ({i + 1} of {n}): "
        yield Progress(i / n, prefix + "loading…")
        try:
            checkpoint, model, loaded = _load(item, device, which, model_of)
            row = yield from _score_checkpoint(
                checkpoint, model, text, (i / n, (i + 1) / n), prefix, batch_size, stride, splits, cancel
            )
        except UserError as e:
            if not keep_going:
                raise
            yield CheckpointFailed(name, str(e))
            continue
        rows.append(row.row)
        yield row
        del model
        if loaded and torch.cuda.is_available():
            torch.cuda.empty_cache()
    return rows


def _load(
    item: Union[PathLike, Checkpoint], device, which: str, model_of: Optional[Callable[[Checkpoint], GPT]]
) -> tuple[Checkpoint, GPT, bool]:
    """(checkpoint, model, whether it was loaded here) for a folder or a checkpoint already read."""
    if isinstance(item, Checkpoint):
        if model_of is not None:
            return item, model_of(item), False
        item = item.path
    if device == "auto":
        from playground.core.training import resolve_device

        device = resolve_device("auto")
    checkpoint, model = load_checkpoint(item, device=device, which=which)
    if not isinstance(model, GPT):  # an encoder-decoder
        from playground.core.seq2seq_eval import no_text_perplexity

        raise no_text_perplexity(checkpoint.name)
    return checkpoint, model, True


def _score_checkpoint(
    checkpoint: Checkpoint,
    model: GPT,
    text: Union[str, Corpus],
    span: tuple[float, float],
    prefix: str,
    batch_size: int,
    stride: Optional[int],
    splits: Optional[ValidationSplits],
    cancel: Optional[CancelToken],
) -> JobGenerator[CheckpointScored]:
    from playground.core.masked_eval import PseudoPerplexityResult, pseudo_perplexity, pseudo_perplexity_on_ids

    lo, hi = span
    tokenizer = checkpoint.tokenizer
    fingerprint = tokenizer_id(tokenizer)
    encoder = bool(model.config.is_encoder)  # scored by pseudo-perplexity: each token hidden in turn
    pseudo_batch = max(32, batch_size)  # rows of one window each: small, so more of them a pass
    if isinstance(text, Corpus):
        fraction = getattr(checkpoint.train_config, "val_fraction", None) or 0.1
        ids = splits.get(text, fingerprint, fraction) if splits is not None else None
        if ids is None:
            encode_to = lo + 0.3 * (hi - lo)
            ids = yield from _within(validation_ids(text, tokenizer, fraction, cancel), lo, encode_to, prefix)
            if splits is not None:
                splits.put(text, fingerprint, fraction, ids)
        lo = lo + 0.3 * (hi - lo)
        result: Union[PerplexityResult, PseudoPerplexityResult]
        if encoder:
            job = pseudo_perplexity_on_ids(model, ids, tokenizer, pseudo_batch)
            result = yield from _within(job, lo, hi, prefix)
        else:
            result = yield from _within(perplexity_on_ids(model, ids, tokenizer, batch_size, stride), lo, hi, prefix)
    elif encoder:
        result = yield from _within(pseudo_perplexity(model, tokenizer, text, pseudo_batch), lo, hi, prefix)
    else:
        result = yield from _within(perplexity(model, tokenizer, text, batch_size, stride), lo, hi, prefix)
    if isinstance(result, PseudoPerplexityResult):
        value, accuracy = result.pseudo_perplexity, result.masked_accuracy
    else:
        value, accuracy = result.perplexity, None
    row = PerplexityRow(
        name=checkpoint.name,
        path=str(Path(checkpoint.path).resolve()),
        which=checkpoint.which,
        parameters=model.num_parameters(),
        vocab_size=checkpoint.model_config.vocab_size,
        tokenizer_kind=tokenizer.kind_label,
        context_length=checkpoint.model_config.context_length,
        steps=checkpoint.step,
        tokens=result.tokens,
        mean_loss=result.mean_loss,
        perplexity=value,
        bits_per_byte=result.bits_per_byte,
        measure=PSEUDO if encoder else "perplexity",
        masked_accuracy=accuracy,
    )
    return CheckpointScored(row, fingerprint)
