"""Training runs on disk: a folder per run, holding the model's description and
two checkpoints, and read back with a sentence for every way a folder can be wrong.

The folder's layout (which file holds what) is named in `core/run_layout.py`.
A checkpoint folder is written whole under a temporary name and then swapped
into place (`files.atomic_folder`), so a crash or a full disk never leaves half
a checkpoint: the previous one stays readable. `state.pt` holds only tensors
and plain values and is read with `torch.load(..., weights_only=True)`, which
unpickles no code.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from playground.core import files
from playground.core.config import BYTES_TO_LOAD, ModelConfig, raise_if_too_big
from playground.core.model import GPT
from playground.core.progress import UserError
from playground.core.run_layout import (
    CHECKPOINT_NAMES,
    CONFIG_FILE,
    HISTORY_FILE,
    META_FILE,
    STATE_FILE,
    TOKENIZER_FILE,
    TRAIN_CONFIG_FILE,
    WEIGHTS_FILE,
    checkpoint_dir,
    is_checkpoint,  # noqa: F401  (the panels ask for it here)
    old_dir,
    runs_dir,
    writing_dir,
)
from playground.core.t5_model import T5
from playground.core.tokenization import LoadedTokenizer, open_tokenizer

META_FIELDS = {
    "step": "count",
    "val_step": "count?",
    "val_loss": "number?",
    "train_loss": "number?",
    "elapsed_s": "number",
    "parent": "text?",
    "parent_step": "count?",
}  # checked when read

# The tied output head is the token embedding under a second name; it is stored once.
TIED_HEAD = "lm_head.weight"
TIED_TO = "token_embedding.weight"

PathLike = Union[str, os.PathLike]
# A model of any family: GPT builds decoders and encoders, T5 encoder-decoders.
Model = Union[GPT, T5]


def build_model(config: ModelConfig, device: Union[str, torch.device, None] = None) -> Model:
    """A freshly initialised model of `config`'s family, on `device` ("meta": nothing allocated)."""
    if config.is_encoder_decoder:
        return T5.from_config(config, device=device)
    return GPT.from_config(config, device=device)


@dataclass
class Checkpoint:
    """A trained model as read from disk, without its weights (those go into the `GPT`).

    path: the checkpoint folder that was read (a run's `best` or `last`).
    train_config: the run's `TrainConfig`, or None when the run did not store one.
    parent: the checkpoint folder this run was fine-tuned from, if any.
    """

    path: Path
    model_config: ModelConfig
    tokenizer: LoadedTokenizer
    step: int
    val_loss: Optional[float]
    history: list[dict]
    train_config: Any = None
    parent: Optional[str] = None
    train_loss: Optional[float] = None
    which: str = "last"
    meta: dict = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.run_dir.name


# -- where runs live ----------------------------------------------------------


def new_run_dir(name: str = "run", parent: Optional[PathLike] = None) -> Path:
    """A fresh, empty folder named by the time and `name`, e.g. `2024-05-01_14-03-22_tiny`."""
    base = Path(parent) if parent is not None else runs_dir()
    slug = re.sub(r"[^\w.-]+", "-", name).strip("-.") or "run"
    stem = f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{slug}"
    for n in range(1, 1000):
        path = base / (stem if n == 1 else f"{stem}-{n}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise UserError(f"Could not find a free folder name for the run in {base}.")


# -- writing ------------------------------------------------------------------


# Files an operating system drops into any folder a person looks at.
_LITTER = {".DS_Store", "Thumbs.db", "desktop.ini"}


def check_new_run_dir(run_dir: Path, overwrite: bool = False) -> None:
    """Refuse to start a run in a folder that holds anything, unless `overwrite`.

    A run writes config.json, history.json, tokenizer.json and train_config.json:
    files of those names that a person keeps there must not vanish unasked.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"{run_dir} is a file: give a folder to train into.")
    if overwrite or not run_dir.is_dir():
        return
    held = sorted(p.name for p in run_dir.iterdir() if p.name not in _LITTER)
    if not held:
        return
    how = "allow replacing what is there (--overwrite on the command line)"
    if any(checkpoint_dir(run_dir, name) for name in CHECKPOINT_NAMES):
        raise UserError(f"{run_dir} already holds a training run. Continue it, train into a new folder, or {how}.")
    shown = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
    raise UserError(
        f"{run_dir} is not empty (it holds {shown}), and a run writes {CONFIG_FILE}, {TRAIN_CONFIG_FILE}, "
        f"{TOKENIZER_FILE} and {HISTORY_FILE} there. Choose a new or empty folder, or {how}."
    )


def remove_checkpoints(run_dir: Path) -> None:
    """Delete the checkpoints of a run being replaced (asked for with overwrite), so none outlives it."""
    for name in CHECKPOINT_NAMES:
        for folder in (run_dir / name, old_dir(run_dir, name)):
            if (folder / WEIGHTS_FILE).is_file():
                try:
                    shutil.rmtree(folder)
                except OSError as e:
                    raise UserError(f"Could not remove the old checkpoint {folder}: {e.strerror or e}.") from e


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON under a temporary name, then rename it over `path` (all or nothing; OSError on failure)."""
    files.write_bytes_atomic(path, json.dumps(data, indent=1, allow_nan=True).encode("utf-8"))


def write_run_files(
    run_dir: PathLike, model_config: ModelConfig, train_config: Any, tokenizer: LoadedTokenizer
) -> None:
    """Write the run's description: config.json, train_config.json and tokenizer.json."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_dir / CONFIG_FILE, model_config.to_dict())
        train_dict = train_config.to_dict() if hasattr(train_config, "to_dict") else dict(train_config)
        write_json_atomic(run_dir / TRAIN_CONFIG_FILE, train_dict)
    except OSError as e:
        raise UserError(f"Could not write the run's settings to {run_dir}: {e.strerror or e}.") from e
    saved_path = tokenizer.path
    tokenizer.save(run_dir / TOKENIZER_FILE)  # atomic; raises UserError itself
    tokenizer.path = saved_path  # the person's own tokenizer file stays the one they opened


def save_history(run_dir: PathLike, history: list[dict]) -> None:
    """Write history.json (atomically; an error is a sentence)."""
    path = Path(run_dir) / HISTORY_FILE
    try:
        write_json_atomic(path, history)
    except OSError as e:
        if is_disk_full(e):
            raise UserError(
                f"Could not save the training history to {path} ({_DISK_FULL}). {intact_sentence(run_dir)}"
            ) from e
        raise UserError(f"Could not save the training history to {path}: {e.strerror or e}.") from e


def save_checkpoint(run_dir: PathLike, which: str, model: Model, state: dict, meta: dict) -> Path:
    """Write `run_dir/which` (weights, `state` for torch.save, `meta` as JSON) atomically.

    The files go into `which.tmp`; then the old folder is renamed `which.old`,
    the new one `which`, and the old one deleted (`files.atomic_folder`). A
    crash between the two renames leaves `which.old` alone, which
    `checkpoint_dir` then reads. If anything fails, the previous checkpoint is
    put back and `UserError` says so.
    """
    run_dir = Path(run_dir)
    final = run_dir / which
    had_previous = checkpoint_dir(run_dir, which) is not None
    try:
        with files.atomic_folder(final, tmp=writing_dir(run_dir, which), old=old_dir(run_dir, which)) as tmp:
            _write_weights(tmp / WEIGHTS_FILE, model)
            _write_state(tmp / STATE_FILE, state)
            _write_meta(tmp / META_FILE, meta)
    except (OSError, RuntimeError, SafetensorError) as e:
        # torch.save reports a full disk as RuntimeError; safetensors as its own error.
        full = is_disk_full(e)
        reason = _DISK_FULL if full else getattr(e, "strerror", None) or _first_line(e)
        kept = "the previous checkpoint is kept" if had_previous else f"no {which} checkpoint was saved"
        raise UserError(
            f"Could not save the checkpoint to {final} ({reason}); {kept}. {intact_sentence(run_dir, full)}"
        ) from e
    return final


_DISK_FULL = f"the disk is full: {os.strerror(errno.ENOSPC)}"


def is_disk_full(error: BaseException) -> bool:
    """True when `error`, or an error it arose from, says the disk (or the user's quota) is full.

    torch.save wraps the OSError in a RuntimeError of its own; safetensors
    keeps only the text ("No space left on device (os error 28)").
    """
    seen = set()
    link: Optional[BaseException] = error  # walks the chain of causes
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, OSError) and link.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return True
        if f"os error {errno.ENOSPC}" in str(link) or os.strerror(errno.ENOSPC) in str(link):
            return True
        link = link.__cause__ or link.__context__
    return False


def intact_sentence(run_dir: PathLike, disk_full: bool = True) -> str:
    """Which checkpoints of the run are on disk and readable, and (disk full) what to do."""
    found = []
    for name in CHECKPOINT_NAMES:
        folder = checkpoint_dir(run_dir, name)
        if folder is None:
            continue
        try:
            step = read_meta(folder).get("step")
        except UserError:
            step = None
        at = f"step {step:,}, " if isinstance(step, int) else ""
        found.append(f"the {name} checkpoint ({at}in {folder})")
    if not found:
        said = "No checkpoint of this run is on disk yet."
    else:
        said = f"Intact on disk: {' and '.join(found)}."
    return said + (
        " Free some space on the disk, then continue the run from there."
        if disk_full and found
        else " Free some space on the disk and train again."
        if disk_full
        else ""
    )


def model_tensors(model: Model) -> dict[str, torch.Tensor]:
    """The state dict to store: on the CPU, with a tied output head left out (it is the embedding)."""
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    if is_tied(model):
        del tensors[TIED_HEAD]
    return tensors


def is_tied(model: Model) -> bool:
    return model.lm_head.weight is model.token_embedding.weight


# `files.atomic_folder` syncs each file to the disk before the folder is renamed
# into place: otherwise a power cut soon after the rename can leave it empty.


def _write_weights(path: Path, model: Model) -> None:
    save_file(model_tensors(model), str(path), metadata={"format": "pt"})


def _write_state(path: Path, state: dict) -> None:
    # Through our own file object, so that a full disk surfaces as an OSError
    # (torch's own writer reports only "unexpected pos").
    with open(path, "wb") as f:
        torch.save(state, f)


def _write_meta(path: Path, meta: dict) -> None:
    path.write_bytes(json.dumps(meta, indent=1).encode("utf-8"))


# -- reading ------------------------------------------------------------------


def _locate(path: Path, which: str) -> tuple[Path, Path]:
    """(run folder, checkpoint folder) for a path to either; `which` picks in a run folder.

    In a run folder without the asked-for checkpoint the other one is used
    (a run stopped before its first evaluation has a `last` but no `best`).
    """
    if not path.exists():
        raise UserError(f"{path} does not exist.")
    expected = f"expected {CONFIG_FILE}, {TOKENIZER_FILE} and last/{WEIGHTS_FILE}"
    if not path.is_dir():
        raise UserError(f"{path} is a file, not a checkpoint folder: {expected} inside a folder.")
    folder: Optional[Path]
    if (path / WEIGHTS_FILE).is_file() and (path.parent / CONFIG_FILE).is_file():
        run_dir, folder = path.parent, path
    else:
        run_dir = path
        others = [name for name in CHECKPOINT_NAMES if name != which]
        folder = next((f for f in (checkpoint_dir(path, n) for n in (which, *others)) if f), None)
    if folder is None or not (run_dir / CONFIG_FILE).is_file() or not (run_dir / TOKENIZER_FILE).is_file():
        raise UserError(f"{path} is not a checkpoint folder: {expected}.")
    return run_dir, folder


def read_json(path: Path, what: str) -> Any:
    """Parse a JSON file; `UserError` naming the file and `what` it should hold otherwise."""
    return files.read_json(path, what, hint=" The file may be damaged.")


def read_model_config(path: Path) -> ModelConfig:
    """config.json as a `ModelConfig` that can be built; `UserError` otherwise."""
    data = read_json(path, "a model configuration")
    try:
        config = ModelConfig.from_dict(data)
        config.raise_if_invalid()
    except (UserError, TypeError) as e:
        raise UserError(f"{path} is not a usable model configuration: {e}") from e
    return config


def read_train_config(run_dir: Path) -> Any:
    """train_config.json as a `TrainConfig`, or None when the run has none."""
    path = run_dir / TRAIN_CONFIG_FILE
    if not path.is_file():
        return None
    from playground.core.train_config import TrainConfig

    data = read_json(path, "a training configuration")
    try:
        return TrainConfig.from_dict(data)
    except UserError as e:
        raise UserError(f"{path} is not a usable training configuration: {e}") from e


def load_history(run_dir: PathLike) -> list[dict]:
    """history.json of a run (an empty list when it has none yet)."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.is_file():
        return []
    data = read_json(path, "a training history")
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise UserError(f"{path} is not a training history: expected a list of records.")
    return [files.check_record(entry, path, {"step": "count"}) for entry in data]


def read_meta(folder: Path) -> dict:
    """meta.json of a checkpoint folder (empty when missing: weights alone still load)."""
    path = folder / META_FILE
    if not path.is_file():
        return {}
    data = read_json(path, "a checkpoint description")
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a checkpoint description: expected named values.")
    return files.check_record(data, path, META_FIELDS)


def load_state(folder: PathLike) -> dict:
    """state.pt of a checkpoint folder, on the CPU: optimizer state, step, random states.

    `weights_only=True`: tensors and plain containers only, so a crafted file
    cannot run code when it is opened.
    """
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise UserError(f"{path.parent} has no {STATE_FILE}, so training cannot continue from it.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a damaged zip, or something other than plain tensors
        raise UserError(f"{path} is damaged or not a training state ({_first_line(e)}).") from e
    if not isinstance(state, dict):
        raise UserError(f"{path} is not a training state: expected named values.")
    return state


def weight_shapes(path: PathLike) -> dict[str, list[int]]:
    """The name and shape of every tensor in a safetensors file, from its header (no weights are read)."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return {name: list(f.get_slice(name).get_shape()) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(
            f"{path} is damaged: it is not a complete safetensors file ({_first_line(e)}). "
            f"It may have been cut short while copying; use another checkpoint."
        ) from e


def config_shape_problems(config: ModelConfig, shapes: dict[str, list[int]]) -> list[str]:
    """How the sizes in `config` disagree with the weights' shapes, a phrase each (empty when they agree).

    Worked out from the sizes alone, so a config.json whose sizes were damaged
    (a width of a billion) is caught before a model of that size is built.
    Only the tensors that carry a size are compared; `load_weights` checks all.
    """
    d = config.n_embd
    expected = {TIED_TO: [config.vocab_size, d], "blocks.0.mlp.up.weight": [config.mlp_hidden_size, d]}
    if config.positions == "learned":
        expected["position_embedding.weight"] = [config.context_length, d]
    if not config.tie_weights:
        expected[TIED_HEAD] = [config.vocab_size, d]
    problems = [
        f"{name} is {_shape(shapes[name])} but the configuration needs {_shape(shape)}"
        for name, shape in expected.items()
        if name in shapes and shapes[name] != shape
    ]
    layers = {int(m.group(1)) for m in (re.match(r"blocks\.(\d+)\.", name) for name in shapes) if m}
    if layers and max(layers) + 1 != config.n_layer:
        problems.append(f"the weights hold {max(layers) + 1} layers but the configuration needs {config.n_layer:,}")
    return problems


def _raise_mismatch(path: Path, problems: list[str]) -> None:
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    raise UserError(
        f"The weights in {path} do not fit {CONFIG_FILE}: {'; '.join(problems[:3])}{more}. "
        f"The weights and the configuration come from different models."
    )


def check_model_fits(
    config: ModelConfig,
    device: Union[str, torch.device],
    bytes_per_parameter: int = BYTES_TO_LOAD,
    doing: str = "Loading this model",
) -> None:
    """Raise `ConfigError` when `config`'s parameters alone outgrow all of `device`'s memory.

    Call it before building a model from sizes read from a file: nothing is allocated here.
    """
    from playground.core.devices import device_memory

    memory, where = device_memory(torch.device(device))
    raise_if_too_big(config, memory, where, bytes_per_parameter, doing)


def load_weights(model: Model, path: PathLike) -> None:
    """Copy the weights in a safetensors file into `model`, checking every name and shape first."""
    path = Path(path)
    shapes = weight_shapes(path)
    expected = {name: list(t.shape) for name, t in model.state_dict().items()}
    if is_tied(model):
        del expected[TIED_HEAD]
    problems = [f"{name} is missing" for name in expected if name not in shapes]
    problems += [f"{name} is not part of this model" for name in shapes if name not in expected]
    problems += [
        f"{name} is {_shape(shapes[name])} but the configuration needs {_shape(shape)}"
        for name, shape in expected.items()
        if name in shapes and shapes[name] != shape
    ]
    if problems:
        _raise_mismatch(path, problems)

    device = next(model.parameters()).device
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, RuntimeError) as e:
        raise UserError(f"{path} is damaged: its weights could not be read ({_first_line(e)}).") from e
    if is_tied(model):
        tensors[TIED_HEAD] = tensors[TIED_TO]
    model.load_state_dict(tensors, strict=True)


def load_checkpoint(
    path: PathLike, device: Union[str, torch.device] = "cpu", which: str = "best"
) -> tuple[Checkpoint, Model]:
    """Read a checkpoint and build its model on `device`, in eval mode.

    `path` is a run folder (then `which` picks "best" or "last", falling back
    to the other if that one was never saved) or a run's checkpoint folder.
    Every problem raises `UserError` with a sentence naming the file.
    """
    if which not in CHECKPOINT_NAMES:
        raise ValueError(f"which must be one of {CHECKPOINT_NAMES}, not {which!r}")
    run_dir, folder = _locate(Path(path), which)
    config = read_model_config(run_dir / CONFIG_FILE)
    tokenizer = open_tokenizer(run_dir / TOKENIZER_FILE)
    if tokenizer.vocab_size > config.vocab_size:
        raise UserError(
            f"The tokenizer in {run_dir} has {tokenizer.vocab_size:,} tokens but the model only "
            f"{config.vocab_size:,}: they do not belong together."
        )
    meta = read_meta(folder)
    train_config = read_train_config(run_dir)
    history = load_history(run_dir)
    # The sizes are checked before anything of that size is built.
    problems = config_shape_problems(config, weight_shapes(folder / WEIGHTS_FILE))
    if problems:
        _raise_mismatch(folder / WEIGHTS_FILE, problems)
    check_model_fits(config, device)
    model = build_model(config, device=device)
    load_weights(model, folder / WEIGHTS_FILE)
    model.eval()
    checkpoint = Checkpoint(
        path=folder,
        model_config=config,
        tokenizer=tokenizer,
        step=int(meta.get("step", 0)),
        val_loss=meta.get("val_loss"),
        history=history,
        train_config=train_config,
        parent=meta.get("parent"),
        train_loss=meta.get("train_loss"),
        which=folder.name.split(".")[0],
        meta=meta,
    )
    return checkpoint, model


def _shape(shape: list[int]) -> str:
    return "×".join(map(str, shape)) or "a single number"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
