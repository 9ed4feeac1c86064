"""T5's special tokens: <pad> (the decoder's start), </s> and the sentinels <extra_id_N>."""

from __future__ import annotations

import pytest
from sample_text import sentences  # tests/ is on sys.path

from playground.core.corpus import corpus_from_text
from playground.core.progress import UserError, run_quietly
from playground.core.t5_tokens import (
    DEFAULT_SENTINELS,
    MissingT5Tokens,
    T5Tokens,
    missing_t5_tokens,
    sentinel_token,
    t5_tokens,
    with_t5_tokens,
)
from playground.core.tokenization import LoadedTokenizer, open_tokenizer, spec_for_kind, train_in_process

TEXT = "the cat sat on the mat."


def trained(kind: str) -> LoadedTokenizer:
    spec = spec_for_kind(kind, vocab_size=300 if kind == "bpe" else 60)
    return LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(sentences(100)), spec)), spec=spec)


@pytest.fixture(scope="module")
def bpe() -> LoadedTokenizer:
    return trained("bpe")


def test_a_bpe_tokenizer_lacks_everything_and_the_phrase_says_so(bpe):
    missing = missing_t5_tokens(bpe)
    assert missing and missing.pad and missing.eos and missing.sentinels == tuple(range(DEFAULT_SENTINELS))
    assert missing.names == ["<pad>", "</s>", "<extra_id_0> … <extra_id_31>"]
    assert str(missing) == "<pad>, </s> and 32 sentinels (<extra_id_0> … <extra_id_31>)"
    assert missing.tokens[:3] == ["<pad>", "</s>", "<extra_id_0>"] and len(missing.tokens) == 34


def test_the_phrase_for_one_token_gaps_and_nothing():
    assert str(MissingT5Tokens(pad=False, eos=True, sentinels=())) == "</s>"
    assert str(MissingT5Tokens(pad=False, eos=False, sentinels=(3,))) == "the sentinel <extra_id_3>"
    gaps = MissingT5Tokens(pad=True, eos=False, sentinels=(2, 3, 4, 7))
    assert str(gaps) == "<pad> and 4 sentinels (<extra_id_2> … <extra_id_4>, <extra_id_7>)"
    nothing = MissingT5Tokens(pad=False, eos=False, sentinels=())
    assert not nothing and str(nothing) == "nothing"


def test_adding_keeps_every_id_and_appends_the_new_ones_in_order(bpe):
    added = with_t5_tokens(bpe, n_sentinels=8)
    old_vocab = bpe.tokenizer.get_vocab(with_added_tokens=True)
    new_vocab = added.tokenizer.get_vocab(with_added_tokens=True)
    assert all(new_vocab[token] == i for token, i in old_vocab.items())  # never renumbered
    first = bpe.vocab_size
    assert added.vocab_size == first + 10
    tokens = t5_tokens(added)
    assert tokens == T5Tokens(pad=first, eos=first + 1, sentinels=tuple(range(first + 2, first + 10)), unk=None)
    assert tokens.decoder_start == tokens.pad
    assert not missing_t5_tokens(added, n_sentinels=8) and bpe.vocab_size == first  # the original is unchanged
    # Text encodes as before, and each added token is one token, never split.
    assert added.encode_ids([TEXT]) == bpe.encode_ids([TEXT])
    ids = added.encode_ids(["cat <extra_id_0> mat</s>"])[0]
    assert ids.count(first + 2) == 1 and ids[-1] == first + 1
    assert added.decode([first + 2, *bpe.encode_ids([" cat"])[0], first + 1]).strip() == "cat"
    assert added.spec is not None and added.spec.special_tokens[-1] == "<extra_id_7>"


def test_adding_more_sentinels_later_fills_in_only_the_missing_ones(bpe):
    few = with_t5_tokens(bpe, n_sentinels=2)
    more = with_t5_tokens(few, n_sentinels=5)
    assert missing_t5_tokens(few, n_sentinels=5) == MissingT5Tokens(pad=False, eos=False, sentinels=(2, 3, 4))
    assert t5_tokens(more).sentinels[:2] == t5_tokens(few).sentinels
    assert len(t5_tokens(more).sentinels) == 5 and more.vocab_size == few.vocab_size + 3
    assert with_t5_tokens(more, n_sentinels=5) is more
    with pytest.raises(UserError, match="between 0 and 1,000"):
        with_t5_tokens(bpe, n_sentinels=-1)


def test_bert_s_pad_token_is_kept_as_the_pad_token():
    wordpiece = trained("wordpiece")
    missing = missing_t5_tokens(wordpiece, n_sentinels=1)
    assert not missing.pad and missing.eos and str(missing) == "</s> and the sentinel <extra_id_0>"
    added = with_t5_tokens(wordpiece, n_sentinels=1)
    tokens = t5_tokens(added)
    assert tokens.pad == wordpiece.tokenizer.token_to_id("[PAD]")
    assert tokens.unk == wordpiece.tokenizer.token_to_id("[UNK]")


def test_without_pad_or_eos_the_ids_are_refused_with_the_fix(bpe):
    with pytest.raises(UserError, match=r"lacks <pad> and </s>\. Add them as special tokens"):
        t5_tokens(bpe)


def test_a_real_t5_tokenizer_file_is_read_by_its_own_names(tmp_path):
    """A tokenizer.json written by transformers' T5 tokenizer: <pad>=0, </s>=1, <unk>=2, and the
    sentinels numbered downwards from the last id."""
    transformers = pytest.importorskip("transformers")
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0), ("▁the", -3.0), ("▁cat", -4.0)]
    vocab += [(f"<extra_id_{i}>", 0.0) for i in range(9, -1, -1)]
    transformers.T5Tokenizer(vocab=vocab, extra_ids=10).save_pretrained(tmp_path)
    tok = open_tokenizer(tmp_path / "tokenizer.json")
    assert not missing_t5_tokens(tok, n_sentinels=10)
    assert [str(missing_t5_tokens(tok, n_sentinels=12))] == ["2 sentinels (<extra_id_10> … <extra_id_11>)"]
    tokens = t5_tokens(tok)
    assert (tokens.pad, tokens.eos, tokens.unk) == (0, 1, 2)
    assert tokens.sentinels == tuple(range(15, 5, -1))  # <extra_id_0> has the largest id, as in T5
    assert [tok.token_text(i) for i in tokens.sentinels[:2]] == [sentinel_token(0), sentinel_token(1)]
