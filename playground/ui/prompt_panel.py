"""The Prompt step: build a prompt from an instruction, worked examples and a query, and see what the model reads.

Templates, modes and rendering live in `core.prompts`; this panel edits a
template, shows the rendered prompt with its parts coloured, counts its tokens
against the model's context (and shows what a too-long prompt loses), and hands
the template to the Generate step. For an encoder-decoder (T5) the whole rendered
text is the encoder's input: it is counted with </s> against the context, with no
room kept for the answer (the decoder writes it apart), and a long one loses its end
(`_count_input`). The preview box, the examples table and the
Formats tab are widgets of their own (`ui/widgets/prompt_preview.py`,
`examples_editor.py`, `template_formats.py`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.core.progress import UserError
from playground.core.prompts import (
    MODE_HELP,
    MODE_LABELS,
    MODES,
    Example,
    PromptFit,
    PromptTemplate,
    RenderedPrompt,
    builtin_templates,
    fit_prompt,
    generation_reserve,
    load_template,
    prompt_token_starts,
    save_template,
)
from playground.engine.session import Session
from playground.paths import user_data_dir
from playground.ui.themes import themed_style, themed_text
from playground.ui.widgets.controls_column import ControlsColumn
from playground.ui.widgets.examples_editor import ExamplesEditor, examples_used
from playground.ui.widgets.prompt_box import reads_input
from playground.ui.widgets.prompt_preview import PreviewBox
from playground.ui.widgets.template_formats import FormatsEditor

DEFAULT_TEMPLATE = "Python phrases"  # the template shown first: the one that suits the shipped demo model


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-").lower() or "template"


class PromptPanel(QWidget):
    """Template, mode and parts on the left; examples and the live prompt with its token count on the right."""

    title = "Prompt"
    DECODER_CONCEPT = (
        "<b>Prompting</b><br>A language model only continues text. To pose a task, write the start of "
        "a document whose natural continuation is the answer.<br><br><i>Zero-shot</i> gives only the "
        "request; <i>one-shot</i> and <i>few-shot</i> first show worked examples, so the model can copy "
        "the pattern: the format, the labels, how long an answer is. <i>Chain-of-thought</i> examples "
        "show their steps too.<br><br>Examples cost context: watch the token count."
    )
    SEQ2SEQ_CONCEPT = (
        "<b>Prompting an encoder-decoder</b><br>A T5-style model reads an <i>input</i> and writes an "
        "<i>output</i> apart from it. The whole prompt, examples and query together, is the input: its "
        "encoder reads it at once, and its decoder writes the answer from its own start token.<br><br>"
        "<i>Zero-shot</i>, <i>one-shot</i> and <i>few-shot</i> work as for a decoder, though a small "
        "model trained on one task mostly answers that task: the examples help less than its training."
    )

    @property
    def concept(self) -> str:
        """The sidebar's explanation: of prompting a decoder, or an encoder-decoder."""
        return self.SEQ2SEQ_CONCEPT if reads_input(self.session.checkpoint) else self.DECODER_CONCEPT

    DEBOUNCE_MS = 100

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.rendered: Optional[RenderedPrompt] = None
        self.fit: Optional[PromptFit] = None
        self.n_tokens: Optional[int] = None
        self.prompt_window: Optional[int] = None  # tokens the model reads for a prompt (None: unknown)
        self.problem = ""  # why the template does not render, or ""
        self._originals: dict[str, PromptTemplate] = {}  # combo key -> the template as loaded
        self._edited: dict[str, PromptTemplate] = {}  # combo key -> the person's edited copy
        self._key: Optional[str] = None
        self._description = ""
        self._loading = False
        self._refresh_timer = QTimer(self, singleShot=True, interval=self.DEBOUNCE_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._build()
        self._load_builtins()
        session.checkpoint_changed.connect(lambda _: self.schedule_refresh())
        session.tokenizer_changed.connect(lambda _: self.schedule_refresh())
        self.refresh()

    def advanced_widgets(self) -> list[QWidget]:
        """Controls presentation mode hides: the Formats tab (the built-in templates' formats serve)."""
        return [self.formats_page]

    # ================================================================== layout

    def _build(self) -> None:
        controls = QWidget()
        cl = QVBoxLayout(controls)
        cl.addWidget(self._template_box())
        cl.addWidget(self._mode_box())
        cl.addWidget(self._instruction_box())
        cl.addWidget(self._query_box())
        cl.addStretch(1)
        scroll = ControlsColumn(controls, maximum_width=400)

        self.tabs = QTabWidget()
        self.examples_editor = ExamplesEditor()
        self.examples_editor.edited.connect(self._edited_somewhere)
        self.examples_table = self.examples_editor.table
        self.formats = FormatsEditor()
        self.formats.edited.connect(self._edited_somewhere)
        self.format_edits = self.formats.format_edits
        self.tabs.addTab(self.examples_editor, "Examples")
        # The formats scroll in their tab: six rows of big type must not make the whole step taller.
        self.formats_page = QScrollArea()
        self.formats_page.setWidget(self.formats)
        self.formats_page.setWidgetResizable(True)
        self.formats_page.setFrameShape(QFrame.Shape.NoFrame)
        self.formats_page.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tabs.addTab(self.formats_page, "Formats")
        self.tabs.setTabToolTip(
            0, "The worked examples: an input, the output to copy, and the reasoning chain-of-thought shows."
        )
        self.tabs.setTabToolTip(1, "How the examples and the query are written out, and what separates them.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tabs)
        self.preview_box = PreviewBox()
        self.preview_box.send_button.clicked.connect(self.send)
        box = self.preview_box
        self.preview, self.usage_bar, self.send_button = box.preview, box.usage_bar, box.send_button
        self.token_count_label, self.warning_label, self.problem_label = (
            box.token_count_label,
            box.warning_label,
            box.problem_label,
        )
        splitter.addWidget(self.preview_box)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([300, 460])
        splitter.setChildrenCollapsible(False)

        layout = QHBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(splitter, 1)

        QShortcut(QKeySequence.StandardKey.Open, self).activated.connect(self._choose_file)
        QShortcut(QKeySequence.StandardKey.Save, self).activated.connect(self._choose_save_file)
        QShortcut(QKeySequence("Ctrl+Return"), self).activated.connect(self.send)
        QShortcut(QKeySequence("Ctrl+Enter"), self).activated.connect(self.send)
        QShortcut(QKeySequence("Ctrl+Shift+N"), self).activated.connect(lambda: self.add_example())
        QShortcut(QKeySequence("Ctrl+Shift+Delete"), self).activated.connect(lambda: self.remove_example())

    def _template_box(self) -> QGroupBox:
        box = QGroupBox("1 · Template")
        self.template_combo = QComboBox()
        self.template_combo.setToolTip(
            "A ready-made task to start from, or a template file you opened. "
            "Your edits to each are kept while you switch between them."
        )
        self.template_combo.currentIndexChanged.connect(self._template_chosen)
        self.name_edit = QLineEdit()
        self.name_edit.setToolTip("The template's name, saved with it.")
        self.name_edit.textChanged.connect(self._edited_somewhere)
        self.description_label = QLabel()
        self.description_label.setWordWrap(True)
        themed_style(self.description_label, "color: {muted};")
        self.description_label.setToolTip("What this template is for.")
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open a prompt template saved as .toml or .json (Ctrl+O).")
        self.open_button.clicked.connect(self._choose_file)
        self.save_button = QPushButton("Save as…")
        self.save_button.setToolTip("Save this template, with your edits, as .toml or .json (Ctrl+S).")
        self.save_button.clicked.connect(self._choose_save_file)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Undo every edit to this template: back to how it was loaded.")
        self.revert_button.clicked.connect(self.revert)
        self.revert_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.save_button)
        row.addWidget(self.revert_button)
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        layout = QVBoxLayout(box)
        layout.addWidget(self.template_combo)
        layout.addWidget(self.description_label)
        layout.addLayout(form)
        layout.addLayout(row)
        return box

    def _mode_box(self) -> QGroupBox:
        box = QGroupBox("2 · Mode: how many examples")
        self.mode_combo = QComboBox()
        for mode in MODES:
            self.mode_combo.addItem(MODE_LABELS[mode], mode)
            self.mode_combo.setItemData(self.mode_combo.count() - 1, MODE_HELP[mode], Qt.ItemDataRole.ToolTipRole)
        self.mode_combo.setToolTip(
            "How the prompt is laid out: with no examples, one, or k of them "
            "(with their reasoning, for chain of thought). Hover an entry to learn more."
        )
        self.mode_combo.currentIndexChanged.connect(self._mode_changed)
        self.k_spin = QSpinBox()
        self.k_spin.setRange(0, 99)
        self.k_spin.setToolTip(
            "k: how many examples few-shot and chain of thought show (the first k enabled ones in the table)."
        )
        self.k_spin.valueChanged.connect(self._edited_somewhere)
        self.mode_help = QLabel()
        self.mode_help.setWordWrap(True)
        themed_style(self.mode_help, "color: {muted};")
        self.examples_used_label = QLabel()
        self.examples_used_label.setWordWrap(True)
        self.examples_used_label.setToolTip("The rows of the examples table this prompt shows.")
        form = QFormLayout()
        form.addRow("Mode", self.mode_combo)
        form.addRow("Examples (k)", self.k_spin)
        layout = QVBoxLayout(box)
        layout.addLayout(form)
        layout.addWidget(self.mode_help)
        layout.addWidget(self.examples_used_label)
        return box

    def _instruction_box(self) -> QGroupBox:
        box = QGroupBox("3 · Instruction")
        self.instruction_edit = QPlainTextEdit()
        self.instruction_edit.setPlaceholderText("What to do, in words (optional)…")
        self.instruction_edit.setToolTip(
            "Says what the task is. It comes first in every mode. Leave it empty to rely on the examples alone."
        )
        self.instruction_edit.setFixedHeight(88)
        self.instruction_edit.textChanged.connect(self._edited_somewhere)
        layout = QVBoxLayout(box)
        layout.addWidget(self.instruction_edit)
        return box

    def _query_box(self) -> QGroupBox:
        box = QGroupBox("4 · Query: what you ask")
        self.query_edit = QPlainTextEdit()
        self.query_edit.setPlaceholderText("The input you want an answer for…")
        self.query_edit.setToolTip(
            "The input you ask about. It comes last, written like the examples' "
            "inputs, and the model continues after it."
        )
        self.query_edit.setFixedHeight(88)
        self.query_edit.textChanged.connect(self._edited_somewhere)
        layout = QVBoxLayout(box)
        layout.addWidget(self.query_edit)
        return box

    # ================================================================== templates

    def _load_builtins(self) -> None:
        try:
            templates = builtin_templates()
        except UserError as e:
            self.session.error(f"A built-in prompt template could not be read: {e}")
            templates = []
        if not templates:
            templates = [PromptTemplate(name="Untitled", instruction="", examples=[Example("", "")])]
        self._loading = True
        for i, t in enumerate(templates):
            key = f"builtin:{i}"
            self._originals[key] = t
            self.template_combo.addItem(t.name, key)
            self.template_combo.setItemData(i, t.description, Qt.ItemDataRole.ToolTipRole)
        self._loading = False
        # Start on the template the shipped demo model can do (it learned Python's documentation).
        first = next((i for i, t in enumerate(templates) if t.name == DEFAULT_TEMPLATE), 0)
        self.template_combo.setCurrentIndex(first)
        self._template_chosen(first)

    def _template_chosen(self, index: int) -> None:
        if self._loading or index < 0:
            return
        self._stash_edits()
        key = self.template_combo.itemData(index)
        self._key = key
        template = self._edited.get(key) or self._originals[key]
        self._show_template(template.copy())

    def _stash_edits(self) -> None:
        """Keep the current template's edits in memory before another is shown."""
        if self._key is None or self._key not in self._originals:
            return
        current = self.template()
        if current == self._originals[self._key]:
            self._edited.pop(self._key, None)
        else:
            self._edited[self._key] = current
        self._update_edited_marks()

    def _update_edited_marks(self) -> None:
        for i in range(self.template_combo.count()):
            key = self.template_combo.itemData(i)
            name = self._originals[key].name
            if key.startswith("file:"):
                name = f"{name} ({Path(key[5:]).name})"
            edited = key in self._edited
            self.template_combo.setItemText(i, f"{name} (edited)" if edited else name)
        self.revert_button.setEnabled(self._key in self._edited)

    def _note_edits(self) -> None:
        """After any change: remember whether the current template differs from its original."""
        if self._key is None:
            return
        current = self.template()
        was = self._key in self._edited
        if current == self._originals[self._key]:
            self._edited.pop(self._key, None)
        else:
            self._edited[self._key] = current
        if was != (self._key in self._edited):
            self._update_edited_marks()

    def template(self) -> PromptTemplate:
        """The template as the controls now show it (a new object each call)."""
        return PromptTemplate(
            name=self.name_edit.text(),
            description=self._description,
            mode=self.mode_combo.currentData() or "few-shot",
            k=self.k_spin.value(),
            instruction=self.instruction_edit.toPlainText(),
            examples=self.examples_editor.examples(),
            input=self.query_edit.toPlainText(),
            **self.formats.values(),
        )

    def set_template(self, template: PromptTemplate) -> None:
        """Show ``template`` in the controls, as an edit of the current entry."""
        self._show_template(template.copy())
        self._note_edits()

    def _show_template(self, t: PromptTemplate) -> None:
        self._loading = True
        try:
            self.name_edit.setText(t.name)
            self._description = t.description
            self.description_label.setText(t.description)
            self.description_label.setVisible(bool(t.description))
            index = self.mode_combo.findData(t.mode)
            self.mode_combo.setCurrentIndex(index if index >= 0 else MODES.index("few-shot"))
            self.k_spin.setValue(t.k)
            self.instruction_edit.setPlainText(t.instruction)
            self.query_edit.setPlainText(t.input)
            self.formats.show_template(t)
            self.examples_editor.set_examples(t.examples)
        finally:
            self._loading = False
        self._mode_changed()
        self._update_edited_marks()
        self.refresh()

    def revert(self) -> None:
        """Drop the edits to the current template."""
        if self._key is None:
            return
        self._edited.pop(self._key, None)
        self._show_template(self._originals[self._key].copy())

    def open_template(self, path) -> bool:
        """Load a template file into the list and show it; a bad file is reported, nothing else changes."""
        path = Path(path)
        try:
            template = load_template(path)
        except UserError as e:
            self.session.error(str(e))
            return False
        key = f"file:{path.resolve()}"
        if key in self._originals and key in self._edited:
            answer = QMessageBox.question(
                self,
                "Reopen the template?",
                f"{path.name} is open already, with edits. Reopen it from the file and drop those edits?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.template_combo.setCurrentIndex(self.template_combo.findData(key))
                return False
        self._add_entry(key, template)
        return True

    def _add_entry(self, key: str, template: PromptTemplate) -> None:
        self._stash_edits()
        self._originals[key] = template
        self._edited.pop(key, None)
        index = self.template_combo.findData(key)
        self._loading = True
        if index < 0:
            self.template_combo.addItem(template.name, key)
            index = self.template_combo.count() - 1
        self.template_combo.setItemData(
            index, f"{template.description}\n{key[5:]}".strip(), Qt.ItemDataRole.ToolTipRole
        )
        self.template_combo.setCurrentIndex(index)
        self._loading = False
        self._key = key
        self._show_template(template.copy())

    def save_to(self, path) -> bool:
        """Save the current template; it then continues as that file's template."""
        path = Path(path)
        template = self.template()
        try:
            template.validate()
            save_template(template, path)
        except UserError as e:
            self.session.error(str(e))
            return False
        if self._key is not None and self._key.startswith("builtin:"):
            self._edited.pop(self._key, None)  # the edits live in the file now
        self._key = None
        self._add_entry(f"file:{path.resolve()}", template)
        self.session.info(f"Saved the template “{template.name}” to {path}.")
        return True

    def _choose_file(self) -> None:
        start = user_data_dir() / "prompts"
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a prompt template",
            str(start if start.exists() else Path.home()),
            "Prompt templates (*.toml *.json);;All files (*)",
        )
        if path:
            self.open_template(path)

    def _choose_save_file(self) -> None:
        folder = user_data_dir() / "prompts"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            folder = Path.home()
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Save the prompt template",
            str(folder / f"{_slug(self.name_edit.text())}.toml"),
            "TOML (*.toml);;JSON (*.json)",
        )
        if not path:
            return
        if Path(path).suffix.lower() not in (".toml", ".json"):
            path += ".json" if chosen.startswith("JSON") else ".toml"
        self.save_to(path)

    # ================================================================== examples

    def add_example(self, example: Optional[Example] = None, edit: bool = True) -> int:
        """Append an example (empty by default) and select it; returns its row."""
        return self.examples_editor.add_example(example, edit)

    def remove_example(self, row: Optional[int] = None) -> None:
        self.examples_editor.remove_example(row)

    def move_example(self, row: Optional[int] = None, delta: int = -1) -> None:
        self.examples_editor.move_example(row, delta)

    # ================================================================== live prompt

    def _edited_somewhere(self, *_) -> None:
        if self._loading:
            return
        self.examples_editor.update_buttons()
        self.schedule_refresh()

    def _mode_changed(self, *_) -> None:
        mode = self.mode_combo.currentData() or "few-shot"
        self.k_spin.setEnabled(mode in ("few-shot", "chain-of-thought"))
        self.mode_help.setText(MODE_HELP[mode])
        self._edited_somewhere()

    def schedule_refresh(self) -> None:
        self._refresh_timer.start()

    def _tokenizer_and_context(self):
        """The tokenizer that counts and the context length to count against (None when unknown)."""
        checkpoint = self.session.checkpoint
        if checkpoint is not None:
            return checkpoint.tokenizer, checkpoint.model_config.context_length, checkpoint
        return self.session.tokenizer, None, None

    def refresh(self) -> None:
        """Render the prompt now, count its tokens and say what the context cuts."""
        self._refresh_timer.stop()
        self._note_edits()
        template = self.template()
        try:
            rendered = template.render()
        except UserError as e:
            self.problem = str(e)
            self.rendered = self.fit = self.n_tokens = None
            self.problem_label.setText(self.problem)
            self.problem_label.show()
            self.preview.show_prompt(None)
            self.warning_label.hide()
            self.send_button.setEnabled(False)
            self.examples_used_label.setText("")
            return
        self.problem = ""
        self.problem_label.hide()
        self.send_button.setEnabled(True)
        self.rendered = rendered
        self.examples_editor.mark_used_rows(rendered.examples)
        self.examples_used_label.setText(examples_used(template, rendered))

        tokenizer, context, checkpoint = self._tokenizer_and_context()
        self.fit, self.n_tokens, self.prompt_window = None, None, None
        if tokenizer is None:
            self.token_count_label.setText(
                "No tokenizer yet: train one in the Tokenize step (or train a model) to count this prompt's tokens."
            )
            self.token_count_label.setToolTip("")
            self.usage_bar.hide()
        elif reads_input(checkpoint):
            self._count_input(rendered, checkpoint)
        else:
            reserve = generation_reserve(context) if context is not None else 0
            window = context - reserve if context is not None else None
            # A huge prompt is not tokenized whole: only as much of its end as the model reads.
            starts, exact = prompt_token_starts(tokenizer, rendered.text, window)
            self.n_tokens = len(starts)
            more = "" if exact else "More than "
            if window is None:  # no context to compare with
                self.token_count_label.setText(
                    f"{more}<b>{self.n_tokens:,}</b> tokens with the tokenizer “{tokenizer.name}”"
                    + ("" if exact else " (counted in its last part only)")
                    + ". There is no trained model yet, so no context length to compare with."
                )
                self.token_count_label.setToolTip("Train a model (or load the demo) to see whether the prompt fits.")
                self.usage_bar.hide()
            else:
                self.prompt_window = window
                self.fit = fit_prompt(rendered, starts, self.prompt_window, exact)
                themed_text(
                    self.token_count_label,
                    "{more}<b>{n}</b> tokens of the <b>{window}</b> the model reads for a prompt "
                    "<span style='color:{muted}'>(context {context}, {reserve} kept for the answer)</span>",
                    more=more,
                    n=f"{self.n_tokens:,}",
                    window=f"{self.prompt_window:,}",
                    context=f"{context:,}",
                    reserve=str(reserve),
                )
                self.token_count_label.setToolTip(
                    f"The model “{checkpoint.name}” reads at most {context:,} tokens at once: its context. "
                    f"{reserve} of them are kept free for the tokens it writes, so a prompt may use "
                    f"{self.prompt_window:,}. A longer prompt loses its beginning: only the last tokens are read."
                )
                self.usage_bar.setRange(0, max(1, self.prompt_window))
                self.usage_bar.setValue(min(self.n_tokens, self.prompt_window))
                role = "cat_3" if not self.fit.fits else "cat_1"  # orange when it does not fit
                themed_style(self.usage_bar, f"QProgressBar::chunk {{ background: {{{role}}}; }}")
                self.usage_bar.show()
        self.preview_box.name_reader(reads_input(checkpoint))
        if reads_input(checkpoint):
            return  # _count_input said what is cut: an input loses its end, which the preview does not strike
        cut = self.fit.cut_chars if self.fit is not None and not self.fit.fits else 0
        self.preview.show_prompt(rendered, cut)
        if self.fit is not None and not self.fit.fits:
            self.warning_label.setText("⚠ " + self.fit.message())
            self.warning_label.show()
        else:
            self.warning_label.hide()

    def _count_input(self, rendered: RenderedPrompt, checkpoint) -> None:
        """An encoder-decoder's input: the whole text, its tokens and </s> against the context."""
        from playground.core.seq2seq_generation import prepare_input

        context = checkpoint.model_config.context_length
        prepared = prepare_input(checkpoint.tokenizer, rendered.text, context)
        self.prompt_window = context - 1  # </s> takes one
        self.n_tokens = prepared.total_tokens - 1
        self.preview_box.show_input_count(prepared, context, checkpoint.name)
        self.preview.show_prompt(rendered, 0)

    def preview_text(self) -> str:
        """The exact text the model is given (what the preview shows)."""
        return self.rendered.text if self.rendered is not None else ""

    # ================================================================== hand on

    def send(self) -> None:
        """Hand a copy of the current template to the Generate step."""
        if self._refresh_timer.isActive():
            self.refresh()
        if self.problem:
            self.session.error(f"This prompt cannot be used yet: {self.problem}")
            return
        self.session.send_prompt(self.template())

    # ================================================================== workspace

    def state(self) -> dict:
        """The template as the controls show it, and the built-in entry it was chosen from (if any)."""
        key = self._key or ""
        builtin = self._originals[key].name if key.startswith("builtin:") and key in self._originals else None
        return {"builtin": builtin, "template": self.template().to_dict()}

    def restore_state(self, state: dict) -> None:
        """Show a `state()` dict's template: as an edit of its built-in entry when it has one, else as an
        entry of its own (`state["file"]`, the workspace's copy), else as an edit of the current entry."""
        from playground.core.workspace import template_from_dict

        template = state.get("template")
        if template is not None and not isinstance(template, PromptTemplate):
            try:
                template = template_from_dict(template, "The workspace's prompt template")
            except UserError as e:
                self.session.warn(str(e))
                template = None
        builtin = state.get("builtin")
        keys = [self.template_combo.itemData(i) for i in range(self.template_combo.count())]
        match = next((k for k in keys if k.startswith("builtin:") and self._originals[k].name == builtin), None)
        if builtin and match is not None:
            self.template_combo.setCurrentIndex(keys.index(match))
            if template is not None:
                self.set_template(template)
        elif template is not None and isinstance(state.get("file"), str):
            self._add_entry(f"file:{Path(state['file']).resolve()}", template)
        elif template is not None:
            self.set_template(template)
