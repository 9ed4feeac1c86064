"""A small transformer that the learner builds and trains: a GPT, or a BERT.

One file, to read top to bottom: norms, rotary positions, the key/value cache,
attention, MLPs, the block, the masked-LM head, the model. The same `GPT`
class builds a GPT-2 style decoder (learned positions, LayerNorm, GELU, tied
embeddings), a LLaMA style one (RoPE, RMSNorm, SwiGLU) or a BERT style
encoder (no causal mask, post-norm blocks, a masked-LM head), as its
`ModelConfig` says.

After nanoGPT's model.py (Karpathy); see also GPT-2 (Radford et al. 2019),
LLaMA (Touvron et al. 2023), RoFormer (Su et al. 2021) and BERT (Devlin et
al. 2018).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Optional, Union

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn import functional as F

from .config import TOKEN_TYPES, ModelConfig
from .progress import UserError


class ContextLengthError(UserError, ValueError):
    """More tokens than the model's context length at once."""


class EncoderCannotGenerate(UserError, ValueError):
    """An encoder asked to write text token by token (generation's key/value cache)."""


# Targets equal to this are not scored. The decoder's data marks them -1; an
# encoder's labels use -100, as Hugging Face's masked-LM models do.
DECODER_IGNORE = -1
ENCODER_IGNORE = -100
# BERT's LayerNorm epsilon; the decoders keep nn.LayerNorm's 1e-5.
BERT_LAYER_NORM_EPS = 1e-12


# -- norms --------------------------------------------------------------------


class RMSNorm(nn.Module):
    """LayerNorm without centring or shift: scale each vector to unit root-mean-square."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        # In float32, so that half-precision training stays stable.
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x32.type_as(x) * self.weight


def make_norm(config: ModelConfig) -> nn.Module:
    if config.norm == "rmsnorm":
        return RMSNorm(config.n_embd)
    eps = BERT_LAYER_NORM_EPS if config.is_encoder else 1e-5
    return nn.LayerNorm(config.n_embd, eps=eps, bias=config.bias)


# -- rotary positions (RoPE) --------------------------------------------------


def rope_angles(head_dim: int, positions: Tensor, base: float = 10000.0) -> tuple[Tensor, Tensor]:
    """cos and sin of each position's rotation angles, each [T, head_dim].

    Pair i of a head turns by position * base^(-2i/head_dim): the first pairs
    spin fast and tell near positions apart, the last spin slowly and tell far
    ones apart. Computed afresh each forward: cheap, and nothing to store.
    """
    pair = torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32)
    inv_freq = base ** (-pair / head_dim)
    angles = positions.float()[:, None] * inv_freq[None, :]  # [T, head_dim / 2]
    angles = torch.cat((angles, angles), dim=-1)  # the same angle for both halves of a pair
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate each pair (x[i], x[i + head_dim/2]) of every head by its position's angle.

    x is [B, n_head, T, head_dim]. Pairing a number with the one half a head
    away (not its neighbour) is the GPT-NeoX / Hugging Face convention; it
    rotates the same way and is simpler to write. Queries and keys rotated
    like this make their dot product depend only on how far apart they are.
    """
    x1, x2 = x.chunk(2, dim=-1)
    rotated_90 = torch.cat((-x2, x1), dim=-1)
    return (x * cos + rotated_90 * sin).type_as(x)


# -- the key/value cache ------------------------------------------------------


class LayerKVCache:
    """One layer's keys and values for the tokens seen so far, each [B, n_head, T, head_dim]."""

    def __init__(self) -> None:
        self.keys: Optional[Tensor] = None
        self.values: Optional[Tensor] = None

    @property
    def length(self) -> int:
        return 0 if self.keys is None else self.keys.size(2)

    def update(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Append the new tokens' keys and values; return all of them."""
        if self.keys is not None and self.values is not None:  # set together
            keys = torch.cat((self.keys, keys), dim=2)
            values = torch.cat((self.values, values), dim=2)
        self.keys, self.values = keys, values
        return keys, values


class KVCache:
    """Keys and values of every layer, so that generating feeds each new token once.

    Without it, every step of generation would run the whole text through the
    model again. A forward pass given a cache reads the tokens before its input
    from the cache, adds its own, and numbers its positions after them.
    """

    def __init__(self, n_layer: int) -> None:
        self.layers = [LayerKVCache() for _ in range(n_layer)]

    @property
    def length(self) -> int:
        """How many tokens the cache holds."""
        return self.layers[0].length

    def crop(self, length: int) -> None:
        """Forget every token after the first `length`."""
        for layer in self.layers:
            if layer.keys is not None and layer.values is not None:
                layer.keys, layer.values = layer.keys[:, :, :length], layer.values[:, :, :length]

    def reorder(self, batch_indices: Tensor) -> None:
        """Keep the batch rows in `batch_indices`, in that order (for beam search)."""
        for layer in self.layers:
            if layer.keys is not None and layer.values is not None:
                layer.keys, layer.values = layer.keys[batch_indices], layer.values[batch_indices]


# -- attention ----------------------------------------------------------------


def causal_mask(n_query: int, n_key: int, device: Optional[torch.device] = None) -> Tensor:
    """[n_query, n_key] booleans, True where a query may look at a key.

    The queries are the last n_query of n_key positions (the first ones may
    sit in a cache), so query i stands at n_key - n_query + i and sees every
    key up to and including that position.
    """
    return torch.ones(n_query, n_key, dtype=torch.bool, device=device).tril(diagonal=n_key - n_query)


def attention_mask(
    causal: bool, n_query: int, n_key: int, key_mask: Optional[Tensor] = None, device: Optional[torch.device] = None
) -> Optional[Tensor]:
    """Booleans broadcastable to [B, n_head, n_query, n_key], True where a query may look; None: everywhere.

    `key_mask` [B, n_key] is False at padding, which no query may look at.
    """
    mask = causal_mask(n_query, n_key, device) if causal else None
    if key_mask is not None:
        keys = key_mask[:, None, None, :].bool()
        mask = keys if mask is None else keys & mask
    return mask


class SelfAttention(nn.Module):
    """Multi-head self-attention: a decoder's tokens look at themselves and the past, an encoder's at every token."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.causal = not config.is_encoder
        self.n_head = config.n_head
        self.head_dim = config.head_dim
        self.dropout = config.dropout
        # Queries, keys and values of all heads in one matrix multiply.
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.out = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: Tensor,
        rope: Optional[tuple[Tensor, Tensor]] = None,
        cache: Optional[LayerKVCache] = None,
        capture: bool = False,
        key_mask: Optional[Tensor] = None,
    ) -> tuple[Tensor, Optional[Tensor]]:
        """Return the attention output [B, T, C] and, if `capture`, its weights [B, n_head, T, T_total].

        `key_mask` [B, T_total]: False at padding, which no token looks at.
        """
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # [B, T, C] -> [B, n_head, T, head_dim]: each head works on its own slice.
        q, k, v = (t.view(B, T, self.n_head, self.head_dim).transpose(1, 2) for t in (q, k, v))
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if cache is not None:
            k, v = cache.update(k, v)
        T_total = k.size(2)

        weights = None
        if capture:
            # Spelled out, to hand the weights to the heatmaps.
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
            mask = attention_mask(self.causal, T, T_total, key_mask, x.device)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            weights = F.softmax(scores, dim=-1)
            y = self.attn_dropout(weights) @ v
        else:
            # The same sums in one fused kernel (flash attention where available).
            dropout_p = self.dropout if self.training else 0.0
            if self.causal and key_mask is None and T == T_total:
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
            elif self.causal and key_mask is None and T == 1:
                # One new token after a cache sees every key: nothing to mask.
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
            else:
                # An encoder (no mask, or one hiding padding), padding, or several new
                # tokens after a cache, where `is_causal` would align the mask to the
                # top-left corner: the mask is given explicitly.
                mask = attention_mask(self.causal, T, T_total, key_mask, x.device)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)

        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.out(y)), weights


# -- MLPs ---------------------------------------------------------------------


def make_gelu(config: ModelConfig) -> nn.Module:
    # GPT-2 uses GELU's tanh approximation, BERT the exact one (Hugging Face's "gelu_new" and "gelu").
    return nn.GELU(approximate="none" if config.is_encoder else "tanh")


class MLP(nn.Module):
    """GPT-2's (and BERT's) feed-forward layer: widen, GELU, narrow."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        hidden = config.mlp_hidden_size
        self.up = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.act = make_gelu(config)
        self.down = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.down(self.act(self.up(x))))


class SwiGLU(nn.Module):
    """LLaMA's feed-forward layer: one widened copy, gated by SiLU of another (Shazeer 2020)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        hidden = config.mlp_hidden_size
        self.gate = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.up = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.down = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.down(F.silu(self.gate(x)) * self.up(x)))


def make_mlp(config: ModelConfig) -> nn.Module:
    return SwiGLU(config) if config.mlp == "swiglu" else MLP(config)


# -- the block and the model --------------------------------------------------


class Block(nn.Module):
    """One transformer layer: attention then MLP, each added back to the residual stream.

    A decoder norms each sub-layer's input (pre-norm, GPT-2 and later: deep
    stacks train more easily); an encoder norms each sum (post-norm, as the
    original transformer and BERT do).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.post_norm = config.is_encoder
        self.norm1 = make_norm(config)
        self.attn = SelfAttention(config)
        self.norm2 = make_norm(config)
        self.mlp = make_mlp(config)

    def forward(
        self,
        x: Tensor,
        rope: Optional[tuple[Tensor, Tensor]] = None,
        cache: Optional[LayerKVCache] = None,
        capture: bool = False,
        key_mask: Optional[Tensor] = None,
    ) -> tuple[Tensor, Optional[Tensor]]:
        if self.post_norm:
            attended, weights = self.attn(x, rope, cache, capture, key_mask)
            x = self.norm1(x + attended)
            x = self.norm2(x + self.mlp(x))
            return x, weights
        attended, weights = self.attn(self.norm1(x), rope, cache, capture, key_mask)
        x = x + attended
        x = x + self.mlp(self.norm2(x))
        return x, weights


class MaskedLMHead(nn.Module):
    """BERT's transform before the output matrix: a width-by-width layer, GELU, a norm.

    The output matrix itself (`GPT.lm_head`, tied to the token embedding, with
    a bias) turns the result into a score for every token of the vocabulary.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.dense = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.act = make_gelu(config)
        self.norm = make_norm(config)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.act(self.dense(x)))


@dataclass
class ModelOutput:
    """What a forward pass returns.

    logits: [B, T, vocab_size], scores for the token after each position
        ([B, 1, vocab_size] with `last_only`); an encoder's are scores for the
        token at each position (what a [MASK] there hides).
    loss: mean cross-entropy against the targets, if targets were given.
    attentions: with `capture_attention`, the weights of every layer and head,
        [n_layer, B, n_head, T, T_total]; T_total counts cached tokens too.
    kv_cache: the cache passed in, now holding this input as well.
    """

    logits: Tensor
    loss: Optional[Tensor] = None
    attentions: Optional[Tensor] = None
    kv_cache: Optional[KVCache] = None


class GPT(nn.Module):
    """A transformer language model: a causal decoder, or (`config.family == "encoder"`) a masked-LM encoder.

    The encoder adds BERT's parts: a token-type table (its row 0 added to every
    token), a norm after the embeddings instead of one after the last block,
    and the masked-LM head before the output matrix, which has a bias.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.raise_if_invalid()
        self.config = config
        encoder = config.is_encoder
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding = (
            nn.Embedding(config.context_length, config.n_embd) if config.positions == "learned" else None
        )
        self.token_type_embedding = nn.Embedding(TOKEN_TYPES, config.n_embd) if encoder else None
        self.embedding_norm = make_norm(config) if encoder else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.final_norm = None if encoder else make_norm(config)
        self.mlm_head = MaskedLMHead(config) if encoder else None
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=encoder and config.bias)
        if config.tie_weights:
            # Read and write tokens with one matrix (Press & Wolf 2017), as GPT-2 does.
            self.lm_head.weight = self.token_embedding.weight

        self.apply(self._init_weights)
        # Each block adds its attention and MLP outputs to the residual stream;
        # scaling those projections by 1/sqrt(2 * n_layer) keeps the stream's
        # size from growing with depth (GPT-2).
        for name, param in self.named_parameters():
            if name.endswith(("attn.out.weight", "mlp.down.weight")):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @classmethod
    def from_config(cls, config: ModelConfig, device: Union[str, torch.device, None] = None) -> GPT:
        """Build a freshly initialised model, directly on `device`.

        On the "meta" device nothing is allocated: a quick way to inspect the
        structure or count the parameters of a model too big to build.
        """
        with torch.device(device) if device is not None else contextlib.nullcontext():
            return cls(config)

    def num_parameters(self) -> int:
        """All parameters, a tied matrix counted once."""
        return sum(p.numel() for p in self.parameters())

    def new_kv_cache(self) -> KVCache:
        return KVCache(self.config.n_layer)

    def forward(
        self,
        idx: Tensor,
        targets: Optional[Tensor] = None,
        *,
        kv_cache: Optional[KVCache] = None,
        capture_attention: bool = False,
        last_only: bool = False,
        attention_mask: Optional[Tensor] = None,
    ) -> ModelOutput:
        """Run the model on token ids `idx` [B, T].

        targets: [B, T] ids of the next tokens, -1 marking positions to ignore;
            for an encoder, the ids hidden at each position, -100 where nothing
            was hidden (`masking.mask_tokens` makes both).
        kv_cache: tokens seen before `idx`; extended in place with `idx` (decoders only).
        capture_attention: compute attention step by step and return its weights.
        last_only: logits for the last position only (all that sampling needs).
        attention_mask: [B, T], 1 for real tokens and 0 for padding, which no token looks at.
        """
        B, T = idx.shape
        if kv_cache is not None and self.config.is_encoder:
            raise EncoderCannotGenerate(
                "This model is an encoder (BERT style): it reads the whole text at once and guesses hidden "
                "tokens, so it keeps no key/value cache and does not write text one token after another. "
                "Use Fill the mask with it, or a decoder to generate."
            )
        start = kv_cache.length if kv_cache is not None else 0
        if start + T > self.config.context_length:
            seen = f" ({start} already seen and {T} new)" if start else ""
            raise ContextLengthError(
                f"This model reads at most {self.config.context_length} tokens at once, but was given "
                f"{start + T}{seen}. Keep only the last {self.config.context_length} tokens."
            )
        if last_only and targets is not None:
            raise ValueError("last_only leaves out all but the last position's logits, so it gives no loss.")
        positions = torch.arange(start, start + T, device=idx.device)

        x = self.token_embedding(idx)  # [B, T, C]
        if self.token_type_embedding is not None:
            x = x + self.token_type_embedding.weight[0]  # every token is of the first sentence (type 0)
        rope = None
        if self.position_embedding is not None:
            x = x + self.position_embedding(positions)
        else:
            rope = rope_angles(self.config.head_dim, positions)
        if self.embedding_norm is not None:
            x = self.embedding_norm(x)
        x = self.drop(x)

        key_mask = None
        if attention_mask is not None:
            if kv_cache is not None and kv_cache.length:
                raise ValueError("attention_mask covers the new tokens only: pass no cache with it.")
            key_mask = attention_mask.to(device=idx.device, dtype=torch.bool)
        attentions = []
        for i, block in enumerate(self.blocks):
            cache = kv_cache.layers[i] if kv_cache is not None else None
            x, weights = block(x, rope, cache, capture_attention, key_mask)
            if capture_attention:
                attentions.append(weights)
        if self.final_norm is not None:
            x = self.final_norm(x)

        if last_only:
            x = x[:, -1:, :]
        if self.mlm_head is not None:
            x = self.mlm_head(x)
        logits = self.lm_head(x)
        loss = None
        if targets is not None:
            ignore = ENCODER_IGNORE if self.config.is_encoder else DECODER_IGNORE
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=ignore)
        return ModelOutput(
            logits=logits,
            loss=loss,
            attentions=torch.stack(attentions) if capture_attention else None,
            kv_cache=kv_cache,
        )

    @torch.no_grad()
    def step(self, idx: Tensor, kv_cache: Optional[KVCache] = None) -> tuple[Tensor, KVCache]:
        """Feed new tokens [B, T]; return the logits for the next token [B, vocab_size] and the cache.

            logits, cache = model.step(prompt)            # the whole prompt once
            logits, cache = model.step(next_ids, cache)   # then one token at a time

        Call `model.eval()` first, so dropout is off.
        """
        if kv_cache is None:
            kv_cache = self.new_kv_cache()
        output = self(idx, kv_cache=kv_cache, last_only=True)
        return output.logits[:, -1, :], kv_cache
