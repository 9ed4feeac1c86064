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
from PySide6.QtGui import QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QScrollArea,
                               QSizePolicy, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from playground.core.config import (FLAVOURS, PRESETS, ConfigProblem, ModelConfig, ParameterBreakdown,
                                    default_mlp_hidden, flops_per_token, parameter_breakdown)
from playground.core.devices import DeviceInfo
from playground.core.estimates import (OPTIMIZER_STATES, PRECISION_LABELS, AvailableMemory, MemoryEstimate,
                                       available_system_memory, estimate_tokens_per_second, human_bytes,
                                       human_count, human_duration, human_flops, memory_estimate,
                                       uses_fused_attention)
from playground.engine.jobs import Job
from playground.engine.session import Session

ERROR_COLOUR = "#b3261e"
WARNING_COLOUR = "#8a5a00"
OK_COLOUR = "#1e7b34"
MUTED_COLOUR = "#5f6368"

FLAVOUR_CHOICES = {
    "gpt2": ("GPT-2 style",
             "GPT-2 (2019): learns a vector for each position, normalises with LayerNorm, uses a GELU MLP, "
             "reads and writes tokens with one shared matrix (tied weights) and adds a bias to every layer."),
    "llama": ("LLaMA style",
              "LLaMA (2023): rotates queries and keys by position (RoPE: nothing to learn, and no fixed "
              "limit baked into a table), normalises with the simpler RMSNorm, gates its MLP (SwiGLU, three "
              "matrices a little narrower), keeps separate input and output matrices and drops the biases."),
}
PRECISION_TIPS = {
    "fp32": "Every number in 4 bytes. Simple and exact; the most memory.",
    "bf16": "Mixed precision: weights, gradients and optimizer stay 4-byte float32, most activations are "
            "kept in 2 bytes. Less memory, and much faster on a recent GPU.",
    "fp16": "Like bfloat16 but with a smaller range, so training needs loss scaling; for GPUs without bfloat16.",
}
# Rows of the parameter table: (label, what it holds).
PART_TIPS = {
    "Token embedding": "vocabulary × width: one learned vector for each token of the vocabulary.",
    "Position embedding": "context length × width: one learned vector for each position (GPT-2). "
                          "RoPE computes positions instead, so LLaMA style has none.",
    "Attention": "Per layer: queries, keys, values and the output, four width × width matrices (plus biases).",
    "MLP": "Per layer: widen to the MLP width and back, 2 × width × MLP width (SwiGLU has three such matrices).",
    "Norms": "A scale (and, with biases, a shift) per number: two norms per layer and one at the end.",
    "Output head": "width × vocabulary: turns the last vector into a score for every token. "
                   "0 when tied: GPT-2 reuses the token embedding matrix.",
    "Total": "Every number that training adjusts.",
}
PART_COLOURS = ["#4e79a7", "#a0cbe8", "#f28e2b", "#59a14f", "#b07aa1", "#e15759"]
MEMORY_COLOURS = ["#4e79a7", "#f28e2b", "#b07aa1", "#59a14f"]
GPT2_SMALL = "gpt2-small"


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


def _problem_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {ERROR_COLOUR};")
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


def _table(rows: list[str], headers: list[str], tips: dict[str, str]) -> QTableWidget:
    """A read-only table whose items are made once and updated in place."""
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.NoSelection)
    table.setFocusPolicy(Qt.NoFocus)
    table.setShowGrid(False)
    table.setAlternatingRowColors(True)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
    for column in range(1, len(headers)):
        header.setSectionResizeMode(column, QHeaderView.ResizeToContents)
    header.setSectionResizeMode(len(headers) - 1, QHeaderView.Stretch)
    bold = QFont()
    bold.setBold(True)
    for r, label in enumerate(rows):
        for c in range(len(headers)):
            item = QTableWidgetItem(label if c == 0 else "")
            if c > 0:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            if label in tips:
                item.setToolTip(tips[label])
            if label == "Total":
                item.setFont(bold)
            table.setItem(r, c, item)
    fit_height(table)
    return table


def fit_height(table: QTableWidget) -> None:
    """Make a table exactly as tall as its rows (again after the first show,
    when the style's real row heights are known)."""
    table.resizeRowsToContents()
    rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
    table.setFixedHeight(table.horizontalHeader().sizeHint().height() + rows + 2 * table.frameWidth() + 2)


class BuildPanel(QWidget):
    """Model size controls on the left; parameters, memory and speed on the right, live."""

    title = "Build"
    concept = (
        "<b>Model size</b><br>A model is a stack of <i>layers</i>. In each, every token is a vector of "
        "numbers (its <i>width</i>). <i>Attention</i> mixes in what earlier tokens say, split into "
        "<i>heads</i> that each look for something different; an <i>MLP</i> then reworks each vector."
        "<br><br>The <i>parameters</i> are the numbers training adjusts: about 12 × layers × width², "
        "plus a vector per vocabulary token. The <i>context</i> is how many tokens the model reads at once."
        "<br><br>Bigger models learn more but cost memory and time: watch the numbers on the right.")

    MEASURE_SECONDS = 0.3     # length of the matrix-multiply benchmark
    PROVISIONAL_VOCAB = 2000  # assumed until a tokenizer exists (the Tokenize step's default)
    UTILIZATION = 0.3         # share of the measured speed a training step is assumed to reach
    STEPS = 1000              # the "time for N steps" line

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.measure_job: Optional[Job] = None
        self.flops_per_second: Optional[float] = None
        self.measured_device: Optional[DeviceInfo] = None
        self.measure_error: Optional[str] = None
        self._assumed_vocab = self.PROVISIONAL_VOCAB
        self._shown_once = False
        self._updating = False
        self.param_plot = self.param_bars = None
        self.memory_plot = self.memory_bars = self.available_line = self.available_text = None
        self._config: Optional[ModelConfig] = None
        self._breakdown: Optional[ParameterBreakdown] = None
        self._memory: Optional[MemoryEstimate] = None
        self._available: Optional[AvailableMemory] = None
        self._updating = True  # no recounting while the controls are being made
        self._build()
        self._updating = False
        session.tokenizer_changed.connect(lambda _: self.refresh())
        session.device_changed.connect(self._device_changed)
        self.set_preset("tiny")

    def advanced_widgets(self) -> list[QWidget]:
        """Controls presentation mode hides: the defaults serve a first look."""
        return [self.mlp_hidden.parentWidget(), self.dropout.parentWidget(),  # their rows in the shape form
                self.batch_size.parentWidget()]                               # the training batch box

    # ================================================================== layout

    def _build(self) -> None:
        controls = QWidget()
        cl = QVBoxLayout(controls)
        cl.addWidget(self._preset_box())
        cl.addWidget(self._shape_box())
        cl.addWidget(self._batch_box())
        cl.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(380)
        scroll.setMaximumWidth(430)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)

        results = QWidget()
        rl = QVBoxLayout(results)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self._headline())
        rl.addWidget(self._parameters_box())
        rl.addWidget(self._memory_box())
        rl.addWidget(self._speed_box())
        rl.addStretch(1)
        right = QScrollArea()
        right.setWidget(results)
        right.setWidgetResizable(True)
        right.setFrameShape(QScrollArea.NoFrame)
        right.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)

        layout = QHBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(right, 1)

    def _preset_box(self) -> QGroupBox:
        box = QGroupBox("1 · Start from a preset")
        self.preset = QComboBox()
        for name, preset in PRESETS.items():
            self.preset.addItem(name, name)
            self.preset.setItemData(self.preset.count() - 1, preset.description, Qt.ToolTipRole)
        self.preset.addItem("custom", None)
        self.preset.setItemData(self.preset.count() - 1, "Your own sizes: change any control below.", Qt.ToolTipRole)
        self.preset.setToolTip("Ready-made sizes, from a toy that trains in a minute to GPT-2 small. "
                               "Picking one sets the controls below; change any of them afterwards.")
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.preset_note = QLabel()
        self.preset_note.setWordWrap(True)
        self.preset_note.setStyleSheet(f"color: {MUTED_COLOUR};")

        self.flavour = QComboBox()
        for key, (label, tip) in FLAVOUR_CHOICES.items():
            self.flavour.addItem(label, key)
            self.flavour.setItemData(self.flavour.count() - 1, tip, Qt.ToolTipRole)
        self.flavour.setToolTip("The family of design choices the model follows. Hover an entry to see what "
                                "each changes; the sizes stay the same.")
        self.flavour.currentIndexChanged.connect(lambda _: self._flavour_changed())
        self.flavour_note = QLabel()
        self.flavour_note.setWordWrap(True)
        self.flavour_note.setStyleSheet(f"color: {MUTED_COLOUR};")

        form = QFormLayout(box)
        form.addRow("Preset", self.preset)
        form.addRow("", self.preset_note)
        form.addRow("Flavour", self.flavour)
        form.addRow("", self.flavour_note)
        return box

    def _spin(self, low: int, high: int, step: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setGroupSeparatorShown(True)
        spin.setToolTip(tip)
        spin.setAccelerated(True)
        spin.valueChanged.connect(lambda _: self.refresh())
        return spin

    def _shape_box(self) -> QGroupBox:
        box = QGroupBox("2 · Shape")
        self.n_layer = self._spin(1, 96, 1, (
            "How many transformer blocks are stacked. Each block attends, then thinks (MLP); "
            "more layers let the model build more steps of reasoning on top of each other."))
        self.n_head = self._spin(1, 128, 1, (
            "Attention is split into this many heads, each free to look for something different "
            "(the previous word, the subject of the sentence…). The width must divide evenly among them."))
        self.n_embd = self._spin(1, 16384, 16, (
            "The width: how many numbers describe each token inside the model. Wider vectors can hold "
            "more meaning; the parameter count grows with its square."))
        self.mlp_hidden = self._spin(0, 65536, 64, (
            "The MLP widens each vector to this size, applies a non-linearity and narrows it back. "
            "0 means automatic: 4 × width for GPT-2's GELU, about 8/3 × width for LLaMA's SwiGLU."))
        self.context_length = self._spin(1, 32768, 32, (
            "The most tokens the model reads at once: its memory span. Longer contexts cost memory and "
            "time for attention, which compares every token with every earlier one."))
        self.vocab = QLabel()
        self.vocab.setWordWrap(True)
        self.vocab.setTextFormat(Qt.RichText)
        self.vocab.setToolTip("How many different tokens the model can read and write. It comes from the "
                              "tokenizer (step 1), so it is not set here.")
        self.dropout = QDoubleSpinBox()
        self.dropout.setRange(0.0, 0.9)
        self.dropout.setSingleStep(0.05)
        self.dropout.setDecimals(2)
        self.dropout.setToolTip("While training, switch off this share of numbers at random, so the model "
                                "cannot lean on any one of them: it fights memorising a small corpus. "
                                "0.1 is typical; 0 for tiny models or huge corpora. It adds no parameters.")
        self.dropout.valueChanged.connect(lambda _: self.refresh())

        self.problem_labels: dict[str, QLabel] = {
            name: _problem_label() for name in
            ("n_layer", "n_head", "n_embd", "mlp_hidden", "context_length", "vocab_size", "dropout", "other")}
        # Each control sits above its own problem line, in one form row, so a message
        # appears right under the control it concerns.
        self.form = QFormLayout(box)
        self.form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.captions: dict[str, QLabel] = {}
        self.head_note = QLabel()
        self.head_note.setStyleSheet(f"color: {MUTED_COLOUR};")
        self.head_note.setToolTip("Each head works on its own slice of the width.")
        rows = [("Layers", self.n_layer, "n_layer"), ("Heads", self.n_head, "n_head"),
                ("Width", self.n_embd, "n_embd"), ("MLP width", self.mlp_hidden, "mlp_hidden"),
                ("Context length", self.context_length, "context_length"),
                ("Vocabulary", self.vocab, "vocab_size"), ("Dropout", self.dropout, "dropout")]
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
        for label in self.problem_labels.values():
            label.hide()
        return box

    def _batch_box(self) -> QGroupBox:
        box = QGroupBox("3 · Training batch (for the estimates)")
        self.batch_size = self._spin(1, 4096, 1, (
            "How many text snippets, each a full context long, the model learns from at once. "
            "It does not change the model, only the memory and time of each training step."))
        self.batch_size.setValue(16)
        self.precision = QComboBox()
        for key, label in PRECISION_LABELS.items():
            self.precision.addItem(label, key)
            self.precision.setItemData(self.precision.count() - 1, PRECISION_TIPS[key], Qt.ToolTipRole)
        self.precision.setToolTip("How many bytes each number takes while training. Hover an entry to learn more.")
        self.precision.currentIndexChanged.connect(lambda _: self.refresh())
        self.precision_note = QLabel()
        self.precision_note.setWordWrap(True)
        self.precision_note.setStyleSheet(f"color: {WARNING_COLOUR};")
        self.precision_note.hide()
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Precision", self.precision)
        note = QLabel("Optimizer: AdamW, the usual choice for transformers.")
        note.setStyleSheet(f"color: {MUTED_COLOUR};")
        layout = QVBoxLayout(box)
        layout.addLayout(form)
        layout.addWidget(self.precision_note)
        layout.addWidget(note)
        return box

    def _headline(self) -> QWidget:
        self.total_label = QLabel()
        self.total_label.setStyleSheet("font-size: 26pt; font-weight: 600; color: #23283a;")
        self.total_label.setToolTip("Every number that training adjusts.")
        self.total_note = QLabel()
        self.total_note.setWordWrap(True)
        self.total_note.setTextFormat(Qt.RichText)
        self.total_note.setAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        self.total_note.setStyleSheet(f"color: {MUTED_COLOUR}; font-size: 10.5pt;")
        headline = QWidget()
        headline.setFixedHeight(76)  # the boxes below stay put however many lines the note takes
        row = QHBoxLayout(headline)
        row.setContentsMargins(6, 0, 6, 0)
        row.addWidget(self.total_label)
        row.addSpacing(12)
        row.addWidget(self.total_note, 1)
        return headline

    def _parameters_box(self) -> QGroupBox:
        box = QGroupBox("Where the parameters are")
        rows = [label for label, _ in ParameterBreakdown(0, 0, 0, 0, 0, 0).rows()]
        self.breakdown_table = _table(rows, ["Part", "Parameters", "Share"], PART_TIPS)
        for r, colour in enumerate(PART_COLOURS):
            self.breakdown_table.item(r, 0).setIcon(_swatch(colour))
        self.breakdown_table.setMinimumWidth(330)
        self.breakdown_table.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        self.param_plot_host = QVBoxLayout()
        self.param_plot_host.setContentsMargins(0, 0, 0, 0)
        layout = QHBoxLayout(box)
        layout.addWidget(self.breakdown_table)
        layout.addLayout(self.param_plot_host, 1)
        return box

    def _memory_box(self) -> QGroupBox:
        box = QGroupBox("Memory for one training step")
        rows = ["Weights", "Gradients", "Optimizer state", "Activations", "Total", "Available"]
        tips = {
            "Weights": "The parameters, 4 bytes each (float32). In mixed precision, plus a 2-byte copy "
                       "of every matrix for the forward pass.",
            "Gradients": "How each parameter should change: one 4-byte number per parameter.",
            "Optimizer state": "AdamW remembers two running averages per parameter: 8 bytes each.",
            "Activations": "What the forward pass keeps for the backward pass: grows with batch size "
                           "× context length. Includes the logits: a score for every vocabulary token "
                           "at every position.",
            "Total": "An upper bound of the peak. Not counted: the framework itself (on a GPU its CUDA "
                     "context takes 0.3–1 GB) and the allocator's spare room.",
            "Available": "What this machine can give a training run now.",
        }
        self.memory_table = _table(rows, ["Part", "Size", "How it is counted"], tips)
        for r, colour in enumerate(MEMORY_COLOURS):
            self.memory_table.item(r, 0).setIcon(_swatch(colour))
        for r in range(len(rows)):
            self.memory_table.item(r, 2).setTextAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        self.memory_table.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.fit_label = QLabel()
        self.fit_label.setWordWrap(True)
        self.fit_label.setTextFormat(Qt.RichText)
        self.fit_label.setStyleSheet("font-size: 11pt;")
        self.memory_plot_host = QVBoxLayout()
        self.memory_plot_host.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(box)
        layout.addWidget(self.memory_table)
        layout.addLayout(self.memory_plot_host)
        layout.addWidget(self.fit_label)
        return box

    def _speed_box(self) -> QGroupBox:
        box = QGroupBox("Speed")
        self.flops_label = QLabel()
        self.flops_label.setToolTip(
            "Floating-point operations to learn from one token, forward and backward: about 6 per "
            "parameter used in a matrix multiply, plus attention's comparisons with earlier tokens.")
        self.device_speed_label = QLabel("measuring…")
        self.device_speed_label.setWordWrap(True)
        self.device_speed_label.setToolTip(
            "Measured here: how fast this device multiplies two large float32 matrices, the heart of "
            "every training step.")
        self.remeasure = QPushButton("Measure again")
        self.remeasure.setToolTip("Run the short matrix-multiply benchmark again (it takes under a second). "
                                  "Close other heavy programs for a fair figure.")
        self.remeasure.clicked.connect(self.start_measurement)
        self.tokens_label = QLabel("measuring…")
        self.tokens_label.setWordWrap(True)
        self.tokens_label.setToolTip(
            f"Assumes a training step runs at {self.UTILIZATION:.0%} of the measured speed, plus a "
            "fixed cost per step for launching work. Small layers, attention, norms and the optimizer "
            "keep real training below the benchmark's best case. A guide, good to within 2–3×.")
        self.steps_label = QLabel("measuring…")
        self.steps_label.setWordWrap(True)
        self.steps_label.setToolTip(f"{self.STEPS:,} steps, each on one batch of batch size × context length tokens.")
        self.compare_label = QLabel()
        self.compare_label.setWordWrap(True)
        self.compare_label.setStyleSheet(f"color: {MUTED_COLOUR};")
        self.compare_label.setToolTip("GPT-2 small at the same batch size, with its own context of 1,024 tokens.")
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        captions = ["Work per token", "This device", "Training speed", f"{self.STEPS:,} steps"]
        values = [self.flops_label, self.device_speed_label, self.tokens_label, self.steps_label]
        for r, (caption, value) in enumerate(zip(captions, values)):
            label = QLabel(caption)
            label.setToolTip(value.toolTip())
            grid.addWidget(label, r, 0, Qt.AlignTop)
            grid.addWidget(value, r, 1)
        grid.addWidget(self.remeasure, 1, 2, Qt.AlignTop)
        grid.addWidget(self.compare_label, len(captions), 0, 1, 3)
        return box

    # ================================================================== plots (made once, on first show)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            fit_height(self.breakdown_table)
            fit_height(self.memory_table)
            self._make_plots()
            self.refresh()
            QTimer.singleShot(0, self, self.start_measurement)

    def _make_plots(self) -> None:
        if self.param_plot is not None:
            return
        import pyqtgraph as pg

        pg.setConfigOptions(antialias=True, background="w", foreground="#333")
        labels = [label for label, _ in ParameterBreakdown(0, 0, 0, 0, 0, 0).rows()[:-1]]
        n = len(labels)
        plot = pg.PlotWidget()
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.setXRange(0, 110, padding=0)
        plot.setYRange(-0.6, n - 0.4, padding=0)
        plot.getViewBox().invertY(True)
        plot.getAxis("left").setTicks([[(i, label) for i, label in enumerate(labels)]])
        # Every part keeps its label, even when the rows are tight.
        plot.getAxis("left").setStyle(hideOverlappingLabels=False)
        plot.getAxis("bottom").setTicks([[(x, f"{x}%") for x in range(0, 101, 25)]])
        plot.showGrid(x=True, y=False, alpha=0.25)
        plot.setLabel("bottom", "share of the parameters")
        plot.setFixedHeight(self.breakdown_table.height())
        plot.setToolTip("Each part's share of the parameters. Drag the controls and watch the bars.")
        self.param_bars = pg.BarGraphItem(x0=[0] * n, y=list(range(n)), height=0.65, width=[0] * n,
                                          brushes=PART_COLOURS, pens=[pg.mkPen(None)] * n)
        plot.addItem(self.param_bars)
        self.param_plot = plot
        self.param_plot_host.addWidget(plot)

        mem = pg.PlotWidget()
        mem.setMouseEnabled(False, False)
        mem.hideButtons()
        mem.setMenuEnabled(False)
        mem.setFixedHeight(96)
        mem.getAxis("left").setTicks([[(0, "needed")]])
        mem.setYRange(-0.6, 0.6, padding=0)
        mem.showGrid(x=True, y=False, alpha=0.25)
        mem.setToolTip("The memory a training step needs, stacked: weights, gradients, optimizer state, "
                       "activations. The red line is what this machine has available.")
        self.memory_bars = pg.BarGraphItem(x0=[0] * 4, y=[0] * 4, height=0.7, width=[0] * 4,
                                           brushes=MEMORY_COLOURS, pens=[pg.mkPen("w", width=1)] * 4)
        mem.addItem(self.memory_bars)
        self.available_line = pg.InfiniteLine(angle=90, movable=False,
                                              pen=pg.mkPen(ERROR_COLOUR, width=2, style=Qt.DashLine))
        mem.addItem(self.available_line)
        self.available_text = pg.TextItem(color=ERROR_COLOUR, anchor=(1, 0.5))
        mem.addItem(self.available_text)
        self.memory_plot = mem
        self.memory_plot_host.addWidget(mem)

    # ================================================================== the controls

    def set_preset(self, name: str) -> None:
        """Set every size control to the named preset (keeps the flavour, batch and precision)."""
        preset = PRESETS[name]
        self._updating = True
        try:
            self.n_layer.setValue(preset.n_layer)
            self.n_head.setValue(preset.n_head)
            self.n_embd.setValue(preset.n_embd)
            self.mlp_hidden.setValue(0)
            self.context_length.setValue(preset.context_length)
            self.dropout.setValue(preset.dropout)
            self._assumed_vocab = preset.vocab_size or self.PROVISIONAL_VOCAB
        finally:
            self._updating = False
        self.refresh()

    def _preset_chosen(self, index: int) -> None:
        name = self.preset.itemData(index)
        if name is not None and not self._updating:
            self.set_preset(name)

    def set_flavour(self, flavour: str) -> None:
        """Switch to "gpt2" or "llama" style."""
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
            dropout=round(self.dropout.value(), 4),
        )
        flavour = self.flavour.currentData()
        return ModelConfig(**{"flavour": flavour, **FLAVOURS[flavour], **sizes})

    def problems(self) -> list[ConfigProblem]:
        """What stops the model from being built or trained: `ConfigProblem`s, plus a missing tokenizer."""
        found = self.config().validate()
        if self.session.tokenizer is None:
            found.append(ConfigProblem("vocab_size", "Train or open a tokenizer first (step 1, Tokenize): "
                                                     "the model's vocabulary is the tokenizer's."))
        return found

    def effective_precision(self) -> str:
        """The precision training will use: mixed precision needs a CUDA GPU, elsewhere it is float32.

        The same rule as the trainer's (`core.training.resolve_precision`).
        """
        precision = self.precision.currentData()
        return precision if self._device_kind() == "cuda" else "fp32"

    def memory(self) -> MemoryEstimate:
        """The memory estimate for the current controls."""
        return memory_estimate(self.config(), self.batch_size.value(), self.effective_precision(),
                               "adamw", self._device_kind())

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
        self._show_precision_note()
        self._config = config
        sizes_ok = not config.validate()
        if sizes_ok:
            self._breakdown = parameter_breakdown(config)
            self._memory = self.memory()
            self._show_parameters(config, self._breakdown)
            self._show_memory(config, self._memory)
            self._show_speed(config)
        else:
            self._show_invalid()
        self.session.set_model_config(config, not problems)

    def _show_problems(self, problems) -> None:
        by_field: dict[str, list[str]] = {}
        for p in problems:
            field = p.field if p.field in self.problem_labels else "other"
            by_field.setdefault(field, []).append(p.message)
        for field, label in self.problem_labels.items():
            messages = by_field.get(field, [])
            if field == "vocab_size" and self.session.tokenizer is None:
                label.setStyleSheet(f"color: {WARNING_COLOUR};")
            else:
                label.setStyleSheet(f"color: {ERROR_COLOUR};")
            label.setText("\n".join(messages))
            label.setVisible(bool(messages))
        # A width that the heads cannot share concerns both controls: mark both captions.
        marked = set(by_field) - {"vocab_size"} | ({"n_head"} if "n_embd" in by_field else set())
        for field, caption in self.captions.items():
            caption.setStyleSheet(f"color: {ERROR_COLOUR}; font-weight: 600;" if field in marked else "")

    def _show_preset(self, config: ModelConfig) -> None:
        match = None
        for name, preset in PRESETS.items():
            if (preset.n_layer, preset.n_head, preset.n_embd, preset.context_length) == (
                    config.n_layer, config.n_head, config.n_embd, config.context_length) \
                    and math.isclose(preset.dropout, config.dropout) and config.mlp_hidden is None:
                match = name
                break
        index = self.preset.findData(match) if match else self.preset.count() - 1
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(index)
        self.preset.blockSignals(False)
        self.preset_note.setText(PRESETS[match].description if match else
                                 "Your own sizes. Pick a preset to start again from known ones.")

    def _show_shape_notes(self, config: ModelConfig) -> None:
        choices = FLAVOURS[config.flavour]
        self.flavour_note.setText(
            f"{'learned positions' if choices['positions'] == 'learned' else 'RoPE positions'} · "
            f"{'LayerNorm' if choices['norm'] == 'layernorm' else 'RMSNorm'} · "
            f"{'GELU' if choices['mlp'] == 'gelu' else 'SwiGLU'} MLP · "
            f"{'tied' if choices['tie_weights'] else 'separate'} output head · "
            f"{'biases' if choices['bias'] else 'no biases'}")
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

        tok = self.session.tokenizer
        if tok is not None:
            self.vocab.setText(f"<b>{tok.vocab_size:,}</b> tokens <span style='color:{MUTED_COLOUR}'>"
                               f"from {tok.name}</span>")
        elif self._assumed_vocab != self.PROVISIONAL_VOCAB:
            self.vocab.setText(f"<b>{self._assumed_vocab:,}</b> <span style='color:{MUTED_COLOUR}'>"
                               f"(GPT-2's tokenizer, to show its cost)</span>")
        else:
            self.vocab.setText(f"<b>{self._assumed_vocab:,}</b> <span style='color:{MUTED_COLOUR}'>"
                               f"(assumed until you have a tokenizer)</span>")

    def _show_precision_note(self) -> None:
        chosen, used = self.precision.currentData(), self.effective_precision()
        device = "the CPU" if self._device_kind() == "cpu" else "this device"
        self.precision_note.setText(f"Mixed precision needs a CUDA GPU: on {device}, training "
                                    "uses float32, and so do the estimates." if chosen != used else "")
        self.precision_note.setVisible(chosen != used)

    def _show_parameters(self, config: ModelConfig, counts: ParameterBreakdown) -> None:
        total = counts.total
        self.total_label.setText(f"{human_count(total)} parameters")
        gpt2 = parameter_breakdown(PRESETS[GPT2_SMALL].config(50257)).total  # the real one: GPT-2 style
        note = f"exactly {total:,}"
        if total < gpt2:
            note += (f"<br>GPT-2 small ({human_count(gpt2)}) is <b>{gpt2 / total:,.0f}×</b> bigger"
                     if gpt2 / total >= 1.5 else f"<br>about the size of GPT-2 small ({human_count(gpt2)})")
        if config.tie_weights:
            note += "<br>The output head reuses the token embedding matrix (tied weights)."
        else:
            note += "<br>A separate output head: as many parameters again as the token embedding."
        self.total_note.setText(note)
        shares = []
        for r, (label, count) in enumerate(counts.rows()):
            share = 100.0 * count / total if total else 0.0
            self.breakdown_table.item(r, 1).setText(f"{count:,}")
            self.breakdown_table.item(r, 2).setText(f"{share:.1f}%")
            if label != "Total":
                shares.append(share)
        if not config.tie_weights:
            self.breakdown_table.item(5, 0).setToolTip(PART_TIPS["Output head"])
        self.breakdown_table.item(5, 1).setText("shared" if config.tie_weights else f"{counts.output_head:,}")
        if self.param_bars is not None:
            self.param_bars.setOpts(width=shares)

    def _available_memory(self) -> AvailableMemory:
        device = self._device()
        if device is not None and device.kind == "cuda" and device.free_memory is not None:
            return AvailableMemory(device.free_memory, f"free memory on {device.name}")
        available = available_system_memory()
        if device is not None and device.kind == "mps":
            return AvailableMemory(available.bytes, f"system RAM, shared with the Apple GPU ({available.source})")
        return AvailableMemory(available.bytes, f"system RAM: {available.source}")

    def _show_memory(self, config: ModelConfig, m: MemoryEstimate) -> None:
        n = parameter_breakdown(config).total
        precision = self.effective_precision()
        tokens = self.batch_size.value() * config.context_length
        states = OPTIMIZER_STATES["adamw"]
        fused = uses_fused_attention(config, self._device_kind())
        how = [
            f"4 bytes × {human_count(n)} parameters"
            + (" + 2-byte copies of the matrices" if precision != "fp32" else ""),
            f"4 bytes × {human_count(n)} parameters",
            f"AdamW: {states} × 4 bytes × {human_count(n)} parameters",
            f"{self.batch_size.value():,} × {config.context_length:,} = {tokens:,} tokens, "
            f"logits {human_bytes(m.logits)}" + ("" if fused else " + attention maps"),
        ]
        activations_tip = (
            "What the forward pass keeps for the backward pass: it grows with batch size × context length. "
            f"The logits, a score for each of the {config.vocab_size:,} tokens at each position, "
            f"take {human_bytes(m.logits)} of it.")
        if not fused:
            activations_tip += (" On a CPU, attention with dropout cannot use the fused kernel, so it keeps "
                                "each head's context × context attention weights too: dropout 0 saves that.")
        for c in range(3):
            self.memory_table.item(3, c).setToolTip(activations_tip)
        available = self._available = self._available_memory()
        for r, (label, value) in enumerate(m.rows()):
            self.memory_table.item(r, 1).setText(human_bytes(value))
            self.memory_table.item(r, 2).setText(how[r] if r < len(how) else "upper bound of the peak")
        self.memory_table.item(5, 1).setText(human_bytes(available.bytes) if available.bytes else "unknown")
        self.memory_table.item(5, 2).setText(available.source)

        if available.bytes is None:
            self.fit_label.setText(f"<span style='color:{WARNING_COLOUR}'>Needs about <b>{human_bytes(m.total)}</b>; "
                                   "how much memory is free here is unknown.</span>")
        else:
            share = m.total / available.bytes
            if share <= 0.9:
                used = "under 1%" if share < 0.01 else f"{share:.0%}"
                colour, verdict = OK_COLOUR, f"✔ <b>Fits</b>: uses {used} of the {human_bytes(available.bytes)} available."
            elif share <= 1.0:
                colour, verdict = WARNING_COLOUR, (
                    f"⚠ <b>Tight</b>: {share:.0%} of the {human_bytes(available.bytes)} available, with little "
                    "room for the framework itself. A smaller batch would be safer.")
            else:
                colour, verdict = ERROR_COLOUR, (
                    f"✘ <b>Does not fit</b>: needs {human_bytes(m.total)}, only {human_bytes(available.bytes)} "
                    f"available. Try {self._memory_advice(config, m)}.")
            self.fit_label.setText(f"<span style='color:{colour}'>{verdict}</span>")
        self._draw_memory(m, available)

    def _memory_advice(self, config: ModelConfig, m: MemoryEstimate) -> str:
        tips = []
        if self.batch_size.value() > 1 and m.activations > m.total / 3:
            tips.append("a smaller batch")
        if self.effective_precision() == "fp32" and self._device_kind() == "cuda":
            tips.append("bfloat16")
        if config.context_length > 128 and m.activations > m.total / 3:
            tips.append("a shorter context")
        tips.append("fewer layers or a smaller width")
        return ", ".join(tips[:-1]) + (" or " if len(tips) > 1 else "") + tips[-1]

    def _draw_memory(self, m: MemoryEstimate, available: AvailableMemory) -> None:
        if self.memory_bars is None:
            return
        free = available.bytes
        # Show the available line when it is near; otherwise an arrow says how far off it is.
        near = free is not None and free <= 3 * m.total
        top = max(m.total, free) * 1.08 if near else m.total * 1.6
        unit, scale = "bytes", 1.0
        for name, size in (("KiB", 2**10), ("MiB", 2**20), ("GiB", 2**30), ("TiB", 2**40)):
            if top >= size:
                unit, scale = name, float(size)
        parts = [m.weights, m.gradients, m.optimizer_state, m.activations]
        x0 = [sum(parts[:i]) / scale for i in range(4)]
        self.memory_bars.setOpts(x0=x0, width=[p / scale for p in parts])
        self.memory_plot.setXRange(0, top / scale, padding=0)
        self.memory_plot.setLabel("bottom", f"memory ({unit})")
        if near:
            self.available_line.setPos(free / scale)
            self.available_line.show()
            self.available_text.hide()
        else:
            self.available_line.hide()
            if free:
                self.available_text.setText(f"available: {human_bytes(free)} →")
                self.available_text.setPos(top / scale, 0.0)
                self.available_text.show()
            else:
                self.available_text.hide()

    def _show_speed(self, config: ModelConfig) -> None:
        fpt = flops_per_token(config)
        self.flops_label.setText(f"<b>{human_flops(fpt)}</b> per token (forward + backward)")
        device = self._device()
        name = "this device" if device is None else (
            "the CPU" if device.kind == "cpu" else "the GPU")
        if self.flops_per_second is None:
            text = self.measure_error or "measuring…"
            self.device_speed_label.setText(text)
            self.tokens_label.setText("waiting for the measurement…" if self.measure_error is None else "unknown")
            self.steps_label.setText("")
            self.compare_label.setText("")
            return
        self.device_speed_label.setText(
            f"<b>{human_flops(self.flops_per_second)}/s</b> measured on {name} "
            f"<span style='color:{MUTED_COLOUR}'>(float32 matrix multiply)</span>")
        if device is not None:
            self.device_speed_label.setToolTip(device.describe() + "\n\n" + self.tokens_label.toolTip())
        batch = self.batch_size.value()
        per_step = batch * config.context_length
        tps = estimate_tokens_per_second(config, self.flops_per_second, self.UTILIZATION, per_step)
        self.tokens_label.setText(f"≈ <b>{tps:,.0f}</b> tokens/s "
                                  f"<span style='color:{MUTED_COLOUR}'>(if a step reaches "
                                  f"{self.UTILIZATION:.0%} of that speed)</span>")
        seconds = self.STEPS * per_step / tps
        self.steps_label.setText(f"≈ <b>{human_duration(seconds)}</b> for {self.STEPS:,} steps of "
                                 f"{batch:,} × {config.context_length:,} = {per_step:,} tokens")
        gpt2 = PRESETS[GPT2_SMALL].config(50257)
        if parameter_breakdown(config).total < 0.67 * parameter_breakdown(gpt2).total:
            g_tps = estimate_tokens_per_second(gpt2, self.flops_per_second, self.UTILIZATION,
                                               batch * gpt2.context_length)
            g_seconds = self.STEPS * batch * gpt2.context_length / g_tps
            g_mem = memory_estimate(gpt2, batch, self.effective_precision(), "adamw", self._device_kind())
            self.compare_label.setText(
                f"For comparison, GPT-2 small here: ≈ {g_tps:,.0f} tokens/s, {human_duration(g_seconds)} "
                f"for {self.STEPS:,} steps of {batch:,} × 1,024 tokens, and {human_bytes(g_mem.total)} of memory.")
        else:
            self.compare_label.setText("")

    def _show_invalid(self) -> None:
        self.total_label.setText("— parameters")
        self.total_note.setText("Fix the problem shown in red on the left to see the numbers.")
        for r in range(self.breakdown_table.rowCount()):
            self.breakdown_table.item(r, 1).setText("—")
            self.breakdown_table.item(r, 2).setText("")
        for r in range(self.memory_table.rowCount() - 1):
            self.memory_table.item(r, 1).setText("—")
            self.memory_table.item(r, 2).setText("")
        self.fit_label.setText("")
        self.flops_label.setText("—")
        self.tokens_label.setText("—")
        self.steps_label.setText("")
        self.compare_label.setText("")
        if self.param_bars is not None:
            self.param_bars.setOpts(width=[0] * 6)
            self.memory_bars.setOpts(width=[0] * 4)

    # ================================================================== measuring the device

    def start_measurement(self) -> Optional[Job]:
        """Benchmark the device's matrix multiplies in the background (under a second)."""
        if self.measure_job is not None:
            return None
        device = self.session.device
        seconds = self.MEASURE_SECONDS

        def work(report, cancel):
            from playground.core.devices import detect_device
            from playground.core.estimates import measure_matmul_flops

            info = device or detect_device()
            return info, measure_matmul_flops(info.kind, seconds, cancel=cancel)

        job = Job(work, "measuring this device's speed")
        self.measure_job = job
        self.measure_error = None
        job.result.connect(self._measured)
        job.error.connect(self._measure_failed)
        job.done.connect(self._measure_done)
        self.remeasure.setEnabled(False)
        self.device_speed_label.setText("measuring…")
        job.start()
        return job

    def _measured(self, value) -> None:
        info, flops = value
        self.measured_device, self.flops_per_second = info, flops
        self.refresh()

    def _measure_failed(self, message: str) -> None:
        self.measure_error = f"could not measure: {message}"
        self.refresh()

    def _measure_done(self) -> None:
        self.measure_job = None
        self.remeasure.setEnabled(True)

    def _device_changed(self, device: DeviceInfo) -> None:
        if self.measured_device is not None and self.measured_device.kind != device.kind:
            self.flops_per_second = None
            if self._shown_once:
                self.start_measurement()
        self.refresh()

    # ================================================================== workspace

    def state(self) -> dict:
        """The controls' settings, for a workspace."""
        return {"preset": self.preset.currentData(), "flavour": self.flavour.currentData(),
                "n_layer": self.n_layer.value(), "n_head": self.n_head.value(), "n_embd": self.n_embd.value(),
                "mlp_hidden": self.mlp_hidden.value(), "context_length": self.context_length.value(),
                "dropout": round(self.dropout.value(), 4), "batch_size": self.batch_size.value(),
                "precision": self.precision.currentData(), "assumed_vocab": self._assumed_vocab}

    def restore_state(self, state: dict) -> None:
        """Set the controls from a `state()` dict (sizes win over the preset), then recount once."""
        def number(key, kind=int):
            value = state.get(key)
            ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
            return value if ok else None

        if state.get("preset") in PRESETS:
            self.set_preset(state["preset"])
        self._updating = True
        try:
            index = self.flavour.findData(state.get("flavour"))
            if index >= 0:
                self.flavour.setCurrentIndex(index)
            for key in ("n_layer", "n_head", "n_embd", "mlp_hidden", "context_length", "batch_size"):
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
