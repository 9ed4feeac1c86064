"""The shape of a model: its sizes and its architecture.

`ModelConfig` is what the Build step edits and what a checkpoint stores as JSON.
What a config costs (parameters, FLOPs, whether it fits) is counted in
`model_costs`, and can be imported from here as well.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, Optional

from .model_costs import (  # noqa: F401  (re-exported: callers import the costs from here too)
    BYTES_TO_LOAD,
    BYTES_TO_TRAIN,
    TOKEN_TYPES,
    ParameterBreakdown,
    flops_per_token,
    memory_problem,
    parameter_breakdown,
    raise_if_too_big,
)
from .progress import UserError

# Each flavour is a family of architecture choices. GPT-2 (2019) learns a
# vector per position, normalises with LayerNorm, uses a GELU MLP, reads and
# writes tokens with one shared matrix and puts a bias on every layer. LLaMA
# (2023) rotates queries and keys by position (RoPE), normalises with RMSNorm,
# gates its MLP (SwiGLU), keeps separate input and output matrices and drops
# the biases. BERT (2018) is an encoder: every token sees the whole text (no
# causal mask), the norm comes after each sub-layer (post-norm), and it learns
# to recover hidden tokens through its masked-LM head; otherwise GPT-2's parts.
# T5 (Raffel et al. 2019) is an encoder-decoder: an encoder reads the input,
# a decoder writes the output while reading the encoder's vectors through
# cross-attention. Positions enter as a learned bias on the attention scores
# by bucketed distance ("relative"), the norm is RMSNorm, the MLP is a plain
# ReLU one (T5 v1.0; v1.1 gates it with GELU and unties the head), input and
# output share one matrix, and nothing has a bias.
FLAVOURS: dict[str, dict[str, Any]] = {
    "gpt2": dict(family="decoder", positions="learned", norm="layernorm", mlp="gelu", tie_weights=True, bias=True),
    "llama": dict(family="decoder", positions="rope", norm="rmsnorm", mlp="swiglu", tie_weights=False, bias=False),
    "bert": dict(family="encoder", positions="learned", norm="layernorm", mlp="gelu", tie_weights=True, bias=True),
    "t5": dict(
        family="encoder-decoder", positions="relative", norm="rmsnorm", mlp="relu", tie_weights=True, bias=False
    ),
}
# A decoder predicts the next token from the ones before it (causal attention);
# an encoder reads every token at once and predicts the tokens hidden by [MASK];
# an encoder-decoder reads a whole input and writes an output text (text to text).
FAMILIES = ("decoder", "encoder", "encoder-decoder")
POSITIONS = ("learned", "rope", "relative")
NORMS = ("layernorm", "rmsnorm")
MLPS = ("gelu", "swiglu", "relu")
# The one architecture this app builds for an encoder-decoder (tied weights are free).
ENCODER_DECODER_CHOICES = {"positions": "relative", "norm": "rmsnorm", "mlp": "relu", "bias": False}

# SwiGLU's hidden width is rounded up to a multiple of this, as LLaMA does
# (with 256), so the matrices tile well on a GPU; 64 wastes little at small sizes.
SWIGLU_MULTIPLE = 64


class ConfigError(UserError, ValueError):
    """A model configuration that cannot be built; the message says why."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration: the field to fix and a sentence saying how."""

    field: str
    message: str


def default_mlp_hidden(n_embd: int, mlp: str) -> int:
    """The MLP's hidden width when the config leaves it open.

    GELU: 4 * width, as in GPT-2. SwiGLU has three matrices instead of two, so
    LLaMA shrinks the hidden width to 2/3 of 4 * width (8/3 * width) to keep the
    same parameter count, then rounds up to a multiple of `SWIGLU_MULTIPLE`.
    Width 768 gives 3072 (GELU) or 2048 (SwiGLU).
    """
    if mlp == "swiglu":
        return _round_up(math.ceil(8 * n_embd / 3), SWIGLU_MULTIPLE)
    return 4 * n_embd


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build a transformer: a decoder (GPT), an encoder (BERT) or an encoder-decoder (T5).

    The defaults are the "tiny" preset in GPT-2 style. `flavour` names the
    family the architecture choices started from; the five fields after it
    (positions, norm, mlp, tie_weights, bias) decide the architecture and may be
    mixed freely. `family` (last, so that older files read the same) says what
    the model learns: the next token ("decoder") or hidden tokens ("encoder":
    bidirectional attention, post-norm blocks, a masked-LM head) or a text
    written from an input text ("encoder-decoder", T5 style: see `t5_style`).
    The fields after `family` (also appended last) matter only for an
    encoder-decoder. Frozen: make a changed copy with `config.replace(n_layer=4)`.

    For an encoder-decoder, `n_layer` is the encoder's depth and
    `context_length` bounds both the input the encoder reads and the target
    the decoder writes (T5's relative positions have no table that fixes a
    length; the bound keeps memory and the attention maps predictable).
    """

    vocab_size: int = 512
    context_length: int = 64  # the block size: most tokens the model reads at once
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 48  # the width of every token's vector
    mlp_hidden: Optional[int] = None  # None: see `default_mlp_hidden`
    dropout: float = 0.0
    flavour: str = "gpt2"
    positions: str = "learned"  # "learned" or "rope"
    norm: str = "layernorm"  # "layernorm" or "rmsnorm"
    mlp: str = "gelu"  # "gelu" or "swiglu"
    tie_weights: bool = True  # the output head reuses the token embedding matrix
    bias: bool = True  # biases in linear layers and LayerNorms
    family: str = "decoder"  # "decoder" (causal, next token) or "encoder" (bidirectional, masked tokens)
    # Encoder-decoders only (T5 style):
    n_decoder_layer: Optional[int] = None  # the decoder's depth; None: as deep as the encoder (n_layer)
    relative_buckets: int = 32  # relative position bias: distances are sorted into this many buckets ...
    relative_max_distance: int = 128  # ... the last of them holding every distance from about this one on

    # -- construction ---------------------------------------------------------

    @classmethod
    def gpt2_style(cls, **sizes: Any) -> ModelConfig:
        """A GPT-2 style config: learned positions, LayerNorm, GELU, tied weights, biases."""
        return cls._flavoured("gpt2", sizes)

    @classmethod
    def llama_style(cls, **sizes: Any) -> ModelConfig:
        """A LLaMA style config: RoPE, RMSNorm, SwiGLU, untied weights, no biases."""
        return cls._flavoured("llama", sizes)

    @classmethod
    def bert_style(cls, **sizes: Any) -> ModelConfig:
        """A BERT style encoder: bidirectional, post-norm, learned positions, GELU, a masked-LM head."""
        return cls._flavoured("bert", sizes)

    @classmethod
    def t5_style(cls, **sizes: Any) -> ModelConfig:
        """A T5 v1.0 style encoder-decoder: relative position bias, RMSNorm, a ReLU MLP, tied weights, no biases.

        T5 v1.0 rather than v1.1 (gated-GELU MLP, separate output head): the
        input and output share one matrix, one vocabulary-sized matrix less,
        which is most of a small model's parameters. `n_layer` is the encoder's
        depth; `n_decoder_layer` the decoder's (None: the same).
        """
        return cls._flavoured("t5", sizes)

    @property
    def is_encoder(self) -> bool:
        """True for a masked-language encoder (BERT style), False for a causal decoder or an encoder-decoder."""
        return self.family == "encoder"

    @property
    def is_encoder_decoder(self) -> bool:
        """True for an encoder-decoder (T5 style): an input text in, an output text out."""
        return self.family == "encoder-decoder"

    @property
    def decoder_layers(self) -> int:
        """An encoder-decoder's decoder depth: `n_decoder_layer`, or `n_layer` when that is None."""
        return self.n_layer if self.n_decoder_layer is None else self.n_decoder_layer

    @classmethod
    def _flavoured(cls, flavour: str, overrides: Mapping[str, Any]) -> ModelConfig:
        return cls(**{"flavour": flavour, **FLAVOURS[flavour], **overrides})

    @classmethod
    def from_preset(
        cls, name: str, vocab_size: Optional[int] = None, flavour: str = "gpt2", **overrides: Any
    ) -> ModelConfig:
        """The named preset (any of `PRESETS`, `ENCODER_PRESETS` and `ENCODER_DECODER_PRESETS`) in the given flavour."""
        presets = {**PRESETS, **ENCODER_PRESETS, **ENCODER_DECODER_PRESETS}
        if name not in presets:
            offered = presets_for(FLAVOURS.get(flavour, FLAVOURS["gpt2"])["family"])
            raise ConfigError(f"There is no preset called {name!r}. Choose one of: {', '.join(offered)}.")
        return presets[name].config(vocab_size, flavour, **overrides)

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # -- derived sizes --------------------------------------------------------

    @property
    def head_dim(self) -> int:
        """The width of each attention head: width / heads."""
        return self.n_embd // self.n_head

    @property
    def mlp_hidden_size(self) -> int:
        """The MLP's hidden width: `mlp_hidden` if set, else the default for the MLP kind."""
        if self.mlp_hidden is not None:
            return self.mlp_hidden
        return default_mlp_hidden(self.n_embd, self.mlp)

    # -- checking -------------------------------------------------------------

    def validate(self) -> list[ConfigProblem]:
        """Everything that would stop this config from building, as plain sentences.

        An empty list means the model can be built.
        """
        problems: list[ConfigProblem] = []

        def problem(field: str, message: str) -> None:
            problems.append(ConfigProblem(field, message))

        sizes_ok = True
        numbers = ("vocab_size", "context_length", "n_layer", "n_head", "n_embd", "mlp_hidden", "n_decoder_layer")
        for name in numbers:
            value = getattr(self, name)
            if name in ("mlp_hidden", "n_decoder_layer") and value is None:
                continue
            label = _LABELS[name]
            if not _is_int(value):
                problem(name, f"{label} must be a whole number, not {value!r}.")
                sizes_ok = False
            elif value < 1:
                problem(name, f"{label} must be at least 1, not {value}.")
                sizes_ok = False

        if not _is_number(self.dropout) or not 0.0 <= self.dropout < 1.0:
            problem(
                "dropout",
                f"Dropout is the share of values switched off while training, so it must be "
                f"at least 0 and below 1 (0.1 is typical), not {self.dropout!r}.",
            )
        choices = (
            ("flavour", tuple(FLAVOURS)),
            ("family", FAMILIES),
            ("positions", POSITIONS),
            ("norm", NORMS),
            ("mlp", MLPS),
        )
        for name, allowed in choices:
            value = getattr(self, name)
            if value not in allowed:
                problem(name, f"{_LABELS[name]} must be {_either(allowed)}, not {value!r}.")
        for name in ("tie_weights", "bias"):
            if not isinstance(getattr(self, name), bool):
                problem(name, f"{_LABELS[name]} must be true or false, not {getattr(self, name)!r}.")
        problems += self._family_problems()

        if sizes_ok:
            rope = self.positions == "rope"
            # RoPE turns pairs of numbers, so each head's share must also be even.
            step = self.n_head * (2 if rope else 1)
            if self.n_embd % self.n_head != 0:
                problem(
                    "n_embd",
                    f"Width {self.n_embd} is not divisible by {_plural(self.n_head, 'head')}: each head "
                    f"needs an equal share{' of even size for RoPE' if rope else ''}. "
                    f"Try {_nearby_multiples(self.n_embd, step)}.",
                )
            elif rope and self.head_dim % 2 != 0:
                problem(
                    "n_embd",
                    f"Width {self.n_embd} over {_plural(self.n_head, 'head')} gives each head "
                    f"{self.head_dim} numbers, but rotary positions (RoPE) turn numbers in pairs, "
                    f"so that must be even. "
                    f"Try width {_nearby_multiples(self.n_embd, step)}, or learned positions.",
                )
        return problems

    def _family_problems(self) -> list[ConfigProblem]:
        """What an encoder-decoder cannot be built with, and the parts only an encoder-decoder has."""
        problems = []
        if self.is_encoder_decoder:
            for name, wanted in ENCODER_DECODER_CHOICES.items():
                value = getattr(self, name)
                offered = {"positions": POSITIONS, "norm": NORMS, "mlp": MLPS}.get(name)
                if value != wanted and (offered is None or value in offered):  # one not offered at all: said above
                    problems.append(
                        ConfigProblem(
                            name,
                            f"An encoder-decoder is built T5 style, with {_ENCODER_DECODER_PHRASES[name]}; "
                            f"{_LABELS[name].lower()} {value!r} is not offered for it.",
                        )
                    )
            buckets, distance = self.relative_buckets, self.relative_max_distance
            if not _is_int(buckets) or buckets < 4:
                problems.append(
                    ConfigProblem(
                        "relative_buckets",
                        f"Relative position buckets must be a whole number of at least 4 (T5 uses 32), "
                        f"not {buckets!r}: half of them are for exact short distances, the rest for longer ones.",
                    )
                )
            elif not _is_int(distance) or distance <= buckets // 2:
                problems.append(
                    ConfigProblem(
                        "relative_max_distance",
                        f"The relative positions' longest distance must be a whole number above {buckets // 2} "
                        f"(half the {buckets} buckets, which hold the exact short distances), not {distance!r}; "
                        f"T5 uses 128.",
                    )
                )
            return problems
        if self.positions == "relative":
            problems.append(
                ConfigProblem(
                    "positions",
                    f"Relative positions (T5's bias on the attention scores) are built only into an encoder-decoder; "
                    f"{_a(self.family)} takes learned positions or RoPE.",
                )
            )
        if self.mlp == "relu":
            problems.append(
                ConfigProblem(
                    "mlp",
                    f"The ReLU MLP (T5's) is built only into an encoder-decoder; {_a(self.family)} takes "
                    f"a GELU or a SwiGLU MLP.",
                )
            )
        if self.n_decoder_layer is not None:
            problems.append(
                ConfigProblem(
                    "n_decoder_layer",
                    f"Only an encoder-decoder has a decoder stack of its own; {_a(self.family)} has one stack "
                    f"of n_layer layers, so leave the decoder's depth unset.",
                )
            )
        return problems

    def raise_if_invalid(self) -> None:
        """Raise `ConfigError` with every problem's sentence if the config cannot be built."""
        problems = self.validate()
        if problems:
            raise ConfigError(" ".join(p.message for p in problems))

    # -- JSON -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, ready for `json.dump`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Read a dict written by `to_dict` (for instance from a checkpoint's JSON).

        The sizes must be present; architecture choices that are missing are
        filled from the flavour's defaults (GPT-2 if no flavour is given), so
        files written before a field existed still load. Unknown keys are an
        error rather than silently ignored: they usually mean a misspelling or
        a file from a newer version. Values are checked by `validate`, not here.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"A model configuration must be a set of named values, not {type(data).__name__}.")
        known = [f.name for f in fields(cls)]
        unknown = [key for key in data if key not in known]
        if unknown:
            raise ConfigError(
                f"The model configuration has {_plural(len(unknown), 'setting')} this version does not know: "
                f"{', '.join(map(repr, unknown))}. Known settings are: {', '.join(known)}."
            )
        missing = [key for key in _REQUIRED_KEYS if key not in data]
        if missing:
            raise ConfigError(
                f"The model configuration lacks {', '.join(missing)}, so the model's size is unknown. "
                f"The file may be damaged or not a model configuration."
            )
        flavour = data.get("flavour", "gpt2")
        defaults = FLAVOURS.get(flavour, FLAVOURS["gpt2"])
        return cls(**{"flavour": flavour, **defaults, **data})


_REQUIRED_KEYS = ("vocab_size", "context_length", "n_layer", "n_head", "n_embd")

_LABELS = {
    "vocab_size": "Vocabulary size",
    "context_length": "Context length",
    "n_layer": "The number of layers",
    "n_head": "The number of heads",
    "n_embd": "Width",
    "mlp_hidden": "MLP hidden width",
    "flavour": "Flavour",
    "positions": "Positions",
    "norm": "Norm",
    "mlp": "MLP",
    "tie_weights": "Tie weights",
    "bias": "Bias",
    "family": "Family",
    "n_decoder_layer": "The number of decoder layers",
}
_ENCODER_DECODER_PHRASES = {
    "positions": "relative positions ('relative', a learned bias on the attention scores)",
    "norm": "RMSNorm ('rmsnorm')",
    "mlp": "a ReLU MLP ('relu')",
    "bias": "no biases (bias false)",
}


# -- presets ------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A named set of sizes. The vocabulary usually comes from the tokenizer."""

    name: str
    description: str
    n_layer: int
    n_head: int
    n_embd: int
    context_length: int
    dropout: float = 0.0
    vocab_size: Optional[int] = None  # None: whatever the tokenizer has

    def config(self, vocab_size: Optional[int] = None, flavour: str = "gpt2", **overrides: Any) -> ModelConfig:
        """A `ModelConfig` of these sizes in the given flavour ("gpt2", "llama", "bert" or "t5")."""
        vocab_size = vocab_size if vocab_size is not None else self.vocab_size
        if vocab_size is None:
            raise ConfigError(f"The {self.name!r} preset needs a vocabulary size: train or load a tokenizer first.")
        if flavour not in FLAVOURS:
            raise ConfigError(f"Flavour must be {_either(tuple(FLAVOURS))}, not {flavour!r}.")
        sizes = dict(
            vocab_size=vocab_size,
            context_length=self.context_length,
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
            dropout=self.dropout,
        )
        return ModelConfig._flavoured(flavour, {**sizes, **overrides})


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "tiny",
            "About 0.1M parameters: learns to spell in a minute on a laptop's CPU.",
            n_layer=2, n_head=4, n_embd=48, context_length=64,
        ),
        Preset(
            "small",
            "About 1M parameters: a few minutes on a CPU, words and some grammar.",
            n_layer=4, n_head=4, n_embd=128, context_length=128, dropout=0.1,
        ),
        Preset(
            "medium",
            "About 11M parameters, nanoGPT's Shakespeare model: best with a GPU.",
            n_layer=6, n_head=6, n_embd=384, context_length=256, dropout=0.2,
        ),
        Preset(
            "gpt2-small",
            "GPT-2 small: 124M parameters with GPT-2's 50,257-token vocabulary (38.6M of them its token "
            "embedding). Needs a GPU and a large corpus.",
            n_layer=12, n_head=12, n_embd=768, context_length=1024, dropout=0.1, vocab_size=50257,
        ),
    )
}  # fmt: skip

# An encoder shares the small presets; its big one is BERT-base (Devlin et al. 2018).
ENCODER_PRESETS: dict[str, Preset] = {
    **{name: PRESETS[name] for name in ("tiny", "small", "medium")},
    "bert-base": Preset(
        "bert-base",
        "BERT-base: 110M parameters with BERT's 30,522-token vocabulary and 512-token context. "
        "Needs a GPU and a large corpus.",
        n_layer=12, n_head=12, n_embd=768, context_length=512, dropout=0.1, vocab_size=30522,
    ),
}  # fmt: skip


# An encoder-decoder too; its big one is T5-small (Raffel et al. 2019): 6 + 6 layers, about 60M parameters.
ENCODER_DECODER_PRESETS: dict[str, Preset] = {
    **{name: PRESETS[name] for name in ("tiny", "small", "medium")},
    "t5-small": Preset(
        "t5-small",
        "T5-small: 60M parameters, 6 encoder and 6 decoder layers, with T5's 32,128-token vocabulary and "
        "512-token input. Needs a GPU and a large corpus.",
        n_layer=6, n_head=8, n_embd=512, context_length=512, dropout=0.1, vocab_size=32128,
    ),
}  # fmt: skip


def presets_for(family: str) -> dict[str, Preset]:
    """The presets to offer for a family: `PRESETS` for decoders, `ENCODER_PRESETS` for encoders,
    `ENCODER_DECODER_PRESETS` for encoder-decoders (`ModelConfig.from_preset` takes any of them in any flavour)."""
    return {"encoder": ENCODER_PRESETS, "encoder-decoder": ENCODER_DECODER_PRESETS}.get(family, PRESETS)


# -- small helpers ------------------------------------------------------------


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _either(options: tuple[str, ...]) -> str:
    quoted = [repr(o) for o in options]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _nearby_multiples(n: int, step: int) -> str:
    """The multiples of `step` either side of `n`, as "96 or 102"."""
    below, above = (n // step) * step, (n // step + 1) * step
    return f"{below} or {above}" if below > 0 else str(above)
