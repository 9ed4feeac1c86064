"""The Generate step's work as job generators (the contract is in ``playground/engine/jobs.py``).

Each job takes the checkpoint and where its weights come from (``models``:
anything with ``model_for(checkpoint)``, the session's ``ModelStore`` or
:class:`OneModel` for a model already in memory), loads the model inside the
job, yields small records as it goes and returns its result:

    generate_text       PromptPrepared, then a TokenGenerated per token    -> the tokens
    step_token          PromptPrepared (only when starting afresh)         -> the one new token
    search_beams        PromptPrepared, then Progress and BeamsUpdate       -> the BeamResult
    generate_columns    per column: ColumnPrompt, then a ColumnToken each   -> None
    explain_next_token  (a plain function: one forward pass)                -> the stages

An encoder-decoder (T5) takes the same jobs: the text is its *input*, prepared as an
`InputPrepared` (a `PromptPrepared` whose ids end with </s>); its encoder reads it once and the
decoder writes the output from its start token (`seq2seq_generation`), yielding the same records.
Its tokens' attention rows are `Seq2SeqRows` (decoder self-attention, cross-attention, encoder).

Stopping is the engine's: it stops asking for items and closes the generator.
"""

from __future__ import annotations

import random
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Generator, Optional, Sequence, Union

import torch

from playground.core.beam_search import BeamResult, BeamsUpdate, beam_search_steps
from playground.core.progress import Progress
from playground.core.sampling import (
    GeneratedToken,
    PreparedPrompt,
    Stage,
    generate_tokens,
    prepare_prompt,
)
from playground.core.sampling_settings import SamplingSettings
from playground.core.seq2seq_generation import prepare_input
from playground.core.t5_tokens import t5_tokens


class OneModel:
    """A model already in memory, standing in for the session's ModelStore (command line, tests)."""

    def __init__(self, model) -> None:
        self.model = model

    def model_for(self, checkpoint):
        return self.model


# -- what the jobs yield ------------------------------------------------------------------


@dataclass(frozen=True)
class PromptPrepared:
    """The prompt as the model will read it. ``kept`` is the text of the ids it reads."""

    text: str
    prepared: PreparedPrompt
    kept: str

    @property
    def shown(self) -> str:
        """The prompt to show: all of it, or only what the model reads when it was cut."""
        return self.kept if self.prepared.cut_tokens else self.text

    @property
    def cut(self) -> str:
        """The beginning the model does not read ("" when nothing was cut, or it cannot be told apart)."""
        if self.prepared.cut_tokens and self.text.endswith(self.kept):
            return self.text[: len(self.text) - len(self.kept)]
        return ""


@dataclass(frozen=True)
class InputPrepared(PromptPrepared):
    """An encoder-decoder's input as its encoder will read it (``prepared.ids`` end with </s>).

    The output is written apart from it, from the decoder's start token. A long input keeps its
    beginning (``kept``), so what is cut is its end.
    """

    @property
    def cut(self) -> str:
        """The end the encoder does not read ("" when nothing was cut, or it cannot be told apart)."""
        if self.prepared.cut_tokens and self.text.startswith(self.kept):
            return self.text[len(self.kept) :]
        return ""


@dataclass(frozen=True)
class TokenGenerated:
    token: GeneratedToken


@dataclass(frozen=True)
class ColumnPrompt:
    """The prompt of one column of a side-by-side comparison."""

    column: int
    prompt: PromptPrepared


@dataclass(frozen=True)
class ColumnToken:
    column: int
    token: GeneratedToken


# -- the jobs ------------------------------------------------------------------------------


def prepare(checkpoint, text: str) -> PromptPrepared:
    """The prompt a decoder continues, or the input an encoder-decoder reads (an `InputPrepared`)."""
    tokenizer = checkpoint.tokenizer
    context = checkpoint.model_config.context_length
    if checkpoint.model_config.is_encoder_decoder:
        prepared = prepare_input(tokenizer, text, context)
        return InputPrepared(text, prepared, tokenizer.decode(prepared.ids))
    prepared = prepare_prompt(tokenizer, text, context)
    return PromptPrepared(text, prepared, tokenizer.decode(prepared.ids))


def reading(checkpoint, prompt_ids: Sequence[int]) -> tuple[list[int], Optional[list[int]]]:
    """(what the decoder continues, the encoder's input) for a prepared prompt's ids: a decoder continues
    them; an encoder-decoder reads them as its input and writes from its decoder's start token."""
    if not checkpoint.model_config.is_encoder_decoder:
        return list(prompt_ids), None
    return [t5_tokens(checkpoint.tokenizer).decoder_start], list(prompt_ids)


def generate_text(
    models,
    checkpoint,
    text: str,
    settings: SamplingSettings,
    generator: Optional[torch.Generator] = None,
    attention: bool = False,
) -> Generator[Union[PromptPrepared, TokenGenerated], None, list[GeneratedToken]]:
    """Continue `text` (greedy or sample), one TokenGenerated per new token; return the tokens.

    With `attention`, each token carries its attention rows from the same cached forward pass.
    """
    model = models.model_for(checkpoint)
    prompt = prepare(checkpoint, text)
    yield prompt
    tokens = []
    decoder_ids, input_ids = reading(checkpoint, prompt.prepared.ids)
    with closing(
        generate_tokens(
            model,
            decoder_ids,
            settings,
            input_ids=input_ids,
            tokenizer=checkpoint.tokenizer,
            generator=generator,
            attention=attention,
        )
    ) as stream:
        for token in stream:
            tokens.append(token)
            yield TokenGenerated(token)
    return tokens


def step_token(
    models,
    checkpoint,
    text: str,
    prompt_ids: Sequence[int],
    generated: Sequence[int],
    settings: SamplingSettings,
    generator: Optional[torch.Generator] = None,
    attention: bool = False,
) -> Generator[PromptPrepared, None, Optional[GeneratedToken]]:
    """One more token after ``prompt_ids + generated``, with the stages that chose it; return it.

    With no `prompt_ids` it starts afresh from `text` (yielding its PromptPrepared).
    The token's index and text count from the start of `generated`. For an encoder-decoder,
    `prompt_ids` are its input's (`InputPrepared`) and `generated` what its decoder wrote.
    """
    model = models.model_for(checkpoint)
    tokenizer = checkpoint.tokenizer
    ids = list(prompt_ids)
    if not ids:
        prompt = prepare(checkpoint, text)
        yield prompt
        ids = list(prompt.prepared.ids)
    generated = list(generated)
    decoder_ids, input_ids = reading(checkpoint, ids)
    with closing(
        generate_tokens(
            model,
            decoder_ids + generated,
            replace(settings, max_new_tokens=1),
            input_ids=input_ids,
            tokenizer=tokenizer,
            generator=generator,
            explain=True,
            attention=attention,
        )
    ) as stream:
        token = next(stream, None)
    if token is None:
        return None
    before = tokenizer.decode(generated)
    after = tokenizer.decode(generated + [token.id])
    return replace(
        token,
        index=token.index + len(generated),
        # the piece this token adds to the text so far (decoded alone it may differ)
        text=after[len(before) :] if after.startswith(before) else token.text,
        # one token was asked for: that is no reason to report
        stop_reason="" if token.stop_reason == "max new tokens" else token.stop_reason,
    )


def search_beams(
    models, checkpoint, text: str, settings: SamplingSettings
) -> Generator[Union[PromptPrepared, Progress, BeamsUpdate], None, BeamResult]:
    """Beam search from `text`: the prompt, then every step's beams; return the hypotheses."""
    model = models.model_for(checkpoint)
    prompt = prepare(checkpoint, text)
    yield prompt
    decoder_ids, input_ids = reading(checkpoint, prompt.prepared.ids)
    search = beam_search_steps(model, decoder_ids, settings, tokenizer=checkpoint.tokenizer, input_ids=input_ids)
    return (yield from search)


def generate_columns(
    models, checkpoint, columns: Sequence[tuple[str, SamplingSettings]]
) -> Generator[Union[ColumnPrompt, ColumnToken], None, None]:
    """Generate from each (prompt text, settings) in turn, for texts side by side."""
    model = models.model_for(checkpoint)
    prepared: dict[str, PromptPrepared] = {}
    for column, (text, settings) in enumerate(columns):
        if text not in prepared:
            prepared[text] = prepare(checkpoint, text)
        prompt = prepared[text]
        yield ColumnPrompt(column, prompt)
        decoder_ids, input_ids = reading(checkpoint, prompt.prepared.ids)
        stream = generate_tokens(model, decoder_ids, settings, tokenizer=checkpoint.tokenizer, input_ids=input_ids)
        with closing(stream):
            for token in stream:
                yield ColumnToken(column, token)


def explain_next_token(
    models, checkpoint, ids: Sequence[int], settings: SamplingSettings, input_ids: Optional[Sequence[int]] = None
) -> list[Stage]:
    """How each setting reshapes the distribution of the token after `ids` (the step-by-step view).

    An encoder-decoder needs its input's ids (`input_ids`); `ids` are then what its decoder wrote.
    One forward pass, so a plain function rather than a generator: there is nothing to report on the way.
    """
    model = models.model_for(checkpoint)
    settings = replace(settings, max_new_tokens=1, stop_strings=(), stop_at_end=False, seed=0)
    if input_ids is not None:
        start, input_ids = reading(checkpoint, input_ids)
        ids = start + list(ids)
    stream = generate_tokens(model, ids, settings, tokenizer=checkpoint.tokenizer, explain=True, input_ids=input_ids)
    with closing(stream):
        first = next(stream, None)
    return [] if first is None else first.stages


# -- randomness ---------------------------------------------------------------------------


def seeded_generator(seed: Optional[int]) -> torch.Generator:
    """A random generator seeded with `seed`, or randomly when it is None; Step carries one across tokens."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def sample_seeds(seed: Optional[int], n: int) -> list[int]:
    """The seeds of `n` samples side by side: seed, seed + 1, ... (from a random start without a seed)."""
    base = seed if seed is not None else random.randrange(2**31 - 8)
    return [base + i for i in range(n)]
