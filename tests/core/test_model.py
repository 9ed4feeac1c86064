"""The model and its config: shapes, parameter counts, causality, attention capture, KV cache."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
import torch

from playground.core.config import (
    PRESETS,
    ConfigError,
    ModelConfig,
    flops_per_token,
    parameter_breakdown,
)
from playground.core.model import GPT, ContextLengthError, KVCache, apply_rope, rope_angles

FLAVOURS = ["gpt2", "llama"]
VOCAB = 97


def small_config(flavour: str, **overrides) -> ModelConfig:
    """The tiny preset, narrower and shorter: 2 layers, 4 heads of width 8, context 32."""
    sizes = {"context_length": 32, "n_embd": 32, **overrides}
    return ModelConfig.from_preset("tiny", VOCAB, flavour=flavour, **sizes)


def build(flavour: str, **overrides) -> GPT:
    torch.manual_seed(0)
    return GPT.from_config(small_config(flavour, **overrides)).eval()


def random_ids(batch: int, length: int) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(1))


# -- shapes and counts --------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_output_shapes(flavour):
    model = build(flavour)
    idx = random_ids(3, 10)
    out = model(idx, targets=idx, capture_attention=True)
    assert out.logits.shape == (3, 10, VOCAB)
    assert out.loss.shape == ()
    assert out.attentions.shape == (2, 3, 4, 10, 10)
    assert out.kv_cache is None
    assert model(idx, last_only=True).logits.shape == (3, 1, VOCAB)
    assert model(idx).loss is None and model(idx).attentions is None


def count_by_part(model: GPT) -> dict[str, int]:
    """The model's parameters grouped as `parameter_breakdown` groups them."""
    parts = dict.fromkeys(["token_embedding", "position_embedding", "attention", "mlp", "norms", "output_head"], 0)
    for name, p in model.named_parameters():  # a tied matrix appears once, as the embedding
        part = (
            "token_embedding" if name.startswith("token_embedding")
            else "position_embedding" if name.startswith("position_embedding")
            else "attention" if ".attn." in name
            else "mlp" if ".mlp." in name
            else "norms" if "norm" in name
            else "output_head" if name.startswith("lm_head")
            else None
        )  # fmt: skip
        assert part is not None, f"uncounted parameter {name}"
        parts[part] += p.numel()
    return parts


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("preset", list(PRESETS))
def test_parameter_breakdown_matches_built_model(preset, flavour):
    vocab = None if preset == "gpt2-small" else 1000
    config = ModelConfig.from_preset(preset, vocab, flavour=flavour)
    model = GPT.from_config(config, device="meta")
    counts = parameter_breakdown(config)
    assert model.num_parameters() == counts.total
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())
    assert count_by_part(model) == {name: getattr(counts, name) for name in count_by_part(model)}


@pytest.mark.parametrize(
    "overrides",
    [
        dict(tie_weights=False),
        dict(bias=False),
        dict(mlp="swiglu", mlp_hidden=100),
        dict(norm="rmsnorm", bias=True),
        dict(positions="rope", tie_weights=False, bias=False),
    ],
)
def test_parameter_breakdown_for_mixed_architectures(overrides):
    config = small_config("gpt2", **overrides)
    model = GPT.from_config(config, device="meta")
    assert model.num_parameters() == parameter_breakdown(config).total


def test_gpt2_small_has_exactly_gpt2_small_parameters():
    config = ModelConfig.from_preset("gpt2-small")
    assert (config.vocab_size, config.context_length, config.n_layer, config.n_head, config.n_embd) == (
        50257, 1024, 12, 12, 768,
    )  # fmt: skip
    assert parameter_breakdown(config).total == 124_439_808
    assert GPT.from_config(config, device="meta").num_parameters() == 124_439_808


def test_tiny_preset_is_about_a_tenth_of_a_million_parameters():
    for vocab in (512, 1000):
        assert 50_000 < parameter_breakdown(ModelConfig.from_preset("tiny", vocab)).total < 150_000
    assert ModelConfig(vocab_size=512) == ModelConfig.from_preset("tiny", 512)


def test_default_mlp_widths():
    assert ModelConfig.gpt2_style(n_embd=768, n_head=12).mlp_hidden_size == 3072
    assert ModelConfig.llama_style(n_embd=768, n_head=12).mlp_hidden_size == 2048
    assert ModelConfig.llama_style(n_embd=128).mlp_hidden_size == 384  # 341.3 rounded up to a multiple of 64
    assert ModelConfig.llama_style(n_embd=128, mlp_hidden=300).mlp_hidden_size == 300


def test_flops_per_token_is_the_nanogpt_estimate_for_gpt2_small():
    config = ModelConfig.from_preset("gpt2-small")
    non_position_params = 124_439_808 - 1024 * 768
    assert flops_per_token(config) == 6 * non_position_params + 12 * 12 * 768 * 1024
    assert flops_per_token(config, seq_len=1) < flops_per_token(config)


def test_weight_tying_shares_one_matrix():
    tied, untied = build("gpt2"), build("llama")
    assert tied.lm_head.weight is tied.token_embedding.weight
    assert untied.lm_head.weight is not untied.token_embedding.weight
    assert untied.position_embedding is None


# -- behaviour ----------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_changing_a_later_token_never_changes_earlier_logits(flavour):
    model = build(flavour)
    idx = random_ids(2, 16)
    for t in (0, 7, 15):
        changed = idx.clone()
        changed[:, t] = (changed[:, t] + 1) % VOCAB
        before, after = model(idx).logits, model(changed).logits
        torch.testing.assert_close(before[:, :t], after[:, :t])
        assert not torch.allclose(before[:, t:], after[:, t:])


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_captured_attention_matches_fused_attention(flavour):
    model = build(flavour)
    idx = random_ids(2, 12)
    fused = model(idx, targets=idx)
    captured = model(idx, targets=idx, capture_attention=True)
    torch.testing.assert_close(captured.logits, fused.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(captured.loss, fused.loss)

    weights = captured.attentions  # [n_layer, B, n_head, T, T]
    above_diagonal = torch.ones(12, 12, dtype=torch.bool).triu(diagonal=1)
    assert torch.all(weights[..., above_diagonal] == 0)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(weights.shape[:-1]))
    assert torch.all(weights[..., 0, 0] == 1)  # the first token can only look at itself


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_kv_cache_gives_the_same_logits_as_a_full_forward(flavour):
    model = build(flavour)
    idx = random_ids(2, 20)
    full = model(idx, capture_attention=True)

    cache = model.new_kv_cache()
    pieces = [model(idx[:, :8], kv_cache=cache).logits]  # a prompt
    for t in range(8, 12):  # one token at a time
        pieces.append(model(idx[:, t : t + 1], kv_cache=cache).logits)
    chunk = model(idx[:, 12:20], kv_cache=cache, capture_attention=True)  # several after a cache
    pieces.append(chunk.logits)
    assert cache.length == 20 and chunk.kv_cache is cache
    torch.testing.assert_close(torch.cat(pieces, dim=1), full.logits, rtol=1e-4, atol=1e-5)

    assert chunk.attentions.shape == (2, 2, 4, 8, 20)
    torch.testing.assert_close(chunk.attentions, full.attentions[:, :, :, 12:20, :], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_step_returns_next_token_logits(flavour):
    model = build(flavour)
    idx = random_ids(1, 6)
    logits, cache = model.step(idx[:, :5])
    logits, cache = model.step(idx[:, 5:], cache)
    assert isinstance(cache, KVCache) and cache.length == 6
    torch.testing.assert_close(logits, model(idx).logits[:, -1], rtol=1e-4, atol=1e-5)


def test_rope_rotates_so_scores_depend_only_on_distance():
    q, k = torch.randn(2, 1, 1, 1, 16).unbind(0)  # one head, one position, width 16

    def rotated(x, position):
        return apply_rope(x, *rope_angles(16, torch.tensor([position])))

    assert torch.allclose(rotated(q, 7).norm(), q.norm())  # a rotation keeps lengths
    score = (rotated(q, 5) * rotated(k, 2)).sum()
    assert torch.allclose(score, (rotated(q, 25) * rotated(k, 22)).sum(), atol=1e-5)
    assert not torch.allclose(score, (rotated(q, 5) * rotated(k, 4)).sum(), atol=1e-3)


def test_kv_cache_crop_and_reorder():
    model = build("llama")
    idx = random_ids(2, 10)
    cache = model.new_kv_cache()
    model(idx, kv_cache=cache)
    cache.crop(6)
    cache.reorder(torch.tensor([1, 0]))
    logits = model(idx[[1, 0], 6:7], kv_cache=cache).logits
    torch.testing.assert_close(logits[:, -1], model(idx[[1, 0], :7]).logits[:, -1], rtol=1e-4, atol=1e-5)


def test_too_long_input_is_a_clear_error():
    model = build("gpt2")
    with pytest.raises(ContextLengthError, match="at most 32 tokens"):
        model(random_ids(1, 33))
    cache = model.new_kv_cache()
    model(random_ids(1, 30), kv_cache=cache)
    with pytest.raises(ContextLengthError, match="30 already seen"):
        model(random_ids(1, 3), kv_cache=cache)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_loss_falls_on_a_repeated_sequence(flavour):
    torch.manual_seed(0)
    model = GPT.from_config(small_config(flavour)).train()
    sequence = torch.arange(17).repeat(2)[None, :33] % VOCAB  # 0 1 2 ... 16 0 1 2 ...
    x, y = sequence[:, :-1], sequence[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(50):
        loss = model(x, targets=y).loss
        first = first if first is not None else loss.item()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    assert first > 4.0  # about ln(97): a fresh model guesses uniformly
    assert loss.item() < 0.5


# -- config checks and JSON ---------------------------------------------------


def test_a_good_config_has_no_problems():
    for flavour in FLAVOURS:
        assert small_config(flavour).validate() == []
    for preset in PRESETS.values():
        assert preset.config(1000).validate() == []


def test_validate_catches_width_not_divisible_by_heads():
    problems = ModelConfig.gpt2_style(n_embd=100, n_head=3).validate()
    assert [p.field for p in problems] == ["n_embd"]
    assert problems[0].message == (
        "Width 100 is not divisible by 3 heads: each head needs an equal share. Try 99 or 102."
    )
    # With RoPE, the suggestions also give each head an even share.
    assert "Try 96 or 102." in ModelConfig.llama_style(n_embd=100, n_head=3).validate()[0].message


def test_validate_catches_odd_head_width_with_rope():
    problems = ModelConfig.llama_style(n_embd=96, n_head=32).validate()  # 3 per head
    assert [p.field for p in problems] == ["n_embd"]
    assert "must be even" in problems[0].message
    assert ModelConfig.gpt2_style(n_embd=96, n_head=32).validate() == []  # fine with learned positions


def test_validate_catches_bad_sizes_dropout_and_choices():
    config = ModelConfig(vocab_size=0, n_layer=-1, n_head=2.5, dropout=1.0, norm="batchnorm")
    fields = [p.field for p in config.validate()]
    assert fields == ["vocab_size", "n_layer", "n_head", "dropout", "norm"]
    with pytest.raises(ConfigError, match="Vocabulary size must be at least 1"):
        GPT(config)


def test_to_dict_from_dict_round_trip():
    for config in (small_config("gpt2"), small_config("llama", mlp_hidden=96, dropout=0.1)):
        assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_from_dict_rejects_unknown_keys_and_fills_optional_ones():
    sizes = dict(vocab_size=100, context_length=16, n_layer=1, n_head=2, n_embd=16)
    with pytest.raises(ConfigError, match="'n_embed'"):
        ModelConfig.from_dict({**sizes, "n_embed": 16})
    with pytest.raises(ConfigError, match="lacks n_head"):
        ModelConfig.from_dict({k: v for k, v in sizes.items() if k != "n_head"})
    assert ModelConfig.from_dict(sizes) == ModelConfig.gpt2_style(**sizes)
    assert ModelConfig.from_dict({**sizes, "flavour": "llama"}) == ModelConfig.llama_style(**sizes)


def test_presets_need_a_vocabulary_except_gpt2_small():
    with pytest.raises(ConfigError, match="needs a vocabulary size"):
        ModelConfig.from_preset("tiny")
    with pytest.raises(ConfigError, match="no preset called 'huge'"):
        ModelConfig.from_preset("huge", 100)
    assert ModelConfig.from_preset("gpt2-small", flavour="llama").positions == "rope"


def test_config_module_imports_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from playground.core.config import ModelConfig, parameter_breakdown\n"
        "print(parameter_breakdown(ModelConfig()).total)"
    )
    repo_root = pathlib.Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo_root)
    assert result.returncode == 0, result.stderr
