"""Task evaluation: scores equal the libraries', a perfect model scores perfectly, task files load or
fail with a sentence naming the line, the built-in tasks fit their templates, and `playground eval task`."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from playground.cli import main
from playground.core import task_eval
from playground.core.checkpoints import load_checkpoint
from playground.core.progress import Cancelled, CancelToken, Progress, UserError, run_quietly
from playground.core.prompts import builtin_templates, load_template
from playground.core.sampling import SamplingSettings
from playground.core.task_eval import (
    Generated,
    TaskExample,
    TaskRow,
    answer_budget,
    ask_checkpoint,
    builtin_task,
    builtin_tasks,
    compare_modes,
    cut_answer,
    evaluate_task,
    load_task,
    score_outputs,
    template_for,
)

DEMO = Path(__file__).resolve().parents[2] / "models" / "demo"
PROMPTS = Path(__file__).resolve().parents[2] / "resources" / "prompts"

pytestmark = pytest.mark.usefixtures("one_thread")

# The last pair is long enough to have 4-grams.
OUTPUTS = [
    "le chat noir",
    "la maison",
    "Bonjour",
    "merci beaucoup",
    "",
    "the red apple",
    "Return the number of items in a list.",
]
REFERENCES = [
    "le chat noir",
    "la petite maison",
    "bonjour",
    "merci",
    "oui",
    "la pomme rouge",
    "Return the number of items in the list.",
]


def drive(job):
    """Run a job to its end: (everything it yielded, what it returned)."""
    items = []
    while True:
        try:
            items.append(next(job))
        except StopIteration as stop:
            return items, stop.value


@pytest.fixture(scope="module")
def demo():
    return load_checkpoint(DEMO)


@pytest.fixture(scope="module")
def sentiment():
    return load_template(PROMPTS / "1-sentiment.toml")


# -- scores ----------------------------------------------------------------------------------------------


def test_scores_are_the_libraries_own():
    scores = score_outputs(OUTPUTS, REFERENCES)
    assert scores.count == 7
    assert scores.bleu == sacrebleu.corpus_bleu(OUTPUTS, [REFERENCES], use_effective_order=True).score
    assert scores.chrf == sacrebleu.corpus_chrf(OUTPUTS, [REFERENCES]).score
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    direct = [scorer.score(r, o) for o, r in zip(OUTPUTS, REFERENCES)]
    for ours, key in ((scores.rouge1, "rouge1"), (scores.rouge2, "rouge2"), (scores.rouge_l, "rougeL")):
        assert ours == pytest.approx(sum(d[key].fmeasure for d in direct) / 7)
    assert scores.exact_match == pytest.approx(2 / 7)  # "le chat noir", and "Bonjour" case-folded
    assert 0 < scores.bleu < 100 and 0 < scores.chrf < 100 and 0 < scores.rouge_l < 1


def test_exact_match_is_normalised_and_nothing_else():
    assert task_eval.is_exact("  Paris \n", "paris")
    assert task_eval.is_exact("William   Shakespeare", "william shakespeare")
    assert not task_eval.is_exact("Paris.", "Paris")
    with pytest.raises(UserError):
        score_outputs([], [])
    with pytest.raises(ValueError):
        score_outputs(["a"], ["a", "b"])


@pytest.mark.parametrize(
    "raw, stops, answer",
    [
        (" positive\n\nReview: more", (), "positive"),
        ("\n\n  la maison\nEnglish:", (), "la maison"),
        (" Paris. Q: next", ("Q:",), "Paris."),
        ("", (), ""),
        ("\n\n", (), ""),
        (" no line break at all ", (), "no line break at all"),
        (" one\r\ntwo", (), "one"),
    ],
)
def test_cut_answer_takes_the_first_line(raw, stops, answer):
    assert cut_answer(raw, stops) == answer


def test_answer_budget_follows_the_reference_and_the_settings(demo):
    tokenizer = demo[0].tokenizer
    reference = "William Shakespeare"
    length = len(tokenizer.encode_ids([" " + reference])[0])
    assert answer_budget(tokenizer, reference, SamplingSettings(max_new_tokens=100)) == length + task_eval.ANSWER_MARGIN
    assert answer_budget(tokenizer, reference, SamplingSettings(max_new_tokens=3)) == 3


# -- running a task with a stand-in model ------------------------------------------------------------


EXAMPLES = [
    TaskExample("I loved the food.", "positive"),
    TaskExample("The bus was late.", "negative"),
    TaskExample("A fine day out.", "positive"),
]


@pytest.fixture
def perfect(monkeypatch):
    """Generation replaced by a model that knows every answer (and rambles on after it)."""
    prompts = []
    answers = {e.input: e.reference for e in EXAMPLES}

    def fake(model, tokenizer, prompt, settings, max_new_tokens, cancel=None):
        prompts.append(prompt)
        query = prompt.rsplit("Review: ", 1)[1].split("\n")[0]
        return Generated(raw=f" {answers[query].upper()}\n\nReview: something else", prompt_tokens=len(prompt))

    monkeypatch.setattr(task_eval, "generate_answer", fake)
    return prompts


def test_a_perfect_model_scores_perfectly(perfect, demo, sentiment):
    items, result = drive(evaluate_task(None, demo[0].tokenizer, sentiment, EXAMPLES, mode="few-shot"))
    rows = [i for i in items if isinstance(i, TaskRow)]
    assert result.mode == "few-shot" and result.template == "Sentiment" and len(result.rows) == 3
    assert result.scores.exact_match == 1.0
    assert result.scores.bleu == pytest.approx(0.0)  # upper case: BLEU is case-sensitive; exact match is not
    assert rows == result.rows
    assert [r.output for r in result.rows] == ["POSITIVE", "NEGATIVE", "POSITIVE"]
    assert perfect == [sentiment.render(mode="few-shot", input=e.input).text for e in EXAMPLES]


def test_a_perfect_model_gets_bleu_100(monkeypatch, demo, sentiment):
    monkeypatch.setattr(
        task_eval,
        "generate_answer",
        lambda model, tok, prompt, settings, n, cancel=None: Generated(
            raw=" " + next(e.reference for e in EXAMPLES if f"Review: {e.input}\nSentiment:" in prompt) + "\nMore",
            prompt_tokens=1,
        ),
    )
    result = run_quietly(evaluate_task(None, demo[0].tokenizer, sentiment, EXAMPLES))
    s = result.scores
    assert (s.exact_match, s.rouge1, s.rouge2, s.rouge_l) == (1.0, 1.0, 0.0, 1.0)  # one word: no bigrams
    assert s.bleu == pytest.approx(100.0) and s.chrf == pytest.approx(100.0)
    assert all(r.exact and r.chrf == pytest.approx(100.0) and r.rouge_l == 1.0 for r in result.rows)


def test_compare_modes_renders_each_mode(perfect, demo, sentiment):
    items, results = drive(compare_modes(None, demo[0].tokenizer, sentiment, EXAMPLES, modes=("zero-shot", "few-shot")))
    reports = [i for i in items if isinstance(i, Progress)]
    assert [i for i in items if not isinstance(i, Progress)] == results[0].rows + results[1].rows  # each row, live
    assert [r.mode for r in results] == ["zero-shot", "few-shot"]
    assert all(r.rows[0].mode == r.mode for r in results)
    zero, few = perfect[0], perfect[3]
    assert "I loved every minute of it." not in zero and "I loved every minute of it." in few
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    with pytest.raises(UserError, match="Unknown prompt mode"):
        run_quietly(compare_modes(None, demo[0].tokenizer, sentiment, EXAMPLES, modes=("zero-shot", "many-shot")))
    with pytest.raises(UserError, match="no examples"):
        run_quietly(evaluate_task(None, demo[0].tokenizer, sentiment, []))


def test_cancel_stops_between_examples(perfect, demo, sentiment):
    job = evaluate_task(None, demo[0].tokenizer, sentiment, EXAMPLES)
    done = []
    for item in job:
        if isinstance(item, TaskRow):
            done.append(item)
            job.close()  # what the engine does on cancel
            break
    assert len(done) == 1 and len(perfect) == 1
    with pytest.raises(StopIteration):
        next(job)


def test_a_cancel_token_stops_between_examples_too(perfect, demo, sentiment):
    token = CancelToken()
    done = []

    def stop_after_first(row):
        done.append(row)
        token.cancel()

    with pytest.raises(Cancelled):
        run_quietly(
            evaluate_task(None, demo[0].tokenizer, sentiment, EXAMPLES, cancel=token), on_partial=stop_after_first
        )
    assert len(done) == 1 and len(perfect) == 1


def test_ask_checkpoint_loads_the_model_inside_the_job(perfect, demo, sentiment):
    checkpoint = demo[0]
    asked = []
    job = ask_checkpoint(
        checkpoint, lambda c: asked.append(c) or "the model", sentiment, EXAMPLES, modes=("zero-shot",)
    )
    first = next(job)
    assert first.message == "Loading the model…" and asked == []  # nothing loaded before the job runs
    items, results = drive(job)
    assert asked == [checkpoint] and [r.mode for r in results] == ["zero-shot"]
    assert results[0].scores.exact_match == 1.0 and len([i for i in items if isinstance(i, TaskRow)]) == 3


# -- the real demo model --------------------------------------------------------------------------------


def test_the_demo_model_partly_completes_python_doc_phrases(demo):
    checkpoint, model = demo
    task = builtin_task("python-phrases")
    result = run_quietly(evaluate_task(model, checkpoint.tokenizer, template_for(task), task))
    assert result.task == "Python phrases" and len(result.rows) == len(task)
    assert 0 < result.scores.exact_match < 1 and result.scores.chrf > 5
    assert any(r.output == "last):" for r in result.rows)  # "Traceback (most recent call" -> "last):"
    for row in result.rows:
        assert "\n" not in row.output and row.raw.lstrip().startswith(row.output)
    again = run_quietly(evaluate_task(model, checkpoint.tokenizer, template_for(task), task))
    assert [r.output for r in again.rows] == [r.output for r in result.rows]  # greedy: the same every time


def test_cancel_inside_generation(demo):
    checkpoint, model = demo
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_quietly(
            evaluate_task(model, checkpoint.tokenizer, task_eval.continuation_template(), EXAMPLES, cancel=token)
        )


def test_sampling_and_beam_search_run_too(demo):
    checkpoint, model = demo
    examples = builtin_task("python-phrases").examples[:2]
    template = task_eval.continuation_template()
    for settings in (SamplingSettings(strategy="sample", seed=1), SamplingSettings(strategy="beam", beams=2)):
        result = run_quietly(evaluate_task(model, checkpoint.tokenizer, template, examples, settings=settings))
        assert len(result.rows) == 2 and result.settings == settings


# -- task files -----------------------------------------------------------------------------------------


def write(path: Path, text: str, bom: bool = False) -> Path:
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8"))
    return path


def test_csv_with_a_header_a_bom_quotes_and_extra_columns(tmp_path):
    path = write(
        tmp_path / "my-task.csv",
        'id,Input , REFERENCE,note\n1,"the cat, the dog","le chat, le chien",x\n\n2,café,thé,\n',
        bom=True,
    )
    task = load_task(path)
    assert task.name == "My task" and task.path == path
    assert task.examples == [TaskExample("the cat, the dog", "le chat, le chien"), TaskExample("café", "thé")]


def test_jsonl_and_a_json_list(tmp_path):
    lines = [{"input": "2 + 3", "reference": 5, "id": 1}, {"input": "7 + 5", "reference": "12"}]
    path = write(tmp_path / "sums.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    assert load_task(path).examples == [TaskExample("2 + 3", "5"), TaskExample("7 + 5", "12")]
    listed = write(tmp_path / "sums.json", json.dumps(lines))
    assert load_task(listed).examples == load_task(path).examples


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("a.csv", "question,answer\nhi,there\n", "no 'input' and no 'reference' column"),
        ("a.csv", "input,output\nhi,there\n", "no 'reference' column"),
        ("a.csv", "input,reference\nhi,there\nfine,ok\nx,y,z\n", "Line 4 of a.csv has 3 values"),
        ("a.csv", "input,reference\nhi,there\nalone\n", "Line 3 of a.csv has no reference"),
        ("a.csv", "input,reference\nhi,\n", "Line 2 of a.csv has an empty reference"),
        ("a.csv", "input,reference\n", "holds no examples"),
        ("a.csv", "", "empty"),
        (
            "a.jsonl",
            '{"input": "a", "reference": "b"}\n{"input": "c", "reference": }\n',
            "Line 2 of a.jsonl is not valid JSON",
        ),
        ("a.jsonl", '{"input": "a", "reference": "b"}\n\n{"input": "c"}\n', "Line 3 of a.jsonl has no reference"),
        ("a.jsonl", '["a", "b"]\n', "Line 1 of a.jsonl is not an object"),
        ("a.jsonl", '{"input": "a", "reference": ["b"]}\n', "reference that is not text"),
        ("a.jsonl", "\n\n", "empty"),
        ("a.txt", "input,reference\na,b\n", "not a task file"),
    ],
)
def test_malformed_task_files_are_sentences(tmp_path, name, text, message):
    with pytest.raises(UserError, match=message):
        load_task(write(tmp_path / name, text))


def test_binary_and_missing_task_files(tmp_path):
    (tmp_path / "x.csv").write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(UserError, match="binary"):
        load_task(tmp_path / "x.csv")
    with pytest.raises(UserError, match="does not exist"):
        load_task(tmp_path / "nothing.jsonl")
    (tmp_path / "latin.csv").write_bytes("input,reference\ncaf\xe9,th\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match="not valid UTF-8"):
        load_task(tmp_path / "latin.csv")


def test_builtin_tasks_fit_the_shipped_templates():
    tasks = builtin_tasks()
    assert [t.name for t in tasks] == ["Sentiment", "Translation", "Questions", "Python phrases"]
    shipped = {t.name for t in builtin_templates()}
    for task in tasks:
        assert 10 <= len(task) <= 20
        template = template_for(task)
        assert template.name in shipped
        shown = {template.examples[i].input for i in template.examples_for("few-shot")}
        assert not shown & {e.input for e in task.examples}, "a test question is among the worked examples"
        for example in task.examples:
            assert "\n" not in example.reference  # answers are cut at the first line break
    assert builtin_task("Sentiment").name == builtin_task("1-sentiment").name == "Sentiment"
    assert builtin_task("no such task") is None


def test_a_template_beside_a_task_file_goes_with_it(tmp_path, sentiment):
    task_path = write(tmp_path / "reviews.jsonl", '{"input": "Great.", "reference": "positive"}\n')
    assert template_for(load_task(task_path)).name == "Continue the text"
    (tmp_path / "reviews.toml").write_text((PROMPTS / "1-sentiment.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert template_for(load_task(task_path)).name == "Sentiment"


def test_a_json_task_is_not_taken_for_its_own_template(tmp_path):
    task_path = write(tmp_path / "reviews.json", json.dumps([{"input": "Great.", "reference": "positive"}]))
    assert template_for(load_task(task_path)).name == "Continue the text"
    (tmp_path / "reviews.toml").write_text((PROMPTS / "1-sentiment.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert template_for(load_task(task_path)).name == "Sentiment"


def test_hostile_json_in_a_task_is_a_sentence(tmp_path):
    deep = write(tmp_path / "deep.json", "[" * 50_000 + "]" * 50_000)
    with pytest.raises(UserError, match="deep.json nests lists or tables more than 100 levels deep"):
        load_task(deep)
    long = write(tmp_path / "long.jsonl", '{"input": "a", "reference": ' + "9" * 5000 + "}\n")
    with pytest.raises(UserError, match="Line 1 of long.jsonl holds a number of thousands of digits"):
        load_task(long)


# -- the command line ------------------------------------------------------------------------------------


def run_cli(capsys, *args):
    code = main(["eval", "task", "--model", str(DEMO), "--threads", "1", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_task_prints_scores_side_by_side(capsys):
    code, out, err = run_cli(
        capsys,
        "--task",
        "sentiment",
        "--template",
        PROMPTS / "1-sentiment.toml",
        "--mode",
        "few-shot",
        "--compare",
        "zero-shot",
    )
    assert code == 0, err
    assert "Task Sentiment (14 examples)" in out
    header = next(line for line in out.splitlines() if "few-shot" in line)
    assert header.index("few-shot") < header.index("zero-shot")
    for label in ("BLEU", "chrF", "ROUGE-1", "ROUGE-2", "ROUGE-L", "exact match"):
        assert any(line.startswith(label) for line in out.splitlines()), label


def test_cli_task_json_matches_the_core(capsys, demo, tmp_path):
    path = write(tmp_path / "phrases.csv", "input,reference\nTraceback (most recent call,last):\nEmit a,record.\n")
    code, out, err = run_cli(capsys, "--task", path, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["template"] == "Continue the text" and data["examples"] == 2
    (result,) = data["results"]
    expected = run_quietly(
        evaluate_task(demo[1], demo[0].tokenizer, task_eval.continuation_template(), load_task(path))
    )
    assert result["scores"] == pytest.approx(expected.scores.to_dict())
    assert [r["output"] for r in result["rows"]] == [r.output for r in expected.rows]
    assert result["rows"][0]["exact"] is True


def test_cli_reads_a_json_task_in_a_subprocess(tmp_path):
    import os
    import subprocess
    import sys

    path = write(
        tmp_path / "phrases.json",
        json.dumps(
            [
                {"input": "Traceback (most recent call", "reference": "last):"},
                {"input": "Emit a", "reference": "record."},
            ]
        ),
    )
    env = {**os.environ, "PYTHONPATH": str(DEMO.parents[1])}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "playground",
            "eval",
            "task",
            "--model",
            str(DEMO),
            "--threads",
            "1",
            "--task",
            str(path),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["template"] == "Continue the text" and data["examples"] == 2


def test_cli_task_errors_are_sentences(capsys, tmp_path):
    code, out, err = run_cli(capsys, "--task", "horoscopes")
    assert code == 2 and "no built-in task" in err and "python-phrases" in err
    code, out, err = run_cli(capsys, "--task", "sentiment", "--mode", "many-shot")
    assert code == 2 and "Unknown prompt mode" in err
    code, out, err = run_cli(capsys, "--task", write(tmp_path / "t.csv", "a,b\n1,2\n"))
    assert code == 2 and "column" in err
