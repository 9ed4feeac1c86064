"""The demo encoder-decoder that ships in models/demo-encoder-decoder: it loads as a T5 with T5's tokens,
answers held-out inputs of its task right, through the command line too, and is the third family's default."""

import tomllib
from pathlib import Path

import pytest
import torch

from playground import paths
from playground.cli_args import model_dir
from playground.core.checkpoints import load_checkpoint
from playground.core.progress import run_quietly
from playground.core.seq2seq_generation import prepare_input
from playground.core.t5_model import T5, greedy_decode
from playground.core.t5_tokens import missing_t5_tokens, t5_tokens
from playground.core.text_to_text import task_set

pytestmark = pytest.mark.usefixtures("one_thread")
REPO = Path(__file__).resolve().parents[2]
TASK = task_set("numbers-to-words")
HELD_OUT = {  # two of the set's held-out pairs (scripts/train_demo_encoder_decoder.sh never trains on them)
    "627": "six hundred twenty-seven",
    "814": "eight hundred fourteen",
}


@pytest.fixture(scope="module")
def demo():
    folder = paths.demo_encoder_decoder_dir()
    assert folder is not None, "models/demo-encoder-decoder is missing: it ships with the repository, so restore it"
    return load_checkpoint(folder)


def answer(checkpoint, model, text: str) -> str:
    """The demo's greedy output for `text`, as the text-to-text training saw it (the task's prefix before it)."""
    tokens = t5_tokens(checkpoint.tokenizer)
    ids = prepare_input(checkpoint.tokenizer, TASK.prefix + text, model.config.context_length).ids
    with torch.no_grad():
        written = greedy_decode(model, torch.tensor([ids]), tokens.decoder_start, 24, end_id=tokens.eos)[0].tolist()
    if tokens.eos in written:
        written = written[: written.index(tokens.eos)]
    return checkpoint.tokenizer.decode(written).strip()


def test_the_demo_is_a_small_t5_trained_text_to_text_with_t5s_tokens(demo):
    checkpoint, model = demo
    assert isinstance(model, T5) and model.config.is_encoder_decoder and model.config.flavour == "t5"
    assert not missing_t5_tokens(checkpoint.tokenizer), "pad, </s> and 32 sentinels"
    assert checkpoint.train_config.objective == "text-to-text" and checkpoint.train_config.task == TASK.key
    size = sum(f.stat().st_size for f in paths.demo_encoder_decoder_dir().rglob("*") if f.is_file())
    assert size < 10 * 2**20  # a few MB, like models/demo and models/demo-encoder


def test_the_held_out_pairs_are_not_in_the_training_file():
    train, held_out = TASK.load()
    assert set(HELD_OUT) <= {e.input for e in held_out}
    assert not set(HELD_OUT) & {e.input for e in train}


def test_its_greedy_answers_to_held_out_inputs_are_right(demo):
    checkpoint, model = demo
    for text, reference in HELD_OUT.items():
        assert answer(checkpoint, model, text) == reference


def test_playground_generate_answers_with_the_demo_by_its_name(capsys, tmp_path, monkeypatch):
    from playground.cli import main

    monkeypatch.chdir(tmp_path)  # no folder called demo-encoder-decoder here
    text, reference = next(iter(HELD_OUT.items()))
    code = main(["generate", "--model", "demo-encoder-decoder", "--input", TASK.prefix + text, "--threads", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == reference


def test_the_name_finds_the_shipped_demo_unless_a_folder_of_that_name_exists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert model_dir("demo-encoder-decoder") == paths.demo_encoder_decoder_dir()
    (tmp_path / "demo-encoder-decoder").mkdir()
    assert model_dir("demo-encoder-decoder") == tmp_path.joinpath("demo-encoder-decoder").relative_to(tmp_path)


def test_the_demo_folder_is_none_while_absent_or_without_a_config(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "models_dir", lambda: tmp_path)
    assert paths.demo_encoder_decoder_dir() is None
    (tmp_path / "demo-encoder-decoder").mkdir()
    assert paths.demo_encoder_decoder_dir() is None, "a folder without config.json is not a model"
    (tmp_path / "demo-encoder-decoder" / "config.json").write_text("{}")
    assert paths.demo_encoder_decoder_dir() == tmp_path / "demo-encoder-decoder"


def test_the_three_families_read_by_default_with_the_demo_encoder_decoder(demo):
    from playground.core.causal_vs_masked import read_by_all_three

    third = run_quietly(read_by_all_three("the list")).encoder_decoder
    assert third.name == demo[0].name and third.key_tokens and third.tokens
    layers, heads, rows, keys = third.weights.shape  # cross-attention: output tokens by input tokens
    assert (layers, heads) == (demo[1].config.decoder_layers, demo[1].config.n_head)
    assert (rows, keys) == (len(third.tokens), len(third.key_tokens))


def test_the_demo_travels_in_the_wheel_and_the_frozen_app_and_the_smoke_test_runs_it():
    """The wheel carries the whole models folder (pyproject's force-include); PyInstaller names each demo."""
    assert paths.demo_encoder_decoder_dir() == REPO / "models" / "demo-encoder-decoder"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert (
        pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]["models"] == "playground/_app/models"
    )
    spec = (REPO / "packaging" / "llm-playground.spec").read_text(encoding="utf-8")
    assert '(str(REPO / "models" / "demo-encoder-decoder"), "models/demo-encoder-decoder")' in spec
    smoke = (REPO / "packaging" / "smoke_test.py").read_text(encoding="utf-8")
    assert '"generate", "--model", "demo-encoder-decoder", "--input"' in smoke
