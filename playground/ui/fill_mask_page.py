"""Fill the mask: the Generate step's page when the current model is an encoder (BERT style).

The learner writes a text with one or more [MASK] ("Insert [MASK]", Ctrl+M, puts
one at the cursor). As they type (once typing pauses), one forward pass guesses
every mask at once and each mask gets a chart of its best candidates
(`widgets/mask_candidates.py`); a click on a candidate puts it in. "Fill all
masks" (Ctrl+Enter) fills them one at a time, the surest first, reading the
text again after each: every step shows in the text and in a list below.
Ctrl+Z takes a fill back (the text is edited, not replaced).

The work is `core/fill_mask_jobs.py`'s, run by the engine: the live guesses in
`self.slot`, filling all in `self.fill_slot`. The page is built by
`generate_panel.py`, which shows it instead of the decoder's controls.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.engine.jobs import Job, JobSlot
from playground.engine.session import Session
from playground.ui.themes import themed_style, themed_text
from playground.ui.widgets.generated_text import _escape, percent
from playground.ui.widgets.mask_candidates import MaskCandidatesView, candidate_label
from playground.ui.widgets.model_header import ModelHeader
from playground.ui.widgets.model_kind_hint import ModelKindHint

MASK = "[MASK]"  # the encoder's mask token (core.masking.MASK_TOKEN; that module imports PyTorch)
GUESS_DELAY_MS = 250  # guess once typing pauses
SAMPLE_TEXT = "The [MASK] returns a new list of the [MASK] in the sequence."
NO_MASK = (
    "The text has no [MASK]. Write [MASK] where a word should be guessed, as in “The cat sat on the "
    "[MASK].”, or put one at the cursor with Insert [MASK] (Ctrl+M)."
)
ALL_FILLED = "Every [MASK] is filled (Ctrl+Z takes the fill back). Insert a [MASK] to guess again."


def is_encoder(checkpoint) -> bool:
    """True when `checkpoint`'s model is an encoder (it fills masks rather than continuing text)."""
    return checkpoint is not None and bool(getattr(checkpoint.model_config, "is_encoder", False))


def _jobs():
    from playground.core import fill_mask_jobs  # imports torch: only once an encoder is about

    return fill_mask_jobs


class FillMaskPage(QWidget):
    """A text with [MASK]s, each mask's candidates as it is typed, and filling them all, surest first."""

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.checkpoint = None
        self.slot = JobSlot(self)  # the live guesses: the newest text supersedes the older
        self.fill_slot = JobSlot(self)  # "Fill all masks"
        self.result = None  # the FillMaskResult shown
        self._filling_text = False  # the page itself edits the text: no live guess for that
        self._filled_all = False
        self._steps: list[str] = []
        self._build()
        self.slot.changed.connect(self._update_buttons)
        self.fill_slot.changed.connect(self._fill_slot_changed)
        session.checkpoint_changed.connect(self.set_checkpoint)
        self.set_checkpoint(session.checkpoint)

    def _build(self) -> None:
        self.heading = QLabel("Fill the mask")
        themed_style(self.heading, "font-size: 16pt; font-weight: 600; color: {heading};")
        self.intro = QLabel(
            "This model is an <b>encoder</b>: it reads the whole text at once, both sides of every gap, and "
            "guesses what each <code>[MASK]</code> hides. The guesses change as you type; click one to put it in."
        )
        self.intro.setWordWrap(True)
        self.header = ModelHeader()

        self.edit = QPlainTextEdit(SAMPLE_TEXT)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSize(10)
        self.edit.setFont(mono)
        self.edit.setFixedHeight(70)
        self.edit.setPlaceholderText("Write a text with [MASK] where a word should be guessed.")
        self.edit.setToolTip("The text: every [MASK] in it is guessed as you type.")
        self.edit.textChanged.connect(self._edited)

        self.insert_button = QPushButton("Insert [MASK]")
        self.insert_button.setToolTip("Put a [MASK] at the cursor (Ctrl+M).")
        self.insert_button.clicked.connect(self.insert_mask)
        self.fill_button = QPushButton("▶  Fill all masks")
        self.fill_button.setToolTip(
            "Fill every [MASK] one at a time: the one the model is surest of first, then it reads the "
            "text again before choosing the next (Ctrl+Enter)."
        )
        self.fill_button.clicked.connect(self.fill_all)
        self.stop_button = QPushButton("■  Stop")
        self.stop_button.setToolTip("Stop filling; the masks filled so far stay (Esc).")
        self.stop_button.clicked.connect(self.stop)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 20)
        self.top_k.setValue(5)
        self.top_k.setPrefix("top ")
        self.top_k.setToolTip("How many candidates to show for each mask.")
        self.top_k.valueChanged.connect(lambda _: self.schedule_guess())
        self.status = QLabel()
        themed_style(self.status, "color: {muted};")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        buttons = QHBoxLayout()
        for button in (self.insert_button, self.fill_button, self.stop_button):
            button.setMinimumHeight(30)
            buttons.addWidget(button)
        buttons.addWidget(self.top_k)
        buttons.addSpacing(8)
        buttons.addWidget(self.status, 1)

        self.notice = QLabel()  # the text was cut to the context
        self.notice.setWordWrap(True)
        themed_style(
            self.notice,
            "background: {amber_bg}; color: {amber_fg}; padding: 4px 6px; "
            "border: 1px solid {amber_border}; border-radius: 4px;",
        )
        self.notice.hide()
        self.problem = QLabel()  # no [MASK], or what the model could not do
        self.problem.setWordWrap(True)
        themed_style(self.problem, "color: {body}; padding: 4px 0;")
        self.problem_insert = QPushButton("Insert [MASK] at the cursor")
        self.problem_insert.clicked.connect(self.insert_mask)
        problem_row = QHBoxLayout()
        problem_row.setContentsMargins(0, 0, 0, 0)
        problem_row.addWidget(self.problem, 1)
        problem_row.addWidget(self.problem_insert)
        self.problem_box = QWidget()
        self.problem_box.setLayout(problem_row)
        self.problem_box.hide()

        self.candidates = MaskCandidatesView()
        self.candidates.chosen.connect(self.put_in)
        self.steps = QLabel()
        self.steps.setWordWrap(True)
        self.steps.setTextFormat(Qt.TextFormat.RichText)
        self.steps.hide()
        inner = QWidget()
        il = QVBoxLayout(inner)
        il.setContentsMargins(0, 0, 4, 0)
        il.addWidget(self.candidates)
        il.addWidget(self.steps)
        il.addStretch(1)
        self.guesses_area = QScrollArea()
        self.guesses_area.setWidgetResizable(True)
        self.guesses_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.guesses_area.setWidget(inner)
        self.guesses_area.setMinimumHeight(120)
        self.kind_hint = ModelKindHint(self.session)
        self.kind_hint.want("decoder")  # the reverse case: an encoder where Generate needs a decoder

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.intro)
        layout.addWidget(self.header)
        layout.addWidget(self.edit)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.notice)
        layout.addWidget(self.problem_box)
        layout.addWidget(self.guesses_area, 1)
        layout.addWidget(self.kind_hint)

        self._guess_timer = QTimer(self, singleShot=True, interval=GUESS_DELAY_MS)
        self._guess_timer.timeout.connect(self.guess)
        QShortcut(QKeySequence("Ctrl+M"), self).activated.connect(self.insert_mask)
        QShortcut(QKeySequence("Ctrl+Return"), self).activated.connect(self.fill_all)
        QShortcut(QKeySequence("Ctrl+Enter"), self).activated.connect(self.fill_all)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self.stop)

    # ================================================================== model and text

    def set_checkpoint(self, checkpoint) -> None:
        """A new current model: what was guessed belonged to the old one."""
        for slot in (self.slot, self.fill_slot):
            if slot.job is not None:
                slot.job.supersede()
        self.checkpoint = checkpoint if is_encoder(checkpoint) else None
        self.header.show_model(checkpoint)
        self._show(None)
        if self.checkpoint is not None:
            self.schedule_guess()
        self._update_buttons()

    def text(self) -> str:
        return self.edit.toPlainText()

    def set_text(self, text: str) -> None:
        """Show `text` (a prompt sent from the Prompt step) and guess its masks."""
        self._replace_text(text)

    def _replace_text(self, text: str, join: bool = False) -> None:
        """Edit the whole text into `text` as one undoable step (`join`: part of the previous one)."""
        cursor = QTextCursor(self.edit.document())
        if join:
            cursor.joinPreviousEditBlock()
        else:
            cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.endEditBlock()

    def _edited(self) -> None:
        if self._filling_text:
            return
        if self.fill_slot.job is not None:  # the learner typed while filling: the fill's text is no longer theirs
            self.fill_slot.job.supersede()
        self._filled_all = False
        self.steps.hide()  # they showed how the text before this edit was filled
        self.status.setText("")
        self.schedule_guess()

    def schedule_guess(self) -> None:
        if self.checkpoint is not None:
            self._guess_timer.start()

    def insert_mask(self) -> None:
        """Put a [MASK] at the cursor, with a space on each side where a word touches it."""
        cursor = self.edit.textCursor()
        text = self.text()
        start, end = cursor.selectionStart(), cursor.selectionEnd()
        before = " " if start > 0 and text[start - 1].isalnum() else ""
        after = " " if end < len(text) and text[end].isalnum() else ""
        cursor.insertText(before + MASK + after)
        self.edit.setTextCursor(cursor)
        self.edit.setFocus()

    # ================================================================== guessing

    def guess(self) -> Optional[Job]:
        """Guess every mask of the text now (a job); None when there is nothing to guess."""
        self._guess_timer.stop()
        if self.checkpoint is None or self.fill_slot.busy:
            return None
        text = self.text()
        if MASK not in text:
            if self.slot.job is not None:
                self.slot.job.supersede()
            self._show(None, ALL_FILLED if self._filled_all else NO_MASK, offer_insert=True)
            return None
        job = Job(
            _jobs().guess_masks,
            self.session.models,
            self.checkpoint,
            text,
            self.top_k.value(),
            doing="guessing the masks",
        )
        job.result.connect(self._show)
        job.error.connect(lambda message: self._show(None, message))
        return self.slot.start(job)

    def _show(self, result, problem: str = "", offer_insert: bool = False) -> None:
        """Draw `result`'s candidates (None: none), its notice, and `problem` when there is one."""
        self.result = result
        self.candidates.show_result(result)
        notice = getattr(result, "notice", "")
        self.notice.setText("⚠ " + notice if notice else "")
        self.notice.setVisible(bool(notice))
        self.problem.setText(problem)
        self.problem_insert.setVisible(offer_insert)
        self.problem_box.setVisible(bool(problem))
        self._update_buttons()

    def put_in(self, index: int, candidate) -> None:
        """Put `candidate` in place of mask number `index` (a click on its bar)."""
        from playground.core.fill_mask import put_in

        if self.fill_slot.busy:
            return
        self._replace_text(put_in(self.text(), index, candidate))

    # ================================================================== filling all

    def fill_all(self) -> Optional[Job]:
        """Fill every mask, the surest first, showing each step (a job; None when there is no mask)."""
        if self.checkpoint is None or self.fill_slot.busy:
            return None
        text = self.text()
        if MASK not in text:
            self._show(None, NO_MASK, offer_insert=True)
            return None
        if self.slot.job is not None:
            self.slot.job.supersede()
        self._guess_timer.stop()
        self._steps = []
        self._started_text = text
        job = Job(_jobs().fill_every_mask, self.session.models, self.checkpoint, text, doing="filling the masks")
        job.progress.connect(self._fill_progress)
        job.partial.connect(self._filled_one)
        job.result.connect(self._filled_all_masks)
        job.cancelled.connect(lambda: self.status.setText(f"Stopped after {len(self._steps)} of the masks."))
        job.error.connect(lambda message: self._show(None, message))
        self.status.setText("Filling the masks, surest first…")
        self.progress.setValue(0)
        return self.fill_slot.start(job)

    def _fill_progress(self, progress) -> None:
        if progress.fraction is not None:
            self.progress.setValue(round(100 * progress.fraction))
        self.status.setText(progress.message)

    def _filled_one(self, step) -> None:
        """One mask filled (a MaskFilled): the text shows it, the list below says which and how sure."""
        self._filling_text = True
        try:
            self._replace_text(step.text, join=step.order > 1)  # one Ctrl+Z takes the whole fill back
        finally:
            self._filling_text = False
        self._steps.append(
            f"<b>{step.order}.</b> [MASK] {step.index + 1} ← "
            f"<code>{_escape(candidate_label(step.candidate))}</code> ({percent(step.candidate.probability)})"
        )
        themed_text(
            self.steps,
            "<b>Filled, surest first</b> <span style='color:{muted}'>(the model read the text again after each)</span>"
            "<br>{steps}",
            steps="<br>".join(self._steps),
        )
        self.steps.show()

    def _filled_all_masks(self, filled) -> None:
        self._filled_all = True
        n = len(filled.filled)
        self.status.setText(f"Filled {n} mask{'s' if n != 1 else ''}, the surest first.")

    def _fill_slot_changed(self) -> None:
        self.progress.setVisible(self.fill_slot.busy)
        if not self.fill_slot.busy:
            self.guess()  # the filled text: its remaining masks, or the sentence that all are filled
        self._update_buttons()

    def stop(self) -> None:
        """Stop filling; the masks filled so far stay."""
        if self.fill_slot.busy:
            self.fill_slot.cancel()
            self.status.setText("Stopping…")

    # ================================================================== state

    def state(self) -> dict:
        """The text and how many candidates to show, for a workspace."""
        return {"text": self.text(), "top_k": self.top_k.value()}

    def restore_state(self, state: dict) -> None:
        """Set the text and top-k from a `state()` dict; a missing or wrong value leaves its control as it is."""
        top_k = state.get("top_k")
        if isinstance(top_k, int) and not isinstance(top_k, bool):
            self.top_k.setValue(top_k)
        if isinstance(state.get("text"), str):
            self.set_text(state["text"])

    def _update_buttons(self) -> None:
        ready = self.checkpoint is not None
        filling = self.fill_slot.busy
        self.fill_button.setEnabled(ready and not filling)
        self.insert_button.setEnabled(not filling)
        self.stop_button.setEnabled(filling)
        self.top_k.setEnabled(not filling)

    def is_busy(self) -> bool:
        """True while a guess or a fill runs, or is about to (tests wait on it)."""
        return self.slot.busy or self.fill_slot.busy or self._guess_timer.isActive() or self.kind_hint.slot.busy

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every job of this page and wait for them (on close, quit and in tests)."""
        self._guess_timer.stop()
        jobs = [j for j in (self.slot.job, self.fill_slot.job, self.kind_hint.load_job) if j is not None]
        for job in jobs:
            job.cancel()
        return all(job.wait(timeout_ms) for job in jobs)
