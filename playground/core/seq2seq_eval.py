"""Evaluating an encoder-decoder (T5 style) on (input, reference) pairs: the task files Evaluate reads.

    result = run_quietly(reference_perplexity(model, tokenizer, examples, prefix="reverse: "))
    result.perplexity            # exp(mean NLL per reference token), the references read with teacher forcing
    scored = run_quietly(answer_pairs(model, tokenizer, examples, prefix="reverse: "))
    scored.scores                # BLEU, chrF, ROUGE, exact match: task_eval's scores, mode "text-to-text"

Perplexity: each input (prefix + input + </s>) goes to the encoder; the decoder reads the reference
shifted right after its start token and is scored on every reference token and the closing </s>
(padding is labelled -100 and not scored). The mean is over all reference tokens of all examples
together, so a long reference weighs more than a short one, as in training's loss.

Task scores: the model writes its answer to each input (prefix + input, no prompt template: it was
trained text to text), greedily, at most the reference's length plus `ANSWER_MARGIN` tokens. The
answer is scored exactly as task_eval scores a decoder's, so `compare_on_task` can put a T5-style
model and a GPT-style model prompted zero- and few-shot on the same held-out split in one table:
one `ComparedRow` per (model, prompting).

An input longer than the encoder's context is cut at the end (keeping </s>), with a notice.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Optional, Sequence, Union

import torch
from torch.nn import functional as F

from .progress import CancelToken, JobGenerator, Progress, UserError
from .task_eval import (
    ANSWER_MARGIN,
    DEFAULT_SETTINGS,
    Task,
    TaskExample,
    TaskResult,
    TaskRow,
    TaskScores,
    compare_modes,
    is_exact,
    rouge_scorer,
    score_outputs,
)

TEXT_TO_TEXT = "text-to-text"  # the mode of an encoder-decoder's answers: the input as it is, no template
NO_TEMPLATE = "none (input to output)"
IGNORE = -100


def _examples(examples: Union[Task, Sequence[TaskExample]]) -> tuple[str, list[TaskExample]]:
    label = examples.name if isinstance(examples, Task) else ""
    found = list(examples.examples if isinstance(examples, Task) else examples)
    if not found:
        raise UserError("The task has no examples to score.")
    return label, found


def _require_encoder_decoder(model, doing: str) -> None:
    if not getattr(model.config, "is_encoder_decoder", False):
        raise UserError(
            f"{doing} reads each input with an encoder and scores the reference with a decoder: that needs an "
            "encoder-decoder (T5 style). Ask a decoder (GPT style) through a prompt template instead."
        )


def no_text_perplexity(name: str, how: str = "") -> UserError:
    """What an encoder-decoder asked for the perplexity of a plain text says; `how`: " with --task"."""
    return UserError(
        f"{name} is an encoder-decoder (T5 style): it predicts an output from an input, not a text from its own "
        f"beginning, so its perplexity is of references given their inputs. Score it on a task{how} (a task file, "
        "or a shipped set such as reverse-words) instead of a text."
    )


@dataclass(frozen=True)
class ReferencePerplexity:
    """How well an encoder-decoder predicts the references given their inputs.

    examples: pairs scored. tokens: reference tokens scored (each reference's tokens and its </s>).
    total_nll: their summed negative log-likelihood, in nats; mean_loss: total_nll / tokens;
    perplexity: exp(mean_loss). notices: a sentence for each input or reference cut to fit.
    """

    examples: int
    tokens: int
    total_nll: float
    mean_loss: float
    perplexity: float
    notices: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


def reference_perplexity(
    model,
    tokenizer,
    examples: Union[Task, Sequence[TaskExample]],
    prefix: str = "",
    batch_size: int = 16,
) -> JobGenerator[ReferencePerplexity]:
    """Job: the perplexity of each reference given its input (teacher forcing), over all the pairs."""
    from .t5_tokens import t5_tokens
    from .text_to_text import collate, encode_pairs

    _require_encoder_decoder(model, "Perplexity of references given their inputs")
    if batch_size < 1:
        raise UserError(f"The batch size must be at least 1, not {batch_size}.")
    _, found = _examples(examples)
    tokens = t5_tokens(tokenizer)
    context = model.config.context_length
    data = encode_pairs(found, tokenizer, tokens, prefix, encoder_context=context, decoder_context=context)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, scored = 0.0, 0
    try:
        for start in range(0, len(data.examples), batch_size):
            batch = collate(data.examples[start : start + batch_size], tokens)
            labels = batch.labels.to(device)
            with torch.no_grad():
                logits = model(
                    batch.input_ids.to(device),
                    batch.decoder_input_ids.to(device),
                    attention_mask=batch.attention_mask.to(device),
                ).logits
                nll = F.cross_entropy(
                    logits.float().reshape(-1, logits.size(-1)),
                    labels.reshape(-1),
                    ignore_index=IGNORE,
                    reduction="sum",
                )
            total += float(nll)
            scored += int((labels != IGNORE).sum())
            done = min(len(data.examples), start + batch_size)
            yield Progress(done / len(data.examples), f"Scoring the references: {done:,} of {len(data.examples):,}")
    finally:
        model.train(was_training)
    mean = total / scored
    return ReferencePerplexity(
        examples=len(data.examples),
        tokens=scored,
        total_nll=total,
        mean_loss=mean,
        perplexity=math.exp(min(mean, 700.0)),
        notices=tuple(cut.sentence for cut in data.cuts),
    )


def answer_pairs(
    model,
    tokenizer,
    examples: Union[Task, Sequence[TaskExample]],
    prefix: str = "",
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[TaskResult]:
    """Job: the encoder-decoder answers each input (greedy) and the answers are scored as task_eval scores any.

    Yields each `TaskRow` (mode `TEXT_TO_TEXT`) as it is answered; its `cut_tokens` counts the input
    tokens cut off the end to fit the encoder (`cut_notice` says so in a sentence).
    """
    import sacrebleu

    from .t5_model import greedy_decode
    from .t5_tokens import t5_tokens
    from .text_to_text import encode_pairs

    _require_encoder_decoder(model, "Answering text to text")
    label, found = _examples(examples)
    tokens = t5_tokens(tokenizer)
    context = model.config.context_length
    data = encode_pairs(found, tokenizer, tokens, prefix, encoder_context=context)
    cut_inputs = {cut.example: cut for cut in data.cuts if cut.part == "input"}
    device = next(model.parameters()).device
    scorer = rouge_scorer()
    was_training = model.training
    model.eval()
    started = time.perf_counter()
    rows: list[TaskRow] = []
    try:
        for index, (example, pair) in enumerate(zip(found, data.examples)):
            if cancel is not None:
                cancel.raise_if_cancelled()
            yield Progress(index / len(found), f"{TEXT_TO_TEXT}: example {index + 1} of {len(found)}")
            budget = min(context, len(pair.target_ids) + ANSWER_MARGIN)  # the reference's length, with its </s>
            source = torch.tensor([pair.input_ids], dtype=torch.long, device=device)
            # The Generate helper's richer decoding (sampling, beams) can replace this greedy pass later.
            written = [int(i) for i in greedy_decode(model, source, tokens.decoder_start, budget, end_id=tokens.eos)[0]]
            if tokens.eos in written:
                written = written[: written.index(tokens.eos)]
            output = tokenizer.decode(written).strip()
            cut = cut_inputs.get(index + 1)
            row = TaskRow(
                index=index,
                mode=TEXT_TO_TEXT,
                input=example.input,
                reference=example.reference,
                output=output,
                raw=output,
                exact=is_exact(output, example.reference),
                chrf=sacrebleu.sentence_chrf(output, [example.reference]).score,
                rouge_l=scorer.score(example.reference, output)["rougeL"].fmeasure,
                prompt_tokens=len(pair.input_ids),
                cut_tokens=0 if cut is None else cut.tokens - cut.kept,
            )
            rows.append(row)
            yield row
    finally:
        model.train(was_training)
    scores = score_outputs([r.output for r in rows], [r.reference for r in rows])
    yield Progress(1.0, "Scored.")
    return TaskResult(
        template=NO_TEMPLATE,
        mode=TEXT_TO_TEXT,
        rows=rows,
        scores=scores,
        seconds=time.perf_counter() - started,
        task=label,
        settings=DEFAULT_SETTINGS,
    )


def cut_notice(row: TaskRow, context: int) -> str:
    """A sentence for an answered example whose input was cut to fit the encoder, or ""."""
    if not row.cut_tokens:
        return ""
    return (
        f"Example {row.index + 1}'s input is {row.prompt_tokens + row.cut_tokens:,} tokens long with </s>, but the "
        f"encoder reads at most {context:,}: its last {row.cut_tokens:,} tokens were cut off."
    )


# -- one table: an encoder-decoder beside decoders prompted zero- and few-shot -------------------------


@dataclass(frozen=True)
class ComparedRow:
    """One line of the comparison table: a model, how it was asked, and its scores.

    family: "encoder-decoder", "decoder" or "encoder" (`seq2seq_look.family_of`). prompting:
    `TEXT_TO_TEXT` for an encoder-decoder, else the prompt mode ("zero-shot", "few-shot", ...).
    """

    model: str
    family: str
    prompting: str
    scores: TaskScores
    result: TaskResult

    @property
    def label(self) -> str:
        """ "t5-reverse (encoder-decoder, text-to-text)" """
        return f"{self.model} ({self.family}, {self.prompting})"


@dataclass(frozen=True)
class Contestant:
    """A model to put in the table: its name, the model and its tokenizer."""

    name: str
    model: object
    tokenizer: object


def compare_on_task(
    contestants: Sequence[Contestant],
    examples: Union[Task, Sequence[TaskExample]],
    template=None,
    modes: Sequence[str] = ("zero-shot", "few-shot"),
    prefix: str = "",
    settings=None,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[list[ComparedRow]]:
    """Job: every contestant on the same examples: an encoder-decoder answers text to text (with `prefix`),
    a decoder or an encoder through `template` in each of `modes` (task_eval's `compare_modes`). Yields each
    `TaskRow` as it comes and each `ComparedRow` when its model is done; returns the rows in order."""
    from .seq2seq_look import family_of

    if not contestants:
        raise UserError("Choose at least one model to compare.")
    _examples(examples)
    rows: list[ComparedRow] = []
    for contestant in contestants:
        family = family_of(contestant.model.config)  # type: ignore[attr-defined]
        if family == "encoder-decoder":
            results = [(yield from answer_pairs(contestant.model, contestant.tokenizer, examples, prefix, cancel))]
        else:
            if template is None:
                raise UserError(f"{contestant.name} is a {family}: it needs a prompt template to be asked the task.")
            job = compare_modes(contestant.model, contestant.tokenizer, template, examples, modes, settings, cancel)
            results = yield from job
        for result in results:
            row = ComparedRow(contestant.name, family, result.mode, result.scores, result)
            rows.append(row)
            yield row
    return rows


def held_out_task(key: str) -> tuple[Task, str]:
    """The shipped text-to-text set `key`'s held-out split as a `Task`, and the prefix its inputs take."""
    from .task_eval import load_task
    from .text_to_text import task_set

    found = task_set(key)
    task = load_task(found.held_out_path)
    task.name = f"{found.title} (held out)"
    return task, found.prefix


def set_template(key: str):
    """The template a decoder is asked the shipped set `key` through: its first training pairs as examples."""
    from .text_to_text import task_set

    found = task_set(key)
    train, _ = found.load()
    return few_shot_template(train, instruction=found.description)


def few_shot_template(train: Sequence[TaskExample], instruction: str = "", k: int = 3):
    """A prompt template for asking a decoder a text-to-text task: "Input: ...\\nOutput: ..." lines, with the
    first `k` training pairs as its few-shot examples (zero-shot shows none), so a GPT-style model is asked
    the held-out split with examples it could have seen, as the encoder-decoder trained on them."""
    from .prompts import Example, PromptTemplate

    return PromptTemplate(
        name="Input and output",
        description="Text to text, asked of a decoder: the training pairs as examples.",
        mode="few-shot",
        k=k,
        instruction=instruction,
        examples=[Example(e.input, e.reference) for e in list(train)[:k]],
    )
