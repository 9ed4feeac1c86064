"""The Build step's results: the parameter count, where the parameters are, the memory of a
training step against what this machine has, and how fast training may go.

Each section only shows numbers the Build panel counted (`core.config`, `core.estimates`);
the charts are made on the panel's first show (pyqtgraph takes a moment to import).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core.config import ModelConfig, ParameterBreakdown, parameter_breakdown
from playground.core.estimates import (
    OPTIMIZER_STATES,
    AvailableMemory,
    MemoryEstimate,
    human_bytes,
    human_count,
    uses_fused_attention,
)
from playground.ui.themes import colour, follow_look, font_scale, plot_colours, qcolour, themed_style, themed_text
from playground.ui.widgets.table_cells import cell

GPT2_SMALL = "gpt2-small"
# The real model each family's counts are set against: GPT-2 small, BERT-base for an encoder, T5-small
# for an encoder-decoder.
REFERENCES = {
    "decoder": ("GPT-2 small", GPT2_SMALL, "gpt2", 50257),
    "encoder": ("BERT-base", "bert-base", "bert", 30522),
    "encoder-decoder": ("T5-small", "t5-small", "t5", 32128),
}


def reference_model(config: ModelConfig) -> tuple[str, ModelConfig]:
    """The name and config of the well-known model of `config`'s family."""
    name, preset, flavour, vocab = REFERENCES[config.family]
    return name, ModelConfig.from_preset(preset, vocab, flavour=flavour)


# Rows of the parameter table: (label, what it holds).
PART_TIPS = {
    "Token embedding": "vocabulary × width: one learned vector for each token of the vocabulary.",
    "Position embedding": "context length × width: one learned vector for each position (GPT-2). "
    "RoPE computes positions instead, so LLaMA style has none.",
    "Relative position bias": "buckets × heads, one table per stack: T5 learns no vector per position but a "
    "number added to each attention score, by how far apart the two tokens are (distances sorted into buckets).",
    "Attention": "Per layer: queries, keys, values and the output, four width × width matrices (plus biases). "
    "An encoder-decoder counts the self-attention of both stacks here.",
    "Cross-attention": "Per decoder layer: four width × width matrices with which each output token asks the "
    "encoder's reading of the input for what it needs (queries from the decoder, keys and values from the "
    "encoder).",
    "MLP": "Per layer: widen to the MLP width and back, 2 × width × MLP width (SwiGLU has three such matrices).",
    "Token-type embedding": "2 × width: BERT's two sentence types (A and B), added to every token's "
    "vector. The app reads single texts, so only type A is used.",
    "Norms": "A scale (and, with biases, a shift) per number: two norms per layer and one more "
    "(a decoder's after the last layer, an encoder's after the embeddings; an encoder-decoder's "
    "after each stack, with a third in each decoder layer for its cross-attention).",
    "Masked-LM head": "An encoder's head: a width × width layer, GELU and a norm rework each hidden "
    "position's vector, then the output matrix scores every token; this row counts the layer, the "
    "norm and the output's bias (one per vocabulary token).",
    "Output head": "width × vocabulary: turns the last vector into a score for every token. "
    "0 when tied: GPT-2 and BERT reuse the token embedding matrix.",
    "Total": "Every number that training adjusts.",
}
# Colour roles, part by part: a part keeps its colour in both families.
PART_COLOURS = {
    "Token embedding": "cat_1",
    "Position embedding": "cat_2",
    "Relative position bias": "cat_2",  # what T5 has instead of a position embedding
    "Token-type embedding": "cat_7",
    "Attention": "cat_3",
    "MLP": "cat_4",
    "Norms": "cat_5",
    "Masked-LM head": "cat_8",
    "Cross-attention": "cat_8",  # an encoder's head and an encoder-decoder's cross-attention never meet
    "Output head": "cat_6",
}
MEMORY_COLOURS = ["cat_1", "cat_3", "cat_5", "cat_4"]
MEMORY_TIPS = {
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


def _swatch(role: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(qcolour(role))
    return QIcon(pixmap)


def _table(rows: list[str], headers: list[str], tips: dict[str, str]) -> QTableWidget:
    """A read-only table whose items are made once and updated in place."""
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.setShowGrid(False)
    table.setAlternatingRowColors(True)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    for column in range(1, len(headers)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
    _fill_rows(table, rows, tips)
    fit_height(table)
    if font_scale() != 1.0:  # made in presentation mode: its height at scale 1 is not known yet
        setattr(table, FITTED_AT, (font_scale(), None))
    follow_look(table, lambda: _follow_font_scale(table))
    return table


def _fill_rows(table: QTableWidget, rows: list[str], tips: dict[str, str]) -> None:
    """Items for every row: the label first, then empty right-aligned cells; the total in bold."""
    bold = QFont()
    bold.setBold(True)
    for r, label in enumerate(rows):
        for c in range(table.columnCount()):
            item = QTableWidgetItem(label if c == 0 else "")
            if c > 0:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if label in tips:
                item.setToolTip(tips[label])
            if label == "Total":
                item.setFont(bold)
            table.setItem(r, c, item)


FITTED_AT = "_pg_fitted_at"  # on a table: (the font scale it was last fitted at, its height at scale 1)


def _follow_font_scale(table: QTableWidget) -> None:
    """Presentation mode's bigger rows need a taller table (else the rows overlap what follows);
    leaving it gives the table back the height it had."""
    scale, height = getattr(table, FITTED_AT, (1.0, table.minimumHeight()))
    if font_scale() == scale:
        return
    if font_scale() == 1.0:
        delattr(table, FITTED_AT)
        if height is not None:
            table.setFixedHeight(height)
        else:
            fit_height(table)
        return
    setattr(table, FITTED_AT, (font_scale(), height))
    fit_height(table)


def fit_height(table: QTableWidget) -> None:
    """Make a table exactly as tall as its rows (again after the first show,
    when the style's real row heights are known)."""
    table.resizeRowsToContents()
    rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
    table.setFixedHeight(table.horizontalHeader().sizeHint().height() + rows + 2 * table.frameWidth() + 2)


def _bar_plot(height: int, tip: str):
    """A fixed pyqtgraph plot for bars, which the mouse does not move."""
    import pyqtgraph as pg

    background, foreground = plot_colours()
    pg.setConfigOptions(antialias=True, background=background, foreground=foreground)
    plot = pg.PlotWidget()
    plot.setMouseEnabled(False, False)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    plot.setFixedHeight(height)
    plot.showGrid(x=True, y=False, alpha=0.25)
    plot.setToolTip(tip)
    return plot


class ParameterCount(QWidget):
    """The headline: how many parameters, exactly, and against GPT-2 small."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.total_label = QLabel()
        themed_style(self.total_label, "font-size: 26pt; font-weight: 600; color: {heading};")
        self.total_label.setToolTip("Every number that training adjusts.")
        self.total_note = QLabel()
        self.total_note.setWordWrap(True)
        self.total_note.setTextFormat(Qt.TextFormat.RichText)
        self.total_note.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        themed_style(self.total_note, "color: {muted}; font-size: 10.5pt;")
        # The note sits beside the number where there is room, below it on a narrow screen; the
        # height is fixed either way, so the boxes below stay put however many lines the note takes.
        self.row = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)
        self.row.setContentsMargins(6, 0, 6, 0)
        self.row.addWidget(self.total_label)
        self.row.addWidget(self.total_note, 1)
        self._arrange(self.width())

    NOTE_WIDTH = 220  # the least room beside the number for the note to sit there

    def _arrange(self, width: int) -> None:
        for label in (self.total_label, self.total_note):
            label.ensurePolished()  # their style sheet fonts give their sizes
        beside = width >= self.total_label.sizeHint().width() + 18 + self.NOTE_WIDTH
        self.row.setDirection(QBoxLayout.Direction.LeftToRight if beside else QBoxLayout.Direction.TopToBottom)
        self.row.setSpacing(18 if beside else 0)
        below = self.total_label.sizeHint().height() + self.total_note.heightForWidth(max(1, width - 12)) + 4
        self.setFixedHeight(76 if beside else below)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._arrange(event.size().width())

    def show_count(self, config: ModelConfig, total: int) -> None:
        self.total_label.setText(f"{human_count(total)} parameters")
        name, reference = reference_model(config)  # the real one, in its own style and vocabulary
        known = parameter_breakdown(reference).total
        note = f"exactly {total:,}"
        if total < known:
            note += (
                f"<br>{name} ({human_count(known)}) is <b>{known / total:,.0f}×</b> bigger"
                if known / total >= 1.5
                else f"<br>about the size of {name} ({human_count(known)})"
            )
        if config.tie_weights:
            note += "<br>The output head reuses the token embedding matrix (tied weights)."
        else:
            note += "<br>A separate output head: as many parameters again as the token embedding."
        self.total_note.setText(note)
        self._arrange(self.width())

    def show_invalid(self) -> None:
        self.total_label.setText("— parameters")
        self.total_note.setText("Fix the problem shown in red on the left to see the numbers.")
        self._arrange(self.width())


class ParametersBox(QGroupBox):
    """Where the parameters are: a table of the parts and a bar of each part's share.

    The parts are `ParameterBreakdown.rows()`: a decoder's six, an encoder's eight (its
    token-type embedding and masked-LM head too); the table and the chart follow the rows.
    """

    def __init__(self, parent=None) -> None:
        super().__init__("Where the parameters are", parent)
        self.labels = [label for label, _ in ParameterBreakdown(0, 0, 0, 0, 0, 0).rows()]
        self.table = _table(self.labels, ["Part", "Parameters", "Share"], PART_TIPS)
        self._colour_rows()
        self.table.setMinimumWidth(330)
        self.table.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        # pyqtgraph items, made by make_chart (pyqtgraph has no type information)
        self.plot: Any = None
        self.bars: Any = None
        self._plot_host = QVBoxLayout()
        self._plot_host.setContentsMargins(0, 0, 0, 0)
        # The chart sits beside the table where there is room for its labels, below it otherwise.
        self.row = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)
        self.row.addWidget(self.table)
        self.row.addLayout(self._plot_host, 1)

    CHART_WIDTH = 280  # the least room beside the table for the chart and its labels

    @property
    def parts(self) -> list[str]:
        """The rows' labels without the total: the chart's bars."""
        return self.labels[:-1]

    def _colour_rows(self) -> None:
        for r, label in enumerate(self.parts):
            cell(self.table, r, 0).setIcon(_swatch(PART_COLOURS[label]))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        beside = event.size().width() >= self.table.minimumWidth() + self.CHART_WIDTH + 30
        self.row.setDirection(QBoxLayout.Direction.LeftToRight if beside else QBoxLayout.Direction.TopToBottom)

    def make_chart(self) -> None:
        import pyqtgraph as pg

        plot = _bar_plot(
            self.table.height(), "Each part's share of the parameters. Drag the controls and watch the bars."
        )
        plot.setXRange(0, 110, padding=0)
        plot.getViewBox().invertY(True)
        # Every part keeps its label, even when the rows are tight.
        plot.getAxis("left").setStyle(hideOverlappingLabels=False)
        plot.getAxis("bottom").setTicks([[(x, f"{x}%") for x in range(0, 101, 25)]])
        plot.setLabel("bottom", "share of the parameters")
        n = len(self.parts)
        self.bars = pg.BarGraphItem(x0=[0] * n, y=list(range(n)), height=0.65, width=[0] * n)
        plot.addItem(self.bars)
        self.plot = plot
        self._label_chart()
        self._plot_host.addWidget(plot)

    def _label_chart(self) -> None:
        """One bar and one label for each part, in the table's order."""
        import pyqtgraph as pg

        parts = self.parts
        n = len(parts)
        self.plot.setFixedHeight(self.table.height())
        self.plot.setYRange(-0.6, n - 0.4, padding=0)
        self.plot.getAxis("left").setTicks([[(i, label) for i, label in enumerate(parts)]])
        self.bars.setOpts(
            x0=[0] * n,
            y=list(range(n)),
            width=[0] * n,
            brushes=[colour(PART_COLOURS[label]) for label in parts],
            pens=[pg.mkPen(None)] * n,
        )

    def _set_rows(self, labels: list[str]) -> None:
        """Show these parts (a family changed): rows made again, the table as tall as them, the chart too."""
        self.labels = labels
        self.table.setRowCount(0)
        self.table.setRowCount(len(labels))
        _fill_rows(self.table, labels, PART_TIPS)
        self._colour_rows()
        if font_scale() != 1.0:  # its height at scale 1 is not known now: fitted again on leaving
            setattr(self.table, FITTED_AT, (font_scale(), None))
        fit_height(self.table)
        if self.bars is not None:
            self._label_chart()

    def show_counts(self, config: ModelConfig, counts: ParameterBreakdown) -> None:
        rows = counts.rows()
        if [label for label, _ in rows] != self.labels:
            self._set_rows([label for label, _ in rows])
        total = counts.total
        shares = []
        for r, (label, count) in enumerate(rows):
            share = 100.0 * count / total if total else 0.0
            cell(self.table, r, 1).setText(f"{count:,}")
            cell(self.table, r, 2).setText(f"{share:.1f}%")
            if label != "Total":
                shares.append(share)
        head = self.labels.index("Output head")
        cell(self.table, head, 1).setText("shared" if config.tie_weights else f"{counts.output_head:,}")
        if self.bars is not None:
            self.bars.setOpts(width=shares)

    def show_invalid(self) -> None:
        for r in range(self.table.rowCount()):
            cell(self.table, r, 1).setText("—")
            cell(self.table, r, 2).setText("")
        if self.bars is not None:
            self.bars.setOpts(width=[0] * len(self.parts))


class MemoryBox(QGroupBox):
    """The memory of one training step, part by part, against what is available, with a verdict."""

    def __init__(self, parent=None) -> None:
        super().__init__("Memory for one training step", parent)
        rows = ["Weights", "Gradients", "Optimizer state", "Activations", "Total", "Available"]
        self.table = _table(rows, ["Part", "Size", "How it is counted"], MEMORY_TIPS)
        for r, role in enumerate(MEMORY_COLOURS):
            cell(self.table, r, 0).setIcon(_swatch(role))
        for r in range(len(rows)):
            cell(self.table, r, 2).setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.fit_label = QLabel()
        self.fit_label.setWordWrap(True)
        self.fit_label.setTextFormat(Qt.TextFormat.RichText)
        self.fit_label.setStyleSheet("font-size: 11pt;")
        # pyqtgraph items, made by make_chart (pyqtgraph has no type information)
        self.plot: Any = None
        self.bars: Any = None
        self.available_line: Any = None
        self.available_text: Any = None
        self._plot_host = QVBoxLayout()
        self._plot_host.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(self._plot_host)
        layout.addWidget(self.fit_label)

    def make_chart(self) -> None:
        import pyqtgraph as pg

        mem = _bar_plot(
            96,
            "The memory a training step needs, stacked: weights, gradients, optimizer state, "
            "activations. The red line is what this machine has available.",
        )
        mem.getAxis("left").setTicks([[(0, "needed")]])
        mem.setYRange(-0.6, 0.6, padding=0)
        self.bars = pg.BarGraphItem(
            x0=[0] * 4,
            y=[0] * 4,
            height=0.7,
            width=[0] * 4,
            brushes=[colour(role) for role in MEMORY_COLOURS],
            pens=[pg.mkPen(colour("bar_edge"), width=1)] * 4,
        )
        mem.addItem(self.bars)
        self.available_line = pg.InfiniteLine(angle=90, movable=False)
        mem.addItem(self.available_line)
        self.available_text = pg.TextItem(anchor=(1, 0.5))
        mem.addItem(self.available_text)
        self._colour_available()
        follow_look(mem, self._colour_available)
        self.plot = mem
        self._plot_host.addWidget(mem)

    def _colour_available(self) -> None:
        """The available memory in the look's red (the plot follows the theme's background)."""
        import pyqtgraph as pg

        self.available_line.setPen(pg.mkPen(colour("error"), width=2, style=Qt.PenStyle.DashLine))
        self.available_text.setColor(colour("error"))

    def show_memory(
        self,
        config: ModelConfig,
        m: MemoryEstimate,
        available: AvailableMemory,
        batch_size: int,
        precision: str,
        device_kind: str,
    ) -> None:
        n = parameter_breakdown(config).total
        tokens = batch_size * config.context_length
        states = OPTIMIZER_STATES["adamw"]
        fused = uses_fused_attention(config, device_kind)
        how = [
            f"4 bytes × {human_count(n)} parameters"
            + (" + 2-byte copies of the matrices" if precision != "fp32" else ""),
            f"4 bytes × {human_count(n)} parameters",
            f"AdamW: {states} × 4 bytes × {human_count(n)} parameters",
            f"{batch_size:,} × {config.context_length:,} = {tokens:,} tokens, "
            f"logits {human_bytes(m.logits)}" + ("" if fused else " + attention maps"),
        ]
        activations_tip = (
            "What the forward pass keeps for the backward pass: it grows with batch size × context length. "
            f"The logits, a score for each of the {config.vocab_size:,} tokens at each position, "
            f"take {human_bytes(m.logits)} of it."
        )
        if not fused:
            activations_tip += (
                " On a CPU, attention with dropout cannot use the fused kernel, so it keeps "
                "each head's context × context attention weights too: dropout 0 saves that."
            )
        for c in range(3):
            cell(self.table, 3, c).setToolTip(activations_tip)
        for r, (_, value) in enumerate(m.rows()):
            cell(self.table, r, 1).setText(human_bytes(value))
            cell(self.table, r, 2).setText(how[r] if r < len(how) else "upper bound of the peak")
        cell(self.table, 5, 1).setText(human_bytes(available.bytes) if available.bytes else "unknown")
        cell(self.table, 5, 2).setText(available.source)

        if available.bytes is None:
            themed_text(
                self.fit_label,
                "<span style='color:{warning}'>Needs about <b>{total}</b>; "
                "how much memory is free here is unknown.</span>",
                total=human_bytes(m.total),
            )
        else:
            share = m.total / available.bytes
            if share <= 0.9:
                used = "under 1%" if share < 0.01 else f"{share:.0%}"
                tone = "ok"
                verdict = f"✔ <b>Fits</b>: uses {used} of the {human_bytes(available.bytes)} available."
            elif share <= 1.0:
                tone, verdict = (
                    "warning",
                    (
                        f"⚠ <b>Tight</b>: {share:.0%} of the {human_bytes(available.bytes)} available, with little "
                        "room for the framework itself. A smaller batch would be safer."
                    ),
                )
            else:
                advice = _memory_advice(config, m, batch_size, precision, device_kind)
                tone, verdict = (
                    "error",
                    (
                        f"✘ <b>Does not fit</b>: needs {human_bytes(m.total)}, only {human_bytes(available.bytes)} "
                        f"available. Try {advice}."
                    ),
                )
            themed_text(self.fit_label, f"<span style='color:{{{tone}}}'>{{verdict}}</span>", verdict=verdict)
        self._draw(m, available)

    def _draw(self, m: MemoryEstimate, available: AvailableMemory) -> None:
        if self.bars is None:
            return
        free = available.bytes
        # Show the available line when it is near; otherwise an arrow says how far off it is.
        near = free is not None and free <= 3 * m.total
        top = max(m.total, free) * 1.08 if near and free is not None else m.total * 1.6
        unit, scale = "bytes", 1.0
        for name, size in (("KiB", 2**10), ("MiB", 2**20), ("GiB", 2**30), ("TiB", 2**40)):
            if top >= size:
                unit, scale = name, float(size)
        parts = [m.weights, m.gradients, m.optimizer_state, m.activations]
        x0 = [sum(parts[:i]) / scale for i in range(4)]
        self.bars.setOpts(x0=x0, width=[p / scale for p in parts])
        self.plot.setXRange(0, top / scale, padding=0)
        self.plot.setLabel("bottom", f"memory ({unit})")
        if near and free is not None:
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

    def show_invalid(self) -> None:
        for r in range(self.table.rowCount() - 1):
            cell(self.table, r, 1).setText("—")
            cell(self.table, r, 2).setText("")
        self.fit_label.setText("")
        if self.bars is not None:
            self.bars.setOpts(width=[0] * 4)


def _memory_advice(config: ModelConfig, m: MemoryEstimate, batch_size: int, precision: str, device_kind: str) -> str:
    tips = []
    if batch_size > 1 and m.activations > m.total / 3:
        tips.append("a smaller batch")
    if precision == "fp32" and device_kind == "cuda":
        tips.append("bfloat16")
    if config.context_length > 128 and m.activations > m.total / 3:
        tips.append("a shorter context")
    tips.append("fewer layers or a smaller width")
    return ", ".join(tips[:-1]) + (" or " if len(tips) > 1 else "") + tips[-1]
