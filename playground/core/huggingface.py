"""Hand a model built here to Hugging Face `transformers`, where the same weights give the same logits.

Useful to check our model against a widely used implementation, to compare
generation speed, or to use the library's tools on a model trained here.
`transformers` is optional: it is imported only inside the functions that
need it. Each architecture family has its own mapping; GPT-2 (`GPT2LMHeadModel`)
is the one so far, and a LLaMA mapping (`LlamaForCausalLM`) can sit beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from torch import Tensor

from .config import FLAVOURS, ModelConfig
from .progress import UserError

if TYPE_CHECKING:  # only for type hints: transformers is optional
    from transformers import GPT2Config, GPT2LMHeadModel

    from .model import GPT

# nn.LayerNorm's default, which `model.make_norm` keeps; GPT-2's own value too.
LAYER_NORM_EPSILON = 1e-5

# The architecture choices GPT-2 fixes (all but tied weights, which it may untie),
# each with what a model that differs has instead, as said in a sentence.
_GPT2_FEATURES = (
    ("positions", "rotary positions (RoPE)"),
    ("norm", "RMSNorm"),
    ("mlp", "a SwiGLU MLP"),
    ("bias", "no biases"),
)


class ConversionError(UserError, ValueError):
    """A model this module cannot hand to `transformers`; the message says why."""


# -- checks -------------------------------------------------------------------------


def gpt2_differences(config: ModelConfig) -> list[str]:
    """What in `config` GPT-2 lacks, each as a short phrase ("RMSNorm"); empty for a GPT-2 style model.

    Untied weights are fine: `GPT2Config(tie_word_embeddings=False)` keeps a separate output head.
    """
    gpt2 = FLAVOURS["gpt2"]
    return [phrase for field, phrase in _GPT2_FEATURES if getattr(config, field) != gpt2[field]]


def raise_unless_gpt2(config: ModelConfig) -> None:
    """Raise `ConversionError` naming each feature that GPT-2's architecture cannot hold."""
    differences = gpt2_differences(config)
    if differences:
        raise ConversionError(
            f"Only a GPT-2 style model can be converted to Hugging Face's GPT-2 so far, and this one has "
            f"{_join(differences)}. Build it with learned positions, LayerNorm, a GELU MLP and biases "
            f"to convert it; LLaMA style models are not supported yet."
        )


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as e:
        raise ConversionError(
            "Converting a model to Hugging Face needs the optional 'transformers' package, which is not "
            "installed. Install it with: pip install transformers"
        ) from e
    return transformers


# -- GPT-2 --------------------------------------------------------------------------


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


# Our names within a block -> GPT-2's, and whether the weight is a matrix to transpose:
# GPT-2 multiplies by `Conv1D` layers, whose weight is stored [in, out], where
# nn.Linear stores [out, in]. The query/key/value matrix splits the same way in
# both (queries, keys, values; heads side by side within each).
_GPT2_BLOCK_NAMES = {
    "norm1": ("ln_1", False),
    "attn.qkv": ("attn.c_attn", True),
    "attn.out": ("attn.c_proj", True),
    "norm2": ("ln_2", False),
    "mlp.up": ("mlp.c_fc", True),
    "mlp.down": ("mlp.c_proj", True),
}


def gpt2_state_dict(model: GPT) -> dict[str, Tensor]:
    """Our model's weights under `GPT2LMHeadModel`'s names and layouts, detached and contiguous.

    `lm_head.weight` is always present, as in `GPT2LMHeadModel.state_dict()`;
    with tied weights it is the same tensor as `transformer.wte.weight`. The
    tensors not transposed share memory with `model`: copy them before changing them.
    """
    config = model.config
    raise_unless_gpt2(config)
    ours = model.state_dict()
    theirs: dict[str, Tensor] = {
        "transformer.wte.weight": ours["token_embedding.weight"],
        "transformer.wpe.weight": ours["position_embedding.weight"],
    }
    for i in range(config.n_layer):
        for our_name, (their_name, transpose) in _GPT2_BLOCK_NAMES.items():
            weight = ours[f"blocks.{i}.{our_name}.weight"]
            theirs[f"transformer.h.{i}.{their_name}.weight"] = weight.t() if transpose else weight
            theirs[f"transformer.h.{i}.{their_name}.bias"] = ours[f"blocks.{i}.{our_name}.bias"]
    theirs["transformer.ln_f.weight"] = ours["final_norm.weight"]
    theirs["transformer.ln_f.bias"] = ours["final_norm.bias"]
    theirs = {name: t.detach().contiguous() for name, t in theirs.items()}
    # After `contiguous`, so that a tied head stays the very same tensor.
    theirs["lm_head.weight"] = (
        theirs["transformer.wte.weight"] if config.tie_weights else ours["lm_head.weight"].detach().contiguous()
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


# -- helpers ------------------------------------------------------------------------


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
