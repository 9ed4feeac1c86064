"""Tokenizers: train them (five kinds, with HF ``tokenizers``), open and save
``tokenizer.json``, and take text apart into the pieces the panel colours.

Training runs in a worker process (see :mod:`playground.core.tokenizer_worker`)
because the library's merge phase cannot be interrupted; killing the process
is how Cancel takes effect within a fraction of a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator, Optional

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from playground.core.corpus import Corpus, CorpusStats
from playground.core.files import parse_json, read_bytes, same_file, write_bytes_atomic
from playground.core.progress import CancelToken, Progress, ProgressFn, UserError, no_progress

# kind -> (label shown to people, one-line explanation for the tooltip)
KINDS: dict[str, tuple[str, str]] = {
    "bpe": ("Byte-level BPE (GPT-2)",
            "Starts from the 256 byte values and repeatedly merges the most frequent "
            "neighbouring pair. Any text can be encoded; no unknown tokens. Used by GPT-2/3/4 and LLaMA 3."),
    "wordpiece": ("WordPiece (BERT)",
                  "Splits words into a first piece and '##' continuations, choosing merges that "
                  "most raise the corpus likelihood. Used by BERT."),
    "unigram": ("Unigram (SentencePiece)",
                "Starts from many candidate pieces and prunes those that matter least to the "
                "corpus likelihood. '▁' marks a word start. Used by T5 and ALBERT."),
    "wordlevel": ("Word-level",
                  "One token per whole word or punctuation mark; rare words become [UNK]. "
                  "Shows why subwords were invented."),
    "char": ("Character-level",
             "One token per character: a tiny vocabulary but long sequences. Characters "
             "beyond the vocabulary size (the rarest) become [UNK]."),
}

SHORT_NAMES = {"bpe": "BPE", "wordpiece": "WordPiece", "unigram": "Unigram", "wordlevel": "Words", "char": "Chars"}

DEFAULT_SPECIAL_TOKENS: dict[str, tuple[str, ...]] = {
    "bpe": ("<|endoftext|>",),
    "wordpiece": ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"),
    "unigram": ("<unk>",),
    "wordlevel": ("[UNK]",),
    "char": ("[UNK]",),
}
# Markers that corpora hold on purpose (TinyStories separates stories with <|endoftext|>,
# WikiText writes rare words as <unk>): finding one in the text is not a mistake.
KNOWN_MARKERS = frozenset(t for tokens in DEFAULT_SPECIAL_TOKENS.values() for t in tokens)
UNK_TOKEN = {"wordpiece": "[UNK]", "unigram": "<unk>", "wordlevel": "[UNK]", "char": "[UNK]"}
BYTE_ALPHABET = 256
MAX_VOCAB_SIZE = 1_000_000  # more than any real model uses; the embedding table grows with it


@dataclass(frozen=True)
class TokenizerSpec:
    """How to train a tokenizer."""

    kind: str = "bpe"
    vocab_size: int = 2000
    min_frequency: int = 2
    special_tokens: tuple[str, ...] = DEFAULT_SPECIAL_TOKENS["bpe"]
    lowercase: bool = False

    def to_dict(self) -> dict:
        return {"kind": self.kind, "vocab_size": self.vocab_size, "min_frequency": self.min_frequency,
                "special_tokens": list(self.special_tokens), "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, data: dict) -> "TokenizerSpec":
        return cls(kind=data["kind"], vocab_size=int(data["vocab_size"]),
                   min_frequency=int(data["min_frequency"]),
                   special_tokens=tuple(data["special_tokens"]), lowercase=bool(data["lowercase"]))

    @property
    def label(self) -> str:
        return f"{KINDS[self.kind][0]} · {self.vocab_size:,}"

    @property
    def short_label(self) -> str:
        return f"{SHORT_NAMES[self.kind]} {self.vocab_size:,}"


def spec_for_kind(kind: str, **changes) -> TokenizerSpec:
    """A spec with the special tokens that suit ``kind``."""
    return replace(TokenizerSpec(kind=kind, special_tokens=_unk_first(kind, DEFAULT_SPECIAL_TOKENS[kind])), **changes)


def _unk_first(kind: str, specials: Iterable[str]) -> tuple[str, ...]:
    specials = tuple(dict.fromkeys(s for s in specials if s))
    unk = UNK_TOKEN.get(kind)
    if unk and unk not in specials:
        specials = (unk,) + specials
    return specials


# --------------------------------------------------------------------------- checking a spec


def minimum_vocab_size(spec: TokenizerSpec, stats: Optional[CorpusStats] = None) -> int:
    """The smallest vocab this spec can have on a corpus with these stats."""
    specials = len(_unk_first(spec.kind, spec.special_tokens))
    if spec.kind == "bpe":
        return BYTE_ALPHABET + specials
    if spec.kind in ("wordpiece", "unigram") and stats is not None:
        alphabet = {c.lower() if spec.lowercase else c for c in stats.alphabet if not c.isspace()}
        return len(alphabet) + specials + (1 if spec.kind == "unigram" else 0)
    return specials + 1


def check_spec(spec: TokenizerSpec, stats: Optional[CorpusStats] = None) -> None:
    """Raise :class:`UserError` with a sentence when the spec cannot work."""
    if spec.kind not in KINDS:
        raise UserError(f"Unknown tokenizer kind {spec.kind!r}; choose one of {', '.join(KINDS)}.")
    if spec.min_frequency < 1:
        raise UserError("Minimum frequency must be at least 1.")
    if spec.vocab_size > MAX_VOCAB_SIZE:
        raise UserError(f"A vocab size above {MAX_VOCAB_SIZE:,} is more than any real model uses; choose a smaller one.")
    least = minimum_vocab_size(spec, stats)
    if spec.vocab_size < least:
        if spec.kind == "bpe":
            why = f"byte-level BPE starts from all {BYTE_ALPHABET} byte values plus {least - BYTE_ALPHABET} special token(s)"
        elif spec.kind in ("wordpiece", "unigram"):
            why = "every distinct character of the corpus needs a token of its own, plus the special tokens"
        else:
            why = "the special tokens alone take that many"
        raise UserError(
            f"Vocab size {spec.vocab_size:,} is smaller than the alphabet: {why}. "
            f"Choose at least {least:,}."
        )


# --------------------------------------------------------------------------- training


def build_tokenizer(spec: TokenizerSpec) -> tuple[Tokenizer, trainers.Trainer]:
    """An untrained tokenizer and its trainer, set up the way each kind is usually built."""
    specials = list(_unk_first(spec.kind, spec.special_tokens))
    lower = [normalizers.Lowercase()] if spec.lowercase else []
    if spec.kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=spec.vocab_size, min_frequency=spec.min_frequency, special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    elif spec.kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token=UNK_TOKEN["wordpiece"]))
        tok.normalizer = normalizers.BertNormalizer(lowercase=spec.lowercase, strip_accents=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(
            vocab_size=spec.vocab_size, min_frequency=spec.min_frequency, special_tokens=specials,
            show_progress=False)
    elif spec.kind == "unigram":
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), *lower])
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=spec.vocab_size, special_tokens=specials, unk_token=UNK_TOKEN["unigram"],
            show_progress=False)
    elif spec.kind == "wordlevel":
        tok = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN["wordlevel"]))
        if lower:
            tok.normalizer = lower[0]
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.WordLevelTrainer(
            vocab_size=spec.vocab_size, min_frequency=spec.min_frequency, special_tokens=specials,
            show_progress=False)
    elif spec.kind == "char":
        # A BPE that learns no merges is a character vocabulary: the
        # ``limit_alphabet`` most frequent characters, the rest [UNK].
        tok = Tokenizer(models.BPE(unk_token=UNK_TOKEN["char"]))
        if lower:
            tok.normalizer = lower[0]
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"\w+|\W"), behavior="isolated")
        tok.decoder = decoders.Fuse()
        trainer = trainers.BpeTrainer(
            vocab_size=0, special_tokens=specials,
            limit_alphabet=max(1, spec.vocab_size - len(specials)), show_progress=False)
    else:
        raise UserError(f"Unknown tokenizer kind {spec.kind!r}.")
    return tok, trainer


TRAIN_PIECE_CHARS = 64 * 1024


def split_lines(text: str, size: int) -> Iterator[str]:
    """Cut ``text`` into pieces of about ``size`` characters, at line breaks where possible."""
    start = 0
    while start < len(text):
        end = start + size
        if end < len(text):
            cut = text.rfind("\n", start, end) + 1
            end = cut if cut > start else end
        yield text[start:end]
        start = end


class SpecialTokensInText(UserError):
    """Special tokens that occur in the corpus as ordinary text.

    A special token is never split and decoding leaves it out, so a special
    token "the" would make every "the" vanish from what the model writes.
    The usual markers (:data:`KNOWN_MARKERS`) are not counted: a corpus that
    holds them holds them on purpose. Another marker placed in the text on
    purpose is the one good reason to go on (``allow_special_in_text``).
    """

    def __init__(self, found: dict[str, int]) -> None:
        self.found = found  # token -> occurrences in the part of the corpus read so far
        names = [f"“{token}”" for token in found]
        names = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        super().__init__(
            f"The special token{'s' if len(found) > 1 else ''} {names} occur{'' if len(found) > 1 else 's'} in "
            f"the corpus as ordinary text. A special token is never split and decoding leaves it out, so every "
            f"{names} would vanish from what the model writes. Choose special tokens that do not occur in the "
            "text, such as <|endoftext|>.")


class _SpecialTokenFinder:
    """Finds special tokens in streamed chunks, including one that spans two chunks."""

    def __init__(self, specials: Iterable[str]) -> None:
        self.specials = [s for s in specials if s and s not in KNOWN_MARKERS]
        self.carry = ""
        self.keep = max((len(s) for s in self.specials), default=1) - 1

    def check(self, chunk: str) -> None:
        text = self.carry + chunk
        # The carry is shorter than any special token, so nothing is counted twice.
        found = {s: text.count(s) for s in self.specials if s in text}
        if found:
            raise SpecialTokensInText(found)
        self.carry = text[len(text) - self.keep:] if self.keep else ""


def train_in_process(
    corpus: Corpus,
    spec: TokenizerSpec,
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelToken] = None,
    allow_special_in_text: bool = False,
) -> Tokenizer:
    """Train in this process. Cancel is obeyed while the corpus is read, not
    during the final merge computation (use :func:`train_tokenizer` for that).

    Raises :class:`SpecialTokensInText` when a special token occurs in the
    corpus, unless ``allow_special_in_text``; the check rides on the one read
    of the corpus, so it costs no extra pass."""
    check_spec(spec)
    tok, trainer = build_tokenizer(spec)
    total = max(1, corpus.size_bytes)
    seen = 0
    finder = None if allow_special_in_text else _SpecialTokenFinder(_unk_first(spec.kind, spec.special_tokens))

    def chunks():
        nonlocal seen
        for chunk in corpus.iter_text(cancel):
            if finder is not None and finder.specials:
                finder.check(chunk)
            seen += len(chunk)
            progress(Progress(0.9 * min(1.0, seen / total), f"Counting words: {seen / 1e6:.1f} MB read"))
            # The library counts words in parallel, one piece per item: ~64 KB
            # pieces keep every core busy (1 MB chunks left most idle).
            yield from split_lines(chunk, TRAIN_PIECE_CHARS)
        progress(Progress(None, "Learning the vocabulary…"))

    try:
        tok.train_from_iterator(chunks(), trainer)
    except Exception as e:  # the library reports problems as plain exceptions
        if cancel is not None and cancel.cancelled:
            cancel.raise_if_cancelled()
        message = str(e)
        if "not large enough to contain all chars" in message:
            raise UserError(
                f"Vocab size {spec.vocab_size:,} is smaller than the alphabet: Unigram needs a token for "
                "every distinct character of the corpus. Choose a larger vocab size.") from e
        raise
    if tok.get_vocab_size() == 0 or tok.get_vocab_size() <= len(spec.special_tokens):
        raise UserError("Training found no tokens: the corpus has no text the tokenizer could learn from.")
    return tok


def train_tokenizer(
    corpus: Corpus,
    spec: TokenizerSpec,
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelToken] = None,
    stats: Optional[CorpusStats] = None,
    allow_special_in_text: bool = False,
) -> "LoadedTokenizer":
    """Train in a worker process that Cancel can stop at any moment."""
    from playground.core.tokenizer_worker import run_in_worker

    check_spec(spec, stats)
    tok_json = run_in_worker(corpus, spec, progress, cancel, allow_special_in_text)
    return LoadedTokenizer(Tokenizer.from_str(tok_json), name=spec.label, spec=spec)


# --------------------------------------------------------------------------- a loaded tokenizer


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in character for each byte value."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    mapping, extra = {}, 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


UNICODE_TO_BYTE = {ch: b for b, ch in _bytes_to_unicode().items()}


@dataclass(frozen=True)
class TokenPiece:
    """One token of an encoding, as the live view shows it."""

    index: int
    id: int
    token: str           # the vocabulary entry, e.g. 'Ġworld' or '##ing'
    text: str            # the slice of the input it covers ('' for added special tokens)
    raw: bytes           # the bytes this token stands for
    start: int
    end: int
    special: bool = False
    partial: bool = False  # covers part of a character (byte-level BPE splits multi-byte characters)
    unknown: bool = False  # the unknown token ([UNK], <unk>) standing for text the vocabulary lacks


@dataclass
class LoadedTokenizer:
    """A trained or opened tokenizer with what the app needs to show it."""

    tokenizer: Tokenizer
    name: str = "tokenizer"
    spec: Optional[TokenizerSpec] = None
    path: Optional[Path] = None
    turned_off: tuple[str, ...] = ()  # settings of the file that were switched off, in words

    def __post_init__(self) -> None:
        # A tokenizer.json made for a classifier (BERT's) pads every text to a fixed length and
        # cuts longer ones. The app does its own cutting (the context window), and padding would
        # fill training data, prompts and counts with [PAD]: both are switched off here, where
        # every tokenizer in the app is made, whether trained, opened or read from a checkpoint.
        notes = list(self.turned_off)
        padding, truncation = self.tokenizer.padding, self.tokenizer.truncation
        if padding is not None:
            to = f"to {padding['length']} tokens" if padding.get("length") else "to the longest text"
            notes.append(f"padding {to} with {padding.get('pad_token', '[PAD]')}")
            self.tokenizer.no_padding()
        if truncation is not None:
            notes.append(f"truncation at {truncation['max_length']} tokens")
            self.tokenizer.no_truncation()
        self.turned_off = tuple(notes)

    @cached_property
    def description(self) -> dict:
        return json.loads(self.tokenizer.to_str())

    @property
    def model_type(self) -> str:
        return self.description.get("model", {}).get("type", "?")

    @cached_property  # a tokenizer never changes once made; panels ask on every keystroke
    def vocab_size(self) -> int:
        """One more than the largest id: a tokenizer.json from elsewhere may skip ids,
        and the model's embedding table must hold every id it can be given."""
        vocab = self.tokenizer.get_vocab(with_added_tokens=True)
        return max(vocab.values(), default=-1) + 1

    @cached_property
    def is_byte_level(self) -> bool:
        def has_bytelevel(node) -> bool:
            if isinstance(node, dict):
                return node.get("type") == "ByteLevel" or any(has_bytelevel(v) for v in node.values())
            if isinstance(node, list):
                return any(has_bytelevel(v) for v in node)
            return False
        d = self.description
        return has_bytelevel(d.get("pre_tokenizer")) or has_bytelevel(d.get("decoder"))

    @cached_property
    def special_tokens(self) -> frozenset[str]:
        return frozenset(t["content"] for t in self.description.get("added_tokens", []) if t.get("special"))

    @cached_property
    def unk_id(self) -> Optional[int]:
        """The id of the unknown token, which stands for text the vocabulary cannot write."""
        model = self.description.get("model", {})
        if model.get("type") == "Unigram":
            return model.get("unk_id")
        unk = model.get("unk_token")
        return self.tokenizer.token_to_id(unk) if unk else None

    @property
    def kind_label(self) -> str:
        if self.spec is not None:
            return KINDS[self.spec.kind][0]
        return ("Byte-level " if self.is_byte_level else "") + self.model_type

    def token_bytes(self, token: str) -> bytes:
        """The bytes a vocabulary entry stands for."""
        if token in self.special_tokens:
            return token.encode("utf-8")
        if self.is_byte_level and all(ch in UNICODE_TO_BYTE for ch in token):
            return bytes(UNICODE_TO_BYTE[ch] for ch in token)
        model = self.description.get("model", {})
        prefix = model.get("continuing_subword_prefix") or ""
        if prefix and token.startswith(prefix) and token != prefix:
            token = token[len(prefix):]
        return token.replace("▁", " ").encode("utf-8")

    def encode(self, text: str) -> list[TokenPiece]:
        """Encode exactly as the library does, with each token's span of ``text``."""
        enc = self.tokenizer.encode(text)
        # Each attribute access copies the whole list out of Rust: read them once.
        ids, tokens, offsets = enc.ids, enc.tokens, enc.offsets
        pieces, prev_span = [], None
        for i, (tid, token, (start, end)) in enumerate(zip(ids, tokens, offsets)):
            special = token in self.special_tokens and start == end
            shares_span = prev_span == (start, end) or (
                i + 1 < len(offsets) and offsets[i + 1] == (start, end))
            raw = self.token_bytes(token)
            # A byte-level token such as 'ĠðŁ' (a space and the first bytes of an emoji)
            # shares no span with its neighbours yet still ends inside a character.
            cut_character = self.is_byte_level and not _is_complete_utf8(raw)
            partial = not special and start != end and (shares_span or cut_character)
            # (Unigram names its unknown token by the text it replaces; "[UNK]" typed is not unknown.)
            unknown = (tid == self.unk_id and start != end
                       and not (token in self.special_tokens and text[start:end] == token))
            pieces.append(TokenPiece(
                index=i, id=tid, token=token, text="" if special else text[start:end],
                raw=raw, start=start, end=end, special=special, partial=partial, unknown=unknown))
            prev_span = (start, end)
        return pieces

    def token_starts(self, text: str) -> list[int]:
        """Where each token of ``text`` begins (character offsets), as generation encodes it:
        without the tokens a template adds around a text (BERT's [CLS] and [SEP])."""
        return [start for start, _ in self.tokenizer.encode(text, add_special_tokens=False).offsets]

    def encode_ids(self, texts: list[str]) -> list[list[int]]:
        """Fast batch encoding (no per-token detail), for corpora."""
        fast = getattr(self.tokenizer, "encode_batch_fast", None)  # tokenizers >= 0.20: no offsets
        encodings = (fast or self.tokenizer.encode_batch)(texts, add_special_tokens=False)
        return [e.ids for e in encodings]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)

    def token_text(self, token_id: int) -> str:
        """One token's text, a special token shown by its name (decode leaves those out)."""
        return self.tokenizer.decode([token_id], skip_special_tokens=False)

    def merges(self) -> list[tuple[str, str]]:
        """BPE merges in rank order (empty for other models)."""
        raw = self.description.get("model", {}).get("merges") or []
        return [tuple(m.split(" ", 1)) if isinstance(m, str) else (m[0], m[1]) for m in raw]

    def vocabulary(self) -> list["VocabEntry"]:
        """Every token, by id, with its bytes and (for BPE) the rank of the merge that made it."""
        rank = {a + b: r for r, (a, b) in enumerate(self.merges())}
        vocab = self.tokenizer.get_vocab(with_added_tokens=True)
        rows = []
        for token, tid in sorted(vocab.items(), key=lambda kv: kv[1]):
            raw = self.token_bytes(token)
            rows.append(VocabEntry(id=tid, token=token, text=raw.decode("utf-8", errors="replace"),
                                   raw=raw, merge_rank=rank.get(token), special=token in self.special_tokens))
        return rows

    def save(self, path: Path) -> None:
        """Write ``tokenizer.json`` atomically (a temporary name, then rename)."""
        path = Path(path)
        # Written by Python, not ``Tokenizer.save``: the library reports a missing folder
        # or a full disk as a bare ``Exception``, and says nothing of which path failed.
        try:
            write_bytes_atomic(path, self.tokenizer.to_str(pretty=True).encode("utf-8"))
        except OSError as e:
            raise UserError(f"Could not save the tokenizer to {path}: {e.strerror or e}.") from e
        self.path = path


def check_output_path(out: Path, inputs: Iterable[Path] = (), overwrite: bool = False) -> Path:
    """Refuse a place to save a tokenizer that would destroy something: one of the
    ``inputs`` (the corpus), a folder, or (unless ``overwrite``) an existing file.
    Returns ``out`` made absolute."""
    out = Path(out).expanduser().resolve()
    for source in inputs:
        if same_file(out, Path(source)):
            raise UserError(f"{out} is the corpus the tokenizer learns from: saving there would replace your "
                            "text with JSON. Choose another file name.")
    if out.is_dir():
        raise UserError(f"{out} is a folder: give the file to save, such as {out / 'tokenizer.json'}.")
    if out.exists() and not overwrite:
        raise UserError(f"{out} already exists. Choose another file name, or replace it with --overwrite.")
    if not out.parent.is_dir():
        raise UserError(f"Could not save the tokenizer to {out}: the folder {out.parent} does not exist.")
    return out


def _is_complete_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class VocabEntry:
    id: int
    token: str
    text: str
    raw: bytes
    merge_rank: Optional[int]
    special: bool


def open_tokenizer(path: Path | str) -> LoadedTokenizer:
    """Open a ``tokenizer.json`` (made here or elsewhere: BERT, GPT-2, ...)."""
    path = Path(path)
    if path.is_dir():
        path = path / "tokenizer.json"
    raw = read_bytes(path, "a tokenizer.json")  # a regular file of bounded size; UserError otherwise
    if not raw.strip():
        raise UserError(f"{path.name} is empty: a tokenizer.json holds a JSON description of a tokenizer.")
    data = parse_json(raw, path.name, "a tokenizer.json")  # depth and size checked before Rust parses it
    if not isinstance(data, dict) or "model" not in data:
        raise UserError(f"{path.name} is JSON but not a tokenizer.json: it has no \"model\" section.")
    try:
        tok = Tokenizer.from_str(raw.decode("utf-8-sig"))
    except Exception as e:
        raise UserError(f"{path.name} could not be opened as a tokenizer: {e}.") from e
    if tok.get_vocab_size(with_added_tokens=True) == 0:
        raise UserError(f"{path.name} describes a tokenizer with an empty vocabulary: it has no tokens to use.")
    _check_ids(tok, path.name)
    try:
        tok.encode("Hello, world! 123")
    except Exception as e:  # e.g. no unknown token for text outside the vocabulary
        raise UserError(f"{path.name} opened, but it cannot encode ordinary text: {e}.") from e
    name = path.parent.name + "/" + path.name if path.name == "tokenizer.json" else path.stem
    return LoadedTokenizer(tok, name=name, path=path)


def _check_ids(tok: Tokenizer, name: str) -> None:
    """Refuse ids that would size an absurd embedding table: a model needs a row for every
    id up to the largest, so one stray id of 50,000,000 would ask for 50 million rows."""
    vocab = tok.get_vocab(with_added_tokens=True)
    entries, size = len(vocab), max(vocab.values()) + 1
    if size > MAX_VOCAB_SIZE:
        raise UserError(
            f"{name} has {entries:,} tokens but its largest id is {size - 1:,}: a model would need "
            f"{size:,} embedding rows, more than the {MAX_VOCAB_SIZE:,} this app allows. "
            "The file is damaged or not meant for a model; renumber its ids from 0.")
    # A few unused ids are normal (a vocabulary padded by hand); most of the table unused is not.
    if size - entries > max(1000, entries):
        raise UserError(
            f"{name} has {entries:,} tokens but its largest id is {size - 1:,}: {size - entries:,} ids "
            "would be unused rows in the model. The file is damaged or its ids are not numbered from 0; "
            "renumber them.")


# --------------------------------------------------------------------------- comparing


SWEEP_SIZES = (300, 500, 1000, 2000, 4000, 8000, 16000)
SWEEP_SAMPLE_CHARS = 4_000_000


def chars_per_token(tok: LoadedTokenizer, text: str) -> float:
    """Characters of ``text`` per token: higher means a more compact encoding."""
    lines = text.splitlines(keepends=True) or [text]
    n_tokens = sum(len(ids) for ids in tok.encode_ids(lines))
    return len(text) / max(1, n_tokens)


def vocab_size_sweep(
    corpus: Corpus,
    sizes: Iterable[int] = SWEEP_SIZES,
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelToken] = None,
    sample_chars: int = SWEEP_SAMPLE_CHARS,
    on_point=None,
) -> list[tuple[int, float]]:
    """Train byte-level BPE at each size on (the start of) the corpus and measure
    characters per token on that text. ``on_point(size, cpt)`` hears each result."""
    sizes = list(sizes)
    text = corpus.read_text(limit_chars=sample_chars)
    if not text.strip():
        raise UserError("The corpus is empty: there is no text to measure.")
    sample = Corpus(name=corpus.name, text=text)
    points = []
    for i, size in enumerate(sizes):
        def sub(p: Progress, i=i, size=size) -> None:
            inner = 0.5 if p.fraction is None else p.fraction
            progress(Progress((i + inner) / len(sizes), f"Vocab {size:,}: {p.message}"))
        tok = train_tokenizer(sample, spec_for_kind("bpe", vocab_size=size), sub, cancel)
        point = (size, chars_per_token(tok, text))
        points.append(point)
        if on_point is not None:
            on_point(*point)
    return points
