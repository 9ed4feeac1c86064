"""The Evaluate panel's Perplexity tab: checkpoints scored on one text, in a table that keeps every result.

The text is the validation split of the current corpus or a text file; the
bar chart shows bits per byte, the number that compares models with different
tokenizers fairly. The scoring is `core.evaluation.compare_checkpoints`, run
as a job; this tab only chooses what to score and shows the rows as they come.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core.progress import UserError
from playground.engine.jobs import Job, JobSlot
from playground.engine.session import Session
from playground.ui.themes import follow_item_colours, themed_item, themed_style, themed_text
from playground.ui.widgets.checkpoint_list import CheckpointList
from playground.ui.widgets.evaluate_parts import (
    AMBER_STYLE,
    GOOD,
    NOTE_STYLE,
    ElideRight,
    RunBox,
    controls_column,
    note,
    set_header,
    show_progress,
)
from playground.ui.widgets.number_item import NumberItem

if TYPE_CHECKING:
    from playground.core.corpus import Corpus
    from playground.core.evaluation import PerplexityRow, ValidationSplits
    from playground.ui.widgets.metric_bars import MetricBars

SOURCE_VALIDATION, SOURCE_FILE = "validation", "file"  # a result's source is "validation:<corpus>" or a path
READ_NOW_BYTES = 16 * 2**20  # a text file this small is read when chosen, so a bad one is refused at once

COLUMNS = [
    "Checkpoint",
    "Text",
    "Params",
    "Vocab",
    "Steps",
    "Tokens\nscored",
    "(Pseudo-)\nperplexity",
    "Bits per\nbyte",
    "Masked\naccuracy",
]
WIDTHS = [0, 130, 64, 56, 56, 66, 80, 66, 70]  # pixels; the first column stretches
TIPS = [
    "The run the checkpoint belongs to; ● marks the current model.",
    "The text it was scored on: every token but the first is predicted once, from the tokens before it.",
    "The model's parameters (weights), counted once where the output layer shares the token embedding.",
    "How many tokens the model's tokenizer knows: its vocabulary size.",
    "Optimizer steps the checkpoint was trained for.",
    "How many tokens the model predicted: the same text makes more tokens with a smaller vocabulary.",
    "e^(mean loss): per token, the model is as unsure as a fair choice among this many tokens. Lower is "
    "better, but it only compares models that share a tokenizer: longer tokens are fewer and harder. "
    "For an encoder, in italics, its pseudo-perplexity: each token hidden in turn and guessed from both sides.",
    "The surprise summed over the text, in bits, divided by the text's bytes (UTF-8). Lower is better, and "
    "it compares any two decoders, whatever their tokenizers: the text's bytes are the same for all. An "
    "encoder's comes from its pseudo-perplexity: compare it with other encoders only.",
    "An encoder's share of hidden tokens whose top guess was right (each token hidden in turn). "
    "A decoder has none: it predicts the next token instead.",
]
KINDS_NOTE = (
    "Encoders get a pseudo-perplexity (in italics): each token hidden in turn and guessed from both sides, an "
    "easier guess than a decoder's from the left, so it is not the same kind of number as perplexity. Bits per "
    "byte compare decoders with decoders and encoders with encoders, never one with the other."
)
FAIRNESS = (
    "Bits per byte divide the model's surprise by the bytes of the text, not by its tokens, so every "
    "model pays for the same text: the fair way to compare checkpoints with different tokenizers. "
    "Lower is better."
)


def _count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}" if n < 10 * size else f"{n / size:.1f}{unit}"
    return f"{n:,}"


def _perplexity_item(row: PerplexityRow) -> NumberItem:
    """A row's perplexity as the table shows it; an encoder's pseudo-perplexity in italics."""
    item = NumberItem(row.perplexity, f"{row.perplexity:,.1f}" if row.perplexity < 1e6 else f"{row.perplexity:.2e}")
    if row.is_pseudo:
        font = item.font()
        font.setItalic(True)
        item.setFont(font)
    return item


@dataclass
class Measured:
    """One row of the table: a checkpoint scored on a text."""

    row: PerplexityRow
    source: str  # what the text was: "validation:<corpus name>" or a file's path
    source_label: str
    tokenizer_id: str  # to notice checkpoints whose tokenizers differ
    key: tuple = ()

    def __post_init__(self) -> None:
        self.key = (self.row.path, self.row.steps, self.source)

    @property
    def is_validation(self) -> bool:
        return self.source.startswith(SOURCE_VALIDATION + ":")


class PerplexityTab(QWidget):
    """Controls on the left (text, checkpoints, Measure), the results table and the chart on the right."""

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = JobSlot(self)
        self.slot.changed.connect(self.update_buttons)
        self.bpb_chart: Optional[MetricBars] = None  # made once there is a model (it needs pyqtgraph)
        self.splits: Optional[ValidationSplits] = None  # made with the chart (it needs numpy)
        self.text_path: Optional[Path] = None
        self.results: list[Measured] = []
        self.chart_source: Optional[str] = None  # the text the chart shows
        self._measuring: tuple[str, str] = ("", "")  # the running job's (source, source label)
        self._failures: list[str] = []
        self._started = 0.0
        self._build()
        session.corpus_changed.connect(self._on_corpus)
        self._on_corpus(session.corpus)

    # ---------------------------------------------------------------- layout

    def _build(self) -> None:
        controls = QWidget()
        cl = QVBoxLayout(controls)
        cl.setContentsMargins(4, 4, 8, 4)

        box = QGroupBox("1 · Text to score")
        bl = QVBoxLayout(box)
        self.source_validation = QRadioButton("Validation split of the current corpus")
        self.source_validation.setToolTip(
            "The tail of the corpus that training held out (its last 10% of tokens, or the share the run "
            "was trained with): text the model never trained on, as its validation loss measured it."
        )
        self.source_file = QRadioButton("A text file")
        self.source_file.setToolTip(
            "Any UTF-8 text file: say, writing in the style of your corpus that it "
            "never saw, or text of a different kind, to see how surprised the model is."
        )
        self.source_group = QButtonGroup(self)
        self.source_group.addButton(self.source_validation)
        self.source_group.addButton(self.source_file)
        self.source_file.setChecked(True)
        self.validation_note = note()
        self.open_text_button = QPushButton("Open…")
        self.open_text_button.setToolTip("Choose a text file to score (Ctrl+O).")
        self.open_text_button.clicked.connect(self.choose_text_file)
        self.file_label = QLabel("no file chosen")
        themed_style(self.file_label, NOTE_STYLE)
        self.file_label.setMinimumWidth(60)
        file_row = QHBoxLayout()
        file_row.setContentsMargins(22, 0, 0, 0)
        file_row.addWidget(self.file_label, 1)
        file_row.addWidget(self.open_text_button)
        bl.addWidget(self.source_validation)
        bl.addWidget(self.validation_note)
        bl.addWidget(self.source_file)
        bl.addLayout(file_row)
        cl.addWidget(box)

        self.checkpoints = CheckpointList(self.session)
        cl.addWidget(self.checkpoints)

        box = RunBox(
            "3 · Measure",
            "Measure",
            "Score every checkpoint on the list on the text (Ctrl+Enter). Results "
            "are added to the table; nothing measured before is lost.",
            "Stop measuring (Esc). Checkpoints scored so far keep their rows.",
        )
        self.measure_button, self.cancel_button = box.start_button, box.cancel_button
        self.progress, self.status = box.progress, box.status
        self.measure_button.clicked.connect(self.measure)
        self.cancel_button.clicked.connect(self.cancel)
        cl.addWidget(box)
        cl.addStretch(1)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._table_box())
        splitter.addWidget(self._chart_box())
        splitter.setSizes([300, 420])
        splitter.setChildrenCollapsible(False)
        layout = QHBoxLayout(self)
        layout.addWidget(controls_column(controls))
        layout.addWidget(splitter, 1)

    def _table_box(self) -> QWidget:
        table = self.results_table = QTableWidget(0, len(COLUMNS))
        follow_item_colours(table)
        set_header(table, COLUMNS, TIPS)
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # run names: date first, what it is last
        self._elide_right = ElideRight(table)
        table.setItemDelegateForColumn(1, self._elide_right)
        table.setSortingEnabled(True)
        head = table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the run's name gets what the numbers leave
        for c, width in enumerate(WIDTHS):
            if width:
                table.setColumnWidth(c, width)
        table.itemSelectionChanged.connect(self._row_selected)
        self.clear_results_button = QPushButton("Clear table")
        self.clear_results_button.setToolTip(
            "Remove every result from the table and the chart (the checkpoints stay on the list)."
        )
        self.clear_results_button.clicked.connect(self.clear_results)
        self.results_caption = QLabel("<b>Results</b>")
        top_row = QHBoxLayout()
        top_row.addWidget(self.results_caption, 1)
        top_row.addWidget(self.clear_results_button)
        self.tokenizer_note = note("", AMBER_STYLE)
        self.tokenizer_note.hide()
        self.kinds_note = note(KINDS_NOTE)
        self.kinds_note.hide()
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top_row)
        layout.addWidget(table, 1)
        layout.addWidget(self.tokenizer_note)
        layout.addWidget(self.kinds_note)
        return box

    def _chart_box(self) -> QWidget:
        self.chart_caption = QLabel()
        self.chart_caption.setTextFormat(Qt.TextFormat.RichText)
        self.chart_caption.setWordWrap(True)
        self.chart_host = QVBoxLayout()
        self.chart_host.setContentsMargins(0, 0, 0, 0)
        self.fairness = note(FAIRNESS)
        self.fairness.setToolTip(TIPS[7])
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.chart_caption)
        layout.addLayout(self.chart_host, 1)
        layout.addWidget(self.fairness)
        return box

    def make_ready(self) -> None:
        """The chart and the validation cache, made once a model exists (pyqtgraph and numpy can load then)."""
        from playground.core.evaluation import ValidationSplits
        from playground.ui.widgets.metric_bars import MetricBars

        self.splits = ValidationSplits()
        self.bpb_chart = MetricBars("bits per byte (lower is better)")
        self.bpb_chart.setMinimumHeight(180)
        self.chart_host.addWidget(self.bpb_chart)
        self._refresh_chart()

    # ---------------------------------------------------------------- the session

    def on_checkpoint(self, checkpoint) -> None:
        self.checkpoints.on_checkpoint(checkpoint)
        if self.results:
            self._refresh_results()  # ● and orange follow the current model
        self.update_buttons()

    def _on_corpus(self, corpus) -> None:
        if self.splits is not None:
            self.splits.clear()
        has = corpus is not None
        self.source_validation.setEnabled(has)
        if has:
            self.validation_note.setText(
                f"{corpus.name}: the held-out text only if the model was trained on this corpus."
            )
            if self.text_path is None:
                self.source_validation.setChecked(True)
        else:
            self.validation_note.setText("No corpus yet: choose one in the Tokenize step, or score a text file.")
            self.source_file.setChecked(True)

    # ---------------------------------------------------------------- what to score

    def choose_text_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Choose a text file to score",
            "",
            "Text files (*.txt *.md *.rst *.py *.csv *.json *.gz);;All files (*)",
        )
        if path:
            self.set_text_file(path)

    def set_text_file(self, path) -> bool:
        """Score this file from now on; False (and a message) when it cannot be read as text."""
        from playground.core.corpus import check_text_file

        path = Path(path)
        try:
            if path.is_dir():
                raise UserError(f"{path.name} is a folder: choose a text file inside it.")
            check_text_file(path)
            if path.stat().st_size <= READ_NOW_BYTES:  # larger: read in the job, where a bad one shows then
                from playground.core.evaluation import read_text_file

                read_text_file(path)
        except UserError as e:
            self.session.error(str(e))
            return False
        except OSError as e:
            self.session.error(f"{path.name} could not be read: {e.strerror or e}.")
            return False
        self.text_path = path
        self.file_label.setText(path.name)
        self.file_label.setToolTip(str(path))
        self.file_label.setStyleSheet("")
        self.source_file.setChecked(True)
        return True

    def source(self) -> str:
        return SOURCE_VALIDATION if self.source_validation.isChecked() else SOURCE_FILE

    # ---------------------------------------------------------------- measuring

    def measure(self) -> Optional[Job]:
        """Score every checkpoint on the list on the chosen text, in a job; None when it cannot start."""
        from playground.core.evaluation import compare_checkpoints

        if self.slot.busy:
            return None
        if self.session.checkpoint is None:
            self.session.warn("There is no model to measure yet: load the demo model or train one.")
            return None
        corpus, path = self.session.corpus, self.text_path
        text: Union[Corpus, Path]
        if self.source() == SOURCE_VALIDATION:
            if corpus is None:
                self.session.warn(
                    "There is no corpus yet, so no validation split: choose a corpus in the Tokenize "
                    "step, or score a text file."
                )
                return None
            text, key, label = corpus, f"{SOURCE_VALIDATION}:{corpus.name}", f"validation split of {corpus.name}"
        else:
            if path is None:
                self.session.warn("Choose a text file to score first (Open…, Ctrl+O), or score the validation split.")
                return None
            text, key, label = path, str(path), path.name
        targets = self.checkpoints.targets()
        job = Job(
            compare_checkpoints,
            targets,
            text,
            device="auto",
            model_of=self.session.models.model_for,
            splits=self.splits,
            keep_going=True,
            doing="measuring perplexity",
        )
        job.progress.connect(lambda p: show_progress(self.progress, p))
        job.partial.connect(self._on_partial)
        job.result.connect(self._on_result)
        job.error.connect(self._on_error)
        job.cancelled.connect(self._on_cancelled)
        self._measuring, self._failures, self._started = (key, label), [], time.monotonic()
        self.chart_source = key
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("Starting…")
        self.status.setText(f"Measuring {len(targets)} checkpoint{'s' if len(targets) != 1 else ''} on the {label}…")
        return self.slot.start(job)

    def _on_partial(self, item) -> None:
        from playground.core.evaluation import CheckpointFailed

        if isinstance(item, CheckpointFailed):
            self._failures.append(f"{item.name}: {item.message}")
            return
        measured = Measured(item.row, *self._measuring, item.tokenizer_id)
        self.results = [m for m in self.results if m.key != measured.key] + [measured]
        self.chart_source = measured.source
        self._refresh_results(select=measured)

    def _on_result(self, _rows) -> None:
        self.progress.setRange(0, 1000)
        if self._failures:
            self.session.error("Some checkpoints could not be scored. " + " ".join(self._failures))
            self.status.setText(f"{len(self._failures)} could not be scored: see the message above.")
            self.progress.setFormat("Done, with problems")
        else:
            self.progress.setValue(1000)
            self.progress.setFormat("Done")
            self.status.setText(f"Measured in {time.monotonic() - self._started:.1f} s. Lower is better.")

    def _on_error(self, message: str) -> None:
        self.progress.setRange(0, 1000)
        self.session.error(message)
        self.status.setText("Measuring failed: see the message above.")

    def _on_cancelled(self) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setFormat("Stopped")
        self.status.setText("Stopped by you: the checkpoints scored so far have their rows.")

    def cancel(self) -> None:
        if self.slot.busy:
            self.slot.cancel()
            self.status.setText("Stopping…")

    def update_buttons(self) -> None:
        has_model = self.session.checkpoint is not None
        self.measure_button.setEnabled(has_model and not self.slot.busy)
        self.cancel_button.setEnabled(self.slot.busy)

    def clear_results(self) -> None:
        self.results = []
        self._refresh_results()

    # ---------------------------------------------------------------- the table and the chart

    def _is_current(self, m: Measured) -> bool:
        current = self.checkpoints.current_folder()
        checkpoint = self.session.checkpoint
        return (
            current is not None
            and Path(m.row.path) == current
            and checkpoint is not None
            and m.row.steps == checkpoint.step
        )

    def _refresh_results(self, select: Optional[Measured] = None) -> None:
        table = self.results_table
        table.setSortingEnabled(False)
        table.clearSelection()
        table.setRowCount(len(self.results))
        best: dict[tuple[str, bool], float] = {}  # bits per byte compare within a kind: decoders, or encoders
        for m in self.results:
            key = (m.source, m.row.is_pseudo)
            best[key] = min(best.get(key, float("inf")), m.row.bits_per_byte)
        select_row = None
        for r, m in enumerate(self.results):
            row = m.row
            name = f"{'● ' if self._is_current(m) else ''}{row.name} ({row.which})"
            cells = [
                QTableWidgetItem(name),
                QTableWidgetItem(m.source_label),
                NumberItem(row.parameters, _count(row.parameters)),
                NumberItem(row.vocab_size, f"{row.vocab_size:,}"),
                NumberItem(row.steps, f"{row.steps:,}"),
                NumberItem(row.tokens, f"{row.tokens:,}"),
                _perplexity_item(row),
                NumberItem(row.bits_per_byte, f"{row.bits_per_byte:.3f}"),
                NumberItem(
                    -1.0 if row.masked_accuracy is None else row.masked_accuracy,
                    "—" if row.masked_accuracy is None else f"{row.masked_accuracy:.1%}",
                ),
            ]
            tip = (
                f"{row.name} ({row.which}), step {row.steps:,}\n{row.path}\n{row.tokenizer_kind}, "
                f"{row.vocab_size:,} tokens; context {row.context_length:,}\n"
                f"Mean loss {row.mean_loss:.3f} nats per token on the {m.source_label}."
                + ("\nAn encoder: pseudo-perplexity, each token hidden in turn." if row.is_pseudo else "")
            )
            for c, item in enumerate(cells):
                item.setToolTip(tip if c != 1 else (m.source_label if m.is_validation else m.source))
                item.setData(Qt.ItemDataRole.UserRole, r)
                table.setItem(r, c, item)
            key = (m.source, row.is_pseudo)
            if row.bits_per_byte == best[key] and sum((x.source, x.row.is_pseudo) == key for x in self.results) > 1:
                bpb = cells[7]
                font = bpb.font()
                font.setBold(True)
                bpb.setFont(font)
                themed_item(bpb, GOOD)
                kind = "encoder" if row.is_pseudo else "decoder"
                bpb.setToolTip(tip + f"\nThe lowest bits per byte of any {kind} on this text.")
            if select is not None and m.key == select.key:
                select_row = cells[0]
        table.setSortingEnabled(True)
        if select_row is not None:
            table.selectRow(select_row.row())
        self.results_caption.setText(
            f"<b>Results</b> · {len(self.results)} row{'s' if len(self.results) != 1 else ''}"
            if self.results
            else "<b>Results</b> · press Measure"
        )
        self._refresh_chart()

    def _row_selected(self) -> None:
        items = self.results_table.selectedItems()
        if not items:
            return
        index = items[0].data(Qt.ItemDataRole.UserRole)
        if index is not None and 0 <= index < len(self.results):
            source = self.results[index].source
            if source != self.chart_source:
                self.chart_source = source
                self._refresh_chart()

    def _refresh_chart(self) -> None:
        if self.bpb_chart is None:
            return
        from playground.ui.widgets.metric_bars import Bar

        shown = [m for m in self.results if m.source == self.chart_source]
        if not shown and self.results:
            self.chart_source = self.results[-1].source
            shown = [m for m in self.results if m.source == self.chart_source]
        bars = [
            Bar(
                label=(f"{m.row.name} ({m.row.which})" if m.row.which != "best" else m.row.name)
                + (" · encoder" if m.row.is_pseudo else ""),
                value=m.row.bits_per_byte,
                note=f"{'pseudo-perplexity' if m.row.is_pseudo else 'perplexity'} {m.row.perplexity:,.1f}",
                highlight=self._is_current(m),
            )
            for m in shown
        ]
        self.bpb_chart.set_bars(bars, placeholder="Press Measure to score the checkpoints on the list.")
        if shown:
            label = shown[0].source_label
            on = f"the {label}" if shown[0].is_validation else label
            themed_text(
                self.chart_caption,
                "<b>Bits per byte on {on}</b> · <span style='color:{muted}'>orange: "
                "the current model; under each value, its perplexity per token</span>",
                on=on,
            )
        else:
            self.chart_caption.setText("<b>Bits per byte</b>")
        ids = {m.tokenizer_id for m in shown}
        if len(ids) > 1:
            text = (
                "These checkpoints use different tokenizers: compare them by bits per byte, not perplexity per token."
            )
            if shown and shown[0].is_validation:
                text += (
                    " Each validation split is the corpus's tail as its own tokenizer counts it, so the texts "
                    "differ slightly at the start; for an exact comparison, score a text file."
                )
            self.tokenizer_note.setText(text)
        self.tokenizer_note.setVisible(len(ids) > 1)
        self.kinds_note.setVisible(any(m.row.is_pseudo for m in self.results))

    # ---------------------------------------------------------------- workspace

    def state(self) -> dict:
        return {
            "source": self.source(),
            "text_file": str(self.text_path) if self.text_path is not None else None,
            "checkpoints": [str(f) for f in self.checkpoints.folders()],
        }

    def restore_files(self, state: dict) -> None:
        """The text file and the checkpoints of a workspace, once there is a model (reading them needs PyTorch)."""
        text_file = state.get("text_file")
        if isinstance(text_file, str) and Path(text_file).is_file():
            self.set_text_file(text_file)
        if state.get("source") == SOURCE_VALIDATION and self.source_validation.isEnabled():
            self.source_validation.setChecked(True)
        self.checkpoints.restore(state.get("checkpoints"))
