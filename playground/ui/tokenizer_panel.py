"""The Tokenizer Lab: choose a corpus, train a tokenizer, watch text split into tokens."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.core.corpus import Corpus, default_corpus, open_corpus
from playground.core.progress import Progress, UserError
from playground.core.tokenization import (
    KINDS,
    LoadedTokenizer,
    SpecialTokensInText,
    TokenizerSpec,
    check_output_path,
    check_spec,
    open_tokenizer,
    spec_for_kind,
    train_tokenizer_or_refusal,
)
from playground.core.tokenizer_sweep import vocab_size_sweep
from playground.engine.jobs import Job, JobSlot
from playground.engine.session import Session
from playground.paths import user_data_dir
from playground.ui.saved_tokenizers import (
    autosave_tokenizer,
    remember_current,
    reopen_saved_tokenizers,
)
from playground.ui.themes import themed_style, themed_text
from playground.ui.widgets.controls_column import ControlsColumn
from playground.ui.widgets.corpus_box import CorpusBox
from playground.ui.widgets.kind_note import KindNote
from playground.ui.widgets.start_here import StartHereCard
from playground.ui.widgets.token_view import TokenView
from playground.ui.widgets.tokenizer_compare import TokenizerCompare
from playground.ui.widgets.vocab_browser import VocabBrowser

SAMPLE_TEXT = (
    "Tokenizers split text into pieces called tokens. Common words become one token; "
    "rare ones, like antidisestablishmentarianism, break into several.\n"
    'def greet(name):\n    return f"Hello, {name}!"  # code, too\n'
    "Numbers: 2026 and 3.14159. Accents: café, naïve. Emoji: 🙂🚀"
)


class TokenizerPanel(QWidget):
    """Corpus and training controls on the left; live tokens, comparison and vocabulary on the right."""

    title = "Tokenize"
    concept = (
        "<b>Tokens</b><br>A model never sees letters: text is cut into <i>tokens</i>, and each token "
        "becomes a number.<br><br>Common words get one token; rare words are built from "
        "<i>subword</i> pieces, so any text can be written with a fixed vocabulary.<br><br>"
        "Train a tokenizer, then type: watch where the cuts fall."
    )
    busy_changed = Signal(bool)

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        # One slot per kind of work: a new corpus supersedes the one being read.
        self.corpus_slot = JobSlot(self)
        self.train_slot = JobSlot(self)
        self.sweep_slot = JobSlot(self)
        self._refused: Optional[SpecialTokensInText] = None  # of the last training, asked about once it ended
        self._build()
        self.corpus_slot.changed.connect(lambda: self.corpus_box.set_reading(self.corpus_slot.busy))
        self.train_slot.changed.connect(self._training_changed)
        session.corpus_changed.connect(self.corpus_box.show_corpus)
        session.corpus_stats_changed.connect(self.corpus_box.show_stats)
        session.corpus_stats_changed.connect(lambda _: self._check_spec())
        session.tokenizers_changed.connect(self._tokenizers_changed)
        session.tokenizer_changed.connect(self._tokenizer_changed)

    @property
    def corpus_job(self) -> Optional[Job]:
        return self.corpus_slot.job

    @property
    def train_job(self) -> Optional[Job]:
        return self.train_slot.job

    @property
    def sweep_job(self) -> Optional[Job]:
        return self.sweep_slot.job

    def advanced_widgets(self) -> list[QWidget]:
        """Controls presentation mode hides: the defaults serve a first look."""
        return [self.min_freq, self.specials, self.lowercase]

    # ================================================================== layout

    def _build(self) -> None:
        controls = QWidget()
        cl = QVBoxLayout(controls)
        self.corpus_box = CorpusBox()
        self.corpus_box.corpus_wanted.connect(self.load_corpus)
        self.corpus_box.cancel_requested.connect(self.corpus_slot.cancel)
        self.corpus_buttons = self.corpus_box.buttons
        cl.addWidget(self.corpus_box)
        cl.addWidget(self._train_box())
        cl.addWidget(self._tokenizer_box())
        cl.addStretch(1)
        scroll = ControlsColumn(controls, maximum_width=430)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._live_tab(), "Live tokens")
        self.compare = TokenizerCompare()
        self.compare.sweep_requested.connect(self.start_sweep)
        self.compare.sweep_cancel_requested.connect(self.sweep_slot.cancel)
        self.tabs.addTab(self.compare, "Compare")
        self.vocab = VocabBrowser()
        self.tabs.addTab(self.vocab, "Vocabulary")
        self.tabs.currentChanged.connect(lambda _: self._push_text_to_compare())

        # The Start here card (a fresh profile's first sight) above the step, until dismissed.
        self.start_here = StartHereCard(self.session)
        self.start_here.build_wanted.connect(lambda: self.train_button.setFocus())
        layout = QHBoxLayout()
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        layout.addWidget(self.tabs, 1)
        outer = QVBoxLayout(self)
        outer.addWidget(self.start_here)
        outer.addLayout(layout, 1)

        QShortcut(QKeySequence("Ctrl+Return"), self).activated.connect(self.start_training)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self.cancel_all)

    def _train_box(self) -> QGroupBox:
        box = QGroupBox("2 · Train a tokenizer")
        self.kind = QComboBox()
        for key, kind in KINDS.items():
            self.kind.addItem(kind.label, key)
            self.kind.setItemData(self.kind.count() - 1, kind.description, Qt.ItemDataRole.ToolTipRole)
        self.kind.setToolTip("The algorithm that decides how text is cut into tokens. Hover an entry to learn more.")
        self.vocab_size = QSpinBox()
        self.vocab_size.setRange(1, 1_000_000)
        self.vocab_size.setSingleStep(500)
        self.vocab_size.setGroupSeparatorShown(True)
        self.vocab_size.setValue(KINDS["bpe"].default_vocab_size)  # the tooltip is the kind's (_kind_changed)
        self.min_freq = QSpinBox()
        self.min_freq.setRange(1, 10_000)
        self.min_freq.setValue(2)
        self.min_freq.setToolTip("A pair or word must occur at least this often to earn its own token.")
        self.specials = QLineEdit()
        self.specials.setToolTip(
            "Tokens that are never split, separated by commas: e.g. an end-of-text marker "
            "the model learns to predict when a document ends."
        )
        self.lowercase = QCheckBox("Lower-case everything first")
        self.lowercase.setToolTip("Treat 'The' and 'the' as the same text: a smaller vocabulary, but case is lost.")
        self.spec_problem = QLabel()
        self.spec_problem.setWordWrap(True)
        themed_style(self.spec_problem, "color: {error};")
        self.spec_problem.hide()
        self.train_button = QPushButton("Train tokenizer")
        self.train_button.setToolTip("Train on the corpus above (Ctrl+Enter).")
        self.train_button.setDefault(True)
        self.train_button.clicked.connect(self.start_training)
        self.train_cancel = QPushButton("Cancel")
        self.train_cancel.setToolTip("Stop training now (Esc).")
        self.train_cancel.setEnabled(False)
        self.train_cancel.clicked.connect(self.train_slot.cancel)
        self.train_progress = QProgressBar()
        self.train_progress.setRange(0, 1000)
        self.train_progress.setValue(0)
        self.train_progress.setTextVisible(True)
        self.train_progress.setFormat("")
        self.train_status = QLabel()
        self.train_status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Kind", self.kind)
        self.kind_note = KindNote()  # warns before a long (Unigram) training
        form.addRow("", self.kind_note)
        form.addRow("Vocab size", self.vocab_size)
        form.addRow("Min frequency", self.min_freq)
        form.addRow("Special tokens", self.specials)
        form.addRow("", self.lowercase)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 1)
        buttons.addWidget(self.train_cancel)
        layout = QVBoxLayout(box)
        layout.addLayout(form)
        layout.addWidget(self.spec_problem)
        layout.addLayout(buttons)
        layout.addWidget(self.train_progress)
        layout.addWidget(self.train_status)

        self.kind.currentIndexChanged.connect(self._kind_changed)
        for signal in (
            self.vocab_size.valueChanged,
            self.min_freq.valueChanged,
            self.specials.textChanged,
            self.lowercase.toggled,
        ):
            signal.connect(self._check_spec)
        self._kind_changed()
        return box

    def _tokenizer_box(self) -> QGroupBox:
        box = QGroupBox("3 · Your tokenizers")
        self.current = QComboBox()
        self.current.setToolTip("The tokenizer used for live tokens, the vocabulary and the rest of the app.")
        self.current.currentIndexChanged.connect(self._current_chosen)
        self.current.setPlaceholderText("none yet")
        open_button = QPushButton("Open tokenizer.json…")
        open_button.setToolTip("Open a tokenizer made here or elsewhere (a BERT or GPT-2 tokenizer.json). Ctrl+Shift+O")
        open_button.clicked.connect(self._choose_tokenizer_file)
        self.save_button = QPushButton("Save as…")
        self.save_button.setToolTip("Save the current tokenizer as tokenizer.json (Ctrl+S).")
        self.save_button.clicked.connect(self._choose_save_file)
        self.save_button.setEnabled(False)
        QShortcut(QKeySequence("Ctrl+Shift+O"), self).activated.connect(self._choose_tokenizer_file)
        QShortcut(QKeySequence.StandardKey.Save, self).activated.connect(self._choose_save_file)
        row = QHBoxLayout()
        row.addWidget(open_button)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(box)
        layout.addWidget(self.current)
        layout.addLayout(row)
        return box

    def _live_tab(self) -> QWidget:
        tab = QWidget()
        self.input = QPlainTextEdit(SAMPLE_TEXT)
        self.input.setToolTip("Type here: the text is split into tokens as you type.")
        self.input.setPlaceholderText("Type or paste text to tokenize…")
        self.token_view = TokenView()
        self.token_view.setPlaceholderText(
            "Train a tokenizer (left) or open a tokenizer.json to see this text split into tokens."
        )
        self.counts = QLabel()
        self.counts.setTextFormat(Qt.TextFormat.RichText)
        self.counts.setWordWrap(True)  # a long tokenizer name wraps rather than widen the panel
        self.whitespace = QCheckBox("Show whitespace")
        self.whitespace.setToolTip("Draw spaces as ·, tabs as → and line breaks as ↵ (Alt+W).")
        QShortcut(QKeySequence("Alt+W"), self).activated.connect(self.whitespace.toggle)
        self.whitespace.toggled.connect(self._whitespace_toggled)
        self.ids = QPlainTextEdit()
        self.ids.setReadOnly(True)
        self.ids.setMaximumHeight(90)
        self.ids.setToolTip("The token ids: the numbers the model actually receives.")
        self.ids.setStyleSheet("font-family: 'DejaVu Sans Mono', monospace;")
        self._retokenize_timer = QTimer(self, singleShot=True, interval=60)
        self._retokenize_timer.timeout.connect(self.retokenize)
        self.input.textChanged.connect(self._retokenize_timer.start)

        row = QHBoxLayout()
        row.addWidget(self.counts, 1)
        row.addWidget(self.whitespace)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.input)
        splitter.addWidget(self.token_view)
        splitter.setSizes([160, 300])
        layout = QVBoxLayout(tab)
        heading = QLabel("Text — type anything; hover a token to see its id and bytes")
        heading.setWordWrap(True)
        layout.addWidget(heading)
        layout.addWidget(splitter, 1)
        layout.addLayout(row)
        layout.addWidget(QLabel("Token ids — what the model sees"))
        layout.addWidget(self.ids)
        return tab

    # ================================================================== corpus

    def use_default_corpus(self) -> Job:
        return self.load_corpus(default_corpus)

    def load_corpus(self, make_corpus: Callable[[], Corpus]) -> Job:
        """Make and scan a corpus in the background; the old one stays until the new one is good."""
        job = Job(open_corpus, make_corpus, doing="reading the corpus")
        job.progress.connect(self.corpus_box.show_progress)
        job.result.connect(self._corpus_ready)
        job.error.connect(self.session.error)
        return self.corpus_slot.start(job)

    def _corpus_ready(self, value) -> None:
        corpus, stats = value
        self.session.set_corpus(corpus, stats)
        for w in stats.warnings:
            self.session.warn(w)

    # ================================================================== training

    def spec(self) -> TokenizerSpec:
        specials = tuple(s.strip() for s in self.specials.text().split(",") if s.strip())
        return TokenizerSpec(
            kind=self.kind.currentData(),
            vocab_size=self.vocab_size.value(),
            min_frequency=self.min_freq.value(),
            special_tokens=specials,
            lowercase=self.lowercase.isChecked(),
        )

    def _kind_changed(self) -> None:
        kind = KINDS[self.kind.currentData()]
        self.specials.setText(", ".join(spec_for_kind(kind.key).special_tokens))
        self.vocab_size.setValue(kind.default_vocab_size)
        self.min_freq.setEnabled(kind.uses_min_frequency)
        self.vocab_size.setToolTip(kind.vocab_size_tip)
        self._check_spec()

    def _check_spec(self) -> bool:
        self.kind_note.show_for(self.kind.currentData(), self.session.corpus_stats)
        try:
            check_spec(self.spec(), self.session.corpus_stats)
        except UserError as e:
            self.spec_problem.setText(str(e))
            self.spec_problem.show()
            self.train_button.setEnabled(False)
            return False
        self.spec_problem.hide()
        self.train_button.setEnabled(self.train_job is None)
        return True

    def start_training(self, allow_special_in_text: bool = False) -> Optional[Job]:
        if self.train_job is not None or not self._check_spec():
            return None
        corpus, stats = self.session.corpus, self.session.corpus_stats
        if corpus is None or stats is None:
            self.session.error("The corpus is still being read; train when it is ready.")
            return None
        spec = self.spec()
        started = time.monotonic()
        job = Job(
            train_tokenizer_or_refusal, corpus, spec, stats, allow_special_in_text, doing="training the tokenizer"
        )
        job.progress.connect(self._train_progress)
        job.result.connect(lambda tok: self._trained(tok, time.monotonic() - started, corpus.name))
        job.error.connect(self.session.error)
        job.error.connect(lambda _: self.train_status.setText("Training failed; see the message above."))
        job.cancelled.connect(lambda: self.train_status.setText("Training cancelled. Nothing was changed."))
        self.train_progress.setRange(0, 1000)
        self.train_progress.setValue(0)
        self.train_status.setText(f"Training {spec.label} on {corpus.name}…")
        return self.train_slot.start(job)

    def _train_progress(self, p: Progress) -> None:
        if p.fraction is None:
            self.train_progress.setRange(0, 0)  # busy: the library does not say how far it is
        else:
            self.train_progress.setRange(0, 1000)
            self.train_progress.setValue(int(p.fraction * 1000))
        self.train_progress.setFormat(p.message)

    def _trained(self, tok, seconds: float, corpus_name: str) -> None:
        if isinstance(tok, SpecialTokensInText):
            self.train_status.setText("Not trained: a special token occurs in the corpus as text.")
            self._refused = tok  # asked once the job has ended (_training_changed)
            return
        tok.name = f"{tok.spec.short_label} · {corpus_name}"
        self.session.add_tokenizer(tok)
        saved = autosave_tokenizer(tok)
        self.train_status.setText(
            f"Trained {tok.vocab_size:,} tokens in {seconds:.1f} s." + (f" Kept in {saved.parent}." if saved else "")
        )

    def _training_changed(self) -> None:
        busy = self.train_slot.busy
        self.train_cancel.setEnabled(busy)
        self.busy_changed.emit(busy)
        self._check_spec()
        if busy:
            return
        self.train_progress.setRange(0, 1000)
        self.train_progress.setValue(0)
        self.train_progress.setFormat("")
        if self._refused is not None:
            # Asked after the job's end has been delivered: a dialog inside it would run its own event loop there.
            QTimer.singleShot(0, self, self._ask_to_train_anyway)

    def _ask_to_train_anyway(self) -> None:
        refused, self._refused = self._refused, None
        if refused is not None and self.confirm_special_in_text(str(refused)):
            self.start_training(allow_special_in_text=True)

    def confirm_special_in_text(self, message: str) -> bool:
        """Ask whether to train anyway with special tokens that occur in the corpus."""
        answer = QMessageBox.question(
            self,
            "Special tokens found in the corpus",
            f"{message}\n\nTrain anyway? Only if the corpus holds these tokens on purpose, as markers.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def cancel_all(self) -> None:
        for slot in (self.train_slot, self.corpus_slot, self.sweep_slot):
            slot.cancel()

    # ================================================================== sweep

    def start_sweep(self) -> Optional[Job]:
        corpus = self.session.corpus
        if corpus is None or self.sweep_job is not None:
            return None
        job = Job(vocab_size_sweep, corpus, self.compare.sizes, doing="measuring characters per token")
        job.progress.connect(lambda p: self.compare.sweep_progress_update(p.fraction, p.message))
        job.partial.connect(lambda point: self.compare.add_point(point.vocab_size, point.chars_per_token))
        job.error.connect(self.session.error)
        job.result.connect(lambda _: self.compare.sweep_finished("Done."))
        job.cancelled.connect(lambda: self.compare.sweep_finished("Cancelled."))
        job.error.connect(lambda _: self.compare.sweep_finished("Failed."))
        self.compare.sweep_started()
        return self.sweep_slot.start(job)

    # ================================================================== tokenizers

    def _tokenizers_changed(self) -> None:
        self.current.blockSignals(True)
        self.current.clear()
        for tok in self.session.tokenizers:
            self.current.addItem(tok.name)
        if self.session.tokenizer in self.session.tokenizers:
            self.current.setCurrentIndex(self.session.tokenizers.index(self.session.tokenizer))
        self.current.blockSignals(False)
        self.compare.set_tokenizers(self.session.tokenizers)

    def _current_chosen(self, index: int) -> None:
        if 0 <= index < len(self.session.tokenizers):
            self.session.set_tokenizer(self.session.tokenizers[index])

    def _tokenizer_changed(self, tok: Optional[LoadedTokenizer]) -> None:
        if tok in self.session.tokenizers:
            self.current.blockSignals(True)
            self.current.setCurrentIndex(self.session.tokenizers.index(tok))
            self.current.blockSignals(False)
        self.save_button.setEnabled(tok is not None)
        remember_current(tok)
        self.vocab.set_tokenizer(tok)
        self.retokenize()

    def restore_saved_tokenizers(self) -> None:
        """Reopen the tokenizers trained in earlier sessions; the one current when the app closed is current again."""
        said = reopen_saved_tokenizers(self.session)
        if said:
            self.session.info(said)

    def _choose_tokenizer_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a tokenizer", str(user_data_dir()), "Tokenizer (*.json);;All files (*)"
        )
        if path:
            self.open_tokenizer_file(Path(path))

    def open_tokenizer_file(self, path: Path) -> Optional[LoadedTokenizer]:
        try:
            tok = open_tokenizer(path)
        except UserError as e:
            self.session.error(str(e))
            return None
        self.session.add_tokenizer(tok)
        off = (
            f" Its {' and '.join(tok.turned_off)} are turned off: the app cuts text to the model's context itself."
            if tok.turned_off
            else ""
        )
        self.session.info(f"Opened {tok.name}: {tok.kind_label}, {tok.vocab_size:,} tokens.{off}")
        return tok

    def _choose_save_file(self) -> None:
        tok = self.session.tokenizer
        if tok is None:
            return
        start = tok.path or user_data_dir() / "tokenizer.json"
        path, _ = QFileDialog.getSaveFileName(self, "Save tokenizer", str(start), "Tokenizer (*.json)")
        if path:
            self.save_tokenizer_file(Path(path))

    def save_tokenizer_file(self, path: Path) -> bool:
        """Save the current tokenizer; the file dialog has asked before replacing a file."""
        tok = self.session.tokenizer
        if tok is None:
            return False
        corpus = self.session.corpus
        try:
            path = check_output_path(path, corpus.files if corpus is not None else (), overwrite=True)
            tok.save(path)
        except UserError as e:
            self.session.error(str(e))
            return False
        self.session.info(f"Saved {tok.name} to {path}.")
        return True

    # ================================================================== live tokens

    def retokenize(self) -> None:
        tok = self.session.tokenizer
        text = self.input.toPlainText()
        if tok is None:
            self.token_view.set_tokens("", [])
            self.token_view.setPlaceholderText("Train or open a tokenizer to see this text split into tokens.")
            self.counts.setText("")
            self.ids.setPlainText("")
            return
        try:
            pieces = tok.encode(text)
        except Exception as e:  # a tokenizer from elsewhere may refuse some text
            self.session.error(f"{tok.name} could not tokenize this text: {e}.")
            return
        self.token_view.set_tokens(text, pieces)
        per = len(text) / len(pieces) if pieces else 0.0
        unknown = sum(p.unknown for p in pieces)
        lost = " &nbsp;·&nbsp; <b style='color:{error}'>{unknown} unknown</b>" if unknown else ""
        themed_text(
            self.counts,
            "<b>{n}</b> tokens &nbsp;·&nbsp; <b>{chars}</b> characters"
            " &nbsp;·&nbsp; <b>{per}</b> characters per token"
            + lost
            + " &nbsp;·&nbsp; <span style='color:{muted}'>{name}</span>",
            n=f"{len(pieces):,}",
            chars=f"{len(text):,}",
            per=f"{per:.2f}",
            unknown=f"{unknown:,}",
            name=tok.name,
        )
        self.ids.setPlainText(", ".join(str(p.id) for p in pieces))
        self._push_text_to_compare()

    def _whitespace_toggled(self, on: bool) -> None:
        self.token_view.set_show_whitespace(on)
        self._push_text_to_compare()

    def _push_text_to_compare(self) -> None:
        self.compare.set_text(self.input.toPlainText(), self.whitespace.isChecked())

    # ================================================================== workspace

    def state(self) -> dict:
        """The controls' settings, for a workspace (the corpus and tokenizers are the session's)."""
        return {
            "kind": self.kind.currentData(),
            "vocab_size": self.vocab_size.value(),
            "min_frequency": self.min_freq.value(),
            "special_tokens": self.specials.text(),
            "lowercase": self.lowercase.isChecked(),
            "text": self.input.toPlainText(),
            "show_whitespace": self.whitespace.isChecked(),
            "tab": self.tabs.currentIndex(),
        }

    def restore_state(self, state: dict) -> None:
        """Set the controls from a `state()` dict; a missing or wrong value leaves its control as it is."""

        def get(key, kind):
            value = state.get(key)
            return value if isinstance(value, kind) and not (kind is int and isinstance(value, bool)) else None

        index = self.kind.findData(get("kind", str))
        if index >= 0:
            self.kind.setCurrentIndex(index)  # first: choosing a kind resets its size and special tokens
        for key, spin in (("vocab_size", self.vocab_size), ("min_frequency", self.min_freq)):
            if get(key, int) is not None:
                spin.setValue(get(key, int))
        if get("special_tokens", str) is not None:
            self.specials.setText(get("special_tokens", str))
        if get("lowercase", bool) is not None:
            self.lowercase.setChecked(get("lowercase", bool))
        if get("text", str) is not None and get("text", str) != self.input.toPlainText():
            self.input.setPlainText(get("text", str))
        if get("show_whitespace", bool) is not None:
            self.whitespace.setChecked(get("show_whitespace", bool))
        if get("tab", int) is not None and 0 <= get("tab", int) < self.tabs.count():
            self.tabs.setCurrentIndex(get("tab", int))
