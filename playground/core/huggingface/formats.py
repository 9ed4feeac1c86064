"""What every Hugging Face format shares: its record (`Format`), our tensors under its names, its files.

A `Format` says which of our tensors is which of theirs (`to_hf_tensors`,
`from_hf_tensors` turn one state dict into the other) and how its
config.json is written and read; one module per family fills one in
(`gpt2.py`, `llama.py`), and `families.py` lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Union

from playground.core.config import FLAVOURS, ModelConfig
from playground.core.files import short_repr
from playground.core.progress import UserError

if TYPE_CHECKING:
    from torch import Tensor

# A Hugging Face folder's files.
HF_CONFIG = "config.json"
HF_WEIGHTS = "model.safetensors"
HF_INDEX = "model.safetensors.index.json"
HF_TOKENIZER = "tokenizer.json"
EXPECTED_FILES = f"{HF_CONFIG}, {HF_TOKENIZER} and {HF_WEIGHTS} (or {HF_INDEX} with its shards)"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


class ConversionError(UserError, ValueError):
    """A model or folder this module cannot convert; the message says why."""


@dataclass(frozen=True)
class ConversionNote:
    """A difference that changes the numbers only slightly (another norm epsilon): a partial result of an import."""

    text: str


# -- the record of a format ------------------------------------------------------------

# Our module name within a block -> theirs (a tuple: our fused query/key/value matrix split in three).
BlockMap = dict[str, Union[str, tuple[str, str, str]]]


@dataclass(frozen=True)
class Format:
    """One Hugging Face architecture and how our tensors map onto its tensors.

    `top` and `block` map our module names to theirs (`block` within layer i,
    under `layer_prefix`); the `.weight` / `.bias` after a name stays the same.
    A module in `transposed` is stored [in, out] there (GPT-2's `Conv1D`),
    where our `nn.Linear` stores [out, in]. A tuple of names splits our fused
    query/key/value matrix into three, along its output rows.

    A model of two stacks (T5's encoder and decoder) names its blocks
    `encoder.blocks.i...` and `decoder.blocks.i...`: `stacks` maps each stack's
    prefix to its layer prefix and block map there (`layer_prefix` and `block`
    then describe the first stack).
    """

    name: str  # "GPT-2"
    hf_class: str  # "GPT2LMHeadModel"
    model_type: str  # config.json's "model_type"
    flavour: str  # our flavour whose architecture this format holds
    base_prefix: str  # the base model's names start with this ("transformer.")
    layer_prefix: str
    top: dict[str, str]
    block: BlockMap
    # The family's config.json: what to write (beside the keys every family shares), how to read it
    # back into our sizes (recording what this app cannot reproduce in `problems`, near misses in
    # `notes`; returns the sizes and whether the embeddings are tied), and its name for each size.
    write_config: Callable[[ModelConfig], dict[str, Any]]
    read_config: Callable[[dict, list[str], list[str]], tuple[dict, bool]]
    size_keys: dict[str, str]
    transposed: frozenset[str] = frozenset()
    buffers: str = r"$^"  # a pattern of names that are not weights (left by older versions): skipped
    # Our full tensor names that are not module + leaf there (BERT's output bias is `cls.predictions.bias`).
    renamed: dict[str, str] = field(default_factory=dict)
    head_prefix: str = "lm_head."  # names outside the base model (which has `base_prefix`)
    stacks: dict[str, tuple[str, BlockMap]] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """ "decoder", "encoder" or "encoder-decoder": the family of models this format holds."""
        return str(FLAVOURS[self.flavour]["family"])

    @property
    def features(self) -> dict[str, Any]:
        """The architecture choices this format fixes (tied weights are free in all)."""
        return {k: v for k, v in FLAVOURS[self.flavour].items() if k not in ("tie_weights", "family")}

    @property
    def label(self) -> str:
        return f"{self.name} ({self.hf_class})"


# How each architecture choice reads in a sentence.
PHRASES = {
    ("positions", "learned"): "learned positions",
    ("positions", "rope"): "rotary positions (RoPE)",
    ("norm", "layernorm"): "LayerNorm",
    ("norm", "rmsnorm"): "RMSNorm",
    ("mlp", "gelu"): "a GELU MLP",
    ("mlp", "swiglu"): "a SwiGLU MLP",
    ("positions", "relative"): "relative positions (T5's bias on the attention scores)",
    ("mlp", "relu"): "a ReLU MLP",
    ("bias", True): "biases",
    ("bias", False): "no biases",
}


def differences(config: ModelConfig, fmt: Format) -> list[str]:
    """What in `config` the format cannot hold, each a short phrase ("RMSNorm"); empty when it fits."""
    return [
        PHRASES[field, getattr(config, field)]
        for field, value in fmt.features.items()
        if getattr(config, field) != value
    ]


def describe(fmt: Format) -> str:
    return join([PHRASES[item] for item in fmt.features.items()])


# -- tensors: ours <-> theirs ---------------------------------------------------------

_BLOCK_NAME = re.compile(r"((?:encoder|decoder)\.)?blocks\.(\d+)\.(.+)\.(weight|bias)")


def _their_name(fmt: Format, name: str) -> tuple[Any, str, str, str]:
    """For our parameter `name`: the format's module name (a tuple when our fused qkv is split),
    the layer prefix, our module and the leaf ("weight" or "bias")."""
    if name in fmt.renamed:
        target, leaf = fmt.renamed[name].rsplit(".", 1)
        return target, "", name.rsplit(".", 1)[0], leaf
    match = _BLOCK_NAME.fullmatch(name)
    if match:
        stack, index, module, leaf = match.groups()
        layer_prefix, block = fmt.stacks[stack] if stack else (fmt.layer_prefix, fmt.block)
        return block[module], layer_prefix.format(i=index), module, leaf
    module, leaf = name.rsplit(".", 1)
    return fmt.top[module], "", module, leaf


def to_hf_tensors(fmt: Format, ours: dict[str, Tensor]) -> dict[str, Tensor]:
    """Our state dict under the format's names and layouts (views where no transpose or split is needed).

    Works on "meta" tensors too, which is how the expected shapes of a file are found.
    """
    theirs: dict[str, Tensor] = {}
    for name, tensor in ours.items():
        target, prefix, module, leaf = _their_name(fmt, name)
        if isinstance(target, tuple):
            for part_name, part in zip(target, tensor.chunk(3, dim=0)):
                theirs[f"{prefix}{part_name}.{leaf}"] = part
        else:
            transpose = module in fmt.transposed and leaf == "weight"
            theirs[f"{prefix}{target}.{leaf}"] = tensor.t() if transpose else tensor
    return theirs


def from_hf_tensors(fmt: Format, theirs: dict[str, Tensor], our_names: list[str]) -> dict[str, Tensor]:
    """The tensors named `our_names` of our model, gathered from the format's tensors (`to_hf_tensors` inverted)."""
    import torch

    ours: dict[str, Tensor] = {}
    for name in our_names:
        target, prefix, module, leaf = _their_name(fmt, name)
        if isinstance(target, tuple):
            ours[name] = torch.cat([theirs[f"{prefix}{part}.{leaf}"] for part in target], dim=0)
        else:
            tensor = theirs[f"{prefix}{target}.{leaf}"]
            ours[name] = tensor.t() if module in fmt.transposed and leaf == "weight" else tensor
    return ours


# -- reading config.json -------------------------------------------------------------


def whole_number(data: dict, key: str, problems: list[str], *alternatives: str) -> int:
    for name in (key, *alternatives):
        value = data.get(name)
        if value is not None:
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                return value
            problems.append(f"{name} must be a whole number of at least 1, not {short_repr(value)}")
            return 1
    problems.append(f"{key} is missing")
    return 1


def epsilon_note(data: dict, key: str, ours: float, default: float, notes: list[str]) -> None:
    value = data.get(key, default)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value != ours:
        notes.append(
            f"{key} is {value:g} where this app's model uses {ours:g}: the logits may differ slightly "
            f"(most where the hidden vectors are small)."
        )


# -- helpers ------------------------------------------------------------------------


def join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def some(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def shape_text(shape: list[int]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
