"""The Train step's settings for an encoder-decoder (T5 style): how it learns, and from what.

Span corruption drops spans of the corpus's text and has the model write them back
(T5's pre-training: the share of tokens dropped and the spans' mean length); text to
text trains on a task's input and answer pairs (a shipped task set, or a task file
as Evaluate reads, with a prefix put before every input) and needs no corpus. The
Train panel reads `objective()`, `task()` and the rest into its `TrainConfig`.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from playground.core.text_to_text import TASK_SETS
from playground.ui.themes import themed_style

OBJECTIVE_CHOICES = {
    "span-corruption": (
        "Span corruption (the corpus)",
        "T5's pre-training: short spans of the corpus's text are dropped and each replaced by a sentinel "
        "(<extra_id_0>, <extra_id_1>, …); the decoder learns to write the dropped spans back, each after "
        "its sentinel.",
    ),
    "text-to-text": (
        "Text to text (a task)",
        "Learn a task from pairs: the encoder reads an input (with the task's prefix before it), the "
        "decoder learns to write its answer. Needs no corpus: the pairs are the data.",
    ),
}
FILE = "file"  # the task combo's last entry: a task file of the learner's own


class Seq2SeqControls(QWidget):
    """Objective; span corruption's noise share and mean span; text to text's task and prefix."""

    changed = Signal()

    def __init__(self, noise_share: float, mean_span: float, parent=None) -> None:
        super().__init__(parent)
        self.objective_combo = QComboBox()
        for key, (label, tip) in OBJECTIVE_CHOICES.items():
            self.objective_combo.addItem(label, key)
            self.objective_combo.setItemData(
                self.objective_combo.count() - 1, f"<p>{escape(tip)}</p>", Qt.ItemDataRole.ToolTipRole
            )  # rich text, so that <extra_id_0> shows as written
        self.objective_combo.setToolTip(
            "How an encoder-decoder learns: by writing back spans dropped from the corpus (span corruption), "
            "or by answering a task's inputs (text to text). Hover an entry to see more."
        )
        self.noise_share = QSpinBox()
        self.noise_share.setRange(1, 90)
        self.noise_share.setSuffix("%")
        self.noise_share.setValue(round(100 * noise_share))
        self.noise_share.setToolTip(
            "The share of each text's tokens dropped and written back by the decoder. T5 drops 15%."
        )
        self.mean_span = QDoubleSpinBox()
        self.mean_span.setRange(1.0, 20.0)
        self.mean_span.setDecimals(1)
        self.mean_span.setSingleStep(0.5)
        self.mean_span.setValue(mean_span)
        self.mean_span.setSuffix(" tokens")
        self.mean_span.setToolTip(
            "How long a dropped span is on average. T5 uses 3: longer spans are harder to guess, and fewer "
            "sentinels stand for the same share."
        )

        self.task_combo = QComboBox()
        for task in TASK_SETS:
            self.task_combo.addItem(task.title, task.key)
            self.task_combo.setItemData(self.task_combo.count() - 1, task.description, Qt.ItemDataRole.ToolTipRole)
        self.task_combo.addItem("A task file…", FILE)
        self.task_combo.setItemData(
            self.task_combo.count() - 1,
            "Your own pairs: a CSV or JSONL file of inputs and answers, as the Evaluate step reads.",
            Qt.ItemDataRole.ToolTipRole,
        )
        self.task_combo.setToolTip("The pairs to learn from: a task set that ships with the app, or a file of yours.")
        self.task_file = Path()  # chosen with the button; empty until then
        self.pick_file = QPushButton("Choose a file…")
        self.pick_file.setToolTip("A CSV or JSONL file of inputs and answers, as the Evaluate step reads.")
        self.pick_file.clicked.connect(self._choose_file)
        self.task_note = QLabel()
        self.task_note.setWordWrap(True)
        themed_style(self.task_note, "color: {muted};")
        self.prefix = QLineEdit()
        self.prefix.setToolTip(
            'Put before every input, as T5 does ("translate English to German: …"), so that one model can '
            "tell its tasks apart. A task set comes with its own; a file with none."
        )

        self.form = form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Objective", self.objective_combo)
        form.addRow("Dropped share", self.noise_share)
        form.addRow("Mean span", self.mean_span)
        form.addRow("Task", self.task_combo)
        form.addRow("", self.pick_file)
        form.addRow("", self.task_note)
        form.addRow("Task prefix", self.prefix)

        self.objective_combo.currentIndexChanged.connect(self._objective_chosen)
        self.task_combo.currentIndexChanged.connect(self._task_chosen)
        for spin in (self.noise_share, self.mean_span):
            spin.valueChanged.connect(lambda _: self.changed.emit())
        self.prefix.textChanged.connect(lambda _: self.changed.emit())
        self._task_chosen()
        self._objective_chosen()

    # -- what the controls say --------------------------------------------------------------

    def objective(self) -> str:
        return str(self.objective_combo.currentData())

    def task(self) -> str:
        """A task set's key, the chosen file's path, or "" while a file is wanted but not chosen."""
        key = self.task_combo.currentData()
        if key == FILE:
            return str(self.task_file) if self.task_file != Path() else ""
        return str(key)

    def task_prefix(self) -> str:
        return self.prefix.text()

    # -- setting them ----------------------------------------------------------------------

    def set_objective(self, objective: str) -> None:
        index = self.objective_combo.findData(objective)
        if index >= 0:
            self.objective_combo.setCurrentIndex(index)

    def set_task(self, task: str, prefix=None) -> None:
        """A task set's key or a file's path; `prefix` None keeps the one the task brings."""
        index = self.task_combo.findData(task)
        if index >= 0:
            self.task_combo.setCurrentIndex(index)
        elif task:
            self.task_file = Path(task)
            self.task_combo.setCurrentIndex(self.task_combo.findData(FILE))
            self._task_chosen()
        if prefix is not None:
            self.prefix.setText(prefix)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a task file", "", "Task files (*.csv *.jsonl)")
        if path:
            self.set_task(path, "")

    def _show_rows(self) -> None:
        """Span corruption's two controls, or text to text's task and prefix (the file button for a file)."""
        spans = self.objective() == "span-corruption"
        rows: list[tuple[QWidget, bool]] = [(self.noise_share, spans), (self.mean_span, spans)]
        rows += [(widget, not spans) for widget in (self.task_combo, self.task_note, self.prefix)]
        for widget, shown in rows:
            self.form.setRowVisible(widget, shown)
        self.form.setRowVisible(self.pick_file, not spans and self.task_combo.currentData() == FILE)

    def _objective_chosen(self, _index: int = 0) -> None:
        self._show_rows()
        self.changed.emit()

    def _task_chosen(self, _index: int = 0) -> None:
        self._show_rows()
        if self.task_combo.currentData() == FILE:
            self.task_note.setText(
                f"From {self.task_file.name}." if self.task_file != Path() else "No file chosen yet."
            )
            self.prefix.setPlaceholderText("none")
        else:
            task = next(t for t in TASK_SETS if t.key == self.task_combo.currentData())
            self.task_note.setText(task.description)
            self.prefix.setText(task.prefix)
            self.prefix.setPlaceholderText("none")
        self.changed.emit()
