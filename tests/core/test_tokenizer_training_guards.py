"""Training a tokenizer refuses what would quietly go wrong: special tokens that are ordinary text
of the corpus, a relative corpus path the worker would read elsewhere, an output that is the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from playground.core.corpus import Corpus, corpus_from_text
from playground.core.progress import UserError, run_quietly
from playground.core.tokenization import (
    SpecialTokensInText,
    check_output_path,
    spec_for_kind,
    train_in_process,
    train_tokenizer,
)

TEXT = "".join(f"the cat and a dog ate the {w} near a tree.\n" for w in ("apple", "pear", "plum", "fig") * 200)


def test_special_tokens_that_are_words_of_the_corpus_are_refused():
    spec = spec_for_kind("bpe", vocab_size=300, special_tokens=("the", "a", "e", "<|endoftext|>", "[ZZ]"))
    with pytest.raises(SpecialTokensInText) as e:
        run_quietly(train_in_process(corpus_from_text(TEXT), spec))
    assert set(e.value.found) == {"the", "a", "e"} and e.value.found["the"] == TEXT.count("the")
    assert str(e.value).startswith("The special tokens “the”, “a” and “e” occur in the corpus as ordinary text.")
    assert "<|endoftext|>" in str(e.value)  # the advice


def test_special_token_found_across_a_chunk_boundary():
    """The corpus is read in chunks of about 1 MB: a token cut in two by a chunk's end is still found,
    and one found in the carried-over end of a chunk is not counted twice."""
    from playground.core.tokenization import _SpecialTokenFinder

    finder = _SpecialTokenFinder(["<|x|>"])
    finder.check("aaa<|")
    with pytest.raises(SpecialTokensInText) as e:
        finder.check("x|>bbb<|x|>")
    assert e.value.found == {"<|x|>": 2}


def test_usual_markers_in_the_corpus_are_fine_and_the_check_can_be_waived():
    text = TEXT.replace("\n", "<|endoftext|>\n", 50)
    tok = run_quietly(train_in_process(corpus_from_text(text), spec_for_kind("bpe", vocab_size=300)))
    assert tok.token_to_id("<|endoftext|>") is not None
    spec = spec_for_kind("bpe", vocab_size=300, special_tokens=("the",))
    tok = run_quietly(train_in_process(corpus_from_text(TEXT), spec, allow_special_in_text=True))
    assert tok.token_to_id("the") is not None


def test_the_worker_reports_special_tokens_in_text():
    spec = spec_for_kind("wordlevel", vocab_size=50, special_tokens=("[UNK]", "cat"))
    with pytest.raises(SpecialTokensInText) as e:
        run_quietly(train_tokenizer(corpus_from_text(TEXT), spec))
    assert list(e.value.found) == ["cat"]
    assert (
        run_quietly(train_tokenizer(corpus_from_text(TEXT), spec, allow_special_in_text=True)).tokenizer.token_to_id(
            "cat"
        )
        is not None
    )


def test_the_worker_reads_a_relative_path_where_the_app_stands(tmp_path, monkeypatch):
    """The worker runs in the repository folder: a relative path must reach it resolved, or it reads
    the repository's file of that name (here: its README)."""
    (tmp_path / "README.md").write_text("quokka wombat numbat " * 200 + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    tok = run_quietly(
        train_tokenizer(Corpus(name="mine", files=(Path("README.md"),)), spec_for_kind("wordlevel", vocab_size=50))
    )
    assert set(tok.tokenizer.get_vocab()) == {"[UNK]", "quokka", "wombat", "numbat"}


def test_check_output_path(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="is the corpus the tokenizer learns from"):
        check_output_path(Path("corpus.txt"), [corpus], overwrite=True)
    with pytest.raises(UserError, match="already exists. Choose another file name, or replace it with --overwrite"):
        check_output_path(Path("corpus.txt"), [])
    with pytest.raises(UserError, match="is a folder"):
        check_output_path(Path("."), [])
    with pytest.raises(UserError, match="Could not save the tokenizer to .*: the folder .* does not exist"):
        check_output_path(Path("no/such/tok.json"), [])
    assert check_output_path(Path("tok.json"), [corpus]) == tmp_path / "tok.json"
    assert check_output_path(Path("corpus.txt"), [], overwrite=True) == corpus
