"""LLaMA (`LlamaForCausalLM`): RoPE, RMSNorm, SwiGLU, no biases; our "llama" flavour."""

from __future__ import annotations

from typing import Any

from playground.core.config import ModelConfig
from playground.core.files import short_repr

from .formats import Format, differences, epsilon_note, whole_number

# Our RMSNorm's epsilon (LLaMA 2 and 3 use the same) and RoPE's base.
RMS_NORM_EPSILON = 1e-5
ROPE_THETA = 10000.0


def _config_dict(config: ModelConfig) -> dict[str, Any]:
    """config.json's LLaMA keys for `config`."""
    return dict(
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


def _read_fields(data: dict, problems: list[str], notes: list[str]) -> tuple[dict, bool]:
    n_head = whole_number(data, "num_attention_heads", problems)
    n_embd = whole_number(data, "hidden_size", problems)
    sizes = dict(
        vocab_size=whole_number(data, "vocab_size", problems),
        context_length=whole_number(data, "max_position_embeddings", problems),
        n_layer=whole_number(data, "num_hidden_layers", problems),
        n_head=n_head,
        n_embd=n_embd,
        mlp_hidden=whole_number(data, "intermediate_size", problems),
    )
    act = data.get("hidden_act", "silu")
    if act not in ("silu", "swish"):
        problems.append(f"hidden_act is {short_repr(act)}, but this app's SwiGLU MLP gates with 'silu'")
    kv_heads = data.get("num_key_value_heads")
    if kv_heads is not None and kv_heads != n_head:
        problems.append(
            f"num_key_value_heads is {short_repr(kv_heads)} where num_attention_heads is {n_head}: "
            f"grouped-query attention "
            f"(GQA: fewer key/value heads shared by the query heads) is not supported, only one key/value head "
            f"per query head"
        )
    head_dim = data.get("head_dim")
    if head_dim is not None and (not isinstance(head_dim, int) or head_dim * n_head != n_embd):
        problems.append(
            f"head_dim is {short_repr(head_dim)}, but this app's heads are "
            f"hidden_size / num_attention_heads "
            f"= {n_embd / n_head:g} wide"
        )
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
    epsilon_note(data, "rms_norm_eps", RMS_NORM_EPSILON, 1e-6, notes)
    return sizes, bool(data.get("tie_word_embeddings", False))


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
    write_config=_config_dict,
    read_config=_read_fields,
    size_keys=dict(
        vocab_size="vocab_size",
        context_length="max_position_embeddings",
        n_layer="num_hidden_layers",
        n_embd="hidden_size",
        mlp_hidden="intermediate_size",
    ),
    # Both conventions rotate (x[i], x[i + head_dim/2]), so q and k need no permuting.
    buffers=r"(model\.)?layers\.\d+\.self_attn\.rotary_emb\.inv_freq",
)


def llama_differences(config: ModelConfig) -> list[str]:
    """What in `config` LLaMA lacks; empty for a LLaMA style model (tied weights are fine too)."""
    return differences(config, LLAMA)
