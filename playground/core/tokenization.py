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
from playground.core.files import parse_json, read_bytes
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
UNK_TOKEN = {"wordpiece": "[UNK]", "unigram": "<unk>", "wordlevel": "[UNK]", "char": "[UNK]"}
BYTE_ALPHABET = 256


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
    if spec.vocab_size > 1_000_000:
        raise UserError("A vocab size above 1,000,000 is more than any real model uses; choose a smaller one.")
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


def train_in_process(
    corpus: Corpus,
    spec: TokenizerSpec,
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelToken] = None,
) -> Tokenizer:
    """Train in this process. Cancel is obeyed while the corpus is read, not
    during the final merge computation (use :func:`train_tokenizer` for that)."""
    check_spec(spec)
    tok, trainer = build_tokenizer(spec)
    total = max(1, corpus.size_bytes)
    seen = 0

    def chunks():
        nonlocal seen
        for chunk in corpus.iter_text(cancel):
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
) -> "LoadedTokenizer":
    """Train in a worker process that Cancel can stop at any moment."""
    from playground.core.tokenizer_worker import run_in_worker

    check_spec(spec, stats)
    tok_json = run_in_worker(corpus, spec, progress, cancel)
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


@dataclass
class LoadedTokenizer:
    """A trained or opened tokenizer with what the app needs to show it."""

    tokenizer: Tokenizer
    name: str = "tokenizer"
    spec: Optional[TokenizerSpec] = None
    path: Optional[Path] = None

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
            pieces.append(TokenPiece(
                index=i, id=tid, token=token, text="" if special else text[start:end],
                raw=raw, start=start, end=end, special=special, partial=partial))
            prev_span = (start, end)
        return pieces

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
        tmp = path.with_name(path.name + ".tmp")
        # Written by Python, not ``Tokenizer.save``: the library reports a missing folder
        # or a full disk as a bare ``Exception``, and says nothing of which path failed.
        try:
            tmp.write_text(self.tokenizer.to_str(pretty=True), encoding="utf-8")
            tmp.replace(path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise UserError(f"Could not save the tokenizer to {path}: {e.strerror or e}.") from e
        self.path = path


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
    try:
        raw = read_bytes(path, "a tokenizer.json")  # a regular file of bounded size
    except OSError as e:
        raise UserError(f"Could not read {path}: {e.strerror or e}.") from e
    if not raw.strip():
        raise UserError(f"{path.name} is empty: a tokenizer.json holds a JSON description of a tokenizer.")
    try:
        data = parse_json(raw, path.name, "a tokenizer.json")  # depth and size checked before Rust parses it
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path.name} is not a tokenizer.json: it is not valid JSON ({e}).") from e
    if not isinstance(data, dict) or "model" not in data:
        raise UserError(f"{path.name} is JSON but not a tokenizer.json: it has no \"model\" section.")
    try:
        tok = Tokenizer.from_str(raw.decode("utf-8-sig"))
    except Exception as e:
        raise UserError(f"{path.name} could not be opened as a tokenizer: {e}.") from e
    if tok.get_vocab_size(with_added_tokens=True) == 0:
        raise UserError(f"{path.name} describes a tokenizer with an empty vocabulary: it has no tokens to use.")
    try:
        tok.encode("Hello, world! 123")
    except Exception as e:  # e.g. no unknown token for text outside the vocabulary
        raise UserError(f"{path.name} opened, but it cannot encode ordinary text: {e}.") from e
    name = path.parent.name + "/" + path.name if path.name == "tokenizer.json" else path.stem
    return LoadedTokenizer(tok, name=name, path=path)


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
