"""The Evaluate step: how well a model predicts text, and how well it answers a task.

Two tabs, each in its own module: *Perplexity* (`perplexity_tab.py`) scores
the current model, and any checkpoints added beside it, on a text; *Tasks*
(`task_tab.py`) asks the model a task's examples in two modes and scores the
answers. This shell holds the tabs, the page shown while there is no model,
the shortcuts and the workspace state.

All model work runs in jobs (`core/evaluation.py`, `core/task_eval.py`), one
per tab at a time. PyTorch, the evaluation core and pyqtgraph are imported
only once there is a model: the window opens before torch is loaded.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QLabel, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from playground.engine.session import Session
from playground.ui.perplexity_tab import PerplexityTab
from playground.ui.task_tab import TaskTab
from playground.ui.themes import themed_style
from playground.ui.widgets.no_model import NoModelPage

PERPLEXITY, TASKS = 0, 1  # the tabs' indexes


class EvaluatePanel(QWidget):
    """Two tabs: perplexity of checkpoints on a text, and task scores of the current model."""

    title = "Evaluate"
    concept = (
        "<b>Evaluation</b><br><i>Perplexity</i> is how surprised the model is, per token, by text it has not "
        "trained on; <i>bits per byte</i> is the same surprise per byte of text, so models with different "
        "tokenizers compare fairly. An encoder (BERT style) gets a <i>pseudo-perplexity</i> instead: each "
        "token hidden in turn and guessed from both sides, not the same kind of number, so it compares with "
        "encoders only.<br><br><i>Task scores</i> (BLEU, chrF, ROUGE, exact match) measure its "
        "answers against reference answers: asked <i>zero-shot</i> (no examples) or <i>few-shot</i> (a few "
        "worked examples in the prompt). An encoder answers a one-word task by filling a [MASK]."
    )

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self._ready = False
        self._pending_state: Optional[dict] = None  # a workspace's files, opened once there is a model
        self._build()
        session.checkpoint_changed.connect(self._on_checkpoint)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop_and_wait)
        self._on_checkpoint(session.checkpoint)

    def advanced_widgets(self) -> list[QWidget]:
        """Presentation mode hides what each task example's prompt looks like: the scores get its room."""
        side = self.tasks.prompt_preview.parentWidget()
        return [side] if side is not None else []

    def _build(self) -> None:
        self.empty_page = NoModelPage(
            self.session,
            "No model to evaluate yet",
            "This step measures a trained model: how surprised it is by text it has not seen (perplexity and "
            "bits per byte), and how well it answers small tasks, zero-shot and few-shot. Load the demo model "
            "that comes with the app, or train your own.",
        )
        self.perplexity = PerplexityTab(self.session)
        self.tasks = TaskTab(self.session)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.perplexity, "Perplexity")
        self.tabs.addTab(self.tasks, "Tasks")
        self.tabs.setTabToolTip(
            PERPLEXITY,
            "How well the model predicts a text: perplexity per token (an encoder's pseudo-perplexity) and "
            "bits per byte, checkpoint against checkpoint.",
        )
        self.tabs.setTabToolTip(
            TASKS,
            "How well the model answers a task's examples, scored against reference "
            "answers: zero-shot against few-shot.",
        )
        self.encoder_decoder_page = self._encoder_decoder_page()
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty_page)
        self.pages.addWidget(self.tabs)
        self.pages.addWidget(self.encoder_decoder_page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        QShortcut(QKeySequence("Ctrl+Return"), self).activated.connect(self._go)
        QShortcut(QKeySequence("Ctrl+Enter"), self).activated.connect(self._go)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self.cancel)
        QShortcut(QKeySequence.StandardKey.Open, self).activated.connect(self._open_for_tab)

    @staticmethod
    def _encoder_decoder_page() -> QWidget:
        """What this step says while an encoder-decoder is the model: it does not score one in the window
        yet, and the command line does (nothing here pretends otherwise)."""
        page = QWidget()
        title = QLabel("Evaluate does not score an encoder–decoder in the window yet")
        themed_style(title, "font-size: 16pt; font-weight: 600; color: {heading};")
        text = QLabel(
            "The current model is an encoder–decoder (T5 style). Its scores are on the command line for now: "
            "the perplexity of the references given their inputs,<br><br>"
            "<code>playground eval perplexity --model DIR --task numbers-to-words</code><br><br>"
            "and its answers to a task's held-out inputs, scored (BLEU, chrF, ROUGE, exact match) in one table "
            "beside a GPT-style model asked zero- and few-shot:<br><br>"
            "<code>playground eval task --model DIR --model GPTDIR --task numbers-to-words</code><br><br>"
            "(<code>demo-encoder-decoder</code> names the demo as DIR). Choose a decoder or an encoder model to "
            "use this step."
        )
        themed_style(text, "font-size: 11pt; color: {body};")
        text.setWordWrap(True)
        title.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addStretch(1)
        return page

    # ---------------------------------------------------------------- the session

    def _on_checkpoint(self, checkpoint) -> None:
        if checkpoint is None:
            self.pages.setCurrentWidget(self.empty_page)
        elif checkpoint.model_config.is_encoder_decoder:
            self.pages.setCurrentWidget(self.encoder_decoder_page)
            return  # the tabs score decoders and encoders only
        else:
            self._ensure_ready()
            self.pages.setCurrentWidget(self.tabs)
        self.perplexity.on_checkpoint(checkpoint)
        self.tasks.on_checkpoint(checkpoint)

    def _ensure_ready(self) -> None:
        """What needs PyTorch or pyqtgraph, made once a model exists (by then both can be imported)."""
        if self._ready:
            return
        self._ready = True
        self.perplexity.make_ready()
        self.tasks.make_ready()
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self._restore_files(state)

    # ---------------------------------------------------------------- shortcuts and jobs

    def _on_tabs(self) -> bool:
        return self.pages.currentWidget() is self.tabs

    def _go(self) -> None:
        """Ctrl+Enter: Measure or Run, on the tab on show."""
        if self._on_tabs():
            if self.tabs.currentIndex() == PERPLEXITY:
                self.perplexity.measure()
            else:
                self.tasks.run_task()

    def _open_for_tab(self) -> None:
        """Ctrl+O: a text file to score, or a task file (not while a task runs)."""
        if self._on_tabs():
            if self.tabs.currentIndex() == PERPLEXITY:
                self.perplexity.choose_text_file()
            elif not self.tasks.slot.busy:
                self.tasks.choose_task_file()

    def cancel(self) -> None:
        """Esc: stop the job of the tab on show."""
        if self.tabs.currentIndex() == PERPLEXITY:
            self.perplexity.cancel()
        else:
            self.tasks.cancel()

    def is_busy(self) -> bool:
        """True while any job of this panel runs (tests and screenshots wait on it)."""
        return self.perplexity.slot.busy or self.tasks.slot.busy or self.empty_page.is_busy()

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every job of this panel and wait for them (on close, quit and in tests)."""
        jobs = [slot.job for slot in (self.perplexity.slot, self.tasks.slot) if slot.job is not None]
        for job in jobs:
            job.cancel()
        ok = all(job.wait(timeout_ms) for job in jobs)
        return self.empty_page.stop_and_wait(timeout_ms) and ok

    def closeEvent(self, event) -> None:  # noqa: N802
        self.stop_and_wait()
        super().closeEvent(event)

    # ---------------------------------------------------------------- workspace

    def state(self) -> dict:
        """The tab, the text file, the added checkpoints and the task settings, for a workspace."""
        return {"tab": self.tabs.currentIndex(), **self.perplexity.state(), **self.tasks.state()}

    def restore_state(self, state: dict) -> None:
        """Set the controls from a `state()` dict; what is missing or no longer there is left as it is.
        Files are opened once there is a model (opening them needs PyTorch)."""
        self.tasks.restore_settings(state)
        tab = state.get("tab")
        if isinstance(tab, int) and not isinstance(tab, bool) and 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)
        if self._ready:
            self._restore_files(state)
        else:
            self._pending_state = dict(state)

    def _restore_files(self, state: dict) -> None:
        self.perplexity.restore_files(state)
        self.tasks.restore_files(state)
