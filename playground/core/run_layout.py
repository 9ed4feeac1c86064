"""The files of a training run's folder, named in one place.

    run/
      config.json         the ModelConfig
      train_config.json   the TrainConfig
      tokenizer.json      the tokenizer the model reads and writes with
      history.json        every step's loss, every evaluation, every sample
      last/               the latest weights: resume from here
      best/               the weights with the lowest validation loss so far
        model.safetensors   weights (safetensors: loading runs no code)
        state.pt            optimizer state, step and random generator states
        meta.json           step, losses, time, the parent checkpoint if fine-tuned

A checkpoint is written as ``which.tmp`` and swapped in for ``which``, the
previous one kept as ``which.old`` until the new one is in place (see
`files.atomic_folder`); a crash between the two renames leaves ``which.old``,
which is read instead. Training writes these files (`core.checkpoints`), and
workspaces, exports and the panels find them here. No PyTorch: a workspace
names a run's files without loading it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from playground.core.files import OLD_SUFFIX, TEMP_SUFFIX

PathLike = Union[str, os.PathLike]

CONFIG_FILE = "config.json"
TRAIN_CONFIG_FILE = "train_config.json"
TOKENIZER_FILE = "tokenizer.json"
HISTORY_FILE = "history.json"
RUN_FILES = (CONFIG_FILE, TRAIN_CONFIG_FILE, TOKENIZER_FILE, HISTORY_FILE)  # the run's description

WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "state.pt"  # only resuming needs it: exports leave it out
META_FILE = "meta.json"

LAST = "last"
BEST = "best"
CHECKPOINT_NAMES = (LAST, BEST)


def writing_dir(run_dir: PathLike, which: str) -> Path:
    """Where checkpoint `which` is written before it is swapped in (never read)."""
    return Path(run_dir) / f"{which}{TEMP_SUFFIX}"


def old_dir(run_dir: PathLike, which: str) -> Path:
    """Where the previous checkpoint `which` waits while its successor is swapped in."""
    return Path(run_dir) / f"{which}{OLD_SUFFIX}"


def checkpoint_dir(run_dir: PathLike, which: str) -> Optional[Path]:
    """The folder holding checkpoint `which` of a run, or None when there is none.

    `which.old` stands in when a save was interrupted between its two renames.
    """
    for candidate in (Path(run_dir) / which, old_dir(run_dir, which)):
        if (candidate / WEIGHTS_FILE).is_file():
            return candidate
    return None


def is_unfinished(name: str) -> bool:
    """True for a file or folder still being written (a copy skips it)."""
    return name.endswith(TEMP_SUFFIX)


def looks_like_run(path: PathLike) -> bool:
    """A run folder: its description and at least one checkpoint's weights (nothing is read)."""
    path = Path(path)
    return (
        (path / CONFIG_FILE).is_file()
        and (path / TOKENIZER_FILE).is_file()
        and any(checkpoint_dir(path, which) is not None for which in CHECKPOINT_NAMES)
    )


def is_checkpoint(path: PathLike) -> bool:
    """True when `path` looks like a run folder or one of its checkpoint folders (nothing is read)."""
    path = Path(path)
    if (path / WEIGHTS_FILE).is_file() and (path.parent / CONFIG_FILE).is_file():
        return (path.parent / TOKENIZER_FILE).is_file()
    return looks_like_run(path)


def run_and_which(path: PathLike) -> tuple[Path, str]:
    """(run folder, "best" or "last") for a checkpoint folder or a run folder (then "best")."""
    path = Path(path)
    name = path.name.split(".")[0]
    if (path / WEIGHTS_FILE).is_file() and name in CHECKPOINT_NAMES:
        return path.parent, name
    return path, BEST


def runs_dir() -> Path:
    """The folder that holds the user's training runs (created on first use).

    Here, not in `checkpoints`, so the window can name it without importing PyTorch.
    """
    from playground.paths import user_data_dir

    path = user_data_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path
