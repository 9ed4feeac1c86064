"""The Generate step's Output tab: the text streaming in, the candidates of a clicked token, and
the step-by-step view of how each setting reshaped the distribution it was drawn from.

A token made by Step carries its stages; for any other (or once the settings
change) the tab recomputes them in a job of its own (`explain_slot`), never
while the panel's generation runs: it waits for that to end.
"""

from __future__ import annotations

from html import escape
from typing import Callable, Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGroupBox, QScrollArea, QSplitter, QVBoxLayout, QWidget

from playground.engine.jobs import Job, JobSlot
from playground.ui.widgets.candidate_chart import CandidateChart
from playground.ui.widgets.generated_text import GeneratedTextView, ProbabilityLegend, token_label
from playground.ui.widgets.sampling_controls import distribution_key
from playground.ui.widgets.stage_charts import StagesView

DECODER_PLACEHOLDER = "The model's text appears here, one token at a time."


class ExplainedOutput(QSplitter):
    """`output` (the text, a legend above it) beside `candidate_chart`, with `stages` below both.

    `session` gives the model, `settings()` the sampling settings now on show, and
    `generating()` whether the panel's generation runs. The panel keeps
    `prompt_ids` (what the model read before `output`'s tokens), `run_key` (the
    distribution settings of the Generate run) and `step_keys` (those of each
    token made by Step) up to date.

    With an encoder-decoder (`set_output_only`), `prompt_ids` are the input the
    encoder read, and `output` holds only what the decoder wrote: the input stays in
    the box above.
    """

    EXPLAIN_DELAY_MS = 150

    def __init__(self, session, settings: Callable, generating: Callable[[], bool], parent=None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.session = session
        self._settings = settings
        self._generating = generating
        self.prompt_ids: list[int] = []
        self.output_only = False  # an encoder-decoder: the output apart from its input
        self.run_key: Optional[tuple] = None
        self.step_keys: dict[int, tuple] = {}
        self._shown_key: Optional[tuple] = None  # the distribution settings of the stages on show
        self._specials: dict[int, str] = {}
        self._waiting = False  # an explanation waits for the generation to end
        self.explain_slot = JobSlot(self)
        self.explain_slot.changed.connect(self.explain_if_waiting)
        self.explain_timer = QTimer(self, singleShot=True, interval=self.EXPLAIN_DELAY_MS)
        self.explain_timer.timeout.connect(self._explain_selected)
        self._build()
        self.output.token_selected.connect(self._token_selected)

    def _build(self) -> None:
        self.output = GeneratedTextView()
        self.legend = ProbabilityLegend()
        text_side = QWidget()
        tl = QVBoxLayout(text_side)
        tl.setContentsMargins(0, 4, 0, 0)
        tl.setSpacing(2)
        tl.addWidget(self.legend)
        tl.addWidget(self.output, 1)
        self.candidate_chart = CandidateChart()
        chart_scroll = QScrollArea()
        chart_scroll.setWidget(self.candidate_chart)
        chart_scroll.setWidgetResizable(True)
        chart_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        chart_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        chart_scroll.setMinimumWidth(180)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(text_side)
        top.addWidget(chart_scroll)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setSizes([470, 340])

        self.stages = StagesView()
        stages_box = QGroupBox("Step by step: each setting at work")
        stages_box.setToolTip(
            "Each chart is the distribution after one more setting, in the order they are "
            "applied; the title says how many tokens are still possible."
        )
        sl = QVBoxLayout(stages_box)
        sl.setContentsMargins(6, 4, 6, 4)
        sl.addWidget(self.stages)
        self.addWidget(top)
        self.addWidget(stages_box)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)
        self.setSizes([330, 250])
        self.setChildrenCollapsible(False)

    def set_output_only(self, output_only: bool) -> None:
        """Show an encoder-decoder's output alone (True), or a decoder's prompt and what continues it."""
        self.output_only = output_only
        self.output.setPlaceholderText(
            "The output appears here: the decoder writes it, token by token, reading the input above "
            "through cross-attention."
            if output_only
            else DECODER_PLACEHOLDER
        )

    def show_read(self, prompt) -> None:
        """Start afresh from a `PromptPrepared`: a decoder's prompt (what it reads, a cut beginning struck
        through) goes before the tokens; an encoder-decoder's input does not (the box above holds it)."""
        if self.output_only:
            self.output.set_prompt("")
        else:
            self.output.set_prompt(prompt.shown, prompt.cut)

    def set_specials(self, specials: dict[int, str]) -> None:
        """Readable names for special token ids, in every view."""
        self._specials = specials
        for view in (self.output, self.candidate_chart, self.stages):
            view.specials = specials

    def clear(self) -> None:
        self.output.clear_all()
        self.candidate_chart.set_token(None)
        self.stages.set_stages([], None, "")
        self.prompt_ids = []
        self.run_key, self.step_keys, self._shown_key = None, {}, None

    @property
    def busy(self) -> bool:
        return self.explain_slot.busy or self.explain_timer.isActive()

    def drop_explanation(self) -> None:
        """Drop the explanation under way: the output it explains is being replaced."""
        if self.explain_slot.job is not None:
            self.explain_slot.job.supersede()

    def settings_changed(self) -> None:
        """Recompute the selected token's stages (soon) when the new settings reshape its distribution."""
        if self.output.selected_token() is not None and distribution_key(self._settings()) != self._shown_key:
            self.explain_timer.start(self.EXPLAIN_DELAY_MS)

    def explain_if_waiting(self) -> None:
        """Run the explanation that waited, now that no job runs."""
        if self._waiting and not self._generating() and not self.explain_slot.busy:
            self._waiting = False
            self.explain_timer.start(self.EXPLAIN_DELAY_MS)

    # ------------------------------------------------------------------ the selected token

    def _token_selected(self, token) -> None:
        self.candidate_chart.set_token(token)
        if token is None:
            self.stages.set_stages([], None, "")
            return
        if token.stages:
            self._shown_key = self._token_key(token)
            self.stages.set_stages(token.stages, token.id, self._stages_heading(token, recomputed=False), token.text)
        else:
            self.explain_timer.start(0)

    def _token_key(self, token) -> Optional[tuple]:
        return self.step_keys.get(token.index, self.run_key)

    def _stages_heading(self, token, recomputed: bool) -> str:
        label = escape(token_label(token.id, token.text, self._specials))
        if recomputed:
            return (
                f"Token {token.index + 1} <code>{label}</code>, recomputed with the settings now on the left "
                f"(it was chosen with the settings of its run):"
            )
        return f"How token {token.index + 1} <code>{label}</code> was chosen, setting by setting:"

    def _explain_selected(self) -> None:
        """Recompute the stages of the selected token's position with the current settings (in a job)."""
        token = self.output.selected_token()
        checkpoint = self.session.checkpoint
        if token is None or checkpoint is None or not self.prompt_ids:
            return
        settings = self._settings()
        if settings.strategy == "beam" or settings.problems():
            self._shown_key = None
            self.stages.set_stages(
                [],
                None,
                "",
                placeholder=(
                    "Step by step works for greedy and sample: beam search follows several continuations at once "
                    "(see the Beams tab)."
                    if settings.strategy == "beam"
                    else "Fix the settings on the left to see the distribution step by step."
                ),
            )
            return
        if self._generating() or self.explain_slot.busy:
            self._waiting = True
            return
        from playground.core.generation_jobs import explain_next_token  # imports torch: a model is about

        index, key = token.index, distribution_key(settings)
        before = self.output.generated_ids()[:index]
        if self.output_only:  # the decoder's tokens so far, reading the encoder's input
            args: tuple = (before, settings, self.prompt_ids)
        else:
            args = (self.prompt_ids + before, settings)
        job = Job(explain_next_token, self.session.models, checkpoint, *args, doing="explaining a token")
        job.result.connect(lambda stages: self._explained(index, key, stages))
        job.error.connect(self.session.error)
        self.explain_slot.start(job)

    def _explained(self, index: int, key: tuple, stages: list) -> None:
        token = self.output.selected_token()
        if not stages or token is None or token.index != index:
            return
        self._shown_key = key
        recomputed = key != self._token_key(token)
        self.stages.set_stages(stages, token.id, self._stages_heading(token, recomputed), token.text)
        if distribution_key(self._settings()) != key:  # the settings moved on while this was computed
            self.explain_timer.start(self.EXPLAIN_DELAY_MS)
