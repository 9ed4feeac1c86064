"""What the Attention Lab shows and keeps, in NumPy (no PyTorch, so the window can hold them cheaply).

- `AttentionRows` / `AttentionSoFar`: attention handed over by generation
  (`sampling.generate_tokens(attention=True)`), row by row, and gathered;
  `CrossSoFar` gathers an encoder-decoder's cross-attention rows the same way.
- `AttentionSnapshot`: where every head looked over one text, with each head's
  statistics: what the views draw.
- `ProbeHistory`: a training run's probe records, thinned evenly for scrubbing.

A weights tensor is [n_layer, n_head, T, T] (query by key), as in `attention.py`; an
encoder-decoder's cross-attention is a rectangle [n_layer, n_head, T, S]: its T output tokens
(the queries) read its S input tokens (the keys), named apart in `AttentionSnapshot.key_tokens`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

# -- attention handed over by generation ---------------------------------------------------


@dataclass(frozen=True)
class AttentionRows:
    """Where the tokens of one forward pass looked: weights [n_layer, n_head, n_rows, n_keys], float32.

    The rows are the queries of the last `n_rows` of the `n_keys` tokens the
    model sees (a generated token alone has one row). When they are all of them
    (`fresh`), the model read its window afresh (a prompt, or a text grown past
    the context) and these rows replace any before.
    """

    weights: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.weights.shape[2])

    @property
    def n_keys(self) -> int:
        return int(self.weights.shape[3])

    @property
    def fresh(self) -> bool:
        return self.n_rows == self.n_keys

    @classmethod
    def of_output(cls, attentions) -> "AttentionRows":
        """The first sequence's rows of a forward pass's `attentions` [n_layer, B, n_head, n_rows, n_keys]."""
        return cls(attentions[:, 0].float().cpu().numpy())

    def after(self, earlier: "AttentionRows") -> "AttentionRows":
        """These rows following `earlier` ones, as one block (a prompt's rows, then its first token's)."""
        if self.fresh:
            return self
        if earlier.n_keys + self.n_rows != self.n_keys:
            raise ValueError(f"{self.n_rows} rows over {self.n_keys} keys cannot follow {earlier.n_keys} keys")
        padded = np.zeros(earlier.weights.shape[:3] + (self.n_keys,), dtype=np.float32)
        padded[..., : earlier.n_keys] = earlier.weights  # an earlier query never sees a later key
        return AttentionRows(np.concatenate((padded, self.weights), axis=2))


@dataclass(frozen=True)
class AttentionSoFar:
    """The attention of a generated text, gathered from the generation's own forward passes.

    It covers the last `length` tokens of the text (the model's window). Each
    `add` makes a new record that shares the blocks before it, so handing one
    over after every token costs no copy of what came before; `matrix` builds
    the square [n_layer, n_head, T, T] that `capture_ids` would give.
    """

    blocks: tuple[AttentionRows, ...] = ()

    @property
    def length(self) -> int:
        return self.blocks[-1].n_keys if self.blocks else 0

    def add(self, rows: AttentionRows) -> "AttentionSoFar":
        if rows.fresh:
            return AttentionSoFar((rows,))
        if rows.n_keys != self.length + rows.n_rows:
            raise ValueError(f"{rows.n_rows} rows over {rows.n_keys} keys do not follow {self.length} tokens")
        return AttentionSoFar(self.blocks + (rows,))

    def matrix(self) -> np.ndarray:
        if not self.blocks:
            raise ValueError("no attention yet")
        L, H = self.blocks[0].weights.shape[:2]
        T = self.length
        out = np.zeros((L, H, T, T), dtype=np.float32)
        row = 0
        for block in self.blocks:
            out[:, :, row : row + block.n_rows, : block.n_keys] = block.weights
            row += block.n_rows
        return out


@dataclass(frozen=True)
class CrossSoFar:
    """An encoder-decoder's cross-attention gathered while it writes: a row per output token, each over
    the same S input tokens (`AttentionRows` of [n_layer, n_head, n_rows, S] from each decoding step).

    Like `AttentionSoFar`, each `add` shares the blocks before it; `matrix` builds the rectangle
    [n_layer, n_head, T, S] that `seq2seq_look.capture_pair` gives for the same output.
    """

    blocks: tuple[AttentionRows, ...] = ()

    @property
    def n_rows(self) -> int:
        return sum(block.n_rows for block in self.blocks)

    @property
    def n_keys(self) -> int:
        return self.blocks[0].n_keys if self.blocks else 0

    def add(self, rows: AttentionRows) -> "CrossSoFar":
        if self.blocks and rows.n_keys != self.n_keys:
            raise ValueError(f"rows over {rows.n_keys} input tokens cannot join rows over {self.n_keys}")
        return CrossSoFar(self.blocks + (rows,))

    def matrix(self) -> np.ndarray:
        if not self.blocks:
            raise ValueError("no attention yet")
        return np.concatenate([block.weights for block in self.blocks], axis=2)


# -- what the Attention Lab shows, and the probe records it keeps --------------------------


@dataclass(frozen=True)
class AttentionSnapshot:
    """Where every head looked over one text: what the Attention Lab's views draw.

    weights: [n_layer, n_head, T, S] float32 (NumPy), query by key; stats: HeadStats, layer by layer.
    tokens: the T query tokens (the rows). key_tokens: the S key tokens (the columns) when they
    are another text's (cross-attention: the output's tokens read the input's); None when the
    tokens read themselves (T == S, a square or a triangle).
    step: the training step, for a probe record; prompt_tokens: for a generated
    text, how many of the tokens are the prompt.
    causal: a decoder's attention (each token reads only the tokens up to it: a
    triangle); False for an encoder's (every token reads every token: a square)
    and for cross-attention (every output token reads every input token: a rectangle).
    kind: for an encoder-decoder, which of its three kinds ("encoder", "decoder",
    "cross"; `seq2seq_look.KINDS`); "" for a decoder's or an encoder's one kind.
    """

    tokens: list[str]
    weights: np.ndarray
    stats: list
    notice: str = ""
    step: Optional[int] = None
    prompt_tokens: Optional[int] = None
    causal: bool = True
    key_tokens: Optional[list[str]] = None
    kind: str = ""

    @property
    def keys(self) -> list[str]:
        """The key tokens (the columns): `key_tokens`, or the query tokens themselves."""
        return self.tokens if self.key_tokens is None else self.key_tokens

    @property
    def is_rectangle(self) -> bool:
        """True when the queries read another text's tokens (cross-attention)."""
        return self.key_tokens is not None

    def describe(self) -> str:
        """What a title adds: the kind of an encoder-decoder's attention, the training step, or the prompt
        and what the model wrote."""
        if self.kind:
            return f" · {KIND_TITLES.get(self.kind, self.kind)}"
        if self.step is not None:
            return f" · training step {self.step:,}"
        if self.prompt_tokens is not None:
            return f" · {self.prompt_tokens} prompt + {len(self.tokens) - self.prompt_tokens} written tokens"
        return ""


KIND_TITLES = {
    "encoder": "encoder self-attention (input by input)",
    "decoder": "decoder self-attention (output by output, causal)",
    "cross": "cross-attention (output tokens by input tokens)",
}


def as_array(weights) -> np.ndarray:
    """Weights (a tensor or an array) as float32 NumPy; a CPU tensor's memory is shared, not copied."""
    array = weights.detach().cpu().numpy() if hasattr(weights, "detach") else np.asarray(weights)
    return array.astype(np.float32, copy=False)


def snapshot_of(weights, tokens: Sequence[str], **details) -> AttentionSnapshot:
    """A snapshot of `weights` over `tokens` (and `key_tokens=` for a rectangle), with each head's statistics."""
    from .attention import head_stats  # PyTorch: imported by the work, not by the window

    array = as_array(weights)
    stats = head_stats(array, cross=details.get("key_tokens") is not None)
    return AttentionSnapshot(tokens=list(tokens), weights=array, stats=stats, **details)


MAX_HISTORY = 200  # probe records kept (older ones are thinned evenly)
HISTORY_BYTES = 256 * 2**20  # ... and at most this much memory for them


@dataclass(frozen=True)
class ProbeEntry:
    """One training step's probe capture, and its place among every record that arrived."""

    snapshot: AttentionSnapshot
    index: int

    @property
    def step(self) -> int:
        return int(self.snapshot.step or 0)


class ProbeHistory:
    """The probe records of one training run, thinned evenly so that scrubbing back stays cheap.

    It keeps every `stride`-th record that arrived, evenly spaced from the
    first, plus the newest (which a view follows); when it is full, every other
    one goes and the stride doubles. At most `MAX_HISTORY` records and about
    `HISTORY_BYTES` of weights are kept (at least 20).
    """

    def __init__(self) -> None:
        self.entries: list[ProbeEntry] = []
        self.arrivals = 0
        self.stride = 1

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> ProbeEntry:
        return self.entries[i]

    def __iter__(self):
        return iter(self.entries)

    def clear(self) -> None:
        self.entries, self.arrivals, self.stride = [], 0, 1

    def cap(self, record_bytes: int) -> int:
        return max(20, min(MAX_HISTORY, HISTORY_BYTES // max(1, record_bytes)))

    def add(self, record) -> ProbeEntry:
        """Keep `record` (an `attention.ProbeRecord`), thinning the older ones when full; return its entry."""
        step = int(record.step)
        causal = bool(getattr(record, "causal", True))
        if record.stats is not None:  # worked out on the training thread already
            snapshot = AttentionSnapshot(
                tokens=list(record.tokens),
                weights=as_array(record.weights),
                stats=record.stats,
                step=step,
                causal=causal,
            )
        else:  # a record made elsewhere than the trainer's probe
            snapshot = snapshot_of(record.weights, record.tokens, step=step, causal=causal)
        entry = ProbeEntry(snapshot, self.arrivals)
        self.arrivals += 1
        if self.entries and self.entries[-1].index % self.stride:
            self.entries.pop()  # the previous newest was kept only while it was the newest
        self.entries.append(entry)
        if len(self.entries) > self.cap(snapshot.weights.nbytes):
            self.stride *= 2
            self.entries = [e for e in self.entries if e.index % self.stride == 0 or e is entry]
        return entry

    def index_of(self, entry: ProbeEntry) -> int:
        """Where `entry` is now; if it was thinned away, the nearest step that is left."""
        for i, e in enumerate(self.entries):
            if e is entry:
                return i
        steps = [e.step for e in self.entries]
        return int(np.argmin([abs(s - entry.step) for s in steps])) if steps else 0
