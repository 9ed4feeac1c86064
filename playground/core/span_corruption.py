"""T5's pre-training objective, span corruption: drop spans of the text, learn to write them back.

    tokens = t5_tokens(tokenizer)                                   # pad, </s>, sentinel ids (t5_tokens.py)
    lengths = span_lengths(encoder_context=128)                     # how many raw tokens make one example
    examples = span_corruption_examples(ids, tokens, 128, generator)  # (input, target) pairs of token ids
    batch = collate(examples[:32], tokens)                          # padded tensors (text_to_text.py)

Raffel et al. (2020), "Exploring the limits of transfer learning with a unified text-to-text
transformer", sections 3.1.4 and 3.3.4; the algorithm is that of `random_spans_noise_mask`,
`noise_span_to_unique_sentinel`, `nonnoise_span_to_unique_sentinel` and `random_spans_helper` in
google-research/text-to-text-transfer-transformer, t5/data/preprocessors.py, written here anew:

- **How many**: of a text of `length` tokens, ``round(length × noise_density)`` are noise, at
  least 1 and at most ``length - 1``; they form ``round(noise / mean_noise_span_length)`` spans,
  at least 1. (Rounded in float32 and to even at a half, as the reference's TensorFlow does.)
- **Where**: the noise tokens are cut into that many non-empty spans at random, the kept tokens
  into as many non-empty runs, and the two alternate, kept first. Every such mask is equally
  likely. So a text never starts with noise, and (from two tokens on) always ends with it.
- **Input**: each noise span is replaced by one sentinel, <extra_id_0> for the first, then
  <extra_id_1>, ... in order; then </s>. "The cat sat on the mat" → "The <extra_id_0> on the <extra_id_1> </s>".
- **Target**: each kept run is replaced by a sentinel the same way, so the target lists each
  sentinel followed by the span it stands for: "<extra_id_0> cat sat <extra_id_1> mat </s>". As in
  the reference, no sentinel ends the target: the text ends with a dropped span, so the last
  sentinel is followed by that span and </s>. (The paper's figure 2 shows a final sentinel because
  its example ends with kept text; a single-token text, the one case here that does, gets one too.)
  Input and target together rebuild the text exactly (`fill_in_spans`).

Departures on purpose, each where the reference would fail or cannot apply:

- A noise share of 0 or 1 and spans shorter than 1 token are refused with a sentence (the
  reference's clamps would quietly drop one token at 0 and keep one at 1, and spans shorter
  than a token break it).
- When the kept tokens are fewer than the spans (a high noise share with short spans), the spans
  are as many as the kept tokens, so the kept runs stay non-empty; the reference fails there.
- `span_lengths` counts with the mask's own rounding and clamps (the reference's helper rounds in
  float64 and does not clamp), so an example never exceeds the encoder's context by a token.
- Random numbers come from a `torch.Generator` (the reference uses stateless TensorFlow seeds):
  the same generator state gives the same examples, which an exact resume needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from playground.core.progress import UserError
from playground.core.t5_tokens import T5Tokens, sentinel_token
from playground.core.text_to_text import Seq2SeqExample

NOISE_DENSITY = 0.15  # T5's share of tokens dropped
MEAN_NOISE_SPAN_LENGTH = 3.0  # T5's mean length of a dropped span, in tokens


def check_span_settings(noise_density: float, mean_noise_span_length: float) -> None:
    """`UserError` with a sentence when the noise share or the mean span length cannot work."""
    if not 0.0 < noise_density < 1.0:
        raise UserError(
            f"The share of tokens to drop must be above 0 and below 1 (T5 drops 0.15), not {noise_density!r}: "
            "with none dropped there is nothing to learn, with all dropped nothing to learn from."
        )
    if not mean_noise_span_length >= 1.0:
        raise UserError(
            f"The mean length of a dropped span must be at least 1 token (T5: 3), not {mean_noise_span_length!r}."
        )


@dataclass(frozen=True)
class SpanCounts:
    """How a text of `length` tokens is cut: `noise` tokens dropped in `spans` spans, `kept` tokens kept."""

    length: int
    noise: int
    spans: int

    @property
    def kept(self) -> int:
        return self.length - self.noise


def span_counts(length: int, noise_density: float, mean_noise_span_length: float) -> SpanCounts:
    """The counts `random_spans_noise_mask` uses for a text of `length` >= 2 tokens (no randomness)."""
    density, mean = np.float32(noise_density), np.float32(mean_noise_span_length)
    noise = int(np.round(np.float32(length) * density))  # np.round rounds a half to even, as tf.round
    noise = min(max(noise, 1), length - 1)
    spans = max(int(np.round(np.float32(noise) / mean)), 1)
    spans = min(spans, length - noise)  # departure: never more spans than kept tokens (see above)
    return SpanCounts(length=length, noise=noise, spans=spans)


def _random_segmentation(items: int, segments: int, generator: torch.Generator) -> list[int]:
    """`items` cut into `segments` non-empty runs at random, every cut equally likely: their lengths."""
    gaps = torch.randperm(items - 1, generator=generator)[: segments - 1] + 1  # where a new run starts
    cuts = [0, *sorted(gaps.tolist()), items]
    return [b - a for a, b in zip(cuts, cuts[1:])]


def random_spans_noise_mask(
    length: int,
    generator: torch.Generator,
    noise_density: float = NOISE_DENSITY,
    mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
) -> list[bool]:
    """Which of `length` tokens to drop (True), by T5's rule (module docstring).

    A single token is never dropped: as in the reference, the counts are those of two tokens
    and the mask is cut to one, which is always kept."""
    check_span_settings(noise_density, mean_noise_span_length)
    if length < 1:
        return []
    counts = span_counts(max(length, 2), noise_density, mean_noise_span_length)
    noise_runs = _random_segmentation(counts.noise, counts.spans, generator)
    kept_runs = _random_segmentation(counts.kept, counts.spans, generator)
    mask: list[bool] = []
    for kept, noise in zip(kept_runs, noise_runs):
        mask += [False] * kept + [True] * noise
    return mask[:length]


class NotEnoughSentinels(UserError):
    """An example has more spans than the tokenizer has sentinels."""

    def __init__(self, needed: int, available: int) -> None:
        self.needed, self.available = needed, available
        have = (
            "no sentinels"
            if available == 0
            else f"only {available} sentinel{'s' if available > 1 else ''} (<extra_id_0> … {sentinel_token(available - 1)})"
        )
        super().__init__(
            f"Span corruption needs {needed} sentinels for these examples (one for each dropped span), but the "
            f"tokenizer has {have}. Add sentinels to the tokenizer (at least {needed}), or drop fewer, longer spans: "
            "a smaller noise share, a longer mean span or a shorter encoder context."
        )


def _runs(mask: Sequence[bool]) -> int:
    """How many runs of True `mask` holds."""
    return sum(dropped and (i == 0 or not mask[i - 1]) for i, dropped in enumerate(mask))


def _replace_spans(ids: Sequence[int], mask: Sequence[bool], sentinels: Sequence[int]) -> list[int]:
    """Each run of True in `mask` replaced by the next sentinel, in order (the reference's
    noise_span_to_unique_sentinel; with the mask inverted, its nonnoise_span_to_unique_sentinel)."""
    if _runs(mask) > len(sentinels):
        raise NotEnoughSentinels(_runs(mask), len(sentinels))
    out: list[int] = []
    used = 0
    for i, (token, dropped) in enumerate(zip(ids, mask)):
        if not dropped:
            out.append(token)
        elif i == 0 or not mask[i - 1]:
            out.append(sentinels[used])
            used += 1
    return out


def corrupt_spans(
    ids: Sequence[int],
    tokens: T5Tokens,
    generator: torch.Generator,
    noise_density: float = NOISE_DENSITY,
    mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
) -> Seq2SeqExample:
    """One text's (input, target) by span corruption, each ending with </s> (module docstring).
    `ids`: a list, or a NumPy array or tensor of token ids."""
    ids = _as_list(ids)
    mask = random_spans_noise_mask(len(ids), generator, noise_density, mean_noise_span_length)
    return Seq2SeqExample(
        input_ids=tuple(_replace_spans(ids, mask, tokens.sentinels) + [tokens.eos]),
        target_ids=tuple(_replace_spans(ids, [not m for m in mask], tokens.sentinels) + [tokens.eos]),
    )


def _as_list(ids) -> list[int]:
    """Plain ints from a list, a NumPy array or a tensor (iterating those would give 0-d arrays)."""
    return ids.tolist() if hasattr(ids, "tolist") else [int(t) for t in ids]


def _segments(ids: Sequence[int], tokens: T5Tokens) -> list[tuple[Optional[int], list[int]]]:
    """`ids` up to </s> cut at each sentinel: (None, the tokens before the first), then
    (N, the tokens after <extra_id_N>) for each sentinel in order."""
    index = {sentinel: n for n, sentinel in enumerate(tokens.sentinels)}
    segments: list[tuple[Optional[int], list[int]]] = [(None, [])]
    for token in ids:
        if token == tokens.eos:
            break
        if token in index:
            segments.append((index[token], []))
        else:
            segments[-1][1].append(token)
    return segments


def fill_in_spans(input_ids: Sequence[int], target_ids: Sequence[int], tokens: T5Tokens) -> list[int]:
    """The text an (input, target) pair was made from: each sentinel of the input replaced by what
    follows the same sentinel in the target, </s> left out; `corrupt_spans` undone exactly.

    Also puts a model's answer in place: a sentinel the answer does not fill stays in the text,
    and one it names twice is filled by the first."""
    answers: dict[Optional[int], list[int]] = {}
    for n, span in _segments(target_ids, tokens)[1:]:
        answers.setdefault(n, span)
    text: list[int] = []
    for n, kept in _segments(input_ids, tokens):
        if n is not None:
            text += answers.get(n, [tokens.sentinels[n]])
        text += kept
    return text


# -- examples of the right length ---------------------------------------------------------------------


@dataclass(frozen=True)
class SpanLengths:
    """The lengths of span corruption's examples for an encoder context (`span_lengths`).

    tokens: raw tokens of text per example. inputs: the encoder's input they make (at most the
    context). targets: the decoder's target they make (what the decoder's context must hold).
    spans: the dropped spans per example, so the sentinels it needs.
    """

    tokens: int
    inputs: int
    targets: int
    spans: int


def _example_lengths(length: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int, int]:
    """(input length, target length, sentinels used) of a text of `length` tokens, </s> included."""
    if length == 1:  # never dropped (random_spans_noise_mask): input "t </s>", target "<extra_id_0> </s>"
        return 2, 2, 1
    counts = span_counts(length, noise_density, mean_noise_span_length)
    return counts.kept + counts.spans + 1, counts.noise + counts.spans + 1, counts.spans


def span_lengths(
    encoder_context: int,
    noise_density: float = NOISE_DENSITY,
    mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
) -> SpanLengths:
    """How many raw tokens fill an encoder context of `encoder_context` tokens after corruption.

    Dropping spans shortens the text: 100 tokens at T5's settings lose 15 tokens to 5 sentinels,
    and </s> is added, so the input is 91 tokens. So an example takes more raw tokens than the
    context holds: the most whose input still fits (T5's `random_spans_helper`, which finds
    568 raw tokens for an input of 512 and a target of 114). The target's length follows.
    """
    check_span_settings(noise_density, mean_noise_span_length)
    if encoder_context < 3:
        raise UserError(
            f"Span corruption needs an encoder context of at least 3 tokens (a kept token, a sentinel and </s>), "
            f"not {encoder_context}."
        )
    length = encoder_context - 1  # its input is at most `encoder_context` long: no more is dropped than added
    while _example_lengths(length + 1, noise_density, mean_noise_span_length)[0] <= encoder_context:
        length += 1
    inputs, targets, spans = _example_lengths(length, noise_density, mean_noise_span_length)
    if noise_density == 0.5 and targets > inputs:  # the reference's rule, so both come out at the round number
        length -= 1
        inputs, targets, spans = _example_lengths(length, noise_density, mean_noise_span_length)
    return SpanLengths(tokens=length, inputs=inputs, targets=targets, spans=spans)


def sentinels_needed(
    encoder_context: int,
    noise_density: float = NOISE_DENSITY,
    mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
) -> int:
    """How many sentinels span corruption uses for an encoder context (the spans of its longest example)."""
    return span_lengths(encoder_context, noise_density, mean_noise_span_length).spans


def span_corruption_examples(
    ids: Sequence[int],
    tokens: T5Tokens,
    encoder_context: int,
    generator: torch.Generator,
    noise_density: float = NOISE_DENSITY,
    mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
    decoder_context: Optional[int] = None,
) -> list[Seq2SeqExample]:
    """A stream of token ids (a corpus, documents joined) cut into pieces of `span_lengths(...).tokens`
    tokens, each corrupted: inputs of at most `encoder_context` tokens.

    As in the reference (`split_tokens`), the last piece may be shorter. Each call draws new spans
    from `generator`, so calling once per epoch gives the model new gaps to fill each time.
    `NotEnoughSentinels` before any work when the tokenizer has too few; a `decoder_context` too
    short for the targets is a `UserError` too."""
    lengths = span_lengths(encoder_context, noise_density, mean_noise_span_length)
    if lengths.spans > len(tokens.sentinels):
        raise NotEnoughSentinels(lengths.spans, len(tokens.sentinels))
    if decoder_context is not None and lengths.targets > decoder_context:
        raise UserError(
            f"Span corruption's targets are {lengths.targets} tokens long for an encoder context of "
            f"{encoder_context}, but the decoder reads at most {decoder_context}. Give the decoder a context "
            f"of at least {lengths.targets} tokens, or drop fewer tokens."
        )
    step, ids = lengths.tokens, _as_list(ids)
    return [
        corrupt_spans(ids[start : start + step], tokens, generator, noise_density, mean_noise_span_length)
        for start in range(0, len(ids), step)
    ]
