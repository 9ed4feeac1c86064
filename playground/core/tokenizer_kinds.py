"""The five kinds of tokenizer the app trains, each with every fact about it in one record.

The Tokenizer Lab's menu, tooltips and defaults, the command line's choices,
the spec checks, the vocabulary browser's notes and the training itself all
read :data:`KINDS`; adding a kind means adding one :class:`TokenizerKind` here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal, Optional

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

if TYPE_CHECKING:
    from playground.core.tokenization import TokenizerSpec

Builder = Callable[["TokenizerSpec", list[str]], "tuple[Tokenizer, trainers.Trainer]"]

GENERAL_VOCAB_TIP = (
    "How many distinct tokens the tokenizer may have. Bigger: fewer tokens per text, "
    "but a bigger embedding table in the model."
)


@dataclass(frozen=True)
class TokenizerKind:
    """What the app knows about one kind of tokenizer."""

    key: str  # its name in specs, workspaces and on the command line
    label: str  # shown in menus and on a tokenizer
    short_name: str  # in a tokenizer's short label ("BPE 2,000")
    description: str  # the menu entry's tooltip: how it cuts text, who uses it
    default_vocab_size: int  # what the Tokenizer Lab offers first
    special_tokens: tuple[str, ...]  # the usual ones, the unknown token first where there is one
    unk_token: Optional[str]  # stands for text the vocabulary cannot write (None: every text can)
    # What even the smallest vocabulary must hold besides the special tokens: all 256 byte values,
    # every distinct character of the corpus, or nothing more than one learned token.
    alphabet: Literal["bytes", "corpus", "none"]
    build: Builder = field(repr=False, compare=False)  # an untrained tokenizer and its trainer
    uses_min_frequency: bool = True  # whether its trainer honours a minimum frequency
    alphabet_extra: int = 0  # tokens its trainer needs beyond the alphabet
    vocab_size_tip: str = GENERAL_VOCAB_TIP
    marker: Optional[tuple[str, str]] = None  # a symbol in its vocabulary entries, and what it marks


# --------------------------------------------------------------------------- how each kind is built
# Each the way that kind is usually set up; ``specials`` has the unknown token first.


def _lowercase(spec: "TokenizerSpec") -> list[normalizers.Normalizer]:
    return [normalizers.Lowercase()] if spec.lowercase else []


def _bpe(spec: "TokenizerSpec", specials: list[str]):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        min_frequency=spec.min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    return tok, trainer


def _wordpiece(spec: "TokenizerSpec", specials: list[str]):
    tok = Tokenizer(models.WordPiece(unk_token=KINDS["wordpiece"].unk_token))
    tok.normalizer = normalizers.BertNormalizer(lowercase=spec.lowercase, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=spec.vocab_size, min_frequency=spec.min_frequency, special_tokens=specials, show_progress=False
    )
    return tok, trainer


def _unigram(spec: "TokenizerSpec", specials: list[str]):
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), *_lowercase(spec)])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=spec.vocab_size, special_tokens=specials, unk_token=KINDS["unigram"].unk_token, show_progress=False
    )
    return tok, trainer


def _wordlevel(spec: "TokenizerSpec", specials: list[str]):
    tok = Tokenizer(models.WordLevel(unk_token=KINDS["wordlevel"].unk_token))
    if spec.lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(
        vocab_size=spec.vocab_size, min_frequency=spec.min_frequency, special_tokens=specials, show_progress=False
    )
    return tok, trainer


def _char(spec: "TokenizerSpec", specials: list[str]):
    # A BPE that learns no merges is a character vocabulary: the
    # ``limit_alphabet`` most frequent characters, the rest [UNK].
    tok = Tokenizer(models.BPE(unk_token=KINDS["char"].unk_token))
    if spec.lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"\w+|\W"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(
        vocab_size=0,
        special_tokens=specials,
        limit_alphabet=max(1, spec.vocab_size - len(specials)),
        show_progress=False,
    )
    return tok, trainer


# --------------------------------------------------------------------------- the registry


KINDS: dict[str, TokenizerKind] = {
    kind.key: kind
    for kind in (
        TokenizerKind(
            key="bpe",
            label="Byte-level BPE (GPT-2)",
            short_name="BPE",
            description="Starts from the 256 byte values and repeatedly merges the most frequent neighbouring "
            "pair. Any text can be encoded; no unknown tokens. Used by GPT-2/3/4 and LLaMA 3.",
            default_vocab_size=2000,
            special_tokens=("<|endoftext|>",),
            unk_token=None,
            alphabet="bytes",
            build=_bpe,
            marker=("Ġ", "a leading space in byte-level BPE"),
        ),
        TokenizerKind(
            key="wordpiece",
            label="WordPiece (BERT)",
            short_name="WordPiece",
            description="Splits words into a first piece and '##' continuations, choosing merges that most "
            "raise the corpus likelihood. Used by BERT.",
            default_vocab_size=2000,
            special_tokens=("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"),
            unk_token="[UNK]",
            alphabet="corpus",
            build=_wordpiece,
            marker=("##", "a word continuation in WordPiece"),
        ),
        TokenizerKind(
            key="unigram",
            label="Unigram (SentencePiece)",
            short_name="Unigram",
            description="Starts from many candidate pieces and prunes those that matter least to the corpus "
            "likelihood. '▁' marks a word start. Used by T5 and ALBERT.",
            default_vocab_size=2000,
            special_tokens=("<unk>",),
            unk_token="<unk>",
            alphabet="corpus",
            build=_unigram,
            uses_min_frequency=False,
            alphabet_extra=1,
            marker=("▁", "a word start in Unigram"),
        ),
        TokenizerKind(
            key="wordlevel",
            label="Word-level",
            short_name="Words",
            description="One token per whole word or punctuation mark; rare words become [UNK]. "
            "Shows why subwords were invented.",
            default_vocab_size=5000,
            special_tokens=("[UNK]",),
            unk_token="[UNK]",
            alphabet="none",
            build=_wordlevel,
        ),
        TokenizerKind(
            key="char",
            label="Character-level",
            short_name="Chars",
            description="One token per character: a tiny vocabulary but long sequences. Characters beyond the "
            "vocabulary size (the rarest) become [UNK].",
            default_vocab_size=200,
            special_tokens=("[UNK]",),
            unk_token="[UNK]",
            alphabet="none",
            build=_char,
            uses_min_frequency=False,
            vocab_size_tip="Character-level: the most frequent characters kept; the rest become [UNK].",
        ),
    )
}

# Markers that corpora hold on purpose (TinyStories separates stories with <|endoftext|>,
# WikiText writes rare words as <unk>): finding one in the text is not a mistake.
KNOWN_MARKERS = frozenset(token for kind in KINDS.values() for token in kind.special_tokens)


def vocabulary_markers_note() -> str:
    """What the kinds' marker symbols mean, as one phrase ("Ġ marks a leading space in …, ## a …")."""
    marked = [kind.marker for kind in KINDS.values() if kind.marker is not None]
    return ", ".join(f"{symbol} {'marks ' if i == 0 else ''}{what}" for i, (symbol, what) in enumerate(marked))
