"""T5 (`T5ForConditionalGeneration`): an encoder-decoder, T5 v1.0 style; our "t5" flavour.

Two stacks, so the `Format` names the blocks of each (`stacks`). The token
table is T5's `shared` (both stacks and, tied, the output read it); each
stack's relative position bias lives in its first layer's self-attention
there. T5 v1.1 and Flan-T5 (a gated-GELU MLP, "gated-gelu") are not this
architecture and are refused with a sentence saying so.
"""

from __future__ import annotations

from typing import Any

from playground.core.config import ModelConfig
from playground.core.files import short_repr

from .formats import BlockMap, Format, differences, epsilon_note, whole_number

# T5's norm epsilon, which `t5_model` uses.
T5_LAYER_NORM_EPSILON = 1e-6
# A T5 config.json may not say how long an input may be (relative positions fix no length): T5's own is 512.
T5_DEFAULT_CONTEXT = 512


def _config_dict(config: ModelConfig) -> dict[str, Any]:
    """config.json's T5 keys for `config` (the pad and start token ids are the exporter's)."""
    return dict(
        d_model=config.n_embd,
        d_kv=config.head_dim,
        d_ff=config.mlp_hidden_size,
        num_layers=config.n_layer,
        num_decoder_layers=config.decoder_layers,
        num_heads=config.n_head,
        relative_attention_num_buckets=config.relative_buckets,
        relative_attention_max_distance=config.relative_max_distance,
        dropout_rate=config.dropout,
        layer_norm_epsilon=T5_LAYER_NORM_EPSILON,
        initializer_factor=1.0,
        feed_forward_proj="relu",
        is_encoder_decoder=True,
        n_positions=config.context_length,  # read by nothing in transformers; our context length, kept
    )


def _read_fields(data: dict, problems: list[str], notes: list[str]) -> tuple[dict, bool]:
    n_embd = whole_number(data, "d_model", problems)
    n_head = whole_number(data, "num_heads", problems)
    n_layer = whole_number(data, "num_layers", problems)
    decoder = data.get("num_decoder_layers")
    context = data.get("n_positions")
    if context is None:
        context = T5_DEFAULT_CONTEXT
        notes.append(f"config.json does not say how long an input may be: this app reads up to {context} tokens.")
    sizes = dict(
        vocab_size=whole_number(data, "vocab_size", problems),
        context_length=whole_number({"n_positions": context}, "n_positions", problems),
        n_layer=n_layer,
        n_decoder_layer=None
        if decoder is None or decoder == n_layer
        else whole_number(data, "num_decoder_layers", problems),
        n_head=n_head,
        n_embd=n_embd,
        mlp_hidden=whole_number(data, "d_ff", problems) if data.get("d_ff") is not None else 4 * n_embd,
        relative_buckets=whole_number(data, "relative_attention_num_buckets", problems)
        if data.get("relative_attention_num_buckets") is not None
        else 32,
        relative_max_distance=whole_number(data, "relative_attention_max_distance", problems)
        if data.get("relative_attention_max_distance") is not None
        else 128,
    )
    proj = data.get("feed_forward_proj", "relu")
    if proj != "relu":
        gated = isinstance(proj, str) and proj.startswith("gated-")
        problems.append(
            f"feed_forward_proj is {short_repr(proj)}"
            + (
                " (T5 v1.1, Flan-T5 and their kin gate the MLP, and keep a separate output head), but this app builds "
                "T5 v1.0's plain ReLU MLP ('relu'); import an original T5 (t5-small and the like) instead"
                if gated
                else ", but this app's T5 MLP uses ReLU ('relu')"
            )
        )
    d_kv = data.get("d_kv")
    if d_kv is not None and d_kv * n_head != n_embd:
        problems.append(
            f"d_kv × num_heads is {short_repr(d_kv)} × {n_head}, but this app's heads share d_model ({n_embd}) "
            f"between them, so it must equal d_model"
        )
    if data.get("is_encoder_decoder") is False:
        problems.append("is_encoder_decoder is off (this is the encoder of a T5 alone; import the whole model)")
    epsilon_note(data, "layer_norm_epsilon", T5_LAYER_NORM_EPSILON, 1e-6, notes)
    return sizes, bool(data.get("tie_word_embeddings", True))


def _block(layers: dict[str, str]) -> BlockMap:
    """A block map: each of our sub-modules, and its attention's four matrices spelled out."""
    block: BlockMap = {}
    for ours, theirs in layers.items():
        if ours in ("attn", "cross"):
            block.update(
                {f"{ours}.{m}": f"{theirs}.{t}" for m, t in (("q", "q"), ("k", "k"), ("v", "v"), ("out", "o"))}
            )
        elif ours == "mlp":
            block.update({"mlp.up": f"{theirs}.wi", "mlp.down": f"{theirs}.wo"})
        else:
            block[ours] = theirs
    return block


_ENCODER_BLOCK = _block(
    {"norm1": "layer.0.layer_norm", "attn": "layer.0.SelfAttention", "norm2": "layer.1.layer_norm",
     "mlp": "layer.1.DenseReluDense"}
)  # fmt: skip
_DECODER_BLOCK = _block(
    {"norm1": "layer.0.layer_norm", "attn": "layer.0.SelfAttention", "cross_norm": "layer.1.layer_norm",
     "cross": "layer.1.EncDecAttention", "norm2": "layer.2.layer_norm", "mlp": "layer.2.DenseReluDense"}
)  # fmt: skip

T5 = Format(
    name="T5",
    hf_class="T5ForConditionalGeneration",
    model_type="t5",
    flavour="t5",
    base_prefix="",  # the stacks' names start with "encoder." and "decoder." in both
    layer_prefix="encoder.block.{i}.",
    top={
        "token_embedding": "shared",
        "encoder.relative_bias": "encoder.block.0.layer.0.SelfAttention.relative_attention_bias",
        "encoder.final_norm": "encoder.final_layer_norm",
        "decoder.relative_bias": "decoder.block.0.layer.0.SelfAttention.relative_attention_bias",
        "decoder.final_norm": "decoder.final_layer_norm",
        "lm_head": "lm_head",
    },
    block=_ENCODER_BLOCK,
    stacks={"encoder.": ("encoder.block.{i}.", _ENCODER_BLOCK), "decoder.": ("decoder.block.{i}.", _DECODER_BLOCK)},
    write_config=_config_dict,
    read_config=_read_fields,
    size_keys=dict(
        vocab_size="vocab_size", context_length="n_positions", n_layer="num_layers", n_embd="d_model", mlp_hidden="d_ff"
    ),
    # Each stack's copy of the shared token table, and a bias table that old checkpoints kept in the
    # first cross-attention (T5 never uses it).
    buffers=r"(encoder|decoder)\.embed_tokens\.weight|decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight",
)


def t5_differences(config: ModelConfig) -> list[str]:
    """What in `config` T5 lacks; empty for a T5 style encoder-decoder (untied weights are fine too)."""
    return differences(config, T5)
