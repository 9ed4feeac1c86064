"""Span corruption, T5's pre-training objective (random_spans_noise_mask and the sentinels of
google-research/text-to-text-transfer-transformer, t5/data/preprocessors.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from playground.core.progress import UserError
from playground.core.span_corruption import (
    NotEnoughSentinels,
    SpanLengths,
    corrupt_spans,
    fill_in_spans,
    random_spans_noise_mask,
    sentinels_needed,
    span_corruption_examples,
    span_lengths,
)
from playground.core.t5_tokens import T5Tokens
from playground.core.text_to_text import Seq2SeqExample, collate

PAD, EOS = 0, 1
SENTINELS = tuple(range(1000, 1100))  # <extra_id_0> ... <extra_id_99>
TOKENS = T5Tokens(pad=PAD, eos=EOS, sentinels=SENTINELS)


def text(length: int, rng: random.Random) -> list[int]:
    return [rng.randrange(2, 900) for _ in range(length)]


def sentinels_in(ids) -> list[int]:
    return [t for t in ids if t in SENTINELS]


def inverse(example: Seq2SeqExample) -> list[int]:
    """The text again, written apart from the module's own `fill_in_spans`: the target's span
    after sentinel k goes where the input has sentinel k."""
    target = list(example.target_ids[:-1])
    spans = {}
    for sentinel in sentinels_in(target):
        start = target.index(sentinel) + 1
        rest = [i for i in range(start, len(target)) if target[i] in SENTINELS]
        spans[sentinel] = target[start : rest[0] if rest else len(target)]
    out = []
    for token in example.input_ids[:-1]:
        out += spans[token] if token in SENTINELS else [token]
    return out


def test_noise_share_and_mean_span_length_follow_the_settings_over_many_texts():
    rng, generator = random.Random(0), torch.Generator().manual_seed(0)
    for density, mean in [(0.15, 3.0), (0.3, 5.0), (0.5, 2.0)]:
        tokens = dropped = spans = 0
        span_sizes = set()
        for _ in range(400):
            ids = text(rng.randint(20, 300), rng)
            example = corrupt_spans(ids, TOKENS, generator, density, mean)
            n_spans = len(sentinels_in(example.input_ids))
            n_dropped = len(example.target_ids) - n_spans - 1  # the target: sentinels, dropped spans, </s>
            tokens, dropped, spans = tokens + len(ids), dropped + n_dropped, spans + n_spans
            mask = random_spans_noise_mask(len(ids), generator, density, mean)
            runs = "".join("x" if m else "." for m in mask).split(".")
            span_sizes |= {len(r) for r in runs if r}
        assert dropped / tokens == pytest.approx(density, abs=0.02)
        assert dropped / spans == pytest.approx(mean, abs=0.1 * mean)
        assert len(span_sizes) > 3  # the spans vary in length; their mean is what is asked


def test_sentinels_come_in_order_and_the_target_ends_with_a_dropped_span():
    rng, generator = random.Random(1), torch.Generator().manual_seed(1)
    for _ in range(300):
        ids = text(rng.randint(2, 200), rng)
        example = corrupt_spans(ids, TOKENS, generator)
        in_input, in_target = sentinels_in(example.input_ids), sentinels_in(example.target_ids)
        assert in_input == in_target == list(SENTINELS[: len(in_input)]) and in_input
        assert example.input_ids[-1] == example.target_ids[-1] == EOS
        assert example.input_ids[0] not in SENTINELS  # the text starts with kept tokens
        assert example.target_ids[0] == SENTINELS[0]
        # As in the reference, no sentinel ends the target: the text ends with a dropped span.
        assert example.input_ids[-2] in SENTINELS and example.target_ids[-2] not in SENTINELS
        assert all(a != b or a not in SENTINELS for a, b in zip(example.input_ids, example.input_ids[1:]))


def test_input_and_target_rebuild_the_text_exactly():
    rng, generator = random.Random(2), torch.Generator().manual_seed(2)
    for length in [1, 2, 3, 4, 5, 7, 10, 33, 100, 190]:
        for _ in range(20):
            ids = text(length, rng)
            example = corrupt_spans(ids, TOKENS, generator, rng.choice([0.05, 0.15, 0.5, 0.9]), rng.choice([1, 3, 8]))
            assert inverse(example) == ids
            assert fill_in_spans(example.input_ids, example.target_ids, TOKENS) == ids


def test_a_model_s_answer_is_put_in_place_and_a_gap_it_leaves_stays():
    answer = (SENTINELS[0], 7, 7, SENTINELS[2], 9, EOS, 5)  # <extra_id_1> left out; after </s> nothing counts
    assert fill_in_spans((3, SENTINELS[0], 4, SENTINELS[1], 5, SENTINELS[2], EOS), answer, TOKENS) == [
        3, 7, 7, 4, SENTINELS[1], 5, 9,
    ]  # fmt: skip


def test_very_short_texts():
    generator = torch.Generator().manual_seed(3)
    # One token is never dropped (the reference counts as for two tokens and keeps the first).
    assert corrupt_spans([5], TOKENS, generator) == Seq2SeqExample((5, EOS), (SENTINELS[0], EOS))
    # Two tokens: the first kept, the second dropped; at least one of each, whatever the share.
    for density in (0.01, 0.99):
        assert corrupt_spans([5, 6], TOKENS, generator, density) == Seq2SeqExample(
            (5, SENTINELS[0], EOS), (SENTINELS[0], 6, EOS)
        )
    assert random_spans_noise_mask(0, generator) == []
    # Ten tokens at 15% drop round(1.5) = 2 (a half rounds to even) in round(2 / 3) = 1 span: the last two.
    assert random_spans_noise_mask(10, generator) == [False] * 8 + [True] * 2


def test_every_mask_is_drawn_and_the_same_generator_state_draws_the_same_ones():
    # 40 tokens at 15%: 6 dropped in 2 spans; 5 ways to split the 6, 33 to split the 34 kept: 165 masks.
    seen = {tuple(random_spans_noise_mask(40, torch.Generator().manual_seed(s))) for s in range(3000)}
    assert len(seen) == 165
    ids = list(range(2, 302))
    first = span_corruption_examples(ids, TOKENS, 64, torch.Generator().manual_seed(7))
    again = span_corruption_examples(ids, TOKENS, 64, torch.Generator().manual_seed(7))
    other = span_corruption_examples(ids, TOKENS, 64, torch.Generator().manual_seed(8))
    assert first == again and first != other
    # A corpus's flat id array (NumPy) or a tensor gives the same examples as a list.
    for array in (np.array(ids, dtype=np.int32), torch.tensor(ids)):
        assert span_corruption_examples(array, TOKENS, 64, torch.Generator().manual_seed(7)) == first


@pytest.mark.parametrize("density", [0.0, 1.0, -0.1, 1.5])
def test_a_share_of_none_or_all_is_refused_with_a_sentence(density):
    with pytest.raises(UserError, match=r"above 0 and below 1 \(T5 drops 0.15\)"):
        corrupt_spans([5, 6, 7], TOKENS, torch.Generator(), density)


def test_spans_shorter_than_a_token_are_refused_and_too_many_spans_are_clamped():
    with pytest.raises(UserError, match="at least 1 token"):
        random_spans_noise_mask(10, torch.Generator(), 0.15, 0.5)
    # 90% dropped in spans of 1: 9 spans, but one kept token can sit between none of them: 1 span.
    mask = random_spans_noise_mask(10, torch.Generator(), 0.9, 1.0)
    assert mask == [False] + [True] * 9


def test_too_few_sentinels_is_an_error_naming_the_fix():
    few = T5Tokens(pad=PAD, eos=EOS, sentinels=SENTINELS[:3])
    assert sentinels_needed(128) == 7
    with pytest.raises(
        NotEnoughSentinels, match=r"needs 7 sentinels .* only 3 sentinels \(<extra_id_0> … <extra_id_2>\)"
    ):
        span_corruption_examples(list(range(2, 500)), few, 128, torch.Generator())
    with pytest.raises(NotEnoughSentinels, match="has no sentinels. Add sentinels to the tokenizer"):
        corrupt_spans(list(range(2, 50)), T5Tokens(pad=PAD, eos=EOS), torch.Generator())


def test_lengths_match_t5_s_own_figures():
    # T5's random_spans_helper (and Hugging Face's run_t5_mlm_flax.py): inputs of 512 take 568 raw tokens.
    assert span_lengths(512) == SpanLengths(tokens=568, inputs=512, targets=114, spans=28)
    assert span_lengths(128) == SpanLengths(tokens=141, inputs=128, targets=29, spans=7)
    with pytest.raises(UserError, match="at least 3 tokens"):
        span_lengths(2)


@pytest.mark.parametrize("context, density, mean", [(3, 0.15, 3.0), (8, 0.15, 3.0), (172, 0.15, 3.0), (64, 0.5, 3.0)])
def test_examples_fill_the_encoder_context_and_rebuild_the_stream(context, density, mean):
    # 8: the reference's helper allows no span and so overflows by one; 172: it rounds 28.5 down in float64
    # while the mask rounds it up in float32. Here the lengths are those the masks really give.
    rng, generator = random.Random(4), torch.Generator().manual_seed(4)
    lengths = span_lengths(context, density, mean)
    stream = text(lengths.tokens * 5 + max(1, lengths.tokens // 2), rng)
    examples = span_corruption_examples(stream, TOKENS, context, generator, density, mean)
    assert len(examples) == 6  # five whole pieces and the short rest, kept as in the reference
    assert all(len(e.input_ids) == lengths.inputs <= context for e in examples[:5])
    assert all(len(e.target_ids) == lengths.targets for e in examples[:5])
    assert len(examples[-1].input_ids) <= context
    rebuilt = [t for e in examples for t in fill_in_spans(e.input_ids, e.target_ids, TOKENS)]
    assert rebuilt == stream
    with pytest.raises(UserError, match=f"Give the decoder a context of at least {lengths.targets} tokens"):
        span_corruption_examples(stream, TOKENS, context, generator, density, mean, decoder_context=lengths.targets - 1)


def test_the_collated_batch_is_what_hugging_face_s_t5_takes():
    examples = [Seq2SeqExample((5, 6, SENTINELS[0], EOS), (SENTINELS[0], 7, EOS)), Seq2SeqExample((8, EOS), (9, EOS))]
    batch = collate(examples, TOKENS)
    assert batch.input_ids.tolist() == [[5, 6, SENTINELS[0], EOS], [8, EOS, PAD, PAD]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert batch.labels.tolist() == [[SENTINELS[0], 7, EOS], [9, EOS, -100]]
    # The labels shifted right after the start token, -100 read as pad: a short row reads its </s> where its label is -100.
    assert batch.decoder_input_ids.tolist() == [[PAD, SENTINELS[0], 7], [PAD, 9, EOS]]
    transformers = pytest.importorskip("transformers")
    config = transformers.T5Config(
        vocab_size=1100, d_model=8, d_kv=4, d_ff=16, num_layers=1, num_heads=2, pad_token_id=PAD,
        decoder_start_token_id=PAD, eos_token_id=EOS,
    )  # fmt: skip
    model = transformers.T5ForConditionalGeneration(config)
    assert torch.equal(model._shift_right(batch.labels), batch.decoder_input_ids)
