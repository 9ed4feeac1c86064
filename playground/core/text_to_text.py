"""Text to text: T5's way of posing every task, an input text in and an output text out.

    task = load_task(path)                                  # (input, reference) pairs: the files Evaluate reads
    train, held_out = held_out_split(task.examples)         # 10% held out, the same every time
    data = encode_pairs(train, tokenizer, t5_tokens(tokenizer), "reverse: ", encoder_context=128)
    data.examples, data.cuts                                # token-id pairs; what was cut, for the window
    batch = collate(data.examples[:32], tokens)             # padded tensors, labels -100 at padding

Each input gets a task prefix, as T5 writes "translate English to German: " before the text, so
one model can learn several tasks and tell them apart. Input and reference each end with </s>.
The decoder reads the reference shifted one place right, starting from the pad token (T5's
decoder start), and learns to predict it (`Seq2SeqBatch`, as Hugging Face's T5 does).

The task sets that ship for this (`TASK_SETS`, in resources/tasks/text-to-text/) are made by
scripts/make_task_sets.py, each with a train file and a held-out file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import Tensor

from playground.core.progress import UserError
from playground.core.t5_tokens import T5_EOS, T5Tokens
from playground.core.task_eval import TaskExample, load_task, tasks_dir
from playground.core.tokenization import LoadedTokenizer

IGNORE_INDEX = -100  # a label the loss skips: torch's cross_entropy default, and Hugging Face's
HELD_OUT_SHARE = 0.1  # of a task file's examples kept back for evaluation when it has no held-out file


@dataclass(frozen=True)
class Seq2SeqExample:
    """One example for an encoder-decoder: the encoder's input and the decoder's target, token ids,
    each ending with </s>."""

    input_ids: tuple[int, ...]
    target_ids: tuple[int, ...]


@dataclass(frozen=True)
class Seq2SeqBatch:
    """Examples padded into tensors, as Hugging Face's T5 takes them.

    input_ids [B, S]: inputs, padded with the pad id. attention_mask [B, S]: 1 at real tokens, 0 at
    padding. decoder_input_ids [B, T]: the targets shifted one place right after the decoder's start
    token (the pad id), padded with the pad id. labels [B, T]: the targets, -100 at padding.
    """

    input_ids: Tensor
    attention_mask: Tensor
    decoder_input_ids: Tensor
    labels: Tensor


def _pad(rows: Sequence[Sequence[int]], value: int) -> Tensor:
    width = max(len(row) for row in rows)
    return torch.tensor([list(row) + [value] * (width - len(row)) for row in rows], dtype=torch.long)


def collate(examples: Sequence[Seq2SeqExample], tokens: T5Tokens) -> Seq2SeqBatch:
    """Pad `examples` into one batch, each side to its longest row."""
    if not examples:
        raise ValueError("collate needs at least one example")
    inputs = [e.input_ids for e in examples]
    labels = _pad([e.target_ids for e in examples], IGNORE_INDEX)
    return Seq2SeqBatch(
        input_ids=_pad(inputs, tokens.pad),
        attention_mask=_pad([[1] * len(row) for row in inputs], 0),
        decoder_input_ids=shift_right(labels, tokens),
        labels=labels,
    )


def shift_right(labels: Tensor, tokens: T5Tokens) -> Tensor:
    """What the decoder reads to predict `labels` [B, T]: the decoder's start token, then the labels
    but the last, -100 read as the pad id (Hugging Face's `T5PreTrainedModel._shift_right`)."""
    shifted = torch.full_like(labels, tokens.decoder_start)
    shifted[:, 1:] = labels[:, :-1]
    return shifted.masked_fill(shifted == IGNORE_INDEX, tokens.pad)


# -- task files to token ids --------------------------------------------------------------------------


@dataclass(frozen=True)
class CutText:
    """An input (or reference) longer than its context, cut to fit: a notice for the window.

    example: its number in the list given, from 1. part: "input" or "reference". tokens: its length
    with </s>; kept: how many of those remain (the first kept - 1, then </s>).
    """

    example: int
    part: str
    tokens: int
    kept: int

    @property
    def sentence(self) -> str:
        reader = "encoder" if self.part == "input" else "decoder"
        return (
            f"Example {self.example}'s {self.part} is {self.tokens:,} tokens long with {T5_EOS}, but the {reader} "
            f"reads at most {self.kept:,}: its last {self.tokens - self.kept:,} tokens were cut off."
        )


@dataclass(frozen=True)
class TextToTextData:
    """Encoded pairs, and the notices of what was cut to fit (empty when nothing was)."""

    examples: tuple[Seq2SeqExample, ...]
    cuts: tuple[CutText, ...]
    prefix: str

    def __len__(self) -> int:
        return len(self.examples)


def _fit(ids: list[int], eos: int, context: Optional[int]) -> list[int]:
    """`ids` and </s>, cut at the end to `context` tokens; </s> always stays last, as a tokenizer's
    own truncation keeps it."""
    ids = ids + [eos]
    if context is not None and len(ids) > context:
        ids = ids[: context - 1] + [eos]
    return ids


def encode_pairs(
    examples: Sequence[TaskExample],
    tokenizer: LoadedTokenizer,
    tokens: T5Tokens,
    prefix: str = "",
    encoder_context: Optional[int] = None,
    decoder_context: Optional[int] = None,
) -> TextToTextData:
    """Each example as token ids: prefix + input + </s>, and reference + </s>.

    The prefix is put before the input as it is (T5's end in ": "). An input longer than
    `encoder_context` keeps its beginning, prefix included, and ends with </s>; so does a reference
    longer than `decoder_context` (None: no limit). Each cut is a `CutText` in the result."""
    for name, context in (("encoder", encoder_context), ("decoder", decoder_context)):
        if context is not None and context < 2:
            raise UserError(f"The {name}'s context must hold at least 2 tokens (a token and {T5_EOS}), not {context}.")
    if not examples:
        raise UserError("There are no examples to encode: the task has no input with its reference.")
    inputs = tokenizer.encode_ids([prefix + e.input for e in examples])
    references = tokenizer.encode_ids([e.reference for e in examples])
    pairs, cuts = [], []
    for number, (source, target) in enumerate(zip(inputs, references), start=1):
        for part, ids, context in (("input", source, encoder_context), ("reference", target, decoder_context)):
            if context is not None and len(ids) + 1 > context:
                cuts.append(CutText(example=number, part=part, tokens=len(ids) + 1, kept=context))
        pairs.append(
            Seq2SeqExample(
                input_ids=tuple(_fit(source, tokens.eos, encoder_context)),
                target_ids=tuple(_fit(target, tokens.eos, decoder_context)),
            )
        )
    return TextToTextData(examples=tuple(pairs), cuts=tuple(cuts), prefix=prefix)


def held_out_split(
    examples: Sequence[TaskExample], share: float = HELD_OUT_SHARE, seed: int = 0
) -> tuple[list[TaskExample], list[TaskExample]]:
    """(train, held out): about `share` of the examples held back, the same ones for the same examples.

    Examples with the same input go to the same side, so no held-out question was seen in training.
    Whole inputs are drawn in a shuffled order (seeded) until the held-out side has round(share × n)
    examples, at least one; both keep the file's order. Needs two different inputs at least."""
    if not 0.0 < share < 1.0:
        raise UserError(f"The held-out share must be above 0 and below 1 (for example 0.1), not {share!r}.")
    inputs = list(dict.fromkeys(e.input for e in examples))
    if len(inputs) < 2:
        raise UserError(
            f"A held-out split needs at least two different inputs, one to train on and one to test with; "
            f"this task has {len(inputs)}."
        )
    random.Random(seed).shuffle(inputs)
    wanted = max(1, round(share * len(examples)))
    count = {text: 0 for text in inputs}
    for e in examples:
        count[e.input] += 1
    held: set[str] = set()
    taken = 0
    for text in inputs[:-1]:  # the last is always trained on
        if taken >= wanted:
            break
        held.add(text)
        taken += count[text]
    return [e for e in examples if e.input not in held], [e for e in examples if e.input in held]


# -- the task sets that ship ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSet:
    """A shipped task for training text to text, with its prefix and its train and held-out files."""

    key: str  # file names: {key}-train.jsonl and {key}-held-out.jsonl
    title: str
    prefix: str
    description: str

    @property
    def train_path(self) -> Path:
        return text_to_text_dir() / f"{self.key}-train.jsonl"

    @property
    def held_out_path(self) -> Path:
        return text_to_text_dir() / f"{self.key}-held-out.jsonl"

    def load(self) -> tuple[list[TaskExample], list[TaskExample]]:
        """(train, held out) examples, read by Evaluate's reader."""
        return load_task(self.train_path).examples, load_task(self.held_out_path).examples


def text_to_text_dir() -> Path:
    """Where the shipped task sets live: a folder of their own beside Evaluate's tasks, so Evaluate's
    list of short example tasks stays as it is."""
    return tasks_dir() / "text-to-text"


TASK_SETS = (
    TaskSet(
        key="reverse-words",
        title="Reverse a list of words",
        prefix="reverse: ",
        description="Two to six common words, written back in the opposite order: copying with attention "
        "that reads the input backwards.",
    ),
    TaskSet(
        key="numbers-to-words",
        title="Numbers to words",
        prefix="number to words: ",
        description="A number from 0 to 9,999 written in English words (4,021: four thousand twenty-one).",
    ),
    TaskSet(
        key="infix-to-postfix",
        title="Arithmetic to postfix",
        prefix="infix to postfix: ",
        description="A small formal-language translation: arithmetic such as (3 + 4) * 2 written in "
        "reverse Polish notation, 3 4 + 2 *.",
    ),
)


def task_set(key: str) -> TaskSet:
    """The shipped task set called `key` ("reverse-words"), or a `UserError` naming those there are."""
    for candidate in TASK_SETS:
        if candidate.key == key:
            return candidate
    raise UserError(f"There is no task set called {key!r}; choose one of {', '.join(t.key for t in TASK_SETS)}.")
