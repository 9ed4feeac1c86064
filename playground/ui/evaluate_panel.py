"""The Evaluate step: how well a model predicts text, and how well it answers a task.

*Perplexity* scores the current model, and any checkpoints added beside it, on
the validation split of the current corpus or on a text file: a table that
keeps every result, and a bar chart of bits per byte, the number that compares
models with different tokenizers fairly. *Tasks* asks the model a task's
examples through a prompt template in two modes (zero-shot against few-shot by
default) and scores the answers with BLEU, chrF, ROUGE and exact match, side
by side, filling the per-example table as the answers arrive.

All model work runs in jobs, one per tab at a time. PyTorch, the evaluation
core and pyqtgraph are imported only once there is a model: the window opens
before torch is loaded.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QButtonGroup, QComboBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QListWidget, QListWidgetItem, QMenu,
                               QPlainTextEdit, QProgressBar, QPushButton, QRadioButton, QScrollArea, QSpinBox,
                               QSplitter, QStackedWidget, QStyledItemDelegate, QTableWidget, QTableWidgetItem,
                               QTabWidget, QToolButton, QVBoxLayout, QWidget)

from playground.core.progress import Progress, UserError
from playground.core.prompts import MODE_HELP, MODE_LABELS, MODES
from playground.engine.jobs import Job
from playground.engine.session import Session
from playground.ui.widgets.no_model import NoModelPage
from playground.ui.widgets.number_item import NumberItem

MUTED = "#5f6368"
GOOD, BAD = "#1e7a3c", "#b3261e"
AMBER_STYLE = "background: #fff6e0; color: #7a5500; border: 1px solid #e6cf8f; border-radius: 4px; padding: 4px 8px;"
NOTE_STYLE = f"color: {MUTED};"
SOURCE_VALIDATION, SOURCE_FILE = "validation", "file"  # a result's source is "validation:<corpus>" or a path
MAX_RECENT_RUNS = 20
MAX_CELL_CHARS = 70
VALIDATION_CACHE = 4  # validation splits kept (one per tokenizer): encoding a big corpus takes seconds

PPL_COLUMNS = ["Checkpoint", "Text", "Params", "Vocab", "Steps", "Tokens\nscored", "Perplexity\nper token",
               "Bits per\nbyte"]
PPL_WIDTHS = [0, 150, 64, 56, 56, 66, 80, 66]  # pixels; the first column stretches
PPL_TIPS = [
    "The run the checkpoint belongs to; ● marks the current model.",
    "The text it was scored on: every token but the first is predicted once, from the tokens before it.",
    "The model's parameters (weights), counted once where the output layer shares the token embedding.",
    "How many tokens the model's tokenizer knows: its vocabulary size.",
    "Optimizer steps the checkpoint was trained for.",
    "How many tokens the model predicted: the same text makes more tokens with a smaller vocabulary.",
    "e^(mean loss): per token, the model is as unsure as a fair choice among this many tokens. Lower is "
    "better, but it only compares models that share a tokenizer: longer tokens are fewer and harder.",
    "The surprise summed over the text, in bits, divided by the text's bytes (UTF-8). Lower is better, and "
    "it compares any two models, whatever their tokenizers: the text's bytes are the same for all.",
]
FAIRNESS = ("Bits per byte divide the model's surprise by the bytes of the text, not by its tokens, so every "
            "model pays for the same text: the fair way to compare checkpoints with different tokenizers. "
            "Lower is better.")
CAVEAT = ("Small models score low on tasks, and that is expected: compare modes, templates and checkpoints with "
          "each other rather than reading the numbers on their own.")

METRICS = [
    ("bleu", "BLEU (0–100)",
     "BLEU: how many of the reference's words and word sequences (up to 4 words) the answers contain, over "
     "all answers, with a penalty for answers shorter than the references. 0–100, higher is better; "
     "often 0 for short answers that are not quite right."),
    ("chrf", "chrF (0–100)",
     "chrF: the overlap of character sequences (up to 6 characters) between answer and reference, over all "
     "answers. 0–100, higher is better; kind to near misses (‘chien’ for ‘chiens’) and to short answers."),
    ("rouge1", "ROUGE-1 (0–1)",
     "ROUGE-1: the share of single words answer and reference have in common (F-measure), averaged over the "
     "answers. 0–1, higher is better. Only a–z and 0–9 count: accents and punctuation are dropped."),
    ("rouge2", "ROUGE-2 (0–1)",
     "ROUGE-2: like ROUGE-1 for pairs of neighbouring words, so word order starts to matter. 0–1, higher is "
     "better; 0 when answer or reference has a single word."),
    ("rouge_l", "ROUGE-L (0–1)",
     "ROUGE-L: the longest run of words the answer has in the reference's order, gaps allowed (F-measure), "
     "averaged over the answers. 0–1, higher is better."),
    ("exact_match", "Exact match",
     "Exact match: the share of answers equal to their reference, ignoring case and extra spaces. 0–1 "
     "(shown as a percentage): strict, so a single wrong letter counts as wrong."),
]
STRATEGIES = [
    ("greedy", "Greedy", "Always the most likely token: the same answers every run (the usual choice for "
                         "scoring)."),
    ("sample", "Sample", "Draw tokens at random (temperature 0.8, seed 0, so a run can be repeated): varied "
                         "answers, usually lower scores."),
    ("beam", "Beam search", "Follow 4 continuations at once and keep the most likely: slower, sometimes better "
                            "on short answers."),
]
TEMPLATE_TIP = ("The prompt each example is asked through: its instruction, worked examples and the query the "
                "input goes into. The task's own template is the one made for it; a template you sent from the "
                "Prompt panel appears here too.")


def _elide(text: str, limit: int = MAX_CELL_CHARS) -> str:
    """One line of at most `limit` characters: line breaks shown as ↵, the rest cut with …"""
    line = text.replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵").replace("\t", " ")
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _tooltip(text: str) -> str:
    """A tooltip that shows the text as it is (line breaks kept, long lines wrapped)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<div style='white-space: pre-wrap; max-width: 520px'>{escaped or '(nothing)'}</div>"


def _count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}" if n < 10 * size else f"{n / size:.1f}{unit}"
    return f"{n:,}"


def _mode_label(mode: str) -> str:
    return MODE_LABELS.get(mode, mode)



class ElideRight(QStyledItemDelegate):
    """Cuts a column's text at its end, where the table cuts the others in the middle."""

    def initStyleOption(self, option, index) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        option.textElideMode = Qt.ElideRight


def _header(table: QTableWidget, labels: list[str], tips: list[str]) -> None:
    table.setColumnCount(len(labels))
    for c, (label, tip) in enumerate(zip(labels, tips)):
        item = QTableWidgetItem(label)
        item.setToolTip(tip)
        table.setHorizontalHeaderItem(c, item)


@dataclass
class CheckpointEntry:
    """A line of the checkpoint list: the current model (folder None) or a checkpoint folder."""

    folder: Optional[Path]
    label: str = ""
    tip: str = ""


@dataclass
class Measured:
    """One row of the perplexity table: a checkpoint scored on a text."""

    row: Any                 # PerplexityRow
    source: str              # what the text was: "validation:<corpus name>" or a file's path
    source_label: str
    tokenizer_id: str        # to notice checkpoints whose tokenizers differ
    key: tuple = ()

    def __post_init__(self) -> None:
        self.key = (self.row.path, self.row.steps, self.source)

    @property
    def is_validation(self) -> bool:
        return self.source.startswith(SOURCE_VALIDATION + ":")


@dataclass
class TaskRun:
    """A task run through a template: the answers as they arrive, then the scored results."""

    task_key: str
    modes: list[str]
    caption: str
    rows: dict = field(default_factory=dict)      # (mode, index) -> TaskRow
    results: Optional[list] = None                # [TaskResult] once every answer is scored
    stopped: bool = False


class EvaluatePanel(QWidget):
    """Two tabs: perplexity of checkpoints on a text, and task scores of the current model."""

    title = "Evaluate"
    concept = (
        "<b>Evaluation</b><br><i>Perplexity</i> is how surprised the model is, per token, by text it has not "
        "trained on; <i>bits per byte</i> is the same surprise per byte of text, so models with different "
        "tokenizers compare fairly.<br><br><i>Task scores</i> (BLEU, chrF, ROUGE, exact match) measure its "
        "answers against reference answers: asked <i>zero-shot</i> (no examples) or <i>few-shot</i> (a few "
        "worked examples in the prompt).")

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.measure_job: Optional[Job] = None
        self.task_job: Optional[Job] = None
        self.bpb_chart = None                      # MetricBars, made once there is a model
        self.text_path: Optional[Path] = None
        self.entries: list[CheckpointEntry] = [CheckpointEntry(None)]
        self.results: list[Measured] = []
        self.chart_source: Optional[str] = None    # the text the chart shows
        self.tasks: dict[str, Any] = {}            # key -> Task
        self.task_runs: dict[str, TaskRun] = {}    # key -> the latest run of that task
        self.shown_run: Optional[TaskRun] = None
        self._task_templates: dict[str, Any] = {}  # task key -> template_for(task)
        self._val_cache: dict[tuple, Any] = {}     # (corpus id, tokenizer id, fraction) -> (corpus, ids)
        self._measure_run = 0                      # bumped per job of each tab: stale partials are dropped
        self._task_run = 0
        self._failures: list[str] = []
        self._measure_cancelled = False
        self._task_cancelled = False
        self._started = 0.0
        self._task_started = 0.0
        self._ready = False
        self._shown_checkpoint = None               # the current model as this panel last saw it
        self._pending_state: Optional[dict] = None  # a workspace's files, opened once there is a model
        self._build()
        session.checkpoint_changed.connect(self._on_checkpoint)
        session.corpus_changed.connect(self._on_corpus)
        session.prompt_sent.connect(lambda _: self._refresh_templates())
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop_and_wait)
        self._on_corpus(session.corpus)
        self._on_checkpoint(session.checkpoint)

    # ================================================================== layout

    def _build(self) -> None:
        self.empty_page = NoModelPage(
            self.session, "No model to evaluate yet",
            "This step measures a trained model: how surprised it is by text it has not seen (perplexity and "
            "bits per byte), and how well it answers small tasks, zero-shot and few-shot. Load the demo model "
            "that comes with the app, or train your own.")
        self.tabs = QTabWidget()
        self.tabs.addTab(self._perplexity_tab(), "Perplexity")
        self.tabs.addTab(self._tasks_tab(), "Tasks")
        self.tabs.setTabToolTip(0, "How well the model predicts a text: perplexity per token and bits per byte, "
                                   "checkpoint against checkpoint.")
        self.tabs.setTabToolTip(1, "How well the model answers a task's examples, scored against reference "
                                   "answers: zero-shot against few-shot.")
        self.tabs.currentChanged.connect(lambda _: self._update_buttons())
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty_page)
        self.pages.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self._go)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self._go)
        QShortcut(QKeySequence(Qt.Key_Escape), self, activated=self.cancel)
        QShortcut(QKeySequence.Open, self, activated=self._open_for_tab)

    @staticmethod
    def _scroll(widget: QWidget) -> QScrollArea:
        scroll = QScrollArea()
        scroll.setWidget(widget)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(320)
        scroll.setMaximumWidth(350)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        return scroll

    @staticmethod
    def _note(text: str = "", style: str = NOTE_STYLE) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setStyleSheet(style)
        return label

    def _status(self) -> QLabel:
        label = self._note("")
        label.setMinimumHeight(2 * label.fontMetrics().lineSpacing() + 4)
        label.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        return label

    @staticmethod
    def _progress_bar() -> QProgressBar:
        bar = QProgressBar()
        bar.setRange(0, 1000)
        bar.setValue(0)
        bar.setFormat("")
        bar.setTextVisible(True)
        return bar

    # ---------------------------------------------------------------- the perplexity tab

    def _perplexity_tab(self) -> QWidget:
        controls = QWidget()
        cl = QVBoxLayout(controls)
        cl.setContentsMargins(4, 4, 8, 4)

        box = QGroupBox("1 · Text to score")
        bl = QVBoxLayout(box)
        self.source_validation = QRadioButton("Validation split of the current corpus")
        self.source_validation.setToolTip(
            "The tail of the corpus that training held out (its last 10% of tokens, or the share the run "
            "was trained with): text the model never trained on, as its validation loss measured it.")
        self.source_file = QRadioButton("A text file")
        self.source_file.setToolTip("Any UTF-8 text file: say, writing in the style of your corpus that it "
                                    "never saw, or text of a different kind, to see how surprised the model is.")
        self.source_group = QButtonGroup(self)
        self.source_group.addButton(self.source_validation)
        self.source_group.addButton(self.source_file)
        self.source_file.setChecked(True)
        self.validation_note = self._note()
        self.open_text_button = QPushButton("Open…")
        self.open_text_button.setToolTip("Choose a text file to score (Ctrl+O).")
        self.open_text_button.clicked.connect(self.choose_text_file)
        self.file_label = QLabel("no file chosen")
        self.file_label.setStyleSheet(NOTE_STYLE)
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

        box = QGroupBox("2 · Checkpoints to compare")
        bl = QVBoxLayout(box)
        self.checkpoint_list = QListWidget()
        self.checkpoint_list.setToolTip("Every checkpoint here is scored on the same text. The current model is "
                                        "always on the list; add others to compare them with it.")
        self.checkpoint_list.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.checkpoint_list.setMinimumHeight(70)
        self.checkpoint_list.setMaximumHeight(150)
        self.checkpoint_list.setTextElideMode(Qt.ElideMiddle)
        self.checkpoint_list.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.checkpoint_list.itemSelectionChanged.connect(self._update_buttons)
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Add a run folder (or its best/ or last/ folder) to the comparison.")
        self.add_button.clicked.connect(self.choose_checkpoint)
        self.recent_button = QToolButton()
        self.recent_button.setText("Recent runs")
        self.recent_button.setToolTip("Add one of your training runs, newest first, or the demo model.")
        self.recent_button.setPopupMode(QToolButton.InstantPopup)
        self.recent_menu = QMenu(self.recent_button)
        self.recent_menu.setToolTipsVisible(True)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.recent_button.setMenu(self.recent_menu)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Take the selected checkpoints off the list (their results stay in the "
                                      "table). The current model always stays.")
        self.remove_button.clicked.connect(self.remove_selected)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.recent_button)
        row.addWidget(self.remove_button)
        bl.addWidget(self.checkpoint_list)
        bl.addLayout(row)
        cl.addWidget(box)

        box = QGroupBox("3 · Measure")
        bl = QVBoxLayout(box)
        self.measure_button = QPushButton("Measure")
        self.measure_button.setToolTip("Score every checkpoint on the list on the text (Ctrl+Enter). Results "
                                       "are added to the table; nothing measured before is lost.")
        self.measure_button.clicked.connect(self.measure)
        self.measure_cancel_button = QPushButton("Cancel")
        self.measure_cancel_button.setToolTip("Stop measuring (Esc). Checkpoints scored so far keep their rows.")
        self.measure_cancel_button.clicked.connect(self.cancel_measure)
        row = QHBoxLayout()
        row.addWidget(self.measure_button, 1)
        row.addWidget(self.measure_cancel_button)
        self.measure_progress = self._progress_bar()
        self.measure_status = self._status()
        bl.addLayout(row)
        bl.addWidget(self.measure_progress)
        bl.addWidget(self.measure_status)
        cl.addWidget(box)
        cl.addStretch(1)

        # ---- right: the table, the chart, why bits per byte
        self.results_table = QTableWidget(0, len(PPL_COLUMNS))
        _header(self.results_table, PPL_COLUMNS, PPL_TIPS)
        self.results_table.setToolTip("")
        self.results_table.verticalHeader().hide()
        self.results_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.results_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.results_table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.results_table.setAlternatingRowColors(True)
        self.results_table.setWordWrap(False)
        self.results_table.setTextElideMode(Qt.ElideMiddle)  # run names: date first, what it is last
        self._elide_right = ElideRight(self.results_table)
        self.results_table.setItemDelegateForColumn(1, self._elide_right)
        self.results_table.setSortingEnabled(True)
        head = self.results_table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.Interactive)
        head.setSectionResizeMode(0, QHeaderView.Stretch)  # the run's name gets what the numbers leave
        for c, width in enumerate(PPL_WIDTHS):
            if width:
                self.results_table.setColumnWidth(c, width)
        self.results_table.itemSelectionChanged.connect(self._row_selected)
        self.clear_results_button = QPushButton("Clear table")
        self.clear_results_button.setToolTip("Remove every result from the table and the chart (the checkpoints "
                                             "stay on the list).")
        self.clear_results_button.clicked.connect(self.clear_results)
        self.results_caption = QLabel("<b>Results</b>")
        top_row = QHBoxLayout()
        top_row.addWidget(self.results_caption, 1)
        top_row.addWidget(self.clear_results_button)
        self.tokenizer_note = self._note("", AMBER_STYLE)
        self.tokenizer_note.hide()
        table_box = QWidget()
        tl = QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addLayout(top_row)
        tl.addWidget(self.results_table, 1)
        tl.addWidget(self.tokenizer_note)

        self.chart_caption = QLabel()
        self.chart_caption.setTextFormat(Qt.RichText)
        self.chart_caption.setWordWrap(True)
        self.chart_host = QVBoxLayout()
        self.chart_host.setContentsMargins(0, 0, 0, 0)
        self.fairness = self._note(FAIRNESS)
        self.fairness.setToolTip(PPL_TIPS[-1])
        chart_box = QWidget()
        chl = QVBoxLayout(chart_box)
        chl.setContentsMargins(0, 4, 0, 0)
        chl.addWidget(self.chart_caption)
        chl.addLayout(self.chart_host, 1)
        chl.addWidget(self.fairness)

        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(table_box)
        splitter.addWidget(chart_box)
        splitter.setSizes([300, 420])
        splitter.setChildrenCollapsible(False)

        tab = QWidget()
        layout = QHBoxLayout(tab)
        layout.addWidget(self._scroll(controls))
        layout.addWidget(splitter, 1)
        return tab

    # ---------------------------------------------------------------- the tasks tab

    def _tasks_tab(self) -> QWidget:
        controls = QWidget()
        cl = QVBoxLayout(controls)
        cl.setContentsMargins(4, 4, 8, 4)

        box = QGroupBox("1 · Task")
        bl = QVBoxLayout(box)
        self.task_combo = QComboBox()
        self.task_combo.setToolTip("A set of questions with reference answers. The built-in ones are tiny "
                                   "examples; open your own CSV (columns input, reference) or JSON Lines file.")
        self.task_combo.currentIndexChanged.connect(self._task_chosen)
        self.open_task_button = QPushButton("Open…")
        self.open_task_button.setToolTip("Open a task file: CSV with the columns input and reference, or JSON "
                                         "Lines with one {\"input\": …, \"reference\": …} a line (Ctrl+O).")
        self.open_task_button.clicked.connect(self.choose_task_file)
        row = QHBoxLayout()
        row.addWidget(self.task_combo, 1)
        row.addWidget(self.open_task_button)
        self.task_info = self._note()
        bl.addLayout(row)
        bl.addWidget(self.task_info)
        cl.addWidget(box)

        box = QGroupBox("2 · Prompt template")
        bl = QVBoxLayout(box)
        self.template_combo = QComboBox()
        self.template_combo.setToolTip(TEMPLATE_TIP)
        self.template_combo.currentIndexChanged.connect(self._template_chosen)
        self.template_note = self._note("", AMBER_STYLE)
        self.template_note.hide()
        bl.addWidget(self.template_combo)
        bl.addWidget(self.template_note)
        cl.addWidget(box)

        box = QGroupBox("3 · Modes to compare")
        form = QFormLayout(box)
        self.mode_combo = QComboBox()
        self.compare_combo = QComboBox()
        self.compare_combo.addItem("(nothing: one mode)", "")
        self.compare_combo.setItemData(0, "Run the first mode only.", Qt.ToolTipRole)
        for combo in (self.mode_combo, self.compare_combo):
            for mode in MODES:
                combo.addItem(_mode_label(mode), mode)
                combo.setItemData(combo.count() - 1, MODE_HELP.get(mode, ""), Qt.ToolTipRole)
        self.mode_combo.setCurrentIndex(self.mode_combo.findData("zero-shot"))
        self.compare_combo.setCurrentIndex(self.compare_combo.findData("few-shot"))
        self.mode_combo.setToolTip("How the prompt is laid out for the first set of answers. "
                                   + MODE_HELP["zero-shot"])
        self.compare_combo.setToolTip("The mode to compare it with, on the same examples and settings. "
                                      + MODE_HELP["few-shot"])
        for combo in (self.mode_combo, self.compare_combo):
            combo.currentIndexChanged.connect(self._modes_changed)
        form.addRow("Mode", self.mode_combo)
        form.addRow("Compare with", self.compare_combo)
        cl.addWidget(box)

        box = QGroupBox("4 · Decoding")
        form = QFormLayout(box)
        self.strategy_combo = QComboBox()
        for i, (key, label, tip) in enumerate(STRATEGIES):
            self.strategy_combo.addItem(label, key)
            self.strategy_combo.setItemData(i, tip, Qt.ToolTipRole)
        self.strategy_combo.setToolTip("How each answer's tokens are chosen. " + STRATEGIES[0][2])
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 512)
        self.max_tokens.setValue(32)
        self.max_tokens.setToolTip("The most tokens an answer may take. The model stops earlier at the end of "
                                   "the first line (the answer), and never writes more than the reference's "
                                   "length plus 8 tokens.")
        form.addRow("Strategy", self.strategy_combo)
        form.addRow("Max new tokens", self.max_tokens)
        cl.addWidget(box)

        box = QGroupBox("5 · Run")
        bl = QVBoxLayout(box)
        self.run_task_button = QPushButton("Run")
        self.run_task_button.setToolTip("Ask the model every example in each mode and score the answers "
                                        "(Ctrl+Enter).")
        self.run_task_button.clicked.connect(self.run_task)
        self.task_cancel_button = QPushButton("Cancel")
        self.task_cancel_button.setToolTip("Stop the run (Esc). Answers given so far stay in the table.")
        self.task_cancel_button.clicked.connect(self.cancel_task)
        row = QHBoxLayout()
        row.addWidget(self.run_task_button, 1)
        row.addWidget(self.task_cancel_button)
        self.task_progress = self._progress_bar()
        self.task_status = self._status()
        bl.addLayout(row)
        bl.addWidget(self.task_progress)
        bl.addWidget(self.task_status)
        cl.addWidget(box)
        cl.addStretch(1)

        # ---- right: scores, prompt preview, per-example answers
        self.task_caption = QLabel()
        self.task_caption.setTextFormat(Qt.RichText)
        self.task_caption.setWordWrap(True)
        self.scores_table = QTableWidget(len(METRICS), 3)
        self.scores_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.scores_table.setSelectionMode(QAbstractItemView.NoSelection)
        self.scores_table.setFocusPolicy(Qt.NoFocus)
        for r, (_, label, tip) in enumerate(METRICS):
            item = QTableWidgetItem(label)
            item.setToolTip(tip)
            self.scores_table.setVerticalHeaderItem(r, item)
        self._set_score_headers(["zero-shot", "few-shot"])
        head = self.scores_table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.Stretch)
        self.scores_table.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.scores_table.verticalHeader().setDefaultSectionSize(24)
        self.scores_table.setFixedHeight(24 * len(METRICS) + self.scores_table.horizontalHeader().sizeHint().height()
                                         + 4)
        self.scores_table.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.caveat = self._note(CAVEAT)

        self.prompt_preview = QPlainTextEdit()
        self.prompt_preview.setReadOnly(True)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.Monospace)
        mono.setPointSizeF(8.5)
        self.prompt_preview.setFont(mono)
        self.prompt_preview.setToolTip("What the model reads for the selected example, in each mode: it writes "
                                       "its answer right after the last line.")
        self.prompt_preview.setLineWrapMode(QPlainTextEdit.WidgetWidth)
        self.preview_caption = QLabel("<b>What the model reads</b>")
        self.preview_caption.setTextFormat(Qt.RichText)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.scores_table)
        ll.addWidget(self.caveat)
        ll.addStretch(1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.preview_caption)
        rl.addWidget(self.prompt_preview, 1)
        top = QSplitter(Qt.Horizontal)
        top.addWidget(left)
        top.addWidget(right)
        top.setSizes([440, 340])
        top.setChildrenCollapsible(False)

        self.examples_table = QTableWidget(0, 9)
        self.examples_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.examples_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.examples_table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.examples_table.setAlternatingRowColors(True)
        self.examples_table.setWordWrap(False)
        self.examples_table.setTextElideMode(Qt.ElideRight)
        self.examples_table.verticalHeader().hide()
        self.examples_table.verticalHeader().setDefaultSectionSize(24)
        self.examples_table.itemSelectionChanged.connect(self._update_preview)
        self._set_example_headers(["zero-shot", "few-shot"])
        head = self.examples_table.horizontalHeader()
        for c in range(9):
            head.setSectionResizeMode(c, QHeaderView.Stretch if c in (1, 2, 3, 6) else QHeaderView.ResizeToContents)

        bottom = QWidget()
        bol = QVBoxLayout(bottom)
        bol.setContentsMargins(0, 0, 0, 0)
        self.examples_caption = QLabel("<b>Answers</b>")
        self.examples_caption.setToolTip("Hover an answer for everything the model wrote.")
        self.examples_caption.setTextFormat(Qt.RichText)
        bol.addWidget(self.examples_caption)
        bol.addWidget(self.examples_table, 1)

        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setSizes([260, 440])
        splitter.setChildrenCollapsible(False)
        results = QWidget()
        rsl = QVBoxLayout(results)
        rsl.setContentsMargins(0, 0, 0, 0)
        rsl.addWidget(self.task_caption)
        rsl.addWidget(splitter, 1)

        tab = QWidget()
        layout = QHBoxLayout(tab)
        layout.addWidget(self._scroll(controls))
        layout.addWidget(results, 1)
        return tab

    def _set_score_headers(self, modes: list[str]) -> None:
        labels = [_mode_label(m) for m in modes]
        tips = [f"{_mode_label(m)}: {MODE_HELP.get(m, '')}" for m in modes]
        if len(modes) == 2:
            labels.append("Difference")
            tips.append(f"{labels[1]} minus {labels[0]}: how much {labels[1].lower()} gains (green: better, "
                        "red: worse).")
        while len(labels) < 3:
            labels.append("")
            tips.append("")
        _header(self.scores_table, labels, tips)
        for c in range(3):
            self.scores_table.setColumnHidden(c, c >= len(modes) + (1 if len(modes) == 2 else 0))

    def _set_example_headers(self, modes: list[str]) -> None:
        labels, tips = ["#", "Input", "Reference"], [
            "The example's number in the task.", "The question, put into the template's query.",
            "The answer the task expects."]
        for i in range(2):
            mode = modes[i] if i < len(modes) else ""
            name = _mode_label(mode)
            labels += [f"{name} answer", "✓", "chrF"]
            tips += [f"What the model answered, {name.lower()}: the first line it wrote, trimmed. "
                     "Hover for all it wrote.",
                     f"Exact match, {name.lower()}: ✓ when the answer equals the reference (case and spaces "
                     "aside).",
                     f"chrF of this answer, {name.lower()} (0–100): its character overlap with the reference."]
        _header(self.examples_table, labels, tips)
        for c in range(6, 9):
            self.examples_table.setColumnHidden(c, len(modes) < 2)

    # ================================================================== the session

    def _on_checkpoint(self, checkpoint) -> None:
        if checkpoint is None:
            self.pages.setCurrentWidget(self.empty_page)
        else:
            self._ensure_ready()
            self.pages.setCurrentWidget(self.tabs)
            current = self._current_folder()  # an added checkpoint that became the current model: listed once
            self.entries = [e for e in self.entries if e.folder is None or e.folder != current]
        previous, self._shown_checkpoint = self._shown_checkpoint, checkpoint
        if previous is not None and checkpoint is not None and previous is not checkpoint:
            self._keep_on_list(previous)
        self._refresh_checkpoint_list()
        if self.results:
            self._refresh_results()  # ● and orange follow the current model
        self._update_preview()
        self._update_buttons()

    def _on_corpus(self, corpus) -> None:
        self._val_cache.clear()
        has = corpus is not None
        self.source_validation.setEnabled(has)
        if has:
            self.validation_note.setText(
                f"{corpus.name}: the held-out text only if the model was trained on this corpus.")
            if self.text_path is None:
                self.source_validation.setChecked(True)
        else:
            self.validation_note.setText("No corpus yet: choose one in the Tokenize step, or score a text file.")
            self.source_file.setChecked(True)

    def _ensure_ready(self) -> None:
        """What needs PyTorch or pyqtgraph, made once a model exists (by then both can be imported)."""
        if self._ready:
            return
        self._ready = True
        from playground.ui.widgets.metric_bars import MetricBars

        self.bpb_chart = MetricBars("bits per byte (lower is better)")
        self.bpb_chart.setMinimumHeight(180)
        self.chart_host.addWidget(self.bpb_chart)
        self._refresh_chart()
        self._fill_tasks()
        self._refresh_templates()
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self._restore_files(state)

    # ================================================================== perplexity: what to score

    def choose_text_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a text file to score", "",
                                              "Text files (*.txt *.md *.rst *.py *.csv *.json *.gz);;All files (*)")
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
            if path.stat().st_size <= 16 * 2**20:  # read it now, so a bad file is caught now (larger: in the job)
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

    def _source(self) -> str:
        return SOURCE_VALIDATION if self.source_validation.isChecked() else SOURCE_FILE

    # ================================================================== perplexity: the checkpoints

    def _refresh_checkpoint_list(self) -> None:
        selected = {self.checkpoint_list.row(i) for i in self.checkpoint_list.selectedItems()}
        self.checkpoint_list.clear()
        for n, entry in enumerate(self.entries):
            if entry.folder is None:
                checkpoint = self.session.checkpoint
                if checkpoint is None:
                    text, tip = "● Current model: none yet", "Load or train a model first."
                else:
                    text = f"● {checkpoint.name} · step {checkpoint.step:,} (current model)"
                    tip = f"The model the other steps use now.\n{checkpoint.path}"
            else:
                text, tip = entry.label, entry.tip
            item = QListWidgetItem(text)
            item.setToolTip(tip)
            if entry.folder is None:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.checkpoint_list.addItem(item)
            item.setSelected(n in selected)

    def choose_checkpoint(self) -> None:
        from playground.core.checkpoints import runs_dir

        folder = QFileDialog.getExistingDirectory(self, "Add a run folder (or its best/ or last/ folder)",
                                                  str(runs_dir()))
        if folder:
            self.add_checkpoint(folder)

    @staticmethod
    def _checkpoint_folder(path: Path) -> Optional[Path]:
        """The folder `load_checkpoint(path)` reads: the run's best, else last; or the folder itself."""
        from playground.core.checkpoints import CONFIG_FILE, WEIGHTS_FILE, checkpoint_dir, is_checkpoint

        if not is_checkpoint(path):
            return None
        if (path / WEIGHTS_FILE).is_file() and (path.parent / CONFIG_FILE).is_file():
            return path
        return checkpoint_dir(path, "best") or checkpoint_dir(path, "last")

    def _current_folder(self) -> Optional[Path]:
        checkpoint = self.session.checkpoint
        return None if checkpoint is None else Path(checkpoint.path).resolve()

    def add_checkpoint(self, path) -> bool:
        """Put a checkpoint (a run folder or its best/ or last/ folder) on the list; False, with a message,
        for a folder that holds no checkpoint or one that is on the list already."""
        from playground.core.checkpoints import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, read_meta

        path = Path(path)
        folder = self._checkpoint_folder(path)
        if folder is None:
            self.session.error(
                f"{path.name or path} is not a checkpoint: a run folder holds {CONFIG_FILE}, {TOKENIZER_FILE} "
                f"and a best/ or last/ folder with {WEIGHTS_FILE}. Choose one of your runs (Recent runs lists "
                f"them) or the folder of a model you imported.")
            return False
        folder = folder.resolve()
        if folder == self._current_folder():
            self.session.info(f"{folder.parent.name} is the current model: it is on the list already.")
            return False
        if any(e.folder == folder for e in self.entries):
            self.session.info(f"{folder.parent.name} ({folder.name}) is on the list already.")
            return False
        try:
            step = int(read_meta(folder).get("step", 0))
            detail = f" · step {step:,}"
        except (UserError, ValueError, TypeError):
            detail = ""
        which = folder.name.split(".")[0]
        label = f"{folder.parent.name} · {which}{detail}"
        self.entries.append(CheckpointEntry(folder, label, str(folder)))
        self._refresh_checkpoint_list()
        self._update_buttons()
        return True

    def _keep_on_list(self, checkpoint) -> None:
        """The model that was current stays on the list, to compare the new one with (when it can be read again)."""
        folder = self._checkpoint_folder(Path(checkpoint.path))
        if folder is None:
            return
        folder = folder.resolve()
        if folder == self._current_folder() or any(e.folder == folder for e in self.entries):
            return
        which = folder.name.split(".")[0]
        self.entries.insert(1, CheckpointEntry(folder, f"{folder.parent.name} · {which} · step {checkpoint.step:,}",
                                               str(folder)))

    def remove_selected(self) -> None:
        rows = sorted({self.checkpoint_list.row(i) for i in self.checkpoint_list.selectedItems()}, reverse=True)
        for row in rows:
            if 0 < row < len(self.entries):
                del self.entries[row]
        self.checkpoint_list.clearSelection()
        self._refresh_checkpoint_list()
        self._update_buttons()

    def recent_runs(self) -> list[Path]:
        """Run folders in the runs folder that hold a checkpoint, newest first."""
        from playground.core.checkpoints import is_checkpoint, runs_dir

        try:
            folders = [p for p in runs_dir().iterdir() if p.is_dir()]
        except OSError:
            return []
        folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        return [p for p in folders if is_checkpoint(p)][:MAX_RECENT_RUNS]

    def _fill_recent_menu(self) -> None:
        from playground.paths import demo_model_dir

        self.recent_menu.clear()
        listed = {e.folder.parent for e in self.entries if e.folder is not None}
        current = self._current_folder()
        if current is not None:
            listed.add(current.parent)
        runs = self.recent_runs()
        for run in runs:
            action = self.recent_menu.addAction(run.name)
            action.setToolTip(str(run))
            action.setEnabled(run.resolve() not in listed)
            action.triggered.connect(lambda _=False, p=run: self.add_checkpoint(p))
        if not runs:
            action = self.recent_menu.addAction("No runs yet: train a model in the Train step")
            action.setEnabled(False)
        demo = demo_model_dir()
        if demo is not None:
            self.recent_menu.addSeparator()
            action = self.recent_menu.addAction("The demo model")
            action.setToolTip(f"The small model that ships with the app.\n{demo}")
            action.setEnabled(Path(demo).resolve() not in listed)
            action.triggered.connect(lambda _=False, p=demo: self.add_checkpoint(p))

    # ================================================================== perplexity: measuring

    def measure(self) -> Optional[Job]:
        """Score every checkpoint on the list on the chosen text, in a job; None when it cannot start."""
        if self.measure_job is not None:
            return None
        checkpoint = self.session.checkpoint
        if checkpoint is None:
            self.session.warn("There is no model to measure yet: load the demo model or train one.")
            return None
        source = self._source()
        corpus = self.session.corpus
        if source == SOURCE_VALIDATION and corpus is None:
            self.session.warn("There is no corpus yet, so no validation split: choose a corpus in the Tokenize "
                              "step, or score a text file.")
            return None
        if source == SOURCE_FILE and self.text_path is None:
            self.session.warn("Choose a text file to score first (Open…, Ctrl+O), or score the validation split.")
            return None
        text_path = self.text_path
        source_key = f"{SOURCE_VALIDATION}:{corpus.name}" if source == SOURCE_VALIDATION else str(text_path)
        source_label = (f"validation split of {corpus.name}" if source == SOURCE_VALIDATION else text_path.name)
        targets = [(None, checkpoint) if e.folder is None else (e.folder, None) for e in self.entries]
        store, cache, run = self.session.models, self._val_cache, self._measure_run + 1
        self._measure_run = run

        def work(report, cancel):
            import torch

            from playground.core.checkpoints import load_checkpoint
            from playground.core.evaluation import (PerplexityRow, perplexity, perplexity_on_ids, read_text_file,
                                                    validation_ids)
            from playground.core.training import resolve_device

            text = None
            if source == SOURCE_FILE:
                report(Progress(0.0, f"Reading {text_path.name}…"))
                text = read_text_file(text_path, cancel)
            n = len(targets)
            for i, (folder, current) in enumerate(targets):
                cancel.raise_if_cancelled()
                name = current.name if current is not None else folder.parent.name

                def part(p: Progress, lo: float = 0.0, hi: float = 1.0, i: int = i, name: str = name) -> None:
                    inner = lo + (hi - lo) * (p.fraction or 0.0)
                    report(Progress((i + inner) / n, f"{name} ({i + 1} of {n}): {p.message}"))

                part(Progress(0.0, "loading…"))
                try:
                    if current is not None:
                        ckpt, model = current, store.model_for(current)
                    else:
                        ckpt, model = load_checkpoint(folder, device=resolve_device("auto"))
                    tokenizer = ckpt.tokenizer
                    tok_id = hashlib.sha1(tokenizer.tokenizer.to_str().encode("utf-8")).hexdigest()
                    if text is None:
                        fraction = getattr(ckpt.train_config, "val_fraction", None) or 0.1
                        key = (id(corpus), tok_id, fraction)
                        cached = cache.get(key)
                        if cached is not None and cached[0] is corpus:
                            ids = cached[1]
                        else:
                            ids = validation_ids(corpus, tokenizer, fraction,
                                                 lambda p: part(p, 0.0, 0.3), cancel)
                            while len(cache) >= VALIDATION_CACHE:
                                cache.pop(next(iter(cache)), None)
                            cache[key] = (corpus, ids)  # the corpus kept alive, so its id stays its own
                        result = perplexity_on_ids(model, ids, tokenizer, lambda p: part(p, 0.3, 1.0), cancel)
                    else:
                        result = perplexity(model, tokenizer, text, part, cancel)
                except UserError as e:
                    report(("failed", run, name, str(e)))
                    continue
                row = PerplexityRow(
                    name=ckpt.name, path=str(Path(ckpt.path).resolve()), which=ckpt.which,
                    parameters=model.num_parameters(), vocab_size=ckpt.model_config.vocab_size,
                    tokenizer_kind=tokenizer.kind_label, context_length=ckpt.model_config.context_length,
                    steps=ckpt.step, tokens=result.tokens, mean_loss=result.mean_loss,
                    perplexity=result.perplexity, bits_per_byte=result.bits_per_byte)
                report(("row", run, Measured(row, source_key, source_label, tok_id)))
                del model
                if current is None and torch.cuda.is_available():
                    torch.cuda.empty_cache()
            report(Progress(1.0, "Done."))
            return n

        job = Job(work, "measuring perplexity")
        self.measure_job = job
        self._failures = []
        self._measure_cancelled = False
        self._started = time.monotonic()
        self.chart_source = source_key
        job.progress.connect(lambda p: self._show_progress(self.measure_progress, p))
        job.partial.connect(self._on_measured)
        job.error.connect(self._on_measure_error)
        job.cancelled.connect(self._on_measure_cancelled)
        job.done.connect(self._measure_done)
        self.measure_progress.setValue(0)
        self.measure_progress.setFormat("Starting…")
        self.measure_status.setText(f"Measuring {len(targets)} checkpoint{'s' if len(targets) != 1 else ''} on "
                                    f"the {source_label}…")
        self._update_buttons()
        job.start()
        return job

    @staticmethod
    def _show_progress(bar: QProgressBar, p: Progress) -> None:
        if p.fraction is None:
            bar.setRange(0, 0)
        else:
            bar.setRange(0, 1000)
            bar.setValue(int(max(0.0, min(1.0, p.fraction)) * 1000))
        bar.setFormat(p.message)

    def _on_measured(self, item) -> None:
        kind, run = item[0], item[1]
        if run != self._measure_run:
            return
        if kind == "failed":
            _, _, name, message = item
            self._failures.append(f"{name}: {message}")
            return
        measured: Measured = item[2]
        self.results = [m for m in self.results if m.key != measured.key] + [measured]
        self.chart_source = measured.source
        self._refresh_results(select=measured)

    def _on_measure_error(self, message: str) -> None:
        self.session.error(message)
        self.measure_status.setText("Measuring failed: see the message above.")

    def _on_measure_cancelled(self) -> None:
        self._measure_cancelled = True

    def _measure_done(self) -> None:
        self.measure_job = None
        seconds = time.monotonic() - self._started
        self.measure_progress.setRange(0, 1000)
        if self._measure_cancelled:
            self.measure_status.setText("Stopped by you: the checkpoints scored so far have their rows.")
            self.measure_progress.setFormat("Stopped")
        elif self._failures:
            self.session.error("Some checkpoints could not be scored. " + " ".join(self._failures))
            self.measure_status.setText(f"{len(self._failures)} could not be scored: see the message above.")
            self.measure_progress.setFormat("Done, with problems")
        elif not self.measure_status.text().startswith("Measuring failed"):
            self.measure_progress.setValue(1000)
            self.measure_progress.setFormat("Done")
            self.measure_status.setText(f"Measured in {seconds:.1f} s. Lower is better.")
        self._update_buttons()

    def cancel_measure(self) -> None:
        if self.measure_job is not None:
            self.measure_job.cancel()
            self.measure_status.setText("Stopping…")

    def clear_results(self) -> None:
        self.results = []
        self._refresh_results()

    # ---------------------------------------------------------------- the table and the chart

    def _is_current(self, m: Measured) -> bool:
        current = self._current_folder()
        checkpoint = self.session.checkpoint
        return (current is not None and Path(m.row.path) == current and checkpoint is not None
                and m.row.steps == checkpoint.step)

    def _refresh_results(self, select: Optional[Measured] = None) -> None:
        table = self.results_table
        table.setSortingEnabled(False)
        table.clearSelection()
        table.setRowCount(len(self.results))
        best: dict[str, float] = {}
        for m in self.results:
            best[m.source] = min(best.get(m.source, float("inf")), m.row.bits_per_byte)
        select_row = None
        for r, m in enumerate(self.results):
            row = m.row
            current = self._is_current(m)
            name = f"{'● ' if current else ''}{row.name} ({row.which})"
            cells = [
                QTableWidgetItem(name),
                QTableWidgetItem(m.source_label),
                NumberItem(row.parameters, _count(row.parameters)),
                NumberItem(row.vocab_size, f"{row.vocab_size:,}"),
                NumberItem(row.steps, f"{row.steps:,}"),
                NumberItem(row.tokens, f"{row.tokens:,}"),
                NumberItem(row.perplexity, f"{row.perplexity:,.1f}" if row.perplexity < 1e6 else f"{row.perplexity:.2e}"),
                NumberItem(row.bits_per_byte, f"{row.bits_per_byte:.3f}"),
            ]
            tip = (f"{row.name} ({row.which}), step {row.steps:,}\n{row.path}\n{row.tokenizer_kind}, "
                   f"{row.vocab_size:,} tokens; context {row.context_length:,}\n"
                   f"Mean loss {row.mean_loss:.3f} nats per token on the {m.source_label}.")
            for c, item in enumerate(cells):
                item.setToolTip(tip if c != 1 else (m.source_label if m.is_validation else m.source))
                item.setData(Qt.UserRole, r)
                table.setItem(r, c, item)
            if row.bits_per_byte == best[m.source] and sum(x.source == m.source for x in self.results) > 1:
                font = cells[-1].font()
                font.setBold(True)
                cells[-1].setFont(font)
                cells[-1].setForeground(QBrush(QColor(GOOD)))
                cells[-1].setToolTip(tip + "\nThe lowest bits per byte on this text.")
            if select is not None and m.key == select.key:
                select_row = cells[0]
        table.setSortingEnabled(True)
        if select_row is not None:
            table.selectRow(select_row.row())
        self.results_caption.setText(f"<b>Results</b> · {len(self.results)} row{'s' if len(self.results) != 1 else ''}"
                                     if self.results else "<b>Results</b> · press Measure")
        self._refresh_chart()

    def _row_selected(self) -> None:
        items = self.results_table.selectedItems()
        if not items:
            return
        index = items[0].data(Qt.UserRole)
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
        bars = [Bar(label=f"{m.row.name} ({m.row.which})" if m.row.which != "best" else m.row.name,
                    value=m.row.bits_per_byte, note=f"perplexity {m.row.perplexity:,.1f}",
                    highlight=self._is_current(m)) for m in shown]
        self.bpb_chart.set_bars(bars, placeholder="Press Measure to score the checkpoints on the list.")
        if shown:
            label = shown[0].source_label
            on = f"the {label}" if shown[0].is_validation else label
            self.chart_caption.setText(f"<b>Bits per byte on {on}</b> · <span style='color:{MUTED}'>orange: the "
                                       f"current model; under each value, its perplexity per token</span>")
        else:
            self.chart_caption.setText("<b>Bits per byte</b>")
        ids = {m.tokenizer_id for m in shown}
        if len(ids) > 1:
            note = ("These checkpoints use different tokenizers: compare them by bits per byte, not perplexity "
                    "per token.")
            if shown and shown[0].is_validation:
                note += (" Each validation split is the corpus's tail as its own tokenizer counts it, so the texts "
                         "differ slightly at the start; for an exact comparison, score a text file.")
            self.tokenizer_note.setText(note)
        self.tokenizer_note.setVisible(len(ids) > 1)

    # ================================================================== tasks: what to ask

    def _fill_tasks(self) -> None:
        from playground.core.task_eval import builtin_tasks

        try:
            tasks = builtin_tasks()
        except UserError as e:
            self.session.error(f"The built-in tasks could not be read: {e}")
            tasks = []
        self.task_combo.blockSignals(True)
        for task in tasks:
            key = str(task.path)
            self.tasks[key] = task
            self.task_combo.addItem(task.name, key)
            self.task_combo.setItemData(self.task_combo.count() - 1,
                                        f"{len(task)} examples · built in ({task.path.name})", Qt.ToolTipRole)
        self.task_combo.blockSignals(False)
        self._task_chosen()

    def choose_task_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a task file", "",
                                              "Task files (*.csv *.jsonl *.json *.ndjson);;All files (*)")
        if path:
            self.open_task(path)

    def open_task(self, path) -> bool:
        """Read a task file and choose it; False, with the reason as a message, when it cannot be used."""
        from playground.core.task_eval import load_task

        try:
            task = load_task(path)
        except UserError as e:
            self.session.error(str(e))
            return False
        except OSError as e:
            self.session.error(f"{Path(path).name} could not be read: {e.strerror or e}.")
            return False
        key = str(Path(path).resolve())
        self.tasks[key] = task
        self._task_templates.pop(key, None)
        index = self.task_combo.findData(key)
        label = f"{task.name} ({Path(path).name})"
        if index < 0:
            self.task_combo.addItem(label, key)
            index = self.task_combo.count() - 1
        self.task_combo.setItemText(index, label)
        self.task_combo.setItemData(index, f"{len(task)} examples · {path}", Qt.ToolTipRole)
        if self.task_combo.currentIndex() == index:
            self._task_chosen()
        else:
            self.task_combo.setCurrentIndex(index)
        return True

    def current_task(self):
        key = self.task_combo.currentData()
        return None if key is None else self.tasks.get(key)

    def _task_template(self, key: str):
        if key not in self._task_templates:
            from playground.core.task_eval import template_for

            try:
                self._task_templates[key] = template_for(self.tasks[key])
            except UserError as e:
                self.session.error(f"The template that goes with this task could not be read: {e}")
                from playground.core.task_eval import continuation_template

                self._task_templates[key] = continuation_template()
        return self._task_templates[key]

    def _task_chosen(self, *_: Any) -> None:
        task = self.current_task()
        if task is None:
            self.task_info.setText("No task chosen.")
            return
        self.task_info.setText(f"{len(task)} example{'s' if len(task) != 1 else ''}"
                               + (f" · {task.path.name}" if task.path else ""))
        self._refresh_templates()
        run = self.task_runs.get(self.task_combo.currentData())
        self._show_run(run)

    def _refresh_templates(self) -> None:
        """The template choices: the task's own, the one sent from the Prompt panel, the built-in ones."""
        if not self._ready:
            return
        from playground.core.prompts import builtin_templates

        kept = self.template_combo.currentData()
        kept_kind = kept[0] if kept else "task"
        kept_name = kept[1].name if kept and kept[1] is not None else None
        self.template_combo.blockSignals(True)
        self.template_combo.clear()
        key = self.task_combo.currentData()
        if key is not None:
            own = self._task_template(key)
            self.template_combo.addItem(f"The task's own: {own.name}", ("task", None))
            self.template_combo.setItemData(0, own.description or "The template made for this task.",
                                            Qt.ToolTipRole)
        if self.session.prompt is not None:
            self.template_combo.addItem(f"From the Prompt panel: {self.session.prompt.name}",
                                        ("prompt", self.session.prompt))
            self.template_combo.setItemData(self.template_combo.count() - 1,
                                            "The template you last sent from the Prompt panel.", Qt.ToolTipRole)
        try:
            builtins = builtin_templates()
        except UserError:
            builtins = []
        for template in builtins:
            self.template_combo.addItem(f"Built-in: {template.name}", ("builtin", template))
            self.template_combo.setItemData(self.template_combo.count() - 1, template.description,
                                            Qt.ToolTipRole)
        index = 0
        for i in range(self.template_combo.count()):
            kind, template = self.template_combo.itemData(i)
            if kind == kept_kind and (template is None or template.name == kept_name):
                index = i
                break
        self.template_combo.setCurrentIndex(index)
        self.template_combo.blockSignals(False)
        self._template_chosen()

    def current_template(self):
        data = self.template_combo.currentData()
        if data is None:
            return None
        kind, template = data
        if kind == "task":
            key = self.task_combo.currentData()
            return None if key is None else self._task_template(key)
        return template

    def _template_chosen(self, *_: Any) -> None:
        template = self.current_template()
        modes = self._modes()
        note = ""
        if template is not None:
            if any(m in ("one-shot", "few-shot", "chain-of-thought") for m in modes) and \
                    not template.enabled_examples():
                note = (f"“{template.name}” has no worked examples, so one-shot and few-shot prompts are the same "
                        "as zero-shot. Choose a template with examples to see what examples add.")
            elif template.description:
                self.template_combo.setToolTip(f"{TEMPLATE_TIP}\n\nThis one: {template.description}")
        self.template_note.setText(note)
        self.template_note.setVisible(bool(note))
        self._update_preview()

    def _modes(self) -> list[str]:
        first = self.mode_combo.currentData()
        second = self.compare_combo.currentData()
        return [first] + ([second] if second and second != first else [])

    def _modes_changed(self, *_: Any) -> None:
        first = self.mode_combo.currentData()
        self.mode_combo.setToolTip("How the prompt is laid out for the first set of answers. "
                                   + MODE_HELP.get(first, ""))
        second = self.compare_combo.currentData()
        self.compare_combo.setToolTip("The mode to compare it with, on the same examples and settings. "
                                      + (MODE_HELP.get(second, "") if second else "Nothing: one mode only."))
        if self.shown_run is None:
            self._set_score_headers(self._modes())
            self._set_example_headers(self._modes())
        self._template_chosen()

    def _update_preview(self) -> None:
        """The prompt of the selected example (the first when none is), in each mode, with its length."""
        task, template = self.current_task(), self.current_template()
        if task is None or template is None or not len(task):
            self.prompt_preview.setPlainText("")
            return
        rows = self.examples_table.selectionModel().selectedRows() if self.examples_table.selectionModel() else []
        index = rows[0].row() if rows else 0
        index = min(index, len(task) - 1)
        example = task.examples[index]
        checkpoint = self.session.checkpoint
        parts = []
        for mode in self._modes():
            try:
                text = template.render(mode=mode, input=example.input).text
            except UserError as e:
                parts.append(f"── {_mode_label(mode)} ──\n(cannot be rendered: {e})")
                continue
            length = ""
            if checkpoint is not None:
                n = len(checkpoint.tokenizer.encode_ids([text])[0])
                context = checkpoint.model_config.context_length
                length = f" · {n:,} tokens" + (f", more than the context ({context:,}): the start is cut"
                                               if n > context else "")
            parts.append(f"── {_mode_label(mode)}{length} ──\n{text}")
        self.preview_caption.setText(f"<b>What the model reads</b> · example {index + 1}")
        self.prompt_preview.setPlainText("\n\n".join(parts))

    # ================================================================== tasks: running

    def _settings(self):
        from playground.core.sampling import SamplingSettings

        strategy = self.strategy_combo.currentData()
        if strategy == "greedy":
            return SamplingSettings(strategy="greedy", temperature=1.0, max_new_tokens=self.max_tokens.value())
        if strategy == "beam":
            return SamplingSettings(strategy="beam", beams=4, max_new_tokens=self.max_tokens.value())
        return SamplingSettings(strategy="sample", temperature=0.8, seed=0, max_new_tokens=self.max_tokens.value())

    def run_task(self) -> Optional[Job]:
        """Ask the model the task's examples in each mode and score them, in a job; None when it cannot start."""
        if self.task_job is not None:
            return None
        checkpoint = self.session.checkpoint
        if checkpoint is None:
            self.session.warn("There is no model to ask yet: load the demo model or train one.")
            return None
        task, template = self.current_task(), self.current_template()
        if task is None or template is None:
            self.session.warn("Choose a task first, or open a task file (Open…, Ctrl+O).")
            return None
        modes = self._modes()
        try:
            for mode in modes:
                template.render(mode=mode, input="")
        except UserError as e:
            self.session.error(f"The template “{template.name}” cannot be used: {e}")
            return None
        settings = self._settings()
        template = template.copy()
        key = self.task_combo.currentData()
        strategy = self.strategy_combo.currentText().lower()
        caption = (f"<b>{task.name}</b> · {len(task)} examples · template “{template.name}” · "
                   f"{checkpoint.name} (step {checkpoint.step:,}) · {strategy}, at most "
                   f"{settings.max_new_tokens} new tokens")
        run = TaskRun(task_key=key, modes=modes, caption=caption)
        self.task_runs[key] = run
        self._show_run(run)
        store, run_id = self.session.models, self._task_run + 1
        self._task_run = run_id

        def work(report, cancel):
            from playground.core.task_eval import compare_modes

            report(Progress(0.0, "Loading the model…"))
            model = store.model_for(checkpoint)
            return compare_modes(model, checkpoint.tokenizer, template, task, modes=modes, settings=settings,
                                 progress=report, cancel=cancel,
                                 on_result=lambda row: report(("row", run_id, run, row)))

        job = Job(work, f"running the task {task.name}")
        self.task_job = job
        self._task_cancelled = False
        self._task_started = time.monotonic()
        job.progress.connect(lambda p: self._show_progress(self.task_progress, p))
        job.partial.connect(self._on_answer)
        job.result.connect(lambda results, run=run: self._on_task_result(run, results))
        job.error.connect(self._on_task_error)
        job.cancelled.connect(self._on_task_cancelled)
        job.done.connect(self._task_done)
        self.task_progress.setValue(0)
        self.task_progress.setFormat("Starting…")
        self.task_status.setText(f"Asking {len(task)} examples × {len(modes)} mode{'s' if len(modes) > 1 else ''}…")
        self._update_buttons()
        job.start()
        return job

    def _on_answer(self, item) -> None:
        _, run_id, run, row = item
        if run_id != self._task_run:
            return
        run.rows[(row.mode, row.index)] = row
        if run is self.shown_run:
            self._show_answer(run, row)

    def _on_task_result(self, run: TaskRun, results) -> None:
        run.results = list(results)
        for result in results:
            for row in result.rows:
                run.rows[(row.mode, row.index)] = row
        if run is self.shown_run:
            self._show_run(run)

    def _on_task_error(self, message: str) -> None:
        self.session.error(message)
        self.task_status.setText("The run failed: see the message above.")

    def _on_task_cancelled(self) -> None:
        self._task_cancelled = True

    def _task_done(self) -> None:
        self.task_job = None
        seconds = time.monotonic() - self._task_started
        self.task_progress.setRange(0, 1000)
        run = self.shown_run
        if self._task_cancelled:
            if run is not None:
                run.stopped = True
                self._show_scores(run)
            answered = len(run.rows) if run is not None else 0
            self.task_status.setText(f"Stopped by you after {answered} answer{'s' if answered != 1 else ''}: "
                                     "no scores for an unfinished run.")
            self.task_progress.setFormat("Stopped")
        elif not self.task_status.text().startswith("The run failed"):
            self.task_progress.setValue(1000)
            self.task_progress.setFormat("Done")
            self.task_status.setText(f"Done in {seconds:.1f} s.")
        self._update_buttons()

    def cancel_task(self) -> None:
        if self.task_job is not None:
            self.task_job.cancel()
            self.task_status.setText("Stopping…")

    # ---------------------------------------------------------------- the task tables

    def _show_run(self, run: Optional[TaskRun]) -> None:
        """Show `run` (the task's examples, empty answers, no scores when None)."""
        self.shown_run = run
        modes = run.modes if run is not None else self._modes()
        self._set_score_headers(modes)
        self._set_example_headers(modes)
        task = self.current_task()
        table = self.examples_table
        examples = task.examples if task is not None else []
        table.setRowCount(len(examples))
        for r, example in enumerate(examples):
            self._cell(r, 0, str(r + 1), align=Qt.AlignRight)
            self._cell(r, 1, _elide(example.input), _tooltip(example.input))
            self._cell(r, 2, _elide(example.reference), _tooltip(example.reference))
            for c in range(3, 9):
                self._cell(r, c, "")
        if run is not None:
            for row in run.rows.values():
                self._show_answer(run, row)
        self._show_scores(run)
        if run is None:
            self.task_caption.setText(f"<b>{task.name}</b> · {len(task)} examples · press Run to ask the model"
                                      if task is not None else "")
        else:
            self.task_caption.setText(run.caption)
        answered = "" if run is None else f" · {len(run.rows)} of {len(examples) * len(modes)} answered"
        self.examples_caption.setText(f"<b>Answers</b>{answered} · <span style='color:{MUTED}'>hover a cell "
                                      f"for its whole text</span>")
        self._update_preview()

    def _cell(self, r: int, c: int, text: str, tip: str = "", align=None, colour: Optional[str] = None) -> None:
        item = self.examples_table.item(r, c)
        if item is None:
            item = QTableWidgetItem()
            self.examples_table.setItem(r, c, item)
        item.setText(text)
        item.setToolTip(tip)
        if align is not None:
            item.setTextAlignment(align | Qt.AlignVCenter)
        item.setForeground(QBrush(QColor(colour)) if colour else QBrush())

    def _show_answer(self, run: TaskRun, row) -> None:
        if row.mode not in run.modes or row.index >= self.examples_table.rowCount():
            return
        base = 3 + 3 * run.modes.index(row.mode)
        raw_note = f"\n\nAll it wrote: {row.raw!r}" if row.raw.strip() != row.output else ""
        cut = (f"\n\nThe prompt ({row.prompt_tokens:,} tokens) was longer than the context: its first "
               f"{row.cut_tokens:,} tokens were cut." if row.cut_tokens else "")
        shown = row.output if row.output else "(nothing)"
        self._cell(row.index, base, _elide(shown), _tooltip(f"{row.output}{raw_note}{cut}"),
                   colour=MUTED if not row.output else None)
        self._cell(row.index, base + 1, "✓" if row.exact else "✗",
                   "Exactly the reference." if row.exact else "Not exactly the reference.",
                   align=Qt.AlignCenter, colour=GOOD if row.exact else BAD)
        self._cell(row.index, base + 2, f"{row.chrf:.0f}", f"chrF {row.chrf:.1f} (0–100) · ROUGE-L "
                   f"{row.rouge_l:.2f} (0–1)", align=Qt.AlignRight)
        total = self.examples_table.rowCount() * len(run.modes)
        self.examples_caption.setText(f"<b>Answers</b> · {len(run.rows)} of {total} answered · "
                                      f"<span style='color:{MUTED}'>hover a cell for its whole text</span>")

    def _show_scores(self, run: Optional[TaskRun]) -> None:
        table = self.scores_table
        results = run.results if run is not None else None
        for r, (attr, _, tip) in enumerate(METRICS):
            for c in range(3):
                item = table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignCenter)
                    table.setItem(r, c, item)
                item.setText("—")
                item.setToolTip(tip)
                item.setForeground(QBrush())
                font = item.font()
                font.setBold(False)
                item.setFont(font)
            if not results:
                continue
            values = [getattr(res.scores, attr) for res in results]
            for c, (res, value) in enumerate(zip(results, values)):
                item = table.item(r, c)
                if attr == "exact_match":
                    right = sum(row.exact for row in res.rows)
                    item.setText(f"{value:.0%} ({right} of {len(res.rows)})")
                elif attr in ("bleu", "chrf"):
                    item.setText(f"{value:.1f}")
                else:
                    item.setText(f"{value:.2f}")
                if len(values) == 2 and value > min(values):
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
            if len(values) == 2:
                diff = values[1] - values[0]
                item = table.item(r, 2)
                if attr == "exact_match":
                    item.setText(f"{diff * 100:+.0f} points")
                elif attr in ("bleu", "chrf"):
                    item.setText(f"{diff:+.1f}")
                else:
                    item.setText(f"{diff:+.2f}")
                if abs(diff) > 1e-9:
                    item.setForeground(QBrush(QColor(GOOD if diff > 0 else BAD)))
        if run is not None and run.stopped:
            table.setToolTip("The run was stopped before every answer was in: no scores.")
        else:
            table.setToolTip("")

    # ================================================================== buttons, shortcuts, jobs

    def _update_buttons(self) -> None:
        has_model = self.session.checkpoint is not None
        measuring, running = self.measure_job is not None, self.task_job is not None
        self.measure_button.setEnabled(has_model and not measuring)
        self.measure_cancel_button.setEnabled(measuring)
        selected = [self.checkpoint_list.row(i) for i in self.checkpoint_list.selectedItems()]
        self.remove_button.setEnabled(any(r > 0 for r in selected))
        self.run_task_button.setEnabled(has_model and not running)
        self.task_cancel_button.setEnabled(running)
        self.open_task_button.setEnabled(not running)
        self.task_combo.setEnabled(not running)

    def _go(self) -> None:
        if self.pages.currentWidget() is not self.tabs:
            return
        if self.tabs.currentIndex() == 0:
            self.measure()
        else:
            self.run_task()

    def _open_for_tab(self) -> None:
        if self.pages.currentWidget() is not self.tabs:
            return
        if self.tabs.currentIndex() == 0:
            self.choose_text_file()
        elif self.task_job is None:
            self.choose_task_file()

    def cancel(self) -> None:
        """Esc: stop the job of the tab on show."""
        if self.tabs.currentIndex() == 0:
            self.cancel_measure()
        else:
            self.cancel_task()

    def is_busy(self) -> bool:
        """True while any job of this panel runs (tests and screenshots wait on it)."""
        return self.measure_job is not None or self.task_job is not None or self.empty_page.is_busy()

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every job of this panel and wait for them (on close, quit and in tests)."""
        jobs = [j for j in (self.measure_job, self.task_job) if j is not None]
        for job in jobs:
            job.cancel()
        ok = all(job.wait(timeout_ms) for job in jobs)
        return self.empty_page.stop_and_wait(timeout_ms) and ok

    def closeEvent(self, event) -> None:  # noqa: N802
        self.stop_and_wait()
        super().closeEvent(event)

    # ================================================================== workspace

    def state(self) -> dict:
        """The tab, the text file, the added checkpoints and the task settings, for a workspace."""
        key = self.task_combo.currentData()
        task = self.tasks.get(key) if key is not None else None
        return {
            "tab": self.tabs.currentIndex(),
            "source": self._source(),
            "text_file": str(self.text_path) if self.text_path is not None else None,
            "checkpoints": [str(e.folder) for e in self.entries if e.folder is not None],
            "task": str(task.path) if task is not None and task.path is not None else None,
            "mode": self.mode_combo.currentData(),
            "compare": self.compare_combo.currentData(),
            "strategy": self.strategy_combo.currentData(),
            "max_new_tokens": self.max_tokens.value(),
        }

    def restore_state(self, state: dict) -> None:
        """Set the controls from a `state()` dict; what is missing or no longer there is left as it is.
        Files are opened once there is a model (opening them needs PyTorch)."""
        def choose(combo: QComboBox, value) -> None:
            index = combo.findData(value) if isinstance(value, str) else -1
            if index >= 0:
                combo.setCurrentIndex(index)

        choose(self.mode_combo, state.get("mode"))
        choose(self.compare_combo, state.get("compare"))
        choose(self.strategy_combo, state.get("strategy"))
        tokens = state.get("max_new_tokens")
        if isinstance(tokens, int) and not isinstance(tokens, bool):
            self.max_tokens.setValue(tokens)
        tab = state.get("tab")
        if isinstance(tab, int) and not isinstance(tab, bool) and 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)
        if self._ready:
            self._restore_files(state)
        else:
            self._pending_state = dict(state)

    def _restore_files(self, state: dict) -> None:
        text_file = state.get("text_file")
        if isinstance(text_file, str) and Path(text_file).is_file():
            self.set_text_file(text_file)
        if state.get("source") == SOURCE_VALIDATION and self.source_validation.isEnabled():
            self.source_validation.setChecked(True)
        folders = state.get("checkpoints")
        for folder in folders if isinstance(folders, list) else []:
            if isinstance(folder, str) and self._checkpoint_folder(Path(folder)) is not None:
                folder = Path(folder).resolve()
                if folder != self._current_folder() and all(e.folder != folder for e in self.entries):
                    self.add_checkpoint(folder)
        task = state.get("task")
        if isinstance(task, str) and Path(task).is_file():
            key = str(Path(task).resolve())
            index = next((i for i in range(self.task_combo.count())
                          if str(Path(self.task_combo.itemData(i)).resolve()) == key), -1)
            if index >= 0:
                self.task_combo.setCurrentIndex(index)
            else:
                self.open_task(task)
