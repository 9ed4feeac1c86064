"""What training an encoder-decoder (T5 style) adds to `training.TrainingRun`: its two objectives'
batches, their evaluation, and the sample that shows the decoder writing.

- **Span corruption** (T5's pre-training, `span_corruption.py`): the corpus's training ids are cut
  into pieces, spans of each dropped for sentinels; the decoder learns to write the dropped spans.
  Each epoch draws fresh spans.
- **Text to text** (`text_to_text.py`): (input, reference) pairs from a task file (CSV/JSONL, as
  Evaluate reads) or a shipped task set, the task prefix before every input; the held-out examples
  give the validation loss.

Either way the examples of an epoch are taken in a shuffled order (`EpochStream`). The epoch's
examples and order come from one generator, whose state at the epoch's start is saved with the
position in it, so a resumed run rebuilds the same epoch and goes on with the very batch it would
have taken (exact resume). Evaluation draws its batches from a generator seeded afresh each time,
as the other families do, so every evaluation measures the same examples.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, cast

import numpy as np
import torch

from .config import ModelConfig
from .data import TokenData
from .progress import UserError
from .span_corruption import corrupt_spans, fill_in_spans, span_corruption_examples, span_lengths
from .t5_model import T5, greedy_decode
from .t5_tokens import T5Tokens, missing_t5_tokens, t5_tokens
from .task_eval import load_task
from .text_to_text import (
    IGNORE_INDEX,
    TASK_SETS,
    Seq2SeqBatch,
    Seq2SeqExample,
    TextToTextData,
    collate,
    encode_pairs,
    held_out_split,
    task_set,
)
from .tokenization import LoadedTokenizer
from .train_config import TrainConfig

SAMPLE_TOKENS = 32  # span corruption's sample: this many tokens of the validation text, corrupted
ANSWER_MARGIN = 8  # tokens beyond the target's length the sample's answer may take

Autocast = Callable[[], contextlib.AbstractContextManager]


@dataclass(frozen=True)
class Seq2SeqSample:
    """An encoder-decoder's sample during training: an input, what it should write, what it wrote.

    Span corruption: `input` is a fixed validation sentence with spans replaced by sentinels,
    `target` the sentinels with the dropped spans, `answer` the model's greedy output and `filled`
    the input with the answer's spans put in place. Text to text: `input` is the first held-out
    input (with its prefix), `target` its reference, `answer` the model's greedy output; `filled`
    is empty. Over the run the answer turns from noise into the target.
    """

    step: int
    objective: str  # "span-corruption" or "text-to-text"
    input: str
    target: str
    answer: str
    filled: str = ""

    @property
    def correct(self) -> bool:
        """The answer is exactly the target."""
        return self.answer.strip() == self.target.strip()

    def to_history(self) -> dict:
        return {
            "kind": "seq2seq_sample",
            "step": self.step,
            "objective": self.objective,
            "input": self.input,
            "target": self.target,
            "answer": self.answer,
            "filled": self.filled,
        }


class EpochStream:
    """Examples in batches, epoch after epoch, each epoch in a fresh shuffled order.

    `make_epoch(generator)` gives an epoch's examples (span corruption draws new spans; text to
    text returns the same pairs). A batch that reaches an epoch's end goes on into the next.
    """

    def __init__(self, make_epoch: Callable[[torch.Generator], Sequence[Seq2SeqExample]], seed: int) -> None:
        self.make_epoch = make_epoch
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.position = 0
        self._epoch_start: Optional[torch.Tensor] = None  # the generator's state when this epoch began
        self._examples: Sequence[Seq2SeqExample] = ()
        self._order: list[int] = []

    def _start_epoch(self) -> None:
        self._epoch_start = self.generator.get_state()
        self._examples = self.make_epoch(self.generator)
        if not self._examples:
            raise UserError("There are no examples to train on.")
        self._order = torch.randperm(len(self._examples), generator=self.generator).tolist()

    def take(self, count: int) -> list[Seq2SeqExample]:
        taken: list[Seq2SeqExample] = []
        while len(taken) < count:
            if self._epoch_start is None:
                self._start_epoch()
            elif self.position >= len(self._order):
                self.epoch, self.position, self._epoch_start = self.epoch + 1, 0, None
                continue
            taken.append(self._examples[self._order[self.position]])
            self.position += 1
        return taken

    def state(self) -> dict[str, Any]:
        """What `load_state` needs to go on exactly from here."""
        start = self._epoch_start if self._epoch_start is not None else self.generator.get_state()
        return {"epoch": self.epoch, "position": self.position, "epoch_start": start}

    def load_state(self, state: dict[str, Any]) -> None:
        """Rebuild the saved epoch (the generator at its start makes the same examples and order) and
        go to the saved position. An epoch not yet begun is built now: nothing else uses the generator."""
        self.generator.set_state(state["epoch_start"])
        self._start_epoch()
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def _decode(tokenizer: LoadedTokenizer, ids: Sequence[int], tokens: T5Tokens) -> str:
    """Ids as text up to </s>, without padding; sentinels shown."""
    kept: list[int] = []
    for token in ids:
        if token == tokens.eos:
            break
        if token != tokens.pad:
            kept.append(int(token))
    return tokenizer.tokenizer.decode(kept, skip_special_tokens=False)


def _task_examples(cfg: TrainConfig) -> tuple[list, list, str, str]:
    """(train, held out, prefix, name) for `cfg.task`: a shipped task set's key, or a task file."""
    if not cfg.task.strip():
        raise UserError(
            "Text to text needs a task: a CSV or JSON Lines file of inputs with their references (as Evaluate "
            f"reads), or one of the shipped task sets: {', '.join(t.key for t in TASK_SETS)}."
        )
    if any(cfg.task == t.key for t in TASK_SETS):
        chosen = task_set(cfg.task)
        train, held_out = chosen.load()
        prefix = chosen.prefix if cfg.task_prefix is None else cfg.task_prefix
        return train, held_out, prefix, chosen.key
    path = Path(cfg.task)
    if not path.is_file():
        raise UserError(
            f"There is no task file {cfg.task!r}: give a CSV or JSON Lines file of inputs with their references, "
            f"or one of the shipped task sets: {', '.join(t.key for t in TASK_SETS)}."
        )
    # The same split whatever the run's seed, so models trained on the task are measured alike.
    train, held_out = held_out_split(load_task(path).examples)
    return train, held_out, cfg.task_prefix or "", path.name


class Seq2SeqObjective:
    """An encoder-decoder's objective for one run: its batches, evaluation and sample (module docstring)."""

    def __init__(
        self,
        tokenizer: LoadedTokenizer,
        model_config: ModelConfig,
        train_config: TrainConfig,
        data: Optional[TokenData],
    ) -> None:
        cfg = train_config
        self.tokenizer = tokenizer
        self.objective = cfg.objective
        self.context = model_config.context_length
        self.noise, self.mean_span = cfg.noise_share, cfg.mean_span
        self.notes: list[str] = []
        self._sample: Optional[Seq2SeqExample] = None
        if cfg.objective == "span-corruption":
            lengths = span_lengths(self.context, cfg.noise_share, cfg.mean_span)
            _check_t5_tokens(tokenizer, lengths.spans)
            self.tokens = t5_tokens(tokenizer)
            if lengths.targets > self.context:
                raise UserError(
                    f"Span corruption's targets are {lengths.targets} tokens long for a context of {self.context}, "
                    "longer than the decoder writes: drop fewer tokens (a smaller noise share)."
                )
            if data is None:
                raise ValueError("span corruption trains on a corpus: give its token data")
            self.data: Optional[TokenData] = data
            self.piece = lengths.tokens
            self.train_pairs: Optional[TextToTextData] = None
            self.held_out: Optional[TextToTextData] = None
            self.stream = EpochStream(self._corrupted_epoch, cfg.seed)
        else:
            _check_t5_tokens(tokenizer, 0)
            self.tokens = t5_tokens(tokenizer)
            train, held_out, prefix, name = _task_examples(cfg)
            if not held_out:
                raise UserError(f"The task {name} has no held-out examples to measure the validation loss on.")
            context = self.context
            self.data = None
            self.piece = 0
            self.train_pairs = encode_pairs(train, tokenizer, self.tokens, prefix, context, context)
            self.held_out = encode_pairs(held_out, tokenizer, self.tokens, prefix, context, context)
            self.task_name = name
            cuts = self.train_pairs.cuts + self.held_out.cuts
            if cuts:
                more = f" ({len(cuts) - 1:,} more were cut too.)" if len(cuts) > 1 else ""
                self.notes.append(cuts[0].sentence + more)
            pairs = self.train_pairs.examples
            self.stream = EpochStream(lambda generator: pairs, cfg.seed)

    def _corrupted_epoch(self, generator: torch.Generator) -> list[Seq2SeqExample]:
        assert self.data is not None
        return span_corruption_examples(
            _ids(self.data.train), self.tokens, self.context, generator, self.noise, self.mean_span, self.context
        )

    def describe(self) -> str:
        """What it trains on, for a line of text: "1,234 tokens (123 held out)"."""
        if self.data is not None:
            return f"{len(self.data.train):,} tokens ({len(self.data.val):,} held out) by span corruption"
        assert self.train_pairs is not None and self.held_out is not None
        return f"{len(self.train_pairs):,} pairs of {self.task_name} ({len(self.held_out):,} held out), text to text"

    # -- batches --------------------------------------------------------------------------------------

    def batch(self, batch_size: int, device: torch.device) -> tuple[Seq2SeqBatch, int]:
        """The next `batch_size` examples of the stream, padded, on `device`, and how many tokens the
        model reads and writes in them (padding not counted; counted before the copy, so no wait)."""
        batch = collate(self.stream.take(batch_size), self.tokens)
        tokens = int(batch.attention_mask.sum()) + int((batch.labels != IGNORE_INDEX).sum())
        return _to(batch, device), tokens

    @staticmethod
    def loss(model: Callable[..., Any], batch: Seq2SeqBatch) -> torch.Tensor:
        output = model(
            batch.input_ids, batch.decoder_input_ids, labels=batch.labels, attention_mask=batch.attention_mask
        )
        return output.loss

    # -- evaluation -----------------------------------------------------------------------------------

    def _eval_batches(self, cfg: TrainConfig, generator: torch.Generator) -> list[list[list[Seq2SeqExample]]]:
        """The training side's and the validation side's batches for one evaluation."""
        B = cfg.batch_size
        if self.data is not None:
            sides = []
            for ids in (self.data.train, self.data.val):
                starts = torch.randint(max(1, len(ids) - self.piece + 1), (cfg.eval_batches * B,), generator=generator)
                pieces = [
                    corrupt_spans(_ids(ids[s : s + self.piece]), self.tokens, generator, self.noise, self.mean_span)
                    for s in starts.tolist()
                ]
                sides.append([pieces[i : i + B] for i in range(0, len(pieces), B)])
            return sides
        assert self.train_pairs is not None and self.held_out is not None
        train = self.train_pairs.examples
        picks = torch.randint(len(train), (cfg.eval_batches * B,), generator=generator).tolist()
        held = self.held_out.examples[: cfg.eval_batches * B]  # the same held-out examples, in order
        return [
            [[train[i] for i in picks[k : k + B]] for k in range(0, len(picks), B)],
            [list(held[k : k + B]) for k in range(0, len(held), B)],
        ]

    @torch.no_grad()
    def evaluate(self, model: T5, cfg: TrainConfig, device: torch.device, autocast: Autocast) -> tuple[float, float]:
        """(training loss, validation loss), each the mean over its fixed batches (module docstring)."""
        generator = torch.Generator().manual_seed(cfg.seed + 1)
        was_training = model.training
        model.eval()
        means = []
        try:
            for batches in self._eval_batches(cfg, generator):
                total = torch.zeros((), device=device)
                for examples in batches:
                    with autocast():
                        total += self.loss(model, _to(collate(examples, self.tokens), device)).float()
                means.append(total / len(batches))
            train_loss, val_loss = torch.stack(means).tolist()
        finally:
            model.train(was_training)
        return train_loss, val_loss

    # -- the sample -----------------------------------------------------------------------------------

    def _sample_example(self, seed: int) -> Seq2SeqExample:
        if self._sample is None:
            if self.data is not None:
                start = self._line_start(self.data.val)
                text = self.data.val[start : start + min(SAMPLE_TOKENS, self.piece)]
                self._sample = corrupt_spans(
                    _ids(text), self.tokens, torch.Generator().manual_seed(seed), self.noise, self.mean_span
                )
            else:
                assert self.held_out is not None
                self._sample = self.held_out.examples[0]
        return self._sample

    def _line_start(self, ids: np.ndarray) -> int:
        """Where the first line of `ids` that begins within its first tokens begins (0 if none), so the
        sample starts with a sentence, not in the middle of one; a whole sample's length must follow."""
        for i in range(min(len(ids) - SAMPLE_TOKENS, 4 * SAMPLE_TOKENS)):
            if self.tokenizer.tokenizer.decode([int(ids[i])], skip_special_tokens=False).endswith("\n"):
                return i + 1
        return 0

    @torch.no_grad()
    def sample(self, model: T5, step: int, seed: int, device: torch.device, autocast: Autocast) -> Seq2SeqSample:
        """The model's greedy answer to the fixed sample input (see `Seq2SeqSample`)."""
        example = self._sample_example(seed)
        was_training = model.training
        model.eval()
        try:
            budget = min(self.context, len(example.target_ids) + ANSWER_MARGIN)
            with autocast():
                written = greedy_decode(
                    model,
                    torch.tensor([example.input_ids], device=device),
                    self.tokens.decoder_start,
                    budget,
                    end_id=self.tokens.eos,
                )
        finally:
            model.train(was_training)
        answer = written[0].tolist()

        def decode(ids: Sequence[int]) -> str:
            return _decode(self.tokenizer, ids, self.tokens)

        filled = decode(fill_in_spans(example.input_ids, answer, self.tokens)) if self.data is not None else ""
        return Seq2SeqSample(
            step=step,
            objective=self.objective,
            input=decode(example.input_ids),
            target=decode(example.target_ids),
            answer=decode(answer),
            filled=filled,
        )


def _check_t5_tokens(tokenizer: LoadedTokenizer, sentinels: int) -> None:
    missing = missing_t5_tokens(tokenizer, sentinels)
    if missing:
        why = f", and {sentinels} sentinels for the spans it drops" if sentinels else ""
        raise UserError(
            f"An encoder-decoder (T5 style) needs T5's special tokens: a pad token (the decoder's start), </s>{why}; "
            f"the tokenizer {tokenizer.name} lacks {missing}. Add them to the tokenizer as special tokens "
            "(with_t5_tokens in playground.core.t5_tokens; `playground train` adds them itself)."
        )


def _ids(ids: np.ndarray) -> Sequence[int]:
    """A corpus's id array as the span functions take it (they read arrays as they are)."""
    return cast(Sequence[int], ids)


def _to(batch: Seq2SeqBatch, device: torch.device) -> Seq2SeqBatch:
    if device.type == "cpu":
        return batch
    pin = device.type == "cuda"  # pinned memory lets the copy run while the GPU is still busy
    parts = (batch.input_ids, batch.attention_mask, batch.decoder_input_ids, batch.labels)
    return Seq2SeqBatch(*((t.pin_memory() if pin else t).to(device, non_blocking=pin) for t in parts))
