"""The Build step's first box: the model's family, a preset of sizes, and the flavour of its parts.

The family decides what the model learns (the next token, or hidden tokens), so the
flavours and presets offered follow it. For an encoder, the box also says which of
the special tokens it needs the current tokenizer lacks, with a button that adds
them. The Build panel fills the combos' notes and acts on the signals: this box only
lays the choices out.
"""

from __future__ import annotations

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
}
FAMILY_NOTES = {
    "decoder": "Each token sees only the tokens before it; the model learns to guess the next one.",
    "encoder": "Every token sees the whole text; the model learns to recover hidden tokens ([MASK]).",
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
    """Family, preset and flavour, and (for an encoder) the tokenizer's missing special tokens."""

    family_changed = Signal(str)  # "decoder" or "encoder", chosen by the learner
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
            "What the model learns: the next token (a decoder, like GPT) or hidden tokens (an encoder, "
            "like BERT). Hover an entry to see more; the presets and flavours below follow it."
        )
        self.family.currentIndexChanged.connect(self._family_chosen)
        self.family_note = _muted_note()

        self.preset = _narrow(QComboBox())
        self.preset.setToolTip(
            "Ready-made sizes, from a toy that trains in a minute to GPT-2 small or BERT-base. "
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

        # For an encoder whose tokenizer lacks [MASK] and the rest: what is missing, and the way out.
        self.tokens_offer = QWidget()
        self.tokens_note = QLabel()
        self.tokens_note.setWordWrap(True)
        themed_style(self.tokens_note, "color: {warning};")
        self.add_tokens = QPushButton("Add the missing tokens")
        self.add_tokens.setToolTip(
            f"Make a copy of the tokenizer with the missing ones of {' '.join(ENCODER_SPECIAL_TOKENS)} added "
            "as special tokens, with new ids after the last: text encodes as before. The copy becomes the "
            "current tokenizer."
        )
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

    def show_missing_tokens(self, missing: list[str], tokenizer_name: str) -> None:
        """Offer to add the tokens an encoder needs and the tokenizer lacks (hidden when none is missing)."""
        if missing:
            self.tokens_note.setText(
                f"An encoder needs the special tokens {' '.join(ENCODER_SPECIAL_TOKENS)}; the tokenizer "
                f"{tokenizer_name} lacks {' '.join(missing)}. Add them (new ids at the end of the vocabulary), "
                "or train a WordPiece tokenizer in step 1, which has them all."
            )
        self.tokens_offer.setVisible(bool(missing))

    def set_adding(self, busy: bool) -> None:
        self.add_tokens.setEnabled(not busy)
        self.add_tokens.setText("Adding…" if busy else "Add the missing tokens")
