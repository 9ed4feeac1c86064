"""The Train step's live numbers: step, losses, speed, time left, learning rate, grad norm, memory.

Rows of labelled numbers (two of five, or more rows when the numbers are big), kept by key in `stats` (the panel shares
that dict under the same name: presentation mode and tests reach a number's
label there). The panel hands over each record as it arrives. For an encoder
the perplexity's place shows the masked-token accuracy: an encoder's
"perplexity" over hidden tokens, each guessed from both sides, is not the
decoder's, and the share of hidden tokens recovered says more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from playground.core.estimates import human_duration
from playground.ui.themes import themed_style
from playground.ui.widgets.even_rows import even_columns

if TYPE_CHECKING:
    from playground.core.training import EvalRecord, StepRecord

MAX_COLUMNS, MIN_COLUMNS = 5, 3
ADVANCED = ("step_time", "lr", "gnorm", "mem")  # hidden in presentation mode


PERPLEXITY_TIP = "e^(val loss): how many tokens the model is, in effect, choosing between."
ACCURACY_TIP = (
    "Masked-token accuracy: the share of the hidden validation tokens the model guesses right (its top guess is the token "
    "that was hidden), at the latest evaluation."
)


class Stat(QWidget):
    """A small labelled number: the caption above, the value large."""

    def __init__(self, caption: str, tooltip: str) -> None:
        super().__init__()
        self.value = QLabel("—")
        themed_style(self.value, "font-size: 15pt; font-weight: 600; color: {heading};")
        self.caption = cap = QLabel(caption)
        themed_style(cap, "color: {muted}; font-size: 9pt;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(0)
        layout.addWidget(cap)
        layout.addWidget(self.value)
        self.setToolTip(tooltip)

    def set(self, text: str) -> None:
        self.value.setText(text)

    def name(self, caption: str, tooltip: str) -> None:
        """Say what the number is (the same place may hold another number for another kind of model)."""
        self.caption.setText(caption)
        self.setToolTip(tooltip)


class TrainingStats(QWidget):
    """The numbers of the run under way, each with a tooltip saying what it measures."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.stats = {
            "step": Stat("step", "Optimizer steps done of the total."),
            "loss": Stat("train loss", "Cross-entropy on the latest training batch (lower is better)."),
            "val": Stat("val loss", "Cross-entropy on held-out text, measured every evaluation."),
            "ppl": Stat("perplexity", PERPLEXITY_TIP),
            "tps": Stat("tokens/s", "Training tokens processed per second."),
            "step_time": Stat("step time", "Seconds per optimizer step."),
            "eta": Stat("time left", "Estimated from the recent speed."),
            "lr": Stat("learning rate", "The learning rate of the latest step (warm-up, then cosine decay)."),
            "gnorm": Stat("grad norm", "Length of the gradient before clipping: spikes warn of instability."),
            "mem": Stat("GPU memory", "Memory the GPU holds for this run (CUDA only)."),
        }
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)  # sits in the panel's column as a bare grid would
        self.columns = 0
        self._laid_out: list[Stat] = []
        self._lay_out(MAX_COLUMNS)

    def advanced_widgets(self) -> list[QWidget]:
        """The numbers presentation mode hides: a room follows the loss, the speed and the time left."""
        return [self.stats[key] for key in ADVANCED]

    def _shown(self) -> list[Stat]:
        """The numbers not hidden on purpose (a number not shown yet, its panel being built, counts)."""
        explicit = Qt.WidgetAttribute.WA_WState_ExplicitShowHide
        return [s for s in self.stats.values() if not (s.isHidden() and s.testAttribute(explicit))]

    def _widest(self) -> int:
        return max((stat.minimumSizeHint().width() for stat in self._shown()), default=0)

    def columns_for(self, width: int) -> int:
        """As many numbers per row as fit (at most five), evened out over the rows (10 → 5 + 5 or 4 + 4 + 2)."""
        fit = max(MIN_COLUMNS, min(MAX_COLUMNS, width // max(1, self._widest() + self.grid.horizontalSpacing())))
        return even_columns(len(self._shown()), fit)

    def _lay_out(self, columns: int) -> None:
        shown = self._shown()
        if (columns, shown) == (self.columns, self._laid_out):
            return
        self.columns, self._laid_out = columns, shown
        for stat in self.stats.values():
            self.grid.removeWidget(stat)
        for i, stat in enumerate(shown):
            self.grid.addWidget(stat, i // columns, i % columns)
        for c in range(MAX_COLUMNS):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        """Narrow enough for the fewest columns: big type (presentation mode) wraps the numbers onto more rows
        rather than widen the step."""
        hint = super().minimumSizeHint()
        rows = -(-len(self._shown()) // MIN_COLUMNS)
        height = max(hint.height(), rows * max((s.minimumSizeHint().height() for s in self._shown()), default=0))
        return QSize(MIN_COLUMNS * (self._widest() + self.grid.horizontalSpacing()), height)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._lay_out(self.columns_for(self.width()))

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # a number hidden or shown (presentation mode)
            self._lay_out(self.columns_for(self.width()))
        return super().event(event)

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

    def set_encoder(self, encoder: bool) -> None:
        """An encoder's run shows its masked-token accuracy where a decoder's shows perplexity."""
        stat = self.stats["ppl"]
        caption, tip = ("accuracy", ACCURACY_TIP) if encoder else ("perplexity", PERPLEXITY_TIP)
        if stat.caption.text() != caption:
            stat.name(caption, tip)
            stat.set("—")  # the other kind's number means nothing here

    def show_eval(self, record: EvalRecord) -> None:
        self.stats["val"].set(f"{record.val_loss:.3f}")
        if record.masked_accuracy is not None:
            self.stats["ppl"].set(f"{record.masked_accuracy:.1%}")
        else:
            self.stats["ppl"].set(f"{record.perplexity:,.1f}")
