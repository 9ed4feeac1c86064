"""Beam search: the `beams` most likely continuations, by the standard rules (below).

Split from `sampling.py`, whose logits processors, prompt preparation and
context window it uses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generator, Optional, Sequence, Union

import torch

from playground.core.model import GPT
from playground.core.progress import CancelToken, Progress, UserError, run_quietly
from playground.core.sampling import apply_processors, build_processors, open_window, special_token_id
from playground.core.sampling_settings import SamplingSettings
from playground.core.t5_model import T5


@dataclass
class Beam:
    """One continuation of beam search: a finished hypothesis, or a live beam in a `BeamsUpdate`."""

    ids: list[int]
    text: str
    logprob: float  # summed log-probability of its tokens
    score: float  # logprob / len(ids) ** length_penalty: what finished beams are ranked by
    finished: bool  # ended with the end-of-text token (else the length limit or Stop cut it)


@dataclass
class BeamResult:
    beams: list[Beam]  # best first
    steps: int
    stopped: bool = False  # Stop was pressed: these are the beams so far


@dataclass(frozen=True)
class BeamsUpdate:
    """Beam search after one more step: the live beams, and what Stop would return now."""

    steps: int
    live: tuple[Beam, ...]  # the beams still searching, best log-probability first
    if_stopped: BeamResult  # the hypotheses so far with the live beams joined, cut short


# -- beam search -------------------------------------------------------------------------
#
# The standard algorithm, as in fairseq and in Hugging Face transformers' generate(do_sample=False):
#
# - Each step ranks every one-token continuation of the live beams by summed log-probability and
#   takes the best 2 x `beams`. Walking down that list, a continuation that ends with the
#   end-of-text token finishes (becomes a hypothesis) only if it ranks within the first `beams`;
#   the first `beams` that do not end stay live. The second half is spare, so that `beams` beams
#   stay live however many end at once.
# - At most `beams` hypotheses are kept, the best by
#       score = summed log-probability / (new tokens, end token included) ** length_penalty
#   (the length counts generated tokens only, as in transformers since the 2024 beam search rewrite
#   and in fairseq; older transformers counted the prompt too).
# - At the length limit the best `beams` continuations (of the 2 x `beams`) finish as they are.
# - Only hypotheses are returned, best first. The search ends at the length limit or
#     early_stopping on:   as soon as `beams` hypotheses exist (transformers' early_stopping=True);
#     early_stopping off:  once the best live beam, scored at its present length, cannot beat the
#                          worst hypothesis (transformers' early_stopping=False). Exact for
#                          length_penalty <= 0; above 0 a longer beam could still score higher, so
#                          it is a heuristic, as there (their "never", which is exact, is not offered).
#
# On purpose we depart in one place: the repetition penalty reshapes the logits before the
# log-softmax (as for greedy and sampling), where transformers applies it to the log-probabilities.
# The two agree at penalty 1 only. Stop (`cancel`) is ours too: the live beams join the
# hypotheses as they are, cut short.


@torch.no_grad()
def beam_search_steps(
    model: Union[GPT, T5],
    prompt_ids: Sequence[int],
    settings: SamplingSettings,
    tokenizer=None,
    cancel: Optional[CancelToken] = None,
    use_cache: bool = True,
    input_ids: Optional[Sequence[int]] = None,
) -> Generator[Union[Progress, BeamsUpdate], None, BeamResult]:
    """Search `settings.beams` beams from `prompt_ids` by the rules above, as a job generator.

    After every step it yields a `Progress` (the step against `max_new_tokens`,
    which is where the search ends at the latest) and a `BeamsUpdate`; it
    returns the hypotheses best first. `cancel` ends the search and returns the
    beams so far; a caller that simply stops asking (the engine's cancel) has
    them in the last `BeamsUpdate.if_stopped`. An encoder-decoder writes after
    `input_ids` (as in `sampling.generate_tokens`): its encoder runs once, and
    reordering the beams moves its cached rows along.
    """
    settings.raise_if_invalid()
    if not prompt_ids:
        raise UserError("Generation needs at least one token to start from.")
    width = settings.beams
    chain = build_processors(replace(settings, strategy="beam"))
    window = open_window(model, use_cache, input_ids)
    end_id = special_token_id(tokenizer, window.end_tokens) if settings.stop_at_end else None
    was_training = model.training
    model.eval()

    def as_beam(new_ids: list[int], logprob: float, finished: bool) -> Beam:
        text = tokenizer.decode(new_ids) if tokenizer is not None else ""
        score = logprob / max(1, len(new_ids)) ** settings.length_penalty
        return Beam(list(new_ids), text, logprob, score, finished)

    prompt = list(prompt_ids)
    live: list[tuple[list[int], float]] = [([], 0.0)]  # (new ids, summed log-probability)
    done: list[Beam] = []  # the hypotheses, best first
    steps = 0
    try:
        for steps in range(1, settings.max_new_tokens + 1):
            if cancel is not None and cancel.cancelled:
                return _cut_short(done, [as_beam(ids, lp, False) for ids, lp in live], width, steps - 1)
            sequences = [prompt + ids for ids, _ in live]
            raw = window.logits(sequences)
            seen = torch.tensor([s[-window.context :] for s in sequences], device=raw.device)
            logprobs = torch.log_softmax(apply_processors(raw, seen, chain), dim=-1)
            totals = torch.tensor([lp for _, lp in live], device=raw.device)[:, None] + logprobs
            values, flat = torch.topk(totals.flatten(), min(2 * width, totals.numel()))
            vocab = logprobs.size(-1)
            at_limit = steps == settings.max_new_tokens
            next_live, rows = [], []
            for rank, (value, index) in enumerate(zip(values.tolist(), flat.tolist())):
                row, token = divmod(index, vocab)
                ids = live[row][0] + [token]
                if token == end_id or at_limit:
                    if rank < width:  # a spare never finishes a beam
                        _keep_best(done, as_beam(ids, value, token == end_id), width)
                else:
                    next_live.append((ids, value))
                    rows.append(row)
                    if len(next_live) == width:
                        break  # the rest rank below `width`: no more can finish
            live = next_live
            if not live:  # the length limit
                break
            window.reorder(torch.tensor(rows))
            beams = tuple(as_beam(ids, lp, False) for ids, lp in live)
            yield Progress(steps / settings.max_new_tokens, f"Beam search, step {steps:,}")
            yield BeamsUpdate(steps, beams, _cut_short(done, beams, width, steps))
            if _search_done(settings, done, live, steps):
                break
    finally:
        model.train(was_training)
    return BeamResult(beams=done, steps=steps)


def beam_search(
    model: Union[GPT, T5],
    prompt_ids: Sequence[int],
    settings: SamplingSettings,
    tokenizer=None,
    cancel: Optional[CancelToken] = None,
    use_cache: bool = True,
    input_ids: Optional[Sequence[int]] = None,
) -> BeamResult:
    """`beam_search_steps` run to its end, for callers that do not watch it."""
    return run_quietly(beam_search_steps(model, prompt_ids, settings, tokenizer, cancel, use_cache, input_ids))


def _cut_short(done: list[Beam], live: Sequence[Beam], width: int, steps: int) -> BeamResult:
    """What Stop returns: the live beams join the hypotheses as they are (a copy: `done` goes on)."""
    kept = list(done)
    for beam in live:
        _keep_best(kept, beam, width)
    return BeamResult(beams=kept, steps=steps, stopped=True)


def _keep_best(done: list[Beam], beam: Beam, width: int) -> None:
    """Add `beam` to the hypotheses, keeping the best `width` of them, best first."""
    done.append(beam)
    done.sort(key=lambda b: b.score, reverse=True)
    del done[width:]


def _search_done(settings: SamplingSettings, done: list[Beam], live, steps: int) -> bool:
    """Whether the search can end now that `live` beams of `steps` tokens run on (see the rules above)."""
    if len(done) < settings.beams:
        return False
    if settings.early_stopping:
        return True
    best_live = max(lp for _, lp in live) / steps**settings.length_penalty
    return best_live <= done[-1].score
