"""Training in the background: encode the corpus, run the core training loop,
and hand its records to the GUI in batches it can draw.

Pausing is simple because the core loop is a generator: while paused, the
job just does not ask it for the next record.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from playground.core.progress import Progress
from playground.engine.jobs import MIN_INTERVAL_S, Job


@dataclass(frozen=True)
class TrainingRequest:
    model_config: object          # ModelConfig
    train_config: object          # TrainConfig
    tokenizer: object             # LoadedTokenizer
    corpus: object                # Corpus
    run_dir: Path
    init_from: Optional[Path] = None
    resume: bool = False
    overwrite: bool = False       # train into a non-empty run_dir (the person agreed)
    probe_text: str = ""          # a sentence whose attention is captured now and then (the Attention Lab)


@dataclass(frozen=True)
class StepBatch:
    """Step records gathered since the last GUI update (one curve update for many steps)."""

    records: tuple


class TrainingJob(Job):
    """A Job that runs :class:`playground.core.training.TrainingRun` and can pause."""

    def __init__(self, request: TrainingRequest, parent=None) -> None:
        self.request = request
        self._resume_event = threading.Event()
        self._resume_event.set()
        self.run_obj = None  # the TrainingRun, once made
        self.probe = None    # the LiveProbe, once the run is made
        super().__init__(self._work, "training the model", parent)

    @property
    def paused(self) -> bool:
        return not self._resume_event.is_set()

    def pause(self) -> None:
        self._resume_event.clear()

    def resume(self) -> None:
        self._resume_event.set()

    def set_probe_text(self, text: str) -> None:
        """Probe another sentence from now on (called from the GUI thread)."""
        self.request = replace(self.request, probe_text=text)
        if self.probe is not None:
            self.probe.set_text(text)

    def cancel(self) -> None:
        super().cancel()
        self._resume_event.set()  # a paused run must wake up to stop

    def _work(self, report, cancel):
        from playground.core.attention import LiveProbe
        from playground.core.data import check_data, encode_corpus, split_tokens
        from playground.core.training import StepRecord, TrainingRun

        import torch

        # Leave a core for the window: with every core busy the GUI stutters and,
        # on a 2-core laptop, PyTorch's threads wait on each other.
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
        r = self.request
        report(Progress(0.0, "Encoding the corpus into tokens…"))
        ids = encode_corpus(r.corpus, r.tokenizer, progress=report, cancel=cancel)
        data = split_tokens(ids, r.train_config.val_fraction)
        check_data(data, r.model_config.context_length, r.train_config.batch_size)
        report(Progress(None, "Building the model…"))
        run = TrainingRun(r.model_config, r.train_config, r.tokenizer, data, r.run_dir,
                          init_from=r.init_from, resume=r.resume, overwrite=r.overwrite)
        self.run_obj = run
        self.probe = LiveProbe(r.tokenizer, self.request.probe_text)
        report(("started", run))
        pending: list = []
        last_flush = 0.0
        trained_before = run.elapsed_s  # a resumed run's earlier sessions are not this session's budget
        for record in run.steps(cancel):
            if isinstance(record, StepRecord):
                pending.append(record)
                now = time.monotonic()
                # Training time only (pauses left out), so a long pause does not buy a burst of probes.
                if self.probe.due(run.elapsed_s - trained_before, now):
                    probed = self.probe.probe(run.model, record.step, now)
                    if probed is not None:
                        report(probed)
                if now - last_flush >= MIN_INTERVAL_S:
                    report(StepBatch(tuple(pending)))
                    pending, last_flush = [], now
            else:
                if pending:
                    report(StepBatch(tuple(pending)))
                    pending = []
                report(record)
            if not self._resume_event.is_set():
                if pending:
                    report(StepBatch(tuple(pending)))
                    pending = []
                report(("paused", True))
                self._resume_event.wait()
                report(("paused", False))
        if pending:
            report(StepBatch(tuple(pending)))
        return run
