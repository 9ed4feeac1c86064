"""How compact each vocabulary size makes the text: the Compare tab's sweep of byte-level BPE sizes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from playground.core.corpus import Corpus
from playground.core.progress import CancelToken, JobGenerator, Progress, UserError
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_tokenizer

SWEEP_SIZES = (300, 500, 1000, 2000, 4000, 8000, 16000)
SWEEP_SAMPLE_CHARS = 4_000_000


def chars_per_token(tok: LoadedTokenizer, text: str) -> float:
    """Characters of ``text`` per token: higher means a more compact encoding."""
    lines = text.splitlines(keepends=True) or [text]
    n_tokens = sum(len(ids) for ids in tok.encode_ids(lines))
    return len(text) / max(1, n_tokens)


@dataclass(frozen=True)
class SweepPoint:
    """One measured point of the vocab-size sweep."""

    vocab_size: int
    chars_per_token: float


def vocab_size_sweep(
    corpus: Corpus,
    sizes: Iterable[int] = SWEEP_SIZES,
    sample_chars: int = SWEEP_SAMPLE_CHARS,
    *,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[list[tuple[int, float]]]:
    """Train byte-level BPE at each size on (the start of) the corpus and measure
    characters per token on that text. Yields each :class:`SweepPoint` as it is
    measured; returns every (size, characters per token)."""
    sizes = list(sizes)
    text = corpus.read_text(limit_chars=sample_chars)
    if not text.strip():
        raise UserError("The corpus is empty: there is no text to measure.")
    sample = Corpus(name=corpus.name, text=text)
    points = []
    for i, size in enumerate(sizes):
        training = train_tokenizer(sample, spec_for_kind("bpe", vocab_size=size), cancel=cancel)
        tok = yield from _as_part(training, i / len(sizes), 1 / len(sizes), f"Vocab {size:,}: ")
        point = SweepPoint(size, chars_per_token(tok, text))
        points.append((point.vocab_size, point.chars_per_token))
        yield point
    return points


def _as_part(job: JobGenerator, start: float, span: float, prefix: str) -> JobGenerator:
    """Run ``job`` as one part of a longer one: its progress mapped into [start, start + span]
    (an unknown fraction counts as halfway) and its messages prefixed; return its result."""
    try:
        while True:
            try:
                item = next(job)
            except StopIteration as done:
                return done.value
            if isinstance(item, Progress):
                inner = 0.5 if item.fraction is None else item.fraction
                item = Progress(start + span * inner, prefix + item.message)
            yield item
    finally:
        job.close()  # stopped early: the inner job's clean-up (its worker) runs now
