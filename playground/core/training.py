"""Training: nanoGPT's train.py as a library, a generator of progress records.

    run = TrainingRun(model_config, TrainConfig(max_steps=300), tokenizer, data, run_dir)
    for record in run.steps(cancel):
        ...  # StepRecord every step, EvalRecord, SampleRecord, CheckpointRecord, StoppedRecord

A decoder learns the next token; an encoder (BERT style) the tokens hidden from it, and an
encoder-decoder (T5 style) to write spans dropped from the corpus or a task's answers: their
objectives (batches, evaluation, the sample in place of generated text: `FillMaskSample`,
`Seq2SeqSample`) live in `encoder_training` and `seq2seq_training`.

The caller decides the pace: the run does nothing between two records, so
pausing is simply not asking for the next one, and stopping is setting the
cancel token (the run then saves and says so). Everything a run needs to
continue exactly (weights, optimizer, step, random generator states, history)
is saved in its folder; see `checkpoints`.

This module is longer than the project's ~600 lines on purpose: `TrainingRun`
is one object whose loop, evaluation, checkpoints and resume share its state
(model, optimizer, step, timers, history); cut in two, each half would reach
into the other's. The job that runs it for the window is `training_job.py`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Generator, Optional, Union

import torch

from playground.core.checkpoints import (
    CONFIG_FILE,
    TOKENIZER_FILE,
    TRAIN_CONFIG_FILE,
    WEIGHTS_FILE,
    Model,
    build_model,
    check_model_fits,
    check_new_run_dir,
    checkpoint_dir,
    load_checkpoint,
    load_history,
    load_state,
    load_weights,
    read_meta,
    read_model_config,
    remove_checkpoints,
    save_checkpoint,
    save_history,
    write_json_atomic,
    write_run_files,
)
from playground.core.config import BYTES_TO_TRAIN, ModelConfig
from playground.core.data import TokenData, check_data, get_batch
from playground.core.encoder_training import FillMaskSample, MaskedLM
from playground.core.files import is_inside
from playground.core.model import GPT
from playground.core.progress import CancelToken, UserError
from playground.core.sampling import generate_ids
from playground.core.seq2seq_training import Seq2SeqObjective, Seq2SeqSample
from playground.core.t5_model import T5
from playground.core.text_to_text import Seq2SeqBatch
from playground.core.tokenization import LoadedTokenizer, open_tokenizer

# The settings live in their own module (no PyTorch there, so the window shows them at once);
# TrainConfig is also imported from here by the code that trains.
from playground.core.train_config import BETAS, TrainConfig, lr_at

# Devices and precision live in their own module; the code that trains imports them from here too.
from playground.core.training_devices import is_out_of_memory as is_out_of_memory
from playground.core.training_devices import resolve_device as resolve_device
from playground.core.training_devices import resolve_precision as resolve_precision

# -- what a run reports -----------------------------------------------------------


@dataclass(frozen=True)
class StepRecord:
    """One optimizer step done. `step` counts the steps done so far (1 after the first)."""

    step: int
    max_steps: int
    loss: float
    lr: float
    grad_norm: float  # before clipping
    tokens_per_s: float  # smoothed over recent steps
    step_time_s: float  # this step alone
    elapsed_s: float  # time spent training, pauses not counted, earlier sessions included
    eta_s: float  # estimated time to max_steps, evaluations included
    memory_bytes: Optional[int]  # peak GPU memory; None on the CPU


@dataclass(frozen=True)
class EvalRecord:
    """Mean loss on the same fixed batches of training and validation text."""

    step: int
    train_loss: float
    val_loss: float
    masked_accuracy: Optional[float] = None  # encoders: the share of hidden validation tokens recovered

    @property
    def perplexity(self) -> float:
        """exp(validation loss): as unsure as a fair choice among this many tokens (for an encoder,
        over the hidden tokens only, each guessed from both sides: not a decoder's perplexity)."""
        return math.exp(min(self.val_loss, 700.0))


@dataclass(frozen=True)
class SampleRecord:
    step: int
    prompt: str
    text: str  # the continuation only


@dataclass(frozen=True)
class CheckpointRecord:
    step: int
    path: Path
    which: str  # "last" or "best"


@dataclass(frozen=True)
class StoppedRecord:
    """The run is over: "finished" (max_steps reached), "stopped" (cancelled) or "nan"."""

    step: int
    reason: str
    message: str


Record = Union[StepRecord, EvalRecord, SampleRecord, FillMaskSample, Seq2SeqSample, CheckpointRecord, StoppedRecord]
# (inputs, labels); an encoder-decoder's batch holds both: (batch, None).
Batch = Union[tuple[torch.Tensor, torch.Tensor], tuple[Seq2SeqBatch, None]]


# -- the run ------------------------------------------------------------------------


class TrainingRun:
    """One model being trained, with its optimizer, data and run folder.

    Fresh by default, in a new or empty `run_dir` (`overwrite=True` trains
    into a non-empty one, replacing a run there). `init_from` fine-tunes: start
    from that checkpoint's weights (same tokenizer and shape needed) with a
    fresh optimizer and step count, recording it as the parent. `resume=True`
    continues `run_dir`'s `last` checkpoint exactly where it stopped.

    An encoder-decoder learns by `train_config.objective` (see `seq2seq_training`); text to text
    reads its task and needs no `data` (None).
    """

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        tokenizer: LoadedTokenizer,
        data: Optional[TokenData],
        run_dir: Union[str, Path],
        *,
        init_from: Optional[Union[str, Path]] = None,
        resume: bool = False,
        overwrite: bool = False,
    ) -> None:
        if resume and init_from is not None:
            raise ValueError("resume continues a run; init_from starts a new one: choose one")
        if not resume:
            check_new_run_dir(Path(run_dir), overwrite)
            if init_from is not None and is_inside(Path(init_from), Path(run_dir)):
                raise UserError(f"{init_from} is the model being fine-tuned: train it into another folder.")
        train_config.raise_if_invalid()
        model_config.raise_if_invalid()
        if tokenizer.vocab_size > model_config.vocab_size:
            raise UserError(
                f"The tokenizer has {tokenizer.vocab_size:,} tokens but the model's vocabulary only "
                f"{model_config.vocab_size:,}: set the vocabulary size to at least {tokenizer.vocab_size:,}."
            )
        text_to_text = model_config.is_encoder_decoder and train_config.objective == "text-to-text"
        if not text_to_text:
            if data is None:
                raise ValueError("training on a corpus needs its token data")
            check_data(data, model_config.context_length, train_config.batch_size)
        # An encoder learns to recover hidden tokens (see encoder_training); an encoder-decoder to write
        # dropped spans or a task's answers (seq2seq_training); a decoder the next token.
        self.mlm = MaskedLM(tokenizer, model_config, train_config) if model_config.is_encoder else None
        self.seq2seq = (
            Seq2SeqObjective(tokenizer, model_config, train_config, data) if model_config.is_encoder_decoder else None
        )
        self.model_config = model_config
        self.train_config = cfg = train_config
        self.tokenizer = tokenizer
        self.data = data
        self.run_dir = Path(run_dir)
        self.device = resolve_device(cfg.device)
        self.precision, note = resolve_precision(cfg.precision, self.device)
        self.notes: list[str] = [note] if note else []  # sentences worth showing the person
        if self.seq2seq is not None:
            self.notes += self.seq2seq.notes

        self.step = 0
        self.history: list[dict] = []
        self.elapsed_s = 0.0
        self.best_val_loss = math.inf
        self.best_step: Optional[int] = None
        self.last_val_loss: Optional[float] = None
        self.last_train_loss: Optional[float] = None
        self.parent: Optional[str] = None
        self.parent_step: Optional[int] = None
        self.parent_history: list[dict] = []
        self._saved_step: dict[str, int] = {}
        self._eval_step: Optional[int] = None
        self._sample_step: Optional[int] = None

        # The seed fixes the initial weights and dropout's stream (the global
        # generator); batches come from a generator of their own, so that
        # nothing else (evaluation, sampling) can shift which windows are drawn.
        torch.manual_seed(cfg.seed)
        check_model_fits(model_config, self.device, BYTES_TO_TRAIN, "Training this model")
        self.model: Model = build_model(model_config, device=self.device)
        self.batch_generator = torch.Generator().manual_seed(cfg.seed)
        self.optimizer = make_optimizer(self.model, cfg, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self._params = [p for p in self.model.parameters()]
        self._train_model: Callable[..., Any] = self.model  # or its torch.compile wrapper
        if cfg.compile:
            self._train_model = torch.compile(self.model)
        self._pending: Optional[Batch] = None
        self._pending_state: Optional[torch.Tensor] = None
        self._pending_stream: Optional[dict] = None  # an encoder-decoder's example stream before the pending batch
        self._pending_tokens = 0  # tokens in the batch drawn ahead (an encoder-decoder's vary)
        self._step_tokens = 0  # tokens in this step's batches
        self._step_time: Optional[float] = None  # smoothed seconds per step
        self._eval_time = 0.0

        if resume:
            self._resume()
        else:
            if overwrite:
                remove_checkpoints(self.run_dir)
            if init_from is not None:
                self._init_from(Path(init_from))
            write_run_files(self.run_dir, model_config, cfg, tokenizer)
            if self.parent is not None:
                self.history.append({"kind": "parent", "step": 0, "path": self.parent, "parent_step": self.parent_step})
            save_history(self.run_dir, self.history)

    # -- starting points ----------------------------------------------------------

    def _init_from(self, path: Path) -> None:
        parent, parent_model = load_checkpoint(path, device=self.device, which="best")
        if not same_tokenizer(parent.tokenizer, self.tokenizer):
            raise UserError(
                f"Fine-tuning needs the same tokenizer as the model it starts from, but {parent.run_dir.name} "
                f"was trained with a different one ({parent.tokenizer.vocab_size:,} tokens, here "
                f"{self.tokenizer.vocab_size:,}): the same ids would mean other tokens. Use the tokenizer "
                f"saved with that model ({parent.run_dir / 'tokenizer.json'}), or train from scratch."
            )
        differences = config_differences(parent.model_config, self.model_config)
        if differences:
            raise UserError(
                f"Fine-tuning continues the model in {parent.run_dir.name}, so its shape must stay the same: "
                f"{'; '.join(differences)}. Build the model with the parent's settings."
            )
        self.model.load_state_dict(parent_model.state_dict())
        self.parent = str(parent.path)
        self.parent_step = parent.step
        self.parent_history = parent.history

    def _resume(self) -> None:
        folder = checkpoint_dir(self.run_dir, "last")
        if folder is None:
            raise UserError(f"{self.run_dir} has no saved checkpoint to continue from.")
        saved_config = read_model_config(self.run_dir / CONFIG_FILE)
        differences = config_differences(saved_config, self.model_config)
        if differences:
            raise UserError(f"The run in {self.run_dir} was trained with another model: {'; '.join(differences)}.")
        if not same_tokenizer(open_tokenizer(self.run_dir / TOKENIZER_FILE), self.tokenizer):
            raise UserError(f"The run in {self.run_dir} was trained with another tokenizer; use the one saved with it.")
        load_weights(self.model, folder / WEIGHTS_FILE)
        state = load_state(folder)
        meta = read_meta(folder)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scaler is not None and state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            self.step = int(state["step"])
            rng = state["rng"]
            torch.set_rng_state(rng["torch"])
            self.batch_generator.set_state(rng["batch"])
            if self.seq2seq is not None:
                self.seq2seq.stream.load_state(rng["stream"])
            if self.device.type == "cuda" and rng.get("cuda") is not None:
                torch.cuda.set_rng_state(rng["cuda"])
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            raise UserError(
                f"The training state in {folder} does not fit this run ({e}); it cannot be continued."
            ) from e
        self.elapsed_s = float(meta.get("elapsed_s", 0.0))
        self.last_val_loss = meta.get("val_loss")
        self.last_train_loss = meta.get("train_loss")
        self.parent, self.parent_step = meta.get("parent"), meta.get("parent_step")
        best = checkpoint_dir(self.run_dir, "best")
        if best is not None:
            best_meta = read_meta(best)
            if best_meta.get("val_loss") is not None:
                self.best_val_loss, self.best_step = float(best_meta["val_loss"]), best_meta.get("step")
        # Entries after the checkpoint (written before a crash) are dropped: they will be redone.
        self.history = [h for h in load_history(self.run_dir) if h.get("step", 0) <= self.step]
        note = replanned_note(self.history, self.train_config)
        if note:
            self.notes.append(note)
        evals = [h["step"] for h in self.history if h.get("kind") == "eval"]
        self._eval_step = evals[-1] if evals else None
        self._saved_step = {"last": self.step}
        if self.parent is not None:
            try:
                self.parent_history = load_history(Path(self.parent).parent)
            except UserError:
                self.parent_history = []  # the parent was moved or deleted: only its curve is lost
        try:  # the settings may have changed (more steps, say): the folder records the ones in use
            write_json_atomic(self.run_dir / TRAIN_CONFIG_FILE, self.train_config.to_dict())
        except OSError as e:
            raise UserError(f"Could not write the training settings to {self.run_dir}: {e.strerror or e}.") from e

    # -- the loop -----------------------------------------------------------------

    def steps(self, cancel: Optional[CancelToken] = None) -> Generator[Record, None, None]:
        """Train until max_steps or `cancel`, yielding a record for everything that happens.

        Ends with one `StoppedRecord`. Raises `UserError` when memory runs out
        or a checkpoint cannot be written (the last good checkpoint is kept).
        """
        cfg = self.train_config
        self.model.train()
        try:
            if self.step == 0 and self._eval_step is None:
                # The untrained model's loss: about ln(vocabulary size), a guess among all tokens.
                stopped = yield from self._evaluate()
                if stopped is not None:
                    yield stopped
                    return
            while self.step < cfg.max_steps:
                if cancel is not None and cancel.cancelled:
                    if self._saved_step.get("last") != self.step:
                        yield from self._save("last")
                    yield StoppedRecord(
                        self.step,
                        "stopped",
                        f"Training stopped at step {self.step:,} of {cfg.max_steps:,}. {self._in_use_sentence()}"
                        f" Saved in {self.run_dir}, so training can continue from there.",
                    )
                    return
                record = self._train_step()
                if isinstance(record, StoppedRecord):
                    yield record
                    return
                yield record
                # The sample first, so that the save after the evaluation keeps it in the history.
                if cfg.sample_interval and (self.step % cfg.sample_interval == 0 or self.step == cfg.max_steps):
                    yield self.sample()
                if self.step % cfg.eval_interval == 0 or self.step == cfg.max_steps:
                    stopped = yield from self._evaluate()
                    if stopped is not None:
                        yield stopped
                        return
            if self._eval_step != self.step:  # resumed a finished run
                stopped = yield from self._evaluate()
                if stopped is not None:
                    yield stopped
                    return
            if self._saved_step.get("last") != self.step:
                yield from self._save("last")
            best = f" (best {self.best_val_loss:.3f} at step {self.best_step:,})" if self.best_step else ""
            val = f", validation loss {self.last_val_loss:.3f}{best}" if self.last_val_loss is not None else ""
            yield StoppedRecord(
                self.step,
                "finished",
                f"Training finished after {self.step:,} steps{val}. {self._in_use_sentence()} Saved in {self.run_dir}.",
            )
        except Exception as e:
            if not is_out_of_memory(e):
                raise
            self._free_memory()
            raise UserError(
                f"Training ran out of memory on the {self.device.type.upper()} at step {self.step + 1:,}. "
                f"Try a smaller batch size (now {cfg.batch_size}), a shorter context "
                f"(now {self.model_config.context_length}) or a smaller model. {self._kept_sentence()}"
            ) from None

    def _train_step(self) -> Union[StepRecord, StoppedRecord]:
        cfg = self.train_config
        started = time.perf_counter()
        lr = lr_at(self.step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        total = None
        self._step_tokens = 0
        for _ in range(cfg.grad_accum):
            x, y = self._take_batch()
            loss = self._forward(x, y) / cfg.grad_accum
            self._draw_batch()  # the next batch is gathered while the device works
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
            else:
                loss.backward()
            total = loss.detach() if total is None else total + loss.detach()
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        assert total is not None  # grad_accum is at least 1
        norm = torch.nn.utils.clip_grad_norm_(self._params, cfg.grad_clip if cfg.grad_clip > 0 else math.inf)
        loss_value, norm_value = torch.stack([total.float(), norm.float()]).tolist()  # one sync

        # A loss (or, without loss scaling, a gradient) that is not a number
        # would spread into every weight at the optimizer step: stop before it.
        if not math.isfinite(loss_value):
            return self._diverged("loss", loss_value, self.step + 1)
        if self.scaler is None and not math.isfinite(norm_value):  # loss scaling skips such steps itself
            return self._diverged("gradient", norm_value, self.step + 1)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.last_train_loss = loss_value

        elapsed = time.perf_counter() - started
        self.elapsed_s += elapsed
        # The first step pays for warming up (allocations, compilation): skip it.
        self._step_time = (
            elapsed if self._step_time is None or self.step <= 2 else 0.9 * self._step_time + 0.1 * elapsed
        )
        tokens = (
            self._step_tokens if self.seq2seq is not None else cfg.tokens_per_step(self.model_config.context_length)
        )
        remaining = cfg.max_steps - self.step
        evals_left = remaining // cfg.eval_interval + (1 if remaining % cfg.eval_interval else 0)
        record = StepRecord(
            step=self.step,
            max_steps=cfg.max_steps,
            loss=loss_value,
            lr=lr,
            grad_norm=norm_value,
            tokens_per_s=tokens / self._step_time if self._step_time > 0 else 0.0,
            step_time_s=elapsed,
            elapsed_s=self.elapsed_s,
            eta_s=remaining * self._step_time + evals_left * self._eval_time,
            memory_bytes=self._memory_bytes(),
        )
        self.history.append({
            "kind": "train", "step": self.step, "loss": loss_value, "lr": lr, "grad_norm": norm_value,
            "tokens_per_s": record.tokens_per_s, "elapsed_s": self.elapsed_s,
        })  # fmt: skip
        return record

    def _forward(self, x: Union[torch.Tensor, Seq2SeqBatch], y: Optional[torch.Tensor]) -> torch.Tensor:
        try:
            with self._autocast():
                return self._loss(self._train_model, x, y)
        except Exception as e:
            if self._train_model is self.model or is_out_of_memory(e):
                raise
            # torch.compile fails at the first call when no compiler is installed.
            self.notes.append(f"torch.compile did not work here ({_first_line(e)}); training without it.")
            self._train_model = self.model
            with self._autocast():
                return self._loss(self.model, x, y)

    @staticmethod
    def _loss(
        model: Callable[..., Any], x: Union[torch.Tensor, Seq2SeqBatch], y: Optional[torch.Tensor]
    ) -> torch.Tensor:
        if isinstance(x, Seq2SeqBatch):
            return Seq2SeqObjective.loss(model, x)
        return model(x, y).loss

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _take_batch(self) -> Batch:
        if self._pending is None:
            self._draw_batch()
        batch, self._pending = self._pending, None
        assert batch is not None  # drawn just above, or after the previous step
        self._step_tokens += self._pending_tokens
        return batch

    def _draw_batch(self) -> None:
        # The generator's state before the draw is what a checkpoint stores, so
        # that a resumed run draws this same (not yet used) batch again.
        self._pending_state = self.batch_generator.get_state()
        cfg = self.train_config
        if self.seq2seq is not None:
            self._pending_stream = self.seq2seq.stream.state()
            batch, self._pending_tokens = self.seq2seq.batch(cfg.batch_size, self.device)
            self._pending = (batch, None)
            return
        assert self.data is not None  # only text to text trains without a corpus
        if self.mlm is not None:
            self._pending = self.mlm.batch(self.data.train, cfg.batch_size, self.batch_generator, self.device)
            return
        self._pending = get_batch(
            self.data.train, cfg.batch_size, self.model_config.context_length, self.batch_generator, self.device
        )

    def _diverged(self, what: str, value: float, failed_step: int) -> StoppedRecord:
        """Stop after a loss or gradient that is not a number; the weights on disk stay as they were."""
        became = "NaN (not a number)" if math.isnan(value) else "infinite"
        self.optimizer.zero_grad(set_to_none=True)
        # Put the last good weights back, so that `run.model` is usable.
        folder = checkpoint_dir(self.run_dir, "last")
        if folder is not None:
            load_weights(self.model, folder / WEIGHTS_FILE)
        self.history.append({"kind": "nan", "step": failed_step, "what": what})
        suggestion = _short_number(self.train_config.learning_rate / 3)
        return StoppedRecord(
            self.step,
            "nan",
            f"The {what} became {became} at step {failed_step:,}, so training stopped. {self._kept_sentence()} "
            f"Try a lower learning rate (e.g. {suggestion}) or more warmup steps.",
        )

    def _in_use_sentence(self) -> str:
        """Which checkpoint the app goes on with (the best, as `load_trained_model` picks), named by its
        step, so the message and the status bar's model never seem to disagree."""
        best_known = self.best_step is not None and self.best_val_loss is not None
        if best_known and self.best_step != self.step and checkpoint_dir(self.run_dir, "best") is not None:
            return (
                f"The model now in use is its best checkpoint, from step {self.best_step:,} "
                f"(validation loss {self.best_val_loss:.3f}); the last one is kept too."
            )
        return f"The model now in use is the one at step {self.step:,}."

    def _kept_sentence(self) -> str:
        folder = checkpoint_dir(self.run_dir, "last")
        if folder is None:
            return "No checkpoint had been saved yet."
        step = read_meta(folder).get("step", "?")
        return (
            f"The last good checkpoint (step {step:,}) is kept."
            if isinstance(step, int)
            else ("The last good checkpoint is kept.")
        )

    # -- evaluating, sampling, saving -------------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """(training loss, validation loss), each the mean over `eval_batches` fixed batches.

        The batches come from a generator seeded afresh each time: every
        evaluation measures the same windows (a smoother curve), and the
        training batches' generator is left untouched.
        """
        cfg = self.train_config
        if self.seq2seq is not None:
            return self.seq2seq.evaluate(self._t5, cfg, self.device, self._autocast)
        assert self.data is not None  # only text to text trains without a corpus
        if self.mlm is not None:
            return self.mlm.evaluate(self.model, self.data, cfg, self.device, self._autocast)
        generator = torch.Generator().manual_seed(cfg.seed + 1)
        was_training = self.model.training
        self.model.eval()
        means = []
        try:
            for tokens in (self.data.train, self.data.val):
                total = torch.zeros((), device=self.device)
                for _ in range(cfg.eval_batches):
                    x, y = get_batch(tokens, cfg.batch_size, self.model_config.context_length, generator, self.device)
                    with self._autocast():
                        total += self._gpt(x, y).loss.float()
                means.append(total / cfg.eval_batches)
            train_loss, val_loss = torch.stack(means).tolist()
        finally:
            self.model.train(was_training)
        return train_loss, val_loss

    def _evaluate(self) -> Generator[Record, None, Optional[StoppedRecord]]:
        """Evaluate, then save `last` (and `best` if it improved); returns a StoppedRecord on NaN."""
        started = time.perf_counter()
        train_loss, val_loss = self.evaluate()
        self._eval_time = time.perf_counter() - started
        self.elapsed_s += self._eval_time
        self._eval_step = self.step
        if not math.isfinite(val_loss):
            return self._diverged("validation loss", val_loss, self.step)
        self.last_val_loss = val_loss
        accuracy = self.mlm.last_accuracy if self.mlm is not None else None
        entry = {"kind": "eval", "step": self.step, "train_loss": train_loss, "val_loss": val_loss}
        self.history.append(entry if accuracy is None else {**entry, "masked_accuracy": accuracy})
        yield EvalRecord(self.step, train_loss, val_loss, accuracy)
        if self.step > 0:
            yield from self._save("last")
            if val_loss < self.best_val_loss:
                self.best_val_loss, self.best_step = val_loss, self.step
                yield from self._save("best")
        return None

    def sample(self) -> Union[SampleRecord, FillMaskSample, Seq2SeqSample]:
        """A short continuation of `sample_prompt` from the model as it is now (an encoder: its guesses
        for a few hidden words of a fixed validation sentence; an encoder-decoder: its answer to a
        fixed input, see `Seq2SeqSample`)."""
        cfg = self.train_config
        if self.seq2seq is not None:
            answer = self.seq2seq.sample(self._t5, self.step, cfg.seed, self.device, self._autocast)
            self._sample_step = self.step
            self.history.append(answer.to_history())
            return answer
        assert self.data is not None  # only text to text trains without a corpus
        if self.mlm is not None:
            fill = self.mlm.sample(self._gpt, self.data.val, self.step, self._autocast)
            self._sample_step = self.step
            self.history.append(fill.to_history())
            return fill
        ids = self.tokenizer.encode_ids([cfg.sample_prompt or "\n"])[0]
        if not ids:  # a tokenizer that drops whitespace: start from the corpus's first token
            ids = [int(self.data.train[0])]
        generator = torch.Generator().manual_seed(cfg.seed + self.step)
        with self._autocast():
            new = generate_ids(
                self._gpt, ids, cfg.sample_tokens, temperature=cfg.sample_temperature, generator=generator
            )
        text = self.tokenizer.decode(new)
        self._sample_step = self.step
        self.history.append({"kind": "sample", "step": self.step, "prompt": cfg.sample_prompt, "text": text})
        return SampleRecord(self.step, cfg.sample_prompt, text)

    def _save(self, which: str) -> Generator[CheckpointRecord, None, None]:
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "step": self.step,
            "rng": {
                "torch": torch.get_rng_state(),
                "batch": self._pending_state if self._pending is not None else self.batch_generator.get_state(),
                "stream": self._stream_state(),
                "cuda": torch.cuda.get_rng_state() if self.device.type == "cuda" else None,
            },
        }
        meta = {
            "step": self.step,
            "val_loss": self.last_val_loss,
            "val_step": self._eval_step,
            "train_loss": self.last_train_loss,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "elapsed_s": self.elapsed_s,
            "parent": self.parent,
            "parent_step": self.parent_step,
        }
        # The history first: a resumed run drops entries past its checkpoint, but
        # entries missing from the history after a kill would be lost for good.
        save_history(self.run_dir, self.history)
        path = save_checkpoint(self.run_dir, which, self.model, state, meta)
        self._saved_step[which] = self.step
        yield CheckpointRecord(self.step, path, which)

    def _stream_state(self) -> Optional[dict]:
        """An encoder-decoder's example stream where the next batch starts (before a batch drawn ahead)."""
        if self.seq2seq is None:
            return None
        return self._pending_stream if self._pending is not None else self.seq2seq.stream.state()

    @property
    def _t5(self) -> T5:
        assert isinstance(self.model, T5)
        return self.model

    @property
    def _gpt(self) -> GPT:
        assert isinstance(self.model, GPT)
        return self.model

    def _memory_bytes(self) -> Optional[int]:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device)
        if self.device.type == "mps":
            return torch.mps.current_allocated_memory()
        return None

    def _free_memory(self) -> None:
        self._pending = None
        self.optimizer.zero_grad(set_to_none=True)
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


# -- helpers ----------------------------------------------------------------------


def replanned_note(history: list[dict], cfg: TrainConfig) -> Optional[str]:
    """A sentence when `cfg`'s learning-rate schedule differs from the one the steps already taken used.

    The learning rate of a step depends only on the step and the plan (warm-up,
    peak, total steps), so a resumed run follows `cfg`'s plan exactly from the
    resume on. It equals a run trained with `cfg` in one go only if every step
    taken before also had `cfg`'s learning rate: the history records them.
    """
    trained = [h for h in history if h.get("kind") == "train" and isinstance(h.get("lr"), (int, float))]
    differs = [h["step"] for h in trained if h["lr"] != lr_at(h["step"] - 1, cfg)]
    done = trained[-1]["step"] if trained else 0
    if not differs or cfg.max_steps <= done:
        return None
    earlier = f"step {done:,} was" if differs[0] == done else f"steps {differs[0]:,} to {done:,} were"
    return (
        f"The learning-rate schedule is now planned for {cfg.max_steps:,} steps: from step {done + 1:,} on, "
        f"every step gets exactly the learning rate of a run planned for {cfg.max_steps:,} steps from the start, "
        f"but {earlier} trained on the earlier plan, so the result will differ from "
        f"{cfg.max_steps:,} steps trained in one go."
    )


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices only.

    Decay pulls weights towards zero; on biases and norm scales that only
    hurts (they set offsets and sizes, not patterns), as in GPT-2 and nanoGPT.
    """
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    extra = {"fused": True} if device.type == "cuda" else {}  # one kernel for all parameters
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=BETAS, eps=1e-8, **extra)


def same_tokenizer(a: LoadedTokenizer, b: LoadedTokenizer) -> bool:
    """True when both tokenizers turn text into the same ids (their JSON descriptions agree)."""

    def essence(t: LoadedTokenizer) -> dict:
        d = json.loads(t.tokenizer.to_str())
        d.pop("truncation", None)
        d.pop("padding", None)
        return d

    return a is b or (a.vocab_size == b.vocab_size and essence(a) == essence(b))


def config_differences(saved: ModelConfig, wanted: ModelConfig) -> list[str]:
    """How `wanted` differs from `saved` in anything but dropout (which may change between runs)."""
    return [
        f"{f.name} is {getattr(saved, f.name)!r} there but {getattr(wanted, f.name)!r} here"
        for f in fields(ModelConfig)
        if f.name != "dropout" and getattr(saved, f.name) != getattr(wanted, f.name)
    ]


def _short_number(x: float) -> str:
    """One significant digit, as people write learning rates: 0.001 -> "1e-3"."""
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
