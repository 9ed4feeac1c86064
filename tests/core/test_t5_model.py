"""The encoder-decoder (T5 style): its config, what it costs, its three kinds of attention, cached decoding,
and a checkpoint that loads back into the right class."""

from __future__ import annotations

import json

import pytest
import torch
from sample_text import sentences  # tests/ is on sys.path
from tiny_runs import wordpiece_tokenizer

from playground.core.checkpoints import build_model, load_checkpoint, save_checkpoint, write_run_files
from playground.core.config import (
    ENCODER_DECODER_PRESETS,
    FAMILIES,
    ModelConfig,
    flops_per_token,
    memory_problem,
    parameter_breakdown,
    presets_for,
)
from playground.core.estimates import (
    matmul_parameters,
    measure_saved_activation_bytes,
    memory_estimate,
    saved_activation_bytes,
)
from playground.core.model import GPT, ContextLengthError
from playground.core.t5_model import T5, greedy_decode, relative_position_bucket, shift_right
from playground.core.train_config import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")

V, S, T = 40, 9, 7


def t5_config(**changes) -> ModelConfig:
    sizes = dict(vocab_size=V, context_length=16, n_layer=2, n_head=4, n_embd=32, relative_buckets=8)
    return ModelConfig.t5_style(**{**sizes, **changes})


def random_model(config: ModelConfig, seed: int = 0) -> T5:
    torch.manual_seed(seed)
    return T5(config).eval()


def batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs [2, S] (the second padded after 5 tokens), their mask, and decoder inputs [2, T]."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, V, (2, S), generator=g)
    mask = torch.ones(2, S, dtype=torch.long)
    mask[1, 5:] = 0
    return ids, mask, torch.randint(2, V, (2, T), generator=g)


# -- config ---------------------------------------------------------------------------


def test_the_t5_flavour_is_a_v1_0_encoder_decoder():
    config = t5_config()
    assert "encoder-decoder" in FAMILIES and config.is_encoder_decoder and not config.is_encoder
    assert (config.positions, config.norm, config.mlp, config.tie_weights, config.bias) == (
        "relative", "rmsnorm", "relu", True, False,
    )  # fmt: skip
    assert config.validate() == [] and config.decoder_layers == 2
    assert t5_config(n_decoder_layer=3).decoder_layers == 3


def test_old_checkpoint_json_reads_the_same():
    old = {"vocab_size": 50, "context_length": 32, "n_layer": 2, "n_head": 2, "n_embd": 16, "flavour": "llama"}
    config = ModelConfig.from_dict(old)
    assert (config.n_decoder_layer, config.relative_buckets, config.relative_max_distance) == (None, 32, 128)
    t5 = t5_config(n_decoder_layer=1, relative_max_distance=40)
    assert ModelConfig.from_dict(json.loads(json.dumps(t5.to_dict()))) == t5


@pytest.mark.parametrize(
    "changes, field, words",
    [
        (dict(positions="rope"), "positions", "encoder-decoder is built T5 style"),
        (dict(mlp="swiglu"), "mlp", "ReLU MLP"),
        (dict(norm="layernorm"), "norm", "RMSNorm"),
        (dict(bias=True), "bias", "no biases"),
        (dict(relative_buckets=2), "relative_buckets", "at least 4"),
        (dict(relative_max_distance=4), "relative_max_distance", "above 4"),
        (dict(n_decoder_layer=0), "n_decoder_layer", "at least 1"),
    ],
)
def test_what_an_encoder_decoder_cannot_hold_is_said(changes, field, words):
    problems = t5_config(**changes).validate()
    assert [p.field for p in problems] == [field] and words in problems[0].message


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(positions="relative"), "positions"),
        (dict(mlp="relu"), "mlp"),
        (dict(n_decoder_layer=2), "n_decoder_layer"),
    ],
)
def test_parts_of_an_encoder_decoder_are_refused_elsewhere(changes, field):
    for config in (ModelConfig.gpt2_style(**changes), ModelConfig.bert_style(**changes)):
        problems = config.validate()
        assert [p.field for p in problems] == [field] and "encoder-decoder" in problems[0].message


def test_presets_for_the_family():
    assert (
        list(presets_for("encoder-decoder")) == list(ENCODER_DECODER_PRESETS) == ["tiny", "small", "medium", "t5-small"]
    )
    config = ModelConfig.from_preset("t5-small", flavour="t5")
    assert parameter_breakdown(config).total == 60_506_624  # Hugging Face's t5-small, counted there


# -- what it costs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [dict(), dict(tie_weights=False), dict(n_decoder_layer=3), dict(n_layer=1, n_decoder_layer=2, tie_weights=False),
     dict(mlp_hidden=48, relative_buckets=16)],
)  # fmt: skip
def test_the_breakdown_counts_every_parameter(changes):
    config = t5_config(**changes)
    model = T5.from_config(config, device="meta")
    counts = parameter_breakdown(config)
    assert counts.total == sum(p.numel() for p in model.parameters())
    rows = dict(counts.rows())
    n_dec = config.decoder_layers
    assert rows["Cross-attention"] == sum(p.numel() for n, p in model.named_parameters() if ".cross." in n)
    assert rows["Cross-attention"] == n_dec * 4 * 32 * 32
    assert rows["Relative position bias"] == 2 * config.relative_buckets * 4
    assert rows["Norms"] == sum(p.numel() for n, p in model.named_parameters() if "norm" in n)
    assert rows["Output head"] == (0 if config.tie_weights else V * 32)
    # Every matrix multiply's weights, the output head's too when it is the token table.
    matrices = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    assert matmul_parameters(config) == matrices


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("dropout", [0.0, 0.1])
@pytest.mark.parametrize("n_decoder_layer", [None, 1])
def test_the_activation_estimate_matches_what_autograd_saves(precision, dropout, n_decoder_layer):
    config = t5_config(vocab_size=300, n_embd=64, context_length=24, n_layer=2, dropout=dropout)
    config = config.replace(n_decoder_layer=n_decoder_layer)
    measured, copies = measure_saved_activation_bytes(config, batch_size=2, precision=precision, device="cpu")
    assert abs(saved_activation_bytes(config, 2, precision, "cpu") - measured) <= 0.01 * measured
    assert copies == (2 * matmul_parameters(config) if precision == "bf16" else 0)


def test_flops_and_memory_count_both_stacks():
    shallow, deep = t5_config(), t5_config(n_decoder_layer=4)
    assert flops_per_token(deep) > flops_per_token(shallow) > flops_per_token(shallow.replace(n_layer=1))
    assert memory_estimate(deep, 4).total > memory_estimate(shallow, 4).total
    problem = memory_problem(t5_config(n_embd=4096, n_head=32), 1000)
    assert problem is not None and "MLP" in problem and "4 layers" in problem


# -- the model ----------------------------------------------------------------------------


def test_the_three_kinds_of_attention():
    config = t5_config(n_decoder_layer=3)
    model = random_model(config)
    ids, mask, decoder_ids = batch()
    out = model(ids, decoder_ids, attention_mask=mask, capture_attention=True)
    assert out.logits.shape == (2, T, V)
    assert out.encoder_attentions.shape == (2, 2, 4, S, S)
    assert out.decoder_attentions.shape == (3, 2, 4, T, T)
    assert out.cross_attentions.shape == (3, 2, 4, T, S)
    for weights in (out.encoder_attentions, out.decoder_attentions, out.cross_attentions):
        assert torch.allclose(weights.sum(-1), torch.ones(()), atol=1e-5)
    above = torch.ones(T, T, dtype=torch.bool).triu(1)
    assert (out.decoder_attentions[..., above] == 0).all()  # causal
    assert (out.decoder_attentions[..., ~above] > 0).all()
    assert (out.cross_attentions[:, 1, :, :, 5:] == 0).all()  # the padding of input 1
    assert (out.encoder_attentions[:, 1, :, :, 5:] == 0).all()
    # The captured path gives the fused path's numbers.
    assert torch.allclose(model(ids, decoder_ids, attention_mask=mask).logits, out.logits, atol=1e-5)


def test_padding_changes_nothing_for_the_real_tokens():
    model = random_model(t5_config())
    ids, mask, decoder_ids = batch()
    alone = model(ids[1:, :5], decoder_ids[1:]).logits
    padded = model(ids, decoder_ids, attention_mask=mask).logits[1:]
    assert torch.allclose(alone, padded, atol=1e-5)


@pytest.mark.parametrize("tied", [True, False])
def test_cached_decoding_gives_the_full_forwards_logits(tied):
    model = random_model(t5_config(tie_weights=tied, n_decoder_layer=3))
    ids, mask, decoder_ids = batch()
    full = model(ids, decoder_ids, attention_mask=mask).logits
    encoded = model.encode(ids, mask)
    cache = model.new_decoder_cache(encoded)
    logits, cache = model.step(decoder_ids[:, :3], cache)  # a few at once, then one at a time
    steps = [logits]
    for t in range(3, T):
        logits, cache = model.step(decoder_ids[:, t : t + 1], cache)
        steps.append(logits)
    assert cache.length == T
    assert torch.allclose(torch.stack(steps, 1), full[:, 2:], atol=1e-5)
    # The cache's attention capture: one row per new token, over every token so far.
    cache.crop(4)
    out = model.decode(decoder_ids[:, 4:5], encoded, cache, capture_attention=True)
    assert out.decoder_attentions.shape == (3, 2, 4, 1, 5) and out.cross_attentions.shape == (3, 2, 4, 1, S)
    assert torch.allclose(out.logits[:, 0], full[:, 4], atol=1e-5)


def test_a_reordered_cache_follows_its_rows():
    """Beam search keeps some rows and drops others: the encoder's rows and cross-attention go with them."""
    model = random_model(t5_config())
    ids, mask, decoder_ids = batch()
    cache = model.new_decoder_cache(model.encode(ids, mask))
    model.step(decoder_ids[:, :4], cache)
    cache.reorder(torch.tensor([1, 1, 0]))
    logits, cache = model.step(decoder_ids[[1, 1, 0], 4:5], cache)
    full = model(ids[[1, 1, 0]], decoder_ids[[1, 1, 0], :5], attention_mask=mask[[1, 1, 0]]).logits[:, -1]
    assert cache.encoded.hidden.size(0) == 3 and torch.allclose(logits, full, atol=1e-5)


def test_greedy_decoding_picks_the_full_forwards_best_token():
    model = random_model(t5_config())
    ids, mask, _ = batch()
    written = greedy_decode(model, ids, start_id=0, max_new_tokens=6, attention_mask=mask)
    decoder_ids = torch.cat([torch.zeros(2, 1, dtype=torch.long), written[:, :-1]], dim=1)
    best = model(ids, decoder_ids, attention_mask=mask).logits.argmax(-1)
    assert written.shape == (2, 6) and torch.equal(written, best)
    ended = greedy_decode(model, ids, 0, 6, end_id=int(written[0, 1]), attention_mask=mask)
    assert ended[0, 1] == written[0, 1] and (ended[0, 1:] == written[0, 1]).all()


def test_the_loss_ignores_minus_100_and_shift_right_starts_from_pad():
    model = random_model(t5_config())
    ids, mask, labels = batch()
    labels[0, 4:] = -100
    decoder_ids = shift_right(labels, 0)
    assert decoder_ids[0].tolist() == [0, *labels[0, :4].tolist(), 0, 0]
    out = model(ids, decoder_ids, labels=labels, attention_mask=mask)
    kept = labels != -100
    expected = torch.nn.functional.cross_entropy(out.logits[kept], labels[kept])
    assert torch.allclose(out.loss, expected)


def test_too_long_inputs_and_outputs_raise_a_sentence():
    model = random_model(t5_config(context_length=8))
    with pytest.raises(ContextLengthError, match="encoder reads at most 8 input tokens"):
        model.encode(torch.zeros(1, 9, dtype=torch.long))
    encoded = model.encode(torch.zeros(1, 8, dtype=torch.long))
    with pytest.raises(ContextLengthError, match="decoder writes at most 8 tokens"):
        model.decode(torch.zeros(1, 9, dtype=torch.long), encoded)


def test_relative_buckets_sort_distances():
    distance = torch.arange(-200, 201)
    both = relative_position_bucket(distance, True, 32, 128)
    assert both[200] == 0 and both[201] == 17 and both[199] == 1  # 0; one after (second half); one before
    assert both.max() == 31 and both.min() == 0 and both[0] == 15  # far before: the last bucket of its half
    causal = relative_position_bucket(distance, False, 32, 128)
    assert (causal[201:] == 0).all() and causal[199] == 1 and causal[0] == 31


# -- checkpoints -----------------------------------------------------------------------------


def test_a_checkpoint_loads_back_into_the_encoder_decoder(tmp_path):
    tokenizer = wordpiece_tokenizer(sentences(100), vocab_size=V)
    config = t5_config(vocab_size=tokenizer.vocab_size, n_decoder_layer=1, tie_weights=False)
    model = random_model(config)
    write_run_files(tmp_path / "run", config, TrainConfig(), tokenizer)
    save_checkpoint(tmp_path / "run", "best", model, {}, {"step": 2})
    checkpoint, loaded = load_checkpoint(tmp_path / "run")
    assert isinstance(loaded, T5) and checkpoint.model_config == config
    ids, mask, decoder_ids = batch()
    assert torch.equal(
        loaded(ids, decoder_ids, attention_mask=mask).logits, model(ids, decoder_ids, attention_mask=mask).logits
    )
    assert isinstance(build_model(ModelConfig.gpt2_style()), GPT)


def test_training_and_the_command_line_say_they_do_not_take_one_yet(tmp_path, capsys):
    from playground.cli import main

    tokenizer = wordpiece_tokenizer(sentences(100), vocab_size=V)
    config = t5_config(vocab_size=tokenizer.vocab_size)
    # Training takes one now (tests/core/test_seq2seq_training.py); these commands do not yet.
    write_run_files(tmp_path / "run", config, TrainConfig(), tokenizer)
    save_checkpoint(tmp_path / "run", "best", random_model(config), {}, {"step": 2})
    run = str(tmp_path / "run")
    (tmp_path / "text.txt").write_text("the cat sat on the mat", encoding="utf-8")
    commands = (
        ["generate", "--model", run, "--prompt", "the"],
        [
            "attention",
            "--model",
            run,
            "--text",
            "the cat",
            "--layer",
            "0",
            "--head",
            "0",
            "--out",
            str(tmp_path / "a.npy"),
        ],
        ["eval", "perplexity", "--model", run, "--text", str(tmp_path / "text.txt")],
    )
    for command in commands:
        assert main([*command, "--threads", "1"]) != 0
        assert "encoder-decoder (T5 style)" in capsys.readouterr().err, command
