"""The Train step's two charts: the loss curves and the learning-rate schedule.

The loss chart shows training loss per step, validation loss per evaluation
and, when fine-tuning, the parent run's loss before step 0. The schedule
chart shows the learning rate the settings give each step, with a line at the
step the run has reached.

They sit in different places of the panel (the loss above, the schedule
beside the samples), so this holds one box for each. The plots are made in
them by `make()`, once the panel is first shown: importing pyqtgraph and
building plots is slow, and a panel never shown needs neither. Until then the
draw methods do nothing; the panel draws what it holds right after `make()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from PySide6.QtWidgets import QVBoxLayout, QWidget

from playground.ui.themes import colour, plot_colours

if TYPE_CHECKING:
    from playground.core.train_config import TrainConfig

Series = tuple[Sequence[float], Sequence[float]]  # x values, y values


class TrainingCharts:
    """The loss and learning-rate plots, made on demand in `loss_box` and `lr_box`."""

    def __init__(self) -> None:
        self.loss_area, self.lr_area = QVBoxLayout(), QVBoxLayout()
        self.loss_box, self.lr_box = QWidget(), QWidget()
        self.loss_box.setLayout(self.loss_area)
        self.lr_box.setLayout(self.lr_area)
        self.ready = False

    def make(self) -> None:
        if self.ready:
            return
        import pyqtgraph as pg

        background, foreground = plot_colours()
        pg.setConfigOptions(antialias=True, background=background, foreground=foreground)
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setTitle("Loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "cross-entropy")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.25)
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.setClipToView(True)
        self.loss_plot.setDownsampling(auto=True, mode="peak")
        self.parent_curve = self.loss_plot.plot([], [], pen=pg.mkPen(colour("bar_before"), width=1.5))
        self.train_curve = self.loss_plot.plot([], [], pen=pg.mkPen(colour("series_blue"), width=1.5), name="train")
        self.val_curve = self.loss_plot.plot(
            [],
            [],
            pen=pg.mkPen(colour("series_red"), width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush=colour("series_red"),
            name="validation",
        )
        self.lr_plot = pg.PlotWidget()
        self.lr_plot.setTitle("Learning-rate schedule")
        self.lr_plot.setLabel("bottom", "step")
        self.lr_plot.showGrid(x=True, y=True, alpha=0.25)
        self.lr_plot.getAxis("left").setStyle(tickTextWidth=40)
        self.lr_plot.setMinimumHeight(150)
        self.lr_curve = self.lr_plot.plot([], [], pen=pg.mkPen(colour("series_purple"), width=2))
        self.lr_now = pg.InfiniteLine(angle=90, pen=pg.mkPen(colour("marker"), width=2))
        self.lr_plot.addItem(self.lr_now)
        self.loss_area.setContentsMargins(0, 0, 0, 0)
        self.lr_area.setContentsMargins(0, 0, 0, 0)
        self.loss_area.addWidget(self.loss_plot)
        self.lr_area.addWidget(self.lr_plot)
        self.ready = True

    def draw_losses(self, train: Series, val: Series, parent: Series) -> None:
        """The curves of this run, and of the parent run while there is one (fine-tuning)."""
        if not self.ready:
            return
        self.train_curve.setData(*train)
        self.val_curve.setData(*val)
        self.parent_curve.setData(*parent)
        # The parent run is in the legend only while there is one.
        legend = self.loss_plot.plotItem.legend
        listed = any(item is self.parent_curve for item, _ in legend.items)
        if parent[0] and not listed:
            legend.addItem(self.parent_curve, "before (parent run)")
        elif not parent[0] and listed:
            legend.removeItem(self.parent_curve)

    def draw_schedule(self, cfg: TrainConfig) -> None:
        if not self.ready:
            return
        from playground.core.train_config import lr_schedule

        steps, lrs = lr_schedule(cfg)
        self.lr_curve.setData([s + 1 for s in steps], lrs)

    def mark_step(self, step: int) -> None:
        """Move the schedule's line to the step the run has reached."""
        if self.ready:
            self.lr_now.setValue(step)
