"""The Attention Lab's controls: what to read (a source and its text), which layer and head, which view,
and the buttons that save the view. The panel wires them; this module only lays them out."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

from playground.ui.themes import themed_style
from playground.ui.widgets.attention_views import VIEW_TIPS, VIEWS

SOURCE_TEXT, SOURCE_GENERATE, SOURCE_PROBE = range(3)
SOURCES = ["My text", "Generate (live)", "Training probe (live)"]
SOURCE_TIPS = [
    "Look at any text you type: the model reads it once and every head's weights are shown.",
    "Follow the Generate step: each token the model writes adds a row to the heatmap.",
    "Watch the model learn: while it trains, the trainer runs this probe sentence through it now and then. "
    "Scrub back through the steps to see patterns form.",
]
CAPTION = [
    "Type any text: the model reads it and the heatmap follows as you type (Ctrl+Enter to look again).",
    "The text of the Generate step, as it is written: generate something there and come back, or put "
    "the two side by side.",
    "The probe sentence: the trainer captures its attention while the model trains. Edit it here; the "
    "running training takes up the new sentence.",
]
ENCODER_CAPTION = (
    " This model is an encoder: it reads the text between [CLS] and [SEP], and every token reads every "
    "token, before and after it (a full square, nothing hatched)."
)

# An encoder-decoder's three kinds of attention (`seq2seq_look.KINDS`): the item data, its name and tip.
KIND_CHOICES = [
    ("encoder", "Encoder self", "Encoder self-attention: the input's tokens read each other, all of them (a square)."),
    (
        "decoder",
        "Decoder self",
        "Decoder self-attention: each output token reads the output tokens before it (a triangle).",
    ),
    (
        "cross",
        "Cross",
        "Cross-attention: each output token, while it is written, reads the input's tokens (a rectangle: "
        "output tokens down, input tokens across).",
    ),
]
KIND_CAPTION = {
    "encoder": " Encoder self-attention: the input's tokens read each other, before and after (a full square).",
    "decoder": " Decoder self-attention: each output token reads the ones before it (a triangle).",
    "cross": " Cross-attention: each output token (a row) reads the input's tokens (the columns).",
}
SEQ2SEQ_CAPTION = [
    "The input above, for the encoder; the output below, for the decoder (empty: the model writes its own).",
    "The input and what the model writes, from the Generate step: a row per written token.",
    "The probe sentence, as the input: the model writes its own output.",
]


class AttentionControls(QWidget):
    """Two rows: the source, its text and Look; then layer, head, the view tabs and the save buttons."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._kind = SOURCE_TEXT
        self.encoder = False  # the model shown reads the whole text at once
        self.seq2seq = False  # an encoder-decoder: an input, an output, and a choice of three kinds
        self.attention_kind = ""  # the kind shown ("" for a decoder's or an encoder's one kind)
        self.source = QComboBox()
        for i, name in enumerate(SOURCES):
            self.source.addItem(name)
            self.source.setItemData(i, SOURCE_TIPS[i], Qt.ItemDataRole.ToolTipRole)
        self.source.setToolTip("Where the text comes from. " + " ".join(SOURCE_TIPS))
        self.text_edit = QPlainTextEdit()
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.text_edit.setFont(mono)
        self.text_edit.setFixedHeight(62)
        self.text_edit.setTabChangesFocus(True)
        self.output_edit = QLineEdit()
        self.output_edit.setFont(mono)
        self.output_edit.setPlaceholderText("Output (optional): empty, and the model writes its own")
        self.output_edit.setToolTip(
            "What the decoder writes, read with teacher forcing. Leave it empty to see the model's own "
            "(greedy) output for the input above."
        )
        self.output_edit.hide()
        self.kind = QComboBox()
        for i, (data, name, tip) in enumerate(KIND_CHOICES):
            self.kind.addItem(name, data)
            self.kind.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.kind.setCurrentIndex(2)
        self.kind.setToolTip(
            "Which attention of the encoder-decoder to show. " + " ".join(tip for _, _, tip in KIND_CHOICES)
        )
        self.kind_label = QLabel("<b>Attention</b>")
        self.look_button = QPushButton("Look")
        self.look_button.setToolTip("Run the model over the text again and show its attention (Ctrl+Enter).")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        themed_style(self.caption, "color: {muted}; font-size: 9pt;")
        source_box = QVBoxLayout()
        source_box.addWidget(QLabel("<b>Read</b>"))
        source_box.addWidget(self.source)
        source_box.addWidget(self.kind_label)  # an encoder-decoder's: under the source, so the views keep their row
        source_box.addWidget(self.kind)
        source_box.addStretch(1)
        text_box = QVBoxLayout()
        text_box.addWidget(self.text_edit)
        text_box.addWidget(self.output_edit)
        text_box.addWidget(self.caption)
        self.layer = QSpinBox()
        self.layer.setToolTip(
            "The layer, counted from 0: the first layer reads the token embeddings, each "
            "later one what the layers before it wrote."
        )
        self.head = QSpinBox()
        self.head.setToolTip("The head within the layer, counted from 0: each head has its own way of looking.")
        self.layer_range = QLabel()
        self.head_range = QLabel()
        for label in (self.layer_range, self.head_range):
            themed_style(label, "color: {muted};")
        self.view = QTabBar()
        self.view.setExpanding(False)
        self.view.setDrawBase(False)
        for i, name in enumerate(VIEWS):
            self.view.addTab(name)
            self.view.setTabToolTip(i, VIEW_TIPS[i])
        self.save_picture_button = QPushButton("Save picture…")
        self.save_picture_button.setToolTip("Save the view as a PNG picture (Ctrl+E).")
        self.save_matrix_button = QPushButton("Save matrix…")
        self.save_matrix_button.setToolTip(
            "Save the weights of the chosen head (or the layer mean) as a CSV "
            "table with the tokens as labels, or as a NumPy .npy file "
            "(Ctrl+Shift+E)."
        )
        top = QHBoxLayout()
        top.addLayout(source_box)
        top.addLayout(text_box, 1)
        actions = QVBoxLayout()  # beside the text, so the row of views below keeps its room
        for button in (self.look_button, self.save_picture_button, self.save_matrix_button):
            actions.addWidget(button)
        actions.addStretch(1)
        top.addLayout(actions)

        choose = QHBoxLayout()
        self.kind_label.hide()
        self.kind.hide()
        choose.addWidget(QLabel("Layer"))
        choose.addWidget(self.layer)
        choose.addWidget(self.layer_range)
        choose.addSpacing(10)
        choose.addWidget(QLabel("Head"))
        choose.addWidget(self.head)
        choose.addWidget(self.head_range)
        choose.addSpacing(14)
        choose.addWidget(self.view)
        choose.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(choose)

    def set_source_look(self, kind: int) -> None:
        """The caption, the Look button and whether the text may be edited, for source `kind`."""
        self._kind = kind
        self._caption()
        self.look_button.setVisible(kind == SOURCE_TEXT)
        self.text_edit.setReadOnly(kind == SOURCE_GENERATE)
        self.output_edit.setReadOnly(kind == SOURCE_GENERATE)
        self.output_edit.setVisible(self.seq2seq and kind != SOURCE_PROBE)
        for edit in (self.text_edit, self.output_edit):
            if kind == SOURCE_GENERATE:  # the app fills it
                themed_style(edit, "background: {readonly_bg};")
            else:
                edit.setStyleSheet("")

    def _caption(self) -> None:
        if self.seq2seq:
            text = SEQ2SEQ_CAPTION[self._kind] + KIND_CAPTION.get(self.attention_kind, "")
        else:
            text = CAPTION[self._kind] + (ENCODER_CAPTION if self.encoder else "")
        self.caption.setText(text)

    def set_encoder(self, encoder: bool) -> None:
        """Say in the caption that the model shown is an encoder (every token reads every token), or not."""
        if encoder != self.encoder:
            self.encoder = encoder
            self._caption()

    def set_seq2seq(self, seq2seq: bool) -> None:
        """Offer the kind choice and the output box for an encoder-decoder only; decoders and encoders keep one
        text and one kind."""
        if seq2seq == self.seq2seq:
            return
        self.seq2seq = seq2seq
        self.kind_label.setVisible(seq2seq)
        self.kind.setVisible(seq2seq)
        self.text_edit.setFixedHeight(44 if seq2seq else 62)  # room for the output line under it
        self.attention_kind = self.chosen_kind() if seq2seq else ""
        self.set_source_look(self._kind)

    def chosen_kind(self) -> str:
        """The kind chosen ("encoder", "decoder" or "cross"); "" for a model with one kind."""
        return str(self.kind.currentData()) if self.seq2seq else ""

    def show_kind(self, kind: str) -> None:
        """Say in the caption which kind is shown."""
        if kind != self.attention_kind:
            self.attention_kind = kind
            self._caption()

    def set_shape(self, n_layer: int, n_head: int) -> None:
        """Bound the layer and head controls by the model: a head that does not exist cannot be chosen."""
        for spin, n, label, noun in (
            (self.layer, n_layer, self.layer_range, "layer"),
            (self.head, n_head, self.head_range, "head"),
        ):
            if spin.maximum() != n - 1 or spin.minimum() != 0:
                spin.blockSignals(True)
                spin.setRange(0, max(0, n - 1))
                spin.blockSignals(False)
            label.setText(f"of 0–{n - 1}" if n > 1 else "(only 0)")
            label.setToolTip(f"This model has {n} {noun}{'s' if n != 1 else ''}, counted from 0.")
