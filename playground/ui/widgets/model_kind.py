"""The Build step's first box: the model's family, a preset of sizes, and the flavour of its parts.

The family decides what the model learns (the next token, hidden tokens, or an output
text written from an input text), so the flavours and presets offered follow it. For an
encoder or an encoder-decoder, the box also says which of the special tokens it needs
the current tokenizer lacks, with a button that adds them. The Build panel fills the combos' notes and acts on the signals: this box only
lays the choices out.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from playground.core.config import FLAVOURS, presets_for
from playground.core.tokenization import ENCODER_SPECIAL_TOKENS
from playground.ui.themes import themed_style

FAMILY_CHOICES = {
    "decoder": (
        "Decoder: next-token (GPT-2 style, LLaMA style)",
        "A causal language model, like GPT and LLaMA: each token sees only the tokens before it, and the "
        "model learns to predict the next one. It writes text (the Generate step).",
    ),
    "encoder": (
        "Encoder: masked tokens (BERT style)",
        "A masked language model, like BERT: every token sees the whole text, and the model learns to "
        "recover tokens that were hidden behind [MASK]. It fills in blanks (Fill the mask) but does not "
        "write text on.",
    ),
    "encoder-decoder": (
        "Encoder–decoder: text to text (T5 style)",
        "A text-to-text model, like T5: an encoder reads the whole input, and a decoder writes the output "
        "token by token, looking back at the input through cross-attention. It learns by filling in "
        "dropped spans (span corruption) or from input and answer pairs (text to text).",
    ),
}
FAMILY_NOTES = {
    "decoder": "Each token sees only the tokens before it; the model learns to guess the next one.",
    "encoder": "Every token sees the whole text; the model learns to recover hidden tokens ([MASK]).",
    "encoder-decoder": "An encoder reads the whole input; a decoder writes the output, looking back at the "
    "input (cross-attention).",
}
FLAVOUR_CHOICES = {
    "gpt2": (
        "GPT-2 style",
        "GPT-2 (2019): learns a vector for each position, normalises with LayerNorm, uses a GELU MLP, "
        "reads and writes tokens with one shared matrix (tied weights) and adds a bias to every layer.",
    ),
    "llama": (
        "LLaMA style",
        "LLaMA (2023): rotates queries and keys by position (RoPE: nothing to learn, and no fixed "
        "limit baked into a table), normalises with the simpler RMSNorm, gates its MLP (SwiGLU, three "
        "matrices a little narrower), keeps separate input and output matrices and drops the biases.",
    ),
    "bert": (
        "BERT style",
        "BERT (2018): GPT-2's parts (learned positions, LayerNorm, GELU, tied weights, biases) with no "
        "causal mask, the norm after each sub-layer (post-norm), a token-type embedding and a masked-LM "
        "head that scores every vocabulary token at each hidden position.",
    ),
    "t5": (
        "T5 style",
        "T5 (2019): an encoder and a decoder stack; no position vectors but a learned bias on the attention "
        "scores for each distance between tokens (relative position bias), RMSNorm, a ReLU MLP, tied weights "
        "and no biases.",
    ),
}
# What each family needs from its tokenizer, for the box's offer to add the missing tokens.
TOKENS_NEEDED = {
    "encoder": f"An encoder needs the special tokens {' '.join(ENCODER_SPECIAL_TOKENS)}",
    "encoder-decoder": "An encoder-decoder needs a pad token (the decoder's start), </s> (the end of every text) "
    "and sentinels <extra_id_0>, <extra_id_1>, … (the dropped spans of span corruption)",
}
TOKENS_WAY_OUT = {
    "encoder": ", or train a WordPiece tokenizer in step 1, which has them all.",
    "encoder-decoder": "; ordinary text is split as before.",
}


def _muted_note() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    themed_style(label, "color: {muted};")
    return label


def _narrow(combo: QComboBox) -> QComboBox:
    """A combo that does not widen the column to its longest entry (the list still shows it whole)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(16)
    return combo


class ModelKindBox(QGroupBox):
    """Family, preset and flavour, and (for an encoder or encoder-decoder) the tokenizer's missing special tokens."""

    family_changed = Signal(str)  # "decoder", "encoder" or "encoder-decoder", chosen by the learner
    preset_chosen = Signal(str)  # a preset's name (not "custom")
    flavour_changed = Signal()
    add_tokens_clicked = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__("1 · Kind of model and preset", parent)
        self.family = _narrow(QComboBox())
        for key, (label, tip) in FAMILY_CHOICES.items():
            self.family.addItem(label, key)
            self.family.setItemData(self.family.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.family.setToolTip(
            "What the model learns: the next token (a decoder, like GPT), hidden tokens (an encoder, "
            "like BERT) or an output text from an input text (an encoder-decoder, like T5). Hover an entry "
            "to see more; the presets and flavours below follow it."
        )
        self.family.currentIndexChanged.connect(self._family_chosen)
        self.family_note = _muted_note()

        self.preset = _narrow(QComboBox())
        self.preset.setToolTip(
            "Ready-made sizes, from a toy that trains in a minute to GPT-2 small, BERT-base or T5-small. "
            "Picking one sets the controls below; change any of them afterwards."
        )
        self.preset.currentIndexChanged.connect(self._preset_picked)
        self.preset_note = _muted_note()

        self.flavour = _narrow(QComboBox())
        self.flavour.setToolTip(
            "The family of design choices the model follows. Hover an entry to see what "
            "each changes; the sizes stay the same."
        )
        self.flavour.currentIndexChanged.connect(lambda _: self.flavour_changed.emit())
        self.flavour_note = _muted_note()

        # For an encoder (or encoder-decoder) whose tokenizer lacks its special tokens: what is missing, and the way out.
        self.tokens_offer = QWidget()
        self.tokens_note = QLabel()
        self.tokens_note.setTextFormat(Qt.TextFormat.PlainText)  # T5's tokens look like tags: <pad>, </s>
        self.tokens_note.setWordWrap(True)
        themed_style(self.tokens_note, "color: {warning};")
        self.add_tokens = QPushButton("Add the missing tokens")
        self._tokens_tip("encoder")
        self.add_tokens.clicked.connect(self.add_tokens_clicked.emit)
        offer = QVBoxLayout(self.tokens_offer)
        offer.setContentsMargins(0, 4, 0, 0)
        offer.addWidget(self.tokens_note)
        offer.addWidget(self.add_tokens, 0, Qt.AlignmentFlag.AlignLeft)
        self.tokens_offer.hide()

        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Family", self.family)
        form.addRow("", self.family_note)
        form.addRow(self.tokens_offer)
        form.addRow("Preset", self.preset)
        form.addRow("", self.preset_note)
        form.addRow("Flavour", self.flavour)
        form.addRow("", self.flavour_note)
        self._fill("decoder")

    def current_family(self) -> str:
        return str(self.family.currentData())

    def set_family(self, family: str) -> None:
        """Show `family`'s presets and flavours (quietly: no signal)."""
        if family != self.current_family():
            self.family.blockSignals(True)
            self.family.setCurrentIndex(self.family.findData(family))
            self.family.blockSignals(False)
        self._fill(family)

    def _family_chosen(self, _index: int) -> None:
        self._fill(self.current_family())
        self.family_changed.emit(self.current_family())

    def _fill(self, family: str) -> None:
        """The family's presets (then "custom") and flavours; the flavour kept where it is offered."""
        self.family_note.setText(FAMILY_NOTES[family])
        for combo in (self.preset, self.flavour):
            combo.blockSignals(True)
        try:
            kept = self.flavour.currentData()
            self.preset.clear()
            for name, preset in presets_for(family).items():
                self.preset.addItem(name, name)
                self.preset.setItemData(self.preset.count() - 1, preset.description, Qt.ItemDataRole.ToolTipRole)
            self.preset.addItem("custom", None)
            self.preset.setItemData(
                self.preset.count() - 1, "Your own sizes: change any control below.", Qt.ItemDataRole.ToolTipRole
            )
            self.flavour.clear()
            for key, (label, tip) in FLAVOUR_CHOICES.items():
                if FLAVOURS[key]["family"] == family:
                    self.flavour.addItem(label, key)
                    self.flavour.setItemData(self.flavour.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
            self.flavour.setCurrentIndex(max(0, self.flavour.findData(kept)))
        finally:
            for combo in (self.preset, self.flavour):
                combo.blockSignals(False)

    def _preset_picked(self, index: int) -> None:
        name = self.preset.itemData(index)
        if name is not None:
            self.preset_chosen.emit(name)

    def _tokens_tip(self, family: str) -> None:
        needed = " ".join(ENCODER_SPECIAL_TOKENS) if family == "encoder" else "<pad>, </s> and the sentinels"
        tip = (
            f"Make a copy of the tokenizer with the missing ones of {needed} added as special tokens, with new "
            "ids after the last: text encodes as before. The copy becomes the current tokenizer."
        )
        self.add_tokens.setToolTip(f"<p>{escape(tip)}</p>")  # rich text, so that <pad> shows as written

    def show_missing_tokens(self, missing: str, tokenizer_name: str, family: str = "encoder") -> None:
        """Offer to add the tokens `family` needs and the tokenizer lacks (`missing`, a phrase; hidden when "")."""
        if missing:
            self.tokens_note.setText(
                f"{TOKENS_NEEDED[family]}; the tokenizer {tokenizer_name} lacks {missing}. Add them (new ids "
                f"at the end of the vocabulary){TOKENS_WAY_OUT[family]}"
            )
            self._tokens_tip(family)
        self.tokens_offer.setVisible(bool(missing))

    def set_adding(self, busy: bool) -> None:
        self.add_tokens.setEnabled(not busy)
        self.add_tokens.setText("Adding…" if busy else "Add the missing tokens")
