"""The Evaluate panel's Tasks tab: a task's examples asked through a prompt template, in two modes, and scored.

Zero-shot against few-shot by default; BLEU, chrF, ROUGE and exact match side
by side, and the per-example table filled as the answers arrive. The asking
and scoring is `core.task_eval.ask_checkpoint`, run as a job; this tab only
chooses what to ask and shows what comes back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.core.progress import UserError
from playground.core.prompts import MODE_HELP, MODES
from playground.engine.jobs import Job, JobSlot
from playground.engine.session import Session
from playground.ui.themes import themed_text
from playground.ui.widgets.evaluate_parts import (
    AMBER_STYLE,
    RunBox,
    controls_column,
    note,
    show_progress,
)
from playground.ui.widgets.task_tables import TaskResultsPane, mode_label

DEFAULT_TASK = "Python phrases"  # the task chosen first: the one the shipped demo model can partly do

STRATEGIES = [
    ("greedy", "Greedy", "Always the most likely token: the same answers every run (the usual choice for scoring)."),
    (
        "sample",
        "Sample",
        "Draw tokens at random (temperature 0.8, seed 0, so a run can be repeated): varied "
        "answers, usually lower scores.",
    ),
    (
        "beam",
        "Beam search",
        "Follow 4 continuations at once and keep the most likely: slower, sometimes better on short answers.",
    ),
]
TEMPLATE_TIP = (
    "The prompt each example is asked through: its instruction, worked examples and the query the "
    "input goes into. The task's own template is the one made for it; a template you sent from the "
    "Prompt panel appears here too."
)


@dataclass
class TaskRun:
    """A task run through a template: the answers as they arrive, then the scored results."""

    task_key: str
    modes: list[str]
    caption: str
    rows: dict = field(default_factory=dict)  # (mode, index) -> TaskRow
    results: Optional[list] = None  # [TaskResult] once every answer is scored
    stopped: bool = False


ENCODER_NOTE = (
    "This model is an encoder: it writes nothing, so it answers by filling a [MASK] where the answer goes "
    "(the template's own, or one after its last words) with its top guess. One word only: these settings "
    "do not apply."
)


class TaskTab(QWidget):
    """Controls on the left (task, template, modes, decoding, Run); scores, prompt and answers on the right."""

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = JobSlot(self)
        self.slot.changed.connect(self.update_buttons)
        self.tasks: dict[str, Any] = {}  # key -> Task
        self.task_runs: dict[str, TaskRun] = {}  # key -> the latest run of that task
        self.shown_run: Optional[TaskRun] = None
        self.running: Optional[TaskRun] = None  # the run the job in the slot fills
        self._task_templates: dict[str, Any] = {}  # task key -> template_for(task)
        self._started = 0.0
        self._ready = False
        self._build()
        session.prompt_sent.connect(lambda _: self.refresh_templates())

    # ---------------------------------------------------------------- layout

    def _build(self) -> None:
        controls = QWidget()
        cl = QVBoxLayout(controls)
        cl.setContentsMargins(4, 4, 8, 4)

        box = QGroupBox("1 · Task")
        bl = QVBoxLayout(box)
        self.task_combo = QComboBox()
        self.task_combo.setToolTip(
            "A set of questions with reference answers. The built-in ones are tiny "
            "examples; open your own CSV (columns input, reference) or JSON Lines file."
        )
        self.task_combo.currentIndexChanged.connect(self._task_chosen)
        self.open_task_button = QPushButton("Open…")
        self.open_task_button.setToolTip(
            "Open a task file: CSV with the columns input and reference, or JSON "
            'Lines with one {"input": …, "reference": …} a line (Ctrl+O).'
        )
        self.open_task_button.clicked.connect(self.choose_task_file)
        row = QHBoxLayout()
        row.addWidget(self.task_combo, 1)
        row.addWidget(self.open_task_button)
        self.task_info = note()
        bl.addLayout(row)
        bl.addWidget(self.task_info)
        cl.addWidget(box)

        box = QGroupBox("2 · Prompt template")
        bl = QVBoxLayout(box)
        self.template_combo = QComboBox()
        self.template_combo.setToolTip(TEMPLATE_TIP)
        self.template_combo.currentIndexChanged.connect(self._template_chosen)
        self.template_note = note("", AMBER_STYLE)
        self.template_note.hide()
        bl.addWidget(self.template_combo)
        bl.addWidget(self.template_note)
        cl.addWidget(box)

        box = QGroupBox("3 · Modes to compare")
        form = QFormLayout(box)
        self.mode_combo = QComboBox()
        self.compare_combo = QComboBox()
        self._first_mode: str | None = None  # the "Mode" before its last change, for a swap
        self.compare_combo.addItem("(nothing: one mode)", "")
        self.compare_combo.setItemData(0, "Run the first mode only.", Qt.ItemDataRole.ToolTipRole)
        for combo in (self.mode_combo, self.compare_combo):
            for mode in MODES:
                combo.addItem(mode_label(mode), mode)
                combo.setItemData(combo.count() - 1, MODE_HELP.get(mode, ""), Qt.ItemDataRole.ToolTipRole)
        self.mode_combo.setCurrentIndex(self.mode_combo.findData("zero-shot"))
        self.compare_combo.setCurrentIndex(self.compare_combo.findData("few-shot"))
        self.mode_combo.setToolTip("How the prompt is laid out for the first set of answers. " + MODE_HELP["zero-shot"])
        self.compare_combo.setToolTip(
            "The mode to compare it with, on the same examples and settings. " + MODE_HELP["few-shot"]
        )
        for combo in (self.mode_combo, self.compare_combo):
            combo.currentIndexChanged.connect(self._modes_changed)
        self._keep_modes_apart(self.mode_combo.currentData())
        form.addRow("Mode", self.mode_combo)
        form.addRow("Compare with", self.compare_combo)
        cl.addWidget(box)

        box = QGroupBox("4 · Decoding")
        form = QFormLayout(box)
        self.strategy_combo = QComboBox()
        for i, (key, label, tip) in enumerate(STRATEGIES):
            self.strategy_combo.addItem(label, key)
            self.strategy_combo.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.strategy_combo.setToolTip("How each answer's tokens are chosen. " + STRATEGIES[0][2])
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 512)
        self.max_tokens.setValue(32)
        self.max_tokens.setToolTip(
            "The most tokens an answer may take. The model stops earlier at the end of "
            "the first line (the answer), and never writes more than the reference's "
            "length plus 8 tokens."
        )
        form.addRow("Strategy", self.strategy_combo)
        form.addRow("Max new tokens", self.max_tokens)
        self.encoder_note = note(ENCODER_NOTE)
        self.encoder_note.hide()
        form.addRow(self.encoder_note)
        cl.addWidget(box)

        box = RunBox(
            "5 · Run",
            "Run",
            "Ask the model every example in each mode and score the answers (Ctrl+Enter).",
            "Stop the run (Esc). Answers given so far stay in the table.",
        )
        self.run_button, self.cancel_button = box.start_button, box.cancel_button
        self.progress, self.status = box.progress, box.status
        self.run_button.clicked.connect(self.run_task)
        self.cancel_button.clicked.connect(self.cancel)
        cl.addWidget(box)
        cl.addStretch(1)

        pane = TaskResultsPane()
        self.task_caption, self.scores_table, self.prompt_preview = pane.caption, pane.scores, pane.preview
        self.preview_caption, self.examples_table, self.examples_caption = (
            pane.preview_caption,
            pane.answers,
            pane.answers_caption,
        )
        self.examples_table.itemSelectionChanged.connect(self._update_preview)
        layout = QHBoxLayout(self)
        layout.addWidget(controls_column(controls))
        layout.addWidget(pane, 1)

    def make_ready(self) -> None:
        """The tasks and templates, read once a model exists (the task module needs the scoring libraries)."""
        self._ready = True
        self._fill_tasks()
        self.refresh_templates()

    def on_checkpoint(self, checkpoint) -> None:
        encoder = checkpoint is not None and checkpoint.model_config.is_encoder
        self.encoder_note.setVisible(encoder)  # it fills a [MASK]: nothing to decode
        for control in (self.strategy_combo, self.max_tokens):
            control.setEnabled(not encoder)
        self._update_preview()  # token counts follow the current model's tokenizer
        self.update_buttons()

    # ---------------------------------------------------------------- what to ask

    def _fill_tasks(self) -> None:
        from playground.core.task_eval import builtin_tasks

        try:
            tasks = builtin_tasks()
        except UserError as e:
            self.session.error(f"The built-in tasks could not be read: {e}")
            tasks = []
        self.task_combo.blockSignals(True)
        for task in tasks:
            assert task.path is not None  # a built-in task is read from its file
            key = str(task.path)
            self.tasks[key] = task
            self.task_combo.addItem(task.name, key)
            self.task_combo.setItemData(
                self.task_combo.count() - 1,
                f"{len(task)} examples · built in ({task.path.name})",
                Qt.ItemDataRole.ToolTipRole,
            )
        # Start on the task the shipped demo model can do (it learned Python's documentation).
        self.task_combo.setCurrentIndex(max(0, self.task_combo.findText(DEFAULT_TASK)))
        self.task_combo.blockSignals(False)
        self._task_chosen()

    def choose_task_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a task file", "", "Task files (*.csv *.jsonl *.json *.ndjson);;All files (*)"
        )
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
        self.task_combo.setItemData(index, f"{len(task)} examples · {path}", Qt.ItemDataRole.ToolTipRole)
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
            from playground.core.task_eval import continuation_template, template_for

            try:
                self._task_templates[key] = template_for(self.tasks[key])
            except UserError as e:
                self.session.error(f"The template that goes with this task could not be read: {e}")
                self._task_templates[key] = continuation_template()
        return self._task_templates[key]

    def _task_chosen(self, *_: Any) -> None:
        task = self.current_task()
        if task is None:
            self.task_info.setText("No task chosen.")
            return
        self.task_info.setText(
            f"{len(task)} example{'s' if len(task) != 1 else ''}" + (f" · {task.path.name}" if task.path else "")
        )
        self.refresh_templates()
        self._show_run(self.task_runs.get(self.task_combo.currentData()))

    def refresh_templates(self) -> None:
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
            self.template_combo.setItemData(
                0, own.description or "The template made for this task.", Qt.ItemDataRole.ToolTipRole
            )
        if self.session.prompt is not None:
            self.template_combo.addItem(
                f"From the Prompt panel: {self.session.prompt.name}", ("prompt", self.session.prompt)
            )
            self.template_combo.setItemData(
                self.template_combo.count() - 1,
                "The template you last sent from the Prompt panel.",
                Qt.ItemDataRole.ToolTipRole,
            )
        try:
            builtins = builtin_templates()
        except UserError:
            builtins = []
        for template in builtins:
            self.template_combo.addItem(f"Built-in: {template.name}", ("builtin", template))
            self.template_combo.setItemData(
                self.template_combo.count() - 1, template.description, Qt.ItemDataRole.ToolTipRole
            )
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
        text = ""
        if template is not None:
            if (
                any(m in ("one-shot", "few-shot", "chain-of-thought") for m in self.modes())
                and not template.enabled_examples()
            ):
                text = (
                    f"“{template.name}” has no worked examples, so one-shot and few-shot prompts are the same "
                    "as zero-shot. Choose a template with examples to see what examples add."
                )
            elif template.description:
                self.template_combo.setToolTip(f"{TEMPLATE_TIP}\n\nThis one: {template.description}")
        self.template_note.setText(text)
        self.template_note.setVisible(bool(text))
        self._update_preview()

    def modes(self) -> list[str]:
        first = self.mode_combo.currentData()
        second = self.compare_combo.currentData()
        return [first] + ([second] if second and second != first else [])

    def _modes_changed(self, *_: Any) -> None:
        first = self.mode_combo.currentData()
        if self._keep_modes_apart(first):
            return  # the compare combo moved: its own signal brings us back here
        self.mode_combo.setToolTip(
            "How the prompt is laid out for the first set of answers. " + MODE_HELP.get(first, "")
        )
        second = self.compare_combo.currentData()
        self.compare_combo.setToolTip(
            "The mode to compare it with, on the same examples and settings. "
            + (MODE_HELP.get(second, "") if second else "Nothing: one mode only.")
        )
        if self.shown_run is None:
            self.scores_table.set_modes(self.modes())
            self.examples_table.set_modes(self.modes())
        self._template_chosen()

    def _keep_modes_apart(self, first: str) -> bool:
        """A mode compared with itself says nothing: "Compare with" offers every mode but the first.
        When the first is changed to the one being compared with, the two swap. True when it moved."""
        items = self.compare_combo.model()
        assert isinstance(items, QStandardItemModel)  # a QComboBox's own model
        for row in range(self.compare_combo.count()):
            items.item(row).setEnabled(self.compare_combo.itemData(row) != first)
        previous, self._first_mode = self._first_mode, first
        if self.compare_combo.currentData() != first:
            return False
        other = previous if previous and previous != first else ""
        self.compare_combo.setCurrentIndex(self.compare_combo.findData(other))
        return True

    def _update_preview(self) -> None:
        """The prompt of the selected example (the first when none is), in each mode, with its length."""
        task, template = self.current_task(), self.current_template()
        if task is None or template is None or not len(task):
            self.prompt_preview.setPlainText("")
            return
        index = min(self.examples_table.selected_index(), len(task) - 1)
        example = task.examples[index]
        checkpoint = self.session.checkpoint
        parts = []
        for mode in self.modes():
            try:
                text = template.render(mode=mode, input=example.input).text
            except UserError as e:
                parts.append(f"── {mode_label(mode)} ──\n(cannot be rendered: {e})")
                continue
            length = ""
            if checkpoint is not None:
                n = len(checkpoint.tokenizer.encode_ids([text])[0])
                context = checkpoint.model_config.context_length
                length = f" · {n:,} tokens" + (
                    f", more than the context ({context:,}): the start is cut" if n > context else ""
                )
            parts.append(f"── {mode_label(mode)}{length} ──\n{text}")
        self.preview_caption.setText(f"<b>What the model reads</b> · example {index + 1}")
        self.prompt_preview.setPlainText("\n\n".join(parts))

    # ---------------------------------------------------------------- running

    def settings(self):
        from playground.core.sampling import SamplingSettings

        strategy, tokens = self.strategy_combo.currentData(), self.max_tokens.value()
        if strategy == "greedy":
            return SamplingSettings(strategy="greedy", temperature=1.0, max_new_tokens=tokens)
        if strategy == "beam":
            return SamplingSettings(strategy="beam", beams=4, max_new_tokens=tokens)
        return SamplingSettings(strategy="sample", temperature=0.8, seed=0, max_new_tokens=tokens)

    def run_task(self) -> Optional[Job]:
        """Ask the model the task's examples in each mode and score them, in a job; None when it cannot start."""
        from playground.core.task_eval import ask_checkpoint

        if self.slot.busy:
            return None
        checkpoint = self.session.checkpoint
        if checkpoint is None:
            self.session.warn("There is no model to ask yet: load the demo model or train one.")
            return None
        task, template = self.current_task(), self.current_template()
        if task is None or template is None:
            self.session.warn("Choose a task first, or open a task file (Open…, Ctrl+O).")
            return None
        modes = self.modes()
        try:
            for mode in modes:
                template.render(mode=mode, input="")
        except UserError as e:
            self.session.error(f"The template “{template.name}” cannot be used: {e}")
            return None
        settings, template = self.settings(), template.copy()  # a copy: later edits do not reach the job
        key = self.task_combo.currentData()
        caption = (
            f"<b>{task.name}</b> · {len(task)} examples · template “{template.name}” · "
            f"{checkpoint.name} (step {checkpoint.step:,}) · {self.strategy_combo.currentText().lower()}, "
            f"at most {settings.max_new_tokens} new tokens"
        )
        run = self.running = self.task_runs[key] = TaskRun(task_key=key, modes=modes, caption=caption)
        self._show_run(run)
        job = Job(
            ask_checkpoint,
            checkpoint,
            self.session.models.model_for,
            template,
            task,
            modes=modes,
            settings=settings,
            doing=f"running the task {task.name}",
        )
        job.progress.connect(lambda p: show_progress(self.progress, p))
        job.partial.connect(self._on_answer)
        job.result.connect(self._on_result)
        job.error.connect(self._on_error)
        job.cancelled.connect(self._on_cancelled)
        self._started = time.monotonic()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("Starting…")
        self.status.setText(f"Asking {len(task)} examples × {len(modes)} mode{'s' if len(modes) > 1 else ''}…")
        return self.slot.start(job)

    def _on_answer(self, row) -> None:
        run = self.running
        assert run is not None  # set when the job started
        run.rows[(row.mode, row.index)] = row
        if run is self.shown_run:
            self._show_answer(run, row)

    def _on_result(self, results) -> None:
        run = self.running
        assert run is not None  # set when the job started
        run.results = list(results)
        for result in results:
            for row in result.rows:
                run.rows[(row.mode, row.index)] = row
        if run is self.shown_run:
            self._show_run(run)
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self.progress.setFormat("Done")
        self.status.setText(f"Done in {time.monotonic() - self._started:.1f} s.")

    def _on_error(self, message: str) -> None:
        self.progress.setRange(0, 1000)
        self.session.error(message)
        self.status.setText("The run failed: see the message above.")

    def _on_cancelled(self) -> None:
        run = self.running
        assert run is not None  # set when the job started
        run.stopped = True
        if run is self.shown_run:
            self._show_scores(run)
        answered = len(run.rows)
        self.progress.setRange(0, 1000)
        self.progress.setFormat("Stopped")
        self.status.setText(
            f"Stopped by you after {answered} answer{'s' if answered != 1 else ''}: no scores for an unfinished run."
        )

    def cancel(self) -> None:
        if self.slot.busy:
            self.slot.cancel()
            self.status.setText("Stopping…")

    def update_buttons(self) -> None:
        has_model, running = self.session.checkpoint is not None, self.slot.busy
        self.run_button.setEnabled(has_model and not running)
        self.cancel_button.setEnabled(running)
        self.open_task_button.setEnabled(not running)
        self.task_combo.setEnabled(not running)

    # ---------------------------------------------------------------- showing a run

    def _show_run(self, run: Optional[TaskRun]) -> None:
        """Show `run` (the task's examples, empty answers, no scores when None)."""
        self.shown_run = run
        modes = run.modes if run is not None else self.modes()
        self.scores_table.set_modes(modes)
        self.examples_table.set_modes(modes)
        task = self.current_task()
        examples = task.examples if task is not None else []
        self.examples_table.show_examples(examples)
        if run is not None:
            for row in run.rows.values():
                self._show_answer(run, row)
        self._show_scores(run)
        if run is None:
            self.task_caption.setText(
                f"<b>{task.name}</b> · {len(task)} examples · press Run to ask the model" if task is not None else ""
            )
        else:
            self.task_caption.setText(run.caption)
        answered = "" if run is None else f" · {len(run.rows)} of {len(examples) * len(modes)} answered"
        themed_text(
            self.examples_caption,
            "<b>Answers</b>{answered} · <span style='color:{muted}'>hover a cell for its whole text</span>",
            answered=answered,
        )
        self._update_preview()

    def _show_answer(self, run: TaskRun, row) -> None:
        self.examples_table.show_answer(run.modes, row)
        total = self.examples_table.rowCount() * len(run.modes)
        themed_text(
            self.examples_caption,
            "<b>Answers</b> · {done} of {total} answered · "
            "<span style='color:{muted}'>hover a cell for its whole text</span>",
            done=str(len(run.rows)),
            total=str(total),
        )

    def _show_scores(self, run: Optional[TaskRun]) -> None:
        self.scores_table.show_results(
            run.results if run is not None else None, stopped=run is not None and run.stopped
        )

    # ---------------------------------------------------------------- workspace

    def state(self) -> dict:
        task = self.current_task()
        return {
            "task": str(task.path) if task is not None and task.path is not None else None,
            "mode": self.mode_combo.currentData(),
            "compare": self.compare_combo.currentData(),
            "strategy": self.strategy_combo.currentData(),
            "max_new_tokens": self.max_tokens.value(),
        }

    def restore_settings(self, state: dict) -> None:
        """The modes and decoding of a workspace; what is missing or unknown is left as it is."""

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

    def restore_files(self, state: dict) -> None:
        """The task file of a workspace, once there is a model (reading it needs the task module)."""
        task = state.get("task")
        if isinstance(task, str) and Path(task).is_file():
            key = str(Path(task).resolve())
            index = next(
                (i for i in range(self.task_combo.count()) if str(Path(self.task_combo.itemData(i)).resolve()) == key),
                -1,
            )
            if index >= 0:
                self.task_combo.setCurrentIndex(index)
            else:
                self.open_task(task)
