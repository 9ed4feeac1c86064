"""`playground train --family encoder`: a BERT-style masked language model trained from the command line,
run in-process on a tiny corpus."""

from __future__ import annotations

import json

import pytest

from playground.cli import main
from playground.core.checkpoints import load_checkpoint
from playground.core.progress import run_quietly
from playground.core.tokenization import (
    ENCODER_SPECIAL_TOKENS,
    LoadedTokenizer,
    missing_encoder_tokens,
    open_tokenizer,
    spec_for_kind,
    train_in_process,
)

TEXT = "".join(
    f"The {w} sat on the mat number {i}. A {w} is a small animal.\n" for i in range(60) for w in ("cat", "dog")
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("encoder-cli") / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def saved_tokenizer(corpus, kind: str, folder) -> str:
    from playground.core.corpus import corpus_from_paths

    spec = spec_for_kind(kind, vocab_size=300)
    tok = LoadedTokenizer(run_quietly(train_in_process(corpus_from_paths([corpus]), spec)), name=spec.label, spec=spec)
    path = folder / f"{kind}.json"
    tok.save(path)
    return str(path)


def train(capsys, *args):
    code = main(["train", "--threads", "1", "--steps", "12", "--batch-size", "4", "--eval-interval", "6",
                 "--context", "16", *map(str, args)])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


def test_an_encoder_trains_and_prints_masked_accuracy_and_fill_mask_samples(capsys, one_thread, corpus, tmp_path):
    tokenizer = saved_tokenizer(corpus, "wordpiece", tmp_path)
    assert missing_encoder_tokens(open_tokenizer(tokenizer)) == []
    out_dir = tmp_path / "run"
    code, out, err = train(
        capsys,
        "--family",
        "encoder",
        "--mask-share",
        0.2,
        "--corpus",
        corpus,
        "--tokenizer",
        tokenizer,
        "--out",
        out_dir,
    )
    assert code == 0, err
    assert out.strip() == str(out_dir)
    assert "of an encoder (masked tokens)" in err
    assert "masked accuracy" in err and "perplexity" not in err
    assert "fill-mask sample at step 12:" in err and "[MASK] 1 (was " in err and "%" in err
    checkpoint, _ = load_checkpoint(out_dir, which="last")
    assert checkpoint.model_config.is_encoder and checkpoint.model_config.flavour == "bert"
    assert checkpoint.train_config.mask_share == pytest.approx(0.2)
    history = json.loads((out_dir / "history.json").read_text())
    assert any(h["kind"] == "fill_mask" for h in history)


def test_a_tokenizer_without_the_special_tokens_gets_them_with_a_note(capsys, one_thread, corpus, tmp_path):
    tokenizer = saved_tokenizer(corpus, "bpe", tmp_path)
    missing = missing_encoder_tokens(open_tokenizer(tokenizer))
    assert missing
    code, _, err = train(
        capsys, "--family", "encoder", "--corpus", corpus, "--tokenizer", tokenizer, "--out", tmp_path / "run"
    )
    assert code == 0, err
    assert f"note: added {', '.join(missing)} to the tokenizer" in err
    checkpoint, _ = load_checkpoint(tmp_path / "run", which="last")
    assert set(ENCODER_SPECIAL_TOKENS) <= set(checkpoint.tokenizer.special_tokens)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--family", "encoder", "--flavour", "llama"], "--flavour llama makes a decoder, not an encoder"),
        (["--family", "decoder", "--flavour", "bert"], "--flavour bert makes an encoder, not a decoder"),
    ],
)
def test_a_flavour_of_the_other_family_is_refused(capsys, corpus, tmp_path, args, words):
    code, _, err = train(capsys, *args, "--corpus", corpus, "--out", tmp_path / "run")
    assert code == 2 and words in err


def test_a_mask_share_outside_0_and_1_is_refused(capsys, corpus, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        train(capsys, "--family", "encoder", "--mask-share", 1.5, "--corpus", corpus, "--out", tmp_path / "run")
    assert exit_.value.code == 2
    assert "must be above 0 and below 1" in capsys.readouterr().err
