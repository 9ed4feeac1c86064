"""The Attention step: where each head of the model looks, for your own text, live while the model
generates and live while it trains, and a map of its token embeddings.

Captures run in jobs. Requests coalesce: while one capture runs, only the
latest request waits, so a fast stream of generated tokens never piles up
work. While the panel is hidden it captures nothing and keeps only the latest
request for when it is shown. The training probe's records arrive through the
session (the trainer captures them); the panel keeps a thinned history of them
to scrub back through.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QFrame, QHBoxLayout,
                               QHeaderView, QLabel, QPlainTextEdit, QPushButton, QScrollArea, QSizePolicy, QSlider,
                               QSpinBox, QSplitter, QStackedWidget, QTabBar, QTableWidget,
                               QTabWidget, QVBoxLayout, QWidget)

from playground.core.progress import UserError
from playground.engine.jobs import Job
from playground.engine.session import DEFAULT_PROBE_TEXT, Session
from playground.ui.widgets.no_model import NoModelPage
from playground.ui.widgets.number_item import NumberItem

SOURCE_TEXT, SOURCE_GENERATE, SOURCE_PROBE = range(3)
SOURCES = ["My text", "Generate (live)", "Training probe (live)"]
SOURCE_TIPS = [
    "Look at any text you type: the model reads it once and every head's weights are shown.",
    "Follow the Generate step: each token the model writes adds a row to the heatmap.",
    "Watch the model learn: while it trains, the trainer runs this probe sentence through it now and then. "
    "Scrub back through the steps to see patterns form.",
]
VIEW_HEAD, VIEW_MEAN, VIEW_LAYER, VIEW_ALL, VIEW_LINES = range(5)
VIEWS = ["One head", "Layer mean", "Heads of the layer", "Every layer and head", "Lines"]
VIEW_TIPS = [
    "One head's weights: row = the token reading (query), column = the token being read (key).",
    "The average of the layer's heads: what the layer as a whole looks at.",
    "All heads of the layer side by side; click one to enlarge it.",
    "Every head of every layer: rows are layers, columns heads. Click one to enlarge it.",
    "Where one token looks, as lines (like BertViz): click a token on the left.",
]
DEFAULT_TEXT = DEFAULT_PROBE_TEXT
CAPTION = [
    "Type any text: the model reads it and the heatmap follows as you type (Ctrl+Enter to look again).",
    "The text of the Generate step, as it is written: generate something there and come back, or put "
    "the two side by side.",
    "The probe sentence: the trainer captures its attention while the model trains. Edit it here; the "
    "running training takes up the new sentence.",
]
MAX_HISTORY = 200                 # training-probe records kept (older ones are thinned evenly)
HISTORY_BYTES = 256 * 2**20       # ... and at most this much memory for them
AMBER_STYLE = "background: #fff6e0; color: #7a5500; border: 1px solid #e6cf8f; border-radius: 4px; padding: 4px 8px;"
MUTED = "#5f6368"
HEAD_COLUMNS = ["Layer", "Head", "Entropy\n(bits)", "Previous\ntoken", "First\ntoken", "Itself"]
HEAD_TIPS = [
    "The layer, counted from 0 (the first reads the token embeddings).",
    "The head within its layer, counted from 0.",
    "Entropy in bits, averaged over the tokens: 0 means each token looks at exactly one token; higher means "
    "its attention is spread over many. A head that spreads evenly over q tokens has log₂ q bits.",
    "The average weight a token puts on the token just before it. Near 1: a previous-token head, which "
    "tells later layers what came before.",
    "The average weight on the very first token. High: an attention sink — a head with nothing useful to "
    "look at parks its attention there.",
    "The average weight a token puts on itself.",
]


@dataclass
class ProbeEntry:
    """One captured training step of the probe sentence."""

    step: int
    tokens: list[str]
    weights: np.ndarray   # [n_layer, n_head, T, T] float32
    stats: list           # HeadStats, layer by layer
    index: int = 0        # its place among every record that arrived (for even thinning)


@dataclass
class Shown:
    """What the attention views show now."""

    tokens: list[str]
    weights: np.ndarray   # [n_layer, n_head, T, T] float32
    stats: list           # HeadStats, layer by layer
    notice: str = ""
    step: Optional[int] = None   # the training step, for probe records
    prompt_tokens: Optional[int] = None   # for generated text: how many of the tokens are the prompt

    def describe(self) -> str:
        """What the title adds: the training step, or the prompt and what the model wrote."""
        if self.step is not None:
            return f" · training step {self.step:,}"
        if self.prompt_tokens is not None:
            return f" · {self.prompt_tokens} prompt + {len(self.tokens) - self.prompt_tokens} written tokens"
        return ""



def _weight_shade(value: float) -> QBrush:
    """A cell background as light as the heatmap's low end, stronger for bigger weights."""
    v = max(0.0, min(1.0, value))
    return QBrush(QColor(255, int(250 - 120 * v), int(240 - 190 * v)))


class AttentionPanel(QWidget):
    """Controls on top, the attention views on the left, the head summary on the right; embeddings in a tab."""

    title = "Attention"
    concept = (
        "<b>Attention</b><br>In every layer, each <i>head</i> decides how much each token looks at each "
        "earlier token (never a later one). A heatmap row is one token reading: its weights over the tokens "
        "so far sum to 1.<br><br>Look for <i>previous-token heads</i> (a bright line just below the diagonal), "
        "<i>first-token sinks</i> (a bright first column) and, in repeated text, heads that look back at what "
        "followed the same token last time.")

    CAPTURE_DEBOUNCE_MS = 250
    PROBE_DEBOUNCE_MS = 500

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.shown: Optional[Shown] = None
        self.current_matrix: Optional[np.ndarray] = None   # what "Save matrix" writes
        self.history: list[ProbeEntry] = []
        self._arrivals = 0                                  # probe records that arrived in this run
        self._stride = 1                                    # the history keeps every stride-th of them
        self.shown_entry: Optional[ProbeEntry] = None
        self.last_generated = None                          # the latest GeneratedText
        self.capture_job: Optional[Job] = None
        self.embedding_job: Optional[Job] = None
        self._pending: Optional[tuple] = None               # (kind, payload, checkpoint): the latest request
        self._jobs: set[Job] = set()
        self._my_text = DEFAULT_TEXT
        self._setting_text = False
        self._setting_slider = False
        self._filling_table = False
        self._views_built = False
        self._embeddings_for = None                         # the checkpoint the map shows (or is computing)
        self._build()
        self._capture_timer = QTimer(self, singleShot=True, interval=self.CAPTURE_DEBOUNCE_MS,
                                     timeout=self.capture_text)
        self._probe_timer = QTimer(self, singleShot=True, interval=self.PROBE_DEBOUNCE_MS,
                                   timeout=self._send_probe_text)
        session.checkpoint_changed.connect(self._on_checkpoint)
        session.text_generated.connect(self._on_generated)
        session.attention_probe.connect(self._on_probe)
        session.probe_text_changed.connect(self._on_probe_text_changed)
        session.training_changed.connect(self._on_training_changed)
        self._set_source_ui()
        self._update_empty_state()
        if session.checkpoint is not None:
            self._set_shape(session.checkpoint.model_config.n_layer, session.checkpoint.model_config.n_head)

    def advanced_widgets(self) -> list[QWidget]:
        """Controls presentation mode hides: saving pictures and matrices."""
        return [self.save_picture_button, self.save_matrix_button]

    # ================================================================== layout

    def _build(self) -> None:
        # ---- the empty state: no model yet
        self.empty_page = NoModelPage(
            self.session, "No model to look inside yet",
            "This step shows where a trained model's attention heads look, and how it arranges its tokens. "
            "Load the small demo model that comes with the app, or train your own: while it trains, its "
            "attention on a probe sentence appears here, live.")
        self.load_demo_button = self.empty_page.demo_button
        self.train_button = self.empty_page.train_button

        # ---- controls: what to read, which head, which view
        self.source = QComboBox()
        for i, name in enumerate(SOURCES):
            self.source.addItem(name)
            self.source.setItemData(i, SOURCE_TIPS[i], Qt.ToolTipRole)
        self.source.setToolTip("Where the text comes from. " + " ".join(SOURCE_TIPS))
        self.source.currentIndexChanged.connect(self._on_source_changed)
        self.text_edit = QPlainTextEdit()
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.Monospace)
        self.text_edit.setFont(mono)
        self.text_edit.setFixedHeight(62)
        self.text_edit.setTabChangesFocus(True)
        self.text_edit.textChanged.connect(self._on_text_edited)
        self.look_button = QPushButton("Look")
        self.look_button.setToolTip("Run the model over the text again and show its attention (Ctrl+Enter).")
        self.look_button.clicked.connect(self.capture_text)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet(f"color: {MUTED}; font-size: 9pt;")
        source_box = QVBoxLayout()
        source_box.addWidget(QLabel("<b>Read</b>"))
        source_box.addWidget(self.source)
        source_box.addStretch(1)
        text_box = QVBoxLayout()
        text_box.addWidget(self.text_edit)
        text_box.addWidget(self.caption)
        top = QHBoxLayout()
        top.addLayout(source_box)
        top.addLayout(text_box, 1)
        top.addWidget(self.look_button, 0, Qt.AlignTop)

        self.layer = QSpinBox()
        self.layer.setToolTip("The layer, counted from 0: the first layer reads the token embeddings, each "
                              "later one what the layers before it wrote.")
        self.head = QSpinBox()
        self.head.setToolTip("The head within the layer, counted from 0: each head has its own way of looking.")
        self.layer.valueChanged.connect(self._on_head_changed)
        self.head.valueChanged.connect(self._on_head_changed)
        self.layer_range = QLabel()
        self.head_range = QLabel()
        for label in (self.layer_range, self.head_range):
            label.setStyleSheet(f"color: {MUTED};")
        self.view = QTabBar()
        self.view.setExpanding(False)
        self.view.setDrawBase(False)
        for i, name in enumerate(VIEWS):
            self.view.addTab(name)
            self.view.setTabToolTip(i, VIEW_TIPS[i])
        self.view.currentChanged.connect(self._on_view_changed)
        self.save_picture_button = QPushButton("Save picture…")
        self.save_picture_button.setToolTip("Save the view as a PNG picture (Ctrl+E).")
        self.save_picture_button.clicked.connect(self._choose_picture_file)
        self.save_matrix_button = QPushButton("Save matrix…")
        self.save_matrix_button.setToolTip("Save the weights of the chosen head (or the layer mean) as a CSV "
                                           "table with the tokens as labels, or as a NumPy .npy file "
                                           "(Ctrl+Shift+E).")
        self.save_matrix_button.clicked.connect(self._choose_matrix_file)
        choose = QHBoxLayout()
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
        choose.addWidget(self.save_picture_button)
        choose.addWidget(self.save_matrix_button)

        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet(AMBER_STYLE)
        self.notice.hide()

        # ---- the views (the pyqtgraph ones are made on first show: the window opens faster)
        self.view_stack = QStackedWidget()
        self.blank = QLabel()
        self.blank.setAlignment(Qt.AlignCenter)
        self.blank.setWordWrap(True)
        self.blank.setStyleSheet(f"color: {MUTED}; font-size: 11pt; background: white;")
        self.view_stack.addWidget(self.blank)
        self.readout = QLabel()
        self.readout.setStyleSheet(f"color: {MUTED};")
        self.readout.setMinimumHeight(22)
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)

        # ---- history of the training probe
        self.history_slider = QSlider(Qt.Horizontal)
        self.history_slider.setRange(0, 0)
        self.history_slider.setToolTip("Scrub back through the training steps the probe captured "
                                       "(← and → step through them).")
        self.history_slider.valueChanged.connect(self._on_slider)
        self.history_label = QLabel("no steps yet")
        self.history_label.setMinimumWidth(190)
        self.follow_latest = QCheckBox("Follow latest")
        self.follow_latest.setChecked(True)
        self.follow_latest.setToolTip("Show each new capture as it arrives. Moving the slider back turns "
                                      "this off; moving it to the end turns it on.")
        self.follow_latest.toggled.connect(self._on_follow_toggled)
        self.history_row = QWidget()
        hl = QHBoxLayout(self.history_row)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.addWidget(QLabel("<b>Training history</b>"))
        hl.addWidget(self.history_slider, 1)
        hl.addWidget(self.history_label)
        hl.addWidget(self.follow_latest)

        views = QWidget()
        vl = QVBoxLayout(views)
        vl.setContentsMargins(0, 0, 0, 0)
        vl.addWidget(self.view_stack, 1)
        vl.addWidget(self.readout)
        vl.addWidget(self.history_row)

        # ---- the head summary
        self.head_table = QTableWidget(0, len(HEAD_COLUMNS))
        self.head_table.setHorizontalHeaderLabels(HEAD_COLUMNS)
        for column, tip in enumerate(HEAD_TIPS):
            self.head_table.horizontalHeaderItem(column).setToolTip(tip)
        self.head_table.verticalHeader().setVisible(False)
        self.head_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.head_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.head_table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.head_table.horizontalHeader().setSortIndicator(0, Qt.AscendingOrder)
        self.head_table.setSortingEnabled(True)
        header = self.head_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Stretch)
        for column, width in ((0, 56), (1, 50)):   # room for the title and its sort arrow
            header.setSectionResizeMode(column, QHeaderView.Fixed)
            self.head_table.setColumnWidth(column, width)
        self.head_table.itemSelectionChanged.connect(self._on_table_selection)
        self.head_table.setToolTip("One row per head. Click a column's title to sort by it; click a row to "
                                   "see that head.")
        table_hint = QLabel(
            "Each head's habits, averaged over the tokens. <i>Entropy</i>: how spread out its attention is "
            "(0 bits = one token). The other three: the weight a token puts on the token just before it, on the "
            "first token, on itself. Sort to find previous-token heads and sinks; click a row to see the head.")
        table_hint.setWordWrap(True)
        table_hint.setStyleSheet(f"color: {MUTED}; font-size: 9pt;")
        summary = QWidget()
        sl = QVBoxLayout(summary)
        sl.setContentsMargins(6, 0, 0, 0)
        sl.addWidget(QLabel("<b>Head summary</b>"))
        sl.addWidget(table_hint)
        sl.addWidget(self.head_table, 1)
        summary.setMinimumWidth(340)

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(views)
        splitter.addWidget(summary)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([770, 370])
        splitter.setChildrenCollapsible(False)

        attention = QWidget()
        al = QVBoxLayout(attention)
        al.setContentsMargins(4, 6, 4, 4)
        al.addLayout(top)
        al.addLayout(choose)
        al.addWidget(self.notice)
        al.addWidget(splitter, 1)

        self.embedding_page = QWidget()
        self.embedding_layout = QVBoxLayout(self.embedding_page)
        self.embedding_layout.setContentsMargins(4, 6, 4, 4)
        self.tabs = QTabWidget()
        self.tabs.addTab(attention, "Attention")
        self.tabs.addTab(self.embedding_page, "Token embeddings")
        self.tabs.setTabToolTip(0, "Where each head looks: heatmaps, lines and a summary of every head.")
        self.tabs.setTabToolTip(1, "Each token's vector on a map, and the tokens whose vectors are most alike.")
        self.tabs.currentChanged.connect(self._on_tab_changed)

        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty_page)
        self.pages.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        QShortcut(QKeySequence("Ctrl+E"), self, activated=self._choose_picture_file)
        QShortcut(QKeySequence("Ctrl+Shift+E"), self, activated=self._choose_matrix_file)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.capture_text)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self.capture_text)

    def _ensure_views(self) -> None:
        """Make the pyqtgraph views (importing pyqtgraph) the first time they are needed."""
        if self._views_built:
            return
        self._views_built = True
        from playground.ui.widgets.attention_lines import AttentionLines
        from playground.ui.widgets.embedding_view import EmbeddingView
        from playground.ui.widgets.head_grid import HeadGrid
        from playground.ui.widgets.heatmap import AttentionHeatmap

        self._heatmap = AttentionHeatmap()
        self._heatmap.hovered.connect(self._on_hover)
        self._heatmap.cell_clicked.connect(lambda q, k: self._select_query(q))
        self._grid = HeadGrid()
        self._grid.hovered.connect(self._on_hover)
        self._grid.head_clicked.connect(self.enlarge_head)
        self._lines = AttentionLines()
        self._lines.token_selected.connect(self._on_lines_token)
        self.lines_title = QLabel()
        self.lines_title.setStyleSheet("color: #2b2f3a; background: white; padding: 4px;")
        self.lines_title.setAlignment(Qt.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidget(self._lines)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        lines_page = QWidget()
        lines_page.setStyleSheet("background: white;")
        lp = QVBoxLayout(lines_page)
        lp.setContentsMargins(0, 0, 0, 0)
        lp.setSpacing(0)
        lp.addWidget(self.lines_title)
        lp.addWidget(scroll, 1)
        self.lines_page = lines_page
        for widget in (self._heatmap, self._grid, lines_page):
            widget.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
            self.view_stack.addWidget(widget)
        self._embedding_view = EmbeddingView()
        self.embedding_layout.addWidget(self._embedding_view)
        self._embedding_view.clear("The map appears once a model is loaded.")

    @property
    def heatmap(self):
        self._ensure_views()
        return self._heatmap

    @property
    def grid(self):
        self._ensure_views()
        return self._grid

    @property
    def lines(self):
        self._ensure_views()
        return self._lines

    @property
    def embedding_view(self):
        self._ensure_views()
        return self._embedding_view

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._ensure_views()
        if self.shown is not None:
            self._redraw()
        elif self._pending is None and self.capture_job is None:
            self._refresh_source()
        self._pump()
        if self.tabs.currentIndex() == 1:
            self.compute_embeddings()

    # ================================================================== state

    @property
    def source_kind(self) -> int:
        return self.source.currentIndex()

    def _has_model(self) -> bool:
        return self.session.checkpoint is not None

    def _update_empty_state(self) -> None:
        content = self._has_model() or self.session.training or bool(self.history)
        self.pages.setCurrentWidget(self.tabs if content else self.empty_page)

    def _set_shape(self, n_layer: int, n_head: int) -> None:
        """Bound the layer and head controls by the model: a head that does not exist cannot be chosen."""
        for spin, n, label, noun in ((self.layer, n_layer, self.layer_range, "layer"),
                                     (self.head, n_head, self.head_range, "head")):
            if spin.maximum() != n - 1 or spin.minimum() != 0:
                spin.blockSignals(True)
                spin.setRange(0, max(0, n - 1))
                spin.blockSignals(False)
            label.setText(f"of 0–{n - 1}" if n > 1 else "(only 0)")
            label.setToolTip(f"This model has {n} {noun}{'s' if n != 1 else ''}, counted from 0.")

    def _set_source_ui(self) -> None:
        kind = self.source_kind
        self.caption.setText(CAPTION[kind])
        self.history_row.setVisible(kind == SOURCE_PROBE)
        self.look_button.setVisible(kind == SOURCE_TEXT)
        self.text_edit.setReadOnly(kind == SOURCE_GENERATE)
        self.text_edit.setStyleSheet("background: #f4f5f8;" if kind == SOURCE_GENERATE else "")
        if kind == SOURCE_TEXT:
            text, placeholder = self._my_text, "Type some text for the model to read…"
        elif kind == SOURCE_GENERATE:
            gen = self.last_generated
            text, placeholder = ("".join(gen.tokens) if gen is not None else "",
                                 "Nothing generated yet: write something in the Generate step.")
        else:
            text, placeholder = self.session.probe_text, "A sentence to watch during training…"
        self.text_edit.setPlaceholderText(placeholder)
        self._set_text(text)

    def _set_text(self, text: str) -> None:
        if self.text_edit.toPlainText() == text:
            return
        self._setting_text = True
        try:
            self.text_edit.setPlainText(text)
        finally:
            self._setting_text = False

    # ================================================================== sources

    def _on_source_changed(self, _index: int) -> None:
        self._pending = None
        self._capture_timer.stop()
        self._set_source_ui()
        self._refresh_source()

    def _refresh_source(self) -> None:
        """Show what the current source has now (capturing when needed)."""
        kind = self.source_kind
        if kind == SOURCE_TEXT:
            self.capture_text()
        elif kind == SOURCE_GENERATE:
            if self.last_generated is not None and self.last_generated.ids:
                self._request("generated", self.last_generated, self.last_generated.checkpoint)
            else:
                self._show_nothing("Nothing generated yet. Generate text in the Generate step: each new token "
                                   "adds a row here.")
        else:
            if self.history:
                index = len(self.history) - 1 if self.follow_latest.isChecked() else self.history_slider.value()
                self._show_entry(self.history[min(index, len(self.history) - 1)])
            elif self._has_model() and self.session.probe_text.strip():
                self._request("text", self.session.probe_text, self.session.checkpoint)
            else:
                self._show_nothing("No training captures yet. Start training in the Train step: the probe "
                                   "sentence's attention appears here as the model learns.")
        self._update_history_label()

    def capture_text(self) -> None:
        """Look at the text box's text with the current model (My text, or the probe sentence before training)."""
        self._capture_timer.stop()
        kind = self.source_kind
        if kind == SOURCE_GENERATE:
            self._refresh_source()
            return
        if kind == SOURCE_PROBE and self.history:
            return  # the trainer captures the probe; nothing to run here
        text = self.text_edit.toPlainText()
        if not self._has_model():
            self._show_nothing("There is no model yet: load the demo model or train one.")
            return
        if not text.strip():
            self._show_nothing("Type some text above for the model to read.")
            return
        self._request("text", text, self.session.checkpoint)

    def _on_text_edited(self) -> None:
        if self._setting_text:
            return
        text = self.text_edit.toPlainText()
        kind = self.source_kind
        if kind == SOURCE_TEXT:
            self._my_text = text
            self._capture_timer.start()
        elif kind == SOURCE_PROBE:
            self._probe_timer.start()
            if not self.history:
                self._capture_timer.start()

    def _send_probe_text(self) -> None:
        if self.source_kind == SOURCE_PROBE:
            text = self.text_edit.toPlainText()
            if text != self.session.probe_text:
                self.session.set_probe_text(text)

    def _on_probe_text_changed(self, text: str) -> None:
        if self.source_kind == SOURCE_PROBE and text != self.text_edit.toPlainText():
            self._set_text(text)

    def _on_generated(self, generated) -> None:
        self.last_generated = generated
        if self.source_kind != SOURCE_GENERATE:
            return
        self._set_text("".join(generated.tokens))
        if generated.ids:
            self._request("generated", generated, generated.checkpoint)

    def _on_checkpoint(self, checkpoint) -> None:
        self._update_empty_state()
        if checkpoint is None:
            return
        cfg = checkpoint.model_config
        if self.shown is None or self.source_kind != SOURCE_PROBE:
            self._set_shape(cfg.n_layer, cfg.n_head)
        if self.source_kind == SOURCE_TEXT or (self.source_kind == SOURCE_PROBE and not self.history):
            self.capture_text()
        if self._views_built and self.tabs.currentIndex() == 1 and self.isVisible():
            self.compute_embeddings()

    def _on_training_changed(self, running: bool) -> None:
        if running:
            self.history.clear()   # a new run: its own history
            self._arrivals, self._stride = 0, 1
            self.shown_entry = None
            self.follow_latest.setChecked(True)
            self._update_slider()
            if not self._has_model():
                self.source.setCurrentIndex(SOURCE_PROBE)  # there is nothing else to look at
        self._update_empty_state()

    # ================================================================== capturing (in jobs, coalesced)

    def _request(self, kind: str, payload: Any, checkpoint) -> None:
        """Capture soon: the newest request replaces any that waits."""
        if checkpoint is None:
            return
        self._pending = (kind, payload, checkpoint)
        self._pump()

    def _pump(self) -> None:
        if self.capture_job is not None or self._pending is None or not self.isVisible():
            return
        kind, payload, checkpoint = self._pending
        self._pending = None
        source = self.source_kind
        store = self.session.models

        def work(report, cancel):
            from playground.core.attention import capture_attention, capture_ids, head_stats

            model = store.model_for(checkpoint)
            if kind == "text":
                capture = capture_attention(model, checkpoint.tokenizer, payload)
                tokens, weights, notice = capture.tokens, capture.weights, capture.notice
            else:
                ids, tokens = list(payload.ids), list(payload.tokens)
                if len(tokens) != len(ids):
                    tokens = [checkpoint.tokenizer.decode([i]) for i in ids]
                context = model.config.context_length
                cut = max(0, len(ids) - context)
                weights = capture_ids(model, ids[cut:])
                tokens = tokens[cut:]
                notice = (f"The text has {len(ids):,} tokens; the model reads at most {context:,}, so the "
                          f"heatmap shows the last {context:,} (the visible window)." if cut else "")
                prompt = max(0, min(len(tokens), int(payload.prompt_tokens) - cut))
            weights = weights.numpy() if hasattr(weights, "numpy") else np.asarray(weights, dtype=np.float32)
            return source, Shown(tokens=list(tokens), weights=weights, stats=head_stats(weights), notice=notice,
                                 prompt_tokens=None if kind == "text" else prompt)

        self.capture_job = self._start_job(work, "looking at the model's attention", self._on_captured,
                                           on_done=self._on_capture_done)

    def _on_captured(self, result) -> None:
        source, shown = result
        if source != self.source_kind:
            return  # the person chose another source meanwhile
        if source == SOURCE_PROBE and self.history:
            return  # training captures arrived meanwhile: they take over
        self._show(shown)

    def _on_capture_done(self) -> None:
        self.capture_job = None
        self._pump()

    def _start_job(self, fn, doing: str, on_result, on_done=None, on_error=None) -> Job:
        """Start a job with every connection made first (a quick job may finish before start() returns)."""
        job = Job(fn, doing)
        job.result.connect(on_result)
        job.error.connect(self.session.error)
        if on_error is not None:
            job.error.connect(on_error)
        if on_done is not None:
            job.done.connect(on_done)
        job.finished.connect(lambda job=job: self._job_finished(job))
        self._jobs.add(job)
        job.start()
        return job

    def _job_finished(self, job: Job) -> None:
        job.wait()
        self._jobs.discard(job)

    def is_idle(self) -> bool:
        """True when no job of this panel runs and no capture waits (tests wait for this)."""
        return (not self._jobs and self._pending is None and self.capture_job is None
                and not self.empty_page.is_busy())

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Drop waiting requests, ask running jobs to stop, and wait for them."""
        self._pending = None
        self._capture_timer.stop()
        self._probe_timer.stop()
        jobs = list(self._jobs)
        for job in jobs:
            job.cancel()
        ok = all(job.wait(timeout_ms) for job in jobs)
        return self.empty_page.stop_and_wait(timeout_ms) and ok

    # ================================================================== the training probe

    def _history_cap(self, record_bytes: int) -> int:
        return max(20, min(MAX_HISTORY, HISTORY_BYTES // max(1, record_bytes)))

    def _on_probe(self, record) -> None:
        weights = record.weights
        weights = weights.numpy() if hasattr(weights, "numpy") else np.asarray(weights)
        weights = weights.astype(np.float32, copy=False)
        if record.stats is not None:
            stats = record.stats
        else:  # a record made elsewhere than the trainer's probe
            from playground.core.attention import head_stats
            stats = head_stats(weights)
        entry = ProbeEntry(step=int(record.step), tokens=list(record.tokens), weights=weights, stats=stats,
                           index=self._arrivals)
        self._arrivals += 1
        # The history keeps every `_stride`-th record that arrived, evenly spaced from the first, plus the
        # newest (which the view follows); when it is full, every other one goes and the stride doubles.
        if self.history and self.history[-1].index % self._stride:
            self.history.pop()   # the previous newest was kept only while it was the newest
        self.history.append(entry)
        if len(self.history) > self._history_cap(entry.weights.nbytes):
            self._stride *= 2
            self.history = [e for e in self.history if e.index % self._stride == 0 or e is entry]
        self._update_empty_state()
        self._update_slider()
        if self.source_kind == SOURCE_PROBE:
            if self.follow_latest.isChecked() or self.shown_entry is None:
                self._show_entry(entry)
            self._update_history_label()

    def _update_slider(self) -> None:
        self._setting_slider = True
        try:
            n = len(self.history)
            self.history_slider.setRange(0, max(0, n - 1))
            if self.follow_latest.isChecked() or self.shown_entry is None:
                self.history_slider.setValue(max(0, n - 1))
            else:
                self.history_slider.setValue(self._index_of(self.shown_entry))
            self.history_slider.setEnabled(n > 1)
        finally:
            self._setting_slider = False

    def _index_of(self, entry: ProbeEntry) -> int:
        for i, e in enumerate(self.history):
            if e is entry:
                return i
        # Thinned away: the nearest step that is left.
        steps = [e.step for e in self.history]
        return int(np.argmin([abs(s - entry.step) for s in steps])) if steps else 0

    def _on_slider(self, value: int) -> None:
        if self._setting_slider or not self.history:
            return
        at_end = value >= len(self.history) - 1
        if self.follow_latest.isChecked() != at_end:
            self.follow_latest.blockSignals(True)
            self.follow_latest.setChecked(at_end)
            self.follow_latest.blockSignals(False)
        if self.source_kind == SOURCE_PROBE:
            self._show_entry(self.history[min(value, len(self.history) - 1)])
        self._update_history_label()

    def _on_follow_toggled(self, on: bool) -> None:
        if on and self.history:
            self.history_slider.setValue(len(self.history) - 1)
            if self.source_kind == SOURCE_PROBE:
                self._show_entry(self.history[-1])
            self._update_history_label()

    def _update_history_label(self) -> None:
        if not self.history:
            self.history_label.setText("no steps captured yet")
            return
        i = min(self.history_slider.value(), len(self.history) - 1)
        self.history_label.setText(f"step {self.history[i].step:,}  ({i + 1} of {len(self.history)} captured)")

    def _show_entry(self, entry: ProbeEntry) -> None:
        self.shown_entry = entry
        self._show(Shown(tokens=entry.tokens, weights=entry.weights, stats=entry.stats, step=entry.step))

    # ================================================================== drawing

    def _show(self, shown: Shown) -> None:
        old = self.shown
        self.shown = shown
        L, H = shown.weights.shape[:2]
        self._set_shape(L, H)
        self.notice.setText(shown.notice)
        self.notice.setVisible(bool(shown.notice))
        self._fill_table(shown.stats, same_heads=old is not None and old.weights.shape[:2] == (L, H))
        if self.isVisible():  # a hidden panel draws when it is shown (showEvent)
            self._redraw()

    def _show_nothing(self, message: str) -> None:
        self.shown = None
        self.current_matrix = None
        self.blank.setText(message)
        self.view_stack.setCurrentWidget(self.blank)
        self.notice.hide()
        self.readout.setText("")
        self.head_table.setRowCount(0)

    def _on_view_changed(self, _index: int) -> None:
        self.head.setEnabled(self.view.currentIndex() != VIEW_MEAN)
        self._redraw()

    def _on_head_changed(self, _value: int) -> None:
        self._select_table_row()
        self._redraw()

    def _redraw(self) -> None:
        shown = self.shown
        if shown is None:
            return
        self._ensure_views()
        weights, tokens = shown.weights, shown.tokens
        L, H = weights.shape[:2]
        view, layer, head = self.view.currentIndex(), self.layer.value(), self.head.value()
        step = shown.describe()
        from playground.core.attention import select

        try:
            matrix = select(weights, layer, "mean" if view == VIEW_MEAN else head)
        except UserError as e:
            self.session.error(str(e))
            return
        self.current_matrix = matrix
        if view in (VIEW_HEAD, VIEW_MEAN):
            what = f"mean of its {H} heads" if view == VIEW_MEAN else f"head {head}"
            self._heatmap.set_matrix(matrix, tokens, f"Layer {layer} · {what}{step} — each row sums to 1")
            self.view_stack.setCurrentWidget(self._heatmap)
            self.readout.setText(self._heatmap.hover_text or "Hover over a cell to read its weight; "
                                 "scroll to zoom, double-click to see it all.")
        elif view in (VIEW_LAYER, VIEW_ALL):
            from playground.ui.widgets.head_grid import Tile, grid_shape

            self._grid.notes = {(s.layer, s.head): f"entropy {s.entropy:.2f} bits, previous {s.previous_token:.2f}, "
                                f"first {s.first_token:.2f}" for s in shown.stats}
            if view == VIEW_LAYER:
                rows, cols = grid_shape(H)
                if H == 4 and self._grid.width() < 1.6 * self._grid.height():
                    rows, cols = 2, 2   # four heads fill a squarish view better as 2 × 2
                tiles = [Tile(layer, h, h // cols, h % cols) for h in range(H)]
                self._grid.set_heads(weights, tiles, rows, cols, corner_labels=True,
                                     title=f"Layer {layer}: its {H} heads{step} — click one to enlarge")
            else:
                tiles = [Tile(i, h, i, h) for i in range(L) for h in range(H)]
                self._grid.set_heads(weights, tiles, L, H, row_labels=[f"layer {i}" for i in range(L)],
                                     col_labels=[f"head {h}" for h in range(H)],
                                     title=f"Every layer and head ({L} × {H}){step} — click one to enlarge")
            self._grid.set_selected(layer, head)
            self.view_stack.setCurrentWidget(self._grid)
            self.readout.setText("Hover over a head to read its summary; click it to enlarge it.")
        else:
            self._lines.set_attention(matrix, tokens)
            self._update_lines_title()
            self.view_stack.setCurrentWidget(self.lines_page)
            self.readout.setText("Click a token on the left to see where it looks; ↑ and ↓ move along.")

    def _update_lines_title(self) -> None:
        from playground.ui.widgets.heatmap import display_token

        q = self._lines.selected
        step = self.shown.describe() if self.shown is not None else ""
        who = f"where ‘{display_token(self._lines.tokens[q], 16)}’ (#{q}) looks" if q is not None else ""
        self.lines_title.setText(f"Layer {self.layer.value()} · head {self.head.value()}{step}: {who} — "
                                 "thicker, darker lines carry more weight")

    def _on_lines_token(self, q: int) -> None:
        self._update_lines_title()

    def _select_query(self, q: int) -> None:
        """A click on a heatmap cell chooses its row's token for the Lines view."""
        self.lines.select(q)

    def _on_hover(self, text: str) -> None:
        if text:
            self.readout.setText(text)

    def enlarge_head(self, layer: int, head: int) -> None:
        """Show one head large (a click on a small multiple or on the overview)."""
        self.select_head(layer, head)
        self.view.setCurrentIndex(VIEW_HEAD)

    def select_head(self, layer: int, head: int) -> None:
        if (self.layer.value(), self.head.value()) == (layer, head):
            self._select_table_row()
            return
        self.layer.blockSignals(True)
        self.layer.setValue(layer)
        self.layer.blockSignals(False)
        if self.head.value() != head:
            self.head.setValue(head)  # redraws once, through valueChanged
        else:
            self._on_head_changed(head)

    # ================================================================== the head summary

    def _fill_table(self, stats: list, same_heads: bool) -> None:
        table = self.head_table
        self._filling_table = True
        sort_column = table.horizontalHeader().sortIndicatorSection()
        sort_order = table.horizontalHeader().sortIndicatorOrder()
        table.setSortingEnabled(False)
        try:
            if not same_heads or table.rowCount() != len(stats):
                table.setRowCount(0)
                table.setRowCount(len(stats))
            # Rows stay where sorting put them: find each head's row by its layer and head.
            rows = {}
            for r in range(table.rowCount()):
                li, hi = table.item(r, 0), table.item(r, 1)
                if isinstance(li, NumberItem) and isinstance(hi, NumberItem):
                    rows[(int(li.value), int(hi.value))] = r
            free = iter([r for r in range(table.rowCount()) if r not in rows.values()])
            for s in stats:
                r = rows.get((s.layer, s.head))
                if r is None:
                    r = next(free)
                values = [(s.layer, str(s.layer)), (s.head, str(s.head)), (s.entropy, f"{s.entropy:.2f}"),
                          (s.previous_token, f"{s.previous_token:.2f}"), (s.first_token, f"{s.first_token:.2f}"),
                          (s.self_token, f"{s.self_token:.2f}")]
                for c, (value, text) in enumerate(values):
                    item = table.item(r, c)
                    if not isinstance(item, NumberItem):
                        item = NumberItem(value, text)
                        table.setItem(r, c, item)
                    else:
                        item.value = value
                        item.setText(text)
                    if c >= 3:
                        item.setBackground(_weight_shade(value))
                        item.setForeground(QColor("#1d1d1d"))  # dark on the light shades, whatever the theme
        finally:
            table.setSortingEnabled(True)
            table.sortItems(sort_column, sort_order)
            self._filling_table = False
        self._select_table_row()

    def _select_table_row(self) -> None:
        table = self.head_table
        want = (self.layer.value(), self.head.value())
        for r in range(table.rowCount()):
            li, hi = table.item(r, 0), table.item(r, 1)
            if li is not None and hi is not None and (int(li.value), int(hi.value)) == want:
                if table.currentRow() != r or not table.selectedItems():
                    self._filling_table = True
                    table.selectRow(r)
                    self._filling_table = False
                return

    def _on_table_selection(self) -> None:
        if self._filling_table:
            return
        items = self.head_table.selectedItems()
        if not items:
            return
        r = items[0].row()
        layer, head = int(self.head_table.item(r, 0).value), int(self.head_table.item(r, 1).value)
        if self.view.currentIndex() == VIEW_MEAN:
            self.view.setCurrentIndex(VIEW_HEAD)
        self.select_head(layer, head)

    # ================================================================== embeddings

    def _on_tab_changed(self, index: int) -> None:
        if index == 1:
            self.compute_embeddings()

    def compute_embeddings(self) -> Optional[Job]:
        """Compute the embedding map of the current model in a job (once per checkpoint)."""
        checkpoint = self.session.checkpoint
        view = self.embedding_view
        if checkpoint is None:
            view.clear("No model yet: load the demo model or train one.")
            self._embeddings_for = None
            return None
        if checkpoint is self._embeddings_for or self.embedding_job is not None:
            return self.embedding_job
        self._embeddings_for = checkpoint
        store = self.session.models
        view.title.setText("Computing the map of the token embeddings…")

        def work(report, cancel):
            from playground.ui.widgets.embedding_view import compute_embedding_map

            model = store.model_for(checkpoint)
            return checkpoint, compute_embedding_map(model, checkpoint.tokenizer, name=checkpoint.name)

        def done_with(result) -> None:
            for_checkpoint, data = result
            if for_checkpoint is self.session.checkpoint:
                self.embedding_view.set_map(data)

        def finished() -> None:
            self.embedding_job = None
            if self.session.checkpoint is not self._embeddings_for and self.tabs.currentIndex() == 1:
                self.compute_embeddings()   # a newer checkpoint came while this one was computed

        def failed(_message: str) -> None:
            self._embeddings_for = None

        self.embedding_job = self._start_job(work, "mapping the token embeddings", done_with, on_done=finished,
                                             on_error=failed)
        return self.embedding_job

    # ================================================================== no model yet

    def load_demo(self) -> Optional[Job]:
        """Load the demo model (in a job, on the shared no-model page) and make it the session's model."""
        return self.empty_page.load_demo()

    # ================================================================== export

    def _export_widget(self) -> QWidget:
        self._ensure_views()
        current = self.view_stack.currentWidget()
        return self._lines if current is self.lines_page else current

    def export_picture(self, path) -> Path:
        """Save the current view as a PNG picture."""
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        if self.shown is None:
            raise UserError("There is no attention to save yet: look at some text first.")
        widget = self._export_widget()
        pixmap = widget.grab()
        if self._lines is widget and self.lines_title.text():
            pixmap = self._with_title(pixmap, self.lines_title.text())
        if not pixmap.save(str(path), "PNG"):
            raise UserError(f"Could not save the picture to {path}: check that the folder exists and you "
                            "may write there.")
        return path

    @staticmethod
    def _with_title(pixmap, title: str):
        from PySide6.QtGui import QPainter, QPixmap

        out = QPixmap(pixmap.width(), pixmap.height() + 28)
        out.fill(QColor("white"))
        p = QPainter(out)
        p.setPen(QColor("#2b2f3a"))
        p.drawText(0, 0, out.width(), 28, int(Qt.AlignCenter), title)
        p.drawPixmap(0, 28, pixmap)
        p.end()
        return out

    def export_matrix(self, path) -> Path:
        """Save the chosen head's (or the layer mean's) weights: .csv with the tokens, or .npy."""
        from playground.core.attention import save_matrix

        if self.shown is None or self.current_matrix is None:
            raise UserError("There is no attention to save yet: look at some text first.")
        return save_matrix(self.current_matrix, path, tokens=self.shown.tokens)

    def _matrix_name(self) -> str:
        what = "mean" if self.view.currentIndex() == VIEW_MEAN else f"head{self.head.value()}"
        return f"attention-layer{self.layer.value()}-{what}"

    def _choose_picture_file(self) -> None:
        if self.shown is None:
            self.session.warn("There is no attention to save yet: look at some text first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the view as a picture",
                                              str(Path.home() / f"{self._matrix_name()}.png"), "PNG picture (*.png)")
        if not path:
            return
        try:
            saved = self.export_picture(path)
        except UserError as e:
            self.session.error(str(e))
            return
        self.session.info(f"Saved the picture to {saved}.")

    def _choose_matrix_file(self) -> None:
        if self.shown is None:
            self.session.warn("There is no attention to save yet: look at some text first.")
            return
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save the weights as a matrix", str(Path.home() / f"{self._matrix_name()}.csv"),
            "CSV table, with the tokens (*.csv);;NumPy array (*.npy)")
        if not path:
            return
        if Path(path).suffix.lower() not in (".csv", ".npy"):
            path += ".npy" if "npy" in chosen else ".csv"
        try:
            saved = self.export_matrix(path)
        except UserError as e:
            self.session.error(str(e))
            return
        self.session.info(f"Saved the {self.shown.weights.shape[-1]}×{self.shown.weights.shape[-1]} matrix to {saved}.")

    # ================================================================== workspace

    def state(self) -> dict:
        """What to read and which head to show, for a workspace (the probe sentence is the session's)."""
        return {"source": self.source.currentIndex(), "text": self._my_text, "layer": self.layer.value(),
                "head": self.head.value(), "view": self.view.currentIndex(),
                "follow_latest": self.follow_latest.isChecked()}

    def restore_state(self, state: dict) -> None:
        """Set the controls from a `state()` dict; the layer and head are kept within the current model."""
        def number(key):
            value = state.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        if isinstance(state.get("text"), str):
            self._my_text = state["text"]
        source = number("source")
        if source is not None and 0 <= source < self.source.count() and source != self.source.currentIndex():
            self.source.setCurrentIndex(source)  # shows the source's text and looks again
        elif self.source_kind == SOURCE_TEXT and self.text_edit.toPlainText() != self._my_text:
            self._set_text(self._my_text)
            self._capture_timer.start()
        if number("layer") is not None and number("head") is not None:
            self.select_head(number("layer"), number("head"))
        view = number("view")
        if view is not None and 0 <= view < self.view.count():
            self.view.setCurrentIndex(view)
        if isinstance(state.get("follow_latest"), bool):
            self.follow_latest.setChecked(state["follow_latest"])
