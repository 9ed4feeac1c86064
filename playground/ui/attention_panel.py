"""The Attention step: where each head of the model looks, for your own text, live while the model
generates and live while it trains, and a map of its token embeddings.

The work runs as jobs from `playground/core/attention_jobs.py`. Requests
coalesce: while one look runs, only the latest request waits, so a fast stream
of generated tokens never piles up work. While the panel is hidden it looks at
nothing and keeps only the latest request for when it is shown.

Live from Generate, the panel asks the session for the generation's own
attention (`Session.live_attention_wanted`): each token then brings its rows
from the generation's forward pass, and the panel draws them without running
the model again. The training probe's records arrive through the session (the
trainer captures them); the panel keeps a thinned history of them to scrub
back through.

The views, the head summary, the history bar and the embeddings tab are widgets
of their own in `ui/widgets/`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QSplitter, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from playground.core.attention_records import MAX_HISTORY, AttentionSnapshot, ProbeEntry, ProbeHistory
from playground.core.progress import UserError
from playground.engine.jobs import Job, JobSlot
from playground.engine.session import DEFAULT_PROBE_TEXT, Session
from playground.ui.themes import AMBER_NOTICE, themed_style
from playground.ui.widgets.attention_compare import TIPS, TITLES, CausalVsMasked
from playground.ui.widgets.attention_controls import SOURCE_GENERATE, SOURCE_PROBE, SOURCE_TEXT, AttentionControls
from playground.ui.widgets.attention_saving import AttentionSaving
from playground.ui.widgets.attention_views import VIEW_ALL, VIEW_HEAD, VIEW_LAYER, VIEW_LINES, VIEW_MEAN, AttentionViews
from playground.ui.widgets.embedding_tab import EmbeddingTab
from playground.ui.widgets.head_summary import HeadSummary
from playground.ui.widgets.no_model import NoModelPage
from playground.ui.widgets.probe_history_bar import ProbeHistoryBar

__all__ = [
    "AttentionPanel",
    "MAX_HISTORY",
    "SOURCE_GENERATE",
    "SOURCE_PROBE",
    "SOURCE_TEXT",
    "VIEW_ALL",
    "VIEW_HEAD",
    "VIEW_LAYER",
    "VIEW_LINES",
    "VIEW_MEAN",
]

DEFAULT_TEXT = DEFAULT_PROBE_TEXT


class AttentionPanel(AttentionSaving):
    """Controls on top, the attention views on the left, the head summary on the right; embeddings in a tab."""

    title = "Attention"
    concept = (
        "<b>Attention</b><br>In every layer, each <i>head</i> decides how much each token looks at each "
        "other token. In a decoder (GPT) a token looks only at earlier tokens, never a later one: the heatmap "
        "is a triangle. In an encoder (BERT) every token reads every token, before and after it: a full "
        "square. An encoder-decoder (T5) has both, and its decoder's <i>cross-attention</i> reads the input: a rectangle. "
        "A heatmap row is one token reading: its weights sum to 1.<br><br>Look for <i>previous-token heads</i> (a bright line just below the diagonal), "
        "<i>first-token sinks</i> (a bright first column) and, in repeated text, heads that look back at what "
        "followed the same token last time."
    )

    CAPTURE_DEBOUNCE_MS = 250
    PROBE_DEBOUNCE_MS = 500

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.shown: Optional[AttentionSnapshot] = None
        self.current_matrix: Optional[np.ndarray] = None  # what "Save matrix" writes
        self.probe_history = ProbeHistory()
        self.shown_entry: Optional[ProbeEntry] = None
        self.last_generated = None  # the latest GeneratedText
        self.capture_slot = JobSlot(self)
        self.capture_slot.changed.connect(self._pump)
        self._pending: Optional[tuple] = None  # (job function, checkpoint, arguments): the latest request
        self._my_text = DEFAULT_TEXT
        self._my_output = ""  # an encoder-decoder's output to read (empty: its own)
        self.pair = None  # an encoder-decoder's PairCapture: its three kinds, so choosing a kind runs nothing
        self._setting_text = False
        self._build()
        self._capture_timer = QTimer(self, singleShot=True, interval=self.CAPTURE_DEBOUNCE_MS)
        self._capture_timer.timeout.connect(self.capture_text)
        self._probe_timer = QTimer(self, singleShot=True, interval=self.PROBE_DEBOUNCE_MS)
        self._probe_timer.timeout.connect(self._send_probe_text)
        session.checkpoint_changed.connect(self._on_checkpoint)
        session.text_generated.connect(self._on_generated)
        session.attention_probe.connect(self._on_probe)
        session.probe_text_changed.connect(self._on_probe_text_changed)
        session.training_changed.connect(self._on_training_changed)
        self._set_source_ui()
        self._update_empty_state()
        if session.checkpoint is not None:
            self.controls.set_shape(session.checkpoint.model_config.n_layer, session.checkpoint.model_config.n_head)
            self._set_family(session.checkpoint)

    def advanced_widgets(self) -> list[QWidget]:
        """Controls presentation mode hides: saving pictures and matrices."""
        return [self.save_picture_button, self.save_matrix_button]

    # ================================================================== layout

    def _build(self) -> None:
        self.empty_page = NoModelPage(
            self.session,
            "No model to look inside yet",
            "This step shows where a trained model's attention heads look, and how it arranges its tokens. "
            "Load the small demo model that comes with the app, or train your own: while it trains, its "
            "attention on a probe sentence appears here, live.",
        )
        self.load_demo_button = self.empty_page.demo_button
        self.train_button = self.empty_page.train_button

        # ---- what to read, which head, which view (laid out in ui/widgets/attention_controls.py)
        self.controls = c = AttentionControls()
        self.source, self.text_edit, self.look_button = c.source, c.text_edit, c.look_button
        self.layer, self.head, self.view = c.layer, c.head, c.view
        self.save_picture_button, self.save_matrix_button = c.save_picture_button, c.save_matrix_button
        self.source.currentIndexChanged.connect(self._on_source_changed)
        self.text_edit.textChanged.connect(self._on_text_edited)
        c.output_edit.textEdited.connect(self._on_output_edited)
        c.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.look_button.clicked.connect(self.capture_text)
        self.layer.valueChanged.connect(self._on_head_changed)
        self.head.valueChanged.connect(self._on_head_changed)
        self.view.currentChanged.connect(self._on_view_changed)
        self.save_picture_button.clicked.connect(self._choose_picture_file)
        self.save_matrix_button.clicked.connect(self._choose_matrix_file)

        self.notice = QLabel()
        self.notice.setWordWrap(True)
        themed_style(self.notice, AMBER_NOTICE)
        self.notice.hide()

        # ---- the views, the training history under them, the head summary beside them
        self.views = AttentionViews()
        self.views.head_clicked.connect(self.enlarge_head)
        self.view_stack, self.readout = self.views.stack, self.views.readout
        self.history_row = ProbeHistoryBar(self.probe_history)
        self.history_row.chosen.connect(self._on_history_chosen)
        self.history_slider, self.history_label = self.history_row.slider, self.history_row.label
        self.follow_latest = self.history_row.follow_latest
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.views, 1)
        ll.addWidget(self.history_row)
        self.summary = HeadSummary()
        self.summary.head_chosen.connect(self._on_summary_choice)
        self.head_table = self.summary.table
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.summary)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([770, 370])
        splitter.setChildrenCollapsible(False)

        attention = QWidget()
        al = QVBoxLayout(attention)
        al.setContentsMargins(4, 6, 4, 4)
        al.addWidget(c)
        al.addWidget(self.notice)
        al.addWidget(splitter, 1)

        self.embedding_tab = EmbeddingTab(self.session)
        self.compare_tab = CausalVsMasked(self.session)
        self.tabs = QTabWidget()
        self.tabs.addTab(attention, "Attention")
        self.tabs.addTab(self.embedding_tab, "Token embeddings")
        self.tabs.addTab(self.compare_tab, TITLES[self.compare_tab.three])
        self.tabs.setTabToolTip(0, "Where each head looks: heatmaps, lines and a summary of every head.")
        self.tabs.setTabToolTip(1, "Each token's vector on a map, and the tokens whose vectors are most alike.")
        self.tabs.setTabToolTip(2, TIPS[self.compare_tab.three])
        self.compare_tab.title_changed.connect(lambda title, _tip: self.tabs.setTabText(2, title))
        self.compare_tab.title_changed.connect(lambda _title, tip: self.tabs.setTabToolTip(2, tip))
        self.tabs.currentChanged.connect(self._on_tab_changed)

        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty_page)
        self.pages.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        QShortcut(QKeySequence("Ctrl+E"), self).activated.connect(self._choose_picture_file)
        QShortcut(QKeySequence("Ctrl+Shift+E"), self).activated.connect(self._choose_matrix_file)
        QShortcut(QKeySequence("Ctrl+Return"), self).activated.connect(self.capture_text)
        QShortcut(QKeySequence("Ctrl+Enter"), self).activated.connect(self.capture_text)

    @property
    def heatmap(self):
        return self.views.heatmap

    @property
    def grid(self):
        return self.views.grid

    @property
    def lines(self):
        return self.views.lines

    @property
    def lines_title(self) -> QLabel:
        self.views.ensure_built()
        return self.views.lines_title

    @property
    def embedding_view(self):
        return self.embedding_tab.view

    @property
    def history(self) -> list[ProbeEntry]:
        """The probe records kept for this training run, oldest first."""
        return self.probe_history.entries

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.views.ensure_built()
        if self.shown is not None:
            self._redraw()
        elif self._pending is None and not self.capture_slot.busy:
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

    @property
    def seq2seq(self) -> bool:
        """Whether the model read is an encoder-decoder: an input and an output, three kinds of attention."""
        return self.controls.seq2seq

    def _set_family(self, checkpoint) -> None:
        self.controls.set_seq2seq(bool(getattr(checkpoint.model_config, "is_encoder_decoder", False)))

    def _update_empty_state(self) -> None:
        content = self._has_model() or self.session.training or bool(self.history)
        self.pages.setCurrentWidget(self.tabs if content else self.empty_page)

    def _set_source_ui(self) -> None:
        kind = self.source_kind
        # Following Generate: ask it to hand over the attention of its own forward passes.
        self.session.live_attention_wanted = kind == SOURCE_GENERATE
        self.controls.set_source_look(kind)
        self.history_row.setVisible(kind == SOURCE_PROBE)
        self._fill_text()

    def _fill_text(self) -> None:
        """The text box (and an encoder-decoder's output box) with what the source reads now."""
        kind, output = self.source_kind, ""
        if kind == SOURCE_TEXT:
            text, placeholder = self._my_text, "Type some text for the model to read…"
            output = self._my_output
        elif kind == SOURCE_GENERATE:
            gen = self.last_generated
            text, placeholder = (
                "".join(gen.tokens) if gen is not None else "",
                "Nothing generated yet: write something in the Generate step.",
            )
            if gen is not None and self.seq2seq:  # the input above, what it wrote below
                text, output = "".join(gen.tokens[: gen.prompt_tokens]), "".join(gen.tokens[gen.prompt_tokens :])
        else:
            text, placeholder = self.session.probe_text, "A sentence to watch during training…"
        if self.seq2seq and kind != SOURCE_PROBE:
            placeholder = placeholder.replace("some text", "an input")
        self.text_edit.setPlaceholderText(placeholder)
        self._set_text(text)
        if self.controls.output_edit.text() != output:
            self.controls.output_edit.setText(output)

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
        if self.capture_slot.job is not None:
            self.capture_slot.job.supersede()  # a look at the old source: drop what it still reports
        self.views.clear_readout()
        self._set_source_ui()
        self._refresh_source()

    def _refresh_source(self) -> None:
        """Show what the current source has now (looking when needed)."""
        kind = self.source_kind
        if kind == SOURCE_TEXT:
            self.capture_text()
        elif kind == SOURCE_GENERATE:
            self._look_at_generated(self.last_generated)
        elif self.history:
            index = len(self.history) - 1 if self.follow_latest.isChecked() else self.history_slider.value()
            self._show_entry(self.history[min(index, len(self.history) - 1)])
        elif self._has_model() and self.session.probe_text.strip():
            self._look_at(self.session.probe_text)
        else:
            self._show_nothing(
                "No training captures yet. Start training in the Train step: the probe "
                "sentence's attention appears here as the model learns."
            )
        self.history_row.update_label()

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
        self._look_at(text, self.controls.output_edit.text() if kind == SOURCE_TEXT else "")

    def _look_at(self, text: str, output: str = "") -> None:
        """Read `text` with the current model: an encoder-decoder reads it as its input (and `output`, or
        writes its own), keeping its three kinds; another model reads it as it always has."""
        if self.seq2seq:
            from playground.core.seq2seq_look import read_pair

            self._request(read_pair, self.session.checkpoint, text, output.strip() or None)
        else:
            from playground.core.attention_jobs import look_at_text

            self._request(look_at_text, self.session.checkpoint, text)

    def _on_output_edited(self, output: str) -> None:
        if self.source_kind == SOURCE_TEXT:
            self._my_output = output
            self.views.clear_readout()
            self._capture_timer.start()

    def _on_kind_changed(self, _index: int) -> None:
        if self.pair is not None:
            self._show(self.pair.snapshot(self.controls.chosen_kind()))

    def _on_text_edited(self) -> None:
        if self._setting_text:
            return
        text = self.text_edit.toPlainText()
        kind = self.source_kind
        self.views.clear_readout()  # the hovered cell was the old text's
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
        self._fill_text()  # the text (an encoder-decoder's input and output) so far
        if generated.ids:
            self._look_at_generated(generated)

    def _look_at_generated(self, generated) -> None:
        if generated is None or not generated.ids:
            self._show_nothing(
                "Nothing generated yet. Generate text in the Generate step: each new token adds a row here."
            )
        elif generated.attention is None and generated.attention_follows:
            self._pending = None  # the first token brings the prompt's attention: no need to run the model
            self._show_nothing("The model is reading the prompt: its attention comes with the first token it writes.")
        elif getattr(generated.checkpoint.model_config, "is_encoder_decoder", False):
            from playground.core.seq2seq_look import look_at_written

            if len(generated.ids) <= generated.prompt_tokens:  # the input only, nothing written yet
                self._show_nothing("The model has read the input: its attention comes with the first token it writes.")
                return
            args = (generated.ids, generated.prompt_tokens, generated.attention)
            self._request(look_at_written, generated.checkpoint, *args)
        else:
            from playground.core.attention_jobs import look_at_generated

            self._request(
                look_at_generated,
                generated.checkpoint,
                generated.ids,
                generated.tokens,
                generated.prompt_tokens,
                generated.attention,
            )

    def _on_checkpoint(self, checkpoint) -> None:
        self._update_empty_state()
        if checkpoint is None:
            return
        cfg = checkpoint.model_config
        self._set_family(checkpoint)
        self.pair = None
        self._set_source_ui()
        if self.shown is None or self.source_kind != SOURCE_PROBE:
            self.controls.set_shape(cfg.n_layer, cfg.n_head)
        if self.source_kind == SOURCE_TEXT or (self.source_kind == SOURCE_PROBE and not self.history):
            self.capture_text()
        if self.views.built and self.tabs.currentIndex() == 1 and self.isVisible():
            self.compute_embeddings()

    def _on_training_changed(self, running: bool) -> None:
        if running:
            self.probe_history.clear()  # a new run: its own history
            self.shown_entry = None
            self.follow_latest.setChecked(True)
            self.history_row.refresh(None)
            if not self._has_model():
                self.source.setCurrentIndex(SOURCE_PROBE)  # there is nothing else to look at
        self._update_empty_state()

    # ================================================================== looking (in jobs, coalesced)

    def _request(self, job_fn, checkpoint, *args) -> None:
        """Look soon with `job_fn` (from core/attention_jobs.py): the newest request replaces any that waits."""
        if checkpoint is None:
            return
        self._pending = (job_fn, checkpoint, args)
        self._pump()

    def _pump(self) -> None:
        if self.capture_slot.busy or self._pending is None or not self.isVisible():
            return
        job_fn, checkpoint, args = self._pending
        self._pending = None
        job = Job(job_fn, self.session.models, checkpoint, *args, doing="looking at the model's attention")
        job.result.connect(self._on_looked)
        job.error.connect(self.session.error)
        self.capture_slot.start(job)

    def _on_looked(self, looked) -> None:
        """A look's result: an `AttentionSnapshot`, or an encoder-decoder's `PairCapture` (shown by kind)."""
        if self.source_kind == SOURCE_PROBE and self.history:
            return  # training captures arrived meanwhile: they take over
        if isinstance(looked, AttentionSnapshot):
            self.pair = None
            self._show(looked)
        else:
            self.pair = looked
            self._show(looked.snapshot(self.controls.chosen_kind() or "cross"))

    def is_busy(self) -> bool:
        """Whether a job of this panel runs (a hidden panel's waiting request is not one)."""
        return (
            self.capture_slot.any_not_done
            or self.embedding_tab.is_busy()
            or self.compare_tab.is_busy()
            or self.empty_page.is_busy()
        )

    def is_idle(self) -> bool:
        """True when no job of this panel runs and no look waits (tests wait for this)."""
        return not self.is_busy() and self._pending is None

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Drop waiting requests, ask running jobs to stop, and wait for them."""
        self._pending = None
        self._capture_timer.stop()
        self._probe_timer.stop()
        ok = self.capture_slot.stop_and_wait(timeout_ms)
        ok = self.embedding_tab.stop_and_wait(timeout_ms) and ok
        ok = self.compare_tab.stop_and_wait(timeout_ms) and ok
        return self.empty_page.stop_and_wait(timeout_ms) and ok

    # ================================================================== the training probe

    def _on_probe(self, record) -> None:
        entry = self.probe_history.add(record)
        self._update_empty_state()
        self.history_row.refresh(self.shown_entry)
        if self.source_kind == SOURCE_PROBE:
            if self.follow_latest.isChecked() or self.shown_entry is None:
                self._show_entry(entry)
            self.history_row.update_label()

    def _on_history_chosen(self, entry: ProbeEntry) -> None:
        if self.source_kind == SOURCE_PROBE:
            self._show_entry(entry)

    def _show_entry(self, entry: ProbeEntry) -> None:
        self.shown_entry = entry
        self._show(entry.snapshot)

    # ================================================================== drawing

    def _show(self, snapshot: AttentionSnapshot) -> None:
        old = self.shown
        self.shown = snapshot
        L, H = snapshot.weights.shape[:2]
        self.controls.set_shape(L, H)
        self.notice.setText(snapshot.notice)
        self.notice.setVisible(bool(snapshot.notice))
        same_heads = old is not None and old.weights.shape[:2] == (L, H)
        self.summary.fill(snapshot.stats, same_heads, self.layer.value(), self.head.value())
        self.controls.set_encoder(not snapshot.causal and not snapshot.kind)
        self.controls.show_kind(snapshot.kind)
        if self.isVisible():  # a hidden panel draws when it is shown (showEvent)
            self._redraw()

    def _show_nothing(self, message: str) -> None:
        self.shown = None
        self.pair = None
        self.current_matrix = None
        self.views.show_message(message)
        self.notice.hide()
        self.summary.clear()

    def _on_view_changed(self, _index: int) -> None:
        self.head.setEnabled(self.view.currentIndex() != VIEW_MEAN)
        self._redraw()

    def _on_head_changed(self, _value: int) -> None:
        self.summary.select(self.layer.value(), self.head.value())
        self._redraw()

    def _redraw(self) -> None:
        if self.shown is None:
            return
        from playground.core.attention import select

        view, layer, head = self.view.currentIndex(), self.layer.value(), self.head.value()
        try:
            matrix = select(self.shown.weights, layer, "mean" if view == VIEW_MEAN else head)
        except UserError as e:
            self.session.error(str(e))
            return
        self.current_matrix = matrix
        self.views.draw(self.shown, view, layer, head, matrix)

    def enlarge_head(self, layer: int, head: int) -> None:
        """Show one head large (a click on a small multiple or on the overview)."""
        self.select_head(layer, head)
        self.view.setCurrentIndex(VIEW_HEAD)

    def select_head(self, layer: int, head: int) -> None:
        if (self.layer.value(), self.head.value()) == (layer, head):
            self.summary.select(layer, head)
            return
        self.layer.blockSignals(True)
        self.layer.setValue(layer)
        self.layer.blockSignals(False)
        if self.head.value() != head:
            self.head.setValue(head)  # redraws once, through valueChanged
        else:
            self._on_head_changed(head)

    def _on_summary_choice(self, layer: int, head: int) -> None:
        if self.view.currentIndex() == VIEW_MEAN:
            self.view.setCurrentIndex(VIEW_HEAD)
        self.select_head(layer, head)

    # ================================================================== embeddings and the demo model

    def _on_tab_changed(self, index: int) -> None:
        if index == 1:
            self.compute_embeddings()

    def compute_embeddings(self) -> Optional[Job]:
        """Compute the embedding map of the current model in a job (once per checkpoint)."""
        return self.embedding_tab.compute()

    def load_demo(self) -> Optional[Job]:
        """Load the demo model (in a job, on the shared no-model page) and make it the session's model."""
        return self.empty_page.load_demo()

    # ================================================================== workspace

    def state(self) -> dict:
        """What to read and which head to show, for a workspace (the probe sentence is the session's)."""
        return {
            "source": self.source.currentIndex(),
            "text": self._my_text,
            "layer": self.layer.value(),
            "head": self.head.value(),
            "view": self.view.currentIndex(),
            "follow_latest": self.follow_latest.isChecked(),
        }

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
