"""Loading trained models as job generators, so the window never waits for a disk or a device copy.

Reading a checkpoint reads its weights and builds the model: seconds for a
big one. The window runs these in the engine (``playground/engine/jobs.py``);
other callers use ``run_quietly``. Heavy imports (PyTorch) happen inside, on
the job's thread.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Optional, Union

from playground.core.progress import JobGenerator, Progress

PathLike = Union[str, Path]


def load_model(path: PathLike, device: str = "auto", which: str = "best") -> JobGenerator[tuple[Any, Any]]:
    """(Checkpoint, model): the checkpoint at ``path`` and its model (a `GPT`, or a `T5` for an
    encoder-decoder), in eval mode, on the device named ``device`` ("auto", "cuda", "mps" or "cpu",
    as ``resolve_device`` reads it)."""
    yield Progress(None, f"Loading the model in {Path(path).name}…")
    from playground.core.checkpoints import load_checkpoint
    from playground.core.training import resolve_device

    return load_checkpoint(path, device=resolve_device(device), which=which)


def read_checkpoint(path: PathLike) -> JobGenerator[Any]:
    """The Checkpoint at ``path`` (its step, losses and history), checked as fully as a load:
    a folder that is not a checkpoint, or one whose weights are damaged, raises ``UserError``."""
    checkpoint, _ = yield from load_model(path, device="cpu")
    return checkpoint


def load_trained_model(
    run_dir: PathLike, device: str = "auto", keep_if_empty: bool = False
) -> JobGenerator[Optional[tuple[Any, Any]]]:
    """What a run that just ended saved, loaded to be the current model: (Checkpoint, GPT) of its
    best checkpoint (its last when it has no best), or None when it saved nothing.

    A run folder that holds no checkpoint is removed (a failed start leaves no empty run
    behind), unless ``keep_if_empty``.
    """
    from playground.core.checkpoints import is_checkpoint

    if not is_checkpoint(run_dir):
        if not keep_if_empty:
            shutil.rmtree(run_dir, ignore_errors=True)
        return None
    return (yield from load_model(run_dir, device))
