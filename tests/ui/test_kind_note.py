"""The Tokenizer Lab says before training that Unigram on a large corpus takes a while."""

import dataclasses

from playground.ui.widgets.kind_note import training_time_note


def test_only_unigram_on_a_large_corpus_gets_a_note(tiny_corpus):
    _, small = tiny_corpus
    large = dataclasses.replace(small, size_bytes=2_000_000)
    assert training_time_note("unigram", small) == ""
    assert training_time_note("bpe", large) == ""
    assert training_time_note("unigram", None) == ""
    note = training_time_note("unigram", large)
    assert "Unigram" in note and "1.9 MiB" in note and "about 50 s" in note


def test_the_note_shows_under_the_kind_chooser_before_training(panel, session, tiny_corpus):
    corpus, small = tiny_corpus
    panel.kind.setCurrentIndex(panel.kind.findData("unigram"))
    assert panel.kind_note.isHidden()  # a tiny corpus trains at once

    session.set_corpus(corpus, dataclasses.replace(small, size_bytes=2_000_000))
    assert panel.kind_note.isVisible() and "more slowly" in panel.kind_note.text()

    panel.kind.setCurrentIndex(panel.kind.findData("bpe"))
    assert panel.kind_note.isHidden()
