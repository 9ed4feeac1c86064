"""The Train step's two charts: the loss curves and the learning-rate schedule.

The loss chart shows training loss per step, validation loss per evaluation
and, when fine-tuning, the parent run's loss before step 0. For an encoder it
also shows the masked-token accuracy of each evaluation, on an axis of its own
at the right (0 to 100%). The schedule
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

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from playground.ui.themes import colour, plot_colours

if TYPE_CHECKING:
    from playground.core.train_config import TrainConfig

Series = tuple[Sequence[float], Sequence[float]]  # x values, y values


class TrainingCharts:
    """The loss and learning-rate plots, made on demand in `loss_box` and `lr_box`."""

    ACCURACY_LABEL = "masked-token accuracy (right axis)"

    def __init__(self) -> None:
        self.loss_area, self.lr_area = QVBoxLayout(), QVBoxLayout()
        self.loss_box, self.lr_box = QWidget(), QWidget()
        self.loss_box.setLayout(self.loss_area)
        self.lr_box.setLayout(self.lr_area)
        self.ready = False
        self.encoder = False  # whether the accuracy axis is shown

    LEGEND_MARGIN = 10  # pixels between the legend and the plot's top right corner

    def _place_legend(self, *_) -> None:
        """The legend at the top right corner of the loss plot's view, if both still exist."""
        from shiboken6 import isValid

        box = self.loss_plot.getViewBox() if isValid(self.loss_plot) else None
        legend = self.loss_plot.plotItem.legend if box is not None else None
        if box is None or legend is None or not isValid(box) or not isValid(legend):
            return
        margin = self.LEGEND_MARGIN
        legend.setPos(box.boundingRect().width() - legend.boundingRect().width() - margin, margin)

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
        # Placed by `_place_legend`, not by pyqtgraph's anchor (offset=None): that one reads the view box's
        # size on every change of the legend's, also while Qt deletes a closed panel's plot, view box first
        # ("Internal C++ object (ViewBox) already deleted" in whatever ran next).
        legend = self.loss_plot.addLegend(offset=None)
        legend.geometryChanged.connect(self._place_legend)
        self.loss_plot.getViewBox().sigResized.connect(self._place_legend)
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
        self._make_accuracy_axis()
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
        self._show_accuracy_axis()

    def _make_accuracy_axis(self) -> None:
        """A second view box over the loss plot, sharing its steps, scaled 0-100% on the right axis."""
        import pyqtgraph as pg

        item = self.loss_plot.plotItem
        self.accuracy_view = pg.ViewBox(enableMouse=False)
        item.scene().addItem(self.accuracy_view)
        right = item.getAxis("right")
        right.linkToView(self.accuracy_view)
        right.setLabel("masked-token accuracy (%)")
        self.accuracy_view.setXLink(item)
        self.accuracy_view.setYRange(0, 100, padding=0.02)
        self.accuracy_curve = pg.PlotDataItem(
            [],
            [],
            pen=pg.mkPen(colour("series_green"), width=2, style=Qt.PenStyle.DashLine),
            symbol="t",
            symbolSize=7,
            symbolBrush=colour("series_green"),
        )
        self.accuracy_view.addItem(self.accuracy_curve)

        def follow() -> None:
            self.accuracy_view.setGeometry(item.vb.sceneBoundingRect())

        item.vb.sigResized.connect(follow)
        follow()

    def set_encoder(self, encoder: bool) -> None:
        """Show the accuracy axis and its curve for an encoder, the loss as the hidden tokens' loss."""
        if encoder == self.encoder:
            return  # asked on every change of the session: the plot is laid out again only when it must be
        self.encoder = encoder
        if self.ready:
            self._show_accuracy_axis()

    def _show_accuracy_axis(self) -> None:
        item = self.loss_plot.plotItem
        item.showAxis("right", self.encoder)
        self.accuracy_view.setVisible(self.encoder)
        self.loss_plot.setLabel("left", "cross-entropy (hidden tokens)" if self.encoder else "cross-entropy")
        self._list(self.accuracy_curve, self.ACCURACY_LABEL, self.encoder)

    def _list(self, curve, name: str, listed: bool) -> None:
        """Put a curve in the legend, or take it out."""
        legend = self.loss_plot.plotItem.legend
        there = any(getattr(sample, "item", sample) is curve for sample, _ in legend.items)  # an ItemSample each
        if listed and not there:
            legend.addItem(curve, name)
        elif not listed and there:
            legend.removeItem(curve)

    def draw_losses(self, train: Series, val: Series, parent: Series, accuracy: Series = ((), ())) -> None:
        """The curves of this run, and of the parent run while there is one (fine-tuning); an encoder's
        masked-token accuracy (as fractions) too."""
        if not self.ready:
            return
        self.train_curve.setData(*train)
        self.val_curve.setData(*val)
        self.parent_curve.setData(*parent)
        self.accuracy_curve.setData(list(accuracy[0]), [100 * a for a in accuracy[1]])
        # The parent run is in the legend only while there is one.
        self._list(self.parent_curve, "before (parent run)", bool(parent[0]))

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
