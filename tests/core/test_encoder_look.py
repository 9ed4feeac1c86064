"""An encoder in the Attention Lab, in Evaluate and on the command line: [CLS]/[SEP], a full square,
causal vs masked side by side, pseudo-perplexity beside perplexity, a masked-word task."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sample_text import sentences  # tests/ is on sys.path
from tiny_runs import save_random_run, wordpiece_tokenizer

from playground.cli import main
from playground.core.attention import LiveProbe, capture_attention
from playground.core.attention_jobs import (
    FolderModels,
    ModelChoice,
    SideBySide,
    look_at_text,
    look_side_by_side,
    nearest_head,
)
from playground.core.attention_records import ProbeHistory
from playground.core.checkpoints import load_checkpoint
from playground.core.config import ModelConfig
from playground.core.evaluation import PSEUDO, CheckpointScored, compare_checkpoints
from playground.core.masked_eval import pseudo_perplexity
from playground.core.masking import encoder_tokens
from playground.core.progress import Progress, run_quietly
from playground.core.prompts import PromptTemplate
from playground.core.task_eval import TaskExample, evaluate_task, fill_answer
from playground.core.tokenization import LoadedTokenizer

pytestmark = pytest.mark.usefixtures("one_thread")
TEXT = "the cat sat on the mat"


@pytest.fixture(scope="module")
def tokenizer() -> LoadedTokenizer:
    return wordpiece_tokenizer(sentences(200))


@pytest.fixture(scope="module")
def encoder_run(tmp_path_factory, tokenizer):
    config = ModelConfig.bert_style(vocab_size=tokenizer.vocab_size, context_length=16, n_layer=2, n_head=2, n_embd=32)
    return save_random_run(tmp_path_factory.mktemp("runs") / "tiny-encoder", config, tokenizer)


@pytest.fixture(scope="module")
def decoder_run(tmp_path_factory, tokenizer):
    config = ModelConfig.gpt2_style(vocab_size=tokenizer.vocab_size, context_length=16, n_layer=1, n_head=4, n_embd=32)
    return save_random_run(tmp_path_factory.mktemp("runs") / "tiny-decoder", config, tokenizer)


class Store:
    """The session's model store, as the jobs use it."""

    def __init__(self, model=None):
        self.model = model

    def model_for(self, _checkpoint):
        return self.model

    def device(self):
        return torch.device("cpu")


# -- the Attention Lab ---------------------------------------------------------------------


def test_an_encoder_reads_the_text_between_cls_and_sep_as_a_full_square(encoder_run, tokenizer):
    checkpoint, model = load_checkpoint(encoder_run)
    capture = capture_attention(model, tokenizer, TEXT)
    special = encoder_tokens(tokenizer)
    assert capture.ids[0] == special.cls and capture.ids[-1] == special.sep
    assert capture.tokens[0] == "[CLS]" and capture.tokens[-1] == "[SEP]"
    assert capture.ids[1:-1] == list(tokenizer.encode_ids([TEXT])[0])
    assert capture.causal is False
    weights = torch.as_tensor(capture.weights)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
    T = weights.shape[-1]
    assert torch.all(weights[..., torch.ones(T, T, dtype=torch.bool).triu(1)] > 0)  # not a triangle

    snapshot = run_quietly(look_at_text(Store(model), checkpoint, TEXT))
    assert snapshot.causal is False and snapshot.tokens == capture.tokens


def test_a_long_text_keeps_its_end_and_the_wrapping_within_the_context(encoder_run, tokenizer):
    _, model = load_checkpoint(encoder_run)
    capture = capture_attention(model, tokenizer, " ".join(["the cat sat"] * 20))
    assert len(capture.ids) == model.config.context_length
    assert capture.tokens[0] == "[CLS]" and capture.tokens[-1] == "[SEP]"
    assert capture.cut_tokens > 0 and "reads at most" in capture.notice


def test_a_decoder_still_reads_the_bare_text_as_a_triangle(decoder_run, tokenizer):
    _, model = load_checkpoint(decoder_run)
    capture = capture_attention(model, tokenizer, TEXT)
    assert capture.causal is True
    assert capture.ids == list(tokenizer.encode_ids([TEXT])[0])
    weights = np.asarray(capture.weights)
    assert np.all(np.triu(weights, 1) == 0)


def test_the_training_probe_of_an_encoder_is_wrapped_and_square(encoder_run, tokenizer):
    _, model = load_checkpoint(encoder_run)
    probe = LiveProbe(tokenizer, TEXT)
    record = probe.probe(model, step=5, now=0.0)
    assert record.tokens[0] == "[CLS]" and record.tokens[-1] == "[SEP]" and record.causal is False
    history = ProbeHistory()
    assert history.add(record).snapshot.causal is False


def test_causal_vs_masked_reads_one_sentence_with_both_models(encoder_run, decoder_run):
    choices = (ModelChoice("decoder", str(decoder_run)), ModelChoice("encoder", str(encoder_run)))
    folders = FolderModels()
    items = []
    job = look_side_by_side(Store(), None, choices, TEXT, folders)
    while True:
        try:
            items.append(next(job))
        except StopIteration as stop:
            result = stop.value
            break
    assert all(isinstance(i, Progress) for i in items) and items
    assert isinstance(result, SideBySide)
    decoder, encoder = result.sides
    assert (decoder.encoder, encoder.encoder) == (False, True)
    assert decoder.snapshot.causal and not encoder.snapshot.causal
    assert len(encoder.snapshot.tokens) == len(decoder.snapshot.tokens) + 2  # [CLS] ... [SEP]
    assert np.all(np.triu(decoder.snapshot.weights, 1) == 0)
    T = len(encoder.snapshot.tokens)
    assert np.all(encoder.snapshot.weights[..., np.triu(np.ones((T, T), dtype=bool), 1)] > 0)
    # The folders are read once: a second look reuses the models.
    model = folders.get(str(encoder_run), torch.device("cpu"))[1]
    again = run_quietly(look_side_by_side(Store(), None, choices, TEXT, folders))
    assert folders.get(str(encoder_run), torch.device("cpu"))[1] is model
    assert again.sides[1].snapshot.tokens == encoder.snapshot.tokens


def test_the_current_model_can_be_one_side_and_without_one_there_is_a_sentence(encoder_run, decoder_run):
    checkpoint, model = load_checkpoint(decoder_run)
    choices = (ModelChoice("current"), ModelChoice("encoder", str(encoder_run)))
    result = run_quietly(look_side_by_side(Store(model), checkpoint, choices, TEXT, FolderModels()))
    assert result.sides[0].name == checkpoint.name and not result.sides[0].encoder
    from playground.core.progress import UserError

    with pytest.raises(UserError, match="no current model"):
        run_quietly(look_side_by_side(Store(), None, choices, TEXT, FolderModels()))


def test_a_layer_or_head_the_model_lacks_becomes_the_nearest_with_a_sentence(encoder_run, decoder_run):
    result = run_quietly(
        look_side_by_side(
            Store(),
            None,
            (ModelChoice("d", str(decoder_run)), ModelChoice("e", str(encoder_run))),
            TEXT,
            FolderModels(),
        )
    )
    decoder, encoder = (side.snapshot for side in result.sides)  # 1 layer x 4 heads; 2 layers x 2 heads
    assert nearest_head(decoder, 1, 3) == (
        0,
        3,
        "This model: it has no layer 1 (1 layers), so this is layer 0, the nearest.",
    )
    layer, head, note = nearest_head(encoder, 1, 3)
    assert (layer, head) == (1, 1) and "no head 3" in note
    assert nearest_head(encoder, 0, "mean") == (0, "mean", "")


# -- Evaluate --------------------------------------------------------------------------------


def test_an_encoder_is_scored_by_pseudo_perplexity_beside_a_decoders_perplexity(encoder_run, decoder_run):
    text = sentences(8, seed=3)
    items = []
    job = compare_checkpoints([decoder_run, encoder_run], text)
    while True:
        try:
            items.append(next(job))
        except StopIteration as stop:
            rows = stop.value
            break
    scored = [i for i in items if isinstance(i, CheckpointScored)]
    assert [s.row.measure for s in scored] == ["perplexity", PSEUDO]
    decoder, encoder = rows
    assert not decoder.is_pseudo and decoder.masked_accuracy is None
    checkpoint, model = load_checkpoint(encoder_run)
    expected = run_quietly(pseudo_perplexity(model, checkpoint.tokenizer, text, batch_size=32))
    assert encoder.is_pseudo
    assert encoder.perplexity == pytest.approx(expected.pseudo_perplexity)
    assert encoder.masked_accuracy == pytest.approx(expected.masked_accuracy)
    assert encoder.bits_per_byte == pytest.approx(expected.bits_per_byte)
    assert encoder.to_dict()["measure"] == PSEUDO


def test_a_masked_word_task_scores_an_encoder(encoder_run, tokenizer, monkeypatch):
    checkpoint, model = load_checkpoint(encoder_run)
    template = PromptTemplate(name="Where", mode="zero-shot", k=0, query_format="{input} sat on the")
    examples = [TaskExample("the cat", "mat"), TaskExample("the dog", "house")]
    # The answer is the encoder's top guess where a decoder would start writing: a [MASK] added at the end.
    answer = fill_answer(model, tokenizer, "the cat sat on the")
    special = encoder_tokens(tokenizer)
    ids = special.wrap(tokenizer.encode_ids(["the cat sat on the [MASK]"])[0])
    logits = model(torch.tensor([ids])).logits[0, ids.index(special.mask)]
    logits[list(special.special)] = -1e9
    best = int(logits.argmax())
    assert answer.raw == tokenizer.tokenizer.id_to_token(best).removeprefix("##")
    assert answer.prompt_tokens == len(ids) and answer.cut_tokens == 0

    # Make the model's guess right for the first example only: the task scores it like any answer.
    import playground.core.task_eval as task_eval

    monkeypatch.setattr(
        task_eval, "fill_answer", lambda m, t, prompt: task_eval.Generated("mat" if "cat" in prompt else "tree", 5)
    )
    result = run_quietly(evaluate_task(model, tokenizer, template, examples))
    assert [r.output for r in result.rows] == ["mat", "tree"]
    assert [r.exact for r in result.rows] == [True, False]
    assert result.scores.exact_match == 0.5


def test_the_answer_mask_survives_a_prompt_longer_than_the_context(encoder_run, tokenizer):
    _, model = load_checkpoint(encoder_run)
    long_prompt = " ".join(["the cat sat on the mat ."] * 10) + " the dog slept on the [MASK] all day"
    answer = fill_answer(model, tokenizer, long_prompt)
    assert answer.cut_tokens > 0 and answer.prompt_tokens == model.config.context_length
    assert answer.raw


# -- the command line ---------------------------------------------------------------------------


def test_cli_attention_saves_an_encoders_full_square(encoder_run, tmp_path, capsys):
    out = tmp_path / "a.csv"
    code = main(
        ["attention", "--model", str(encoder_run), "--text", TEXT, "--layer", "1", "--head", "0", "--out", str(out)]
    )
    assert code == 0
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[0].split(",")[1] == "[CLS]" and rows[0].split(",")[-1] == "[SEP]"
    matrix = np.array([[float(v) for v in row.split(",")[1:]] for row in rows[1:]])
    assert np.allclose(matrix.sum(1), 1.0, atol=1e-5)
    assert np.all(matrix[np.triu_indices(len(matrix), 1)] > 0)
    assert "every token reads every token" in capsys.readouterr().err


def test_cli_eval_perplexity_gives_an_encoders_pseudo_perplexity(encoder_run, decoder_run, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text(sentences(6, seed=5), encoding="utf-8")
    assert main(["eval", "perplexity", "--model", str(encoder_run), "--text", str(text), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    checkpoint, model = load_checkpoint(encoder_run)
    expected = run_quietly(pseudo_perplexity(model, checkpoint.tokenizer, text.read_text(encoding="utf-8")))
    assert report["measure"] == PSEUDO
    assert report["pseudo_perplexity"] == pytest.approx(expected.pseudo_perplexity)
    assert report["perplexity"] == report["pseudo_perplexity"]
    assert report["masked_accuracy"] == pytest.approx(expected.masked_accuracy)

    assert main(["eval", "perplexity", "--model", str(encoder_run), "--text", str(text)]) == 0
    out = capsys.readouterr().out
    assert "pseudo-perplexity" in out and "masked accuracy" in out and "encoders only" in out

    assert (
        main(["eval", "perplexity", "--model", str(decoder_run), "--model", str(encoder_run), "--text", str(text)]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("tiny-decoder") and not lines[2].endswith("(pseudo)")
    assert lines[3].startswith("tiny-encoder") and lines[3].endswith("(pseudo)")
    assert any("not the same kind" in line for line in lines)


def test_cli_eval_task_lets_an_encoder_fill_the_answers_mask(encoder_run, capsys):
    code = main(["eval", "task", "--model", str(encoder_run), "--task", "sentiment", "--mode", "zero-shot", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    checkpoint, model = load_checkpoint(encoder_run)
    from playground.core.task_eval import builtin_task, template_for

    task = builtin_task("sentiment")
    rows = report["results"][0]["rows"]
    assert len(rows) == len(task)
    for row, example in zip(rows, task.examples):
        prompt = template_for(task).render(mode="zero-shot", input=example.input).text
        assert row["output"] == fill_answer(model, checkpoint.tokenizer, prompt).raw

    assert main(["eval", "task", "--model", str(encoder_run), "--task", "sentiment", "--mode", "zero-shot"]) == 0
    assert "it fills a [MASK] at the answer" in capsys.readouterr().out
