"""The BERT style encoder: its config, parameter counts, bidirectional attention, padding, a hand computation."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch.nn import functional as F

from playground.core.config import (
    ENCODER_PRESETS,
    PRESETS,
    ModelConfig,
    flops_per_token,
    parameter_breakdown,
    presets_for,
)
from playground.core.estimates import matmul_parameters
from playground.core.model import GPT
from playground.core.progress import UserError

VOCAB = 97


def small_encoder(**overrides) -> ModelConfig:
    sizes = {"context_length": 32, "n_embd": 32, **overrides}
    return ModelConfig.from_preset("tiny", VOCAB, flavour="bert", **sizes)


def build(**overrides) -> GPT:
    torch.manual_seed(0)
    return GPT.from_config(small_encoder(**overrides)).eval()


def random_ids(batch: int, length: int) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(1))


# -- config ---------------------------------------------------------------------------


def test_the_bert_flavour_is_an_encoder_and_old_configs_stay_decoders():
    config = ModelConfig.bert_style(vocab_size=100)
    assert config.family == "encoder" and config.is_encoder
    assert (config.positions, config.norm, config.mlp, config.tie_weights, config.bias) == (
        "learned", "layernorm", "gelu", True, True,
    )  # fmt: skip
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    # A file written before the family existed is a decoder, whatever its flavour.
    sizes = dict(vocab_size=100, context_length=16, n_layer=1, n_head=2, n_embd=16)
    assert ModelConfig.from_dict(sizes).family == "decoder"
    assert ModelConfig.from_dict({**sizes, "flavour": "llama"}).family == "decoder"
    assert ModelConfig.from_dict({**sizes, "flavour": "bert"}).family == "encoder"
    assert [p.field for p in config.replace(family="seq2seq").validate()] == ["family"]


def test_encoder_presets_are_offered_for_encoders():
    assert list(presets_for("decoder")) == list(PRESETS)
    assert list(presets_for("encoder")) == ["tiny", "small", "medium", "bert-base"]
    for preset in ENCODER_PRESETS.values():
        assert preset.config(1000, "bert").validate() == []


# -- counts ---------------------------------------------------------------------------


def count_by_part(model: GPT) -> dict[str, int]:
    """The model's parameters grouped as `parameter_breakdown` groups them."""
    parts = dict.fromkeys(
        ["token_embedding", "position_embedding", "token_type_embedding", "attention", "mlp", "norms", "mlm_head",
         "output_head"], 0,
    )  # fmt: skip
    for name, p in model.named_parameters():
        part = (
            "token_embedding" if name.startswith("token_embedding")
            else "position_embedding" if name.startswith("position_embedding")
            else "token_type_embedding" if name.startswith("token_type_embedding")
            else "mlm_head" if name.startswith("mlm_head") or name == "lm_head.bias"
            else "attention" if ".attn." in name
            else "mlp" if ".mlp." in name
            else "norms" if "norm" in name
            else "output_head" if name.startswith("lm_head")
            else None
        )  # fmt: skip
        assert part is not None, f"uncounted parameter {name}"
        parts[part] += p.numel()
    return parts


@pytest.mark.parametrize("preset", list(ENCODER_PRESETS))
def test_parameter_breakdown_matches_the_built_encoder(preset):
    vocab = None if preset == "bert-base" else 1000
    config = ModelConfig.from_preset(preset, vocab, flavour="bert")
    model = GPT.from_config(config, device="meta")
    counts = parameter_breakdown(config)
    assert sum(p.numel() for p in model.parameters()) == counts.total
    assert count_by_part(model) == {name: getattr(counts, name) for name in count_by_part(model)}
    labels = [label for label, _ in counts.rows()]
    assert "Token-type embedding" in labels and "Masked-LM head" in labels and labels[-1] == "Total"


@pytest.mark.parametrize(
    "overrides",
    [
        dict(tie_weights=False),
        dict(bias=False),
        dict(mlp="swiglu", mlp_hidden=100),
        dict(norm="rmsnorm"),
        dict(positions="rope", tie_weights=False, bias=False),
    ],
)
def test_parameter_breakdown_for_mixed_encoders(overrides):
    config = small_encoder(**overrides)
    model = GPT.from_config(config, device="meta")
    assert sum(p.numel() for p in model.parameters()) == parameter_breakdown(config).total


def test_bert_base_has_exactly_the_parameters_of_bert_for_masked_lm():
    # bert-base-uncased as BertForMaskedLM (no pooler): 109,514,298 parameters.
    config = ModelConfig.from_preset("bert-base", flavour="bert")
    assert parameter_breakdown(config).total == 109_514_298
    assert GPT.from_config(config, device="meta").num_parameters() == 109_514_298


def test_the_masked_lm_layer_counts_as_a_matrix_multiply():
    encoder, decoder = small_encoder(), small_encoder(family="decoder")
    d = encoder.n_embd
    assert matmul_parameters(encoder) - matmul_parameters(decoder) == d * d
    assert flops_per_token(encoder) - flops_per_token(decoder) == 6 * (parameter_breakdown(encoder).mlm_head)
    decoder_rows = [label for label, _ in parameter_breakdown(decoder).rows()]
    assert decoder_rows == [
        "Token embedding",
        "Position embedding",
        "Attention",
        "MLP",
        "Norms",
        "Output head",
        "Total",
    ]


# -- attention ------------------------------------------------------------------------


def test_every_token_sees_the_whole_text():
    model = build()
    idx = random_ids(2, 16)
    changed = idx.clone()
    changed[:, 15] = (changed[:, 15] + 1) % VOCAB
    before, after = model(idx).logits, model(changed).logits
    assert not torch.allclose(before[:, 0], after[:, 0])  # the first token's output depends on the last


def test_captured_attention_is_a_full_square_whose_rows_sum_to_one():
    model = build()
    idx = random_ids(2, 12)
    labels = torch.full_like(idx, -100)
    labels[:, 3] = idx[:, 3]
    fused = model(idx, targets=labels)
    captured = model(idx, targets=labels, capture_attention=True)
    torch.testing.assert_close(captured.logits, fused.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(captured.loss, fused.loss)

    weights = captured.attentions  # [n_layer, B, n_head, T, T]
    assert weights.shape == (2, 2, 4, 12, 12)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(weights.shape[:-1]))
    above_diagonal = torch.ones(12, 12, dtype=torch.bool).triu(diagonal=1)
    assert torch.all(weights[..., above_diagonal] > 0)  # not a triangle: tokens look ahead too


def test_padding_is_never_looked_at_and_changes_nothing():
    model = build()
    idx = random_ids(1, 10)
    alone = model(idx, capture_attention=True)
    padded = torch.cat((idx, torch.zeros(1, 4, dtype=torch.long)), dim=1)
    mask = torch.tensor([[1] * 10 + [0] * 4])
    out = model(padded, attention_mask=mask, capture_attention=True)
    fused = model(padded, attention_mask=mask)
    torch.testing.assert_close(out.logits[:, :10], alone.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fused.logits[:, :10], alone.logits, rtol=1e-4, atol=1e-5)
    assert torch.all(out.attentions[..., 10:] == 0)


def test_the_loss_counts_labelled_positions_only():
    model = build()
    idx = random_ids(1, 8)
    labels = torch.full_like(idx, -100)
    labels[0, 2], labels[0, 5] = 7, 11
    logits = model(idx).logits[0]
    expected = (F.cross_entropy(logits[2:3], torch.tensor([7])) + F.cross_entropy(logits[5:6], torch.tensor([11]))) / 2
    torch.testing.assert_close(model(idx, targets=labels).loss, expected)


def test_an_encoder_keeps_no_cache():
    model = build()
    with pytest.raises(UserError, match="keeps no key/value cache.*Use Fill the mask"):
        model.step(random_ids(1, 4))


# -- a hand computation ----------------------------------------------------------------


def test_a_tiny_encoder_computes_what_bert_writes_down():
    """BERT's forward pass written out with plain tensor operations, on the model's own weights."""
    model = build(n_layer=1, n_head=2, n_embd=8, dropout=0.0)
    p = dict(model.named_parameters())
    idx = random_ids(1, 5)[0]
    T, d, H = 5, 8, 2

    def layer_norm(x, name):
        mean = x.mean(-1, keepdim=True)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)
        return (x - mean) / torch.sqrt(var + 1e-12) * p[f"{name}.weight"] + p[f"{name}.bias"]

    def linear(x, name):
        return x @ p[f"{name}.weight"].T + p[f"{name}.bias"]

    def gelu(x):
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))

    x = p["token_embedding.weight"][idx] + p["position_embedding.weight"][:T] + p["token_type_embedding.weight"][0]
    x = layer_norm(x, "embedding_norm")
    q, k, v = linear(x, "blocks.0.attn.qkv").split(d, dim=-1)
    heads = []
    for h in range(H):
        s = slice(h * d // H, (h + 1) * d // H)
        scores = q[:, s] @ k[:, s].T / math.sqrt(d // H)  # no mask: every token sees every token
        heads.append(torch.softmax(scores, dim=-1) @ v[:, s])
    x = layer_norm(x + linear(torch.cat(heads, dim=-1), "blocks.0.attn.out"), "blocks.0.norm1")
    x = layer_norm(x + linear(gelu(linear(x, "blocks.0.mlp.up")), "blocks.0.mlp.down"), "blocks.0.norm2")
    x = layer_norm(gelu(linear(x, "mlm_head.dense")), "mlm_head.norm")
    logits = x @ p["token_embedding.weight"].T + p["lm_head.bias"]  # the tied matrix, and its own bias

    torch.testing.assert_close(model(idx[None]).logits[0], logits, rtol=1e-4, atol=1e-5)
