"""What a model configuration costs, counted by formula: no torch, nothing built.

The parameters of each part (`parameter_breakdown`), the FLOPs to train on a
token (`flops_per_token`), and whether the parameters fit in a memory
(`memory_problem`), so that the window can show them while the learner drags
a slider. `config.py` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # config imports this module: ModelConfig only for the type hints
    from .config import ModelConfig


# -- what a config costs ------------------------------------------------------


@dataclass(frozen=True)
class ParameterBreakdown:
    """How many parameters each part of the model holds.

    `output_head` is 0 when the weights are tied: the head reuses the token
    embedding matrix, which is counted once, under `token_embedding`. An
    encoder also has a token-type table (BERT's two sentence types: 2 rows),
    a norm after its embeddings (counted under `norms`) and a masked-LM head
    (`mlm_head`: a width-by-width layer, its norm and the output's bias).
    An encoder-decoder counts both stacks: `attention` is the self-attention
    of every encoder and decoder layer, `cross_attention` the decoder's
    attention over the encoder, `relative_position_bias` one table of
    buckets × heads per stack, `norms` two per encoder layer, three per
    decoder layer and one after each stack.
    """

    token_embedding: int
    position_embedding: int  # 0 with RoPE: rotations are computed, not learned
    attention: int
    mlp: int
    norms: int
    output_head: int
    token_type_embedding: int = 0  # encoders only
    mlm_head: int = 0  # encoders only
    cross_attention: int = 0  # encoder-decoders only
    relative_position_bias: int = 0  # encoder-decoders only

    @property
    def embeddings(self) -> int:
        return self.token_embedding + self.position_embedding + self.token_type_embedding

    @property
    def total(self) -> int:
        return (
            self.embeddings
            + self.relative_position_bias
            + self.attention
            + self.cross_attention
            + self.mlp
            + self.norms
            + self.mlm_head
            + self.output_head
        )

    def rows(self) -> list[tuple[str, int]]:
        """(label, count) pairs for a table, the total last (each family's own parts only for that family)."""
        rows = [("Token embedding", self.token_embedding)]
        if self.relative_position_bias:
            rows.append(("Relative position bias", self.relative_position_bias))
        else:
            rows.append(("Position embedding", self.position_embedding))
        if self.token_type_embedding:
            rows.append(("Token-type embedding", self.token_type_embedding))
        rows.append(("Attention", self.attention))
        if self.cross_attention:
            rows.append(("Cross-attention", self.cross_attention))
        rows += [("MLP", self.mlp), ("Norms", self.norms)]
        if self.mlm_head:
            rows.append(("Masked-LM head", self.mlm_head))
        return rows + [("Output head", self.output_head), ("Total", self.total)]


# BERT's token-type table: one row for each of the two sentences of a pair (the app uses row 0).
TOKEN_TYPES = 2


def parameter_breakdown(config: ModelConfig) -> ParameterBreakdown:
    """Count the parameters of the model `config` describes, by formula.

    Matches `sum(p.numel() for p in GPT(config).parameters())` exactly (`T5(config)` for an encoder-decoder).
    """
    if config.is_encoder_decoder:
        return _encoder_decoder_breakdown(config)
    d, n_layer, hidden, bias = config.n_embd, config.n_layer, config.mlp_hidden_size, int(config.bias)

    # Queries, keys and values come from one d -> 3d matrix; the output is d -> d.
    attention = (3 * d * d + 3 * d * bias) + (d * d + d * bias)
    if config.mlp == "swiglu":
        # gate and up: d -> hidden each; down: hidden -> d.
        mlp = 2 * (d * hidden + hidden * bias) + (hidden * d + d * bias)
    else:
        # up: d -> hidden; down: hidden -> d.
        mlp = (d * hidden + hidden * bias) + (hidden * d + d * bias)
    # LayerNorm has a scale and (with bias) a shift; RMSNorm only a scale.
    norm = d * (1 + bias) if config.norm == "layernorm" else d
    # Two norms per block (around attention and the MLP) and one more: a decoder's
    # after the last block, an encoder's after the embeddings.
    norms = (2 * n_layer + 1) * norm
    encoder = config.is_encoder
    # The masked-LM head: a d -> d layer, GELU, a norm; then the output matrix and its bias.
    mlm_head = (d * d + d * bias) + norm + config.vocab_size * bias if encoder else 0

    return ParameterBreakdown(
        token_embedding=config.vocab_size * d,
        position_embedding=config.context_length * d if config.positions == "learned" else 0,
        attention=n_layer * attention,
        mlp=n_layer * mlp,
        norms=norms,
        output_head=0 if config.tie_weights else d * config.vocab_size,  # its bias (encoders) is in mlm_head
        token_type_embedding=TOKEN_TYPES * d if encoder else 0,
        mlm_head=mlm_head,
    )


def _encoder_decoder_breakdown(config: ModelConfig) -> ParameterBreakdown:
    """T5's parameters: no biases, RMSNorm (a scale only), a two-matrix ReLU MLP, queries to outputs d -> d."""
    d, hidden = config.n_embd, config.mlp_hidden_size
    n_enc, n_dec = config.n_layer, config.decoder_layers
    attention = 4 * d * d  # queries, keys, values and output, each d -> d
    return ParameterBreakdown(
        token_embedding=config.vocab_size * d,
        position_embedding=0,
        relative_position_bias=2 * config.relative_buckets * config.n_head,  # one table per stack
        attention=(n_enc + n_dec) * attention,
        cross_attention=n_dec * attention,
        mlp=(n_enc + n_dec) * 2 * d * hidden,
        # Before each sub-layer (2 in an encoder layer, 3 in a decoder layer), and one after each stack.
        norms=(2 * n_enc + 1 + 3 * n_dec + 1) * d,
        output_head=0 if config.tie_weights else d * config.vocab_size,
    )


def flops_per_token(config: ModelConfig, seq_len: Optional[int] = None) -> int:
    """Floating-point operations to train on one token (forward and backward).

        flops_per_token = 6 * N + 12 * n_layer * n_embd * T

    N counts the parameters used in matrix multiplies: everything except the
    embedding lookups, but including the output head even when it shares the
    token embedding's matrix. Each such parameter costs a multiply and an add
    (2 FLOPs) going forward and twice that going backward: 6 FLOPs per token.
    Attention adds two products of each query with T keys (scores, then the
    weighted sum of values): 2 * 2 * n_layer * T * n_embd forward, times 3 for
    training (an encoder's attention reads all T keys, a decoder's on average
    half, but the estimate counts both alike, as its sources do). T is
    `seq_len`, by default the context length. This is the
    estimate of the Chinchilla (Hoffmann et al. 2022, as in Kaplan et al. 2020)
    and PaLM papers that nanoGPT uses for its model FLOPs utilisation.

    An encoder-decoder's "token" is a pair: one input token the encoder reads
    and one target token the decoder writes (input and target both T long).
    Each pair passes every matrix of both stacks once (cross-attention's keys
    and values are made from the encoder's tokens, its queries from the
    decoder's: one of each per pair), and three kinds of attention read T
    keys each: the encoder's, the decoder's own and the cross-attention.
    """
    counts = parameter_breakdown(config)
    if config.is_encoder_decoder:
        T = config.context_length if seq_len is None else seq_len
        matmul_params = counts.attention + counts.cross_attention + counts.mlp + counts.norms
        matmul_params += config.vocab_size * config.n_embd
        attention_layers = config.n_layer + 2 * config.decoder_layers
        return 6 * matmul_params + 12 * attention_layers * config.n_embd * T
    matmul_params = counts.attention + counts.mlp + counts.norms + counts.mlm_head + config.vocab_size * config.n_embd
    T = config.context_length if seq_len is None else seq_len
    return 6 * matmul_params + 12 * config.n_layer * config.n_embd * T


# -- does it fit --------------------------------------------------------------

# Bytes per parameter: float32 weights to load a model; to train one, also a
# float32 gradient and AdamW's two float32 running averages.
BYTES_TO_LOAD = 4
BYTES_TO_TRAIN = 16


def memory_problem(
    config: ModelConfig,
    memory_bytes: Optional[int],
    where: str = "this computer",
    bytes_per_parameter: int = BYTES_TO_LOAD,
    doing: str = "Loading this model",
) -> Optional[str]:
    """A sentence when `config`'s parameters alone outgrow `memory_bytes` (None: unknown, no check).

    Counted by formula, so a damaged size (a width of a billion) is refused
    before anything is allocated. The parameters are a lower bound of what is
    needed, so a config refused here could never have been built there.
    """
    if memory_bytes is None:
        return None
    counts = parameter_breakdown(config)
    need = counts.total * bytes_per_parameter
    if need <= memory_bytes:
        return None
    from .estimates import human_bytes, human_count  # estimates imports this module

    part, _ = max(counts.rows()[:-1], key=lambda row: row[1])
    return (
        f"{doing} needs at least {human_bytes(need)} ({bytes_per_parameter} bytes for each of its "
        f"{human_count(counts.total)} parameters), but {where} has {human_bytes(memory_bytes)} of memory in all. "
        f"Most of the parameters are in the {part.lower()} ({_part_sizes(config, part)}): choose smaller sizes."
    )


def _part_sizes(config: ModelConfig, part: str) -> str:
    """The sizes that make a part of `parameter_breakdown` big, as "context length 1,000 × width 48"."""
    width = f"width {config.n_embd:,}"
    both = config.n_layer + config.decoder_layers if config.is_encoder_decoder else config.n_layer
    layers = f"{both:,} layers"
    return {
        "Token embedding": f"vocabulary size {config.vocab_size:,} × {width}",
        "Position embedding": f"context length {config.context_length:,} × {width}",
        "Token-type embedding": f"{TOKEN_TYPES} token types × {width}",
        "Masked-LM head": f"{width}² + vocabulary size {config.vocab_size:,}",
        "Attention": f"{layers} × {width}²",
        "Cross-attention": f"{config.decoder_layers:,} decoder layers × {width}²",
        "Relative position bias": f"2 stacks × {config.relative_buckets} buckets × {config.n_head} heads",
        "MLP": f"{layers} × {width} × MLP hidden width {config.mlp_hidden_size:,}",
        "Norms": f"{layers} × {width}",
        "Output head": f"vocabulary size {config.vocab_size:,} × {width}",
    }[part]


def raise_if_too_big(
    config: ModelConfig,
    memory_bytes: Optional[int],
    where: str = "this computer",
    bytes_per_parameter: int = BYTES_TO_LOAD,
    doing: str = "Loading this model",
) -> None:
    """`memory_problem` as a `ConfigError`."""
    from .config import ConfigError

    problem = memory_problem(config, memory_bytes, where, bytes_per_parameter, doing)
    if problem:
        raise ConfigError(problem)
