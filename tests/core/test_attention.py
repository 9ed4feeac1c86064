"""Attention capture: causal rows that sum to 1, a hand computation, head statistics, selection, saving, the CLI."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.cli import main
from playground.core.attention import (
    AttentionCapture,
    LiveProbe,
    ProbeRecord,
    capture_attention,
    capture_ids,
    head_stats,
    save_matrix,
    select,
)
from playground.core.attention_records import AttentionRows, AttentionSoFar, ProbeHistory
from playground.core.config import ModelConfig
from playground.core.model import GPT
from playground.core.progress import UserError
from playground.core.sampling import SamplingSettings, generate_tokens
from playground.core.tokenization import open_tokenizer

DEMO = Path(__file__).resolve().parents[2] / "models" / "demo"
TEXT = "def add(a, b):\n    return a + b"


@pytest.fixture(scope="module")
def tokenizer():
    return open_tokenizer(DEMO / "tokenizer.json")


def tiny(style="gpt2", vocab_size=64, **sizes):
    torch.manual_seed(0)
    make = ModelConfig.gpt2_style if style == "gpt2" else ModelConfig.llama_style
    config = make(**{"vocab_size": vocab_size, "context_length": 16, "n_layer": 2, "n_head": 2, "n_embd": 16, **sizes})
    model = GPT(config)
    # Sharper than a fresh model's near-uniform weights, so that the checks bite.
    with torch.no_grad():
        for block in model.blocks:
            block.attn.qkv.weight.mul_(20)
    return model.eval()


# -- capture ---------------------------------------------------------------------


@pytest.mark.parametrize("style", ["gpt2", "llama"])
def test_captured_weights_are_causal_and_each_row_sums_to_one(one_thread, style):
    model = tiny(style)
    weights = capture_ids(model, [3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
    assert weights.shape == (2, 2, 10, 10) and weights.dtype == torch.float32
    above = torch.ones(10, 10, dtype=torch.bool).triu(diagonal=1)
    assert torch.all(weights[..., above] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 10))
    assert weights[..., ~above].min() > 0  # softmax leaves no visible key at exactly 0


def test_weights_match_a_hand_computation(one_thread):
    model = tiny("gpt2", n_layer=1, n_head=2, n_embd=8)
    ids = torch.tensor([5, 17, 2, 40, 5, 11])
    T, d = len(ids), model.config.head_dim
    block = model.blocks[0]
    with torch.no_grad():
        x = model.token_embedding.weight[ids] + model.position_embedding.weight[:T]
        h = torch.nn.functional.layer_norm(x, (8,), block.norm1.weight, block.norm1.bias, block.norm1.eps)
        qkv = h @ block.attn.qkv.weight.T + block.attn.qkv.bias
        q, k = qkv[:, :8], qkv[:, 8:16]
        expected = []
        for head in range(2):
            qh, kh = q[:, head * d : (head + 1) * d], k[:, head * d : (head + 1) * d]
            scores = qh @ kh.T / math.sqrt(d)
            scores = scores.masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf"))
            expected.append(torch.softmax(scores, dim=-1))
    torch.testing.assert_close(capture_ids(model, ids.tolist())[0], torch.stack(expected), atol=1e-5, rtol=0)


def test_capture_ids_restores_training_mode_and_records_no_gradient(one_thread):
    model = tiny(dropout=0.5).train()
    weights = capture_ids(model, torch.tensor([1, 2, 3]))
    assert model.training and not weights.requires_grad
    assert capture_ids(model, [1, 2, 3]).equal(weights)  # in eval mode: dropout was off
    model.eval()
    capture_ids(model, [1, 2, 3])
    assert not model.training


def test_capture_attention_keeps_the_token_texts(one_thread, tokenizer):
    model = tiny(vocab_size=tokenizer.vocab_size, context_length=32)
    capture = capture_attention(model, tokenizer, TEXT)
    assert isinstance(capture, AttentionCapture)
    assert "".join(capture.tokens) == TEXT  # spaces and the new line kept
    assert capture.ids == tokenizer.encode_ids([TEXT])[0]
    T = len(capture.ids)
    assert capture.weights.shape == (2, 2, T, T) and capture.cut_tokens == 0 and capture.notice == ""


def test_a_text_longer_than_the_context_keeps_its_last_tokens_with_a_notice(one_thread, tokenizer):
    model = tiny(vocab_size=tokenizer.vocab_size, context_length=8)
    text = "one two three four five six seven eight nine ten eleven twelve"
    all_ids = tokenizer.encode_ids([text])[0]
    assert len(all_ids) > 8
    capture = capture_attention(model, tokenizer, text)
    assert capture.ids == all_ids[-8:] and len(capture.tokens) == 8
    assert capture.cut_tokens == len(all_ids) - 8
    assert capture.notice == (
        f"The text has {len(all_ids)} tokens; the model reads at most 8, so the heatmap shows the last 8."
    )
    assert capture.weights.shape == (2, 2, 8, 8)
    assert "".join(capture.tokens) == text[-len("".join(capture.tokens)) :]

    fewer = capture_attention(model, tokenizer, text, max_tokens=5)
    assert fewer.ids == all_ids[-5:] and "shows the last 5" in fewer.notice


def test_an_empty_text_is_refused_with_a_sentence(tokenizer):
    with pytest.raises(UserError, match="no text"):
        capture_attention(tiny(vocab_size=tokenizer.vocab_size), tokenizer, "")
    with pytest.raises(UserError, match="no tokens"):
        capture_ids(tiny(), [])


# -- select ----------------------------------------------------------------------


def test_select_picks_a_head_or_their_mean():
    weights = torch.rand(3, 4, 5, 5)
    np.testing.assert_array_equal(select(weights, 1, 2), weights[1, 2].numpy())
    np.testing.assert_allclose(select(weights, 2, "mean"), weights[2].mean(0).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(select(weights.numpy(), 0, 3), weights[0, 3].numpy())
    assert select(weights, 0, 0).dtype == np.float32


@pytest.mark.parametrize(
    "layer, head, message",
    [
        (7, 0, "layer 7 does not exist: this model has layers 0–2"),
        (-1, 0, "layer -1 does not exist: this model has layers 0–2"),
        (0, 4, "head 4 does not exist: this model has heads 0–3"),
        (0, "average", "head average does not exist: this model has heads 0–3"),
    ],
)
def test_select_errors_name_the_valid_range(layer, head, message):
    with pytest.raises(UserError, match=message):
        select(torch.rand(3, 4, 5, 5), layer, head)


def test_select_on_a_one_layer_model_says_so():
    with pytest.raises(UserError, match="this model has only layer 0"):
        select(np.ones((1, 2, 3, 3)), 1, 0)


# -- head statistics -------------------------------------------------------------


def test_head_stats_of_hand_made_heads():
    T = 6
    identity = torch.eye(T)
    previous = torch.zeros(T, T)
    previous[0, 0] = 1
    previous[torch.arange(1, T), torch.arange(T - 1)] = 1
    first = torch.zeros(T, T)
    first[:, 0] = 1
    uniform = torch.ones(T, T).tril()
    uniform /= uniform.sum(-1, keepdim=True)
    stats = head_stats(torch.stack([identity, previous, first, uniform])[None])

    assert [(s.layer, s.head) for s in stats] == [(0, 0), (0, 1), (0, 2), (0, 3)]
    me, prev, sink, even = stats
    assert me.self_token == pytest.approx(1) and me.entropy == pytest.approx(0, abs=1e-12)
    assert me.previous_token == 0 and me.first_token == 0
    assert prev.previous_token == pytest.approx(1) and prev.self_token == 0 and prev.entropy == pytest.approx(0)
    assert sink.first_token == pytest.approx(1) and sink.previous_token == pytest.approx(1 / (T - 1))
    # Row q spreads evenly over q + 1 keys: log2(q + 1) bits.
    assert even.entropy == pytest.approx(np.mean([math.log2(q + 1) for q in range(T)]))
    assert even.self_token == pytest.approx(np.mean([1 / (q + 1) for q in range(1, T)]))


def test_head_stats_of_real_weights_stay_in_range(one_thread):
    weights = capture_ids(tiny(), list(range(12)))
    stats = head_stats(weights.numpy())
    assert len(stats) == 4
    for s in stats:
        assert 0 <= s.entropy <= math.log2(12)
        for share in (s.previous_token, s.first_token, s.self_token):
            assert 0 <= share <= 1


def test_head_stats_of_a_single_token():
    (only,) = head_stats(torch.ones(1, 1, 1, 1))
    assert (only.entropy, only.previous_token, only.first_token, only.self_token) == (0, 0, 1, 1)


# -- saving ----------------------------------------------------------------------


def test_save_matrix_round_trips_npy_and_csv(tmp_path):
    matrix = torch.rand(4, 4).tril()
    tokens = ["a", ' "quoted"', "x,y", "new\nline"]
    save_matrix(matrix, tmp_path / "m.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), matrix.numpy())

    save_matrix(matrix, tmp_path / "m.csv", tokens=tokens)
    with open(tmp_path / "m.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][1:] == tokens and [r[0] for r in rows[1:]] == tokens
    np.testing.assert_array_equal(np.array([r[1:] for r in rows[1:]], dtype=np.float32), matrix.numpy())

    save_matrix(matrix.numpy(), tmp_path / "bare.csv")
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "bare.csv", delimiter=",", dtype=np.float32), matrix.numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.csv", "m.csv", "m.npy"]  # no temporary left


def test_save_matrix_refuses_other_formats_and_missing_folders(tmp_path):
    with pytest.raises(UserError, match=r"\.npy or \.csv"):
        save_matrix(np.eye(2), tmp_path / "m.txt")
    with pytest.raises(UserError, match="Could not save"):
        save_matrix(np.eye(2), tmp_path / "missing" / "m.npy")


# -- the command line ------------------------------------------------------------


@pytest.mark.parametrize("head, suffix", [("mean", ".npy"), ("1", ".csv")])
def test_cli_exports_a_tokens_by_tokens_matrix(capsys, one_thread, tmp_path, tokenizer, head, suffix):
    out = tmp_path / f"attention{suffix}"
    code = main(
        [
            "attention",
            "--model",
            str(DEMO),
            "--text",
            TEXT,
            "--layer",
            "1",
            "--head",
            head,
            "--out",
            str(out),
            "--threads",
            "1",
        ]
    )
    _, err = capsys.readouterr()
    assert code == 0, err
    T = len(tokenizer.encode_ids([TEXT])[0])
    if suffix == ".npy":
        matrix = np.load(out)
    else:
        with open(out, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        assert "".join(rows[0][1:]) == TEXT
        matrix = np.array([r[1:] for r in rows[1:]], dtype=np.float32)
    assert matrix.shape == (T, T) and f"{T} x {T}" in err and "' add'" in err
    np.testing.assert_allclose(matrix.sum(1), 1, atol=1e-5)
    assert np.all(np.triu(matrix, 1) == 0)


def test_cli_errors_are_sentences(capsys, tmp_path):
    code = main(["attention", "--model", str(DEMO), "--text", "hi", "--layer", "9", "--out", str(tmp_path / "a.npy")])
    assert code == 2 and "error: layer 9 does not exist: this model has layers 0–3" in capsys.readouterr().err
    code = main(["attention", "--model", str(DEMO), "--text", "hi", "--out", str(tmp_path / "a.png")])
    assert code == 2 and ".npy or .csv" in capsys.readouterr().err


# -- the live probe ------------------------------------------------------------------------


def test_the_live_probe_keeps_within_its_time_budget_and_takes_up_a_new_sentence(one_thread, tokenizer):
    model = tiny(vocab_size=tokenizer.vocab_size, context_length=16)
    probe = LiveProbe(tokenizer, "the cat sat", budget=0.1, min_interval_s=0.0)
    assert probe.due(elapsed_s=0.0, now=0.0)  # nothing spent yet
    record = probe.probe(model, step=5, now=0.0)
    assert record.step == 5 and "".join(record.tokens) == "the cat sat"
    assert record.weights.shape[-1] == len(record.tokens)
    # after spending time probing, the next probe waits until training has run ten times as long
    probe.spent_s = probe.last_cost_s = 1.0
    assert not probe.due(elapsed_s=15.0, now=1.0) and probe.due(elapsed_s=20.0, now=1.0)

    probe.set_text("a dog")
    assert "".join(probe.probe(model, step=6, now=2.0).tokens) == "a dog"
    probe.set_text("   ")
    assert probe.probe(model, step=7, now=3.0) is None


def test_the_live_probe_waits_its_minimum_interval(tokenizer):
    probe = LiveProbe(tokenizer, "x", budget=1.0, min_interval_s=0.5)
    probe.last_at = 10.0
    assert not probe.due(elapsed_s=100.0, now=10.2) and probe.due(elapsed_s=100.0, now=10.6)


# -- attention handed over by generation ------------------------------------------------------


def count_forwards(model) -> list:
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))
    return calls


@pytest.mark.parametrize("use_cache", [True, False], ids=["kv-cache", "no-cache"])
@pytest.mark.parametrize("style", ["gpt2", "llama"])
def test_generation_hands_over_the_attention_a_separate_full_forward_finds(one_thread, style, use_cache):
    """Every token's gathered attention equals capture_ids over the model's window, past the context too."""
    model = tiny(style)  # a context of 16: 5 prompt tokens and 20 new ones outgrow it
    settings = SamplingSettings(strategy="sample", seed=3, max_new_tokens=20, stop_at_end=False)
    prompt = [3, 1, 4, 1, 5]
    plain = [t.id for t in generate_tokens(model, prompt, settings, use_cache=use_cache)]
    sequence, so_far, checked = list(prompt), AttentionSoFar(), 0
    for token in generate_tokens(model, prompt, settings, use_cache=use_cache, attention=True):
        sequence.append(token.id)
        so_far = so_far.add(token.attention)
        window = sequence[-16:]
        assert so_far.length == len(window)
        np.testing.assert_allclose(so_far.matrix(), capture_ids(model, window).numpy(), atol=1e-5, rtol=0)
        checked += 1
    assert checked == 20 and sequence[len(prompt) :] == plain  # the same text as without attention


def test_generation_with_attention_reads_each_new_token_once(one_thread):
    """One forward for the prompt and one per new token: the last token is read for its own row."""
    model = tiny()
    settings = SamplingSettings(strategy="greedy", max_new_tokens=6, stop_at_end=False)
    calls = count_forwards(model)
    tokens = list(generate_tokens(model, [1, 2, 3], settings))
    assert len(tokens) == 6 and len(calls) == 6 and all(t.attention is None for t in tokens)
    calls.clear()
    tokens = list(generate_tokens(model, [1, 2, 3], settings, attention=True))
    assert len(calls) == 1 + 6
    first, *rest = [t.attention for t in tokens]
    assert first.fresh and first.weights.shape == (2, 2, 4, 4)  # the prompt's rows and its own
    assert [(r.n_rows, r.n_keys) for r in rest] == [(1, k) for k in range(5, 10)]


def test_rows_that_do_not_follow_are_refused():
    rows = AttentionRows(np.ones((1, 1, 1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="do not follow"):
        AttentionSoFar().add(rows)
    start = AttentionSoFar().add(AttentionRows(np.tril(np.ones((1, 1, 3, 3), dtype=np.float32))))
    assert start.add(rows).length == 4 and start.add(rows).matrix()[0, 0, :3, 3].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="cannot follow"):
        AttentionRows(np.ones((1, 1, 1, 6), dtype=np.float32)).after(start.blocks[0])


# -- the probe history ---------------------------------------------------------------------


def test_the_probe_history_thins_evenly_and_keeps_the_newest():
    history = ProbeHistory()
    weights = torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]]])  # rows of 0 and 1 bit
    for step in range(1, 1001):
        entry = history.add(ProbeRecord(step=step, tokens=["a", "b"], weights=weights))
    steps = [e.step for e in history]
    assert history[-1] is entry and steps[-1] == 1000 and steps[0] == 1 and len(history) <= 200
    gaps = np.diff(steps[:-1])
    assert gaps.min() == gaps.max() == history.stride
    assert history.index_of(entry) == len(history) - 1
    assert entry.snapshot.stats[0].entropy == pytest.approx(0.5)  # worked out when the record had none
    history.clear()
    assert history.entries == [] and history.arrivals == 0
