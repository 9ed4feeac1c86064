"""Generation with an encoder-decoder (T5): the input is read once, the output written token by token.

    prepared = prepare_input(tokenizer, "reverse: one two", model.config.context_length)
    start = t5_tokens(tokenizer).decoder_start
    for token in generate_tokens(model, [start], settings, tokenizer, input_ids=prepared.ids): ...
    beam_search(model, [start], settings, tokenizer, input_ids=prepared.ids)

Greedy, sampling, beam search and every logits processor are those of `sampling` and
`beam_search`, unchanged: they read the model through a window (`sampling.ContextWindow`), and
`DecoderWindow` is that window for the decoder of an encoder-decoder. It runs the encoder once,
makes every decoder layer's cross-attention keys and values once (`T5.new_decoder_cache`), and
then feeds each new output token once through the decoder's self-attention cache. The output
starts from the decoder's start token (the pad id, as in T5) and ends at </s>.

Like a decoder's window, once the output outgrows the decoder's context the window reads the last
`context_length` output tokens afresh (T5's positions are relative, so that is well defined; the
start token is then out of sight). An input longer than the encoder's context keeps its
beginning, and </s>, as training cuts it (`text_to_text.encode_pairs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from playground.core.attention_records import AttentionRows
from playground.core.progress import UserError
from playground.core.sampling import ContextWindow, PreparedPrompt
from playground.core.t5_model import T5, DecoderCache, Encoded, Seq2SeqOutput
from playground.core.t5_tokens import T5_EOS, t5_tokens

HEAD_CHARS_PER_TOKEN = 16  # a huge input is tokenized from its beginning, this many characters a token first
HEAD_DROP_TOKENS = 4  # tokens at the cut may split differently than in the whole text


# -- the input -------------------------------------------------------------------------------------


def prepare_input(tokenizer, text: str, context_length: int) -> PreparedPrompt:
    """Encode an encoder-decoder's input: its tokens and </s>, at most `context_length` in all.

    A longer input keeps its beginning and ends with </s> (as in training), with a notice;
    a huge one is not tokenized whole, only as much of its beginning as the context needs.
    """
    eos = t5_tokens(tokenizer).eos
    limit = context_length * HEAD_CHARS_PER_TOKEN
    ids: list[int] = []
    exact = True
    while True:
        if len(text) <= limit:
            ids = tokenizer.encode_ids([text])[0] if text else []
            break
        head = tokenizer.encode_ids([text[:limit]])[0][:-HEAD_DROP_TOKENS]
        if len(head) >= context_length:
            ids, exact = head, False
            break
        limit *= 4
    total = len(ids) + 1  # with </s>
    if total <= context_length:
        notice = "" if text else f"The input is empty: the encoder reads only {T5_EOS}."
        return PreparedPrompt(ids=ids + [eos], total_tokens=total, notice=notice)
    cut = total - context_length
    counted = f"more than {total:,}" if not exact else f"{total:,}"
    return PreparedPrompt(
        ids=ids[: context_length - 1] + [eos],
        total_tokens=total,
        cut_tokens=cut,
        exact=exact,
        notice=(
            f"The input has {counted} tokens with {T5_EOS}, but the encoder reads at most {context_length:,}: "
            f"its first {context_length - 1:,} are kept and {T5_EOS} put after them"
            + (f", the last {cut:,} are cut." if exact else ", the rest is cut.")
        ),
    )


# -- attention, a row per written token ------------------------------------------------------------


@dataclass(frozen=True)
class Seq2SeqRows(AttentionRows):
    """Where the output tokens of one pass looked: an `AttentionRows` of the decoder's self-attention
    (`weights` [n_decoder_layer, n_head, n_rows, n_keys]), so a decoder's live view takes it as it is,
    and the same rows' cross-attention over the input, `cross` [n_decoder_layer, n_head, n_rows, S].

    `encoder`: the encoder's self-attention over the input [n_layer, n_head, S, S], on the rows of
    the first pass only (the encoder runs once).
    """

    cross: np.ndarray = field(kw_only=True)
    encoder: Optional[np.ndarray] = field(default=None, kw_only=True)

    @classmethod
    def of_seq2seq(cls, output: Seq2SeqOutput, encoder: Optional[np.ndarray]) -> "Seq2SeqRows":
        assert output.decoder_attentions is not None and output.cross_attentions is not None
        return cls(
            output.decoder_attentions[:, 0].float().cpu().numpy(),
            cross=output.cross_attentions[:, 0].float().cpu().numpy(),
            encoder=encoder,
        )

    def after(self, earlier: AttentionRows) -> "Seq2SeqRows":
        """These rows following `earlier` ones (the start token's, then the first written token's)."""
        if self.fresh or not isinstance(earlier, Seq2SeqRows):
            return self
        decoder = super().after(earlier)
        cross = np.concatenate((earlier.cross, self.cross), axis=2)
        encoder = earlier.encoder if earlier.encoder is not None else self.encoder
        return Seq2SeqRows(decoder.weights, cross=cross, encoder=encoder)


# -- the decoder's window --------------------------------------------------------------------------


class DecoderWindow(ContextWindow):
    """`ContextWindow` for an encoder-decoder: the sequences are the decoder's, written after one input.

    The encoder runs here, once (with `attention`, spelling its weights out for the first rows).
    Each batch row (a beam) reads the same input: the encoder's output is expanded, not copied.
    Without the cache every step runs the decoder over all its tokens and makes the cross-attention
    keys and values again (the encoder still runs once), as Hugging Face's `use_cache=False` does.
    """

    end_tokens = (T5_EOS,)

    def __init__(self, model: T5, input_ids: Sequence[int], use_cache: bool = True, attention: bool = False):
        super().__init__(model, use_cache)
        self.t5 = model
        if not input_ids:
            raise UserError(f"An encoder-decoder needs an input to read: at least {T5_EOS}.")
        ids = torch.tensor([list(input_ids)], device=self.device)
        self.encoded = model.encode(ids, capture_attention=attention)
        attentions = self.encoded.attentions
        self.encoder_rows = None if attentions is None else attentions[:, 0].float().cpu().numpy()

    def _input(self, batch: int) -> Encoded:
        return Encoded(self.encoded.hidden.expand(batch, -1, -1))

    def _new_cache(self, batch: int) -> DecoderCache:
        return self.t5.new_decoder_cache(self._input(batch))

    def _forward(self, ids: Tensor, cache: Any, attention: bool) -> tuple[Tensor, Optional[AttentionRows]]:
        encoded = cache.encoded if cache is not None else self._input(ids.size(0))
        output = self.t5.decode(ids, encoded, cache, capture_attention=attention, last_only=True)
        rows = None
        if attention:
            rows, self.encoder_rows = Seq2SeqRows.of_seq2seq(output, self.encoder_rows), None
        return output.logits[:, -1, :], rows
