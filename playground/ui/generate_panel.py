"""The Generate step: prompt the trained model and watch it write, token by token.

Sampling settings on the left (`widgets/sampling_controls.py`); on the right
the prompt, a status line (`widgets/generation_status.py`), and tabs: the
text streaming in with every token shaded by its probability, the candidates
of a clicked token and how each setting reshaped its distribution
(`widgets/explained_output.py`), beam search's beams (`widgets/beams_view.py`),
and two comparisons (`widgets/side_by_side.py`). What the model reads and
writes goes out to the Attention Lab (`generation_feed.py`). With an encoder as the
current model the step is Fill the mask instead (`fill_mask_page.py`). With an
encoder-decoder (T5) the box is its *input* and the Output tab holds what its decoder
writes, apart from it: the same jobs, settings and views serve both.

The work is in `core/generation_jobs.py`, run by the engine: one generation
at a time (`self.slot`), and the selected token's explanation beside it
(`self.explain_slot`). PyTorch is imported lazily (the window opens before it
is loaded): the jobs' module is imported only once there is a model.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.core.sampling_settings import SamplingSettings
from playground.engine.jobs import Job, JobSlot
from playground.engine.session import Session
from playground.ui.fill_mask_page import FillMaskPage, is_encoder
from playground.ui.generation_feed import GenerationFeed
from playground.ui.widgets.beams_view import BeamsView
from playground.ui.widgets.controls_column import ControlsColumn
from playground.ui.widgets.explained_output import ExplainedOutput
from playground.ui.widgets.generation_status import GenerationStatus
from playground.ui.widgets.model_header import ModelHeader
from playground.ui.widgets.model_kind_hint import ModelKindHint
from playground.ui.widgets.no_model import NoModelPage
from playground.ui.widgets.prompt_box import PromptBox, reads_input
from playground.ui.widgets.sampling_controls import SamplingControls, distribution_key
from playground.ui.widgets.side_by_side import CompareTab, SamplesTab


def _jobs():
    from playground.core import generation_jobs  # imports torch: only once a model is about

    return generation_jobs


class GeneratePanel(QWidget):
    """Prompt box, sampling controls, the streaming output and the views that explain it."""

    title = "Generate"
    GENERATION_CONCEPT = (
        "<b>Generation</b><br>For every next token the model gives a probability to each token of its "
        "vocabulary. A <i>decoding strategy</i> picks one: greedy takes the most likely, sampling draws at "
        "random, beam search follows several continuations at once.<br><br><i>Temperature</i>, <i>top-k</i> "
        "and <i>top-p</i> reshape the distribution before the draw: sharper for safe text, flatter for "
        "surprises."
    )
    SEQ2SEQ_CONCEPT = (
        "<b>Generation with an encoder-decoder</b><br>A T5-style model reads an <i>input</i> and writes an "
        "<i>output</i>: its encoder reads the whole input once, and its decoder writes the output token by "
        "token, looking back at the input through <i>cross-attention</i>.<br><br>Each output token is "
        "picked as a decoder's would be: greedy, sampling or beam search, with temperature, top-k and top-p "
        "reshaping the distribution first."
    )
    FILL_MASK_CONCEPT = (
        "<b>Fill the mask</b><br>An <i>encoder</i> (BERT) reads the whole text at once, every token seeing "
        "the tokens before <i>and after</i> it. It was trained by hiding some tokens behind [MASK] and "
        "guessing them back, so it cannot continue a text; it fills the gaps in one.<br><br>For each "
        "[MASK] it gives a probability to every token of its vocabulary: the bars show the best guesses."
    )

    @property
    def concept(self) -> str:
        """The sidebar's explanation: of generation, of an encoder-decoder's, or of filling masks (an encoder)."""
        if self.fills_masks():
            return self.FILL_MASK_CONCEPT
        return self.SEQ2SEQ_CONCEPT if self.reads_input() else self.GENERATION_CONCEPT

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = JobSlot(self)  # the generation: one at a time
        self._generator = None  # torch.Generator kept across Generate and Step
        self._generator_seed: object = None
        self.feed = GenerationFeed(session)  # what the model read and wrote, told to the Attention Lab
        self._output_prompt: Optional[str] = None  # the prompt text the Output tab's ids came from
        self._specials: dict[int, str] = {}  # special token ids -> a readable name
        self._build()
        self.explain_slot = self.output_tab.explain_slot  # the selected token's explanation runs beside
        self.controls.changed.connect(self._settings_changed)
        self.slot.changed.connect(self._jobs_changed)
        session.checkpoint_changed.connect(self._checkpoint_changed)
        session.prompt_sent.connect(self.set_template)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop_and_wait)
        if session.prompt is not None:
            self.set_template(session.prompt)
        self._checkpoint_changed(session.checkpoint)

    @property
    def job(self) -> Optional[Job]:
        """The generation job while it runs."""
        return self.slot.job

    @property
    def explain_job(self) -> Optional[Job]:
        return self.explain_slot.job

    @property
    def _prompt_ids(self) -> list[int]:
        """What the model read before the tokens in `output` (the Output tab keeps them)."""
        return self.output_tab.prompt_ids

    def advanced_widgets(self) -> list[QWidget]:
        """Controls presentation mode hides: the less common sampling settings."""
        return self.controls.advanced_widgets()

    # ================================================================== layout

    def _build(self) -> None:
        self.controls = SamplingControls()
        c = self.controls  # its controls by their names here too: the window, tests and the demo use them
        self.preset, self.strategy, self.temperature = c.preset, c.strategy, c.temperature
        self.top_k, self.top_p, self.min_p = c.top_k, c.top_p, c.min_p
        self.repetition_penalty, self.beams = c.repetition_penalty, c.beams
        self.length_penalty, self.early_stopping = c.length_penalty, c.early_stopping
        self.max_new_tokens, self.stop_strings, self.stop_at_end = c.max_new_tokens, c.stop_strings, c.stop_at_end
        self.seed, self.random_seed = c.seed, c.random_seed
        self.problems_label = c.problems_label
        scroll = ControlsColumn(self.controls, maximum_width=330)

        self.header = ModelHeader()
        self.empty_state = NoModelPage(
            self.session,
            "No model to generate with yet",
            "Generation needs a trained model. Load the small demo model that ships with the playground to "
            "try it now, or train your own in the Train step: it becomes the model here as soon as training "
            "saves a checkpoint.",
        )
        self.demo_button, self.train_button = self.empty_state.demo_button, self.empty_state.train_button
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty_state)
        self.pages.addWidget(self._work_area())
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.header)
        rl.addWidget(self.pages, 1)

        # An encoder fills masks instead: its page replaces the decoder's (`_show_mode`).
        self.decoder_page = QWidget()
        dl = QHBoxLayout(self.decoder_page)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(scroll)
        dl.addWidget(right, 1)
        self.fill_mask_page = FillMaskPage(self.session)
        self.modes = QStackedWidget()
        self.modes.addWidget(self.decoder_page)
        self.modes.addWidget(self.fill_mask_page)
        layout = QHBoxLayout(self)
        layout.addWidget(self.modes)

        # The decoder page's keys: off while the Fill-the-mask page (with keys of its own) is on show.
        QShortcut(QKeySequence("Ctrl+Return"), self.decoder_page).activated.connect(self.generate)
        QShortcut(QKeySequence("Ctrl+Enter"), self.decoder_page).activated.connect(self.generate)
        QShortcut(QKeySequence("Ctrl+Shift+Return"), self.decoder_page).activated.connect(self.step)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self.decoder_page).activated.connect(self.stop)

    def _work_area(self) -> QWidget:
        page = QWidget()
        self.work_area = page
        self.prompt_box = PromptBox()
        self.prompt_edit, self.prompt_count = self.prompt_box.edit, self.prompt_box.count
        self.notice = self.prompt_box.notice

        self.generate_button = QPushButton("▶  Generate")
        self.generate_button.setToolTip("Continue the prompt with the settings on the left (Ctrl+Enter).")
        self.generate_button.clicked.connect(self.generate)
        self.step_button = QPushButton("+1  Step")
        self.step_button.clicked.connect(self.step)
        self.stop_button = QPushButton("■  Stop")
        self.stop_button.setToolTip("Stop generating now and keep what is there (Esc).")
        self.stop_button.clicked.connect(self.stop)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Clear the output, so that Step starts again from the prompt.")
        self.clear_button.clicked.connect(self.clear_output)
        self.status = GenerationStatus()
        buttons = QHBoxLayout()
        for b in (self.generate_button, self.step_button, self.stop_button, self.clear_button):
            b.setMinimumHeight(30)
            buttons.addWidget(b)
        buttons.addSpacing(8)
        buttons.addWidget(self.status, 1)

        self.output_tab = ExplainedOutput(self.session, self.settings, lambda: self.slot.busy)
        self.output, self.legend = self.output_tab.output, self.output_tab.legend
        self.candidate_chart, self.stages = self.output_tab.candidate_chart, self.output_tab.stages
        self.beams_tab = BeamsView()
        self.beams_table = self.beams_tab.table
        self.beams_tab.live_drawn.connect(self._beams_drawn)
        self.samples_tab = SamplesTab()
        self.samples_count, self.samples_button = self.samples_tab.count, self.samples_tab.button
        self.samples_note, self.samples_area = self.samples_tab.note, self.samples_tab.area
        self.samples_count.valueChanged.connect(self._update_buttons)
        self.samples_button.clicked.connect(self.generate_samples)
        self.compare_tab = CompareTab()
        self.template_label, self.compare_button = self.compare_tab.template_label, self.compare_tab.button
        self.compare_area = self.compare_tab.area
        self.compare_button.clicked.connect(self.compare_prompts)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.output_tab, "Output")
        self.tabs.addTab(self.beams_tab, "Beams")
        self.tabs.addTab(self.samples_tab, "Side by side")
        self.tabs.addTab(self.compare_tab, "Zero vs few-shot")
        self.tabs.setTabToolTip(0, "The generated text; click a token to see its candidates and how it was chosen.")
        self.tabs.setTabToolTip(1, "Beam search's best continuations (choose the strategy 'Beam search').")
        self.tabs.setTabToolTip(2, "Several samples of the same prompt with different seeds.")
        self.tabs.setTabToolTip(3, "The template from the Prompt step with and without its examples.")

        self.mask_hint = ModelKindHint(self.session)  # a [MASK] in the prompt: that takes an encoder
        self.mask_hint.hide()
        self.prompt_edit.textChanged.connect(self._refresh_mask_hint)

        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.mask_hint)
        layout.addWidget(self.prompt_box)
        layout.addLayout(buttons)
        layout.addWidget(self.tabs, 1)
        return page

    @property
    def sample_columns(self):
        return self.samples_area.columns

    @property
    def compare_columns(self):
        return self.compare_area.columns

    # ================================================================== settings

    def settings(self) -> SamplingSettings:
        """The SamplingSettings the controls describe."""
        return self.controls.settings()

    def set_settings(self, s: SamplingSettings) -> None:
        """Show SamplingSettings `s` in the controls."""
        self.controls.set_settings(s)

    def preset_name(self) -> str:
        return self.controls.preset_name()

    def apply_preset(self, name: str) -> None:
        """Set the strategy and distribution controls from preset `name`; length, stops and seed stay."""
        self.controls.apply_preset(name)

    def _settings_changed(self) -> None:
        self._update_buttons()
        self.output_tab.settings_changed()

    # ================================================================== model and prompt

    def _checkpoint_changed(self, checkpoint) -> None:
        job = self.slot.job
        generating = job is not None
        if job is not None:
            job.supersede()  # what it still reports belongs to the old model
        self.output_tab.drop_explanation()
        self._reset_outputs()
        if generating:
            self.status.setText("Stopped: the model changed.")
        self.header.show_model(checkpoint)
        specials = {}
        if checkpoint is not None:
            for token in checkpoint.tokenizer.special_tokens:
                token_id = checkpoint.tokenizer.tokenizer.token_to_id(token)
                if token_id is not None:
                    specials[token_id] = "⟨end of text⟩" if token == "<|endoftext|>" else token
            self.pages.setCurrentWidget(self.work_area)
        else:
            self.pages.setCurrentWidget(self.empty_state)
        self.output_tab.set_specials(specials)
        self.samples_area.set_specials(specials)
        self.compare_area.set_specials(specials)
        self._specials = specials
        self.prompt_box.set_checkpoint(checkpoint)
        self._update_buttons()
        self._show_mode()

    def fills_masks(self) -> bool:
        """True when the current model is an encoder: the step is Fill the mask then."""
        return is_encoder(self.session.checkpoint)

    def reads_input(self) -> bool:
        """True when the current model is an encoder-decoder: the box is its input, the output apart."""
        return reads_input(self.session.checkpoint)

    def _show_mode(self) -> None:
        self.modes.setCurrentWidget(self.fill_mask_page if self.fills_masks() else self.decoder_page)
        self._refresh_mask_hint()
        writes = self.reads_input()
        self.generate_button.setToolTip(
            "Read the input and write its output with the settings on the left (Ctrl+Enter)."
            if writes
            else "Continue the prompt with the settings on the left (Ctrl+Enter)."
        )
        self.output_tab.set_output_only(writes)
        self.beams_tab.set_output_only(writes)

    def _refresh_mask_hint(self) -> None:
        self.mask_hint.setVisible(
            self.session.checkpoint is not None
            and not self.fills_masks()
            and not self.reads_input()  # T5 marks a gap with a sentinel, and fills it itself
            and "[MASK]" in self.prompt_edit.toPlainText()
        )

    def clear_output(self) -> None:
        """Empty the Output tab (and forget the random state), so Step starts from the prompt again."""
        if self.job is None:
            self._reset_outputs()
            self._update_buttons()

    def _reset_outputs(self) -> None:
        self.output_tab.clear()
        self.beams_tab.clear()
        self.samples_area.clear()
        self.compare_area.clear()
        self._output_prompt = None
        self._generator, self._generator_seed = None, None
        self.status.setText("")
        self.notice.hide()

    def set_template(self, template) -> None:
        """A prompt template from the Prompt step: its text goes in the prompt box, its example separator
        becomes a stop string, and it is kept for the zero-shot vs few-shot comparison."""
        self.compare_tab.set_template(template)
        self.controls.use_template_stop(getattr(template, "example_separator", ""))
        try:
            text = template.render().text
        except Exception as e:  # a template the Prompt step could not render: say so, keep the old prompt
            self.session.error(f"The prompt template could not be rendered: {e}")
            text = None
        if text is not None and self.fills_masks():
            self.fill_mask_page.set_text(text)  # a template whose answer is a [MASK]
        elif text is not None:
            self.prompt_edit.setPlainText(text)
        self._update_buttons()

    # ================================================================== state

    def readiness_problem(self) -> Optional[str]:
        if self.session.checkpoint is None:
            return "Load the demo model or train a model first."
        problems = self.settings().problems()
        return " ".join(problems) if problems else None

    def _update_buttons(self, *_) -> None:
        idle = self.job is None
        ok = self.readiness_problem() is None
        strategy = self.strategy.currentData()
        self.generate_button.setEnabled(idle and ok)
        self.step_button.setEnabled(idle and ok and strategy != "beam")
        self.step_button.setToolTip(
            "Generate exactly one token and show, step by step, how each setting reshaped the distribution "
            "it was drawn from (Ctrl+Shift+Enter)."
            + (
                "<br><i>Off now: beam search keeps several continuations at once; Step works for greedy and sample.</i>"
                if strategy == "beam"
                else ""
            )
        )
        self.stop_button.setEnabled(not idle)
        self.clear_button.setEnabled(idle)
        self.samples_tab.update_for(strategy, idle and ok)
        self.compare_button.setEnabled(idle and ok and strategy != "beam" and self.compare_tab.template is not None)

    def _jobs_changed(self) -> None:
        """The generation started or ended: the buttons, and an explanation that waited for it to end."""
        self._update_buttons()
        self.output_tab.explain_if_waiting()

    def _start(self, fn: Callable, *args, doing: str, partial=None, result=None, cancelled=None) -> Job:
        """Run job `fn(models, checkpoint, *args)` in the generation slot, its signals to these slots."""
        self.output_tab.drop_explanation()  # it explains the output this job replaces or extends
        job = Job(fn, self.session.models, self.session.checkpoint, *args, doing=doing)
        self.status.start_timing()
        for signal, slot in (
            (job.partial, partial),
            (job.result, result),
            (job.cancelled, cancelled),
            (job.error, self._on_error),
        ):
            if slot is not None:
                signal.connect(slot)
        return self.slot.start(job)

    def _ready_settings(self) -> Optional[SamplingSettings]:
        """The settings to generate with, or None (and a message) when generation cannot start."""
        if self.job is not None:
            return None
        problem = self.readiness_problem()
        if problem is not None:
            self.session.error(problem)
            return None
        return self.settings()

    def _want_attention(self) -> bool:
        """Whether the generation hands its attention rows to the Attention Lab. An encoder-decoder's
        rows (`Seq2SeqRows`: decoder, cross, encoder) are gathered as they come; the Lab takes its three
        kinds apart (`seq2seq_look.pair_of_rows`)."""
        return self.feed.want_attention()

    def _new_generator(self, seed):
        self._generator, self._generator_seed = _jobs().seeded_generator(seed), seed
        return self._generator

    # ================================================================== actions

    def generate(self) -> Optional[Job]:
        """Continue the prompt (or run beam search), streaming into the Output tab."""
        settings = self._ready_settings()
        if settings is None:
            return None
        if settings.strategy == "beam":
            return self._start_beam(settings)
        text = self.prompt_edit.toPlainText()
        self._reset_outputs()
        self.tabs.setCurrentWidget(self.output_tab)
        generator = self._new_generator(settings.seed)
        self.output_tab.run_key = distribution_key(settings)
        self.status.setText("Generating…")
        return self._start(
            _jobs().generate_text,
            text,
            settings,
            generator,
            self._want_attention(),
            doing="generating text",
            partial=self._on_generated,
            result=lambda _: self.status.finished(self.output.tokens(), cancelled=False),
            cancelled=lambda: self.status.finished(self.output.tokens(), cancelled=True),
        )

    def step(self) -> Optional[Job]:
        """Generate exactly one more token and show how each setting shaped its distribution."""
        settings = self._ready_settings()
        if settings is None or settings.strategy == "beam":
            return None
        text = self.prompt_edit.toPlainText()
        continuing = self._output_prompt == text and bool(self._prompt_ids)
        if not continuing:
            self._reset_outputs()
        self.tabs.setCurrentWidget(self.output_tab)
        if self._generator is None or self._generator_seed != settings.seed or not continuing:
            self._new_generator(settings.seed)
        key = distribution_key(settings)
        prompt_ids, generated = list(self._prompt_ids), self.output.generated_ids()
        return self._start(
            _jobs().step_token,
            text,
            prompt_ids,
            generated,
            settings,
            self._generator,
            self._want_attention(),
            doing="generating one token",
            partial=self._on_generated,
            result=lambda token: self._stepped(token, key),
            cancelled=self.status.stopped_by_you,
        )

    def _start_beam(self, settings) -> Job:
        text = self.prompt_edit.toPlainText()
        self.tabs.setCurrentWidget(self.beams_tab)
        self.beams_tab.clear()
        self.status.setText("Beam search…")
        return self._start(
            _jobs().search_beams,
            text,
            settings,
            doing="searching beams",
            partial=self._on_beam_partial,
            result=self._beams_found,
            cancelled=self._beams_stopped,
        )

    def generate_samples(self) -> Optional[Job]:
        """N samples of the prompt with seeds seed, seed + 1, …, side by side."""
        settings = self._ready_settings()
        if settings is None or settings.strategy == "beam":
            return None
        seeds = _jobs().sample_seeds(settings.seed, self.samples_count.value())
        runs = self.samples_tab.start_runs(self.prompt_edit.toPlainText(), settings, seeds)
        self.tabs.setCurrentWidget(self.samples_tab)
        self.status.setText(f"Generating {len(seeds)} samples…")
        return self._start_columns(runs, self.samples_area, doing="generating samples")

    def compare_prompts(self) -> Optional[Job]:
        """The template zero-shot and in its own mode, generated with the same settings, side by side."""
        if self.compare_tab.template is None:
            self.session.warn("Send a few-shot prompt from the Prompt panel first.")
            return None
        settings = self._ready_settings()
        if settings is None or settings.strategy == "beam":
            return None
        try:
            runs = self.compare_tab.start_runs(settings)
        except Exception as e:
            self.session.error(f"The prompt template could not be rendered: {e}")
            return None
        self.tabs.setCurrentWidget(self.compare_tab)
        self.status.setText("Generating zero-shot and " + self.compare_tab.other_mode() + "…")
        return self._start_columns(runs, self.compare_area, doing="comparing prompts")

    def _start_columns(self, runs: list, area, *, doing: str) -> Job:
        """Generate `runs` (prompt, settings) side by side into the columns of `area`."""
        return self._start(
            _jobs().generate_columns,
            runs,
            doing=doing,
            partial=lambda item: self._on_column(area, item),
            result=self._columns_done,
            cancelled=self.status.stopped_by_you,
        )

    def stop(self) -> None:
        """Stop the running generation; what it made so far stays."""
        if self.job is not None:
            self.slot.cancel()
            self.status.setText("Stopping…")

    @property
    def load_job(self) -> Optional[Job]:
        """The job loading the demo model, while it runs."""
        return self.empty_state.load_job

    def load_demo(self) -> Optional[Job]:
        """Load the demo model that ships with the app (in a job) and make it the session's model."""
        return self.empty_state.load_demo()

    def is_busy(self) -> bool:
        """True while any job of this panel runs or is about to start (tests and screenshots wait on it)."""
        loading = self.load_job is not None or self.mask_hint.load_job is not None
        return self.slot.busy or self.output_tab.busy or loading or self.fill_mask_page.is_busy()

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every job of this panel and wait for them (on close, quit and in tests)."""
        self.output_tab.explain_timer.stop()
        held = (self.slot.job, self.explain_slot.job, self.load_job, self.mask_hint.load_job)
        jobs = [job for job in held if job is not None]
        for job in jobs:
            job.cancel()
        return all(job.wait(timeout_ms) for job in jobs) and self.fill_mask_page.stop_and_wait(timeout_ms)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.stop_and_wait()
        super().closeEvent(event)

    # ================================================================== what jobs report

    def _on_generated(self, item) -> None:
        """The prompt as the model reads it (a PromptPrepared; an encoder-decoder's input is an
        InputPrepared), or one more token (a TokenGenerated)."""
        if isinstance(item, _jobs().PromptPrepared):
            self.prompt_box.show_notice(item)
            self.output_tab.show_read(item)
            self.output_tab.prompt_ids, self._output_prompt = list(item.prepared.ids), item.text
            self.feed.announce(self._prompt_ids)
            return
        token = item.token
        self.output.append_token(token)
        self.status.token_streamed(self.output.token_count())
        self.feed.announce(self._prompt_ids, token)

    def _stepped(self, token, key: tuple) -> None:
        if token is None:
            return
        self.output_tab.step_keys[token.index] = key
        self.output.append_token(token)
        self.feed.announce(self._prompt_ids, token)
        self.output.select(-1)
        self.status.stepped(token, self._specials)

    def _on_beam_partial(self, item) -> None:
        """The prompt (a PromptPrepared) or a step of the search (a BeamsUpdate)."""
        if isinstance(item, _jobs().PromptPrepared):
            self.prompt_box.show_notice(item)
        else:
            self.beams_tab.show_update(item)

    def _beams_drawn(self, steps: int, live: int) -> None:
        if self.job is not None:
            self.status.beams_drawn(steps, live)

    def _beams_found(self, result) -> None:
        self.beams_tab.show_result(result)
        self.status.beams_found(result)

    def _beams_stopped(self) -> None:
        result = self.beams_tab.result_so_far()
        if result is not None:
            self.beams_tab.show_result(result)
        self.status.beams_stopped(result)

    def _on_column(self, area, item) -> None:
        """A column's prompt (a ColumnPrompt) or its next token (a ColumnToken)."""
        if isinstance(item, _jobs().ColumnPrompt):
            area.show_prompt(item.column, item.prompt)
        else:
            area.add_token(item.column, item.token)

    def _columns_done(self, _) -> None:
        self.status.setText("Done: the columns are ready to compare.")

    def _on_error(self, message: str) -> None:
        self.session.error(message)
        self.status.setText("Generation failed: see the message above.")

    # ================================================================== workspace

    def state(self) -> dict:
        """The prompt text and the sampling settings, for a workspace."""
        settings = self.settings()
        values = {name: getattr(settings, name) for name in settings.__dataclass_fields__}
        values["stop_strings"] = list(settings.stop_strings)
        return {
            "prompt": self.prompt_edit.toPlainText(),
            "samples": self.samples_count.value(),
            "tab": self.tabs.currentIndex(),
            "settings": values,
            "fill_mask": self.fill_mask_page.state(),
        }

    def restore_state(self, state: dict) -> None:
        """Set the controls from a `state()` dict; a missing or wrong value leaves its control as it is."""
        values = state.get("settings")
        if isinstance(values, dict):
            known = SamplingSettings.__dataclass_fields__
            values = {k: v for k, v in values.items() if k in known}
            if isinstance(values.get("stop_strings"), list):
                values["stop_strings"] = tuple(str(s) for s in values["stop_strings"])
            try:
                self.set_settings(replace(SamplingSettings(), **values))
            except (TypeError, ValueError, OverflowError):
                self.session.warn("The workspace's sampling settings could not be read; the current ones stay.")
        if isinstance(state.get("prompt"), str):
            self.prompt_edit.setPlainText(state["prompt"])
        samples = state.get("samples")
        if isinstance(samples, int) and not isinstance(samples, bool):
            self.samples_count.setValue(samples)
        if isinstance(state.get("fill_mask"), dict):
            self.fill_mask_page.restore_state(state["fill_mask"])
        tab = state.get("tab")
        if isinstance(tab, int) and not isinstance(tab, bool) and 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)
