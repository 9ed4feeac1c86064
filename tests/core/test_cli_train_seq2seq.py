"""`playground train --family encoder-decoder`: a T5-style model trained from the command line by span
corruption or text to text, run in-process on a tiny corpus and task (a few steps)."""

from __future__ import annotations

import json

import pytest

from playground.cli import main
from playground.core.checkpoints import load_checkpoint
from playground.core.t5_model import T5
from playground.core.t5_tokens import missing_t5_tokens

pytestmark = pytest.mark.usefixtures("one_thread")

TEXT = "".join(
    f"The {w} sat on the mat number {i}. A {w} is a small animal.\n" for i in range(60) for w in ("cat", "dog")
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("seq2seq-cli") / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    path = tmp_path_factory.mktemp("seq2seq-task") / "reverse.jsonl"
    words = "cat dog sat mat red house small".split()
    rows = [{"input": f"{a} {b}", "reference": f"{b} {a}"} for a in words for b in words if a != b]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def train(capsys, *args):
    code = main(["train", "--threads", "1", "--steps", "6", "--batch-size", "4", "--eval-interval", "3",
                 "--context", "32", "--vocab-size", "300", *map(str, args)])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


def test_span_corruption_trains_adds_t5s_tokens_and_prints_samples(capsys, corpus, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = train(
        capsys, "--family", "encoder-decoder", "--corpus", corpus, "--noise-share", 0.2, "--mean-span", 2,
        "--out", out_dir,
    )  # fmt: skip
    assert code == 0, err
    assert out.strip() == str(out_dir)
    assert "note: added <pad>, </s> and 32 sentinels (<extra_id_0> … <extra_id_31>) to the tokenizer" in err
    assert "of an encoder-decoder on" in err and "by span corruption" in err and "perplexity" in err
    assert "span-corruption sample at step 6:" in err and "target: '<extra_id_0>" in err and "filled: " in err
    checkpoint, model = load_checkpoint(out_dir, which="last")
    assert isinstance(model, T5) and checkpoint.model_config.flavour == "t5" and checkpoint.step == 6
    cfg = checkpoint.train_config
    assert (cfg.objective, cfg.noise_share, cfg.mean_span) == ("span-corruption", pytest.approx(0.2), 2.0)
    assert not missing_t5_tokens(checkpoint.tokenizer)
    history = json.loads((out_dir / "history.json").read_text())
    assert any(h["kind"] == "seq2seq_sample" for h in history)

    code, _, err = train(capsys, "--resume", "--out", out_dir, "--steps", 9)
    assert code == 0, err
    assert "from step 6" in err and load_checkpoint(out_dir, which="last")[0].step == 9


def test_text_to_text_on_a_task_file_trains_its_own_tokenizer(capsys, corpus, task, tmp_path):
    out_dir = tmp_path / "run"
    # --task alone means text to text; --flavour t5 alone makes an encoder-decoder.
    code, _, err = train(
        capsys, "--flavour", "t5", "--task", task, "--task-prefix", "swap: ", "--corpus", corpus, "--out", out_dir
    )
    assert code == 0, err
    assert "note: --corpus is ignored: text to text learns from the --task" in err
    assert "pairs of reverse.jsonl" in err and "text-to-text sample at step 6:" in err and "input:  'swap: " in err
    checkpoint, _ = load_checkpoint(out_dir, which="last")
    cfg = checkpoint.train_config
    assert (cfg.objective, cfg.task, cfg.task_prefix) == ("text-to-text", str(task.resolve()), "swap: ")
    assert checkpoint.tokenizer.encode_ids(["cat dog"])[0]  # trained on the task's words


def test_a_shipped_task_set_by_its_key(capsys, tmp_path):
    code, _, err = train(
        capsys, "--family", "encoder-decoder", "--objective", "text-to-text", "--task", "reverse-words",
        "--steps", 2, "--out", tmp_path / "run",
    )  # fmt: skip
    assert code == 0, err
    assert "900 pairs of reverse-words (100 held out)" in err and "input:  'reverse: " in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--family", "encoder-decoder", "--objective", "text-to-text"], "--objective text-to-text needs --task"),
        (["--family", "encoder-decoder", "--task", "nowhere.csv"], "--task nowhere.csv: there is no such file"),
        (["--family", "encoder-decoder", "--objective", "span-corruption", "--task", "reverse-words"],
         "--task is for --objective text-to-text"),
        (["--family", "encoder-decoder", "--flavour", "bert"], "--flavour bert makes an encoder, not an "
         "encoder-decoder: leave --flavour out, or give --flavour t5."),
    ],
)  # fmt: skip
def test_wrong_options_get_a_sentence(capsys, corpus, tmp_path, args, message):
    code, _, err = train(capsys, *args, "--corpus", corpus, "--out", tmp_path / "run")
    assert code != 0 and message in err


def test_a_decoder_notes_that_the_encoder_decoder_options_are_ignored(capsys, corpus, tmp_path):
    code, _, err = train(capsys, "--objective", "span-corruption", "--noise-share", 0.3, "--steps", 1, "--corpus",
                         corpus, "--out", tmp_path / "run")  # fmt: skip
    assert code == 0, err
    assert "note: --objective, --noise-share ignored: only an encoder-decoder has these" in err


def test_the_help_names_the_objectives(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--objective {span-corruption,text-to-text}" in help_text and "--task FILE|KEY" in help_text
    assert "--noise-share SHARE" in help_text and "--mean-span TOKENS" in help_text
