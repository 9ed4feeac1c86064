"""`playground generate`: strategies, sampling flags, templates and JSON output, run in-process on the demo model."""

import json
from pathlib import Path

import pytest

from playground.cli import main

DEMO = Path(__file__).resolve().parents[2] / "models" / "demo"


def generate(capsys, *args):
    code = main(["generate", "--model", str(DEMO), "--threads", "1", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_lists_every_token_with_its_probability_and_candidates(capsys, one_thread):
    code, out, _ = generate(capsys, "--prompt", "The list", "--max-new-tokens", 6, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["strategy"] == "greedy" and len(data["tokens"]) == 6
    assert data["text"] == "".join(t["text"] for t in data["tokens"])
    for token in data["tokens"]:
        assert 0 < token["prob"] <= 1 and len(token["top"]) == 10
        assert token["id"] == token["top"][0]["id"]  # greedy takes the best candidate


def test_sampling_flags_choose_sampling_and_a_seed_repeats(capsys, one_thread):
    runs = [
        json.loads(
            generate(
                capsys,
                "--prompt",
                "def",
                "--max-new-tokens",
                8,
                "--temperature",
                1.2,
                "--top-k",
                20,
                "--top-p",
                0.9,
                "--min-p",
                0.01,
                "--repetition-penalty",
                1.2,
                "--seed",
                seed,
                "--json",
            )[1]
        )
        for seed in (1, 1, 2)
    ]
    assert runs[0]["strategy"] == "sample"
    assert runs[0]["tokens"] == runs[1]["tokens"] and runs[0]["text"] != runs[2]["text"]


def test_beam_search_prints_the_beams(capsys, one_thread):
    code, out, err = generate(capsys, "--prompt", "import", "--beams", 3, "--max-new-tokens", 5, "--json")
    data = json.loads(out)
    assert code == 0 and data["strategy"] == "beam" and len(data["beams"]) == 3
    scores = [b["score"] for b in data["beams"]]
    assert scores == sorted(scores, reverse=True)


def test_a_template_renders_with_the_input(capsys, one_thread, tmp_path):
    template = tmp_path / "t.json"
    template.write_text(
        json.dumps(
            {
                "name": "t",
                "instruction": "Say it.",
                "mode": "zero-shot",
                "examples": [],
                "query_format": "Q: {input}\nA:",
            }
        )
    )
    code, out, err = generate(capsys, "--template", template, "--input", "hello", "--max-new-tokens", 2, "--json")
    assert code == 0, err
    assert json.loads(out)["prompt"] == "Say it.\n\nQ: hello\nA:"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--top-p", 0], "top-p"),
        (["--strategy", "sample", "--temperature", 0], "temperature above 0"),
        (["--input", "x"], "--template"),
        (["--temperature", -1], "temperature cannot be -1"),  # was greedy, silently
        (["--top-k", -1], "top-k"),
        (["--top-p", 1.5], "top-p"),
        (["--min-p", 1], "min-p"),
        (["--beams", 0], "at least 1 beam"),  # was greedy, silently
        (["--max-new-tokens", 0], "at least 1"),
        (["--repetition-penalty", 0], "repetition penalty"),
    ],
)
def test_settings_that_cannot_work_are_refused_with_a_sentence(capsys, args, message):
    code, _, err = generate(capsys, *args)
    assert code == 2 and message in err


def test_a_prompt_longer_than_the_context_is_cut_with_a_notice(capsys, one_thread):
    code, out, err = generate(capsys, "--prompt", "word " * 400, "--max-new-tokens", 2)
    assert code == 0 and "the first" in err and "are cut" in err


def test_early_stopping_is_on_by_default_and_can_be_turned_off():
    from playground.cli import build_parser
    from playground.cli_model import sampling_settings

    def settings(*flags):
        return sampling_settings(build_parser().parse_args(["generate", "--model", "m", "--beams", "2", *flags]))

    assert settings().early_stopping is True and settings("--early-stopping").early_stopping is True
    assert settings("--no-early-stopping").early_stopping is False


def test_beam_search_without_early_stopping_returns_finished_beams(capsys, one_thread):
    code, out, err = generate(
        capsys, "--prompt", "def", "--beams", 2, "--no-early-stopping", "--max-new-tokens", 40, "--json"
    )
    beams = json.loads(out)["beams"]
    assert code == 0 and len(beams) == 2
    assert all(b["finished"] or len(b["ids"]) == 40 for b in beams)


@pytest.mark.parametrize(
    "command",
    [
        ["generate", "--model", "m", "--prompt", "x"],
        ["attention", "--model", "m", "--text", "x", "--layer", "0", "--head", "0", "--out", "a.npy"],
        ["eval", "perplexity", "--model", "m", "--text", "default"],
    ],
)
def test_zero_threads_is_refused_not_taken_for_all_cores(capsys, command):
    from playground.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, "--threads", "0"])
    assert exit_.value.code == 2 and "--threads: must be at least 1, not 0" in capsys.readouterr().err
