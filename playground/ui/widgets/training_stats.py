"""The Train step's live numbers: step, losses, speed, time left, learning rate, grad norm, memory.

Two rows of five labelled numbers, kept by key in `stats` (the panel shares
that dict under the same name: presentation mode and tests reach a number's
label there). The panel hands over each record as it arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from playground.core.estimates import human_duration
from playground.ui.themes import themed_style

if TYPE_CHECKING:
    from playground.core.training import EvalRecord, StepRecord


class Stat(QWidget):
    """A small labelled number: the caption above, the value large."""

    def __init__(self, caption: str, tooltip: str) -> None:
        super().__init__()
        self.value = QLabel("—")
        themed_style(self.value, "font-size: 15pt; font-weight: 600; color: {heading};")
        cap = QLabel(caption)
        themed_style(cap, "color: {muted}; font-size: 9pt;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(0)
        layout.addWidget(cap)
        layout.addWidget(self.value)
        self.setToolTip(tooltip)

    def set(self, text: str) -> None:
        self.value.setText(text)


class TrainingStats(QWidget):
    """The numbers of the run under way, each with a tooltip saying what it measures."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.stats = {
            "step": Stat("step", "Optimizer steps done of the total."),
            "loss": Stat("train loss", "Cross-entropy on the latest training batch (lower is better)."),
            "val": Stat("val loss", "Cross-entropy on held-out text, measured every evaluation."),
            "ppl": Stat("perplexity", "e^(val loss): how many tokens the model is, in effect, choosing between."),
            "tps": Stat("tokens/s", "Training tokens processed per second."),
            "step_time": Stat("step time", "Seconds per optimizer step."),
            "eta": Stat("time left", "Estimated from the recent speed."),
            "lr": Stat("learning rate", "The learning rate of the latest step (warm-up, then cosine decay)."),
            "gnorm": Stat("grad norm", "Length of the gradient before clipping: spikes warn of instability."),
            "mem": Stat("GPU memory", "Memory the GPU holds for this run (CUDA only)."),
        }
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)  # sits in the panel's column as a bare grid would
        for i, stat in enumerate(self.stats.values()):
            grid.addWidget(stat, i // 5, i % 5)

    def show_step(self, r: StepRecord) -> None:
        self.stats["step"].set(f"{r.step:,} / {r.max_steps:,}")
        self.stats["loss"].set(f"{r.loss:.3f}")
        self.stats["tps"].set(f"{r.tokens_per_s:,.0f}")
        self.stats["step_time"].set(f"{1000 * r.step_time_s:,.0f} ms")
        self.stats["eta"].set(human_duration(r.eta_s))
        self.stats["lr"].set(f"{r.lr:.2e}")
        self.stats["gnorm"].set(f"{r.grad_norm:.2f}")
        self.stats["mem"].set("—" if r.memory_bytes is None else f"{r.memory_bytes / 2**20:,.0f} MiB")

    def run_ended(self) -> None:
        """No run under way: nothing is left to wait for (the other numbers stay, as the run left them)."""
        self.stats["eta"].set("—")

    def show_eval(self, record: EvalRecord) -> None:
        self.stats["val"].set(f"{record.val_loss:.3f}")
        self.stats["ppl"].set(f"{record.perplexity:,.1f}")
