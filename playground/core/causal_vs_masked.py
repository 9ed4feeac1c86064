"""The same sentence read by the two demo models: the GPT demo's attention is a triangle, the BERT demo's a square;
and by all three families, an encoder-decoder's cross-attention a rectangle.

    result = run_quietly(read_by_both("Return the length of the list."))
    result.decoder.matrix(layer=1, head="mean")   # [T, T]: nothing above the diagonal
    result.encoder.matrix(layer=1, head="mean")   # [T, T]: every token reads every token
    three = run_quietly(read_by_all_three("Return the length of the list.", encoder_decoder_dir=run))
    three.encoder_decoder.matrix(0, "mean")      # [T, S]: its output tokens read the sentence's tokens

The guided tour's "causal vs masked" card runs this as a job. Each model
reads the sentence as it was trained: the decoder as generation encodes it,
the encoder between [CLS] and [SEP], the encoder-decoder as its input (then
</s>) while its decoder writes its own greedy output (`seq2seq_look`). The models are read from their folders
once and kept, so changing the sentence only runs the two forward passes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Generator, Optional, Union

import numpy as np

from .attention import capture_ids, select
from .masking import encoder_tokens
from .progress import Progress, UserError

MAX_TOKENS = 16  # a small heatmap stays readable up to about this many tokens a side

_lock = threading.Lock()
_loaded: dict[str, tuple] = {}  # folder -> (checkpoint, model)


@dataclass(frozen=True)
class ReadBy:
    """One model's attention over the sentence: `weights` is [n_layer, n_head, T, T], query by key.

    For an encoder-decoder, its cross-attention [n_layer, n_head, T, S]: `tokens` are the T output
    tokens it wrote (the rows) and `key_tokens` the S tokens of the sentence it read (the columns).
    """

    name: str
    encoder: bool
    tokens: tuple[str, ...]
    weights: np.ndarray
    key_tokens: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return self.key_tokens or self.tokens

    @property
    def n_layer(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_head(self) -> int:
        return int(self.weights.shape[1])

    def matrix(self, layer: int, head: Union[int, str]) -> np.ndarray:
        """The [T, T] matrix of `layer` and `head` ("mean": the layer's average), or the nearest this model has."""
        layer = max(0, min(int(layer), self.n_layer - 1))
        if not isinstance(head, str):
            head = max(0, min(int(head), self.n_head - 1))
        return select(self.weights, layer, head)


@dataclass(frozen=True)
class CausalVsMasked:
    """What `read_by_both` returns: the decoder's and the encoder's reading, and a notice if the text was cut."""

    text: str
    decoder: ReadBy
    encoder: ReadBy
    notice: str = ""


def _model(folder: Path) -> tuple:
    from .checkpoints import load_checkpoint

    key = str(folder.resolve())
    with _lock:
        found = _loaded.get(key)
    if found is None:
        found = load_checkpoint(folder)
        with _lock:
            _loaded[key] = found
    return found


def read_by_both(
    text: str, decoder_dir: Optional[Path] = None, encoder_dir: Optional[Path] = None
) -> Generator[Progress, None, CausalVsMasked]:
    """Run the demo GPT (or the decoder in `decoder_dir`) and the demo BERT (or `encoder_dir`) over `text` once.

    At most `MAX_TOKENS` tokens of the text are read, for a small heatmap.
    """
    from playground import paths

    decoder_dir = decoder_dir or paths.demo_model_dir()
    encoder_dir = encoder_dir or paths.demo_encoder_dir()
    if decoder_dir is None or encoder_dir is None:
        missing = "models/demo" if decoder_dir is None else "models/demo-encoder"
        raise UserError(f"The demo model in {missing} is not installed here, so the two cannot be compared.")
    if not text.strip():
        raise UserError("Type a sentence for both models to read.")

    yield Progress(0.0, "Loading the demo models…")
    decoder_checkpoint, decoder = _model(Path(decoder_dir))
    encoder_checkpoint, encoder = _model(Path(encoder_dir))
    if decoder.config.is_encoder or decoder.config.is_encoder_decoder or not encoder.config.is_encoder:
        raise UserError("Causal vs masked needs a decoder (GPT) on one side and an encoder (BERT) on the other.")

    yield Progress(0.4, "The GPT demo reads the sentence…")
    read_decoder, cut_decoder = _read(decoder_checkpoint, decoder, text)
    yield Progress(0.7, "The BERT demo reads the sentence…")
    read_encoder, cut_encoder = _read(encoder_checkpoint, encoder, text)
    notice = ""
    if cut_decoder or cut_encoder:
        notice = f"The sentence is long: each side shows its first {MAX_TOKENS} tokens at most."
    return CausalVsMasked(text, read_decoder, read_encoder, notice)


def _read(checkpoint, model, text: str) -> tuple[ReadBy, int]:
    """One model's attention over the first tokens of `text` (an encoder's between [CLS] and [SEP]),
    and how many tokens were left out."""
    tokenizer = checkpoint.tokenizer
    ids = list(tokenizer.encode_ids([text])[0])
    if not ids:
        raise UserError("The sentence gave no tokens: try some ordinary words.")
    special = encoder_tokens(tokenizer) if model.config.is_encoder else None
    room = min(MAX_TOKENS, model.config.context_length) - (special.wrapping if special else 0)
    cut = max(0, len(ids) - room)
    ids = ids[:room]
    if special is not None:
        ids = special.wrap(ids)
    tokens = tuple(tokenizer.token_text(i) for i in ids)
    weights = capture_ids(model, ids).numpy()
    return ReadBy(checkpoint.name, special is not None, tokens, weights), cut


# -- three families: a decoder, an encoder and an encoder-decoder ------------------------------------------

DEMO_ENCODER_DECODER = "demo-encoder-decoder"  # its demo's folder under models/ (paths.demo_encoder_decoder_dir)


@dataclass(frozen=True)
class ThreeFamilies:
    """What `read_by_all_three` returns: a triangle (decoder), a square (encoder), a rectangle (encoder-decoder)."""

    text: str
    decoder: ReadBy
    encoder: ReadBy
    encoder_decoder: ReadBy
    notice: str = ""


def read_by_all_three(
    text: str,
    decoder_dir: Optional[Path] = None,
    encoder_dir: Optional[Path] = None,
    encoder_decoder_dir: Optional[Path] = None,
) -> Generator[Progress, None, ThreeFamilies]:
    """`read_by_both`, and an encoder-decoder (the demo in models/demo-encoder-decoder, or `encoder_decoder_dir`)
    reading `text` as its input while it writes: its cross-attention, output tokens by input tokens."""
    from playground import paths

    from .seq2seq_look import capture_pair

    encoder_decoder_dir = encoder_decoder_dir or paths.demo_encoder_decoder_dir()
    if encoder_decoder_dir is None:
        raise UserError(
            f"The demo encoder-decoder in models/{DEMO_ENCODER_DECODER} is not installed here: choose an "
            "encoder-decoder's folder for the third family."
        )
    both = yield from read_by_both(text, decoder_dir, encoder_dir)
    yield Progress(0.8, "The encoder-decoder reads the sentence and writes…")
    checkpoint, model = _model(Path(encoder_decoder_dir))
    if not model.config.is_encoder_decoder:
        raise UserError("The third family needs an encoder-decoder (T5 style): this model has one stack.")
    capture = capture_pair(model, checkpoint.tokenizer, text, max_tokens=MAX_TOKENS)
    third = ReadBy(checkpoint.name, False, capture.written_tokens, capture.cross, key_tokens=capture.input_tokens)
    notice = both.notice
    if capture.notice and not notice:
        notice = f"The sentence is long: each side shows its first {MAX_TOKENS} tokens at most."
    return ThreeFamilies(text, both.decoder, both.encoder, third, notice)
