"""Exchange models with Hugging Face `transformers`: the same weights, under its names, give the same logits.

Two formats: GPT-2 (`GPT2LMHeadModel`: learned positions, LayerNorm, GELU,
biases) and LLaMA (`LlamaForCausalLM`: RoPE, RMSNorm, SwiGLU, no biases).
Each has a small table below saying which of our tensors is which of theirs.

- `export_checkpoint` writes one of our checkpoints as a folder that
  `transformers.AutoModelForCausalLM.from_pretrained` and `AutoTokenizer` read.
- `import_hf` turns such a folder (GPT-2 or LLaMA) into one of our run folders.
- `to_transformers_gpt2` builds the `transformers` model in memory (tests, benchmarks).

Export and import read and write JSON and safetensors directly: neither needs
`transformers`, nor the network. Import never unpickles: a folder that holds
only `pytorch_model.bin` (a pickle, which can run code when loaded) is refused.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Union

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from .config import FLAVOURS, ModelConfig
from .files import check_regular, is_inside, read_json, short_repr
from .progress import UserError
from .units import human_bytes

if TYPE_CHECKING:  # only for type hints: transformers is optional
    from transformers import GPT2Config, GPT2LMHeadModel

    from .checkpoints import Checkpoint
    from .model import GPT

PathLike = Union[str, os.PathLike]

# nn.LayerNorm's default, which `model.make_norm` keeps; GPT-2's own value too.
LAYER_NORM_EPSILON = 1e-5
# Our RMSNorm's epsilon (LLaMA 2 and 3 use the same) and RoPE's base.
RMS_NORM_EPSILON = 1e-5
ROPE_THETA = 10000.0

HF_CONFIG = "config.json"
HF_WEIGHTS = "model.safetensors"
HF_INDEX = "model.safetensors.index.json"
HF_TOKENIZER = "tokenizer.json"
EXPECTED_FILES = (
    f"{HF_CONFIG}, {HF_TOKENIZER} and {HF_WEIGHTS} (or {HF_INDEX} with its shards)"
)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


class ConversionError(UserError, ValueError):
    """A model or folder this module cannot convert; the message says why."""


# -- the two formats ----------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    """One Hugging Face architecture and how our tensors map onto its tensors.

    `top` and `block` map our module names to theirs (`block` within layer i,
    under `layer_prefix`); the `.weight` / `.bias` after a name stays the same.
    A module in `transposed` is stored [in, out] there (GPT-2's `Conv1D`),
    where our `nn.Linear` stores [out, in]. A tuple of names splits our fused
    query/key/value matrix into three, along its output rows.
    """

    name: str  # "GPT-2"
    hf_class: str  # "GPT2LMHeadModel"
    model_type: str  # config.json's "model_type"
    flavour: str  # our flavour whose architecture this format holds
    base_prefix: str  # the base model's names start with this ("transformer.")
    layer_prefix: str
    top: dict[str, str]
    block: dict[str, Union[str, tuple[str, str, str]]]
    transposed: frozenset[str] = frozenset()
    buffers: str = r"$^"  # a pattern of names that are not weights (left by older versions): skipped

    @property
    def features(self) -> dict[str, Any]:
        """The architecture choices this format fixes (tied weights are free in both)."""
        return {k: v for k, v in FLAVOURS[self.flavour].items() if k != "tie_weights"}

    @property
    def label(self) -> str:
        return f"{self.name} ({self.hf_class})"


GPT2 = Format(
    name="GPT-2",
    hf_class="GPT2LMHeadModel",
    model_type="gpt2",
    flavour="gpt2",
    base_prefix="transformer.",
    layer_prefix="transformer.h.{i}.",
    top={
        "token_embedding": "transformer.wte",
        "position_embedding": "transformer.wpe",
        "final_norm": "transformer.ln_f",
        "lm_head": "lm_head",
    },
    block={
        "norm1": "ln_1",
        "attn.qkv": "attn.c_attn",  # queries, keys, values side by side in both
        "attn.out": "attn.c_proj",
        "norm2": "ln_2",
        "mlp.up": "mlp.c_fc",
        "mlp.down": "mlp.c_proj",
    },
    transposed=frozenset({"attn.qkv", "attn.out", "mlp.up", "mlp.down"}),
    # The causal mask that older versions saved with the weights.
    buffers=r"(transformer\.)?h\.\d+\.attn\.(masked_)?bias",
)

LLAMA = Format(
    name="LLaMA",
    hf_class="LlamaForCausalLM",
    model_type="llama",
    flavour="llama",
    base_prefix="model.",
    layer_prefix="model.layers.{i}.",
    top={
        "token_embedding": "model.embed_tokens",
        "final_norm": "model.norm",
        "lm_head": "lm_head",
    },
    block={
        "norm1": "input_layernorm",
        "attn.qkv": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
        "attn.out": "self_attn.o_proj",
        "norm2": "post_attention_layernorm",
        "mlp.gate": "mlp.gate_proj",
        "mlp.up": "mlp.up_proj",
        "mlp.down": "mlp.down_proj",
    },
    # Both conventions rotate (x[i], x[i + head_dim/2]), so q and k need no permuting.
    buffers=r"(model\.)?layers\.\d+\.self_attn\.rotary_emb\.inv_freq",
)

FORMATS = {f.model_type: f for f in (GPT2, LLAMA)}
SUPPORTED = "GPT-2 (model_type \"gpt2\", GPT2LMHeadModel) and LLaMA (model_type \"llama\", LlamaForCausalLM)"

# How each architecture choice reads in a sentence.
_PHRASES = {
    ("positions", "learned"): "learned positions",
    ("positions", "rope"): "rotary positions (RoPE)",
    ("norm", "layernorm"): "LayerNorm",
    ("norm", "rmsnorm"): "RMSNorm",
    ("mlp", "gelu"): "a GELU MLP",
    ("mlp", "swiglu"): "a SwiGLU MLP",
    ("bias", True): "biases",
    ("bias", False): "no biases",
}


# -- checks -------------------------------------------------------------------------


def differences(config: ModelConfig, fmt: Format) -> list[str]:
    """What in `config` the format cannot hold, each a short phrase ("RMSNorm"); empty when it fits."""
    return [_PHRASES[field, getattr(config, field)] for field, value in fmt.features.items()
            if getattr(config, field) != value]


def gpt2_differences(config: ModelConfig) -> list[str]:
    """What in `config` GPT-2 lacks, each as a short phrase ("RMSNorm"); empty for a GPT-2 style model.

    Untied weights are fine: `GPT2Config(tie_word_embeddings=False)` keeps a separate output head.
    """
    return differences(config, GPT2)


def llama_differences(config: ModelConfig) -> list[str]:
    """What in `config` LLaMA lacks; empty for a LLaMA style model (tied weights are fine too)."""
    return differences(config, LLAMA)


def raise_unless_gpt2(config: ModelConfig) -> None:
    """Raise `ConversionError` naming each feature that GPT-2's architecture cannot hold."""
    found = gpt2_differences(config)
    if found:
        also = " A LLaMA style model goes to LlamaForCausalLM instead: export it (playground export)." \
            if not llama_differences(config) else ""
        raise ConversionError(
            f"Only a GPT-2 style model can be converted to Hugging Face's GPT-2, and this one has "
            f"{_join(found)}. Build it with {_describe(GPT2)} to convert it.{also}"
        )


def format_for(config: ModelConfig) -> Format:
    """The format that holds `config`'s architecture: its flavour's if that fits, else the other.

    Raises `ConversionError` naming, for each format, what it cannot hold.
    """
    ordered = sorted(FORMATS.values(), key=lambda f: f.flavour != config.flavour)
    for fmt in ordered:
        if not differences(config, fmt):
            return fmt
    nearest = min(ordered, key=lambda f: len(differences(config, f)))
    lacks = "; ".join(f"{fmt.label} has no place for {_join(differences(config, fmt))}" for fmt in ordered)
    raise ConversionError(
        f"This model cannot be exported: it mixes the two architectures that Hugging Face's formats hold. "
        f"{lacks[0].upper()}{lacks[1:]}. "
        f"The {GPT2.name} format fits a model with {_describe(GPT2)}; the {LLAMA.name} format one with "
        f"{_describe(LLAMA)} (tied weights or not). The nearest here is {nearest.name}: build the model with "
        f"{_join([_PHRASES[f, v] for f, v in nearest.features.items() if getattr(config, f) != v])} instead "
        f"of {_join(differences(config, nearest))} and train it again to export it."
    )


def _describe(fmt: Format) -> str:
    return _join([_PHRASES[item] for item in fmt.features.items()])


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as e:
        raise ConversionError(
            "Converting a model to Hugging Face needs the optional 'transformers' package, which is not "
            "installed. Install it with: pip install transformers"
        ) from e
    return transformers


# -- tensors: ours <-> theirs ---------------------------------------------------------

_BLOCK_NAME = re.compile(r"blocks\.(\d+)\.(.+)\.(weight|bias)")


def _their_name(fmt: Format, name: str) -> tuple[Any, str, str, str]:
    """For our parameter `name`: the format's module name (a tuple when our fused qkv is split),
    the layer prefix, our module and the leaf ("weight" or "bias")."""
    match = _BLOCK_NAME.fullmatch(name)
    if match:
        index, module, leaf = match.groups()
        return fmt.block[module], fmt.layer_prefix.format(i=index), module, leaf
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
    """The tensors named `our_names` of our model, gathered from the format's tensors (the inverse of `to_hf_tensors`)."""
    ours: dict[str, Tensor] = {}
    for name in our_names:
        target, prefix, module, leaf = _their_name(fmt, name)
        if isinstance(target, tuple):
            ours[name] = torch.cat([theirs[f"{prefix}{part}.{leaf}"] for part in target], dim=0)
        else:
            tensor = theirs[f"{prefix}{target}.{leaf}"]
            ours[name] = tensor.t() if module in fmt.transposed and leaf == "weight" else tensor
    return ours


# -- GPT-2 in memory ------------------------------------------------------------------


def gpt2_config(
    config: ModelConfig, *, bos_token_id: Optional[int] = None, eos_token_id: Optional[int] = None
) -> GPT2Config:
    """The `transformers.GPT2Config` of the same sizes, for inference (every dropout 0).

    Our MLP uses GELU's tanh approximation, which is GPT-2's "gelu_new". The
    begin and end token ids are left unset unless given: GPT-2's default
    (50256) lies outside a small vocabulary.
    """
    raise_unless_gpt2(config)
    transformers = _import_transformers()
    return transformers.GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.context_length,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        n_inner=config.mlp_hidden_size,
        activation_function="gelu_new",
        layer_norm_epsilon=LAYER_NORM_EPSILON,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=config.tie_weights,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
    )


def gpt2_state_dict(model: GPT) -> dict[str, Tensor]:
    """Our model's weights under `GPT2LMHeadModel`'s names and layouts, detached and contiguous.

    `lm_head.weight` is always present, as in `GPT2LMHeadModel.state_dict()`;
    with tied weights it is the same tensor as `transformer.wte.weight`. The
    tensors not transposed share memory with `model`: copy them before changing them.
    """
    config = model.config
    raise_unless_gpt2(config)
    ours = {name: t for name, t in model.state_dict().items() if name != "lm_head.weight"}
    theirs = {name: t.detach().contiguous() for name, t in to_hf_tensors(GPT2, ours).items()}
    # After `contiguous`, so that a tied head stays the very same tensor.
    theirs["lm_head.weight"] = (
        theirs["transformer.wte.weight"] if config.tie_weights else model.lm_head.weight.detach().contiguous()
    )
    return theirs


def to_transformers_gpt2(
    model: GPT, *, bos_token_id: Optional[int] = None, eos_token_id: Optional[int] = None
) -> GPT2LMHeadModel:
    """A `transformers.GPT2LMHeadModel` holding a copy of `model`'s weights, on its device and dtype, in eval mode.

    Raises `ConversionError` (a `UserError`) for a model GPT-2 cannot hold, or
    when `transformers` is not installed.
    """
    hf_config = gpt2_config(model.config, bos_token_id=bos_token_id, eos_token_id=eos_token_id)
    transformers = _import_transformers()
    tensors = gpt2_state_dict(model)
    first = next(model.parameters())
    hf_model = transformers.GPT2LMHeadModel(hf_config)
    # Every weight is overwritten below: strict, so a name that does not match fails loudly.
    hf_model.load_state_dict(tensors, strict=True)
    hf_model.to(device=first.device, dtype=first.dtype)
    return hf_model.eval()


# -- export ---------------------------------------------------------------------------


def hf_config_dict(config: ModelConfig, fmt: Format, *, bos_token_id: Optional[int] = None,
                   eos_token_id: Optional[int] = None) -> dict[str, Any]:
    """config.json for `transformers`, as plain values (no `transformers` needed)."""
    common = dict(
        architectures=[fmt.hf_class],
        model_type=fmt.model_type,
        vocab_size=config.vocab_size,
        tie_word_embeddings=config.tie_weights,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        initializer_range=0.02,
        use_cache=True,
        torch_dtype="float32",
    )
    if fmt is GPT2:
        return dict(
            common,
            n_positions=config.context_length,
            n_ctx=config.context_length,  # the older name, for older readers
            n_embd=config.n_embd,
            n_layer=config.n_layer,
            n_head=config.n_head,
            n_inner=config.mlp_hidden_size,
            activation_function="gelu_new",  # GELU's tanh approximation, as ours
            layer_norm_epsilon=LAYER_NORM_EPSILON,
            resid_pdrop=config.dropout,
            embd_pdrop=config.dropout,
            attn_pdrop=config.dropout,
            scale_attn_weights=True,
        )
    return dict(
        common,
        hidden_size=config.n_embd,
        intermediate_size=config.mlp_hidden_size,
        num_hidden_layers=config.n_layer,
        num_attention_heads=config.n_head,
        num_key_value_heads=config.n_head,
        head_dim=config.head_dim,
        hidden_act="silu",
        max_position_embeddings=config.context_length,
        rms_norm_eps=RMS_NORM_EPSILON,
        # Both spellings: transformers 4 reads rope_theta, 5 rope_parameters.
        rope_theta=ROPE_THETA,
        rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA},
        attention_bias=False,
        attention_dropout=0.0,
        mlp_bias=False,
        pretraining_tp=1,
    )


def hf_tensors(model: GPT, fmt: Format) -> dict[str, Tensor]:
    """`model`'s weights under the format's names, on the CPU, each its own contiguous copy.

    A tied output head is left out, as `transformers` saves it: the embedding stands in.
    """
    ours = {name: t.detach().to("cpu") for name, t in model.state_dict().items()}
    if model.config.tie_weights:
        del ours["lm_head.weight"]
    return {name: t.clone().contiguous() for name, t in to_hf_tensors(fmt, ours).items()}


def export_checkpoint(path: PathLike, out: PathLike, which: str = "best", overwrite: bool = False) -> Path:
    """Write the checkpoint at `path` (a run folder or its best/ or last/) as a Hugging Face folder `out`.

    `out` gets config.json, model.safetensors, tokenizer.json,
    tokenizer_config.json, special_tokens_map.json, generation_config.json and
    README.md, written in a temporary folder and renamed into place. A
    non-empty `out` is refused unless `overwrite`. Returns `out`.
    """
    from .checkpoints import is_checkpoint, load_checkpoint

    path, out = Path(path), Path(out)
    if not is_checkpoint(path) and (path / HF_CONFIG).is_file() and _is_hf_folder(path):
        raise ConversionError(
            f"{path} is already a Hugging Face folder, not one of this app's run folders. "
            f"To use it here, import it: playground import --hf {path} --out FOLDER"
        )
    checkpoint, model = load_checkpoint(path, which=which)
    fmt = format_for(checkpoint.model_config)
    _check_out(out, overwrite, sources=[checkpoint.run_dir])
    from .sampling import end_token_id, special_token_id

    tokenizer = checkpoint.tokenizer
    eos = end_token_id(tokenizer)
    bos = special_token_id(tokenizer, BEGIN_TOKENS)
    bos = eos if bos is None else bos
    config = checkpoint.model_config
    with _atomic_folder(out, overwrite) as tmp:
        _write_json(tmp / HF_CONFIG, hf_config_dict(config, fmt, bos_token_id=bos, eos_token_id=eos))
        save_file(hf_tensors(model, fmt), str(tmp / HF_WEIGHTS), metadata={"format": "pt"})
        shutil.copyfile(checkpoint.run_dir / HF_TOKENIZER, tmp / HF_TOKENIZER)
        special = special_tokens_map(tokenizer, bos, eos)
        _write_json(tmp / "tokenizer_config.json", tokenizer_config(tokenizer, special, config.context_length))
        _write_json(tmp / "special_tokens_map.json", special)
        # No max_length: transformers warns when a caller's max_new_tokens meets one.
        generation = {"bos_token_id": bos, "eos_token_id": eos}
        if eos is not None and "pad_token" not in special:
            generation["pad_token_id"] = eos  # so that generate() need not warn about padding
        _write_json(tmp / "generation_config.json", generation)
        (tmp / "README.md").write_text(model_card(checkpoint, model, fmt), encoding="utf-8")
    return out


# Special tokens by role, in the order a tokenizer's tokens are tried.
BEGIN_TOKENS = ("<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>", "[CLS]")
_ROLES = {
    "unk_token": ("[UNK]", "<unk>", "<|unk|>"),
    "pad_token": ("[PAD]", "<pad>", "<|pad|>"),
    "sep_token": ("[SEP]",),
    "cls_token": ("[CLS]",),
    "mask_token": ("[MASK]", "<mask>"),
}


def special_tokens_map(tokenizer, bos: Optional[int], eos: Optional[int]) -> dict[str, Any]:
    """special_tokens_map.json: each special token by its role; the rest as additional ones."""
    special: dict[str, Any] = {}
    if bos is not None:
        special["bos_token"] = tokenizer.tokenizer.id_to_token(bos)
    if eos is not None:
        special["eos_token"] = tokenizer.tokenizer.id_to_token(eos)
    for role, candidates in _ROLES.items():
        token = next((t for t in candidates if t in tokenizer.special_tokens), None)
        if token is not None:
            special[role] = token
    others = sorted(set(tokenizer.special_tokens) - set(special.values()))
    if others:
        special["additional_special_tokens"] = others
    return special


def tokenizer_config(tokenizer, special: dict[str, Any], context_length: int) -> dict[str, Any]:
    """tokenizer_config.json: a `PreTrainedTokenizerFast` over tokenizer.json, adding no tokens of its own."""
    added = {
        str(entry["id"]): {key: entry.get(key, False) for key in
                           ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
        for entry in tokenizer.description.get("added_tokens", [])
    }
    return dict(
        tokenizer_class="PreTrainedTokenizerFast",
        model_max_length=context_length,
        clean_up_tokenization_spaces=False,
        add_bos_token=False,
        add_eos_token=False,
        added_tokens_decoder=added,
        **special,
    )


def model_card(checkpoint: Checkpoint, model: GPT, fmt: Format) -> str:
    """README.md: what the model is and where it came from, in a few lines."""
    config = checkpoint.model_config
    meta = checkpoint.meta
    corpus = meta.get("corpus") or (checkpoint.train_config and getattr(checkpoint.train_config, "corpus", None))
    val = checkpoint.val_loss
    val_text = "not measured" if val is None else f"{val:.4f} (perplexity {_perplexity(val)})"
    rows = [
        ("Architecture", f"{fmt.name} style ({fmt.hf_class}): {_describe_config(config)}"),
        ("Parameters", f"{model.num_parameters():,}"),
        ("Layers, heads, width", f"{config.n_layer}, {config.n_head}, {config.n_embd}"),
        ("Context", f"{config.context_length} tokens"),
        ("Vocabulary", f"{config.vocab_size:,} tokens ({checkpoint.tokenizer.kind_label} tokenizer)"),
        ("Corpus", str(corpus) if corpus else "not recorded with the run"),
        ("Training steps", f"{checkpoint.step:,}"),
        ("Validation loss", val_text),
    ]
    if checkpoint.parent:
        rows.append(("Fine-tuned from", str(checkpoint.parent)))
    table = "\n".join(f"| {label} | {value} |" for label, value in rows)
    return f"""---
library_name: transformers
tags:
- llm-playground
- {fmt.model_type}
---

# {checkpoint.name}

A small language model made with LLM Playground, a desktop app for learning how
language models work by building one. It was trained from scratch on a small
corpus, so it writes text in the manner of that corpus, not sense. Exported from
`{checkpoint.name}/{checkpoint.which}` (the {checkpoint.which} checkpoint).

| | |
|---|---|
{table}

## Use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")
model = AutoModelForCausalLM.from_pretrained("path/to/this/folder")
ids = tokenizer("Once upon a time", return_tensors="pt").input_ids
print(tokenizer.decode(model.generate(ids, max_new_tokens=40, do_sample=True)[0]))
```

To read it back into LLM Playground: `playground import --hf path/to/this/folder --out RUN`.
"""


def _describe_config(config: ModelConfig) -> str:
    phrases = [_PHRASES[field, getattr(config, field)] for field in ("positions", "norm", "mlp", "bias")]
    phrases.append("tied input and output embeddings" if config.tie_weights else "separate output head")
    return ", ".join(phrases)


def _perplexity(loss: float) -> str:
    import math

    return f"{math.exp(loss):.1f}" if loss < 50 else "very large"


# -- import ---------------------------------------------------------------------------


def _ignore(_: str) -> None:
    pass


def import_hf(folder: PathLike, out: PathLike, *, overwrite: bool = False,
              warn: Callable[[str], None] = _ignore) -> Path:
    """Make a run folder `out` from a Hugging Face GPT-2 or LLaMA folder, reading only JSON and safetensors.

    `out` gets config.json, tokenizer.json, and best/ with model.safetensors
    and meta.json (step 0, a note naming the source). Written in a temporary
    folder and renamed into place; a non-empty `out` is refused unless
    `overwrite`. Differences that change the numbers only slightly (another
    norm epsilon) are passed to `warn` and noted in meta.json; everything this
    app's model cannot do is a `ConversionError` naming it. Returns `out`.
    """
    from .checkpoints import CONFIG_FILE, META_FILE, TOKENIZER_FILE, WEIGHTS_FILE, is_checkpoint
    from .model import GPT
    from .tokenization import open_tokenizer

    folder, out = Path(folder), Path(out)
    if is_checkpoint(folder):
        raise ConversionError(f"{folder} is already one of this app's run folders: open it as it is, no import needed.")
    _check_hf_folder(folder)
    _check_out(out, overwrite, sources=[folder])
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

    # What the file must hold: our model's tensors (built on "meta", so nothing is allocated) under its names.
    skeleton = {name: t for name, t in GPT.from_config(config, device="meta").state_dict().items()}
    if config.tie_weights:
        del skeleton["lm_head.weight"]
    expected = {name: list(t.shape) for name, t in to_hf_tensors(fmt, skeleton).items()}
    theirs = read_hf_tensors(folder, fmt, expected, tied=config.tie_weights, found=found)
    ours = from_hf_tensors(fmt, theirs, list(skeleton))
    ours = {name: t.to(torch.float32).contiguous() for name, t in ours.items()}

    for note in notes:
        warn(note)
    source = str(folder.resolve())
    meta = {
        "step": 0,
        "val_loss": None,
        "note": f"imported from {source} ({fmt.hf_class})",
        "imported_from": source,
        "warnings": notes,
    }
    with _atomic_folder(out, overwrite) as tmp:
        _write_json(tmp / CONFIG_FILE, config.to_dict())
        shutil.copyfile(folder / HF_TOKENIZER, tmp / TOKENIZER_FILE)
        (tmp / "best").mkdir()
        save_file(ours, str(tmp / "best" / WEIGHTS_FILE), metadata={"format": "pt"})
        _write_json(tmp / "best" / META_FILE, meta)
    return out


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
        raise ConversionError(f"{path} gives model_type {short_repr(model_type)}: expected a name such as \"gpt2\".")
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
        notes.append(f"{path.name} names {', '.join(map(str, odd))}; only the language model ({fmt.hf_class}) "
                     f"weights are read.")
    read = _gpt2_fields if fmt is GPT2 else _llama_fields
    problems: list[str] = []
    sizes, tied = read(data, problems, notes)
    if problems:
        raise ConversionError(
            f"{path} describes a {fmt.name} model this app cannot reproduce: {'; '.join(problems)}."
        )
    style = ModelConfig.gpt2_style if fmt is GPT2 else ModelConfig.llama_style
    config = style(**sizes, tie_weights=tied, dropout=0.0)
    if config.mlp_hidden == config.replace(mlp_hidden=None).mlp_hidden_size:
        config = config.replace(mlp_hidden=None)  # the usual width: leave it implied
    try:
        config.raise_if_invalid()
    except UserError as e:
        raise ConversionError(f"{path} gives sizes this app's model cannot take: {e}") from e
    return fmt, config


def _whole(data: dict, key: str, problems: list[str], *alternatives: str) -> int:
    for name in (key, *alternatives):
        value = data.get(name)
        if value is not None:
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                return value
            problems.append(f"{name} must be a whole number of at least 1, not {short_repr(value)}")
            return 1
    problems.append(f"{key} is missing")
    return 1


def _epsilon(data: dict, key: str, ours: float, default: float, notes: list[str]) -> None:
    value = data.get(key, default)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value != ours:
        notes.append(f"{key} is {value:g} where this app's model uses {ours:g}: the logits may differ slightly "
                     f"(most where the hidden vectors are small).")


def _gpt2_fields(data: dict, problems: list[str], notes: list[str]) -> tuple[dict, bool]:
    n_embd = _whole(data, "n_embd", problems)
    sizes = dict(
        vocab_size=_whole(data, "vocab_size", problems),
        context_length=_whole(data, "n_positions", problems, "n_ctx"),
        n_layer=_whole(data, "n_layer", problems),
        n_head=_whole(data, "n_head", problems),
        n_embd=n_embd,
        mlp_hidden=_whole(data, "n_inner", problems) if data.get("n_inner") is not None else 4 * n_embd,
    )
    act = data.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh"):
        problems.append(
            f"activation_function is {short_repr(act)}, but this app's GPT-2 MLP uses GELU's tanh approximation "
            f"('gelu_new' or 'gelu_pytorch_tanh'), so the logits would differ"
        )
    if data.get("scale_attn_weights", True) is not True:
        problems.append("scale_attn_weights is off (this app always divides attention scores by √head size)")
    if data.get("scale_attn_by_inverse_layer_idx"):
        problems.append("scale_attn_by_inverse_layer_idx is on (not supported)")
    if data.get("add_cross_attention"):
        problems.append("add_cross_attention is on (cross-attention to an encoder is not supported)")
    _epsilon(data, "layer_norm_epsilon", LAYER_NORM_EPSILON, 1e-5, notes)
    return sizes, bool(data.get("tie_word_embeddings", True))


def _llama_fields(data: dict, problems: list[str], notes: list[str]) -> tuple[dict, bool]:
    n_head = _whole(data, "num_attention_heads", problems)
    n_embd = _whole(data, "hidden_size", problems)
    sizes = dict(
        vocab_size=_whole(data, "vocab_size", problems),
        context_length=_whole(data, "max_position_embeddings", problems),
        n_layer=_whole(data, "num_hidden_layers", problems),
        n_head=n_head,
        n_embd=n_embd,
        mlp_hidden=_whole(data, "intermediate_size", problems),
    )
    act = data.get("hidden_act", "silu")
    if act not in ("silu", "swish"):
        problems.append(f"hidden_act is {short_repr(act)}, but this app's SwiGLU MLP gates with 'silu'")
    kv_heads = data.get("num_key_value_heads")
    if kv_heads is not None and kv_heads != n_head:
        problems.append(
            f"num_key_value_heads is {short_repr(kv_heads)} where num_attention_heads is {n_head}: grouped-query attention "
            f"(GQA: fewer key/value heads shared by the query heads) is not supported, only one key/value head "
            f"per query head"
        )
    head_dim = data.get("head_dim")
    if head_dim is not None and (not isinstance(head_dim, int) or head_dim * n_head != n_embd):
        problems.append(f"head_dim is {short_repr(head_dim)}, but this app's heads are hidden_size / num_attention_heads "
                        f"= {n_embd / n_head:g} wide")
    for key in ("attention_bias", "mlp_bias"):
        if data.get(key):
            problems.append(f"{key} is on (this app's LLaMA style model has no biases)")
    # RoPE: transformers 4 writes rope_theta and rope_scaling; 5 writes rope_parameters.
    theta = data.get("rope_theta")
    parameters = data.get("rope_parameters")
    scaling = data.get("rope_scaling")
    if isinstance(parameters, dict):
        theta = parameters.get("rope_theta", theta)
        if parameters.get("rope_type", "default") != "default":
            scaling = parameters
    if theta is not None and theta != ROPE_THETA:
        shown = f"{theta:g}" if isinstance(theta, (int, float)) and not isinstance(theta, bool) else short_repr(theta)
        problems.append(f"rope_theta is {shown}, but this app's RoPE turns with base {ROPE_THETA:g}")
    if scaling:
        kind = scaling.get("rope_type") or scaling.get("type") if isinstance(scaling, dict) else scaling
        problems.append(f"rope_scaling is set ({kind}): stretched or scaled RoPE is not supported")
    _epsilon(data, "rms_norm_eps", RMS_NORM_EPSILON, 1e-6, notes)
    return sizes, bool(data.get("tie_word_embeddings", False))


def _is_hf_folder(folder: Path) -> bool:
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
                f"python -c \"from transformers import AutoModelForCausalLM as M; "
                f"M.from_pretrained('{folder}').save_pretrained('{folder}-safetensors', safe_serialization=True)\" "
                f"then copy {HF_TOKENIZER} next to the new {HF_WEIGHTS} and import that folder."
            )
    missing = [name for name, ok in ((HF_CONFIG, (folder / HF_CONFIG).is_file()),
                                     (HF_TOKENIZER, (folder / HF_TOKENIZER).is_file()),
                                     (HF_WEIGHTS, has_weights)) if not ok]
    if missing:
        hint = ""
        if HF_TOKENIZER in missing and (folder / "tokenizer.model").is_file():
            hint = (f" Its tokenizer is a SentencePiece tokenizer.model; to write {HF_TOKENIZER}, on a machine with "
                    f"transformers run: python -c \"from transformers import AutoTokenizer; "
                    f"AutoTokenizer.from_pretrained('{folder}').save_pretrained('{folder}')\"")
        raise ConversionError(f"{folder} lacks {_join(missing)}: expected {EXPECTED_FILES}.{hint}")


def _weight_files(folder: Path) -> dict[str, Path]:
    """Each tensor's file: model.safetensors, or the shards that model.safetensors.index.json names."""
    if (folder / HF_WEIGHTS).is_file():
        return {}  # one file: its own keys say what it holds
    index = read_json(folder / HF_INDEX, "a safetensors index")
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ConversionError(f"{folder / HF_INDEX} is not a safetensors index: it has no \"weight_map\".")
    files = {name: _shard(folder, file) for name, file in weight_map.items()}
    absent = sorted({p.name for p in files.values() if not p.exists()})
    if absent:
        raise ConversionError(
            f"{folder / HF_INDEX} names {_count(len(absent), 'shard')} that {folder} lacks: {', '.join(absent)}."
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
    raise ConversionError(f"{folder / HF_INDEX} names {refuse} {str(name)[:120]!r}: an import reads only files "
                          f"inside {folder}, so it is refused.")


def _confined(folder: Path, path: Path) -> Path:
    """`path`, unless it is a link that leads out of `folder` (ConversionError)."""
    if path.exists() and not _inside_folder(path, folder):
        raise ConversionError(f"{path} is a link to {path.resolve()}, outside {folder}: an import reads only files "
                              f"inside the folder, so it is refused.")
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


# config.json's name for each of our sizes, by format (for sentences).
_SIZE_KEYS = {
    "gpt2": dict(vocab_size="vocab_size", context_length="n_positions", n_layer="n_layer", n_embd="n_embd",
                 mlp_hidden="n_inner"),
    "llama": dict(vocab_size="vocab_size", context_length="max_position_embeddings", n_layer="num_hidden_layers",
                  n_embd="hidden_size", mlp_hidden="intermediate_size"),
}


def check_sizes(fmt: Format, config: ModelConfig, found: "Headers", folder: Path) -> None:
    """ConversionError unless each size in config.json is one the weights hold and the model fits in memory.

    Checked on the safetensors headers before anything is built: a config.json that claims a billion
    numbers a vector or ten million layers would otherwise have this app try to allocate them.
    Differences that cost nothing to build (another MLP width) are left to the shape check that follows.
    """
    keys = _SIZE_KEYS[fmt.model_type]
    problems = []
    layer = re.compile(re.escape(fmt.layer_prefix).replace(re.escape("{i}"), r"(\d+)"))
    layers = {int(m.group(1)) for name in found if (m := layer.match(name))}
    if config.n_layer != len(layers):
        problems.append(f"{keys['n_layer']} is {config.n_layer:,} but the weights hold {_count(len(layers), 'layer')}")
    embedding = found.get(f"{fmt.top['token_embedding']}.weight")
    if embedding is not None and len(embedding[2]) == 2:
        rows, width = embedding[2]
        if config.vocab_size != rows:
            problems.append(f"{keys['vocab_size']} is {config.vocab_size:,} but {embedding[1]} holds "
                            f"{rows:,} token vectors")
        if config.n_embd != width:
            problems.append(f"{keys['n_embd']} is {config.n_embd:,} but {embedding[1]} holds vectors of "
                            f"{width:,} numbers")
    positions = found.get(f"{fmt.top['position_embedding']}.weight") if "position_embedding" in fmt.top else None
    if positions is not None and positions[2][:1] != [config.context_length]:
        problems.append(f"{keys['context_length']} is {config.context_length:,} but {positions[1]} holds "
                        f"{_shape(positions[2])} (a vector per position)")
    largest = max((side for _, _, shape in found.values() for side in shape), default=0)
    if config.mlp_hidden_size > largest and not problems:  # a wrong width already explains a wrong MLP
        problems.append(f"{keys['mlp_hidden']} is {config.mlp_hidden_size:,}, more than any side of any tensor in "
                        f"the weights (the longest is {largest:,})")
    if problems:
        raise ConversionError(f"{folder / HF_CONFIG} does not fit the weights in {folder}: "
                              f"{'; '.join(problems)}. They do not belong together.")
    _check_memory(fmt, config, found, folder, keys)


def _check_memory(fmt: Format, config: ModelConfig, found: "Headers", folder: Path, keys: dict[str, str]) -> None:
    from .estimates import available_system_memory

    memory = available_system_memory()
    if memory.bytes is None:
        return
    numbers = sum(math.prod(shape) for _, _, shape in found.values())
    stored = sum(path.stat().st_size for path in {path for path, _, _ in found.values()})
    needed = stored + 4 * numbers  # the weights as stored, then as float32
    if needed > memory.bytes:
        raise ConversionError(
            f"Importing {folder} needs about {human_bytes(needed)} of memory (its {numbers:,} weights, read and then "
            f"made float32), but only {human_bytes(memory.bytes)} is available ({memory.source}). Close other programs, "
            f"or import a smaller model.")
    if "position_embedding" not in fmt.top:
        # RoPE has no table to check against: one full context of vectors is the least it costs to read one.
        context = 4 * config.context_length * config.n_embd
        if context > memory.bytes:
            raise ConversionError(
                f"{folder / HF_CONFIG} gives {keys['context_length']} {config.context_length:,}: reading that many "
                f"tokens at once takes at least {human_bytes(context)} (a vector of {config.n_embd:,} numbers a token), "
                f"more than the {human_bytes(memory.bytes)} of memory available. Import a model with a shorter context.")


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
            raise ConversionError(f"{path} is damaged: it is not a complete safetensors file ({_first_line(e)}).") from e
    return found


def read_hf_tensors(folder: Path, fmt: Format, expected: dict[str, list[int]], tied: bool,
                    found: Optional[Headers] = None) -> dict[str, Tensor]:
    """The tensors of a Hugging Face folder, after checking every name and shape against `expected`."""
    found = read_hf_headers(folder, fmt) if found is None else found
    paths = sorted({path for path, _, _ in found.values()})
    ignored = re.compile(fmt.buffers)
    if tied:  # transformers ignores a stored head when the embeddings are tied, and so does this
        ignored = re.compile(f"{fmt.buffers}|lm_head\\.weight")
    unexpected = [found[name][1] for name in found if name not in expected and not ignored.fullmatch(name)]
    missing = [name for name in expected if name not in found]
    problems = []
    if missing:
        problems.append(f"{_count(len(missing), 'tensor')} missing: {_some(missing)}")
    if unexpected:
        problems.append(f"{_count(len(unexpected), 'tensor')} this {fmt.name} model has no place for: {_some(unexpected)}")
    wrong = [f"{name} is {_shape(found[name][2])} where {HF_CONFIG} needs {_shape(shape)}"
             for name, shape in expected.items() if name in found and found[name][2] != shape]
    if wrong:
        problems.append(f"{_count(len(wrong), 'tensor')} of the wrong shape: {_some(wrong)}")
    if problems:
        raise ConversionError(
            f"The weights in {folder} do not fit its {HF_CONFIG} ({fmt.name}, {fmt.hf_class}): "
            f"{'; '.join(problems)}."
        )

    tensors: dict[str, Tensor] = {}
    for path in paths:
        names = [n for n in expected if found[n][0] == path]
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                for name in names:
                    tensors[name] = f.get_tensor(found[name][1])
        except (SafetensorError, OSError, RuntimeError) as e:
            raise ConversionError(f"{path} is damaged: its weights could not be read ({_first_line(e)}).") from e
    not_float = [n for n, t in tensors.items() if not t.is_floating_point()]
    if not_float:
        raise ConversionError(
            f"The weights in {folder} are not all floating point ({_some(not_float)} are {tensors[not_float[0]].dtype}): "
            f"a quantised model cannot be imported; use its float16, bfloat16 or float32 weights."
        )
    return tensors


def _full_name(fmt: Format, name: str) -> str:
    """A tensor's name as saved from the language model (a base model saves them without the prefix)."""
    if name.startswith(fmt.base_prefix) or name.startswith("lm_head."):
        return name
    return fmt.base_prefix + name


# -- writing a folder all at once -------------------------------------------------------


def _check_out(out: Path, overwrite: bool, sources: list[Path]) -> None:
    if out.exists() and not out.is_dir():
        raise ConversionError(f"{out} is a file: give a folder to write into.")
    resolved = out.resolve()
    for source in sources:
        source = source.resolve()
        if resolved == source or resolved in source.parents:
            raise ConversionError(f"{out} holds the model being converted: write into another folder.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConversionError(
            f"{out} is not empty: choose a new or empty folder, or allow replacing what is there "
            f"(--overwrite on the command line)."
        )


@contextmanager
def _atomic_folder(out: Path, overwrite: bool) -> Iterator[Path]:
    """A temporary folder beside `out` to write into; renamed to `out` when the block ends without error.

    An `out` already there (empty, or with `overwrite`) is moved aside first
    and deleted only once the new folder is in place.
    """
    _check_out(out, overwrite, sources=[])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as e:
        raise ConversionError(f"Could not create {out}: {e.strerror or e}.") from e
    old: Optional[Path] = None
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
    except (OSError, SafetensorError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not out.exists():
            os.replace(old / out.name, out)  # put back what was there
            shutil.rmtree(old, ignore_errors=True)
        reason = getattr(e, "strerror", None) or str(e)
        raise ConversionError(f"Could not write {out} ({reason}); nothing was changed there.") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# -- helpers ------------------------------------------------------------------------


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _some(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _shape(shape: list[int]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
