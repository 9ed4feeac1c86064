"""The Build step: choose the model's shape and see, as the controls move, what it costs.

Sizes on the left; on the right the parameter count and where it sits, the
memory a training step needs against what this machine has, and how fast
training may go. Everything is counted by formula (`core.config`,
`core.estimates`): no model is built while the learner drags a control.
"""

from __future__ import annotations

import math
from typing import Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from playground.core.config import (
    FAMILIES,
    FLAVOURS,
    ConfigProblem,
    ModelConfig,
    parameter_breakdown,
    presets_for,
)
from playground.core.devices import DeviceInfo
from playground.core.estimates import (
    PRECISION_LABELS,
    AvailableMemory,
    DeviceSpeed,
    MemoryEstimate,
    available_system_memory,
    measure_device_speed,
    memory_estimate,
)
from playground.core.t5_tokens import missing_t5_tokens, with_t5_tokens
from playground.core.tokenization import LoadedTokenizer, missing_encoder_tokens, with_encoder_tokens
from playground.core.units import human_count
from playground.engine.jobs import Job, JobSlot
from playground.engine.session import Session
from playground.ui.themes import themed_style, themed_text
from playground.ui.widgets.build_results import MemoryBox, ParameterCount, ParametersBox, fit_height
from playground.ui.widgets.build_speed import SpeedBox
from playground.ui.widgets.controls_column import QWIDGETSIZE_MAX, ControlsColumn
from playground.ui.widgets.model_kind import ModelKindBox
from playground.ui.widgets.model_shape import ShapeBox, size_spin

# The big preset of each family: switching family from one keeps a model of that size.
BIG_PRESETS = {"decoder": "gpt2-small", "encoder": "bert-base", "encoder-decoder": "t5-small"}
# Whose tokenizer a preset's own vocabulary is (its cost shown before there is a tokenizer).
VOCAB_OWNERS = {"gpt2-small": "GPT-2's", "bert-base": "BERT's", "t5-small": "T5's"}

PRECISION_TIPS = {
    "fp32": "Every number in 4 bytes. Simple and exact; the most memory.",
    "bf16": "Mixed precision: weights, gradients and optimizer stay 4-byte float32, most activations are "
    "kept in 2 bytes. Less memory, and much faster on a recent GPU.",
    "fp16": "Like bfloat16 but with a smaller range, so training needs loss scaling; for GPUs without bfloat16.",
}


class BuildPanel(QWidget):
    """Model size controls on the left; parameters, memory and speed on the right, live."""

    title = "Build"
    concept = (
        "<b>Model size</b><br>A model is a stack of <i>layers</i>. In each, every token is a vector of "
        "numbers (its <i>width</i>). <i>Attention</i> mixes in what other tokens say (a decoder's: only the "
        "earlier ones; an encoder's: all of them; an encoder-decoder's decoder also attends to the input, "
        "<i>cross-attention</i>), split into "
        "<i>heads</i> that each look for something different; an <i>MLP</i> then reworks each vector."
        "<br><br>The <i>parameters</i> are the numbers training adjusts: about 12 × layers × width², "
        "plus a vector per vocabulary token. The <i>context</i> is how many tokens the model reads at once."
        "<br><br>Bigger models learn more but cost memory and time: watch the numbers on the right."
    )

    MEASURE_SECONDS = 0.3  # length of the matrix-multiply benchmark
    PROVISIONAL_VOCAB = 2000  # assumed until a tokenizer exists (the Tokenize step's default)
    UTILIZATION = 0.3  # share of the measured speed a training step is assumed to reach
    STEPS = 1000  # the "time for N steps" line

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.measure_slot = JobSlot(self)
        self.tokens_slot = JobSlot(self)  # adding an encoder's special tokens to the tokenizer
        self.flops_per_second: Optional[float] = None
        self.measured_device: Optional[DeviceInfo] = None
        self.measure_error: Optional[str] = None
        self._assumed_vocab = self.PROVISIONAL_VOCAB
        self._shown_preset: Optional[str] = None  # the preset the sizes match, if any
        self._vocab_owner = ""  # whose tokenizer the assumed vocabulary is ("GPT-2's"), if any
        self._shown_once = False
        self._updating = True  # no recounting while the controls are being made
        self._build()
        self._updating = False
        self.measure_slot.changed.connect(lambda: self.remeasure.setEnabled(not self.measure_slot.busy))
        self.tokens_slot.changed.connect(lambda: self.kind_box.set_adding(self.tokens_slot.busy))
        session.tokenizer_changed.connect(lambda _: self.refresh())
        session.device_changed.connect(self._device_changed)
        self.set_preset("tiny")

    @property
    def measure_job(self) -> Optional[Job]:
        return self.measure_slot.job

    # The charts, made on the first show.
    param_plot = property(lambda self: self.parameters_box.plot)
    param_bars = property(lambda self: self.parameters_box.bars)
    memory_plot = property(lambda self: self.memory_box.plot)
    memory_bars = property(lambda self: self.memory_box.bars)

    def advanced_widgets(self) -> list[QWidget]:
        """Controls presentation mode hides: the defaults serve a first look."""
        parents = [
            self.mlp_hidden.parentWidget(),
            self.dropout.parentWidget(),  # their rows in the shape form
            self.batch_size.parentWidget(),
        ]  # the training batch box
        return [w for w in parents if w is not None]

    # ================================================================== layout

    def _build(self) -> None:
        controls = QWidget()
        cl = QVBoxLayout(controls)
        cl.addWidget(self._kind_box())
        self.shape_box = shape = ShapeBox()
        shape.changed.connect(self.refresh)
        # The size controls, by the names the tests, the workspace and `config()` read on the panel.
        self.n_layer, self.n_head, self.n_embd = shape.n_layer, shape.n_head, shape.n_embd
        self.n_decoder_layer = shape.n_decoder_layer
        self.mlp_hidden, self.context_length = shape.mlp_hidden, shape.context_length
        self.vocab, self.dropout = shape.vocab, shape.dropout
        self.problem_labels, self.captions = shape.problem_labels, shape.captions
        cl.addWidget(shape)
        cl.addWidget(self._batch_box())
        cl.addStretch(1)
        scroll = ControlsColumn(controls, maximum_width=430)

        results = QWidget()
        rl = QVBoxLayout(results)
        rl.setContentsMargins(0, 0, 0, 0)
        self.headline = ParameterCount()
        self.parameters_box = ParametersBox()
        self.memory_box = MemoryBox()
        self.speed_box = SpeedBox(self.UTILIZATION, self.STEPS)
        self.speed_box.remeasure.clicked.connect(self.start_measurement)
        # The sections' labels and tables, by the names the tests and screenshots read on the panel.
        self.total_label, self.total_note = self.headline.total_label, self.headline.total_note
        self.breakdown_table = self.parameters_box.table
        self.memory_table, self.fit_label = self.memory_box.table, self.memory_box.fit_label
        speed = self.speed_box
        self.flops_label, self.device_speed_label, self.remeasure = (
            speed.flops_label,
            speed.device_speed_label,
            speed.remeasure,
        )
        self.tokens_label, self.steps_label, self.compare_label = (
            speed.tokens_label,
            speed.steps_label,
            speed.compare_label,
        )
        for section in (self.headline, self.parameters_box, self.memory_box, self.speed_box):
            rl.addWidget(section)
        rl.addStretch(1)
        right = ControlsColumn(results, maximum_width=QWIDGETSIZE_MAX)  # as wide as the window allows

        layout = QHBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(right, 1)

    def _kind_box(self) -> ModelKindBox:
        self.kind_box = box = ModelKindBox()
        # The choices, by the names the tests, the workspace and `config()` read on the panel.
        self.family, self.preset, self.flavour = box.family, box.preset, box.flavour
        self.preset_note, self.flavour_note = box.preset_note, box.flavour_note
        box.family_changed.connect(self._family_changed)
        box.preset_chosen.connect(self._preset_chosen)
        box.flavour_changed.connect(self._flavour_changed)
        box.add_tokens_clicked.connect(self.add_missing_tokens)
        return box

    def _batch_box(self) -> QGroupBox:
        box = QGroupBox("3 · Training batch (the Train step uses it too)")
        self.batch_size = size_spin(
            1,
            4096,
            1,
            (
                "How many text snippets, each a full context long, the model learns from at once. "
                "It does not change the model, only the memory and time of each training step."
            ),
        )
        self.batch_size.valueChanged.connect(lambda _: self.refresh())
        self.batch_size.setValue(self.session.batch_size)
        # One batch size in the app: Train's box and this one are two views of the session's.
        self.batch_size.valueChanged.connect(self.session.set_batch_size)
        self.session.batch_size_changed.connect(self.batch_size.setValue)
        self.precision = QComboBox()
        for key, label in PRECISION_LABELS.items():
            self.precision.addItem(label, key)
            self.precision.setItemData(self.precision.count() - 1, PRECISION_TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.precision.setToolTip("How many bytes each number takes while training. Hover an entry to learn more.")
        self.precision.currentIndexChanged.connect(lambda _: self.refresh())
        self.precision_note = QLabel()
        self.precision_note.setWordWrap(True)
        themed_style(self.precision_note, "color: {warning};")
        self.precision_note.hide()
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Precision", self.precision)
        note = QLabel("Optimizer: AdamW, the usual choice for transformers.")
        note.setWordWrap(True)
        themed_style(note, "color: {muted};")
        layout = QVBoxLayout(box)
        layout.addLayout(form)
        layout.addWidget(self.precision_note)
        layout.addWidget(note)
        return box

    # ================================================================== plots (made once, on first show)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            fit_height(self.breakdown_table)
            fit_height(self.memory_table)
            self.parameters_box.make_chart()
            self.memory_box.make_chart()
            self.refresh()
            QTimer.singleShot(0, self, self.start_measurement)

    # ================================================================== the controls

    def set_preset(self, name: str) -> None:
        """Set every size control to the named preset of the current family (keeps the flavour,
        batch and precision)."""
        preset = presets_for(self.kind_box.current_family())[name]
        self._updating = True
        try:
            self.n_layer.setValue(preset.n_layer)
            self.n_head.setValue(preset.n_head)
            self.n_embd.setValue(preset.n_embd)
            self.mlp_hidden.setValue(0)
            self.n_decoder_layer.setValue(0)  # as deep as the encoder, as every preset is
            self.context_length.setValue(preset.context_length)
            self.dropout.setValue(preset.dropout)
            self._assumed_vocab = preset.vocab_size or self.PROVISIONAL_VOCAB
            self._vocab_owner = VOCAB_OWNERS.get(name, f"the {name} preset's") if preset.vocab_size else ""
        finally:
            self._updating = False
        self.refresh()

    def _preset_chosen(self, name: str) -> None:
        if not self._updating:
            self.set_preset(name)

    def set_family(self, family: str) -> None:
        """Switch to a "decoder" or an "encoder": its flavours and presets, the sizes kept where they
        are one of its presets (the big ones swap: GPT-2 small for BERT-base and back)."""
        if family != self.kind_box.current_family():
            self.kind_box.set_family(family)
            self._family_changed(family)

    def _family_changed(self, family: str) -> None:
        name = self._shown_preset  # the preset combo has been refilled already
        presets = presets_for(family)
        if name in presets:
            self.set_preset(name)
        elif name in BIG_PRESETS.values():
            self.set_preset(BIG_PRESETS[family])
        else:
            self.refresh()

    def set_flavour(self, flavour: str) -> None:
        """Switch to "gpt2", "llama" or "bert" style (the family follows)."""
        self.set_family(str(FLAVOURS[flavour]["family"]))
        self.flavour.setCurrentIndex(self.flavour.findData(flavour))

    def _flavour_changed(self) -> None:
        self.refresh()

    def vocab_size(self) -> int:
        """The current tokenizer's vocabulary, or the assumed one while there is none."""
        tok = self.session.tokenizer
        return tok.vocab_size if tok is not None else self._assumed_vocab

    def config(self) -> ModelConfig:
        """The ModelConfig the controls describe (it may have problems: see `problems()`)."""
        sizes = dict(
            vocab_size=self.vocab_size(),
            context_length=self.context_length.value(),
            n_layer=self.n_layer.value(),
            n_head=self.n_head.value(),
            n_embd=self.n_embd.value(),
            mlp_hidden=self.mlp_hidden.value() or None,
            n_decoder_layer=self.n_decoder_layer.value() or None,
            dropout=round(self.dropout.value(), 4),
        )
        flavour = self.flavour.currentData()
        if FLAVOURS[flavour]["family"] != "encoder-decoder":
            sizes["n_decoder_layer"] = None  # one stack: the control is hidden
        return ModelConfig(**{"flavour": flavour, **FLAVOURS[flavour], **sizes})

    def problems(self) -> list[ConfigProblem]:
        """What stops the model from being built or trained: `ConfigProblem`s, plus a missing tokenizer."""
        found = self.config().validate()
        if self.session.tokenizer is None:
            found.append(
                ConfigProblem(
                    "vocab_size",
                    "Train or open a tokenizer first (step 1, Tokenize): the model's vocabulary is the tokenizer's.",
                )
            )
        return found

    def effective_precision(self) -> str:
        """The precision training will use: mixed precision needs a CUDA GPU, elsewhere it is float32.

        The same rule as the trainer's (`core.training.resolve_precision`).
        """
        precision = self.precision.currentData()
        return precision if self._device_kind() == "cuda" else "fp32"

    def memory(self) -> MemoryEstimate:
        """The memory estimate for the current controls."""
        return memory_estimate(
            self.config(), self.batch_size.value(), self.effective_precision(), "adamw", self._device_kind()
        )

    def _device(self) -> Optional[DeviceInfo]:
        return self.session.device or self.measured_device

    def _device_kind(self) -> str:
        device = self._device()
        return device.kind if device is not None else "cpu"

    # ================================================================== updating

    def refresh(self) -> None:
        """Recount everything from the controls and tell the session. Cheap: formulas only."""
        if self._updating:
            return
        config = self.config()
        problems = self.problems()
        self._show_problems(problems)
        self._show_preset(config)
        self._show_shape_notes(config)
        self._show_missing_tokens(config)
        self._show_precision_note()
        if not config.validate():
            counts = parameter_breakdown(config)
            precision, device_kind, batch = self.effective_precision(), self._device_kind(), self.batch_size.value()
            self.headline.show_count(config, counts.total)
            self.parameters_box.show_counts(config, counts)
            self.memory_box.show_memory(config, self.memory(), self._available_memory(), batch, precision, device_kind)
            self.speed_box.show_speed(
                config, self.flops_per_second, self.measure_error, self._device(), batch, precision, device_kind
            )
        else:
            for section in (self.headline, self.parameters_box, self.memory_box, self.speed_box):
                section.show_invalid()
        self.session.set_model_config(config, not problems)

    def _show_problems(self, problems: list[ConfigProblem]) -> None:
        self.shape_box.show_problems(problems, tokenizer_missing=self.session.tokenizer is None)

    def _show_preset(self, config: ModelConfig) -> None:
        match = None
        for name, preset in presets_for(config.family).items():
            if (
                (preset.n_layer, preset.n_head, preset.n_embd, preset.context_length)
                == (config.n_layer, config.n_head, config.n_embd, config.context_length)
                and math.isclose(preset.dropout, config.dropout)
                and config.mlp_hidden is None
                and config.n_decoder_layer is None
            ):
                match = name
                break
        index = self.preset.findData(match) if match else self.preset.count() - 1
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(index)
        self.preset.blockSignals(False)
        self._shown_preset = match
        self.preset_note.setText(
            self._preset_note(match, config)
            if match
            else "Your own sizes. Pick a preset to start again from known ones."
        )

    @staticmethod
    def _preset_note(name: str, config: ModelConfig) -> str:
        """The preset's description; where it names a count for another vocabulary, the count shown here too."""
        preset = presets_for(config.family)[name]
        if preset.vocab_size is None:
            return preset.description  # its count is approximate for any vocabulary
        reasons = []
        if config.vocab_size != preset.vocab_size:
            reasons.append(f"your {config.vocab_size:,}-token vocabulary")
        if config.flavour == "llama":
            reasons.append("LLaMA-style layers")
        if not reasons:
            return preset.description
        total = human_count(parameter_breakdown(config).total)
        return f"{preset.description} Here, with {' and '.join(reasons)}: {total}."

    def _show_shape_notes(self, config: ModelConfig) -> None:
        choices = FLAVOURS[config.flavour]
        positions = {"learned": "learned positions", "rope": "RoPE positions", "relative": "relative position bias"}
        self.flavour_note.setText(
            f"{positions[choices['positions']]} · "
            f"{'LayerNorm' if choices['norm'] == 'layernorm' else 'RMSNorm'} · "
            f"{ {'gelu': 'GELU', 'swiglu': 'SwiGLU', 'relu': 'ReLU'}[choices['mlp']] } MLP · "
            f"{'tied' if choices['tie_weights'] else 'separate'} output head · "
            f"{'biases' if choices['bias'] else 'no biases'}"
            + (" · post-norm · no causal mask · masked-LM head" if choices["family"] == "encoder" else "")
            + (" · cross-attention" if choices["family"] == "encoder-decoder" else "")
        )
        self.shape_box.show_family(config.is_encoder_decoder)
        self.shape_box.show_notes(config)

        tok = self.session.tokenizer
        if tok is not None:
            themed_text(
                self.vocab,
                "<b>{size}</b> tokens <span style='color:{muted}'>from {name}</span>",
                size=f"{tok.vocab_size:,}",
                name=tok.name,
            )
        elif self._assumed_vocab != self.PROVISIONAL_VOCAB:
            themed_text(
                self.vocab,
                "<b>{size}</b> <span style='color:{muted}'>({owner} tokenizer, to show its cost)</span>",
                size=f"{self._assumed_vocab:,}",
                owner=self._vocab_owner,
            )
        else:
            themed_text(
                self.vocab,
                "<b>{size}</b> <span style='color:{muted}'>(assumed until you have a tokenizer)</span>",
                size=f"{self._assumed_vocab:,}",
            )

    def _missing_tokens(self) -> str:
        """What the current tokenizer lacks for the chosen family, as a phrase ("" when nothing or a decoder)."""
        tok, family = self.session.tokenizer, self.kind_box.current_family()
        if tok is None:
            return ""
        if family == "encoder":
            return " ".join(missing_encoder_tokens(tok))
        if family == "encoder-decoder":
            missing = missing_t5_tokens(tok)
            return str(missing) if missing else ""
        return ""

    def _show_missing_tokens(self, config: ModelConfig) -> None:
        tok = self.session.tokenizer
        self.kind_box.show_missing_tokens(self._missing_tokens(), tok.name if tok is not None else "", config.family)

    def _show_precision_note(self) -> None:
        chosen, used = self.precision.currentData(), self.effective_precision()
        device = "the CPU" if self._device_kind() == "cpu" else "this device"
        self.precision_note.setText(
            f"Mixed precision needs a CUDA GPU: on {device}, training uses float32, and so do the estimates."
            if chosen != used
            else ""
        )
        self.precision_note.setVisible(chosen != used)

    def _available_memory(self) -> AvailableMemory:
        device = self._device()
        if device is not None and device.kind == "cuda" and device.free_memory is not None:
            return AvailableMemory(device.free_memory, f"free memory on {device.name}")
        available = available_system_memory()
        if device is not None and device.kind == "mps":
            return AvailableMemory(available.bytes, f"system RAM, shared with the Apple GPU ({available.source})")
        return AvailableMemory(available.bytes, f"system RAM: {available.source}")

    # ================================================================== an encoder's (or T5's) special tokens

    def add_missing_tokens(self) -> Optional[Job]:
        """Add the special tokens the chosen family needs to a copy of the current tokenizer, in a job; the
        copy joins the session's tokenizers and becomes the current one."""
        tok, family = self.session.tokenizer, self.kind_box.current_family()
        missing = self._missing_tokens()
        if tok is None or self.tokens_slot.busy or not missing:
            return None
        if family == "encoder-decoder":
            job = Job(with_t5_tokens, tok, doing="adding T5's special tokens to the tokenizer")
            suffix = "T5 tokens"
        else:
            job = Job(with_encoder_tokens, tok, doing="adding the encoder's special tokens to the tokenizer")
            suffix, missing = "encoder tokens", ", ".join(missing_encoder_tokens(tok))
        job.result.connect(lambda added, tok=tok: self._tokens_added(tok, added, missing, suffix))
        job.error.connect(self.session.error)
        return self.tokens_slot.start(job)

    add_encoder_tokens = add_missing_tokens  # the name issue 15's tests call

    def _tokens_added(self, original: LoadedTokenizer, added: LoadedTokenizer, missing: str, suffix: str) -> None:
        added.name = f"{original.name} + {suffix}"
        self.session.add_tokenizer(added)  # becomes current: the vocabulary, and every count, follow
        first, last = original.vocab_size, added.vocab_size - 1
        ids = f"id {first:,}" if first == last else f"ids {first:,} to {last:,}"
        self.session.info(
            f"Added {missing} to {original.name} as special tokens ({ids}). The copy, "
            f"{added.name}, is now the current tokenizer; the original is still in the list of tokenizers."
        )

    # ================================================================== measuring the device

    def start_measurement(self) -> Optional[Job]:
        """Benchmark the device's matrix multiplies in the background (under a second)."""
        if self.measure_job is not None:
            return None
        job = Job(
            measure_device_speed, self.session.device, self.MEASURE_SECONDS, doing="measuring this device's speed"
        )
        job.result.connect(self._measured)
        job.error.connect(self._measure_failed)
        self.measure_error = None
        self.device_speed_label.setText("measuring…")
        return self.measure_slot.start(job)

    def _measured(self, speed: DeviceSpeed) -> None:
        self.measured_device, self.flops_per_second = speed.device, speed.flops_per_second
        self.refresh()

    def _measure_failed(self, message: str) -> None:
        self.measure_error = f"could not measure: {message}"
        self.refresh()

    def _device_changed(self, device: DeviceInfo) -> None:
        if self.measured_device is not None and self.measured_device.kind != device.kind:
            self.flops_per_second = None
            if self._shown_once:
                self.start_measurement()
        self.refresh()

    # ================================================================== workspace

    def state(self) -> dict:
        """The controls' settings, for a workspace."""
        return {
            "family": self.kind_box.current_family(),
            "preset": self.preset.currentData(),
            "flavour": self.flavour.currentData(),
            "n_layer": self.n_layer.value(),
            "n_decoder_layer": self.n_decoder_layer.value(),
            "n_head": self.n_head.value(),
            "n_embd": self.n_embd.value(),
            "mlp_hidden": self.mlp_hidden.value(),
            "context_length": self.context_length.value(),
            "dropout": round(self.dropout.value(), 4),
            "batch_size": self.batch_size.value(),
            "precision": self.precision.currentData(),
            "assumed_vocab": self._assumed_vocab,
        }

    def restore_state(self, state: dict) -> None:
        """Set the controls from a `state()` dict (sizes win over the preset), then recount once."""

        def number(key, kind=int):
            value = state.get(key)
            ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
            return value if ok else None

        flavour = state.get("flavour")
        family = FLAVOURS[flavour]["family"] if flavour in FLAVOURS else state.get("family")
        if family in FAMILIES:
            self.set_family(str(family))
        if state.get("preset") in presets_for(self.kind_box.current_family()):
            self.set_preset(state["preset"])
        self._updating = True
        try:
            index = self.flavour.findData(state.get("flavour"))
            if index >= 0:
                self.flavour.setCurrentIndex(index)
            for key in ("n_layer", "n_decoder_layer", "n_head", "n_embd", "mlp_hidden", "context_length", "batch_size"):
                if number(key) is not None:
                    getattr(self, key).setValue(number(key))
            if number("dropout", float) is not None:
                self.dropout.setValue(float(number("dropout", float)))
            index = self.precision.findData(state.get("precision"))
            if index >= 0:
                self.precision.setCurrentIndex(index)
            if number("assumed_vocab") is not None and number("assumed_vocab") > 0:
                self._assumed_vocab = number("assumed_vocab")
        finally:
            self._updating = False
        self.refresh()
