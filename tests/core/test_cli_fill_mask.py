"""`playground fill-mask`: each mask's guesses as lines or JSON, run in-process on a tiny encoder."""

import json

import pytest
import torch
from sample_text import sentences  # tests/ is on sys.path

from playground.cli import main
from playground.core.checkpoints import save_checkpoint, write_run_files
from playground.core.config import ModelConfig
from playground.core.corpus import corpus_from_text
from playground.core.fill_mask import fill_mask
from playground.core.model import GPT
from playground.core.progress import run_quietly
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process
from playground.core.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")
TEXT = "the [MASK] sat on the [MASK] ."


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder holding a tiny encoder with random weights, and the model itself."""
    spec = spec_for_kind("wordpiece", vocab_size=120)
    tokenizer = LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(sentences(200)), spec)), spec=spec)
    torch.manual_seed(0)
    config = ModelConfig.bert_style(vocab_size=tokenizer.vocab_size, context_length=16, n_layer=1, n_head=2, n_embd=32)
    model = GPT(config).eval()
    folder = tmp_path_factory.mktemp("runs") / "encoder"
    write_run_files(folder, config, TrainConfig(), tokenizer)
    save_checkpoint(folder, "best", model, {}, {"step": 2, "val_loss": 4.0})
    return folder, model, tokenizer


def fill(capsys, folder, *args):
    code = main(["fill-mask", "--model", str(folder), "--threads", "1", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_lists_each_masks_top_k_guesses(capsys, run):
    folder, model, tokenizer = run
    code, out, _ = fill(capsys, folder, "--text", TEXT, "--top-k", 4, "--json")
    assert code == 0
    data = json.loads(out)
    expected = fill_mask(model, tokenizer, TEXT, top_k=4)
    assert data["text"] == TEXT and data["notice"] == ""
    assert [m["mask"] for m in data["masks"]] == [1, 2]
    for mask, slot in zip(data["masks"], expected.slots):
        assert [c["id"] for c in mask["candidates"]] == [c.id for c in slot.candidates]
        assert [c["probability"] for c in mask["candidates"]] == pytest.approx(
            [c.probability for c in slot.candidates], abs=1e-6
        )


def test_text_output_has_a_line_per_mask(capsys, run):
    folder, model, tokenizer = run
    code, out, _ = fill(capsys, folder, "--text", TEXT, "--top-k", 2)
    assert code == 0
    lines = out.splitlines()
    expected = fill_mask(model, tokenizer, TEXT, top_k=2)
    assert [line.split(":")[0] for line in lines] == ["[MASK] 1", "[MASK] 2"]
    for line, slot in zip(lines, expected.slots):
        assert all(repr(c.text) in line for c in slot.candidates)


def test_a_long_text_is_cut_with_a_notice(capsys, run):
    code, out, err = fill(capsys, run[0], "--text", "the [MASK] sat " + "on the mat " * 20, "--json")
    assert code == 0 and "the rest was cut" in err and json.loads(out)["notice"]


def test_bad_input_is_a_sentence(capsys, run):
    code, _, err = fill(capsys, run[0], "--text", "no mask here")
    assert code == 2 and "has no [MASK]" in err
    code, _, err = fill(capsys, "demo", "--text", TEXT)  # without a demo encoder: the demo model, a decoder
    from playground import paths

    if getattr(paths, "demo_encoder_dir", lambda: None)() is None:
        assert code == 2 and "needs an encoder" in err
    else:
        assert code == 0
