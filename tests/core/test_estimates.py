"""Memory, speed and number formatting for the Build step: sane parts, right scaling, honest against torch."""

from __future__ import annotations

import pytest

from playground.core.config import PRESETS, ModelConfig, flops_per_token, parameter_breakdown
from playground.core.estimates import (
    available_system_memory,
    estimate_tokens_per_second,
    human_bytes,
    human_count,
    human_duration,
    human_flops,
    matmul_parameters,
    measure_matmul_flops,
    measure_saved_activation_bytes,
    memory_estimate,
    saved_activation_bytes,
)
from playground.core.progress import run_quietly

FLAVOURS = ["gpt2", "llama", "bert"]


def config(name: str = "small", flavour: str = "gpt2", vocab: int = 2000, **overrides) -> ModelConfig:
    return ModelConfig.from_preset(name, vocab, flavour=flavour, **overrides)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("name", list(PRESETS))
def test_parameter_state_is_four_bytes_a_number_and_adamw_keeps_two(name, flavour):
    cfg = config(name, flavour)
    n = parameter_breakdown(cfg).total
    m = memory_estimate(cfg, batch_size=4)
    assert m.weights == 4 * n
    assert m.gradients == 4 * n
    assert m.optimizer_state == 8 * n
    assert m.activations > 0
    assert m.total == m.weights + m.gradients + m.optimizer_state + m.activations
    assert [label for label, _ in m.rows()] == ["Weights", "Gradients", "Optimizer state", "Activations", "Total"]
    assert memory_estimate(cfg, 4, optimizer="sgd").optimizer_state == 0


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_activations_scale_with_batch_and_context(flavour, device):
    cfg = config("small", flavour)
    one, two = memory_estimate(cfg, 8, device=device), memory_estimate(cfg, 16, device=device)
    assert two.activations == 2 * one.activations
    assert two.logits == 2 * one.logits
    # Everything but activations is independent of the batch.
    assert (two.weights, two.gradients, two.optimizer_state) == (one.weights, one.gradients, one.optimizer_state)
    longer = memory_estimate(cfg.replace(context_length=2 * cfg.context_length), 8, device=device)
    assert longer.activations >= 2 * one.activations  # at least linear in T


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_mixed_precision_halves_most_activations_but_not_the_master_weights(flavour):
    cfg = config("medium", flavour)
    fp32, bf16, fp16 = (memory_estimate(cfg, 8, precision=p) for p in ("fp32", "bf16", "fp16"))
    assert bf16 == fp16
    assert bf16.activations < fp32.activations
    # The residual stream, norms and the loss's log-softmax stay float32: less than half is saved.
    assert bf16.activations > 0.5 * fp32.activations
    n = parameter_breakdown(cfg).total
    assert bf16.gradients == fp32.gradients == 4 * n and bf16.optimizer_state == fp32.optimizer_state
    # Master weights in float32 plus autocast's 2-byte copies of the matrices.
    assert bf16.weights == 4 * n + 2 * matmul_parameters(cfg)


def test_logits_of_a_big_vocabulary_dominate_the_activations():
    cfg = config("gpt2-small", vocab=50257)
    m = memory_estimate(cfg, batch_size=8)
    tokens = 8 * cfg.context_length
    # The logits, their log-softmax and their gradient: three float32 numbers per vocabulary entry.
    assert m.logits == tokens * 50257 * 12
    assert m.logits < m.activations
    small_vocab = memory_estimate(cfg.replace(vocab_size=2000), batch_size=8)
    assert m.activations - small_vocab.activations == tokens * (50257 - 2000) * 12


def test_gpt2_small_needs_what_people_say_it_needs():
    # 124M parameters with AdamW: 16 bytes each, about 2 GB before activations.
    m = memory_estimate(config("gpt2-small", vocab=50257), batch_size=12)
    assert 1.9e9 < m.weights + m.gradients + m.optimizer_state < 2.1e9
    # nanoGPT's batch of 12 x 1024 tokens in float32 (no activation checkpointing): well over 10 GB,
    # about half of it the logits of 50,257 tokens at 12,288 positions.
    assert 10e9 < m.total < 30e9
    assert 0.4 < m.logits / m.activations < 0.6


def test_cpu_attention_dropout_keeps_the_attention_matrices():
    cfg = config("small", dropout=0.1)
    gpu = saved_activation_bytes(cfg, 4, device="cuda")
    cpu = saved_activation_bytes(cfg, 4, device="cpu")
    tokens = 4 * cfg.context_length
    assert cpu - gpu >= tokens * cfg.n_layer * 12 * cfg.n_head * cfg.context_length
    no_dropout = cfg.replace(dropout=0.0)
    assert saved_activation_bytes(no_dropout, 4, device="cpu") == saved_activation_bytes(no_dropout, 4, device="cuda")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("dropout", [0.0, 0.1])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_estimate_matches_what_autograd_really_saves(flavour, dropout, precision):
    cfg = config("tiny", flavour, vocab=300, dropout=dropout, n_embd=64, context_length=32, n_layer=3)
    measured, copies = measure_saved_activation_bytes(cfg, batch_size=2, precision=precision, device="cpu")
    estimated = saved_activation_bytes(cfg, batch_size=2, precision=precision, device="cpu")
    # Only RoPE's small per-batch tables of angles are left out of the estimate.
    assert abs(estimated - measured) <= 0.02 * measured
    assert copies == (2 * matmul_parameters(cfg) if precision == "bf16" else 0)


def test_unknown_precision_or_optimizer_is_refused():
    with pytest.raises(ValueError, match="Precision"):
        memory_estimate(config(), 4, precision="int4")
    with pytest.raises(ValueError, match="Optimizer"):
        memory_estimate(config(), 4, optimizer="lion")


def test_tokens_per_second_follows_the_stated_assumption():
    cfg = config("medium")
    flops = 100e9
    tps = estimate_tokens_per_second(cfg, flops)
    assert tps > 0
    assert tps == pytest.approx(flops * 0.3 / flops_per_token(cfg))
    assert estimate_tokens_per_second(cfg, 2 * flops) == pytest.approx(2 * tps)
    assert estimate_tokens_per_second(cfg, flops, utilization=0.6) == pytest.approx(2 * tps)
    # A fixed overhead per step slows small steps most.
    with_overhead = estimate_tokens_per_second(cfg, flops, tokens_per_step=8 * 256)
    assert 0 < with_overhead < tps
    tiny = config("tiny")
    assert estimate_tokens_per_second(tiny, flops, tokens_per_step=8) < 0.5 * estimate_tokens_per_second(
        tiny, flops, tokens_per_step=64 * 64
    )
    with pytest.raises(ValueError):
        estimate_tokens_per_second(cfg, 0.0)


def test_matmul_benchmark_measures_a_plausible_speed():
    flops = run_quietly(measure_matmul_flops("cpu", seconds=0.05, size=256))
    assert 1e7 < flops < 1e15


def test_available_memory_says_where_it_comes_from():
    available = available_system_memory()
    assert available.source
    if available.bytes is not None:
        assert available.bytes > 0


def test_human_numbers():
    assert human_count(124_439_808) == "124.4M"
    assert human_count(950) == "950"
    assert human_count(12_345) == "12.3K"
    assert human_count(1.5e9) == "1.5B"
    assert human_bytes(512) == "512 bytes"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(3 * 2**30) == "3.0 GiB"
    assert human_flops(7.4e6) == "7.4 MFLOP"
    assert human_duration(45) == "45 s"
    assert human_duration(600) == "10.0 min"
    assert human_duration(3 * 86400) == "3.0 days"


def test_measuring_the_device_is_a_job_with_progress():
    from playground.core.devices import DeviceInfo
    from playground.core.estimates import DeviceSpeed, measure_device_speed

    cpu = DeviceInfo("cpu", "test CPU", threads=1)
    speed = run_quietly(measure_device_speed(cpu, seconds=0.05))
    assert isinstance(speed, DeviceSpeed) and speed.device is cpu and 1e7 < speed.flops_per_second < 1e15
    # Small matrices: many short rounds, each reported (where the engine may pause or stop it).
    benchmark = measure_matmul_flops("cpu", seconds=0.05, size=64)
    reports = []
    while True:
        try:
            reports.append(next(benchmark))
        except StopIteration as done:
            assert done.value > 0
            break
    assert reports and all(0 <= p.fraction < 1 for p in reports)
    assert all(a.fraction <= b.fraction for a, b in zip(reports, reports[1:]))
