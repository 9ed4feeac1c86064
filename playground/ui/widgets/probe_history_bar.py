"""The training history bar: a slider over the probe records a training run sent, and "Follow latest"."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QWidget

from playground.core.attention_records import ProbeEntry, ProbeHistory


class ProbeHistoryBar(QWidget):
    """Scrubs through a `ProbeHistory`; emits the entry chosen by moving the slider or by following again."""

    chosen = Signal(object)  # ProbeEntry

    def __init__(self, history: ProbeHistory, parent=None) -> None:
        super().__init__(parent)
        self.history = history
        self._setting = False
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Scrub back through the training steps the probe captured (← and → step through them).")
        self.slider.valueChanged.connect(self._on_slider)
        self.label = QLabel("no steps yet")
        self.label.setMinimumWidth(190)
        self.follow_latest = QCheckBox("Follow latest")
        self.follow_latest.setChecked(True)
        self.follow_latest.setToolTip(
            "Show each new capture as it arrives. Moving the slider back turns "
            "this off; moving it to the end turns it on."
        )
        self.follow_latest.toggled.connect(self._on_follow_toggled)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Training history</b>"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.follow_latest)

    @property
    def following(self) -> bool:
        return self.follow_latest.isChecked()

    def chosen_entry(self) -> Optional[ProbeEntry]:
        """The entry the slider points at (None with no history)."""
        if not len(self.history):
            return None
        return self.history[min(self.slider.value(), len(self.history) - 1)]

    def refresh(self, shown: Optional[ProbeEntry]) -> None:
        """Fit the slider to the history: at its end when following, else at the `shown` entry."""
        self._setting = True
        try:
            n = len(self.history)
            self.slider.setRange(0, max(0, n - 1))
            if self.following or shown is None:
                self.slider.setValue(max(0, n - 1))
            else:
                self.slider.setValue(self.history.index_of(shown))
            self.slider.setEnabled(n > 1)
        finally:
            self._setting = False

    def update_label(self) -> None:
        n = len(self.history)
        if not n:
            self.label.setText("no steps captured yet")
            return
        i = min(self.slider.value(), n - 1)
        self.label.setText(f"step {self.history[i].step:,}  ({i + 1} of {n} captured)")

    def _on_slider(self, value: int) -> None:
        if self._setting or not len(self.history):
            return
        at_end = value >= len(self.history) - 1
        if self.following != at_end:
            self.follow_latest.blockSignals(True)
            self.follow_latest.setChecked(at_end)
            self.follow_latest.blockSignals(False)
        self.chosen.emit(self.history[min(value, len(self.history) - 1)])
        self.update_label()

    def _on_follow_toggled(self, on: bool) -> None:
        if on and len(self.history):
            self.slider.setValue(len(self.history) - 1)
            self.chosen.emit(self.history[-1])
            self.update_label()
