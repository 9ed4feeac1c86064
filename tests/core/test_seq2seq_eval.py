"""Evaluating an encoder-decoder: perplexity of references given inputs, its answers scored like any model's,
one table beside a decoder, and the command line."""

from __future__ import annotations

import json
import math

import pytest
import torch

from playground import paths
from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
from playground.core.config import ModelConfig
from playground.core.progress import Progress, UserError, run_quietly
from playground.core.seq2seq_eval import (
    NO_TEMPLATE,
    TEXT_TO_TEXT,
    ComparedRow,
    Contestant,
    answer_pairs,
    compare_on_task,
    cut_notice,
    few_shot_template,
    reference_perplexity,
)
from playground.core.t5_model import T5, shift_right
from playground.core.t5_tokens import t5_tokens, with_t5_tokens
from playground.core.task_eval import TaskExample, TaskResult, TaskRow
from playground.core.text_to_text import task_set
from playground.core.tokenization import open_tokenizer
from playground.core.train_config import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")

PAIRS = [
    TaskExample("red green", "green red"),
    TaskExample("one two three", "three two one"),
    TaskExample("cat", "cat"),
]


@pytest.fixture(scope="module")
def tokenizer():
    return with_t5_tokens(open_tokenizer(paths.demo_model_dir() / "tokenizer.json"), n_sentinels=4)


def t5(tokenizer, context: int = 32) -> T5:
    config = ModelConfig.t5_style(
        vocab_size=tokenizer.vocab_size, context_length=context, n_layer=2, n_head=2, n_embd=16, relative_buckets=8
    )
    torch.manual_seed(0)
    return T5(config).eval()


@pytest.fixture(scope="module")
def t5_run(tmp_path_factory, tokenizer):
    folder = tmp_path_factory.mktemp("runs") / "t5"
    model = t5(tokenizer)
    write_run_files(folder, model.config, TrainConfig(), tokenizer)
    save_checkpoint(folder, "best", model, {}, {"step": 2})
    return folder


def test_perplexity_is_exp_of_the_mean_loss_over_reference_tokens(tokenizer):
    model = t5(tokenizer)
    tokens = t5_tokens(tokenizer)
    total, count = 0.0, 0
    for pair in PAIRS:  # one at a time, no padding: the model's own mean loss, weighted by its tokens
        source = torch.tensor([tokenizer.encode_ids(["rev: " + pair.input])[0] + [tokens.eos]])
        labels = torch.tensor([tokenizer.encode_ids([pair.reference])[0] + [tokens.eos]])
        with torch.no_grad():
            loss = model(source, shift_right(labels, tokens.decoder_start), labels=labels).loss
        total += float(loss) * labels.numel()
        count += labels.numel()
    steps = list(reference_perplexity(model, tokenizer, PAIRS, prefix="rev: ", batch_size=2))
    assert [type(s) for s in steps] == [Progress, Progress]
    result = run_quietly(reference_perplexity(model, tokenizer, PAIRS, prefix="rev: ", batch_size=2))
    assert result.examples == 3 and result.tokens == count and result.notices == ()
    assert result.mean_loss == pytest.approx(total / count, rel=1e-5)
    assert result.perplexity == pytest.approx(math.exp(total / count), rel=1e-5)
    assert run_quietly(reference_perplexity(model, tokenizer, PAIRS, "rev: ", 1)).total_nll == pytest.approx(
        result.total_nll, rel=1e-5
    )  # padding (-100) changes nothing


def test_task_scores_are_numbers_in_range_and_the_rows_say_text_to_text(tokenizer):
    _, held_out = task_set("reverse-words").load()
    examples = held_out[:4]
    job = answer_pairs(t5(tokenizer), tokenizer, examples, prefix="reverse: ")
    items = []
    try:
        while True:
            items.append(next(job))
    except StopIteration as stop:
        result = stop.value
    assert [i for i in items if isinstance(i, TaskRow)] == result.rows and len(result.rows) == 4
    assert isinstance(result, TaskResult) and result.mode == TEXT_TO_TEXT and result.template == NO_TEMPLATE
    s = result.scores
    assert s.count == 4 and 0 <= s.bleu <= 100 and 0 <= s.chrf <= 100
    assert all(0 <= v <= 1 for v in (s.rouge1, s.rouge2, s.rouge_l, s.exact_match))
    assert all(r.mode == TEXT_TO_TEXT and r.cut_tokens == 0 and "</s>" not in r.output for r in result.rows)


def test_an_over_long_input_is_cut_with_a_notice(tokenizer):
    model = t5(tokenizer, context=6)
    long = [TaskExample("one two three four five six seven eight nine", "nine")]
    result = run_quietly(answer_pairs(model, tokenizer, long))
    row = result.rows[0]
    assert row.prompt_tokens == 6 and row.cut_tokens > 0
    assert "cut off" in cut_notice(row, 6) and "at most 6" in cut_notice(row, 6)
    perplexity = run_quietly(reference_perplexity(model, tokenizer, long))
    assert len(perplexity.notices) == 1 and "input" in perplexity.notices[0]


def test_a_decoder_is_refused_and_compared_through_a_template_instead(tokenizer):
    checkpoint, gpt = load_checkpoint(paths.demo_model_dir())
    with pytest.raises(UserError, match="encoder-decoder"):
        run_quietly(reference_perplexity(gpt, checkpoint.tokenizer, PAIRS))
    train, held_out = task_set("reverse-words").load()
    template = few_shot_template(train, k=2)
    assert len(template.examples) == 2 and "Input:" in template.render(mode="few-shot", input="a b").text
    contestants = [Contestant("t5", t5(tokenizer), tokenizer), Contestant("gpt", gpt, checkpoint.tokenizer)]
    rows = run_quietly(compare_on_task(contestants, held_out[:2], template, ("zero-shot", "few-shot"), "reverse: "))
    assert [(r.model, r.family, r.prompting) for r in rows] == [
        ("t5", "encoder-decoder", TEXT_TO_TEXT),
        ("gpt", "decoder", "zero-shot"),
        ("gpt", "decoder", "few-shot"),
    ]
    assert all(isinstance(r, ComparedRow) and 0 <= r.scores.chrf <= 100 for r in rows)
    assert rows[0].label == "t5 (encoder-decoder, text-to-text)"


def test_the_command_line_measures_and_scores_an_encoder_decoder(t5_run, tmp_path, capsys):
    from playground.cli import main

    run = str(t5_run)
    assert main(["eval", "perplexity", "--model", run, "--task", "reverse-words", "--json", "--threads", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["measure"] == "reference perplexity" and report["prefix"] == "reverse: "
    assert report["perplexity"] == pytest.approx(math.exp(report["mean_loss"]))
    assert main(["eval", "task", "--model", run, "--task", "reverse-words", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert TEXT_TO_TEXT in out and "exact match" in out and "encoder-decoder" in out
    both = [
        "--model",
        run,
        "--model",
        "demo",
        "--task",
        "reverse-words",
        "--mode",
        "zero-shot",
        "--compare",
        "few-shot",
    ]
    assert main(["eval", "task", *both, "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "(encoder-decoder, text-to-text)" in out and "(decoder, zero-shot)" in out and "(decoder, few-shot)" in out


def test_the_command_line_says_what_does_not_fit(t5_run, tmp_path, capsys):
    from playground.cli import main

    run = str(t5_run)
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat", encoding="utf-8")
    assert main(["eval", "perplexity", "--model", run, "--text", str(text)]) != 0
    assert "--task" in capsys.readouterr().err
    assert main(["eval", "perplexity", "--model", "demo", "--task", "reverse-words"]) != 0
    assert "not an encoder-decoder" in capsys.readouterr().err
    assert main(["eval", "perplexity", "--model", run]) != 0
    assert "one of the two" in capsys.readouterr().err
    missing = tmp_path / "pairs.jsonl"
    missing.write_text('{"input": "a b", "reference": "b a"}\n{"input": "c d"}\n', encoding="utf-8")
    assert main(["eval", "perplexity", "--model", run, "--task", str(missing)]) != 0
    assert "Line 2 of pairs.jsonl has no reference" in capsys.readouterr().err
    assert main(["eval", "task", "--model", run, "--task", str(missing)]) != 0
    assert "Line 2 of pairs.jsonl has no reference" in capsys.readouterr().err


def test_comparing_perplexity_on_a_text_refuses_an_encoder_decoder_with_a_sentence(t5_run, tmp_path):
    from playground.core.evaluation import compare_checkpoints

    with pytest.raises(UserError, match="references given their inputs. Score it on a task"):
        run_quietly(compare_checkpoints([t5_run], "the cat sat on the mat"))


def test_a_prompt_template_is_not_how_an_encoder_decoder_is_asked(tokenizer):
    from playground.core.task_eval import compare_modes, continuation_template

    with pytest.raises(UserError, match="scored text to text instead"):
        run_quietly(compare_modes(t5(tokenizer), tokenizer, continuation_template(), PAIRS, modes=("zero-shot",)))


def test_a_shipped_set_gives_its_held_out_split_prefix_and_a_template_for_decoders():
    from playground.core.seq2seq_eval import held_out_task, set_template

    task, prefix = held_out_task("reverse-words")
    _, held_out = task_set("reverse-words").load()
    assert task.examples == held_out and prefix == "reverse: " and "held out" in task.name
    template = set_template("reverse-words")
    assert template.mode == "few-shot" and len(template.examples) == 3
    with pytest.raises(UserError, match="no task set called"):
        held_out_task("no-such-set")
