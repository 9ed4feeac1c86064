"""An encoder-decoder in T5's manner: the encoder reads an input text, the decoder writes the output.

One file, to read top to bottom: relative position buckets, attention (one
class for self- and cross-attention), the ReLU MLP, the two kinds of block,
the two stacks, the model, and greedy decoding. Every choice follows T5 v1.0
(Raffel et al. 2019) as Hugging Face's `T5ForConditionalGeneration` runs it,
so that an exported model gives the same numbers there:

- No position vectors: each stack learns one table of biases, a number per
  head for each bucket of distances (query to key), added to the attention
  scores of all its layers. T5 keeps the table in the first layer's attention
  and passes the bias on; here the stack owns it, which is the same sum.
- Attention scores are not divided by sqrt(head size): T5 folds that factor
  into how the query matrix is initialised.
- RMSNorm (T5's LayerNorm: no centring, no shift, epsilon 1e-6) before each
  sub-layer, one more after each stack; no biases anywhere.
- The input and output share one matrix (tied weights); the decoder's output
  is scaled by 1/sqrt(width) before it, as T5 v1.0 does when the matrix is
  shared. With untied weights (`tie_weights=False`) there is no such scaling.

After nanoGPT's model.py (Karpathy) and the T5 paper; see also `model.py`,
whose `RMSNorm`, `KVCache` and `ContextLengthError` this file reuses.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Optional, Union, cast

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn import functional as F

from .config import ModelConfig
from .model import ContextLengthError, KVCache, LayerKVCache, RMSNorm, causal_mask

# Labels equal to this are not scored (Hugging Face's convention for T5 too).
IGNORE = -100
# T5's norm epsilon.
T5_NORM_EPS = 1e-6


def make_t5_norm(config: ModelConfig) -> RMSNorm:
    return RMSNorm(config.n_embd, eps=T5_NORM_EPS)


# -- relative positions -------------------------------------------------------


def relative_position_bucket(distance: Tensor, bidirectional: bool, n_buckets: int, max_distance: int) -> Tensor:
    """The bucket of each (key position - query position), as T5 sorts them.

    An encoder tells keys before and after a query apart: half the buckets for
    each side. A decoder sees only keys up to the query: a key after it (masked
    anyway) counts as distance 0. Of one side's buckets, the first half hold the
    distances 0, 1, 2, ... exactly; the rest hold ever wider ranges, spaced on a
    log scale up to `max_distance`, and the last bucket everything further.
    """
    bucket = torch.zeros_like(distance)
    if bidirectional:
        n_buckets //= 2
        bucket = bucket + (distance > 0).long() * n_buckets
        distance = distance.abs()
    else:
        distance = (-distance).clamp(min=0)
    exact = n_buckets // 2
    # clamp: log(0) is never used (the exact buckets take it), but would be -inf.
    log_scale = torch.log(distance.clamp(min=1).float() / exact) / math.log(max_distance / exact)
    far = (exact + (log_scale * (n_buckets - exact)).long()).clamp(max=n_buckets - 1)
    return bucket + torch.where(distance < exact, distance, far)


class RelativePositionBias(nn.Module):
    """One stack's learned bias per head for each bucket of distances; `weight` is [buckets, n_head]."""

    def __init__(self, config: ModelConfig, bidirectional: bool):
        super().__init__()
        self.bidirectional = bidirectional
        self.max_distance = config.relative_max_distance
        self.weight = nn.Parameter(torch.zeros(config.relative_buckets, config.n_head))

    def forward(self, query_positions: Tensor, key_positions: Tensor) -> Tensor:
        """The bias to add to the attention scores, [1, n_head, n_query, n_key]."""
        distance = key_positions[None, :] - query_positions[:, None]
        buckets = relative_position_bucket(distance, self.bidirectional, self.weight.size(0), self.max_distance)
        return F.embedding(buckets, self.weight).permute(2, 0, 1).unsqueeze(0)


def blocked(allowed: Tensor, bias: Tensor) -> Tensor:
    """`bias` with the smallest float where `allowed` (broadcastable) is False: those keys get weight 0.

    The smallest float rather than -inf, as T5 does, so that a query with no
    key allowed (an input of padding only) averages instead of giving NaN.
    """
    return bias.masked_fill(~allowed, torch.finfo(bias.dtype).min)


# -- attention ----------------------------------------------------------------


class Attention(nn.Module):
    """T5's multi-head attention: queries from `x`, keys and values given (from `x`, or from the encoder).

    Self-attention makes its keys and values from the same tokens as its
    queries; the decoder's cross-attention makes them from the encoder's
    output, once per input (`keys_values`), and reuses them for every token
    it writes.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head, self.head_dim, self.dropout = config.n_head, config.head_dim, config.dropout
        d = config.n_embd
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, d, bias=False)
        self.v = nn.Linear(d, d, bias=False)
        self.out = nn.Linear(d, d, bias=False)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)

    def split_heads(self, x: Tensor) -> Tensor:
        """[B, T, C] -> [B, n_head, T, head_dim]: each head works on its own slice."""
        B, T, _ = x.shape
        return x.view(B, T, self.n_head, self.head_dim).transpose(1, 2)

    def keys_values(self, source: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of the tokens `source` [B, S, C], each [B, n_head, S, head_dim]."""
        return self.split_heads(self.k(source)), self.split_heads(self.v(source))

    def forward(
        self, x: Tensor, keys: Tensor, values: Tensor, bias: Tensor, capture: bool = False
    ) -> tuple[Tensor, Optional[Tensor]]:
        """The output [B, T, C] and, if `capture`, the weights [B, n_head, T, S].

        `bias` [B or 1, n_head or 1, T, S] is added to the scores: the relative
        position bias, and the smallest float where a query may not look.
        """
        B, T, C = x.shape
        q = self.split_heads(self.q(x))
        weights = None
        if capture:
            # Spelled out, to hand the weights to the heatmaps.
            weights = F.softmax((q @ keys.transpose(-2, -1) + bias).float(), dim=-1).type_as(q)
            y = self.attn_dropout(weights) @ values
        else:
            dropout_p = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, keys, values, attn_mask=bias, dropout_p=dropout_p, scale=1.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.out(y)), weights


class ReluMLP(nn.Module):
    """T5 v1.0's feed-forward layer: widen, ReLU, narrow (no biases)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.up = nn.Linear(config.n_embd, config.mlp_hidden_size, bias=False)
        self.down = nn.Linear(config.mlp_hidden_size, config.n_embd, bias=False)
        self.hidden_dropout = nn.Dropout(config.dropout)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.down(self.hidden_dropout(F.relu(self.up(x)))))


# -- blocks -------------------------------------------------------------------


class EncoderBlock(nn.Module):
    """Self-attention over the whole input, then the MLP; each sub-layer's input normed (pre-norm)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.norm1 = make_t5_norm(config)
        self.attn = Attention(config)
        self.norm2 = make_t5_norm(config)
        self.mlp = ReluMLP(config)

    def forward(self, x: Tensor, bias: Tensor, capture: bool) -> tuple[Tensor, Optional[Tensor]]:
        h = self.norm1(x)
        attended, weights = self.attn(h, *self.attn.keys_values(h), bias, capture)
        x = x + attended
        x = x + self.mlp(self.norm2(x))
        return x, weights


class DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention over the encoder's output, then the MLP; each pre-normed."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.norm1 = make_t5_norm(config)
        self.attn = Attention(config)
        self.cross_norm = make_t5_norm(config)
        self.cross = Attention(config)
        self.norm2 = make_t5_norm(config)
        self.mlp = ReluMLP(config)

    def forward(
        self,
        x: Tensor,
        self_bias: Tensor,
        cross_keys_values: tuple[Tensor, Tensor],
        cross_bias: Tensor,
        cache: Optional[LayerKVCache],
        capture: bool,
    ) -> tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        h = self.norm1(x)
        keys, values = self.attn.keys_values(h)
        if cache is not None:
            keys, values = cache.update(keys, values)
        attended, self_weights = self.attn(h, keys, values, self_bias, capture)
        x = x + attended
        attended, cross_weights = self.cross(self.cross_norm(x), *cross_keys_values, cross_bias, capture)
        x = x + attended
        x = x + self.mlp(self.norm2(x))
        return x, self_weights, cross_weights


# -- what the encoder hands the decoder ---------------------------------------


@dataclass
class Encoded:
    """The encoder's output for a batch of inputs.

    hidden: [B, S, C], a vector per input token (after the encoder's final norm).
    key_mask: [B, S], False at padding, which cross-attention never looks at; None: no padding.
    attentions: with `capture_attention`, the encoder's self-attention, [n_layer, B, n_head, S, S].
    """

    hidden: Tensor
    key_mask: Optional[Tensor] = None
    attentions: Optional[Tensor] = None


class DecoderCache:
    """What decoding keeps from step to step, so that each step feeds one new token once.

    `cross`: every decoder layer's cross-attention keys and values, made once
    from the encoder's output (they never change while writing). `self_attention`:
    the decoder's own keys and values of the tokens written so far (a `KVCache`).
    """

    def __init__(self, encoded: Encoded, cross: list[tuple[Tensor, Tensor]]) -> None:
        self.encoded = encoded
        self.cross = cross
        self.self_attention = KVCache(len(cross))

    @property
    def length(self) -> int:
        """How many output tokens the cache holds."""
        return self.self_attention.length

    def crop(self, length: int) -> None:
        """Forget every output token after the first `length`."""
        self.self_attention.crop(length)

    def reorder(self, batch_indices: Tensor) -> None:
        """Keep the batch rows in `batch_indices`, in that order (for beam search): the encoder's too."""
        self.self_attention.reorder(batch_indices)
        self.cross = [(k[batch_indices], v[batch_indices]) for k, v in self.cross]
        e = self.encoded
        self.encoded = Encoded(e.hidden[batch_indices], None if e.key_mask is None else e.key_mask[batch_indices])


# -- the stacks ---------------------------------------------------------------


class Encoder(nn.Module):
    """Embedded input tokens in, a vector per token out; every token sees every (non-padding) token."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.relative_bias = RelativePositionBias(config, bidirectional=True)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(EncoderBlock(config) for _ in range(config.n_layer))
        self.final_norm = make_t5_norm(config)

    def forward(self, x: Tensor, key_mask: Optional[Tensor], capture: bool) -> tuple[Tensor, list[Tensor]]:
        positions = torch.arange(x.size(1), device=x.device)
        bias = self.relative_bias(positions, positions).to(x.dtype)  # one bias for every layer
        if key_mask is not None:
            bias = blocked(key_mask[:, None, None, :], bias)
        x = self.drop(x)
        attentions = []
        for block in self.blocks:
            x, weights = block(x, bias, capture)
            if weights is not None:
                attentions.append(weights)
        return self.drop(self.final_norm(x)), attentions


class Decoder(nn.Module):
    """Embedded output tokens in, a vector per token out; each token sees those before it and the whole input."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.relative_bias = RelativePositionBias(config, bidirectional=False)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(DecoderBlock(config) for _ in range(config.decoder_layers))
        self.final_norm = make_t5_norm(config)

    def forward(
        self,
        x: Tensor,
        cross: list[tuple[Tensor, Tensor]],
        encoder_key_mask: Optional[Tensor],
        cache: Optional[KVCache],
        capture: bool,
    ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        start = cache.length if cache is not None else 0
        T, total = x.size(1), start + x.size(1)
        queries = torch.arange(start, total, device=x.device)
        bias = self.relative_bias(queries, torch.arange(total, device=x.device)).to(x.dtype)
        self_bias = blocked(causal_mask(T, total, x.device), bias)
        # Cross-attention has no position bias: only the input's padding is hidden.
        cross_bias = torch.zeros(1, 1, 1, cross[0][0].size(2), device=x.device, dtype=x.dtype)
        if encoder_key_mask is not None:
            cross_bias = blocked(encoder_key_mask[:, None, None, :], cross_bias)
        x = self.drop(x)
        self_attentions, cross_attentions = [], []
        for i, block in enumerate(self.blocks):
            layer_cache = cache.layers[i] if cache is not None else None
            x, self_weights, cross_weights = block(x, self_bias, cross[i], cross_bias, layer_cache, capture)
            if self_weights is not None and cross_weights is not None:
                self_attentions.append(self_weights)
                cross_attentions.append(cross_weights)
        return self.drop(self.final_norm(x)), self_attentions, cross_attentions


# -- the model ----------------------------------------------------------------


@dataclass
class Seq2SeqOutput:
    """What a forward pass of the encoder-decoder returns.

    logits: [B, T, vocab_size], scores for the output token after each decoder position.
    loss: mean cross-entropy against the labels (-100 not scored), if labels were given.
    With `capture_attention`, the weights of every layer and head:
    encoder_attentions [n_layer, B, n_head, S, S] (input tokens over input tokens),
    decoder_attentions [n_decoder_layer, B, n_head, T, T_total] (causal: zero above the diagonal;
    T_total counts cached output tokens too), and
    cross_attentions [n_decoder_layer, B, n_head, T, S] (output tokens over input tokens).
    """

    logits: Tensor
    loss: Optional[Tensor] = None
    encoder_attentions: Optional[Tensor] = None
    decoder_attentions: Optional[Tensor] = None
    cross_attentions: Optional[Tensor] = None


def shift_right(labels: Tensor, start_id: int) -> Tensor:
    """The decoder's input for `labels` [B, T]: the start token, then the labels but the last.

    T5 starts the decoder with its pad token. Labels of -100 (not scored) become
    `start_id` too, so that the decoder never reads an id outside the vocabulary.
    """
    shifted = labels.new_full(labels.shape, start_id)
    shifted[:, 1:] = labels[:, :-1]
    return shifted.masked_fill(shifted == IGNORE, start_id)


class T5(nn.Module):
    """An encoder-decoder language model, T5 v1.0 style (see the module's docstring)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.raise_if_invalid()
        if not config.is_encoder_decoder:
            raise ValueError(f"T5 builds an encoder-decoder, not {config.family!r}: use GPT for that.")
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)  # both stacks read with it
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.token_embedding.weight
        self._init_weights()

    def _init_weights(self) -> None:
        """T5's initialisation (mesh TensorFlow's): each matrix scaled by 1/sqrt(the width it reads).

        The query matrix also takes the 1/sqrt(head size) that the scores are
        not divided by. The embedding is N(0, 1): read through the norms, and
        written through after the decoder's output is scaled by 1/sqrt(width).
        An untied output head starts at N(0, 1/width), which gives logits of the
        same size (Hugging Face starts it at N(0, 1)).
        """
        d, hidden = self.config.n_embd, self.config.mlp_hidden_size
        nn.init.normal_(self.token_embedding.weight, std=1.0)
        if not self.config.tie_weights:
            nn.init.normal_(self.lm_head.weight, std=d**-0.5)
        for module in self.modules():
            if isinstance(module, Attention):
                nn.init.normal_(module.q.weight, std=(d * module.head_dim) ** -0.5)
                for linear in (module.k, module.v, module.out):
                    nn.init.normal_(linear.weight, std=d**-0.5)
            elif isinstance(module, ReluMLP):
                nn.init.normal_(module.up.weight, std=d**-0.5)
                nn.init.normal_(module.down.weight, std=hidden**-0.5)
            elif isinstance(module, RelativePositionBias):
                nn.init.normal_(module.weight, std=d**-0.5)

    @classmethod
    def from_config(cls, config: ModelConfig, device: Union[str, torch.device, None] = None) -> T5:
        """Build a freshly initialised model, directly on `device` ("meta": nothing allocated)."""
        with torch.device(device) if device is not None else contextlib.nullcontext():
            return cls(config)

    def num_parameters(self) -> int:
        """All parameters, a tied matrix counted once."""
        return sum(p.numel() for p in self.parameters())

    # -- the encoder ----------------------------------------------------------

    def encode(
        self, input_ids: Tensor, attention_mask: Optional[Tensor] = None, capture_attention: bool = False
    ) -> Encoded:
        """Run the encoder once over the input ids [B, S]; `attention_mask` [B, S] is 0 at padding."""
        S = input_ids.size(1)
        if S > self.config.context_length:
            raise ContextLengthError(
                f"This model's encoder reads at most {self.config.context_length} input tokens, but was given {S}. "
                f"Shorten the input to {self.config.context_length} tokens."
            )
        key_mask = None if attention_mask is None else attention_mask.to(device=input_ids.device, dtype=torch.bool)
        hidden, attentions = self.encoder(self.token_embedding(input_ids), key_mask, capture_attention)
        return Encoded(hidden, key_mask, torch.stack(attentions) if capture_attention else None)

    # -- the decoder ----------------------------------------------------------

    def cross_keys_values(self, encoded: Encoded) -> list[tuple[Tensor, Tensor]]:
        """Every decoder layer's cross-attention keys and values for the encoder's output."""
        return [cast(Attention, block.cross).keys_values(encoded.hidden) for block in self.decoder.blocks]

    def new_decoder_cache(self, encoded: Encoded) -> DecoderCache:
        """An empty cache for writing after `encoded`, its cross-attention keys and values made now."""
        return DecoderCache(encoded, self.cross_keys_values(encoded))

    def decode(
        self,
        decoder_input_ids: Tensor,
        encoded: Encoded,
        cache: Optional[DecoderCache] = None,
        capture_attention: bool = False,
        last_only: bool = False,
    ) -> Seq2SeqOutput:
        """Run the decoder on output ids [B, T] after `encoded`: logits, and (captured) its two kinds of attention.

        With `cache`, the ids follow the tokens already in it, which grows by them;
        its cross-attention keys and values are used instead of being made again.
        """
        start = cache.length if cache is not None else 0
        T = decoder_input_ids.size(1)
        if start + T > self.config.context_length:
            seen = f" ({start} already written and {T} new)" if start else ""
            raise ContextLengthError(
                f"This model's decoder writes at most {self.config.context_length} tokens, but was given "
                f"{start + T}{seen}. Stop the output at {self.config.context_length} tokens."
            )
        cross = cache.cross if cache is not None else self.cross_keys_values(encoded)
        x, self_attentions, cross_attentions = self.decoder(
            self.token_embedding(decoder_input_ids),
            cross,
            encoded.key_mask,
            cache.self_attention if cache is not None else None,
            capture_attention,
        )
        if last_only:
            x = x[:, -1:, :]
        if self.config.tie_weights:
            x = x * self.config.n_embd**-0.5  # T5 v1.0: the shared matrix is read at this scale
        return Seq2SeqOutput(
            logits=self.lm_head(x),
            decoder_attentions=torch.stack(self_attentions) if capture_attention else None,
            cross_attentions=torch.stack(cross_attentions) if capture_attention else None,
        )

    def forward(
        self,
        input_ids: Tensor,
        decoder_input_ids: Tensor,
        labels: Optional[Tensor] = None,
        attention_mask: Optional[Tensor] = None,
        capture_attention: bool = False,
    ) -> Seq2SeqOutput:
        """Encode `input_ids` [B, S], decode `decoder_input_ids` [B, T] (usually `shift_right(labels, pad_id)`).

        labels: [B, T] the output ids to predict at each decoder position, -100 where nothing is scored.
        attention_mask: [B, S], 1 for real input tokens and 0 for padding.
        """
        encoded = self.encode(input_ids, attention_mask, capture_attention)
        output = self.decode(decoder_input_ids, encoded, capture_attention=capture_attention)
        output.encoder_attentions = encoded.attentions
        if labels is not None:
            logits = output.logits
            output.loss = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE)
        return output

    @torch.no_grad()
    def step(self, decoder_input_ids: Tensor, cache: DecoderCache) -> tuple[Tensor, DecoderCache]:
        """Feed new output ids [B, T]; return the logits for the next token [B, vocab_size] and the cache.

            encoded = model.encode(input_ids)
            cache = model.new_decoder_cache(encoded)
            logits, cache = model.step(start_ids, cache)   # [B, 1]: the start token
            logits, cache = model.step(next_ids, cache)    # then one token at a time

        Call `model.eval()` first, so dropout is off.
        """
        output = self.decode(decoder_input_ids, cache.encoded, cache, last_only=True)
        return output.logits[:, -1, :], cache


@torch.no_grad()
def greedy_decode(
    model: T5,
    input_ids: Tensor,
    start_id: int,
    max_new_tokens: int,
    end_id: Optional[int] = None,
    attention_mask: Optional[Tensor] = None,
) -> Tensor:
    """The most likely token at each step, [B, n] without the start token; a row that wrote `end_id` keeps
    writing `end_id`, and all stop once every row has (or after `max_new_tokens`).

    The encoder runs once; the decoder feeds each new token once, through the cache.
    """
    encoded = model.encode(input_ids, attention_mask)
    cache = model.new_decoder_cache(encoded)
    next_ids = torch.full((input_ids.size(0), 1), start_id, dtype=torch.long, device=input_ids.device)
    written: list[Tensor] = []
    done = torch.zeros(input_ids.size(0), dtype=torch.bool, device=input_ids.device)
    for _ in range(max_new_tokens):
        logits, cache = model.step(next_ids, cache)
        next_ids = logits.argmax(dim=-1, keepdim=True)
        if end_id is not None:
            next_ids = next_ids.masked_fill(done[:, None], end_id)
            done = done | (next_ids[:, 0] == end_id)
        written.append(next_ids)
        if end_id is not None and bool(done.all()):
            break
    return torch.cat(written, dim=1) if written else input_ids.new_zeros(input_ids.size(0), 0)
