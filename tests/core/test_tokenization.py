"""Tokenizers: the five kinds, the pieces the live view colours, specs, cancel,
saving and opening (made here or elsewhere), and the vocab-size sweep."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import pytest
from run_job import run_job  # tests/ is on sys.path
from tokenizers import Tokenizer, processors
from tokenizers.implementations import BertWordPieceTokenizer, ByteLevelBPETokenizer

from playground.core.corpus import Corpus, corpus_from_text, default_corpus, scan_corpus
from playground.core.progress import Cancelled, CancelToken, Progress, UserError, run_quietly
from playground.core.tokenization import (
    KINDS,
    LoadedTokenizer,
    TokenizerSpec,
    check_spec,
    minimum_vocab_size,
    open_tokenizer,
    spec_for_kind,
    train_in_process,
    train_tokenizer,
)
from playground.core.tokenizer_sweep import chars_per_token, vocab_size_sweep

SUBJECTS = [
    "The cat",
    "A small model",
    "My neighbour",
    "The old tokenizer",
    "Every student",
    "The river",
    "A curious child",
    "The teacher",
    "Our garden",
    "The machine",
]
VERBS = ["reads", "writes", "learns", "counts", "merges", "splits", "finds", "keeps", "follows", "builds"]
OBJECTS = [
    "the longest words",
    "a few short sentences",
    "every frequent pair",
    "the quiet morning",
    "some numbers like 42 and 1999",
    "a café on the corner",
    "the naïve answer",
    "bright red apples",
    "the tokens of a story",
    "thousands of letters",
]
ENDINGS = [".", "!", "?", ", slowly.", " again and again.", " (as usual).", "; then it rests.", " today."]
MODEL_TYPES = {"bpe": "BPE", "wordpiece": "WordPiece", "unigram": "Unigram", "wordlevel": "WordLevel", "char": "BPE"}
SIZES = {"bpe": 500, "wordpiece": 400, "unigram": 300, "wordlevel": 150, "char": 100}


def english_lines(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(ENDINGS)}\n" for _ in range(n)
    )


TEXT = english_lines(400)
CORPUS = corpus_from_text(TEXT, name="test sentences")


@pytest.fixture(scope="module")
def trained():
    """One tokenizer of every kind, trained in this process on the test sentences."""
    return {
        kind: LoadedTokenizer(
            run_quietly(train_in_process(CORPUS, spec_for_kind(kind, vocab_size=SIZES[kind]))),
            spec=spec_for_kind(kind, vocab_size=SIZES[kind]),
        )
        for kind in KINDS
    }


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize("kind", list(KINDS))
def test_train_every_kind(kind):
    spec = spec_for_kind(kind, vocab_size=SIZES[kind])
    reports: list[Progress] = []
    started = time.monotonic()
    tok = LoadedTokenizer(run_job(train_in_process(CORPUS, spec), reports), spec=spec)
    assert time.monotonic() - started < 5
    assert len(spec.special_tokens) < tok.vocab_size <= spec.vocab_size
    assert tok.model_type == MODEL_TYPES[kind]
    assert tok.special_tokens == set(spec.special_tokens)
    vocab = tok.tokenizer.get_vocab()
    assert all(s in vocab for s in spec.special_tokens)
    pieces = tok.encode("The cat reads a few short sentences.")
    assert 0 < len(pieces) <= len("The cat reads a few short sentences.")
    assert [p.index for p in pieces] == list(range(len(pieces)))
    # Counting reports a fraction up to 0.9, then the (unmeasured) learning phase.
    fractions = [r.fraction for r in reports]
    assert fractions[-1] is None
    assert all(0 <= f <= 0.9 for f in fractions[:-1]) and fractions[:-1]


@pytest.mark.parametrize("kind", list(KINDS))
def test_vocabulary_rows(trained, kind):
    tok = trained[kind]
    rows = tok.vocabulary()
    assert [r.id for r in rows] == list(range(tok.vocab_size))
    assert {r.token for r in rows if r.special} == set(tok.spec.special_tokens)
    for r in rows:
        assert r.raw == tok.token_bytes(r.token)
        assert r.text == r.raw.decode("utf-8", errors="replace")


def test_bpe_vocabulary_merge_ranks(trained):
    tok = trained["bpe"]
    merges = tok.merges()
    rows = {r.token: r for r in tok.vocabulary()}
    assert len(merges) == tok.vocab_size - 256 - 1  # all bytes, one special token, the rest merges
    for rank, (a, b) in enumerate(merges):
        assert rows[a + b].merge_rank == rank
        assert rows[a].merge_rank is None or rows[a].merge_rank < rank
    singles = [r for r in rows.values() if len(r.raw) == 1 and not r.special]
    assert len(singles) == 256 and all(r.merge_rank is None for r in singles)
    assert rows["<|endoftext|>"].special and rows["<|endoftext|>"].raw == b"<|endoftext|>"
    assert rows["Ġthe"].raw == b" the" and rows["Ġthe"].text == " the"


def test_worker_training_matches_in_process(trained):
    spec = spec_for_kind("bpe", vocab_size=SIZES["bpe"])
    reports: list[Progress] = []
    tok = run_job(train_tokenizer(CORPUS, spec, stats=run_quietly(scan_corpus(CORPUS))), reports)
    assert isinstance(tok, LoadedTokenizer) and tok.spec == spec and tok.name == spec.label
    assert tok.tokenizer.get_vocab() == trained["bpe"].tokenizer.get_vocab()
    assert tok.merges() == trained["bpe"].merges()
    assert reports and reports[-1].fraction is None


def test_worker_training_other_kinds():
    for kind in ("wordlevel", "char"):
        spec = spec_for_kind(kind, vocab_size=SIZES[kind])
        tok = run_quietly(train_tokenizer(CORPUS, spec))
        assert tok.model_type == MODEL_TYPES[kind] and tok.vocab_size <= SIZES[kind]


def test_worker_passes_user_errors_back():
    # No stats, so check_spec cannot see the alphabet: the worker's training finds out.
    with pytest.raises(UserError, match="smaller than the alphabet"):
        run_quietly(train_tokenizer(CORPUS, spec_for_kind("unigram", vocab_size=10)))
    assert run_quietly(train_tokenizer(CORPUS, spec_for_kind("bpe", vocab_size=300))).vocab_size == 300


def test_unigram_library_error_becomes_user_error():
    with pytest.raises(UserError) as info:
        run_quietly(train_in_process(CORPUS, spec_for_kind("unigram", vocab_size=10)))
    assert "Vocab size 10 is smaller than the alphabet" in str(info.value)
    assert "larger vocab size" in str(info.value)


def test_train_in_process_obeys_cancel_while_reading():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_quietly(train_in_process(CORPUS, spec_for_kind("bpe", vocab_size=300), cancel=token))


# --------------------------------------------------------------------------- round trips


ROUND_TRIP_TEXTS = [
    "The cat reads the quiet morning.",
    "Every student learns, slowly.\nThe river rests!",
    "a café on the corner  (as usual)",
]


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS + ["Ünïcödé, emoji 🙂🚀, tabs\tand  spaces\r\n", ""])
def test_bpe_round_trip_is_exact_for_any_text(trained, text):
    tok = trained["bpe"]
    pieces = tok.encode(text)
    assert tok.decode([p.id for p in pieces]) == text
    assert b"".join(p.raw for p in pieces) == text.encode("utf-8")


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_char_round_trip(trained, text):
    tok = trained["char"]
    pieces = tok.encode(text)
    assert len(pieces) == len(text)  # one token per character
    assert [p.token for p in pieces] == list(text)
    assert tok.decode([p.id for p in pieces]) == text


def test_char_rare_characters_become_unknown(trained):
    pieces = trained["char"].encode("cat 🙂")
    assert [p.token for p in pieces] == ["c", "a", "t", " ", "[UNK]"]
    assert pieces[-1].text == "🙂"


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_unigram_round_trip(trained, text):
    tok = trained["unigram"]
    assert tok.decode(tok.tokenizer.encode(text).ids) == text


def test_unigram_round_trip_within_normalization(trained):
    tok = trained["unigram"]
    # NFKC folds the 'ﬁ' ligature and the full-width letters into plain ones.
    assert tok.decode(tok.tokenizer.encode("ﬁnds ｃａｔ").ids) == "finds cat"
    assert any(p.token.startswith("▁") and p.raw.startswith(b" ") for p in tok.encode("the river"))


def test_wordpiece_and_wordlevel_pieces(trained):
    wp = trained["wordpiece"]
    continuing = [p for p in wp.encode("The readers merged apples into stories") if p.token.startswith("##")]
    assert continuing, "WordPiece split no word into pieces"
    for p in continuing:
        assert p.raw == p.token[2:].encode() == p.text.encode()
    words = trained["wordlevel"].encode("The cat reads zyzzyva")
    assert [p.token for p in words] == ["The", "cat", "reads", "[UNK]"]
    assert words[-1].text == "zyzzyva" and not words[-1].special


# --------------------------------------------------------------------------- pieces


def test_byte_level_pieces_of_cafe_and_emoji(trained):
    tok = trained["bpe"]
    text = "café 🙂"
    pieces = tok.encode(text)
    assert b"".join(p.raw for p in pieces) == text.encode("utf-8")
    emoji_pieces = [p for p in pieces if p.start <= text.index("🙂") < p.end]
    assert len(emoji_pieces) >= 2  # 4 bytes: not one token in a vocabulary trained without emoji
    assert all(p.partial for p in emoji_pieces)
    assert b"".join(p.raw for p in emoji_pieces).endswith("🙂".encode("utf-8"))
    for p in pieces:
        assert p.text == text[p.start : p.end] and not p.special
        try:
            p.raw.decode("utf-8")
        except UnicodeDecodeError:
            assert p.partial, p
        else:
            assert not p.partial, p


def test_token_that_ends_inside_a_character_is_partial():
    """A merge such as 'ĠðŁ' (a space and half an emoji) shares no span with its
    neighbours, yet covers part of a character."""
    rng = random.Random(1)
    emoji = [chr(c) for c in range(0x1F600, 0x1F640)]
    text = "".join(" ".join(f"w{rng.randint(0, 3)} {rng.choice(emoji)}" for _ in range(8)) + "\n" for _ in range(300))
    tok = LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(text), spec_for_kind("bpe", vocab_size=262))))
    assert ("Ġ", "ðŁ") in tok.merges()
    pieces = tok.encode("x 🙂 y")
    assert pieces[1].token.startswith("ĠðŁ") and pieces[1].raw.startswith(b" \xf0\x9f")
    assert pieces[1].partial
    assert [p.partial for p in pieces] == [False] + [True] * (len(pieces) - 3) + [False, False]


def test_special_token_in_text(trained):
    tok = trained["bpe"]
    pieces = tok.encode("end<|endoftext|>start")
    ids = [p.id for p in pieces]
    assert tok.tokenizer.token_to_id("<|endoftext|>") in ids
    special = next(p for p in pieces if p.token == "<|endoftext|>")
    assert special.raw == b"<|endoftext|>" and special.text == "<|endoftext|>"


# --------------------------------------------------------------------------- specs


def test_check_spec_bpe_vocab_below_bytes():
    with pytest.raises(UserError) as info:
        check_spec(spec_for_kind("bpe", vocab_size=100))
    message = str(info.value)
    assert "Vocab size 100 is smaller than the alphabet" in message
    assert "256" in message and "Choose at least 257" in message
    check_spec(spec_for_kind("bpe", vocab_size=257))  # the minimum itself is fine
    two_specials = TokenizerSpec(kind="bpe", vocab_size=257, special_tokens=("<s>", "</s>"))
    with pytest.raises(UserError, match="at least 258"):
        check_spec(two_specials)


@pytest.mark.parametrize("kind, least", [("wordpiece", 10 + 5), ("unigram", 10 + 1 + 1)])
def test_check_spec_with_stats(kind, least):
    stats = run_quietly(scan_corpus(corpus_from_text("abcde fghij\nabc")))  # 10 distinct characters besides spaces
    assert minimum_vocab_size(spec_for_kind(kind), stats) == least
    with pytest.raises(UserError) as info:
        check_spec(spec_for_kind(kind, vocab_size=least - 1), stats)
    assert "every distinct character" in str(info.value) and f"Choose at least {least}" in str(info.value)
    check_spec(spec_for_kind(kind, vocab_size=least), stats)
    check_spec(spec_for_kind(kind, vocab_size=least - 1))  # without stats the alphabet is unknown


def test_check_spec_lowercase_shrinks_the_alphabet():
    stats = run_quietly(scan_corpus(corpus_from_text("AaBbCc")))
    assert minimum_vocab_size(spec_for_kind("wordpiece", lowercase=True), stats) == 3 + 5
    assert minimum_vocab_size(spec_for_kind("wordpiece"), stats) == 6 + 5


def test_check_spec_other_mistakes():
    with pytest.raises(UserError, match="Minimum frequency must be at least 1"):
        check_spec(spec_for_kind("bpe", min_frequency=0))
    with pytest.raises(UserError) as info:
        check_spec(TokenizerSpec(kind="sentencepiece"))
    assert "Unknown tokenizer kind 'sentencepiece'" in str(info.value)
    assert all(kind in str(info.value) for kind in KINDS)
    with pytest.raises(UserError, match="1,000,000"):
        check_spec(spec_for_kind("bpe", vocab_size=2_000_000))
    with pytest.raises(UserError, match="special tokens alone"):
        check_spec(spec_for_kind("wordlevel", vocab_size=1))


def test_train_tokenizer_checks_the_spec_first():
    started = time.monotonic()
    with pytest.raises(UserError, match="at least 257"):
        run_quietly(train_tokenizer(CORPUS, spec_for_kind("bpe", vocab_size=50)))
    assert time.monotonic() - started < 0.5


def test_spec_dict_round_trip_and_unk_first():
    spec = spec_for_kind("wordpiece", vocab_size=1234, lowercase=True)
    assert TokenizerSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.special_tokens[0] == "[UNK]"
    assert spec.short_label == "WordPiece 1,234" and "1,234" in spec.label
    assert spec_for_kind("unigram").special_tokens == ("<unk>",)


# --------------------------------------------------------------------------- cancel


def test_cancel_stops_training_at_once_and_the_next_one_works():
    """Unigram on the built-in corpus spends seconds in the library, which cannot be
    interrupted: Cancel kills the worker during that phase."""
    token = CancelToken()
    cancelled_at: list[float] = []

    def cancel_now():
        cancelled_at.append(time.monotonic())
        token.cancel()

    timer = threading.Timer(0.2, cancel_now)

    def progress(p: Progress) -> None:
        if p.fraction is None and not timer.is_alive() and not cancelled_at:
            timer.start()  # 0.2 s into the learning phase

    try:
        with pytest.raises(Cancelled):
            for p in train_tokenizer(default_corpus(), spec_for_kind("unigram", vocab_size=4000), cancel=token):
                progress(p)
        returned_at = time.monotonic()
    finally:
        timer.cancel()
    assert cancelled_at, "training ended before Cancel"
    assert returned_at - cancelled_at[0] < 1.0
    tok = run_quietly(train_tokenizer(CORPUS, spec_for_kind("bpe", vocab_size=300)))  # a fresh worker
    assert tok.vocab_size == 300


# --------------------------------------------------------------------------- saving and opening


def test_save_and_open_round_trip(trained, tmp_path):
    tok = trained["bpe"]
    path = tmp_path / "mine.json"
    tok.save(path)
    assert tok.path == path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]  # no .tmp left behind
    opened = open_tokenizer(path)
    assert opened.name == "mine" and opened.path == path
    assert opened.tokenizer.get_vocab() == tok.tokenizer.get_vocab()
    for text in ROUND_TRIP_TEXTS + ["café 🙂"]:
        assert [p.id for p in opened.encode(text)] == [p.id for p in tok.encode(text)]
    assert opened.is_byte_level and opened.kind_label == "Byte-level BPE"
    # Saving again over the file replaces it whole.
    trained["char"].save(path)
    assert open_tokenizer(path).vocab_size == trained["char"].vocab_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]


def test_open_a_folder_holding_tokenizer_json(trained, tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    trained["wordpiece"].save(folder / "tokenizer.json")
    opened = open_tokenizer(folder)
    assert opened.name == "my-model/tokenizer.json" and opened.model_type == "WordPiece"


def test_save_into_missing_folder(trained, tmp_path):
    target = tmp_path / "no" / "such" / "folder" / "tok.json"
    with pytest.raises(UserError) as info:
        trained["bpe"].save(target)
    assert "Could not save the tokenizer" in str(info.value) and "tok.json" in str(info.value)
    assert not (tmp_path / "no").exists()


BROKEN_MODEL = json.dumps({"version": "1.0", "model": {"type": "Nonsense", "vocab": {"a": 0}}})
EMPTY_VOCAB = json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []}})
NO_UNK = json.dumps({"version": "1.0", "model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "[UNK]"}})


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", ["empty"]),
        (b"   \n", ["empty"]),
        (b"this is not json", ["not a tokenizer.json", "not valid JSON"]),
        (b'{"version": "1.0", "truncated": ', ["not valid JSON"]),
        (b'{"version": "1.0", "added_tokens": []}', ['no "model" section']),
        (b"[1, 2, 3]", ['no "model" section']),
        (BROKEN_MODEL.encode(), ["could not be opened as a tokenizer"]),
        (EMPTY_VOCAB.encode(), ["empty vocabulary"]),
        (NO_UNK.encode(), ["cannot encode ordinary text"]),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", ["not valid JSON"]),
    ],
)
def test_open_malformed(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(UserError) as info:
        open_tokenizer(path)
    assert "bad.json" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_open_missing_file(tmp_path):
    with pytest.raises(UserError, match="Could not read"):
        open_tokenizer(tmp_path / "absent.json")
    with pytest.raises(UserError, match="Could not read"):
        open_tokenizer(tmp_path)  # a folder without tokenizer.json


# --------------------------------------------------------------------------- tokenizers made elsewhere


ELSEWHERE_TEXTS = [
    "Hello, world!",
    "The naïve café serves crème brûlée.",
    "Emoji: 🙂🚀 and 日本語",
    "  two  spaces\tand a tab\nand a new line",
    "numbers 1234567 and UPPER case",
]


def assert_same_as_library(opened: LoadedTokenizer, path: Path) -> None:
    library = Tokenizer.from_file(str(path))
    for text in ELSEWHERE_TEXTS:
        expected = library.encode(text)
        pieces = opened.encode(text)
        assert [p.id for p in pieces] == expected.ids, text
        assert [p.token for p in pieces] == expected.tokens, text
        assert [(p.start, p.end) for p in pieces] == expected.offsets, text


def test_bert_style_wordpiece(tmp_path):
    bert = BertWordPieceTokenizer(lowercase=True)
    bert.train_from_iterator(
        TEXT.splitlines(),
        vocab_size=300,
        min_frequency=1,
        show_progress=False,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
    )
    # Set after training, when [CLS] and [SEP] have ids (as BERT's own tokenizer.json has it).
    cls, sep = bert.token_to_id("[CLS]"), bert.token_to_id("[SEP]")
    bert._tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    folder = tmp_path / "bert-mini"
    folder.mkdir()
    bert.save(str(folder / "tokenizer.json"))
    opened = open_tokenizer(folder)
    assert opened.model_type == "WordPiece" and not opened.is_byte_level and opened.spec is None
    assert opened.kind_label == "WordPiece"
    assert {"[CLS]", "[SEP]", "[UNK]"} <= opened.special_tokens
    assert_same_as_library(opened, folder / "tokenizer.json")
    pieces = opened.encode("The readers merged stories")
    assert pieces[0].token == "[CLS]" and pieces[-1].token == "[SEP]"
    assert pieces[0].special and pieces[-1].special and pieces[0].text == "" and pieces[0].raw == b"[CLS]"
    middle = pieces[1:-1]
    assert not any(p.special for p in middle)
    assert "".join(p.raw.decode() for p in middle).replace(" ", "") == "thereadersmergedstories"
    continuing = [p for p in middle if p.token.startswith("##")]
    assert continuing and all(p.raw == p.token[2:].encode() for p in continuing)


@pytest.mark.parametrize("trim_offsets", [False, True])
def test_gpt2_style_byte_level_bpe(tmp_path, trim_offsets):
    gpt2 = ByteLevelBPETokenizer(add_prefix_space=False, trim_offsets=trim_offsets)
    gpt2.train_from_iterator(
        TEXT.splitlines(keepends=True),
        vocab_size=400,
        min_frequency=2,
        special_tokens=["<|endoftext|>"],
        show_progress=False,
    )
    gpt2._tokenizer.post_processor = processors.ByteLevel(trim_offsets=trim_offsets)
    path = tmp_path / "gpt2-mini.json"
    gpt2.save(str(path))
    opened = open_tokenizer(path)
    assert opened.is_byte_level and opened.model_type == "BPE" and opened.name == "gpt2-mini"
    assert opened.kind_label == "Byte-level BPE"
    assert_same_as_library(opened, path)
    assert opened.token_bytes("Ġ") == b" "
    assert opened.token_bytes("Ġthe") == b" the"
    assert opened.token_bytes("Ċ") == b"\n"
    assert opened.token_bytes("<|endoftext|>") == b"<|endoftext|>"
    for text in ELSEWHERE_TEXTS:
        pieces = opened.encode(text)
        assert b"".join(p.raw for p in pieces) == text.encode("utf-8")
        assert opened.decode([p.id for p in pieces]) == text
    # Only tokens that hold part of a multi-byte character are partial.
    pieces = opened.encode("Hello the world")
    assert not any(p.partial for p in pieces)
    assert all(p.partial for p in opened.encode("日") if p.raw != "日".encode())


# --------------------------------------------------------------------------- comparing sizes


def test_vocab_size_sweep_gives_longer_tokens_for_bigger_vocabularies():
    points_heard: list[tuple[int, float]] = []
    reports: list[Progress] = []
    partials: list = []
    points = run_job(vocab_size_sweep(CORPUS, sizes=(260, 400, 700)), reports, partials)
    points_heard.extend((point.vocab_size, point.chars_per_token) for point in partials)
    assert points == points_heard
    assert [size for size, _ in points] == [260, 400, 700]
    cpts = [cpt for _, cpt in points]
    assert 1.0 <= cpts[0] < cpts[1] < cpts[2]
    assert all(0 <= r.fraction <= 1 for r in reports)
    assert reports[-1].fraction > 2 / 3


def test_vocab_size_sweep_on_empty_corpus():
    with pytest.raises(UserError, match="empty"):
        run_quietly(vocab_size_sweep(Corpus(name="nothing", text="  \n"), sizes=(300,)))


def test_chars_per_token(trained):
    assert chars_per_token(trained["char"], "abc") == 1.0
    assert chars_per_token(trained["bpe"], TEXT) > 2.0


# --------------------------------------------------------------------------- the kinds and the training jobs


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_holds_its_own_facts(kind):
    """The registry is the one place a kind is described: its spec, checks and trainer follow from it."""
    from playground.core.tokenization import build_tokenizer

    facts = KINDS[kind]
    assert facts.key == kind and facts.label and len(facts.description) > 40 and facts.short_name
    spec = spec_for_kind(kind)
    assert spec.vocab_size == facts.default_vocab_size and facts.label in spec.label
    assert spec.special_tokens[0] == (facts.unk_token or facts.special_tokens[0])
    assert set(facts.special_tokens) <= set(spec.special_tokens)
    check_spec(spec)  # the default size is a size the kind accepts
    assert minimum_vocab_size(spec) <= facts.default_vocab_size
    tok, _ = build_tokenizer(spec)
    assert json.loads(tok.to_str())["model"]["type"] == MODEL_TYPES[kind]


def test_the_command_line_offers_every_kind():
    from playground.cli import build_parser

    parser = build_parser(only="tokenizer")
    for kind in KINDS:
        args = parser.parse_args(["tokenizer", "train", "--corpus", "c.txt", "--out", "t.json", "--kind", kind])
        assert args.kind == kind
    with pytest.raises(SystemExit):
        parser.parse_args(["tokenizer", "train", "--corpus", "c.txt", "--out", "t.json", "--kind", "sentencepiece"])


def test_training_in_process_stops_reading_when_closed():
    """Closing the job (what the engine does on Cancel) stops the training thread at the next chunk."""
    corpus = corpus_from_text(english_lines(80_000), name="long")  # several 1 MB chunks
    training = train_in_process(corpus, spec_for_kind("bpe", vocab_size=300))
    first = next(training)
    assert isinstance(first, Progress) and first.message.startswith("Counting words")
    training.close()
    deadline = time.monotonic() + 10
    while any(t.name == "tokenizer training" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(t.name == "tokenizer training" for t in threading.enumerate())


def test_a_worker_training_closed_early_kills_its_worker(monkeypatch):
    from playground.core import tokenizer_worker

    killed = []
    kill = tokenizer_worker.WorkerProcess.kill
    monkeypatch.setattr(tokenizer_worker.WorkerProcess, "kill", lambda self: (killed.append(self), kill(self)))
    training = train_tokenizer(default_corpus(), spec_for_kind("unigram", vocab_size=4000))
    assert isinstance(next(training), Progress)
    training.close()
    assert len(killed) == 1 and not killed[0].alive
    assert run_quietly(train_tokenizer(CORPUS, spec_for_kind("bpe", vocab_size=300))).vocab_size == 300


def test_the_window_gets_special_tokens_in_the_text_as_an_answer():
    from playground.core.tokenization import SpecialTokensInText, train_tokenizer_or_refusal

    spec = spec_for_kind("wordlevel", vocab_size=50, special_tokens=("[UNK]", "cat"))
    refusal = run_quietly(train_tokenizer_or_refusal(CORPUS, spec))
    assert isinstance(refusal, SpecialTokensInText) and list(refusal.found) == ["cat"]
    tok = run_quietly(train_tokenizer_or_refusal(CORPUS, spec, allow_special_in_text=True))
    assert isinstance(tok, LoadedTokenizer) and "cat" in tok.special_tokens


def test_the_sweep_yields_each_point_as_it_is_measured():
    from playground.core.tokenizer_sweep import SweepPoint

    items = []
    sweep = vocab_size_sweep(CORPUS, sizes=(260, 300))
    points = run_job(sweep, items, items)
    kinds = [type(item).__name__ for item in items]
    assert kinds.count("SweepPoint") == 2 and kinds[-1] == "SweepPoint"
    assert [p for p in items if isinstance(p, SweepPoint)] == [SweepPoint(s, c) for s, c in points]
    # Each training's progress is one part of the whole, its message named by its size.
    firsts = [p for p in items if isinstance(p, Progress)]
    assert firsts[0].message.startswith("Vocab 260: ") and firsts[-1].message.startswith("Vocab 300: ")
    assert all(0 <= p.fraction <= 0.5 for p in firsts if p.message.startswith("Vocab 260"))
