"""GPT-2 (`GPT2LMHeadModel`): learned positions, LayerNorm, GELU, biases; our "gpt2" flavour.

Besides its `Format`, GPT-2 can be built in memory as a `transformers` model
(`to_transformers_gpt2`: tests and benchmarks compare it with ours).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from playground.core.config import ModelConfig
from playground.core.files import short_repr

from .formats import ConversionError, Format, describe, differences, epsilon_note, join, to_hf_tensors, whole_number
from .llama import llama_differences

if TYPE_CHECKING:  # only for type hints: transformers is optional
    from torch import Tensor
    from transformers import GPT2Config, GPT2LMHeadModel

    from playground.core.model import GPT

# nn.LayerNorm's default, which `model.make_norm` keeps; GPT-2's own value too.
LAYER_NORM_EPSILON = 1e-5


def _config_dict(config: ModelConfig) -> dict[str, Any]:
    """config.json's GPT-2 keys for `config`."""
    return dict(
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


def _read_fields(data: dict, problems: list[str], notes: list[str]) -> tuple[dict, bool]:
    n_embd = whole_number(data, "n_embd", problems)
    sizes = dict(
        vocab_size=whole_number(data, "vocab_size", problems),
        context_length=whole_number(data, "n_positions", problems, "n_ctx"),
        n_layer=whole_number(data, "n_layer", problems),
        n_head=whole_number(data, "n_head", problems),
        n_embd=n_embd,
        mlp_hidden=whole_number(data, "n_inner", problems) if data.get("n_inner") is not None else 4 * n_embd,
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
    epsilon_note(data, "layer_norm_epsilon", LAYER_NORM_EPSILON, 1e-5, notes)
    return sizes, bool(data.get("tie_word_embeddings", True))


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
    write_config=_config_dict,
    read_config=_read_fields,
    size_keys=dict(
        vocab_size="vocab_size", context_length="n_positions", n_layer="n_layer", n_embd="n_embd", mlp_hidden="n_inner"
    ),
    transposed=frozenset({"attn.qkv", "attn.out", "mlp.up", "mlp.down"}),
    # The causal mask that older versions saved with the weights.
    buffers=r"(transformer\.)?h\.\d+\.attn\.(masked_)?bias",
)


def gpt2_differences(config: ModelConfig) -> list[str]:
    """What in `config` GPT-2 lacks, each as a short phrase ("RMSNorm"); empty for a GPT-2 style model.

    Untied weights are fine: `GPT2Config(tie_word_embeddings=False)` keeps a separate output head.
    """
    return differences(config, GPT2)


def raise_unless_gpt2(config: ModelConfig) -> None:
    """Raise `ConversionError` naming each feature that GPT-2's architecture cannot hold."""
    found = gpt2_differences(config)
    if found:
        also = (
            " A LLaMA style model goes to LlamaForCausalLM instead: export it (playground export)."
            if not llama_differences(config)
            else ""
        )
        raise ConversionError(
            f"Only a GPT-2 style model can be converted to Hugging Face's GPT-2, and this one has "
            f"{join(found)}. Build it with {describe(GPT2)} to convert it.{also}"
        )


# -- GPT-2 in memory ------------------------------------------------------------------


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as e:
        raise ConversionError(
            "Converting a model to Hugging Face needs the optional 'transformers' package, which is not "
            "installed. Install it with: pip install transformers"
        ) from e
    return transformers


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
