"""Training settings and the learning-rate schedule: what the Train panel edits and draws.

Kept apart from `training` (which needs PyTorch) so the window can show its
settings before PyTorch has loaded.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, Optional

from playground.core.config import _is_int, _is_number
from playground.core.progress import UserError

DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("fp32", "bf16", "fp16")
# AdamW's momentum terms. 0.99 rather than GPT-2's 0.95 for the second: with
# the few tokens per step of a small run, the gradient scale is noisy and a
# longer average steadies it (nanoGPT's Shakespeare settings do the same).
BETAS = (0.9, 0.99)
# What an encoder-decoder (T5 style) learns: to write back spans dropped from the corpus (T5's
# pre-training), or to answer the inputs of a task with their references (text to text).
OBJECTIVES = ("span-corruption", "text-to-text")


# -- settings -----------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """How to train: what the Train panel edits, stored as train_config.json."""

    batch_size: int = 16  # windows per micro-batch
    learning_rate: float = 3e-3  # the peak, reached after warm-up
    min_lr_ratio: float = 0.1  # the cosine decay ends at this share of the peak
    warmup_steps: int = 20
    max_steps: int = 500
    weight_decay: float = 0.1  # on matrices only, not on biases and norms
    grad_clip: float = 1.0  # largest gradient norm; 0 turns clipping off
    grad_accum: int = 1  # micro-batches summed into one optimizer step
    eval_interval: int = 50
    eval_batches: int = 8
    sample_interval: int = 100  # 0: no samples
    sample_tokens: int = 48
    sample_prompt: str = ""  # empty: start from a newline
    sample_temperature: float = 0.8  # 0 is greedy, which loops on an undertrained model
    seed: int = 1337
    device: str = "auto"  # "auto", "cuda", "mps" or "cpu"
    precision: str = "fp32"  # "fp32", "bf16" or "fp16": mixed precision on CUDA only
    compile: bool = False  # torch.compile the model (needs a working compiler)
    val_fraction: float = 0.1  # the corpus's tail held out for validation
    mask_share: float = 0.15  # encoders: the share of tokens hidden for the model to recover (BERT's 15%)
    # Encoder-decoders only (appended last, so older files read the same):
    objective: str = "span-corruption"  # or "text-to-text" (see OBJECTIVES)
    noise_share: float = 0.15  # span corruption: the share of tokens dropped (T5's 15%) ...
    mean_span: float = 3.0  # ... in spans of this mean length, in tokens (T5's 3)
    task: str = ""  # text to text: a task file (CSV/JSONL, as Evaluate reads) or a shipped task set's key
    task_prefix: Optional[str] = None  # put before every input; None: the task set's own ("" for a file)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def tokens_per_step(self, context_length: int) -> int:
        """Tokens the model learns from in one optimizer step."""
        return self.batch_size * self.grad_accum * context_length

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Read `to_dict`'s output. Missing keys take the defaults; unknown keys are an error."""
        if not isinstance(data, Mapping):
            raise UserError(f"A training configuration must be a set of named values, not {type(data).__name__}.")
        known = [f.name for f in fields(cls)]
        unknown = [key for key in data if key not in known]
        if unknown:
            raise UserError(
                f"The training configuration has settings this version does not know: "
                f"{', '.join(map(repr, unknown))}. Known settings are: {', '.join(known)}."
            )
        return cls(**data)

    def validate(self) -> list[str]:
        """Everything wrong with these settings, as sentences; empty when training can start."""
        problems: list[str] = []
        whole = {
            "batch_size": ("The batch size", 1), "warmup_steps": ("Warm-up steps", 0),
            "max_steps": ("The number of steps", 1), "grad_accum": ("Gradient accumulation", 1),
            "eval_interval": ("The evaluation interval", 1), "eval_batches": ("Evaluation batches", 1),
            "sample_interval": ("The sample interval", 0), "sample_tokens": ("Sample tokens", 0),
        }  # fmt: skip
        for name, (label, least) in whole.items():
            value = getattr(self, name)
            if not _is_int(value) or value < least:
                problems.append(f"{label} must be a whole number of at least {least}, not {value!r}.")
        if not _is_int(self.seed):
            problems.append(f"The seed must be a whole number, not {self.seed!r}.")
        if not _is_number(self.learning_rate) or not 0 < self.learning_rate < 1:
            problems.append(
                f"The learning rate must be above 0 and below 1 (3e-3 suits a small model), not {self.learning_rate!r}."
            )
        if not _is_number(self.min_lr_ratio) or not 0 <= self.min_lr_ratio <= 1:
            problems.append(f"The final learning-rate share must be between 0 and 1, not {self.min_lr_ratio!r}.")
        if not _is_number(self.val_fraction) or not 0 < self.val_fraction < 1:
            problems.append(
                f"The validation share must be above 0 and below 1 (0.1 is typical), not {self.val_fraction!r}."
            )
        if not _is_number(self.mask_share) or not 0 < self.mask_share < 1:
            problems.append(
                f"The share of tokens to hide must be above 0 and below 1 (BERT hides 0.15), not {self.mask_share!r}."
            )
        problems += self._encoder_decoder_problems()
        for name, label in (
            ("weight_decay", "Weight decay"),
            ("grad_clip", "Gradient clipping"),
            ("sample_temperature", "The sample temperature"),
        ):
            value = getattr(self, name)
            if not _is_number(value) or value < 0 or not math.isfinite(value):
                problems.append(f"{label} must be 0 or more, not {value!r}.")
        if self.device not in DEVICES:
            problems.append(f"The device must be one of {', '.join(DEVICES)}, not {self.device!r}.")
        if self.precision not in PRECISIONS:
            problems.append(f"The precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}.")
        if not isinstance(self.compile, bool):
            problems.append(f"Compile must be true or false, not {self.compile!r}.")
        if not isinstance(self.sample_prompt, str):
            problems.append("The sample prompt must be text.")
        return problems

    def _encoder_decoder_problems(self) -> list[str]:
        problems: list[str] = []
        if self.objective not in OBJECTIVES:
            problems.append(f"The objective must be one of {', '.join(OBJECTIVES)}, not {self.objective!r}.")
        if not _is_number(self.noise_share) or not 0 < self.noise_share < 1:
            problems.append(
                f"The share of tokens to drop must be above 0 and below 1 (T5 drops 0.15), not {self.noise_share!r}."
            )
        if not _is_number(self.mean_span) or not 1 <= self.mean_span < math.inf:
            problems.append(f"The mean span length must be at least 1 token (T5: 3), not {self.mean_span!r}.")
        if not isinstance(self.task, str):
            problems.append("The task must be a file's path or a task set's name, as text.")
        if self.task_prefix is not None and not isinstance(self.task_prefix, str):
            problems.append("The task prefix must be text.")
        return problems

    def raise_if_invalid(self) -> None:
        problems = self.validate()
        if problems:
            raise UserError(" ".join(problems))


# -- the learning-rate schedule -------------------------------------------------


def lr_at(step: int, cfg: TrainConfig) -> float:
    """The learning rate for optimizer step `step` (counting from 0).

    A linear warm-up over `warmup_steps` (Adam's early updates are large while
    its averages are still empty), then a cosine curve from the peak down to
    `min_lr_ratio` of it at `max_steps`: big steps while the loss falls fast,
    small ones to settle at the end. As in nanoGPT.
    """
    peak = cfg.learning_rate
    lowest = peak * cfg.min_lr_ratio
    if step < cfg.warmup_steps:
        return peak * (step + 1) / (cfg.warmup_steps + 1)
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return lowest + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - lowest)


def lr_schedule(cfg: TrainConfig, points: int = 1000) -> tuple[list[int], list[float]]:
    """Steps and their learning rates for drawing the schedule: at most ``points``
    of them (plus the end of warm-up), so a million-step run draws as fast as a short one."""
    n = cfg.max_steps
    stride = max(1, n // points)
    steps = sorted(set(range(0, n, stride)) | {min(cfg.warmup_steps, n - 1), n - 1})
    return steps, [lr_at(step, cfg) for step in steps]
