"""Import: a Hugging Face GPT-2, LLaMA, BERT or T5 folder as one of our run folders, reading only JSON and safetensors.

A folder is a stranger's: every file is checked before it is trusted. Weights
are read from safetensors only (a folder that holds only `pytorch_model.bin`,
a pickle that can run code when loaded, is refused); shard names may not lead
out of the folder; config.json's sizes are checked against the weights'
headers and the memory before anything is built.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any, Optional, Union

from safetensors import SafetensorError, safe_open

from playground.core.config import FLAVOURS, ModelConfig
from playground.core.files import check_regular, is_inside, read_json, short_repr
from playground.core.progress import JobGenerator, Progress, UserError
from playground.core.run_layout import BEST, CONFIG_FILE, META_FILE, TOKENIZER_FILE, WEIGHTS_FILE, is_checkpoint
from playground.core.units import human_bytes

from .families import FORMATS, SUPPORTED
from .folders import check_out, write_json, written_folder
from .formats import (
    EXPECTED_FILES,
    HF_CONFIG,
    HF_INDEX,
    HF_TOKENIZER,
    HF_WEIGHTS,
    PICKLE_SUFFIXES,
    ConversionError,
    ConversionNote,
    Format,
    count,
    first_line,
    from_hf_tensors,
    join,
    shape_text,
    some,
    to_hf_tensors,
)

if TYPE_CHECKING:
    from torch import Tensor

    from playground.core.checkpoints import Checkpoint, Model

PathLike = Union[str, os.PathLike]


def import_hf(folder: PathLike, out: PathLike, *, overwrite: bool = False) -> JobGenerator[Path]:
    """Make a run folder `out` from a Hugging Face GPT-2, LLaMA, BERT or T5 folder (a job generator; returns `out`).

    `out` gets config.json, tokenizer.json, and best/ with model.safetensors
    and meta.json (step 0, a note naming the source). Written in a temporary
    folder and swapped into place; a non-empty `out` is refused unless
    `overwrite`. Differences that change the numbers only slightly (another
    norm epsilon) are yielded as `ConversionNote`s and noted in meta.json;
    everything this app's model cannot do is a `ConversionError` naming it.
    """
    from playground.core.tokenization import open_tokenizer

    folder, out = Path(folder), Path(out)
    # Every check that reads only JSON and headers comes first: a bad folder is refused at once.
    if is_checkpoint(folder):
        raise ConversionError(f"{folder} is already one of this app's run folders: open it as it is, no import needed.")
    _check_hf_folder(folder)
    check_out(out, overwrite, sources=[folder])
    data = read_json(folder / HF_CONFIG, "a Hugging Face model configuration")
    notes: list[str] = []
    fmt, config = read_hf_config(data, folder / HF_CONFIG, notes)
    tokenizer = open_tokenizer(folder / HF_TOKENIZER)
    if tokenizer.vocab_size > config.vocab_size:
        raise ConversionError(
            f"{folder / HF_TOKENIZER} has {tokenizer.vocab_size:,} tokens but {folder / HF_CONFIG} says the model "
            f"reads only {config.vocab_size:,} (vocab_size): they do not belong together."
        )
    found = read_hf_headers(folder, fmt)
    check_sizes(fmt, config, found, folder)  # before anything is built

    yield Progress(0.0, f"Reading the {fmt.name} weights of {folder.name}")
    import torch
    from safetensors.torch import save_file

    from playground.core.checkpoints import build_model

    # What the file must hold: our model's tensors (built on "meta", so nothing is allocated) under its names.
    skeleton = {name: t for name, t in build_model(config, device="meta").state_dict().items()}
    if config.tie_weights:
        del skeleton["lm_head.weight"]
    expected = {name: list(t.shape) for name, t in to_hf_tensors(fmt, skeleton).items()}
    theirs = read_hf_tensors(folder, fmt, expected, tied=config.tie_weights, found=found)
    ours = from_hf_tensors(fmt, theirs, list(skeleton))
    ours = {name: t.to(torch.float32).contiguous() for name, t in ours.items()}

    for note in notes:
        yield ConversionNote(note)
    source = str(folder.resolve())
    meta = {
        "step": 0,
        "val_loss": None,
        "note": f"imported from {source} ({fmt.hf_class})",
        "imported_from": source,
        "warnings": notes,
    }
    yield Progress(0.7, f"Writing the run {out.name}")
    with written_folder(out, overwrite) as tmp:
        write_json(tmp / CONFIG_FILE, config.to_dict())
        shutil.copyfile(folder / HF_TOKENIZER, tmp / TOKENIZER_FILE)
        (tmp / BEST).mkdir()
        save_file(ours, str(tmp / BEST / WEIGHTS_FILE), metadata={"format": "pt"})
        write_json(tmp / BEST / META_FILE, meta)
    yield Progress(1.0, f"Imported {folder.name}")
    return out


@dataclass(frozen=True)
class ImportedRun:
    """A Hugging Face folder imported as a new run, loaded: what the window makes its current model."""

    run_dir: Path
    checkpoint: "Checkpoint"
    model: "Model"
    notes: tuple[str, ...] = ()


def import_as_new_run(folder: PathLike) -> JobGenerator[ImportedRun]:
    """Import `folder` into a new run folder among the person's runs and load it (a job generator).

    Notes are yielded as they come (`ConversionNote`) and kept in the result.
    A failed or stopped import leaves no run folder behind.
    """
    from playground.core.checkpoints import load_checkpoint, new_run_dir

    folder = Path(folder)
    out = new_run_dir(f"imported-{folder.name}")
    try:
        yield from import_hf(folder, out)
        yield Progress(0.9, f"Loading {out.name}")
        checkpoint, model = load_checkpoint(out)
    except BaseException:  # failed, or stopped: no empty or half run is left among the person's runs
        shutil.rmtree(out, ignore_errors=True)
        raise
    notes = checkpoint.meta.get("warnings") or []
    return ImportedRun(out, checkpoint, model, tuple(str(note) for note in notes))


def read_hf_config(data: Any, path: Path, notes: Optional[list[str]] = None) -> tuple[Format, ModelConfig]:
    """Our `ModelConfig` for a Hugging Face config.json, and its format.

    Everything our model cannot reproduce is collected and raised as one
    `ConversionError`; near misses (another norm epsilon) go into `notes`.
    """
    notes = notes if notes is not None else []
    if not isinstance(data, dict):
        raise ConversionError(f"{path} is not a model configuration: expected named values.")
    model_type = data.get("model_type")
    architectures = data.get("architectures") or []
    if not isinstance(architectures, list):
        architectures = [architectures]
    if model_type is not None and not isinstance(model_type, str):
        raise ConversionError(f'{path} gives model_type {short_repr(model_type)}: expected a name such as "gpt2".')
    if model_type not in FORMATS:
        known = {f.hf_class: f for f in FORMATS.values()}
        guess = next((known[a] for a in architectures if isinstance(a, str) and a in known), None)
        if model_type is not None or guess is None:
            what = f"model_type {model_type!r}" if model_type is not None else "no model_type"
            if architectures:
                what += f" ({', '.join(map(str, architectures))})"
            raise ConversionError(
                f"{path} describes an architecture this app cannot import: {what}. Supported are {SUPPORTED}."
            )
        model_type = guess.model_type
    fmt = FORMATS[model_type]
    odd = [a for a in architectures if a != fmt.hf_class and not str(a).endswith("Model")]
    if odd:
        notes.append(
            f"{path.name} names {', '.join(map(str, odd))}; only the language model ({fmt.hf_class}) weights are read."
        )
    problems: list[str] = []
    sizes, tied = fmt.read_config(data, problems, notes)
    if problems:
        raise ConversionError(f"{path} describes a {fmt.name} model this app cannot reproduce: {'; '.join(problems)}.")
    config = ModelConfig(
        **{"flavour": fmt.flavour, **FLAVOURS[fmt.flavour], **sizes, "tie_weights": tied, "dropout": 0.0}
    )
    if config.mlp_hidden == config.replace(mlp_hidden=None).mlp_hidden_size:
        config = config.replace(mlp_hidden=None)  # the usual width: leave it implied
    try:
        config.raise_if_invalid()
    except UserError as e:
        raise ConversionError(f"{path} gives sizes this app's model cannot take: {e}") from e
    return fmt, config


def is_hf_folder(folder: Path) -> bool:
    try:
        data = read_json(folder / HF_CONFIG, "a Hugging Face model configuration")
    except UserError:
        return False
    return isinstance(data, dict) and ("model_type" in data or "architectures" in data)


def _check_hf_folder(folder: Path) -> None:
    """Raise `ConversionError` unless `folder` has a config, a tokenizer and safetensors weights."""
    if not folder.exists():
        raise ConversionError(f"{folder} does not exist: expected a folder with {EXPECTED_FILES}.")
    if not folder.is_dir():
        raise ConversionError(f"{folder} is a file: expected a folder with {EXPECTED_FILES}.")
    has_weights = (folder / HF_WEIGHTS).is_file() or (folder / HF_INDEX).is_file()
    if not has_weights:
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            raise ConversionError(
                f"{folder} holds its weights only as {', '.join(pickles)}, a pickle: REFUSED, and not opened. "
                f"Loading a pickle can run any code hidden in it, so this app reads weights only from "
                f"safetensors files, which hold nothing but numbers. To convert it, on a machine you trust "
                f"and with transformers installed, run: "
                f'python -c "from transformers import AutoModelForCausalLM as M; '
                f"M.from_pretrained('{folder}').save_pretrained('{folder}-safetensors', safe_serialization=True)\" "
                f"then copy {HF_TOKENIZER} next to the new {HF_WEIGHTS} and import that folder."
            )
    missing = [
        name
        for name, ok in (
            (HF_CONFIG, (folder / HF_CONFIG).is_file()),
            (HF_TOKENIZER, (folder / HF_TOKENIZER).is_file()),
            (HF_WEIGHTS, has_weights),
        )
        if not ok
    ]
    if missing:
        hint = ""
        if HF_TOKENIZER in missing and (folder / "tokenizer.model").is_file():
            hint = (
                f" Its tokenizer is a SentencePiece tokenizer.model; to write {HF_TOKENIZER}, on a machine with "
                f'transformers run: python -c "from transformers import AutoTokenizer; '
                f"AutoTokenizer.from_pretrained('{folder}').save_pretrained('{folder}')\""
            )
        raise ConversionError(f"{folder} lacks {join(missing)}: expected {EXPECTED_FILES}.{hint}")


def _weight_files(folder: Path) -> dict[str, Path]:
    """Each tensor's file: model.safetensors, or the shards that model.safetensors.index.json names."""
    if (folder / HF_WEIGHTS).is_file():
        return {}  # one file: its own keys say what it holds
    index = read_json(folder / HF_INDEX, "a safetensors index")
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ConversionError(f'{folder / HF_INDEX} is not a safetensors index: it has no "weight_map".')
    files = {name: _shard(folder, file) for name, file in weight_map.items()}
    absent = sorted({p.name for p in files.values() if not p.exists()})
    if absent:
        raise ConversionError(
            f"{folder / HF_INDEX} names {count(len(absent), 'shard')} that {folder} lacks: {', '.join(absent)}."
        )
    return files


def _shard(folder: Path, name: Any) -> Path:
    """The shard the index names `name`, which must lie in `folder`: ConversionError for an absolute
    path, one that climbs out with '..', or a link that leads out (the index is a stranger's file)."""
    refuse = None
    if not isinstance(name, str) or not name or "\x00" in name:
        refuse = "a shard name that is not a file name"
    elif Path(name).is_absolute() or PureWindowsPath(name).drive or name.startswith(("/", "\\")):
        refuse = "the absolute path"
    elif ".." in re.split(r"[\\/]", name):
        refuse = "the path that climbs out with '..'"
    if refuse is None:
        return _confined(folder, folder / name)
    raise ConversionError(
        f"{folder / HF_INDEX} names {refuse} {str(name)[:120]!r}: an import reads only files "
        f"inside {folder}, so it is refused."
    )


def _confined(folder: Path, path: Path) -> Path:
    """`path`, unless it is a link that leads out of `folder` (ConversionError)."""
    if path.exists() and not _inside_folder(path, folder):
        raise ConversionError(
            f"{path} is a link to {path.resolve()}, outside {folder}: an import reads only files "
            f"inside the folder, so it is refused."
        )
    return path


def _inside_folder(path: Path, folder: Path) -> bool:
    """True when `path`, links followed, lies inside `folder`.

    A snapshot in Hugging Face's cache (hub/models--x/snapshots/<revision>/) holds links into its
    blobs/ folder two levels up: those count as inside, as the cache lays them out.
    """
    homes = [folder]
    if folder.resolve().parent.name == "snapshots":
        homes.append(folder.resolve().parent.parent / "blobs")
    return any(is_inside(path, home) for home in homes)


def check_sizes(fmt: Format, config: ModelConfig, found: "Headers", folder: Path) -> None:
    """ConversionError unless each size in config.json is one the weights hold and the model fits in memory.

    Checked on the safetensors headers before anything is built: a config.json that claims a billion
    numbers a vector or ten million layers would otherwise have this app try to allocate them.
    Differences that cost nothing to build (another MLP width) are left to the shape check that follows.
    """
    keys = fmt.size_keys
    problems = []
    layer = re.compile(re.escape(fmt.layer_prefix).replace(re.escape("{i}"), r"(\d+)"))
    layers = {int(m.group(1)) for name in found if (m := layer.match(name))}
    if config.n_layer != len(layers):
        problems.append(f"{keys['n_layer']} is {config.n_layer:,} but the weights hold {count(len(layers), 'layer')}")
    embedding = found.get(f"{fmt.top['token_embedding']}.weight")
    if embedding is not None and len(embedding[2]) == 2:
        rows, width = embedding[2]
        if config.vocab_size != rows:
            problems.append(
                f"{keys['vocab_size']} is {config.vocab_size:,} but {embedding[1]} holds {rows:,} token vectors"
            )
        if config.n_embd != width:
            problems.append(
                f"{keys['n_embd']} is {config.n_embd:,} but {embedding[1]} holds vectors of {width:,} numbers"
            )
    positions = found.get(f"{fmt.top['position_embedding']}.weight") if "position_embedding" in fmt.top else None
    if positions is not None and positions[2][:1] != [config.context_length]:
        problems.append(
            f"{keys['context_length']} is {config.context_length:,} but {positions[1]} holds "
            f"{shape_text(positions[2])} (a vector per position)"
        )
    largest = max((side for _, _, shape in found.values() for side in shape), default=0)
    if config.mlp_hidden_size > largest and not problems:  # a wrong width already explains a wrong MLP
        problems.append(
            f"{keys['mlp_hidden']} is {config.mlp_hidden_size:,}, more than any side of any tensor in "
            f"the weights (the longest is {largest:,})"
        )
    if problems:
        raise ConversionError(
            f"{folder / HF_CONFIG} does not fit the weights in {folder}: "
            f"{'; '.join(problems)}. They do not belong together."
        )
    _check_memory(fmt, config, found, folder, keys)


def _check_memory(fmt: Format, config: ModelConfig, found: "Headers", folder: Path, keys: dict[str, str]) -> None:
    from playground.core.estimates import available_system_memory

    memory = available_system_memory()
    if memory.bytes is None:
        return
    numbers = sum(math.prod(shape) for _, _, shape in found.values())
    stored = sum(path.stat().st_size for path in {path for path, _, _ in found.values()})
    needed = stored + 4 * numbers  # the weights as stored, then as float32
    if needed > memory.bytes:
        raise ConversionError(
            f"Importing {folder} needs about {human_bytes(needed)} of memory (its {numbers:,} weights, read and then "
            f"made float32), but only {human_bytes(memory.bytes)} is available ({memory.source}). "
            f"Close other programs, "
            f"or import a smaller model."
        )
    if "position_embedding" not in fmt.top:
        # RoPE has no table to check against: one full context of vectors is the least it costs to read one.
        context = 4 * config.context_length * config.n_embd
        if context > memory.bytes:
            raise ConversionError(
                f"{folder / HF_CONFIG} gives {keys['context_length']} {config.context_length:,}: reading that many "
                f"tokens at once takes at least {human_bytes(context)} (a vector of {config.n_embd:,} numbers a "
                f"token), more than the {human_bytes(memory.bytes)} of memory available. Import a model with a "
                f"shorter context."
            )


Headers = dict[str, tuple[Path, str, list[int]]]  # our spelling of a tensor's name -> (file, its name, shape)


def read_hf_headers(folder: Path, fmt: Format) -> Headers:
    """Every tensor's name and shape in a folder's safetensors files, from their headers alone (no data read)."""
    by_name = _weight_files(folder)
    paths = sorted(set(by_name.values())) or [folder / HF_WEIGHTS]
    found: Headers = {}
    for path in paths:
        check_regular(path, "a safetensors file")
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                for name in f.keys():
                    found[_full_name(fmt, name)] = (path, name, list(f.get_slice(name).get_shape()))
        except (SafetensorError, OSError, ValueError) as e:
            raise ConversionError(f"{path} is damaged: it is not a complete safetensors file ({first_line(e)}).") from e
    return found


def read_hf_tensors(
    folder: Path, fmt: Format, expected: dict[str, list[int]], tied: bool, found: Optional[Headers] = None
) -> dict[str, Tensor]:
    """The tensors of a Hugging Face folder, after checking every name and shape against `expected`."""
    found = read_hf_headers(folder, fmt) if found is None else found
    paths = sorted({path for path, _, _ in found.values()})
    ignored = re.compile(fmt.buffers)
    if tied:  # transformers ignores a stored head when the embeddings are tied, and so does this
        ignored = re.compile(f"{fmt.buffers}|{re.escape(fmt.top['lm_head'])}\\.weight")
    unexpected = [found[name][1] for name in found if name not in expected and not ignored.fullmatch(name)]
    missing = [name for name in expected if name not in found]
    problems = []
    if missing:
        problems.append(f"{count(len(missing), 'tensor')} missing: {some(missing)}")
    if unexpected:
        problems.append(
            f"{count(len(unexpected), 'tensor')} this {fmt.name} model has no place for: {some(unexpected)}"
        )
    wrong = [
        f"{name} is {shape_text(found[name][2])} where {HF_CONFIG} needs {shape_text(shape)}"
        for name, shape in expected.items()
        if name in found and found[name][2] != shape
    ]
    if wrong:
        problems.append(f"{count(len(wrong), 'tensor')} of the wrong shape: {some(wrong)}")
    if problems:
        raise ConversionError(
            f"The weights in {folder} do not fit its {HF_CONFIG} ({fmt.name}, {fmt.hf_class}): {'; '.join(problems)}."
        )

    tensors: dict[str, Tensor] = {}
    for path in paths:
        names = [n for n in expected if found[n][0] == path]
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                for name in names:
                    tensors[name] = f.get_tensor(found[name][1])
        except (SafetensorError, OSError, RuntimeError) as e:
            raise ConversionError(f"{path} is damaged: its weights could not be read ({first_line(e)}).") from e
    not_float = [n for n, t in tensors.items() if not t.is_floating_point()]
    if not_float:
        raise ConversionError(
            f"The weights in {folder} are not all floating point ({some(not_float)} are "
            f"{tensors[not_float[0]].dtype}): "
            f"a quantised model cannot be imported; use its float16, bfloat16 or float32 weights."
        )
    return tensors


def _full_name(fmt: Format, name: str) -> str:
    """A tensor's name as saved from the language model (a base model saves them without the prefix;
    BERT's original checkpoints call a LayerNorm's scale and shift gamma and beta)."""
    name = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name))
    if name.startswith(fmt.base_prefix) or name.startswith(fmt.head_prefix):
        return name
    return fmt.base_prefix + name
