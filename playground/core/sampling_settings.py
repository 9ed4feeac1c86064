"""Sampling settings and their presets: what the Generate panel edits (no PyTorch here,
so the panel fills its controls before PyTorch has loaded). The sampling itself is in `sampling`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from playground.core.progress import UserError

STRATEGIES = ("greedy", "sample", "beam")


@dataclass(frozen=True)
class SamplingSettings:
    """Everything that steers generation; the neutral value switches a control off."""

    strategy: str = "sample"
    temperature: float = 0.8
    top_k: int = 0  # 0: off
    top_p: float = 1.0  # 1: off
    min_p: float = 0.0  # 0: off
    repetition_penalty: float = 1.0  # 1: off
    beams: int = 4
    length_penalty: float = 1.0
    early_stopping: bool = True
    max_new_tokens: int = 100
    stop_strings: tuple[str, ...] = ()
    seed: Optional[int] = 0  # None: a different draw every time
    stop_at_end: bool = True  # stop at the tokenizer's end-of-text token

    def problems(self) -> list[str]:
        """Sentences naming each setting that cannot work, whatever the strategy (the window and the
        command line share them); empty when all is well."""
        found = []
        if self.strategy not in STRATEGIES:
            found.append(f"Unknown strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}.")
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            found.append(
                f"The temperature cannot be {self.temperature:g}: it divides the scores, so use a "
                "number above 0 (or greedy for always the most likely token)."
            )
        elif self.strategy == "sample" and self.temperature == 0:
            found.append("Sampling needs a temperature above 0 (use greedy for always the most likely token).")
        if self.top_k < 0:
            found.append(f"top-k must be 0 (off) or more, not {self.top_k}.")
        if not 0 < self.top_p <= 1:
            found.append(f"top-p must be above 0 and at most 1 (1 is off), not {self.top_p:g}.")
        if not 0 <= self.min_p < 1:
            found.append(f"min-p must be at least 0 (off) and below 1, not {self.min_p:g}.")
        if not (self.repetition_penalty > 0 and math.isfinite(self.repetition_penalty)):
            found.append(f"The repetition penalty must be above 0 (1 is off), not {self.repetition_penalty:g}.")
        if self.beams < 1:
            found.append(f"Beam search needs at least 1 beam, not {self.beams}.")
        if not math.isfinite(self.length_penalty):
            found.append(f"The length penalty must be a number (1 is the usual), not {self.length_penalty:g}.")
        if self.max_new_tokens < 1:
            found.append(f"Max new tokens must be at least 1, not {self.max_new_tokens}.")
        return found

    def raise_if_invalid(self) -> None:
        found = self.problems()
        if found:
            raise UserError(" ".join(found))


PRESETS = {
    "deterministic": SamplingSettings(strategy="greedy", temperature=1.0, repetition_penalty=1.0),
    "balanced": SamplingSettings(strategy="sample", temperature=0.8, top_k=50, top_p=0.95, repetition_penalty=1.1),
    "creative": SamplingSettings(strategy="sample", temperature=1.1, top_p=0.98, min_p=0.02, repetition_penalty=1.05),
}
