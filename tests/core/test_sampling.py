"""Sampling: each logits processor, the decoders, the cache, and the prompt's edges."""

import itertools
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from playground.core.beam_search import BeamsUpdate, beam_search, beam_search_steps
from playground.core.config import ModelConfig
from playground.core.model import GPT
from playground.core.progress import CancelToken, Progress, UserError, run_quietly
from playground.core.sampling import (
    MinP,
    RepetitionPenalty,
    SamplingSettings,
    Temperature,
    TopK,
    TopP,
    build_processors,
    generate_ids,
    generate_tokens,
    prepare_prompt,
)
from playground.core.sampling_settings import PRESETS

VOCAB = 40


class LetterTokenizer:
    """A stand-in tokenizer: id i is the letter chr(97 + i % 26); id `end` is the end-of-text token."""

    special_tokens = frozenset({"<|endoftext|>"})

    def __init__(self, end=0):
        self.end = end
        self.tokenizer = self  # LoadedTokenizer keeps the library's tokenizer here

    def token_to_id(self, token):
        return self.end if token == "<|endoftext|>" else None

    def decode(self, ids):
        return "".join("" if i == self.end else chr(97 + i % 26) for i in ids)

    def token_text(self, token_id):
        return "<|endoftext|>" if token_id == self.end else self.decode([token_id])

    def encode_ids(self, texts):
        return [[ord(c) - 96 for c in text if c.isalpha()] for text in texts]


@pytest.fixture(scope="module")
def model(one_thread):
    torch.manual_seed(0)
    model = GPT(
        ModelConfig.gpt2_style(vocab_size=VOCAB, context_length=16, n_layer=2, n_head=2, n_embd=32, tie_weights=False)
    )
    # Sharper than a fresh model's near-uniform scores, so that the filters matter.
    with torch.no_grad():
        model.lm_head.weight.mul_(15)
    return model.eval()


def full_logits(model, sequence):
    with torch.no_grad():
        return model(torch.tensor([sequence[-model.config.context_length :]])).logits[0, -1]


def run(model, settings, prompt=(1, 2, 3), **kwargs):
    return list(generate_tokens(model, list(prompt), settings, **kwargs))


# -- processors ----------------------------------------------------------------------


def test_repetition_penalty_divides_positive_and_multiplies_negative_scores():
    logits = torch.tensor([[2.0, -2.0, 1.0, 3.0]])
    out = RepetitionPenalty(2.0)(logits, torch.tensor([[0, 1, 1]]))
    assert out.tolist() == [[1.0, -4.0, 1.0, 3.0]]


def test_temperature_divides():
    assert Temperature(0.5)(torch.tensor([[1.0, -3.0]]), torch.empty(1, 0, dtype=torch.long)).tolist() == [[2.0, -6.0]]


def test_top_k_keeps_exactly_the_k_best():
    logits = torch.tensor([[0.1, 3.0, 2.0, -1.0, 2.5]])
    out = TopK(2)(logits, None)
    assert torch.isfinite(out).tolist() == [[False, True, False, False, True]]
    assert TopK(10)(logits, None).equal(logits)


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    keep = lambda p: torch.isfinite(TopP(p)(logits, None))[0].tolist()  # noqa: E731
    assert keep(0.5) == [True, False, False, False]
    assert keep(0.6) == [True, True, False, False]
    assert keep(0.8) == [True, True, False, False]  # 0.5 + 0.3 already reaches 0.8
    assert keep(0.81) == [True, True, True, False]
    assert keep(0.01) == [True, False, False, False]  # the best token always stays


def test_min_p_drops_tokens_far_below_the_best():
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    assert torch.isfinite(MinP(0.2)(logits, None))[0].tolist() == [True, True, True, False]


def test_processors_come_in_the_documented_order_and_only_when_on():
    names = [
        p.name
        for p in build_processors(
            SamplingSettings(strategy="sample", temperature=0.7, top_k=5, top_p=0.9, min_p=0.1, repetition_penalty=1.2)
        )
    ]
    assert names == ["repetition penalty 1.2", "temperature 0.7", "top-k 5", "top-p 0.9", "min-p 0.1"]
    assert build_processors(SamplingSettings(strategy="sample", temperature=1.0)) == []
    # greedy and beam only rank: temperature and the filters never change the best token
    assert [
        p.name
        for p in build_processors(SamplingSettings(strategy="greedy", temperature=0.5, top_k=3, repetition_penalty=1.3))
    ] == ["repetition penalty 1.3"]


def test_settings_that_cannot_work_are_named():
    with pytest.raises(UserError, match="top-p"):
        SamplingSettings(top_p=0).raise_if_invalid()
    with pytest.raises(UserError, match="temperature"):
        SamplingSettings(strategy="sample", temperature=0).raise_if_invalid()
    assert all(not s.problems() for s in PRESETS.values())


IMPOSSIBLE = {
    "temperature": [-1.0, float("nan"), float("inf")],
    "top_k": [-1],
    "top_p": [0.0, -0.5, 1.5, float("nan")],
    "min_p": [-0.1, 1.0, float("nan")],
    "repetition_penalty": [0.0, -1.0, float("nan"), float("inf")],
    "beams": [0, -2],
    "length_penalty": [float("nan"), float("inf")],
    "max_new_tokens": [0, -5],
}


@pytest.mark.parametrize("strategy", ["greedy", "sample", "beam"])
@pytest.mark.parametrize("name, value", [(n, v) for n, values in IMPOSSIBLE.items() for v in values])
def test_an_impossible_value_is_refused_whatever_the_strategy(strategy, name, value):
    # Before, a negative temperature, 0 beams or 0 tokens passed for strategies that do not use them.
    settings = SamplingSettings(strategy=strategy, **{name: value})
    problems = settings.problems()
    assert len(problems) == 1 and problems[0].endswith(".")
    with pytest.raises(UserError, match=problems[0][:12]):
        settings.raise_if_invalid()


def test_the_neutral_values_are_accepted():
    for strategy in ("greedy", "sample", "beam"):
        assert (
            SamplingSettings(
                strategy=strategy,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                min_p=0.0,
                repetition_penalty=1.0,
                beams=1,
                length_penalty=-1.0,
                max_new_tokens=1,
            ).problems()
            == []
        )
    assert SamplingSettings(strategy="greedy", temperature=0).problems() == []  # greedy ignores the temperature


def test_generate_ids_with_no_tokens_asked_gives_none(model):
    # A training run's sample may ask for 0 tokens (train_config allows it).
    assert generate_ids(model, [1, 2], 0) == []


# -- decoders ---------------------------------------------------------------------------


def test_greedy_is_the_argmax_at_every_step(model):
    tokens = run(model, SamplingSettings(strategy="greedy", max_new_tokens=20, stop_at_end=False))
    sequence = [1, 2, 3]
    for token in tokens:
        assert token.id == int(full_logits(model, sequence).argmax())
        sequence.append(token.id)
    assert len(tokens) == 20  # runs past the 16-token context
    assert tokens[-1].stop_reason == "max new tokens"


def test_greedy_with_a_repetition_penalty_is_the_argmax_of_the_penalised_scores(model):
    tokens = run(
        model, SamplingSettings(strategy="greedy", repetition_penalty=1.5, max_new_tokens=12, stop_at_end=False)
    )
    sequence = [1, 2, 3]
    for token in tokens:
        logits = RepetitionPenalty(1.5)(full_logits(model, sequence)[None], torch.tensor([sequence[-16:]]))
        assert token.id == int(logits.argmax())
        sequence.append(token.id)
    assert len(tokens) == 12  # every check above ran


def test_a_temperature_near_zero_gives_the_greedy_text(model):
    greedy = [t.id for t in run(model, SamplingSettings(strategy="greedy", max_new_tokens=15, stop_at_end=False))]
    cold = [
        t.id
        for t in run(
            model, SamplingSettings(strategy="sample", temperature=1e-4, max_new_tokens=15, stop_at_end=False, seed=7)
        )
    ]
    assert cold == greedy and len(greedy) == 15


def test_the_same_seed_gives_the_same_text_and_another_seed_another(model):
    def draw(seed):
        settings = SamplingSettings(strategy="sample", temperature=1.5, max_new_tokens=25, stop_at_end=False, seed=seed)
        return [t.id for t in run(model, settings)]

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_top_k_never_emits_a_token_outside_the_top_k(model, k):
    settings = SamplingSettings(strategy="sample", temperature=3.0, top_k=k, max_new_tokens=40, stop_at_end=False)
    sequence = [1, 2, 3]
    for token in run(model, settings):
        best = torch.topk(full_logits(model, sequence), k).indices.tolist()
        assert token.id in best
        sequence.append(token.id)
    assert len(sequence) == 3 + 40  # every check above ran


@pytest.mark.parametrize("p", [0.3, 0.7, 0.9])
def test_top_p_never_emits_a_token_outside_the_nucleus(model, p):
    settings = SamplingSettings(strategy="sample", temperature=1.0, top_p=p, max_new_tokens=40, stop_at_end=False)
    sequence = [1, 2, 3]
    for token in run(model, settings):
        probs = torch.softmax(full_logits(model, sequence), dim=-1)
        more_likely = probs[probs > probs[token.id]].sum()
        assert more_likely < p  # the tokens ranked above it had not reached p yet
        sequence.append(token.id)
    assert len(sequence) == 3 + 40  # every check above ran


def test_each_token_carries_its_probabilities_and_candidates(model):
    settings = SamplingSettings(strategy="sample", temperature=0.7, top_k=4, max_new_tokens=5, stop_at_end=False)
    tokens = run(model, settings, tokenizer=LetterTokenizer(), explain=True)
    sequence = [1, 2, 3]
    for token in tokens:
        probs = torch.softmax(full_logits(model, sequence), dim=-1)
        assert token.prob == pytest.approx(float(probs[token.id]), abs=1e-5)
        assert [c.id for c in token.before] == torch.topk(probs, 10).indices.tolist()
        assert len(token.after) <= 4 and sum(c.prob for c in token.after) == pytest.approx(1, abs=1e-5)
        assert token.chosen_prob == pytest.approx(next(c.prob for c in token.after if c.id == token.id))
        assert [s.name for s in token.stages] == ["the model", "temperature 0.7", "top-k 4"]
        assert token.stages[-1].kept == 4
        sequence.append(token.id)
    assert len(tokens) == 5  # every check above ran
    assert "".join(t.text for t in tokens) == LetterTokenizer().decode([t.id for t in tokens])


@pytest.mark.parametrize("strategy", ["greedy", "sample"])
def test_the_cache_gives_the_same_tokens_as_reading_everything_again(model, strategy):
    settings = SamplingSettings(strategy=strategy, temperature=1.2, max_new_tokens=30, stop_at_end=False, seed=5)
    cached = run(model, settings, use_cache=True)
    uncached = run(model, settings, use_cache=False)
    assert [t.id for t in cached] == [t.id for t in uncached] and len(cached) == 30
    assert [t.prob for t in cached] == pytest.approx([t.prob for t in uncached], abs=1e-4)


def test_stop_strings_and_the_end_token_stop_generation(model):
    tokenizer = LetterTokenizer()
    free = run(model, SamplingSettings(strategy="greedy", max_new_tokens=30, stop_at_end=False), tokenizer=tokenizer)
    assert len(free) == 30
    text = "".join(t.text for t in free)
    stop = text[5:7]
    stopped = run(
        model,
        SamplingSettings(strategy="greedy", max_new_tokens=30, stop_at_end=False, stop_strings=(stop,)),
        tokenizer=tokenizer,
    )
    assert stopped[-1].stop_reason == "a stop string"
    assert stop in "".join(t.text for t in stopped) and len(stopped) <= 7

    end = free[2].id  # call the third token the end of the text
    ended = run(model, SamplingSettings(strategy="greedy", max_new_tokens=30), tokenizer=LetterTokenizer(end))
    assert ended[-1].stop_reason == "the end-of-text token" and ended[-1].id == end and len(ended) <= 3


def test_cancel_stops_the_stream(model):
    cancel = CancelToken()
    stream = generate_tokens(model, [1, 2], SamplingSettings(strategy="greedy", max_new_tokens=50), cancel=cancel)
    first = [next(stream), next(stream)]
    cancel.cancel()
    assert list(stream) == [] and len(first) == 2


# -- beam search -------------------------------------------------------------------------


def test_beam_width_one_is_greedy(model):
    greedy = [t.id for t in run(model, SamplingSettings(strategy="greedy", max_new_tokens=20, stop_at_end=False))]
    result = beam_search(
        model, [1, 2, 3], SamplingSettings(strategy="beam", beams=1, max_new_tokens=20, stop_at_end=False)
    )
    assert result.beams[0].ids == greedy and result.steps == 20


def test_a_wide_enough_beam_finds_the_most_likely_continuation(model):
    # Keeping every two-token continuation makes a three-token search exhaustive.
    settings = SamplingSettings(
        strategy="beam", beams=VOCAB * VOCAB, length_penalty=0.0, max_new_tokens=3, stop_at_end=False
    )
    result = beam_search(model, [4, 5], settings)

    pairs = torch.tensor(list(itertools.product(range(VOCAB), repeat=2)))
    with torch.no_grad():
        batch = torch.cat([torch.tensor([[4, 5]]).expand(len(pairs), 2), pairs], dim=1)
        logprobs = torch.log_softmax(model(batch).logits, dim=-1)  # [pairs, 4, V]
    totals = (logprobs[:, 1].gather(1, pairs[:, :1]) + logprobs[:, 2].gather(1, pairs[:, 1:]))[:, :1]
    totals = totals + logprobs[:, 3]  # every third token
    best = int(totals.flatten().argmax())
    pair, third = divmod(best, VOCAB)
    assert result.beams[0].ids == pairs[pair].tolist() + [third]
    assert result.beams[0].logprob == pytest.approx(float(totals.flatten()[best]), abs=1e-3)


def test_beam_search_with_and_without_the_cache_agree(model):
    settings = SamplingSettings(strategy="beam", beams=3, max_new_tokens=20, stop_at_end=False)
    cached = beam_search(model, [1, 2, 3], settings)
    uncached = beam_search(model, [1, 2, 3], settings, use_cache=False)
    assert [b.ids for b in cached.beams] == [b.ids for b in uncached.beams]
    assert len(cached.beams) == 3 and all(len(b.ids) == 20 for b in cached.beams)
    assert [b.score for b in cached.beams] == sorted((b.score for b in cached.beams), reverse=True)


def test_stop_in_the_middle_of_beam_search_keeps_the_beams_so_far(model):
    cancel = CancelToken()
    seen = []

    def on_step(update):
        seen.append(update.steps)
        if update.steps == 4:
            cancel.cancel()

    search = beam_search_steps(
        model, [1, 2], SamplingSettings(strategy="beam", beams=3, max_new_tokens=30, stop_at_end=False), cancel=cancel
    )
    result = run_quietly(search, on_partial=on_step)
    assert result.stopped and result.steps == 4 and seen == [1, 2, 3, 4]
    assert all(len(b.ids) == 4 for b in result.beams)


def test_beam_search_reports_every_step_and_what_a_stop_would_keep(model):
    settings = SamplingSettings(strategy="beam", beams=3, max_new_tokens=10, stop_at_end=False)
    items = []
    result = run_quietly(beam_search_steps(model, [1, 2], settings), on_partial=items.append)
    assert all(isinstance(i, BeamsUpdate) for i in items)  # run_quietly passes partials only
    assert [u.steps for u in items] == list(range(1, 10))  # the tenth step ends every beam
    assert all(len(u.live) == 3 and all(len(b.ids) == u.steps and not b.finished for b in u.live) for u in items)
    assert result == beam_search(model, [1, 2], settings) and not result.stopped and result.steps == 10
    fractions = [i.fraction for i in beam_search_steps(model, [1, 2], settings) if isinstance(i, Progress)]
    assert fractions == [s / 10 for s in range(1, 10)]

    # Closed after step 4 (the engine's Stop): that step's update holds what a cancel there returns.
    longer = replace(settings, max_new_tokens=30)
    search = beam_search_steps(model, [1, 2], longer)
    update = next(i for i in search if isinstance(i, BeamsUpdate) and i.steps == 4)
    search.close()
    cancel = CancelToken()
    cancelled = run_quietly(
        beam_search_steps(model, [1, 2], longer, cancel=cancel), on_partial=lambda u: u.steps == 4 and cancel.cancel()
    )
    assert update.if_stopped == cancelled and cancelled.stopped and cancelled.steps == 4


class TableModel(torch.nn.Module):
    """A model whose next-token probabilities depend only on the last token: row t of `table`."""

    def __init__(self, table):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(table).log(), requires_grad=False)
        self.config = ModelConfig.gpt2_style(vocab_size=len(table), context_length=16)

    def forward(self, ids, last_only=False):
        return SimpleNamespace(logits=self.logits[ids])


def table_beams(table, prompt=(1,), **settings):
    settings = SamplingSettings(strategy="beam", beams=2, length_penalty=0.0, **settings)
    return beam_search(TableModel(table), list(prompt), settings, tokenizer=LetterTokenizer(end=0), use_cache=False)


def test_an_end_token_ranked_below_the_beams_finishes_nothing():
    # Token 0 is the end. Step 1 (after e) keeps b and c. Step 2 ranks "b<end>" (-1.29, finishes),
    # "ba" (-1.51, lives), "c<end>" (-2.00): third of the 2 x 2 candidates, a spare, so it never
    # finishes, although no hypothesis found later beats it. Step 3, the limit, finishes "baa" (-2.71).
    uniform = [1 / 6] * 6
    table = [
        uniform,
        [0.05, 0.3, 0.25, 0.2, 0.12, 0.08],  # after a
        [0.55, 0.44, 0.0025, 0.0025, 0.0025, 0.0025],  # after b
        [0.3, 0.2, 0.15, 0.13, 0.12, 0.1],  # after c
        uniform,
        [0.01, 0.02, 0.5, 0.45, 0.01, 0.01],
    ]  # after e
    result = table_beams(table, prompt=[5], max_new_tokens=3, early_stopping=False)
    assert [b.ids for b in result.beams] == [[2, 0], [2, 1, 1]]
    assert [b.finished for b in result.beams] == [True, False]


def test_early_stopping_returns_finished_beams_only():
    # Step 1: the end (0.5) finishes; b and c live. Step 2: "bb" (-1.71) leads, "b<end>" (-2.12) is second
    # and finishes: two hypotheses, so the search ends, and "bb", cut short, is not one of them.
    table = [[0.25] * 4, [0.5, 0.001, 0.3, 0.199], [0.399, 0.0005, 0.6, 0.0005], [0.25] * 4]
    result = table_beams(table, max_new_tokens=5, early_stopping=True)
    assert [b.ids for b in result.beams] == [[0], [2, 0]] and result.steps == 2
    assert all(b.finished for b in result.beams)


# -- the prompt --------------------------------------------------------------------------


def test_a_prompt_longer_than_the_context_is_cut_from_the_left_with_a_notice():
    prepared = prepare_prompt(LetterTokenizer(), "abcdefghij", context_length=4)
    assert prepared.ids == [7, 8, 9, 10] and prepared.cut_tokens == 6
    assert "first 6" in prepared.notice and "10 tokens" in prepared.notice
    assert prepare_prompt(LetterTokenizer(), "abc", 4).notice == ""


def test_a_huge_prompt_is_not_tokenized_whole():
    class Counting(LetterTokenizer):
        longest = 0

        def encode_ids(self, texts):
            Counting.longest = max(Counting.longest, *(len(t) for t in texts))
            return super().encode_ids(texts)

    text = "abcdefghij\n" * 500_000  # 5.5 MB
    prepared = prepare_prompt(Counting(), text, context_length=64)
    assert len(prepared.ids) == 64 and prepared.ids == LetterTokenizer().encode_ids([text[-200:]])[0][-64:]
    assert not prepared.exact and "more than" in prepared.notice and "only the last 64" in prepared.notice
    assert Counting.longest < 10_000  # only the end was read, not 5.5 MB


def test_an_empty_prompt_starts_from_the_end_of_text_token():
    prepared = prepare_prompt(LetterTokenizer(), "", context_length=4)
    assert prepared.ids == [0] and "empty" in prepared.notice
