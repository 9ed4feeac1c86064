"""pytest-qt tests for the Train step: curves fill in, Pause/Stop work, closing mid-run saves."""

from pathlib import Path

import pytest

from playground.core.config import ModelConfig
from playground.core.progress import run_quietly
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process


@pytest.fixture
def ready_session(session, tiny_corpus):
    corpus, stats = tiny_corpus
    spec = spec_for_kind("bpe", vocab_size=300)
    tok = LoadedTokenizer(run_quietly(train_in_process(corpus, spec)), name="bpe-300", spec=spec)
    session.set_corpus(corpus, stats)
    session.add_tokenizer(tok)
    config = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, n_embd=16)
    session.set_model_config(config, True)
    return session


@pytest.fixture
def train_panel(qtbot, ready_session, tmp_path, monkeypatch, jobs):
    import playground.core.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    from playground.ui.training_panel import TrainingPanel

    panel = TrainingPanel(ready_session)
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    qtbot.waitUntil(lambda: panel.plots_ready)
    panel.batch.setValue(4)
    panel.eval_interval.setValue(10)
    panel.sample_interval.setValue(20)
    panel.warmup.setValue(2)
    return panel


def finish(qtbot, jobs, timeout=60_000):
    """Wait for the jobs started so far to end (connected before they started: no race)."""
    jobs.wait(qtbot, timeout)


def test_start_is_disabled_until_the_model_can_be_built(qtbot, session):
    from playground.ui.training_panel import TrainingPanel

    panel = TrainingPanel(session)
    qtbot.addWidget(panel)
    assert not panel.start_button.isEnabled()
    assert "tokenizer" in panel.ready_label.text()


def test_invalid_build_disables_start(qtbot, train_panel, ready_session):
    assert train_panel.start_button.isEnabled()
    bad = ready_session.model_config.replace(n_embd=15)
    ready_session.set_model_config(bad, False)
    assert not train_panel.start_button.isEnabled()
    assert "cannot be built" in train_panel.ready_label.text()


def test_short_run_draws_curves_and_samples(qtbot, train_panel, ready_session, jobs):
    train_panel.steps.setValue(30)
    job = train_panel.start()
    assert job is not None and not train_panel.start_button.isEnabled()
    finish(qtbot, jobs)
    xs, ys = train_panel.train_curve.getData()
    assert len(xs) == 30 and xs[-1] == 30
    vx, vy = train_panel.val_curve.getData()
    assert list(vx) == [0, 10, 20, 30]
    assert vy[-1] < vy[0]  # it learned something
    assert "step 20" in train_panel.samples.toPlainText()
    assert train_panel.stats["step"].value.text() == "30 / 30"
    assert ready_session.checkpoint is not None and ready_session.checkpoint.step == 30
    assert train_panel.start_button.isEnabled() and train_panel.resume_run_button.isEnabled()
    # The bar names the run folder (a whole path would not fit); the tooltip has the path.
    run_dir = Path(train_panel.run_dir)
    assert train_panel.progress.format() == f"Done: saved as {run_dir.name}"
    assert train_panel.progress.toolTip() == f"Saved in {run_dir}"


def test_pause_resume_and_stop(qtbot, train_panel, jobs):
    train_panel.steps.setValue(100_000)
    job = train_panel.start()
    qtbot.waitUntil(lambda: len(train_panel.steps_x) > 3, timeout=30_000)
    train_panel.toggle_pause()
    assert job.paused and train_panel.pause_button.text() == "Resume"
    qtbot.wait(300)
    n = len(train_panel.steps_x)
    qtbot.wait(500)
    assert len(train_panel.steps_x) <= n + 1  # at most the step in flight
    train_panel.toggle_pause()
    qtbot.waitUntil(lambda: len(train_panel.steps_x) > n + 2, timeout=30_000)
    train_panel.stop()
    finish(qtbot, jobs, 30_000)
    assert train_panel.job is None
    assert train_panel.stop_reason == "stopped"
    assert (train_panel.last_run_dir / "last" / "model.safetensors").exists()


def test_continue_last_run_keeps_counting(qtbot, train_panel, jobs):
    train_panel.steps.setValue(10)
    assert train_panel.start() is not None
    finish(qtbot, jobs)
    train_panel.steps.setValue(20)
    assert train_panel.continue_last_run() is not None
    finish(qtbot, jobs)
    assert train_panel.steps_x[-1] == 20
    assert train_panel.steps_x[:10] == list(range(1, 11))


def test_nan_loss_stops_with_advice(qtbot, train_panel, ready_session, jobs):
    train_panel.steps.setValue(400)
    import playground.core.training as training

    real = training.TrainingRun.steps

    def poisoned(self, cancel=None):  # a NaN loss at step 15, whatever the data
        import torch

        original = self.model.forward

        def forward(*a, **k):
            out = original(*a, **k)
            if self.step >= 14 and out.loss is not None:
                out.loss = out.loss * torch.tensor(float("nan"))
            return out

        self.model.forward = forward
        yield from real(self, cancel)

    training.TrainingRun.steps = poisoned
    try:
        messages = []
        ready_session.message.connect(lambda level, text: messages.append((level, text)))
        assert train_panel.start() is not None
        finish(qtbot, jobs)
    finally:
        training.TrainingRun.steps = real
    assert train_panel.stop_reason == "nan"
    assert any(level == "error" and "learning rate" in text for level, text in messages)
    assert (train_panel.last_run_dir / "last" / "model.safetensors").exists()


@pytest.fixture
def window_training(qtbot, ready_session, tmp_path, monkeypatch, jobs):
    """The real window with a long run under way (a few steps done)."""
    import playground.core.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    from playground.ui.main_window import MainWindow

    window = MainWindow(ready_session)
    qtbot.addWidget(window)
    window.show()
    panel = window.training_panel
    panel.batch.setValue(4)
    panel.steps.setValue(100_000)
    panel.eval_interval.setValue(1000)
    job = panel.start()
    qtbot.waitUntil(lambda: len(panel.steps_x) > 3, timeout=30_000)
    return window, panel, job


def test_closing_the_window_mid_run_stops_and_saves(qtbot, ready_session, window_training):
    window, panel, _ = window_training
    asked = []
    window.ask_stop_training = lambda: asked.append(True) or True
    window.close()
    from playground.engine.jobs import Job

    assert asked and Job.running() == [] and panel.job is None
    assert not ready_session.training
    meta = (panel.last_run_dir / "last" / "meta.json").read_text()
    assert '"step"' in meta
    from playground.core.checkpoints import load_checkpoint

    checkpoint, _ = load_checkpoint(panel.last_run_dir, which="last")
    assert checkpoint.step >= 3


def test_closing_can_be_refused(qtbot, window_training, jobs):
    window, panel, job = window_training
    window.ask_stop_training = lambda: False
    window.close()
    assert job.isRunning() and window.isVisible()
    panel.stop()
    finish(qtbot, jobs, 30_000)


def test_corpus_shorter_than_context_is_explained(qtbot, train_panel, ready_session, jobs):
    from playground.core.corpus import corpus_from_text, scan_corpus

    short = corpus_from_text("The cat sat.\n", name="short")
    ready_session.set_corpus(short, run_quietly(scan_corpus(short)))
    messages = []
    ready_session.message.connect(lambda level, text: messages.append((level, text)))
    assert train_panel.start() is not None
    finish(qtbot, jobs)
    assert messages and messages[-1][0] == "error"
    assert "context" in messages[-1][1] and "corpus" in messages[-1][1]
    assert train_panel.start_button.isEnabled()


def test_fine_tune_refuses_a_folder_that_is_not_a_checkpoint(qtbot, train_panel, ready_session, tmp_path, jobs):
    messages = []
    ready_session.message.connect(lambda level, text: messages.append((level, text)))
    (tmp_path / "holiday-photos").mkdir()
    assert train_panel.set_init_from(tmp_path / "holiday-photos") is not None  # read in a job
    finish(qtbot, jobs)
    assert messages and "not a checkpoint" in messages[-1][1]
    assert train_panel.init_from is None


def test_fine_tune_shows_the_parent_run(qtbot, train_panel, ready_session, jobs):
    train_panel.steps.setValue(20)
    assert train_panel.start() is not None
    finish(qtbot, jobs)
    parent = train_panel.last_run_dir
    assert train_panel.set_init_from(parent) is not None  # read in a job
    finish(qtbot, jobs)
    assert "Fine-tune" in train_panel.start_from.text()
    assert len(train_panel.parent_x) == 20 and max(train_panel.parent_x) <= 0
    train_panel.steps.setValue(10)
    assert train_panel.start() is not None
    finish(qtbot, jobs)
    assert train_panel.steps_x == list(range(1, 11))
    assert train_panel.parent_curve.getData()[0] is not None
    assert ready_session.checkpoint.parent is not None  # the new model remembers its parent


def test_stop_makes_the_saved_model_current_and_locks_settings_while_running(qtbot, train_panel, ready_session, jobs):
    train_panel.steps.setValue(100_000)
    train_panel.eval_interval.setValue(5)
    assert train_panel.start() is not None
    assert not train_panel.controls.isEnabled()  # settings cannot drift from the run
    said = []
    ready_session.message.connect(lambda level, text: said.append(text))
    qtbot.waitUntil(lambda: train_panel.last_run_dir is not None, timeout=30_000)
    qtbot.waitUntil(lambda: train_panel.stat_grid.stats["eta"].value.text() not in ("", "—"), timeout=30_000)
    train_panel.stop()
    finish(qtbot, jobs, 30_000)
    assert train_panel.controls.isEnabled() and train_panel.run is None
    checkpoint = ready_session.checkpoint
    assert checkpoint is not None and checkpoint.step >= 5
    # The banner names the step of the model now in use: the status bar's model shows the same step.
    stopped = [t for t in said if t.startswith("Training stopped at step")]
    assert len(stopped) == 1 and f"step {checkpoint.step:,}" in stopped[0].split(".", 1)[1]
    assert train_panel.progress.format().startswith("Stopped at step")
    assert train_panel.stat_grid.stats["eta"].value.text() == "—"  # no "time left" once the run is over


def test_a_failed_start_leaves_no_empty_run_behind(qtbot, train_panel, ready_session, tmp_path, jobs):
    from playground.core.corpus import corpus_from_text, scan_corpus

    short = corpus_from_text("The cat sat.\n", name="short")
    ready_session.set_corpus(short, run_quietly(scan_corpus(short)))
    assert train_panel.start() is not None
    finish(qtbot, jobs)
    assert train_panel.last_run_dir is None and not train_panel.resume_run_button.isEnabled()
    runs = tmp_path / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []


def test_a_model_too_big_for_memory_cannot_start(qtbot, train_panel, ready_session, monkeypatch):
    import playground.core.estimates as estimates

    monkeypatch.setattr(estimates, "available_system_memory", lambda: estimates.AvailableMemory(1024, "test"))
    train_panel.batch.setValue(8)
    assert not train_panel.start_button.isEnabled()
    assert "smaller batch size" in train_panel.ready_label.text()
    assert train_panel.start() is None


def test_closing_waits_for_a_slow_save_with_the_window_shown(qtbot, ready_session, window_training, monkeypatch):
    import time

    from PySide6.QtCore import QTimer

    import playground.core.training as training

    window, panel, _ = window_training
    real_save = training.save_checkpoint

    def slow_save(*args):  # a slow disk: the window must wait, however long it takes
        time.sleep(1.5)
        return real_save(*args)

    monkeypatch.setattr(training, "save_checkpoint", slow_save)
    window.ask_stop_training = lambda: True
    seen = []
    QTimer.singleShot(
        500,
        lambda: seen.append(
            (window.isVisible(), window.statusBar().currentMessage(), window.centralWidget().isEnabled())
        ),
    )
    window.close()
    from playground.engine.jobs import Job

    assert seen and seen[0][0] and seen[0][1].startswith("Saving a checkpoint") and not seen[0][2]
    assert not window.isVisible() and Job.running() == [] and panel.job is None
    from playground.core.checkpoints import load_checkpoint

    assert load_checkpoint(panel.last_run_dir, which="last")[0].step >= 3


def test_a_save_that_fails_on_closing_keeps_the_window(qtbot, ready_session, window_training, monkeypatch):
    import errno

    import playground.core.checkpoints as checkpoints

    window, panel, _ = window_training

    def disk_full(path, state):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints, "_write_state", disk_full)
    messages = []
    ready_session.message.connect(lambda level, text: messages.append((level, text)))
    window.ask_stop_training = lambda: True
    window.close()
    assert window.isVisible() and panel.job is None
    assert messages[-1][0] == "error" and "the disk is full" in messages[-1][1]
    assert "could not be saved" in window.statusBar().currentMessage()
    window.close()  # a second time: quit anyway
    assert not window.isVisible()


def test_training_into_a_folder_that_holds_files_asks_first(qtbot, train_panel, tmp_path, monkeypatch, jobs):
    import playground.core.checkpoints as checkpoints

    folder = tmp_path / "kept"
    folder.mkdir()
    (folder / "history.json").write_text("my notes")
    monkeypatch.setattr(checkpoints, "new_run_dir", lambda name: folder)
    asked = []
    train_panel.ask_overwrite = lambda path: asked.append(path) or False
    train_panel.steps.setValue(4)
    assert train_panel.start() is None and asked == [folder] and train_panel.job is None
    assert (folder / "history.json").read_text() == "my notes"

    train_panel.ask_overwrite = lambda path: True
    assert train_panel.start() is not None
    finish(qtbot, jobs)
    assert train_panel.last_run_dir == folder and (folder / "last" / "model.safetensors").exists()


def test_continuing_with_more_steps_says_the_schedule_was_replanned(qtbot, train_panel, ready_session, jobs):
    train_panel.steps.setValue(10)
    assert train_panel.start() is not None
    finish(qtbot, jobs)
    messages = []
    ready_session.message.connect(lambda level, text: messages.append((level, text)))
    train_panel.steps.setValue(20)
    assert train_panel.continue_last_run() is not None
    finish(qtbot, jobs)
    assert (
        "info",
        "The learning-rate schedule is now planned for 20 steps: from step 11 on, every step gets "
        "exactly the learning rate of a run planned for 20 steps from the start, but steps 4 to 10 were "
        "trained on the earlier plan, so the result will differ from 20 steps trained in one go.",
    ) in messages


# -- nothing slow on the GUI thread ------------------------------------------------------------------


@pytest.fixture
def warmed_up():
    """As the app's start-up job does after torch loads: the first optimizer's compiler import is paid
    (in a job there) before the person can start training, and what it imported is out of the collector's way."""
    import gc

    from playground.core.startup import warm_up_training

    warm_up_training()
    yield
    gc.unfreeze()


@pytest.fixture
def slow_loads(monkeypatch):
    """Every checkpoint load takes 0.3 s longer (a big model, a slow disk): on the GUI thread that is a freeze.

    Yields the names of the heavy calls (loads, building the optimizer) that ran on the GUI thread: none should.
    """
    import threading
    import time

    import playground.core.checkpoints as checkpoints
    import playground.core.training as training

    on_gui_thread = []

    def watched(name, fn, delay_s=0.0):
        def call(*args, **kwargs):
            if threading.current_thread() is threading.main_thread():
                on_gui_thread.append(name)
            time.sleep(delay_s)
            return fn(*args, **kwargs)

        return call

    slow_load = watched("load_checkpoint", checkpoints.load_checkpoint, 0.3)
    monkeypatch.setattr(checkpoints, "load_checkpoint", slow_load)
    monkeypatch.setattr(training, "load_checkpoint", slow_load)  # a fine-tune's parent, read by the run
    monkeypatch.setattr(training, "make_optimizer", watched("make_optimizer", training.make_optimizer))
    yield on_gui_thread


def test_finishing_a_run_keeps_the_window_smooth(
    qtbot, train_panel, ready_session, jobs, watchdog, warmed_up, slow_loads
):
    """From the run's last record to its saved model being the current one: the load happens in a job."""
    ended = []

    def on_message(level: str, text: str) -> None:
        if text.startswith("Training finished"):  # the run's StoppedRecord has reached the panel
            watchdog.reset()
            ended.append(text)

    ready_session.message.connect(on_message)
    train_panel.steps.setValue(20)
    assert train_panel.start() is not None
    finish(qtbot, jobs)
    assert ended
    watchdog.assert_smooth("a training run ended and the model it saved was loaded")
    assert slow_loads == []
    assert ready_session.checkpoint is not None and ready_session.checkpoint.step == 20
    assert not ready_session.training and train_panel.start_button.isEnabled()


def test_starting_a_fine_tune_keeps_the_window_smooth(
    qtbot, train_panel, ready_session, jobs, watchdog, warmed_up, slow_loads
):
    """Choosing the checkpoint to fine-tune (read in a job), then starting: up to the run's first step."""
    train_panel.steps.setValue(10)
    assert train_panel.start() is not None
    finish(qtbot, jobs)
    parent = train_panel.last_run_dir

    train_panel.steps.setValue(100_000)
    qtbot.wait(50)  # the new schedule is drawn

    watchdog.reset()
    train_panel.set_init_from(parent)
    assert not train_panel.start_button.isEnabled()  # until the parent is read
    finish(qtbot, jobs)
    assert train_panel.init_from == parent and train_panel.start_button.isEnabled()
    assert train_panel.start() is not None
    try:
        qtbot.waitUntil(lambda: len(train_panel.steps_x) >= 1, timeout=30_000)
        watchdog.assert_smooth("a fine-tune was chosen and started")
    finally:
        train_panel.stop()
        finish(qtbot, jobs, 30_000)
    assert slow_loads == []
    assert ready_session.checkpoint.parent is not None


def test_the_loss_legend_keeps_to_the_top_right_corner_as_the_plot_resizes(qtbot, session):
    """The charts place the legend themselves (pyqtgraph's anchor read a deleted view box when Qt deleted a
    closed Train panel during the next test: run test_invalid_build_disables_start, then
    test_plots_made_in_presentation_mode_are_big_and_small_again_after_it, with the anchor back to see it)."""
    from playground.ui.training_panel import TrainingPanel

    panel = TrainingPanel(session)
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    qtbot.waitUntil(lambda: panel.plots_ready)
    charts = panel.charts
    legend, box = charts.loss_plot.plotItem.legend, charts.loss_plot.getViewBox()

    def gap_right() -> float:
        return box.boundingRect().width() - legend.pos().x() - legend.boundingRect().width()

    assert gap_right() == pytest.approx(charts.LEGEND_MARGIN, abs=1) and legend.pos().y() == charts.LEGEND_MARGIN
    panel.resize(1500, 800)
    qtbot.waitUntil(lambda: abs(gap_right() - charts.LEGEND_MARGIN) <= 1)
