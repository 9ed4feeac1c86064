"""The special tokens an encoder-decoder (T5 style) needs from its tokenizer.

    missing = missing_t5_tokens(tokenizer)        # false when nothing is missing; str(missing) for a sentence
    tokenizer = with_t5_tokens(tokenizer)         # a copy with them added as special tokens (new ids at the end)
    tokens = t5_tokens(tokenizer)                 # their ids: pad (the decoder's start), eos, sentinels

The names are those of T5's own tokenizer.json: <pad> fills a batch's short rows and is the token the
decoder starts from; </s> ends every input and every target; <extra_id_N> (a *sentinel*) stands for the
N-th span that span corruption drops (:mod:`playground.core.span_corruption`). A tokenizer of this app's
own with BERT's [PAD] keeps that as its pad token. The encoder's tokens ([MASK] and the rest) are
`missing_encoder_tokens` / `with_encoder_tokens` in :mod:`playground.core.tokenization`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from playground.core.progress import UserError
from playground.core.tokenization import LoadedTokenizer, with_special_tokens

T5_PAD, T5_EOS, T5_UNK = "<pad>", "</s>", "<unk>"
PAD_NAMES = (T5_PAD, "[PAD]")
# T5 ships 100 sentinels. Span corruption uses one per dropped span, and an example for an encoder
# context of C tokens has about C / 18 spans at T5's settings (15% noise in spans of 3): 32 cover a
# context of 512 (`span_corruption.sentinels_needed` says exactly). Each sentinel is a row of the
# embedding table that only span corruption trains, and a tiny vocabulary (a few hundred tokens)
# would otherwise be a third sentinels: hence fewer than T5's 100 by default.
DEFAULT_SENTINELS = 32
MAX_SENTINELS = 1000


def sentinel_token(index: int) -> str:
    """The name of sentinel `index`: "<extra_id_0>" for the first dropped span."""
    return f"<extra_id_{index}>"


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class MissingT5Tokens:
    """What a tokenizer lacks for T5; false when nothing. `str()` gives the phrase for a sentence:
    "<pad>, </s> and 32 sentinels (<extra_id_0> … <extra_id_31>)"."""

    pad: bool
    eos: bool
    sentinels: tuple[int, ...]  # the N of each missing <extra_id_N>, ascending

    @property
    def tokens(self) -> list[str]:
        """Every missing token, in the order `with_t5_tokens` adds them."""
        return [T5_PAD] * self.pad + [T5_EOS] * self.eos + [sentinel_token(n) for n in self.sentinels]

    @property
    def names(self) -> list[str]:
        """The missing tokens for a list a person reads: a run of sentinels as one "<extra_id_0> … <extra_id_31>"."""
        runs: list[list[int]] = []
        for n in self.sentinels:
            if runs and runs[-1][-1] == n - 1:
                runs[-1].append(n)
            else:
                runs.append([n])
        return [T5_PAD] * self.pad + [T5_EOS] * self.eos + [_run_name(run) for run in runs]

    def __bool__(self) -> bool:
        return self.pad or self.eos or bool(self.sentinels)

    def __str__(self) -> str:
        parts = [T5_PAD] * self.pad + [T5_EOS] * self.eos
        runs = self.names[len(parts) :]
        if len(self.sentinels) == 1:
            parts.append(f"the sentinel {runs[0]}")
        elif self.sentinels:
            parts.append(f"{len(self.sentinels)} sentinels ({', '.join(runs)})")
        return _and_list(parts) if parts else "nothing"


def _run_name(run: list[int]) -> str:
    return sentinel_token(run[0]) if len(run) == 1 else f"{sentinel_token(run[0])} … {sentinel_token(run[-1])}"


def missing_t5_tokens(tokenizer: LoadedTokenizer, n_sentinels: int = DEFAULT_SENTINELS) -> MissingT5Tokens:
    """Which of T5's special tokens `tokenizer` lacks: a pad token, </s>, <extra_id_0> … <extra_id_{n-1}>."""
    special = tokenizer.special_tokens
    return MissingT5Tokens(
        pad=not any(name in special for name in PAD_NAMES),
        eos=T5_EOS not in special,
        sentinels=tuple(n for n in range(n_sentinels) if sentinel_token(n) not in special),
    )


def with_t5_tokens(tokenizer: LoadedTokenizer, n_sentinels: int = DEFAULT_SENTINELS) -> LoadedTokenizer:
    """A copy of `tokenizer` with T5's missing special tokens added: <pad>, </s>, then the sentinels.

    New ids come after the last and existing ids stay, so text encodes as before; `tokenizer` itself
    is unchanged, and returned when nothing is missing. On purpose unlike T5's own vocabulary, which
    numbers its sentinels downwards from the last id: here <extra_id_0> gets the smallest new id, and
    `T5Tokens` names each sentinel's id, so nothing counts on the order.
    """
    if not 0 <= n_sentinels <= MAX_SENTINELS:
        raise UserError(
            f"The number of sentinels must be between 0 and {MAX_SENTINELS:,} (T5 has 100), not {n_sentinels}."
        )
    return with_special_tokens(tokenizer, missing_t5_tokens(tokenizer, n_sentinels).tokens)


@dataclass(frozen=True)
class T5Tokens:
    """The ids an encoder-decoder needs from its tokenizer (`t5_tokens`).

    pad: fills short rows, and is the decoder's start token, as in T5. eos: </s>, which ends every input
    and target. sentinels: the ids of <extra_id_0>, <extra_id_1>, ... (as many as the tokenizer has,
    counting from 0 without a gap). unk: the unknown token's id, None where every text can be written.
    """

    pad: int
    eos: int
    sentinels: tuple[int, ...] = ()
    unk: Optional[int] = None

    @property
    def decoder_start(self) -> int:
        return self.pad


def t5_tokens(tokenizer: LoadedTokenizer) -> T5Tokens:
    """The ids of `tokenizer`'s pad, </s> and sentinels; `UserError` naming what is missing without pad or </s>."""
    missing = missing_t5_tokens(tokenizer, n_sentinels=0)
    if missing:
        raise UserError(
            f"An encoder-decoder (T5 style) needs a pad token, which also starts the decoder, and {T5_EOS}, which "
            f"ends every text; the tokenizer {tokenizer.name} lacks {missing}. Add them as special tokens (new ids "
            "at the end of the vocabulary), with the sentinels <extra_id_0>, <extra_id_1>, … that span corruption uses."
        )
    vocab = tokenizer.tokenizer.get_vocab(with_added_tokens=True)
    special = tokenizer.special_tokens
    sentinels: list[int] = []
    while sentinel_token(len(sentinels)) in special:
        sentinels.append(vocab[sentinel_token(len(sentinels))])
    return T5Tokens(
        pad=vocab[next(name for name in PAD_NAMES if name in special)],
        eos=vocab[T5_EOS],
        sentinels=tuple(sentinels),
        unk=tokenizer.unk_id,
    )
