"""Tokenizers: train them (the kinds in :mod:`playground.core.tokenizer_kinds`, with HF
``tokenizers``), open and save ``tokenizer.json``, and take text apart into the pieces
the panel colours.

Training is a job generator (``playground/engine/jobs.py``). The window trains in a
worker process (:func:`train_tokenizer`, see :mod:`playground.core.tokenizer_worker`)
because the library's merge phase cannot be interrupted; killing the process is how
Cancel takes effect within a fraction of a second.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from queue import Empty, Queue
from typing import Iterable, Iterator, Optional

from tokenizers import Tokenizer, trainers

from playground.core.corpus import Corpus, CorpusStats
from playground.core.files import parse_json, read_bytes, same_file, write_bytes_atomic
from playground.core.progress import Cancelled, CancelToken, JobGenerator, Progress, UserError
from playground.core.tokenizer_kinds import KINDS, KNOWN_MARKERS, TokenizerKind  # noqa: F401 - readers find the kinds here

BYTE_ALPHABET = 256
MAX_VOCAB_SIZE = 1_000_000  # more than any real model uses; the embedding table grows with it


@dataclass(frozen=True)
class TokenizerSpec:
    """How to train a tokenizer."""

    kind: str = "bpe"
    vocab_size: int = 2000
    min_frequency: int = 2
    special_tokens: tuple[str, ...] = KINDS["bpe"].special_tokens
    lowercase: bool = False

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "vocab_size": self.vocab_size,
            "min_frequency": self.min_frequency,
            "special_tokens": list(self.special_tokens),
            "lowercase": self.lowercase,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "TokenizerSpec":
        return cls(
            kind=data["kind"],
            vocab_size=int(data["vocab_size"]),
            min_frequency=int(data["min_frequency"]),
            special_tokens=tuple(data["special_tokens"]),
            lowercase=bool(data["lowercase"]),
        )

    @property
    def label(self) -> str:
        return f"{KINDS[self.kind].label} · {self.vocab_size:,}"

    @property
    def short_label(self) -> str:
        return f"{KINDS[self.kind].short_name} {self.vocab_size:,}"


def spec_for_kind(kind: str, **changes) -> TokenizerSpec:
    """A spec with the special tokens that suit ``kind``."""
    return replace(
        TokenizerSpec(
            kind=kind,
            special_tokens=_unk_first(kind, KINDS[kind].special_tokens),
            vocab_size=KINDS[kind].default_vocab_size,
        ),
        **changes,
    )


def _unk_first(kind: str, specials: Iterable[str]) -> tuple[str, ...]:
    specials = tuple(dict.fromkeys(s for s in specials if s))
    unk = KINDS[kind].unk_token
    if unk and unk not in specials:
        specials = (unk,) + specials
    return specials


# --------------------------------------------------------------------------- checking a spec


def minimum_vocab_size(spec: TokenizerSpec, stats: Optional[CorpusStats] = None) -> int:
    """The smallest vocab this spec can have on a corpus with these stats."""
    kind = KINDS[spec.kind]
    specials = len(_unk_first(spec.kind, spec.special_tokens))
    if kind.alphabet == "bytes":
        return BYTE_ALPHABET + specials
    if kind.alphabet == "corpus" and stats is not None:
        alphabet = {c.lower() if spec.lowercase else c for c in stats.alphabet if not c.isspace()}
        return len(alphabet) + specials + kind.alphabet_extra
    return specials + 1


def check_spec(spec: TokenizerSpec, stats: Optional[CorpusStats] = None) -> None:
    """Raise :class:`UserError` with a sentence when the spec cannot work."""
    if spec.kind not in KINDS:
        raise UserError(f"Unknown tokenizer kind {spec.kind!r}; choose one of {', '.join(KINDS)}.")
    if spec.min_frequency < 1:
        raise UserError("Minimum frequency must be at least 1.")
    if spec.vocab_size > MAX_VOCAB_SIZE:
        raise UserError(
            f"A vocab size above {MAX_VOCAB_SIZE:,} is more than any real model uses; choose a smaller one."
        )
    least = minimum_vocab_size(spec, stats)
    if spec.vocab_size < least:
        alphabet = KINDS[spec.kind].alphabet
        if alphabet == "bytes":
            why = f"byte-level BPE starts from all {BYTE_ALPHABET} byte values plus {least - BYTE_ALPHABET} special token(s)"
        elif alphabet == "corpus":
            why = "every distinct character of the corpus needs a token of its own, plus the special tokens"
        else:
            why = "the special tokens alone take that many"
        raise UserError(
            f"Vocab size {spec.vocab_size:,} is smaller than the alphabet: {why}. Choose at least {least:,}."
        )


# --------------------------------------------------------------------------- training


def build_tokenizer(spec: TokenizerSpec) -> tuple[Tokenizer, trainers.Trainer]:
    """An untrained tokenizer and its trainer, set up the way its kind is usually built."""
    if spec.kind not in KINDS:
        raise UserError(f"Unknown tokenizer kind {spec.kind!r}.")
    return KINDS[spec.kind].build(spec, list(_unk_first(spec.kind, spec.special_tokens)))


TRAIN_PIECE_CHARS = 64 * 1024
HEARTBEAT_S = 0.5  # while the library is silent, the last progress is repeated this often


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
        quoted = [f"“{token}”" for token in found]
        names = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        super().__init__(
            f"The special token{'s' if len(found) > 1 else ''} {names} occur{'' if len(found) > 1 else 's'} in "
            f"the corpus as ordinary text. A special token is never split and decoding leaves it out, so every "
            f"{names} would vanish from what the model writes. Choose special tokens that do not occur in the "
            "text, such as <|endoftext|>."
        )


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
        self.carry = text[len(text) - self.keep :] if self.keep else ""


@dataclass(frozen=True)
class _TrainingEnded:
    """The training thread's last word: its tokenizer, or what stopped it."""

    tokenizer: Optional[Tokenizer] = None
    error: Optional[BaseException] = None


def train_in_process(
    corpus: Corpus,
    spec: TokenizerSpec,
    allow_special_in_text: bool = False,
    *,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[Tokenizer]:
    """Train in this process: a job generator that yields progress and returns the ``Tokenizer``.

    The library pulls the corpus through an iterator, then computes the merges
    in Rust without coming back to Python; so it runs on a thread of its own
    while this generator passes its progress on. ``cancel`` (or closing the
    generator) stops the reading at the next chunk; during the merges the
    generator gives up waiting at once, but the thread finishes them unseen.
    :func:`train_tokenizer` (a worker process, killed on Cancel) stops at once.

    Raises :class:`SpecialTokensInText` when a special token occurs in the
    corpus, unless ``allow_special_in_text``; the check rides on the one read
    of the corpus, so it costs no extra pass."""
    check_spec(spec)
    tok, trainer = build_tokenizer(spec)
    total = max(1, corpus.size_bytes)
    finder = None if allow_special_in_text else _SpecialTokenFinder(_unk_first(spec.kind, spec.special_tokens))
    events: Queue = Queue()  # Progress, then one _TrainingEnded
    stop = threading.Event()  # this generator was closed: stop reading

    def chunks() -> Iterator[str]:
        seen = 0
        for chunk in corpus.iter_text():
            if stop.is_set() or (cancel is not None and cancel.cancelled):
                raise Cancelled("Cancelled.")
            if finder is not None and finder.specials:
                finder.check(chunk)
            seen += len(chunk)
            events.put(Progress(0.9 * min(1.0, seen / total), f"Counting words: {seen / 1e6:.1f} MB read"))
            # The library counts words in parallel, one piece per item: ~64 KB
            # pieces keep every core busy (1 MB chunks left most idle).
            yield from split_lines(chunk, TRAIN_PIECE_CHARS)
        events.put(Progress(None, "Learning the vocabulary…"))

    def train() -> None:
        try:
            tok.train_from_iterator(chunks(), trainer)
            events.put(_TrainingEnded(tokenizer=tok))
        except BaseException as e:  # handed to the generator, which raises it where the caller is
            events.put(_TrainingEnded(error=e))

    threading.Thread(target=train, name="tokenizer training", daemon=True).start()
    last: Optional[Progress] = None
    last_at = time.monotonic()
    try:
        while True:
            try:
                event = events.get(timeout=0.05)  # returns as soon as there is news; the timeout polls cancel
            except Empty:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                if last is not None and time.monotonic() - last_at >= HEARTBEAT_S:  # e.g. learning the vocabulary
                    last_at = time.monotonic()
                    yield last  # the same news again, so a terminal bar's clock keeps moving
                continue
            if not isinstance(event, Progress):
                break
            last, last_at = event, time.monotonic()
            yield event
    finally:
        stop.set()
    if event.error is not None:
        _raise_training_error(event.error, spec, cancel)
    if tok.get_vocab_size() == 0 or tok.get_vocab_size() <= len(spec.special_tokens):
        raise UserError("Training found no tokens: the corpus has no text the tokenizer could learn from.")
    return tok


def _raise_training_error(error: BaseException, spec: TokenizerSpec, cancel: Optional[CancelToken]) -> None:
    """Raise what stopped a training, as a sentence where the library's own message is not one."""
    if cancel is not None and cancel.cancelled:
        cancel.raise_if_cancelled()
    if "not large enough to contain all chars" in str(error):  # the library reports problems as plain exceptions
        raise UserError(
            f"Vocab size {spec.vocab_size:,} is smaller than the alphabet: Unigram needs a token for "
            "every distinct character of the corpus. Choose a larger vocab size."
        ) from error
    raise error


def train_tokenizer(
    corpus: Corpus,
    spec: TokenizerSpec,
    stats: Optional[CorpusStats] = None,
    allow_special_in_text: bool = False,
    *,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator["LoadedTokenizer"]:
    """Train in a worker process that Cancel can stop at any moment: yields progress, returns the tokenizer."""
    from playground.core.tokenizer_worker import run_in_worker

    check_spec(spec, stats)
    tok_json = yield from run_in_worker(corpus, spec, allow_special_in_text, cancel=cancel)
    return LoadedTokenizer(Tokenizer.from_str(tok_json), name=spec.label, spec=spec)


def train_tokenizer_or_refusal(
    corpus: Corpus,
    spec: TokenizerSpec,
    stats: Optional[CorpusStats] = None,
    allow_special_in_text: bool = False,
    *,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator["LoadedTokenizer | SpecialTokensInText"]:
    """:func:`train_tokenizer` for the window: special tokens found in the text are returned, not
    raised, because they are a question for the person (train anyway?) rather than an error."""
    try:
        return (yield from train_tokenizer(corpus, spec, stats, allow_special_in_text, cancel=cancel))
    except SpecialTokensInText as refusal:
        return refusal


# --------------------------------------------------------------------------- a loaded tokenizer


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in character for each byte value."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
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
    token: str  # the vocabulary entry, e.g. 'Ġworld' or '##ing'
    text: str  # the slice of the input it covers ('' for added special tokens)
    raw: bytes  # the bytes this token stands for
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
            return KINDS[self.spec.kind].label
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
            token = token[len(prefix) :]
        return token.replace("▁", " ").encode("utf-8")

    def encode(self, text: str) -> list[TokenPiece]:
        """Encode exactly as the library does, with each token's span of ``text``."""
        enc = self.tokenizer.encode(text)
        # Each attribute access copies the whole list out of Rust: read them once.
        ids, tokens, offsets = enc.ids, enc.tokens, enc.offsets
        pieces, prev_span = [], None
        for i, (tid, token, (start, end)) in enumerate(zip(ids, tokens, offsets)):
            special = token in self.special_tokens and start == end
            shares_span = prev_span == (start, end) or (i + 1 < len(offsets) and offsets[i + 1] == (start, end))
            raw = self.token_bytes(token)
            # A byte-level token such as 'ĠðŁ' (a space and the first bytes of an emoji)
            # shares no span with its neighbours yet still ends inside a character.
            cut_character = self.is_byte_level and not _is_complete_utf8(raw)
            partial = not special and start != end and (shares_span or cut_character)
            # (Unigram names its unknown token by the text it replaces; "[UNK]" typed is not unknown.)
            unknown = (
                tid == self.unk_id and start != end and not (token in self.special_tokens and text[start:end] == token)
            )
            pieces.append(
                TokenPiece(
                    index=i,
                    id=tid,
                    token=token,
                    text="" if special else text[start:end],
                    raw=raw,
                    start=start,
                    end=end,
                    special=special,
                    partial=partial,
                    unknown=unknown,
                )
            )
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
        pairs = (m.split(" ", 1) if isinstance(m, str) else m for m in raw)  # "a b" (older files) or ["a", "b"]
        return [(pair[0], pair[1]) for pair in pairs]

    def vocabulary(self) -> list["VocabEntry"]:
        """Every token, by id, with its bytes and (for BPE) the rank of the merge that made it."""
        rank = {a + b: r for r, (a, b) in enumerate(self.merges())}
        vocab = self.tokenizer.get_vocab(with_added_tokens=True)
        rows = []
        for token, tid in sorted(vocab.items(), key=lambda kv: kv[1]):
            raw = self.token_bytes(token)
            rows.append(
                VocabEntry(
                    id=tid,
                    token=token,
                    text=raw.decode("utf-8", errors="replace"),
                    raw=raw,
                    merge_rank=rank.get(token),
                    special=token in self.special_tokens,
                )
            )
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


# -- the special tokens an encoder needs ---------------------------------------------------

# BERT's: [MASK] hides a token to recover, [CLS] and [SEP] open and close a text,
# [PAD] fills a batch's short rows, [UNK] stands for text the vocabulary lacks.
ENCODER_SPECIAL_TOKENS = ("[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]")


def missing_encoder_tokens(tokenizer: LoadedTokenizer) -> list[str]:
    """Which of `ENCODER_SPECIAL_TOKENS` the tokenizer lacks as special tokens, in that order."""
    return [token for token in ENCODER_SPECIAL_TOKENS if token not in tokenizer.special_tokens]


def with_encoder_tokens(tokenizer: LoadedTokenizer) -> LoadedTokenizer:
    """A copy of `tokenizer` with the encoder's missing special tokens added (new ids after the last).

    Ids the tokenizer already gives stay as they are, so text encodes as before; the
    tokenizer itself is left unchanged. Returns `tokenizer` when nothing is missing.
    """
    # [MASK] takes the space before it, as RoBERTa's <mask> does: in "the [MASK] sat" it stands for
    # a whole word with its space (byte-level BPE's "Ġcat"), not for a word after a lone space token.
    return with_special_tokens(tokenizer, missing_encoder_tokens(tokenizer), lstrip=("[MASK]",))


def with_special_tokens(
    tokenizer: LoadedTokenizer, tokens: Iterable[str], lstrip: Iterable[str] = ()
) -> LoadedTokenizer:
    """A copy of `tokenizer` with `tokens` added as special tokens, new ids after the last (existing ids
    stay, so text encodes as before); `tokenizer` itself unchanged, and returned when `tokens` is empty."""
    from tokenizers import AddedToken

    tokens, lstrip = list(tokens), set(lstrip)
    if not tokens:
        return tokenizer
    tok = Tokenizer.from_str(tokenizer.tokenizer.to_str())
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False, lstrip=t in lstrip) for t in tokens])
    spec = tokenizer.spec
    if spec is not None:
        spec = replace(spec, special_tokens=tuple(spec.special_tokens) + tuple(tokens))
    return LoadedTokenizer(tok, name=tokenizer.name, spec=spec, turned_off=tokenizer.turned_off)


def check_output_path(out: Path, inputs: Iterable[Path] = (), overwrite: bool = False) -> Path:
    """Refuse a place to save a tokenizer that would destroy something: one of the
    ``inputs`` (the corpus), a folder, or (unless ``overwrite``) an existing file.
    Returns ``out`` made absolute."""
    out = Path(out).expanduser().resolve()
    for source in inputs:
        if same_file(out, Path(source)):
            raise UserError(
                f"{out} is the corpus the tokenizer learns from: saving there would replace your "
                "text with JSON. Choose another file name."
            )
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
        raise UserError(f'{path.name} is JSON but not a tokenizer.json: it has no "model" section.')
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
            "The file is damaged or not meant for a model; renumber its ids from 0."
        )
    # A few unused ids are normal (a vocabulary padded by hand); most of the table unused is not.
    if size - entries > max(1000, entries):
        raise UserError(
            f"{name} has {entries:,} tokens but its largest id is {size - 1:,}: {size - entries:,} ids "
            "would be unused rows in the model. The file is damaged or its ids are not numbered from 0; "
            "renumber them."
        )
