"""An encoder-decoder's three kinds of attention (encoder square, decoder triangle, cross rectangle), what a
one-stack model says when asked for a kind it lacks, the command line's --kind, and the three families."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground import paths
from playground.core.attention import head_stats, save_matrix, select
from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
from playground.core.config import ModelConfig
from playground.core.progress import Progress, UserError, run_quietly
from playground.core.seq2seq_look import capture_kind, capture_pair, check_kind, kinds_of, look_at_kind, read_pair
from playground.core.t5_model import T5
from playground.core.t5_tokens import t5_tokens, with_t5_tokens
from playground.core.tokenization import open_tokenizer
from playground.core.train_config import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")

INPUT, OUTPUT = "reverse: red green blue", "blue green red"


@pytest.fixture(scope="module")
def tokenizer():
    return with_t5_tokens(open_tokenizer(paths.demo_model_dir() / "tokenizer.json"), n_sentinels=4)


def t5(tokenizer, context: int = 24, seed: int = 0) -> T5:
    config = ModelConfig.t5_style(
        vocab_size=tokenizer.vocab_size, context_length=context, n_layer=2, n_decoder_layer=3, n_head=2,
        n_embd=16, relative_buckets=8,
    )  # fmt: skip
    torch.manual_seed(seed)
    return T5(config).eval()


@pytest.fixture(scope="module")
def t5_run(tmp_path_factory, tokenizer):
    folder = tmp_path_factory.mktemp("runs") / "t5"
    model = t5(tokenizer)
    write_run_files(folder, model.config, TrainConfig(), tokenizer)
    save_checkpoint(folder, "best", model, {}, {"step": 2})
    return folder


class Store:
    """The session's model store, as the jobs take it."""

    def __init__(self, model):
        self.model = model

    def model_for(self, checkpoint):
        return self.model


def test_cross_attention_is_output_tokens_by_input_tokens_and_each_row_sums_to_one(tokenizer):
    model = t5(tokenizer)
    capture = capture_pair(model, tokenizer, INPUT, OUTPUT)
    S, T = len(capture.input_tokens), len(capture.written_tokens)
    assert capture.input_tokens[-1] == "</s>" and capture.written_tokens[-1] == "</s>"
    assert capture.read_tokens[0] == "<pad>" and capture.read_tokens[1:] == capture.written_tokens[:-1]
    assert capture.cross.shape == (3, 2, T, S) and S != T
    assert np.allclose(capture.cross.sum(-1), 1, atol=1e-5)
    # The same numbers as the model's forward pass, batch dimension and all: [L, B, H, T, S].
    source = torch.tensor([capture.input_ids])
    target = torch.tensor([[t5_tokens(tokenizer).decoder_start, *capture.output_ids[:-1]]])
    with torch.no_grad():
        out = model(source, target, capture_attention=True)
    assert out.cross_attentions.shape == (3, 1, 2, T, S)
    assert np.allclose(out.cross_attentions[:, 0].numpy(), capture.cross, atol=1e-6)

    snapshot = capture.snapshot("cross")
    assert snapshot.is_rectangle and snapshot.keys == list(capture.input_tokens) and not snapshot.causal
    assert snapshot.tokens == list(capture.written_tokens) and snapshot.kind == "cross"
    assert select(snapshot.weights, 2, "mean").shape == (T, S)
    stats = snapshot.stats
    assert len(stats) == 3 * 2 and all(0 <= s.entropy <= np.log2(S) + 1e-6 for s in stats)
    assert all(np.isnan(s.self_token) and np.isnan(s.previous_token) and 0 <= s.first_token <= 1 for s in stats)
    assert "cross-attention" in snapshot.describe()


def test_decoder_self_attention_is_causal_and_the_encoder_a_full_square(tokenizer):
    capture = capture_pair(t5(tokenizer), tokenizer, INPUT, OUTPUT)
    T, S = len(capture.read_tokens), len(capture.input_tokens)
    decoder, encoder = capture.snapshot("decoder"), capture.snapshot("encoder")
    assert decoder.weights.shape == (3, 2, T, T) and decoder.causal and not decoder.is_rectangle
    assert np.triu(decoder.weights, k=1).max() == 0  # no output token reads a later one
    assert np.allclose(decoder.weights.sum(-1), 1, atol=1e-5)
    assert encoder.weights.shape == (2, 2, S, S) and not encoder.causal
    assert encoder.weights[..., np.triu_indices(S, k=1)[0], np.triu_indices(S, k=1)[1]].min() > 0
    assert [s.layer for s in head_stats(decoder.weights)] == [0, 0, 1, 1, 2, 2]


def test_without_an_output_the_model_writes_its_own(tokenizer):
    model = t5(tokenizer, context=8)
    capture = capture_pair(model, tokenizer, INPUT)
    assert capture.generated and 1 <= len(capture.output_ids) <= 8
    again = capture_pair(model, tokenizer, INPUT, tokenizer.decode(list(capture.output_ids)))
    assert not again.generated


def test_an_over_long_input_or_output_is_cut_with_a_notice(tokenizer):
    model = t5(tokenizer, context=6)
    capture = capture_pair(model, tokenizer, "one two three four five six seven eight", "a b c d e f g h i")
    assert len(capture.input_ids) == 6 and capture.input_tokens[-1] == "</s>"
    assert len(capture.output_ids) == 6 and capture.written_tokens[-1] == "</s>"
    assert "input is" in capture.notice and "output is" in capture.notice and "cut off" in capture.notice
    assert capture.snapshot("cross").notice == capture.notice


def test_a_one_stack_model_says_why_it_lacks_a_kind():
    decoder, encoder = ModelConfig.gpt2_style(), ModelConfig.bert_style()
    assert kinds_of(decoder) == ("decoder",) and kinds_of(encoder) == ("encoder",)
    with pytest.raises(UserError, match="decoder \\(GPT style\\): it has no cross-attention"):
        check_kind(decoder, "cross")
    with pytest.raises(UserError, match="encoder \\(BERT style\\): it has no cross-attention"):
        check_kind(encoder, "cross")
    with pytest.raises(UserError, match="no encoder"):
        check_kind(decoder, "encoder")
    with pytest.raises(UserError, match="no decoder"):
        check_kind(encoder, "decoder")
    with pytest.raises(UserError, match="choose encoder, decoder or cross"):
        check_kind(decoder, "diagonal")
    check_kind(decoder, "decoder")


def test_a_demo_decoder_reads_its_text_as_before_and_takes_no_output():
    checkpoint, model = load_checkpoint(paths.demo_model_dir())
    snapshot = capture_kind(model, checkpoint.tokenizer, "decoder", "the list")
    assert snapshot.causal and not snapshot.is_rectangle and snapshot.kind == ""
    with pytest.raises(UserError, match="reads one text only"):
        capture_kind(model, checkpoint.tokenizer, "decoder", "the list", "an output")
    with pytest.raises(UserError, match="no cross-attention"):
        capture_pair(model, checkpoint.tokenizer, "the list")
    with pytest.raises(UserError, match="no cross-attention"):
        run_quietly(look_at_kind(Store(model), checkpoint, "cross", "the list"))


def test_the_jobs_report_progress_and_give_the_records(tokenizer, t5_run):
    checkpoint, model = load_checkpoint(t5_run)
    store = Store(model)
    steps = list(read_pair(store, checkpoint, INPUT, OUTPUT))
    assert steps and all(isinstance(s, Progress) for s in steps)
    capture = run_quietly(read_pair(store, checkpoint, INPUT, OUTPUT))
    snapshot = run_quietly(look_at_kind(store, checkpoint, "cross", INPUT, OUTPUT))
    assert np.array_equal(snapshot.weights, capture.cross)


def test_a_rectangle_saves_with_its_two_token_lists(tokenizer, tmp_path):
    snapshot = capture_pair(t5(tokenizer), tokenizer, INPUT, OUTPUT).snapshot("cross")
    matrix = select(snapshot.weights, 0, 1)
    save_matrix(matrix, tmp_path / "cross.csv", tokens=snapshot.tokens, key_tokens=snapshot.keys)
    lines = (tmp_path / "cross.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(snapshot.tokens) + 1 and lines[0].startswith("query \\ key,")
    with pytest.raises(ValueError, match="do not label"):
        save_matrix(matrix, tmp_path / "bad.csv", tokens=snapshot.tokens)


def test_the_command_line_saves_each_kind_and_says_what_a_model_lacks(t5_run, tmp_path, capsys):
    from playground.cli import main

    run, demo = str(t5_run), str(paths.demo_model_dir())
    for kind in ("encoder", "decoder", "cross"):
        out = tmp_path / f"{kind}.npy"
        common = ["--model", run, "--kind", kind, "--input", INPUT, "--output", OUTPUT, "--out", str(out)]
        assert main(["attention", *common, "--layer", "1", "--head", "mean", "--threads", "1"]) == 0
        matrix = np.load(out)
        assert np.allclose(matrix.sum(-1), 1, atol=1e-5)
        assert kind in capsys.readouterr().err
    assert np.load(tmp_path / "cross.npy").shape[1] == np.load(tmp_path / "encoder.npy").shape[0]
    assert main(["attention", "--model", run, "--input", INPUT, "--out", str(tmp_path / "x.npy")]) != 0
    assert "--kind" in capsys.readouterr().err
    assert main(["attention", "--model", demo, "--kind", "cross", "--input", "the", "--out", "x.npy"]) != 0
    assert "no cross-attention" in capsys.readouterr().err
    assert (
        main(["attention", "--model", demo, "--kind", "decoder", "--text", "the", "--out", str(tmp_path / "d.csv")])
        == 0
    )


# -- three families -----------------------------------------------------------------------------------


def test_three_families_read_one_sentence_as_a_triangle_a_square_and_a_rectangle(t5_run):
    from playground.core.causal_vs_masked import MAX_TOKENS, read_by_all_three

    result = run_quietly(read_by_all_three("Return the length of the list.", encoder_decoder_dir=t5_run))
    decoder, encoder, both = result.decoder, result.encoder, result.encoder_decoder
    assert both.keys[-1] == "</s>" and 1 <= len(both.tokens) <= MAX_TOKENS  # its input, then its own greedy output
    for layer in range(2):
        triangle, square, rectangle = (
            decoder.matrix(layer, "mean"),
            encoder.matrix(layer, "mean"),
            both.matrix(layer, 0),
        )
        T, S = len(triangle), len(square)
        assert triangle.shape == (T, T) and square.shape == (S, S)
        assert rectangle.shape == (len(both.tokens), len(both.keys))
        assert np.triu(triangle, k=1).max() == 0  # causal
        assert square[np.triu_indices(S, k=1)].min() > 0  # every token reads every token
        assert np.allclose(rectangle.sum(axis=1), 1, atol=1e-5)  # each output token spreads 1 over the input
        assert rectangle.min() > 0  # and reads all of it
    long = run_quietly(read_by_all_three("Return the length of the list. " * 10, encoder_decoder_dir=t5_run))
    assert len(long.encoder_decoder.keys) == MAX_TOKENS and "first" in long.notice


def test_three_families_need_an_encoder_decoder(monkeypatch, t5_run):
    from playground.core.causal_vs_masked import read_by_all_three, read_by_both

    monkeypatch.setattr(paths, "demo_encoder_decoder_dir", lambda: None)
    with pytest.raises(UserError, match="models/demo-encoder-decoder"):
        run_quietly(read_by_all_three("the list"))
    with pytest.raises(UserError, match="one stack"):
        run_quietly(read_by_all_three("the list", encoder_decoder_dir=paths.demo_model_dir()))
    with pytest.raises(UserError, match="decoder \\(GPT\\) on one side"):
        run_quietly(read_by_both("the list", decoder_dir=t5_run))


def test_side_by_side_draws_an_encoder_decoder_as_its_cross_attention(t5_run):
    from playground.core.attention_jobs import FolderModels, ModelChoice, look_side_by_side

    class NoStore:
        def device(self):
            return "cpu"

    choices = [ModelChoice("GPT", str(paths.demo_model_dir())), ModelChoice("T5", str(t5_run))]
    result = run_quietly(look_side_by_side(NoStore(), None, choices, "the list", FolderModels()))
    gpt, t5_side = (side.snapshot for side in result.sides)
    assert gpt.causal and not gpt.is_rectangle
    assert t5_side.kind == "cross" and t5_side.is_rectangle and t5_side.weights.shape[-1] == len(t5_side.keys)


def test_cross_attention_gathered_a_row_per_written_token_equals_the_capture(tokenizer):
    from playground.core.attention_records import AttentionRows, CrossSoFar

    model = t5(tokenizer, context=10)
    capture = capture_pair(model, tokenizer, INPUT)  # its own greedy output
    tokens = t5_tokens(tokenizer)
    with torch.no_grad():
        encoded = model.encode(torch.tensor([capture.input_ids]))
        cache = model.new_decoder_cache(encoded)
        gathered = CrossSoFar()
        for token in [tokens.decoder_start, *capture.output_ids[:-1]]:
            step = model.decode(torch.tensor([[token]]), encoded, cache, capture_attention=True)
            gathered = gathered.add(AttentionRows.of_output(step.cross_attentions))
            assert gathered.n_rows == cache.length  # one row more per written token
    assert gathered.matrix().shape == capture.cross.shape
    assert np.allclose(gathered.matrix(), capture.cross, atol=1e-5)
    with pytest.raises(ValueError, match="cannot join"):
        gathered.add(AttentionRows(np.zeros((3, 2, 1, gathered.n_keys + 1), dtype=np.float32)))


def test_cross_attention_as_long_as_its_input_is_still_measured_as_cross_attention(tokenizer):
    capture = capture_pair(t5(tokenizer), tokenizer, "a b c", "c b a")
    assert len(capture.written_tokens) == len(capture.input_tokens)  # a square rectangle
    stats = capture.snapshot("cross").stats
    assert all(np.isnan(s.self_token) for s in stats)
    assert not any(np.isnan(s.self_token) for s in capture.snapshot("decoder").stats)


def test_a_token_that_is_part_of_a_character_is_labelled_by_its_vocabulary_entry(tokenizer):
    capture = capture_pair(t5(tokenizer), tokenizer, "café ☕", "☕")
    labels = capture.input_tokens + capture.written_tokens
    assert not any("\ufffd" in label for label in labels)
