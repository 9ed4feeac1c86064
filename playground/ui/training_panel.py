"""The Train step: train the model from the Build step on the current corpus, live."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground.core.loading import load_trained_model, read_checkpoint
from playground.core.progress import CancelToken, Progress, UserError
from playground.core.training_job import RunStarted, StepBatch, TrainingRequest, train
from playground.engine.jobs import Job, JobSlot
from playground.engine.session import Session
from playground.ui.themes import themed_text
from playground.ui.training_readiness import missing_tokens, readiness_problem

if TYPE_CHECKING:
    from playground.core.attention import LiveProbe
    from playground.core.training import TrainingRun


class TrainingPanel(QWidget):
    title = "Train"
    concept = (
        "<b>Training</b><br>The model reads a window of tokens and guesses each next token. "
        "The <i>loss</i> measures how surprised it was; each step nudges every parameter "
        "to be a little less surprised.<br><br><i>Validation loss</i> is measured on text the "
        "model never trains on: when it stops falling while training loss keeps falling, "
        "the model is memorising.<br><br><i>Perplexity</i> = e<sup>loss</sup>: roughly how many "
        "tokens the model is torn between.<br><br>An <i>encoder</i> (BERT) learns otherwise: it guesses "
        "tokens hidden behind [MASK], and its curve shows the share it gets right. An <i>encoder-decoder</i> "
        "(T5) reads an input and learns to write its output: spans dropped from the corpus, or a task's answers."
    )

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        # The run, then the load of the model it saved: one after the other, so the step is busy until both end.
        self.slot = JobSlot(self)
        self.parent_slot = JobSlot(self)  # reading the checkpoint to fine-tune
        self.run: Optional[TrainingRun] = None  # the run while it trains
        self.probe: Optional[LiveProbe] = None  # its probe (the Attention Lab's sentence)
        self.stop_token: Optional[CancelToken] = None  # "save, then stop" for the run under way
        self.init_from: Optional[Path] = None
        self.last_run_dir: Optional[Path] = None
        self.steps_x: list[float] = []
        self.steps_y: list[float] = []
        self.val_x: list[float] = []
        self.val_y: list[float] = []
        self.train_eval_y: list[float] = []
        self.accuracy_x: list[float] = []  # an encoder's masked-token accuracy, per evaluation
        self.accuracy_y: list[float] = []
        self.parent_x: list[float] = []
        self.parent_y: list[float] = []
        self.stop_reason = ""
        self.last_error: Optional[str] = None  # why the latest run failed (a failed save, say)
        self._build()
        for signal in (
            session.model_config_changed,
            session.tokenizer_changed,
            session.corpus_changed,
            session.device_changed,
        ):
            signal.connect(lambda *_: self._update_ready())
        session.probe_text_changed.connect(self._on_probe_text_changed)
        self.parent_slot.changed.connect(self._update_ready)
        self._update_ready()

    @property
    def job(self) -> Optional[Job]:
        """The training job while a run goes on, then the job that loads the model it saved; else None."""
        return self.slot.job

    @property
    def plots_ready(self) -> bool:
        """Whether the charts are made (on the panel's first show)."""
        return self.charts.ready

    def advanced_widgets(self) -> list[QWidget]:
        """Controls presentation mode hides: the defaults serve a first look; the numbers a room needs not."""
        return self.controls.advanced_widgets() + self.stat_grid.advanced_widgets()

    # ================================================================== layout

    def _build(self) -> None:
        from playground.ui.widgets.controls_column import ControlsColumn
        from playground.ui.widgets.train_settings import TrainSettings
        from playground.ui.widgets.training_charts import TrainingCharts
        from playground.ui.widgets.training_samples import TrainingSamples
        from playground.ui.widgets.training_stats import TrainingStats

        # The settings' controls, shared under the same names (tests, presentation mode and workspaces reach them here).
        self.controls = c = controls = TrainSettings()
        self.data_label, self.val_fraction, self.start_from = c.data_label, c.val_fraction, c.start_from
        self.pick_init, self.clear_init = c.pick_init, c.clear_init
        self.batch, self.lr, self.warmup, self.min_lr = c.batch, c.lr, c.warmup, c.min_lr
        self.weight_decay, self.grad_clip, self.accum, self.steps = c.weight_decay, c.grad_clip, c.accum, c.steps
        self.eval_interval, self.sample_interval, self.seed = c.eval_interval, c.sample_interval, c.seed
        self.device, self.precision, self.compile = c.device, c.precision, c.compile
        self.mask_share = c.mask_share
        self.seq2seq = c.seq2seq  # an encoder-decoder's objective, task and span settings
        self.seq2seq.changed.connect(self._update_ready)
        self.pick_init.clicked.connect(self._choose_init)
        self.clear_init.clicked.connect(lambda: self.set_init_from(None))
        # One batch size in the app: Build's estimates use the one Train trains with.
        self.batch.setValue(self.session.batch_size)  # before anything listens: the panel is half-built
        self.batch.valueChanged.connect(self._update_ready)
        self.batch.valueChanged.connect(self.session.set_batch_size)
        self.session.batch_size_changed.connect(self.batch.setValue)
        self.device.currentIndexChanged.connect(self._update_ready)
        for w in (self.lr, self.warmup, self.min_lr, self.steps):
            w.valueChanged.connect(self._draw_schedule)

        scroll = ControlsColumn(controls, maximum_width=400)

        # ---- right: buttons, numbers, curves, samples
        self.start_button = QPushButton("Start training")
        self.start_button.setToolTip("Train the model from the Build step on the current corpus (Ctrl+Enter).")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause after the current step; Resume carries on exactly where it stopped.")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step and save a checkpoint (Esc).")
        self.stop_button.clicked.connect(self.stop)
        self.resume_run_button = QPushButton("Continue last run")
        self.resume_run_button.setToolTip(
            "Continue the last run from its last checkpoint, for the steps set on the left."
        )
        self.resume_run_button.clicked.connect(self.continue_last_run)
        self.resume_run_button.setEnabled(False)
        QShortcut(QKeySequence("Ctrl+Return"), self).activated.connect(self.start)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self.stop)
        self.ready_label = QLabel()
        self.ready_label.setWordWrap(True)
        self.ready_label.linkActivated.connect(self.session.show_step.emit)  # "build": add the tokens there
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress.setTextVisible(True)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button, self.resume_run_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.stat_grid = TrainingStats()
        self.stats = self.stat_grid.stats  # shared under this name (presentation mode and tests reach it)

        self.charts = TrainingCharts()
        self.samples = TrainingSamples()
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.charts.lr_box)
        bottom.addWidget(self.samples)
        bottom.setSizes([330, 470])
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.charts.loss_box)
        splitter.addWidget(bottom)
        splitter.setSizes([430, 230])

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.addLayout(buttons)
        rl.addWidget(self.progress)  # a row of its own: beside the buttons it would widen the step
        rl.addWidget(self.ready_label)
        rl.addWidget(self.stat_grid)
        rl.addWidget(splitter, 1)

        layout = QHBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(right, 1)
        self._set_running(False)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self.plots_ready:
            QTimer.singleShot(0, self, self._make_plots)

    def _make_plots(self) -> None:
        if self.plots_ready:
            return
        c = self.charts
        c.make()
        # The plots, shared under the panel's names (tests reach them here).
        self.loss_plot, self.train_curve = c.loss_plot, c.train_curve
        self.val_curve, self.parent_curve = c.val_curve, c.parent_curve
        self._draw_schedule()
        self._draw_curves()

    # ================================================================== state

    def train_config(self):
        return self.controls.config()

    def _update_ready(self) -> None:
        s = self.session
        self.controls.show_data(s.corpus, s.tokenizer, s.model_config)
        problem = self.readiness_problem()
        if problem is None:
            self.ready_label.setText("")
        else:
            link = " <a href='build'>Add them in Build</a>" if missing_tokens(self.session) else ""
            themed_text(
                self.ready_label,
                "<span style='color:{error}'>{problem}</span>{link}",
                problem=escape(problem),
                link=link,
            )
        if self.job is None:  # a run under way keeps showing its own kind of model
            self._show_family(s.model_config.family if s.model_config is not None else "decoder")
        self.ready_label.setVisible(problem is not None)
        if self.job is None:
            self.start_button.setEnabled(problem is None and not self.parent_slot.busy)
        cuda = s.device is not None and s.device.kind == "cuda"
        wants_cuda = self.device.currentData() in ("auto", "cuda") and cuda
        self.precision.setEnabled(wants_cuda)
        if not wants_cuda:
            self.precision.setCurrentIndex(0)
        self.precision.setToolTip(
            "Mixed precision computes in 16-bit floats: faster, less memory."
            + ("" if wants_cuda else " Only on a CUDA GPU; this run uses fp32.")
        )

    def readiness_problem(self) -> Optional[str]:
        return readiness_problem(
            self.session,
            self.batch.value(),
            self.device.currentData(),
            self.precision.currentData(),
            self.train_config(),
        )

    def _show_family(self, family: str) -> None:
        """Samples, numbers and curves for a decoder's run, an encoder's or an encoder-decoder's."""
        self.samples.set_family(family)
        self.stat_grid.set_encoder(family == "encoder")
        self.charts.set_encoder(family == "encoder")

    def _set_running(self, running: bool) -> None:
        self.controls.setEnabled(not running)  # settings stay as the run uses them
        self.start_button.setEnabled(not running and self.readiness_problem() is None and not self.parent_slot.busy)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.resume_run_button.setEnabled(not running and self.last_run_dir is not None)
        self.pause_button.setText("Pause")

    # ================================================================== actions

    def _choose_init(self) -> None:
        from playground.core.checkpoints import runs_dir

        folder = QFileDialog.getExistingDirectory(self, "Choose a checkpoint folder to fine-tune", str(runs_dir()))
        if folder:
            self.set_init_from(Path(folder))

    def set_init_from(self, path: Optional[Path]) -> Optional[Job]:
        """Fine-tune from ``path`` (a checkpoint folder), or start fresh with None.

        The checkpoint is read in a job (its weights are checked too): the job,
        or None for a fresh start. A folder that is no checkpoint is an error
        message, and what was chosen before stays.
        """
        if path is None:
            self.parent_slot.cancel()
            self.init_from = None
            self.start_from.setText("A new model with random weights")
            self.clear_init.setEnabled(False)
            return None
        job = Job(read_checkpoint, path, doing=f"reading the checkpoint in {path}")
        job.result.connect(lambda checkpoint, path=path: self._show_parent(path, checkpoint))
        job.error.connect(self.session.error)
        return self.parent_slot.start(job)

    def _show_parent(self, path: Path, checkpoint) -> None:
        self.init_from = path
        self.start_from.setText(
            f"Fine-tune <b>{path.name}</b> (step {checkpoint.step:,}"
            + (f", val loss {checkpoint.val_loss:.3f}" if checkpoint.val_loss is not None else "")
            + ")"
        )
        self.clear_init.setEnabled(True)
        self.parent_x = [h["step"] - checkpoint.step for h in checkpoint.history if "loss" in h]
        self.parent_y = [h["loss"] for h in checkpoint.history if "loss" in h]
        self._draw_curves()

    def start(self, resume: bool = False) -> Optional[Job]:
        if self.job is not None or self.parent_slot.busy:
            return None
        problem = self.readiness_problem()
        if problem is not None:
            self.session.error(problem)
            return None
        from playground.core.checkpoints import check_new_run_dir, new_run_dir

        cfg = self.train_config()
        problems = cfg.validate()
        if problems:
            self.session.error(" ".join(problems))
            return None
        s = self.session
        assert s.model_config is not None  # readiness_problem() checked it
        run_dir = self.last_run_dir if resume else new_run_dir(f"{s.model_config.n_layer}x{s.model_config.n_embd}")
        assert run_dir is not None  # continue_last_run() checked last_run_dir
        overwrite = False
        if not resume:
            try:
                check_new_run_dir(run_dir)
            except UserError:
                if not self.ask_overwrite(run_dir):
                    return None
                overwrite = True
        request = TrainingRequest(
            s.model_config,
            cfg,
            s.tokenizer,
            s.corpus,
            run_dir,
            init_from=None if resume else self.init_from,
            resume=resume,
            overwrite=overwrite,
            probe_text=s.probe_text,
        )
        self._show_family(s.model_config.family)
        if not resume:
            self.steps_x, self.steps_y, self.val_x, self.val_y = [], [], [], []
            self.accuracy_x, self.accuracy_y = [], []
            self.samples.clear()
            if self.init_from is None:
                self.parent_x, self.parent_y = [], []
        self.stop_token = CancelToken()
        job = Job(train, request, self.stop_token, spare_a_core=True, doing="training the model")
        self.progress.setToolTip("")  # the last run's "Saved in …" no longer applies
        self.stop_reason = ""
        self.last_error = None
        job.progress.connect(self._on_progress)
        job.partial.connect(self._on_record)
        job.paused_changed.connect(self._on_paused)
        job.result.connect(self._on_finished)
        job.error.connect(self._on_error)
        job.cancelled.connect(self._on_cancelled)
        job.done.connect(self._on_training_done)
        self.run_dir = run_dir  # becomes last_run_dir once it holds a checkpoint
        self.slot.start(job)
        self._set_running(True)
        self.session.set_training(True)
        self._draw_schedule()
        return job

    def ask_overwrite(self, folder: Path) -> bool:
        """Asked before training into a folder that already holds files (tests replace it)."""
        answer = QMessageBox.question(
            self,
            "The folder is not empty",
            f"{folder} already holds files. Training there replaces config.json, train_config.json, "
            f"tokenizer.json, history.json and any checkpoints in it. Train there anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def continue_last_run(self) -> Optional[Job]:
        if self.last_run_dir is None:
            return None
        return self.start(resume=True)

    def toggle_pause(self) -> None:
        if self.stop_token is None or self.job is None:  # no run under way
            return
        if self.job.paused:
            self.job.resume()
            self.pause_button.setText("Pause")
        else:
            self.job.pause()
            self.pause_button.setText("Resume")

    def stop(self) -> None:
        """Stop the run after the current step; it saves a checkpoint first."""
        if self.stop_token is None:
            return
        self.progress.setFormat("Stopping after this step and saving…")
        self.stop_token.cancel()
        if self.job is not None:
            self.job.resume()  # a paused run must go on to save and stop

    def _on_paused(self, paused: bool) -> None:
        self.progress.setFormat("Paused" if paused else "Training…")

    def _on_probe_text_changed(self, text: str) -> None:
        if self.probe is not None:
            self.probe.set_text(text)  # taken up before the run's next probe

    # ================================================================== records

    def _on_progress(self, p: Progress) -> None:
        if self.run is not None:
            return  # once the run is under way, its steps move the bar (`_show_step`)
        if p.fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(p.fraction * 1000))
        self.progress.setFormat(p.message)

    def _on_record(self, record) -> None:
        from playground.core.attention import ProbeRecord
        from playground.core.encoder_training import FillMaskSample
        from playground.core.seq2seq_training import Seq2SeqSample
        from playground.core.training import CheckpointRecord, EvalRecord, SampleRecord, StoppedRecord

        if isinstance(record, StepBatch):
            for r in record.records:
                self.steps_x.append(r.step)
                self.steps_y.append(r.loss)
            self._show_step(record.records[-1])
            self._draw_curves()
        elif isinstance(record, EvalRecord):
            self.val_x.append(record.step)
            self.val_y.append(record.val_loss)
            if record.masked_accuracy is not None:
                self.accuracy_x.append(record.step)
                self.accuracy_y.append(record.masked_accuracy)
            self.stat_grid.show_eval(record)
            self._draw_curves()
        elif isinstance(record, SampleRecord):
            self.samples.show_text(record)
        elif isinstance(record, FillMaskSample):
            self.samples.show_fill_mask(record)
        elif isinstance(record, Seq2SeqSample):
            self.samples.show_seq2seq(record)
        elif isinstance(record, CheckpointRecord):
            self.last_run_dir = self.run_dir
            self.progress.setFormat(f"Saved the {record.which} checkpoint at step {record.step:,}")
        elif isinstance(record, StoppedRecord):
            self.stop_reason = record.reason
            if record.reason == "nan":
                self.session.error(record.message)
            elif record.message:
                self.session.info(record.message)
        elif isinstance(record, ProbeRecord):
            self.session.attention_probe.emit(record)
        elif isinstance(record, RunStarted):
            self.run, self.probe = record.run, record.probe
            self.probe.set_text(self.session.probe_text)  # edited while the corpus was encoded, perhaps
            for note in self.run.notes:  # precision fallback, a re-planned schedule
                self.session.info(note)
            if self.run.parent_history and not self.parent_x:
                start = self.run.parent_history[-1]["step"] if self.run.parent_history else 0
                self.parent_x = [h["step"] - start for h in self.run.parent_history if "loss" in h]
                self.parent_y = [h["loss"] for h in self.run.parent_history if "loss" in h]
            self.progress.setRange(0, 1000)

    def _show_step(self, r) -> None:
        self.stat_grid.show_step(r)
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * r.step / max(1, r.max_steps)))
        self.progress.setFormat(f"Step {r.step:,} of {r.max_steps:,}")
        self.charts.mark_step(r.step)

    def _draw_curves(self) -> None:
        self.charts.draw_losses(
            (self.steps_x, self.steps_y),
            (self.val_x, self.val_y),
            (self.parent_x, self.parent_y),
            (self.accuracy_x, self.accuracy_y),
        )

    def _draw_schedule(self) -> None:
        if self.plots_ready:
            self.charts.draw_schedule(self.train_config())

    def _on_finished(self, run) -> None:
        self.stat_grid.run_ended()
        if self.stop_reason == "stopped":
            step = f" at step {run.step:,} of {run.train_config.max_steps:,}" if run is not None else ""
            self.progress.setFormat(f"Stopped{step}.")
        elif self.stop_reason != "nan":
            # The folder's name fits the bar; its whole path is in the tooltip and the message above.
            name = Path(self.run_dir).name if self.run_dir else ""
            self.progress.setFormat(f"Done: saved as {name}" if name else "Done.")
            self.progress.setToolTip(f"Saved in {self.run_dir}" if self.run_dir else "")

    def _on_cancelled(self) -> None:
        self.stat_grid.run_ended()
        self.progress.setFormat("Stopped.")

    def _on_error(self, message: str) -> None:
        self.stat_grid.run_ended()
        self.last_error = message
        self.session.error(message)
        self.progress.setFormat("Training failed; see the message above.")

    def _on_training_done(self) -> None:
        """The run is over (finished, stopped, failed): load what it saved as the current model, in a job.

        A run that saved nothing leaves no empty folder behind.
        """
        self.run = self.probe = self.stop_token = None  # let the model and optimizer go before the load
        self.pause_button.setEnabled(False)
        self.stop_button.setEnabled(False)
        run_dir = self.run_dir
        job = Job(
            load_trained_model,
            run_dir,
            self.session.models.device_name,
            keep_if_empty=run_dir == self.last_run_dir,
            doing="loading the trained model",
        )
        job.result.connect(self._adopt)
        job.error.connect(self.session.error)
        job.done.connect(self._on_adopted)
        self.slot.start(job)  # the run's job is ending: this one takes its place in the slot

    def _adopt(self, loaded) -> None:
        if loaded is not None:
            checkpoint, model = loaded
            self.session.set_checkpoint(checkpoint, model)

    def _on_adopted(self) -> None:
        self._set_running(False)
        self.session.set_training(False)
        self.progress.setRange(0, 1000)

    def stop_and_wait(self) -> None:
        """Stop a run and wait until it has saved, however long that takes (used when the window closes).

        The window's events are handled meanwhile, so it stays drawn and shows
        the wait; with no time limit, a slow disk never means a lost save or a
        thread destroyed while it writes. Waits for the load of the saved model too.
        """
        if self.job is None:
            return
        loop = QEventLoop()

        def ended() -> None:
            if not self.slot.busy:
                loop.quit()

        self.slot.changed.connect(ended)
        try:
            self.stop()
            if self.slot.busy:
                loop.exec()
        finally:
            self.slot.changed.disconnect(ended)

    # ================================================================== workspace

    def state(self) -> dict:
        """The training settings, for a workspace."""
        return {"train_config": self.train_config().to_dict()}

    def restore_state(self, state: dict) -> None:
        """Set the controls from a `state()` dict; settings this version does not know are skipped."""
        from dataclasses import fields

        from playground.core.train_config import TrainConfig

        data = state.get("train_config")
        if not isinstance(data, dict):
            return
        known = {f.name for f in fields(TrainConfig)}
        try:
            cfg = TrainConfig.from_dict({k: v for k, v in data.items() if k in known})
            self.controls.set_config(cfg)
        except (UserError, TypeError, ValueError):
            return  # a damaged setting: the controls keep what they had
        self._update_ready()
        self._draw_schedule()
