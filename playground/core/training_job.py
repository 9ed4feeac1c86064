"""Training as one job generator: encode the corpus, build the run, train it, and report.

    run = run_quietly(train(TrainingRequest(model_config, train_config, tokenizer, corpus, run_dir)))

The window runs :func:`train` in the engine (``playground/engine/jobs.py``),
which pauses it simply by not asking for the next record; the command line
runs it with a progress bar. What it yields:

* :class:`~playground.core.progress.Progress` while the corpus is encoded and
  the model is built;
* one :class:`RunStarted` once the run exists (its notes, a parent's curve);
* :class:`StepBatch` — the steps done since the last one, gathered for at
  most ``GUI_INTERVAL_S``, so a window draws one curve update for many fast
  steps — each followed by a ``Progress`` (the step count as a fraction);
* the run's other records as they come (``EvalRecord``, ``SampleRecord``,
  ``CheckpointRecord``, one ``StoppedRecord`` at the end);
* ``ProbeRecord``\\ s: the probe sentence's attention now and then, within a
  small share of the training time (the Attention Lab draws them).

It returns the :class:`~playground.core.training.TrainingRun`.

Two ways to end early. ``stop`` (a token) is "save, then stop": the run
checks it between steps, saves its last checkpoint and ends with a
``StoppedRecord`` like any run, so nothing trained is lost. Closing the
generator (what the engine's ``cancel`` does) abandons the run at once,
unsaved.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from playground.core.progress import GUI_INTERVAL_S, CancelToken, JobGenerator, Progress


@dataclass(frozen=True)
class TrainingRequest:
    """Everything one training run needs (the window's settings, or the command line's)."""

    model_config: Any  # ModelConfig
    train_config: Any  # TrainConfig
    tokenizer: Any  # LoadedTokenizer
    corpus: Any  # Corpus (not read when an encoder-decoder trains text to text)
    run_dir: Path
    init_from: Optional[Path] = None
    resume: bool = False
    overwrite: bool = False  # train into a non-empty run_dir (the person agreed)
    probe_text: str = ""  # a sentence whose attention is captured now and then (the Attention Lab)


@dataclass(frozen=True)
class RunStarted:
    """The run is built and about to take its first step.

    ``probe`` is the run's :class:`~playground.core.attention.LiveProbe`:
    ``probe.set_text`` changes the sentence while the run goes on (from any
    thread; an empty sentence probes nothing).
    """

    run: Any  # TrainingRun
    probe: Any  # LiveProbe


@dataclass(frozen=True)
class StepBatch:
    """Step records gathered since the last batch (one curve update for many steps)."""

    records: tuple  # StepRecord, ...


def train(
    request: TrainingRequest,
    stop: Optional[CancelToken] = None,
    *,
    spare_a_core: bool = False,
    batch_interval_s: float = GUI_INTERVAL_S,
) -> JobGenerator[Any]:
    """Encode, build and train as ``request`` says; ``stop`` saves and stops (see the module's docstring).

    ``spare_a_core`` leaves one CPU core to the window: with every core busy
    the GUI stutters and, on a 2-core laptop, PyTorch's threads wait on each other.
    """
    from playground.core.attention import LiveProbe
    from playground.core.data import check_data, encode_corpus, split_tokens
    from playground.core.training import StepRecord, TrainingRun

    if spare_a_core:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    r = request
    data = None  # an encoder-decoder trained text to text reads its task, not the corpus
    if not (r.model_config.is_encoder_decoder and r.train_config.objective == "text-to-text"):
        yield Progress(0.0, "Encoding the corpus into tokens…")
        ids = yield from encode_corpus(r.corpus, r.tokenizer, cancel=stop)
        data = split_tokens(ids, r.train_config.val_fraction)
        check_data(data, r.model_config.context_length, r.train_config.batch_size)
    yield Progress(None, "Building the model…")
    run = TrainingRun(
        r.model_config,
        r.train_config,
        r.tokenizer,
        data,
        r.run_dir,
        init_from=r.init_from,
        resume=r.resume,
        overwrite=r.overwrite,
    )
    probe = LiveProbe(r.tokenizer, r.probe_text)
    # The probe reads one stack: an encoder-decoder's attention is not probed while it trains (yet).
    probing = not r.model_config.is_encoder_decoder
    yield RunStarted(run, probe)

    pending: list = []
    last_batch = time.monotonic()
    trained_before = run.elapsed_s  # a resumed run's earlier sessions are not this session's probe budget
    for record in run.steps(stop):
        if not isinstance(record, StepRecord):
            if pending:
                yield from _batch(pending)
                pending = []
            yield record
            continue
        pending.append(record)
        now = time.monotonic()
        # Training time only (pauses left out: elapsed_s counts the steps), so a long pause
        # does not buy a burst of probes.
        if probing and probe.due(run.elapsed_s - trained_before, now):
            probed = probe.probe(run.model, record.step, now)
            if probed is not None:
                yield probed
        if now - last_batch >= batch_interval_s:
            yield from _batch(pending)
            pending, last_batch = [], now
    if pending:
        yield from _batch(pending)
    return run


def _batch(steps: list) -> JobGenerator[None]:
    """The steps as one StepBatch, then how far the run is (a progress bar's position; the
    message stays the same, so a log prints it once: the steps are reported in the batches)."""
    yield StepBatch(tuple(steps))
    last = steps[-1]
    yield Progress(last.step / max(1, last.max_steps), "Training")
