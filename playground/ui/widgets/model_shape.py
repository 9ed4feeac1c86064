"""The Build step's "Shape" box: the model's size controls, each with its own problem line.

The Build panel shares the controls under the same names (`n_layer`, `n_head`,
`n_embd`, `mlp_hidden`, `context_length`, `vocab`, `dropout`) and recounts on
`changed`; this box lays them out and shows what the panel found wrong with them.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QSpinBox, QVBoxLayout, QWidget

from playground.core.config import ConfigProblem, ModelConfig, default_mlp_hidden
from playground.ui.themes import themed_style

# The fields a problem can concern; "other" collects the rest under the form.
PROBLEM_FIELDS = (
    "n_layer",
    "n_decoder_layer",
    "n_head",
    "n_embd",
    "mlp_hidden",
    "context_length",
    "vocab_size",
    "dropout",
    "other",
)


def size_spin(low: int, high: int, step: int, tip: str) -> QSpinBox:
    """An integer control for a size: thousands separated, faster when held down."""
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setGroupSeparatorShown(True)
    spin.setToolTip(tip)
    spin.setAccelerated(True)
    return spin


def _problem_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    themed_style(label, "color: {error};")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ShapeBox(QGroupBox):
    """Layers, heads, width, MLP width, context, vocabulary and dropout, in one form."""

    changed = Signal()  # any size control moved

    def __init__(self, parent=None) -> None:
        super().__init__("2 · Shape", parent)
        self.n_layer = size_spin(
            1,
            96,
            1,
            (
                "How many transformer blocks are stacked. Each block attends, then thinks (MLP); "
                "more layers let the model build more steps of reasoning on top of each other."
            ),
        )
        self.n_decoder_layer = size_spin(
            0,
            96,
            1,
            (
                "An encoder-decoder's decoder stack: how many blocks write the output. Each attends to the "
                "output so far, then to the input (cross-attention), then thinks (MLP). It may be shallower "
                "or deeper than the encoder; 0 means as deep as the encoder."
            ),
        )
        self.n_decoder_layer.setSpecialValueText("as the encoder")
        self.n_head = size_spin(
            1,
            128,
            1,
            (
                "Attention is split into this many heads, each free to look for something different "
                "(the previous word, the subject of the sentence…). The width must divide evenly among them."
            ),
        )
        self.n_embd = size_spin(
            1,
            16384,
            16,
            (
                "The width: how many numbers describe each token inside the model. Wider vectors can hold "
                "more meaning; the parameter count grows with its square."
            ),
        )
        self.mlp_hidden = size_spin(
            0,
            65536,
            64,
            (
                "The MLP widens each vector to this size, applies a non-linearity and narrows it back. "
                "0 means automatic: 4 × width for GPT-2's GELU, about 8/3 × width for LLaMA's SwiGLU."
            ),
        )
        self.context_length = size_spin(
            1,
            32768,
            32,
            (
                "The most tokens the model reads at once: its memory span. Longer contexts cost memory and "
                "time for attention, which compares every token with every earlier one."
            ),
        )
        for spin in (
            self.n_layer,
            self.n_decoder_layer,
            self.n_head,
            self.n_embd,
            self.mlp_hidden,
            self.context_length,
        ):
            spin.valueChanged.connect(lambda _: self.changed.emit())
        self.vocab = QLabel()
        self.vocab.setWordWrap(True)
        self.vocab.setTextFormat(Qt.TextFormat.RichText)
        self.vocab.setToolTip(
            "How many different tokens the model can read and write. It comes from the "
            "tokenizer (step 1), so it is not set here."
        )
        self.dropout = QDoubleSpinBox()
        self.dropout.setRange(0.0, 0.9)
        self.dropout.setSingleStep(0.05)
        self.dropout.setDecimals(2)
        self.dropout.setToolTip(
            "While training, switch off this share of numbers at random, so the model "
            "cannot lean on any one of them: it fights memorising a small corpus. "
            "0.1 is typical; 0 for tiny models or huge corpora. It adds no parameters."
        )
        self.dropout.valueChanged.connect(lambda _: self.changed.emit())

        self.problem_labels: dict[str, QLabel] = {name: _problem_label() for name in PROBLEM_FIELDS}
        # Each control sits above its own problem line, in one form row, so a message
        # appears right under the control it concerns.
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.captions: dict[str, QLabel] = {}
        self.head_note = QLabel()
        themed_style(self.head_note, "color: {muted};")
        self.head_note.setToolTip("Each head works on its own slice of the width.")
        rows = [
            ("Layers", self.n_layer, "n_layer"),
            ("Decoder depth", self.n_decoder_layer, "n_decoder_layer"),
            ("Heads", self.n_head, "n_head"),
            ("Width", self.n_embd, "n_embd"),
            ("MLP width", self.mlp_hidden, "mlp_hidden"),
            ("Context length", self.context_length, "context_length"),
            ("Vocabulary", self.vocab, "vocab_size"),
            ("Dropout", self.dropout, "dropout"),
        ]
        for label, widget, field in rows:
            caption = QLabel(label)
            caption.setToolTip(widget.toolTip())
            caption.setBuddy(widget)
            self.captions[field] = caption
            cell = QWidget()
            column = QVBoxLayout(cell)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(2)
            column.addWidget(widget)
            if field == "n_head":
                column.addWidget(self.head_note)
            column.addWidget(self.problem_labels[field])
            self.form.addRow(caption, cell)
        self.form.addRow(self.problem_labels["other"])
        for problem in self.problem_labels.values():
            problem.hide()
        self.layers_tip = self.n_layer.toolTip()
        self.show_family(encoder_decoder=False)

    def show_family(self, encoder_decoder: bool) -> None:
        """An encoder-decoder has two depths: "Encoder layers" and "Decoder layers"; the others one."""
        self.form.setRowVisible(self.captions["n_decoder_layer"], encoder_decoder)
        self.captions["n_layer"].setText("Encoder depth" if encoder_decoder else "Layers")
        tip = (
            "An encoder-decoder's encoder stack: how many blocks read the input, each attending to the whole "
            "input, then thinking (MLP)."
            if encoder_decoder
            else self.layers_tip
        )
        self.n_layer.setToolTip(tip)
        self.captions["n_layer"].setToolTip(tip)

    def show_problems(self, problems: list[ConfigProblem], tokenizer_missing: bool) -> None:
        """Put each problem under the control it concerns and mark that control's caption.

        A missing tokenizer is a warning, not an error: the learner has simply not got there yet.
        """
        by_field: dict[str, list[str]] = {}
        for p in problems:
            field = p.field if p.field in self.problem_labels else "other"
            by_field.setdefault(field, []).append(p.message)
        for field, label in self.problem_labels.items():
            messages = by_field.get(field, [])
            if field == "vocab_size" and tokenizer_missing:
                themed_style(label, "color: {warning};")
            else:
                themed_style(label, "color: {error};")
            label.setText("\n".join(messages))
            label.setVisible(bool(messages))
        # A width that the heads cannot share concerns both controls: mark both captions.
        marked = set(by_field) - {"vocab_size"} | ({"n_head"} if "n_embd" in by_field else set())
        for field, caption in self.captions.items():
            if field in marked:
                themed_style(caption, "color: {error}; font-weight: 600;")
            else:
                caption.setStyleSheet("")

    def show_notes(self, config: ModelConfig) -> None:
        """The automatic MLP width, a width step the heads can share, and each head's slice."""
        auto = default_mlp_hidden(config.n_embd, config.mlp) if config.n_embd >= 1 else 0
        self.mlp_hidden.setSpecialValueText(f"automatic ({auto:,})")
        rope = config.positions == "rope"
        step = math.lcm(16, config.n_head * (2 if rope else 1)) if config.n_head >= 1 else 16
        self.n_embd.setSingleStep(step)
        if config.n_head >= 1 and config.n_embd % config.n_head == 0:
            self.head_note.setText(f"{config.n_head} heads × {config.head_dim} numbers each")
        else:
            self.head_note.setText("")
        self.head_note.setVisible(bool(self.head_note.text()))
