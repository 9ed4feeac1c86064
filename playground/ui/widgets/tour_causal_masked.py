"""The guided tour's live "causal vs masked" view: the demo GPT and the demo BERT read one sentence.

Two small attention heatmaps side by side, the same layer and head of both:
the decoder's triangle (each token reads only the tokens before it) beside the
encoder's full square (every token reads every token). The reading is a job
(`core.causal_vs_masked.read_by_both`); choosing a layer or head only redraws.
The heatmaps are the Attention Lab's widget, here only to look at.
"""

from __future__ import annotations

from typing import Optional, Union

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QSpinBox, QVBoxLayout, QWidget

from playground.core.attention import HEAD_MEAN
from playground.core.causal_vs_masked import CausalVsMasked, read_by_both
from playground.engine.jobs import Job, JobSlot
from playground.ui.widgets.heatmap import AttentionHeatmap

SENTENCE = "Return the length of the list."
HEATMAP_HEIGHT = 170


class TourCausalVsMasked(QWidget):
    """A sentence, a layer and a head on one line; the decoder's and the encoder's heatmaps below."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.result: Optional[CausalVsMasked] = None
        self.slot = JobSlot(self)

        self.sentence = QLineEdit(SENTENCE)
        self.sentence.setToolTip("The sentence both demo models read: edit it and press Enter.")
        self.sentence.returnPressed.connect(self.read)
        self.layer = QSpinBox()
        self.layer.setPrefix("layer ")
        self.layer.setToolTip("The layer shown for both models.")
        self.layer.setRange(0, 0)
        self.head = QComboBox()
        self.head.setToolTip("One head, or the mean of the layer's heads, for both models.")
        self.head.addItem("mean of heads", HEAD_MEAN)
        self.layer.valueChanged.connect(self.redraw)
        self.head.currentIndexChanged.connect(self.redraw)
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.sentence, 1)
        controls.addWidget(self.layer)
        controls.addWidget(self.head)

        self.decoder_map = self._heatmap()
        self.encoder_map = self._heatmap()
        maps = QHBoxLayout()
        maps.setContentsMargins(0, 0, 0, 0)
        maps.addWidget(self.decoder_map)
        maps.addWidget(self.encoder_map)

        self.status = QLabel("")  # a notice or an error; hidden while there is none
        self.status.setWordWrap(True)
        self.status.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(controls)
        layout.addLayout(maps)
        layout.addWidget(self.status)

    def _heatmap(self) -> AttentionHeatmap:
        heatmap = AttentionHeatmap()
        heatmap.setFixedHeight(HEATMAP_HEIGHT)
        heatmap.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        heatmap.setToolTip("Hover over a cell to read its weight.")
        # Compact: the reading tokens on the left only (the columns are the same tokens), no axis
        # titles (the card's text says what rows and columns are), no colour bar.
        heatmap.left.showLabel(False)
        heatmap.plot.hideAxis("bottom")
        heatmap.colour_bar.hide()
        heatmap.ci.removeItem(heatmap.colour_bar)
        return heatmap

    # ------------------------------------------------------------------ reading

    def read(self) -> Job:
        """Run both demo models over the sentence (a job); the heatmaps follow when it is done."""
        job = Job(read_by_both, self.sentence.text(), doing="reading the sentence with both demo models")
        job.result.connect(self._show)
        job.error.connect(self._say)
        return self.slot.start(job)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _show(self, result: CausalVsMasked) -> None:
        self.result = result
        layers = min(result.decoder.n_layer, result.encoder.n_layer)
        heads = min(result.decoder.n_head, result.encoder.n_head)
        self.layer.blockSignals(True)
        self.head.blockSignals(True)
        self.layer.setRange(0, layers - 1)
        if self.head.count() != heads + 1:
            chosen = self.head.currentData()
            self.head.clear()
            self.head.addItem("mean of heads", HEAD_MEAN)
            for h in range(heads):
                self.head.addItem(f"head {h}", h)
            self.head.setCurrentIndex(max(0, self.head.findData(chosen)))
        self.layer.blockSignals(False)
        self.head.blockSignals(False)
        self._say(result.notice)
        self.redraw()

    def chosen_head(self) -> Union[int, str]:
        data = self.head.currentData()
        return HEAD_MEAN if data is None else data

    def redraw(self) -> None:
        if self.result is None:
            return
        layer, head = self.layer.value(), self.chosen_head()
        for heatmap, read, title in (
            (self.decoder_map, self.result.decoder, "GPT demo: causal, a triangle"),
            (self.encoder_map, self.result.encoder, "BERT demo: masked, a square"),
        ):
            # A decoder's future is hatched; an encoder has none to hide.
            heatmap.set_matrix(read.matrix(layer, head), read.tokens, title, causal=not read.encoder)
