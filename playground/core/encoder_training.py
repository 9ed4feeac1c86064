"""What training an encoder adds to `training.TrainingRun`: masked batches, masked-token accuracy,
and the fill-the-mask sample that stands in for a decoder's generated text.

A training example is a window of the token stream between [CLS] and [SEP]
(as BERT reads a text), with tokens hidden by `masking.mask_tokens`. The
windows and the hidden tokens come from the run's batch generator, so a
checkpoint's generator state brings back the very same batch (exact resume).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

from .config import ModelConfig
from .data import TokenData
from .fill_mask import Candidate, mask_candidates
from .masking import encoder_tokens, mask_tokens, masked_accuracy_counts
from .progress import UserError
from .tokenization import LoadedTokenizer
from .train_config import TrainConfig

SAMPLE_TOKENS = 24  # the fill-the-mask sample's length, in tokens
SAMPLE_MASKS = 3
SAMPLE_GUESSES = 3


@dataclass(frozen=True)
class MaskGuesses:
    """One hidden word of the fill-the-mask sample: what it was, and the model's top guesses."""

    answer: str
    guesses: tuple[Candidate, ...]  # most likely first


@dataclass(frozen=True)
class FillMaskSample:
    """An encoder's sample during training: a fixed validation sentence with a few words hidden.

    `text` shows [MASK] where they were; over the run the guesses turn from noise into the answers.
    """

    step: int
    text: str
    masks: tuple[MaskGuesses, ...]

    def to_history(self) -> dict:
        return {
            "kind": "fill_mask",
            "step": self.step,
            "text": self.text,
            "masks": [
                {"answer": m.answer, "guesses": [[g.text, g.probability] for g in m.guesses]} for m in self.masks
            ],
        }


class MaskedLM:
    """The masked-LM objective for one run: its special ids, its batches, its evaluation and sample."""

    def __init__(self, tokenizer: LoadedTokenizer, model_config: ModelConfig, train_config: TrainConfig) -> None:
        self.tokenizer = tokenizer
        self.tokens = encoder_tokens(tokenizer)  # UserError without [MASK]
        self.mask_share = train_config.mask_share
        self.window = model_config.context_length - self.tokens.wrapping
        if self.window < 1:
            raise UserError(
                f"A context of {model_config.context_length} tokens leaves no room for text between [CLS] and "
                f"[SEP]: choose a context of at least {self.tokens.wrapping + 1}."
            )
        self.last_accuracy: Optional[float] = None
        self._sample: Optional[tuple[list[int], list[int]]] = None

    def batch(
        self, ids: np.ndarray, batch_size: int, generator: torch.Generator, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`batch_size` random windows, wrapped and masked: (inputs, labels), each [B, context]."""
        starts = torch.randint(len(ids) - self.window + 1, (batch_size,), generator=generator).numpy()
        windows = torch.from_numpy(ids[starts[:, None] + np.arange(self.window)].astype(np.int64))
        columns = [windows]
        if self.tokens.cls is not None:
            columns.insert(0, torch.full((batch_size, 1), self.tokens.cls, dtype=torch.long))
        if self.tokens.sep is not None:
            columns.append(torch.full((batch_size, 1), self.tokens.sep, dtype=torch.long))
        inputs, labels = mask_tokens(torch.cat(columns, dim=1), self.tokens, generator, self.mask_share)
        if device.type == "cuda":
            return inputs.pin_memory().to(device, non_blocking=True), labels.pin_memory().to(device, non_blocking=True)
        return inputs.to(device), labels.to(device)

    @torch.no_grad()
    def evaluate(
        self,
        model: torch.nn.Module,
        data: TokenData,
        cfg: TrainConfig,
        device: torch.device,
        autocast: Callable[[], contextlib.AbstractContextManager],
    ) -> tuple[float, float]:
        """(training loss, validation loss) on the same masked batches each time, as `TrainingRun.evaluate`;
        the validation batches' masked-token accuracy goes to `last_accuracy`."""
        generator = torch.Generator().manual_seed(cfg.seed + 1)
        was_training = model.training
        model.eval()
        means = []
        try:
            for tokens in (data.train, data.val):
                total = torch.zeros((), device=device)
                correct = torch.zeros((), device=device, dtype=torch.long)
                chosen = torch.zeros((), device=device, dtype=torch.long)
                for _ in range(cfg.eval_batches):
                    x, y = self.batch(tokens, cfg.batch_size, generator, device)
                    with autocast():
                        output = model(x, y)
                    total += output.loss.float()
                    right, count = masked_accuracy_counts(output.logits, y)
                    correct, chosen = correct + right, chosen + count
                means.append(total / cfg.eval_batches)
            train_loss, val_loss, right_val, chosen_val = torch.stack(
                [means[0], means[1], correct.float(), chosen.float()]
            ).tolist()
        finally:
            model.train(was_training)
        self.last_accuracy = right_val / chosen_val if chosen_val else None
        return train_loss, val_loss

    def sample(
        self,
        model: torch.nn.Module,
        val: np.ndarray,
        step: int,
        autocast: Callable[[], contextlib.AbstractContextManager],
    ) -> FillMaskSample:
        """The model's top guesses for the hidden words of the fixed validation sentence."""
        ids, positions = self._sample_sentence(val)
        masked = list(ids)
        for p in positions:
            masked[p] = self.tokens.mask
        with autocast():
            guesses = mask_candidates(model, self.tokenizer, masked, positions, SAMPLE_GUESSES)
        answers = [self.tokenizer.token_text(ids[p]) for p in positions]
        inner = masked[1:-1] if self.tokens.wrapping == 2 else masked
        text = self.tokenizer.tokenizer.decode(inner, skip_special_tokens=False)
        return FillMaskSample(step, text, tuple(MaskGuesses(a, g) for a, g in zip(answers, guesses)))

    def _sample_sentence(self, val: np.ndarray) -> tuple[list[int], list[int]]:
        """The validation split's first tokens, wrapped, and the positions of a few words spread over them."""
        if self._sample is None:
            ids = self.tokens.wrap([int(i) for i in val[: min(SAMPLE_TOKENS, self.window)]])
            special = set(self.tokens.special)
            eligible = [i for i, t in enumerate(ids) if t not in special]
            words = [i for i in eligible if _is_word(self.tokenizer.tokenizer.id_to_token(ids[i]) or "")]
            pool = words if len(words) >= SAMPLE_MASKS else eligible
            count = min(SAMPLE_MASKS, len(pool))
            picks = sorted({pool[round(k * (len(pool) - 1) / max(1, count - 1))] for k in range(count)})
            self._sample = (ids, picks)
        return self._sample


def _is_word(token: str) -> bool:
    """A whole word of two letters or more (not a piece continuing a word, nor punctuation)."""
    if token.startswith("##"):
        return False
    bare = token.lstrip("Ġ▁")
    return len(bare) >= 2 and bare.isalpha()
