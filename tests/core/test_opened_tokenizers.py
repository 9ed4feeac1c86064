"""A tokenizer.json made elsewhere: a BERT-style file that pads and truncates is opened with both
turned off on every path; unknown tokens are marked; absurd ids are refused with a sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from playground.core.corpus import corpus_from_text
from playground.core.progress import UserError
from playground.core.tokenization import LoadedTokenizer, open_tokenizer

ROOT = Path(__file__).resolve().parents[2]
WORDS = "the cat sat on a mat and the dog ran to the park while birds sang in old trees".split()
TEXT = "".join(" ".join(WORDS[(i + j) % len(WORDS)] for j in range(12)) + ".\n" for i in range(300))
LONG = " ".join(WORDS * 40)  # 720 words: far more than 128 tokens


def bert_style(padded: bool = True) -> Tokenizer:
    """A WordPiece tokenizer set up as BERT's tokenizer.json is: it pads to 128 and truncates at 128."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], show_progress=False
    )
    tok.train_from_iterator(TEXT.splitlines(), trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    if padded:
        tok.enable_padding(length=128, pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
        tok.enable_truncation(128)
    return tok


@pytest.fixture
def bert_json(tmp_path) -> Path:
    path = tmp_path / "bert" / "tokenizer.json"
    path.parent.mkdir()
    path.write_text(bert_style().to_str(pretty=True), encoding="utf-8")
    assert json.loads(path.read_text())["padding"] is not None  # the file really pads
    return path


def test_padding_and_truncation_are_turned_off_on_every_path(bert_json, tmp_path):
    from playground.core.attention import _encode as attention_encode
    from playground.core.data import encode_corpus
    from playground.core.evaluation import encode_text
    from playground.core.progress import run_quietly
    from playground.core.prompts import prompt_token_starts
    from playground.core.sampling import prepare_prompt

    tok = open_tokenizer(bert_json)
    pad = tok.tokenizer.token_to_id("[PAD]")
    assert tok.turned_off == ("padding to 128 tokens with [PAD]", "truncation at 128 tokens")
    assert tok.tokenizer.padding is None and tok.tokenizer.truncation is None

    # The token view: "Hello world" is [CLS] hello world [SEP] (hello is unknown), not 128 tokens.
    assert [p.token for p in tok.encode("the cat")] == ["[CLS]", "the", "cat", "[SEP]"]
    assert len(tok.encode(LONG)) == len(WORDS) * 40 + 2
    # Training data: every word, and not one [PAD].
    ids = run_quietly(encode_corpus(corpus_from_text(TEXT + LONG), tok))
    assert pad not in ids.tolist() and len(ids) == len((TEXT + LONG).replace(".", " .").split())
    # Prompts, generation, perplexity and attention: no padding, no cut at 128.
    assert len(prompt_token_starts(tok, LONG, 2048)[0]) == len(WORDS) * 40
    assert len(prepare_prompt(tok, LONG, 4096).ids) == len(WORDS) * 40
    assert len(encode_text(tok, LONG)) == len(WORDS) * 40
    assert len(attention_encode(tok, LONG)[0]) == len(WORDS) * 40
    # What the app saves (a checkpoint's tokenizer.json) no longer pads.
    tok.save(tmp_path / "saved.json")
    saved = json.loads((tmp_path / "saved.json").read_text())
    assert saved["padding"] is None and saved["truncation"] is None


def test_the_command_line_encodes_without_padding(bert_json):
    result = subprocess.run(
        [sys.executable, "-m", "playground", "tokenizer", "encode", "--tokenizer", bert_json, "the cat"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tokens"] == ["[CLS]", "the", "cat", "[SEP]"]


def test_every_loaded_tokenizer_is_unpadded():
    """A tokenizer handed over in memory (not opened from a file) is made safe the same way."""
    loaded = LoadedTokenizer(bert_style())
    assert loaded.turned_off and len(loaded.encode_ids(["the cat"])[0]) == 2
    assert LoadedTokenizer(bert_style(padded=False)).turned_off == ()


def test_unknown_tokens_are_marked(bert_json):
    tok = open_tokenizer(bert_json)
    pieces = tok.encode("the zebra 🙂 sat")
    unknown = [p for p in pieces if p.unknown]
    assert [p.text for p in unknown] == ["zebra", "🙂"] and all(p.token == "[UNK]" for p in unknown)
    assert not any(p.unknown for p in pieces if p.token != "[UNK]")
    assert not any(p.unknown for p in tok.encode("[UNK]"))  # the token typed as text is not unknown text


def test_unigram_unknown_is_marked():
    from playground.core.progress import run_quietly
    from playground.core.tokenization import spec_for_kind, train_in_process

    spec = spec_for_kind("unigram", vocab_size=100)
    tok = LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(TEXT), spec)), spec=spec)
    assert tok.unk_id == tok.tokenizer.token_to_id("<unk>")
    assert [p.text for p in tok.encode("the cat 🙂") if p.unknown] == ["🙂"]


def _word_level(vocab: dict[str, int], path: Path) -> Path:
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(path))
    return path


def test_an_absurd_largest_id_is_refused(tmp_path):
    path = _word_level({"[UNK]": 0, "hello": 1, "world": 50_000_000}, tmp_path / "big.json")
    with pytest.raises(UserError) as e:
        open_tokenizer(path)
    assert str(e.value).startswith(
        "big.json has 3 tokens but its largest id is 50,000,000: a model would need "
        "50,000,001 embedding rows, more than the 1,000,000 this app allows."
    )


def test_ids_that_leave_most_of_the_table_unused_are_refused(tmp_path):
    vocab = {f"w{i}": i for i in range(100)} | {"[UNK]": 500_000}
    with pytest.raises(UserError, match="101 tokens but its largest id is 500,000: 499,900 ids would be unused"):
        open_tokenizer(_word_level(vocab, tmp_path / "sparse.json"))
    # A few spare ids are fine: the vocabulary size is one more than the largest id.
    vocab = {f"w{i}": i for i in range(100)} | {"[UNK]": 600}
    assert open_tokenizer(_word_level(vocab, tmp_path / "gaps.json")).vocab_size == 601
