"""BERT (`BertForMaskedLM`): a bidirectional encoder with post-norm blocks and a masked-LM head; our "bert" flavour.

Its tensors differ from ours in name only: the query, key and value matrices
are stored apart, and the output's bias is `cls.predictions.bias`. The
token-type table has BERT's two rows (the app uses row 0, as a single text does).
"""

from __future__ import annotations

from typing import Any

from playground.core.config import TOKEN_TYPES, ModelConfig
from playground.core.files import short_repr

from .formats import Format, differences, epsilon_note, whole_number

# BERT's LayerNorm epsilon, which `model.make_norm` uses for encoders.
BERT_LAYER_NORM_EPSILON = 1e-12


def _config_dict(config: ModelConfig) -> dict[str, Any]:
    """config.json's BERT keys for `config`."""
    return dict(
        hidden_size=config.n_embd,
        num_hidden_layers=config.n_layer,
        num_attention_heads=config.n_head,
        intermediate_size=config.mlp_hidden_size,
        hidden_act="gelu",  # the exact GELU, as ours
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        max_position_embeddings=config.context_length,
        type_vocab_size=TOKEN_TYPES,
        layer_norm_eps=BERT_LAYER_NORM_EPSILON,
        position_embedding_type="absolute",
        is_decoder=False,
        use_cache=False,
    )


def _read_fields(data: dict, problems: list[str], notes: list[str]) -> tuple[dict, bool]:
    n_embd = whole_number(data, "hidden_size", problems)
    sizes = dict(
        vocab_size=whole_number(data, "vocab_size", problems),
        context_length=whole_number(data, "max_position_embeddings", problems),
        n_layer=whole_number(data, "num_hidden_layers", problems),
        n_head=whole_number(data, "num_attention_heads", problems),
        n_embd=n_embd,
        mlp_hidden=whole_number(data, "intermediate_size", problems)
        if data.get("intermediate_size") is not None
        else 4 * n_embd,
    )
    act = data.get("hidden_act", "gelu")
    if act != "gelu":
        problems.append(f"hidden_act is {short_repr(act)}, but this app's BERT MLP uses the exact GELU ('gelu')")
    types = data.get("type_vocab_size", TOKEN_TYPES)
    if types != TOKEN_TYPES:
        problems.append(f"type_vocab_size is {short_repr(types)}, but this app's encoder has {TOKEN_TYPES} token types")
    kind = data.get("position_embedding_type", "absolute")
    if kind != "absolute":
        problems.append(
            f"position_embedding_type is {short_repr(kind)} (only learned, absolute positions are supported)"
        )
    if data.get("is_decoder"):
        problems.append("is_decoder is on (this app's encoder attends in both directions)")
    if data.get("add_cross_attention"):
        problems.append("add_cross_attention is on (cross-attention is not supported)")
    epsilon_note(data, "layer_norm_eps", BERT_LAYER_NORM_EPSILON, 1e-12, notes)
    return sizes, bool(data.get("tie_word_embeddings", True))


BERT = Format(
    name="BERT",
    hf_class="BertForMaskedLM",
    model_type="bert",
    flavour="bert",
    base_prefix="bert.",
    layer_prefix="bert.encoder.layer.{i}.",
    top={
        "token_embedding": "bert.embeddings.word_embeddings",
        "position_embedding": "bert.embeddings.position_embeddings",
        "token_type_embedding": "bert.embeddings.token_type_embeddings",
        "embedding_norm": "bert.embeddings.LayerNorm",
        "mlm_head.dense": "cls.predictions.transform.dense",
        "mlm_head.norm": "cls.predictions.transform.LayerNorm",
        "lm_head": "cls.predictions.decoder",
    },
    block={
        "attn.qkv": ("attention.self.query", "attention.self.key", "attention.self.value"),
        "attn.out": "attention.output.dense",
        "norm1": "attention.output.LayerNorm",
        "mlp.up": "intermediate.dense",
        "mlp.down": "output.dense",
        "norm2": "output.LayerNorm",
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
    # Index buffers, the pooler and the next-sentence head (BertForPreTraining) are not part of the masked LM;
    # the decoder's bias is the same tensor as cls.predictions.bias.
    buffers=(
        r"(bert\.)?(embeddings\.(position_ids|token_type_ids)|pooler\..+)"
        r"|cls\.seq_relationship\..+|cls\.predictions\.decoder\.bias"
    ),
    renamed={"lm_head.bias": "cls.predictions.bias"},
    head_prefix="cls.",
)


def bert_differences(config: ModelConfig) -> list[str]:
    """What in `config` BERT lacks; empty for a BERT style encoder (untied weights are fine too)."""
    return differences(config, BERT)
