"""The Tokenizer Lab's corpus box: which text the tokenizer learns from, how big it is, and how to choose another."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from playground.core.corpus import Corpus, CorpusStats, corpus_from_paths, corpus_from_text, default_corpus
from playground.core.progress import Progress
from playground.core.units import human_bytes
from playground.ui.themes import themed_style


class PasteDialog(QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Paste a corpus")
        self.resize(640, 420)
        self.edit = QPlainTextEdit()
        self.edit.setPlaceholderText("Paste or type the text to learn from…")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Use this text")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("The tokenizer will learn from exactly this text."))
        layout.addWidget(self.edit, 1)
        layout.addWidget(buttons)


class CorpusBox(QGroupBox):
    """Shows the session's corpus and its stats; asks for another through ``corpus_wanted``.

    The box reads nothing itself: it emits a function that makes the chosen
    corpus, and the panel runs it in a job (finding a folder's text files reads the disk).
    """

    corpus_wanted = Signal(object)  # a function that returns the chosen Corpus
    cancel_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__("1 · Corpus: the text to learn from", parent)
        self.name = QLabel()
        self.name.setWordWrap(True)
        self.stats = QLabel("Reading…")
        self.stats.setTextFormat(Qt.TextFormat.RichText)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        themed_style(self.warning, "color: {warning};")
        self.warning.hide()
        b_default = QPushButton("Built-in")
        b_default.setToolTip("Python's own documentation text (2 MB of English prose), shipped with the app.")
        b_default.clicked.connect(lambda: self.corpus_wanted.emit(default_corpus))
        b_files = QPushButton("Open files…")
        b_files.setToolTip("Learn from one or more text files (.txt, .md, .py, …). Ctrl+O")
        b_files.clicked.connect(self.choose_files)
        b_folder = QPushButton("Open folder…")
        b_folder.setToolTip("Learn from every text file in a folder and its subfolders.")
        b_folder.clicked.connect(self.choose_folder)
        b_paste = QPushButton("Paste text…")
        b_paste.setToolTip("Type or paste a corpus by hand.")
        b_paste.clicked.connect(self.paste_text)
        QShortcut(QKeySequence.StandardKey.Open, self).activated.connect(self.choose_files)
        self.buttons = [b_default, b_files, b_folder, b_paste]
        self.progress = QProgressBar()
        self.progress.hide()
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop reading this corpus; the previous one stays.")
        self.cancel.hide()
        self.cancel.clicked.connect(self.cancel_requested)
        row1 = QHBoxLayout()
        row1.addWidget(b_default)
        row1.addWidget(b_files)
        row2 = QHBoxLayout()
        row2.addWidget(b_folder)
        row2.addWidget(b_paste)
        prog = QHBoxLayout()
        prog.addWidget(self.progress, 1)
        prog.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.name)
        layout.addWidget(self.stats)
        layout.addWidget(self.warning)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addLayout(prog)

    # ------------------------------------------------------------------ choosing

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Open text files",
            str(Path.home()),
            "Text files (*.txt *.md *.rst *.py *.csv *.json *.html *.gz);;All files (*)",
        )
        if paths:
            self.corpus_wanted.emit(partial(corpus_from_paths, paths))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of text files", str(Path.home()))
        if folder:
            self.corpus_wanted.emit(partial(corpus_from_paths, [folder]))

    def paste_text(self) -> None:
        dialog = PasteDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.corpus_wanted.emit(partial(corpus_from_text, dialog.edit.toPlainText()))

    # ------------------------------------------------------------------ showing

    def set_reading(self, reading: bool) -> None:
        """While a corpus is read: the choices wait, a busy bar and Cancel show."""
        for b in self.buttons:
            b.setEnabled(not reading)
        if reading:
            self.progress.setRange(0, 0)
        self.progress.setVisible(reading)
        self.cancel.setVisible(reading)

    def show_progress(self, p: Progress) -> None:
        if p.fraction is not None:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(p.fraction * 1000))
        self.progress.setFormat(p.message)
        self.progress.setTextVisible(True)

    def show_corpus(self, corpus: Corpus) -> None:
        self.name.setText(f"<b>{corpus.name}</b>")
        self.name.setToolTip("\n".join(str(p) for p in corpus.files[:20]) or "Pasted text")

    def show_stats(self, stats: CorpusStats | None) -> None:
        if stats is None:
            self.stats.setText("Reading…")
            return
        self.stats.setText(
            "<table cellspacing=2>"
            f"<tr><td>Size</td><td align=right><b>{human_bytes(stats.size_bytes)}</b></td></tr>"
            f"<tr><td>Characters&nbsp;&nbsp;</td><td align=right><b>{stats.characters:,}</b></td></tr>"
            f"<tr><td>Lines</td><td align=right><b>{stats.lines:,}</b></td></tr>"
            "<tr><td>Distinct characters&nbsp;&nbsp;</td>"
            f"<td align=right><b>{stats.distinct_characters:,}</b></td></tr>"
            "</table>"
        )
        sample = "".join(c for c in stats.alphabet if not c.isspace())[:120]
        self.stats.setToolTip(f"Distinct characters: {sample}{'…' if len(stats.alphabet) > 120 else ''}")
        self.warning.setVisible(bool(stats.warnings))
        self.warning.setText("\n".join(stats.warnings))
