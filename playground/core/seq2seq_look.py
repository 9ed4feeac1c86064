"""Where an encoder-decoder (T5 style) looks, over an (input, output) pair: three kinds of attention.

    capture = capture_pair(model, tokenizer, "reverse: red green", "green red")  # output None: its own, greedy
    capture.snapshot("encoder")  # [L, H, S, S]  input tokens read input tokens: a full square
    capture.snapshot("decoder")  # [Ld, H, T, T] output tokens read earlier output tokens: a triangle
    capture.snapshot("cross")    # [Ld, H, T, S] output tokens read input tokens: a rectangle

The model reads the input as training reads it (its ids, then </s>) and the output with teacher
forcing: the decoder reads the start token (<pad>) then the output, and writes the output then </s>.
Decoder self-attention is labelled by what the decoder reads (each row and column a token it read);
cross-attention's rows by the token being written at that step, as alignment plots show it ("while
writing 'green' it looked at ..."), and its columns by the input's tokens. Both have T rows.

A decoder (GPT) has one kind, its causal self-attention ("decoder"); an encoder (BERT) one, its full
self-attention ("encoder"); asked for another, `check_kind` says why it has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Optional

import numpy as np
import torch

from .attention import _encode, capture_attention
from .attention_records import AttentionSnapshot, snapshot_of
from .progress import Progress, UserError

KINDS = ("encoder", "decoder", "cross")
ENCODER, DECODER, CROSS = KINDS


def family_of(config) -> str:
    """ "encoder-decoder", "encoder" or "decoder": which of the three transformer families `config` builds."""
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    return "encoder" if config.is_encoder else "decoder"


def kinds_of(config) -> tuple[str, ...]:
    """The kinds of attention a model of `config` has."""
    family = family_of(config)
    return KINDS if family == "encoder-decoder" else ((ENCODER,) if family == "encoder" else (DECODER,))


def check_kind(config, kind: str) -> None:
    """A `UserError` saying why a model of `config` has no `kind` of attention (nothing when it has)."""
    check_kind_name(kind)
    if kind in kinds_of(config):
        return
    family = family_of(config)
    if kind == CROSS:
        has = "causal self-attention (--kind decoder)" if family == "decoder" else "self-attention (--kind encoder)"
        one = "a decoder (GPT style)" if family == "decoder" else "an encoder (BERT style)"
        raise UserError(
            f"This model is {one}: it has no cross-attention. Cross-attention is how an encoder-decoder's decoder "
            f"reads the encoder's output, a second text; this model reads one text with one stack, so all its "
            f"attention is {has}."
        )
    if family == "decoder":
        raise UserError(
            "This model is a decoder (GPT style): it has no encoder, so no encoder self-attention. Its attention is "
            "causal self-attention, each token reading the tokens before it: use --kind decoder."
        )
    raise UserError(
        "This model is an encoder (BERT style): it has no decoder, so no causal decoder self-attention. Its "
        "attention reads the whole text both ways: use --kind encoder."
    )


# -- capturing the three kinds ------------------------------------------------------------------------


@dataclass(frozen=True)
class PairCapture:
    """An encoder-decoder's attention over one (input, output) pair, every layer and head of the three kinds.

    input_tokens / input_ids: what the encoder read (S tokens, ending with </s>).
    read_tokens: what the decoder read (T tokens: the start token, then the output but its last token).
    written_tokens / output_ids: what it wrote at each of those steps (T tokens, the output then </s>).
    encoder [L, H, S, S], decoder [Ld, H, T, T], cross [Ld, H, T, S]: float32 weights, query by key.
    generated: True when the output is the model's own (greedy), not one given.
    notice: a sentence when the input or the output was cut to fit, else "".
    """

    input_tokens: tuple[str, ...]
    input_ids: tuple[int, ...]
    read_tokens: tuple[str, ...]
    written_tokens: tuple[str, ...]
    output_ids: tuple[int, ...]
    encoder: np.ndarray
    decoder: np.ndarray
    cross: np.ndarray
    generated: bool
    notice: str = ""

    def weights(self, kind: str) -> np.ndarray:
        check_kind_name(kind)
        return {ENCODER: self.encoder, DECODER: self.decoder, CROSS: self.cross}[kind]

    def snapshot(self, kind: str) -> AttentionSnapshot:
        """One kind as the Attention Lab's record: every view (a head, a layer's mean, the summary) takes it."""
        weights = self.weights(kind)
        if kind == ENCODER:
            return snapshot_of(weights, self.input_tokens, notice=self.notice, causal=False, kind=kind)
        if kind == DECODER:
            return snapshot_of(weights, self.read_tokens, notice=self.notice, causal=True, kind=kind)
        return snapshot_of(
            weights,
            self.written_tokens,
            key_tokens=list(self.input_tokens),
            notice=self.notice,
            causal=False,
            kind=kind,
        )


def check_kind_name(kind: str) -> None:
    if kind not in KINDS:
        raise UserError(f"There is no kind of attention called {kind!r}: choose encoder, decoder or cross.")


def _fit(ids: list[int], eos: int, context: int, what: str, limit: str) -> tuple[list[int], str]:
    """`ids` then </s>, cut at the end to `context` tokens (</s> stays last, as in training); a notice if cut."""
    ids = ids + [eos]
    if len(ids) <= context:
        return ids, ""
    notice = (
        f"The {what} is {len(ids):,} tokens long with </s>, but {limit} at most {context:,}: "
        f"its last {len(ids) - context:,} tokens were cut off."
    )
    return ids[: context - 1] + [eos], notice


def _token_label(tokenizer, token_id: int) -> str:
    """A token's text; for part of a character (byte-level BPE), its vocabulary entry instead of "\ufffd"."""
    text = tokenizer.token_text(token_id)
    if "\ufffd" in text:
        return tokenizer.tokenizer.id_to_token(int(token_id)) or text
    return text


def capture_pair(
    model, tokenizer, input_text: str, output_text: Optional[str] = None, max_tokens: Optional[int] = None
) -> PairCapture:
    """Run the encoder-decoder once over `input_text` and `output_text` (None or blank: its own greedy output)
    and keep its three kinds of attention. An input or output longer than the context (or than `max_tokens`,
    for a small heatmap) is cut at the end, keeping </s>, with a notice."""
    from .t5_model import greedy_decode
    from .t5_tokens import t5_tokens

    config = model.config
    if not getattr(config, "is_encoder_decoder", False):
        check_kind(config, CROSS)  # says why a one-stack model has no pair to read
    if not input_text or not input_text.strip():
        raise UserError("There is no input to look at: type a text for the encoder to read.")
    tokens = t5_tokens(tokenizer)
    ids, _ = _encode(tokenizer, input_text)
    if not ids:
        raise UserError("The input gave no tokens with this tokenizer: try some ordinary words.")
    context = config.context_length if max_tokens is None else max(2, min(int(max_tokens), config.context_length))
    small = "the heatmap shows" if context < config.context_length else None
    input_ids, notice_in = _fit(ids, tokens.eos, context, "input", small or "the encoder reads")
    device = next(model.parameters()).device
    source = torch.tensor([input_ids], dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            generated = output_text is None or not output_text.strip()
            notice_out = ""
            if generated:
                # The Generate helper's richer decoding can replace this greedy pass later.
                written = greedy_decode(model, source, tokens.decoder_start, context, end_id=tokens.eos)
                output_ids = [int(i) for i in written[0]]
            else:
                out, _ = _encode(tokenizer, str(output_text))
                output_ids, notice_out = _fit(out, tokens.eos, context, "output", small or "the decoder reads")
    finally:
        model.train(was_training)
    notice = " ".join(n for n in (notice_in, notice_out) if n)
    return capture_ids_pair(model, tokenizer, input_ids, output_ids, generated=generated, notice=notice)


def capture_ids_pair(model, tokenizer, input_ids, output_ids, generated: bool = False, notice: str = "") -> PairCapture:
    """The three kinds of attention over given ids: the encoder reads `input_ids` (ending with </s>), the
    decoder reads the start token then `output_ids` but its last, teacher-forced (what `output_ids` wrote)."""
    from .t5_tokens import t5_tokens

    tokens = t5_tokens(tokenizer)
    input_ids, output_ids = [int(i) for i in input_ids], [int(i) for i in output_ids]
    read_ids = [tokens.decoder_start] + output_ids[:-1]
    device = next(model.parameters()).device
    source = torch.tensor([input_ids], dtype=torch.long, device=device)
    target = torch.tensor([read_ids], dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            result = model(source, target, capture_attention=True)
    finally:
        model.train(was_training)

    def shown(row: list[int]) -> tuple[str, ...]:
        return tuple(_token_label(tokenizer, i) for i in row)

    return PairCapture(
        input_tokens=shown(input_ids),
        input_ids=tuple(input_ids),
        read_tokens=shown(read_ids),
        written_tokens=shown(output_ids),
        output_ids=tuple(output_ids),
        encoder=result.encoder_attentions[:, 0].float().cpu().numpy(),
        decoder=result.decoder_attentions[:, 0].float().cpu().numpy(),
        cross=result.cross_attentions[:, 0].float().cpu().numpy(),
        generated=generated,
        notice=notice,
    )


def capture_kind(model, tokenizer, kind: str, text: str, output_text: Optional[str] = None) -> AttentionSnapshot:
    """One kind of attention of any model over `text` (an encoder-decoder's input; `output_text` its output).

    A decoder or an encoder reads `text` as the Attention Lab always has (`capture_attention`); a kind
    it lacks, or an output for a model that writes none given, is a `UserError` saying why.
    """
    check_kind(model.config, kind)
    if family_of(model.config) == "encoder-decoder":
        return capture_pair(model, tokenizer, text, output_text).snapshot(kind)
    if output_text is not None and output_text.strip():
        raise UserError(
            "An output text is what an encoder-decoder's decoder writes after reading the input; this model reads "
            "one text only: give it as the input, without an output."
        )
    capture = capture_attention(model, tokenizer, text)
    return snapshot_of(capture.weights, capture.tokens, notice=capture.notice, causal=capture.causal)


# -- the Attention Lab's jobs ------------------------------------------------------------------------


def read_pair(
    models, checkpoint, input_text: str, output_text: Optional[str] = None
) -> Generator[Progress, None, PairCapture]:
    """Job: the three kinds at once, so that switching kind in the Lab runs nothing (`models.model_for`)."""
    yield Progress(None, "Loading the model…")
    model = models.model_for(checkpoint)
    yield Progress(None, "Reading the input and the output…" if output_text else "Reading the input and writing…")
    return capture_pair(model, checkpoint.tokenizer, input_text, output_text)


def look_at_kind(
    models, checkpoint, kind: str, text: str, output_text: Optional[str] = None
) -> Generator[Progress, None, AttentionSnapshot]:
    """Job: one kind of attention of the checkpoint's model over `text` (see `capture_kind`)."""
    check_kind(checkpoint.model_config, kind)  # before loading anything
    yield Progress(None, "Loading the model…")
    model = models.model_for(checkpoint)
    yield Progress(None, "Reading the text…")
    return capture_kind(model, checkpoint.tokenizer, kind, text, output_text)


def pair_of_rows(tokenizer, input_ids, output_ids, attention) -> Optional[PairCapture]:
    """The three kinds gathered from what generation handed over (`attention`: an `AttentionSoFar` whose
    blocks are `Seq2SeqRows`, a row per token the decoder read), without running the model: a row per
    written token, as `capture_ids_pair` gives them. None when they do not cover `output_ids` (generation
    handed none over, or the decoder's window moved on)."""
    from .attention_records import AttentionRows, CrossSoFar

    n = len(output_ids)
    blocks = getattr(attention, "blocks", ())
    # Generation reads each token as soon as it is written, so its rows are one ahead: the start token's,
    # then each written token's (the last one's reading is for the token still to come, and is left out).
    if not blocks or attention.length not in (n, n + 1) or any(getattr(b, "cross", None) is None for b in blocks):
        return None
    encoder = blocks[0].encoder
    if encoder is None or encoder.shape[-1] != len(input_ids):
        return None
    cross = CrossSoFar()
    for block in blocks:
        cross = cross.add(AttentionRows(block.cross))
    from .t5_tokens import t5_tokens

    read_ids = [t5_tokens(tokenizer).decoder_start] + [int(i) for i in output_ids][:-1]

    def shown(row) -> tuple[str, ...]:
        return tuple(_token_label(tokenizer, int(i)) for i in row)

    return PairCapture(
        input_tokens=shown(input_ids),
        input_ids=tuple(int(i) for i in input_ids),
        read_tokens=shown(read_ids),
        written_tokens=shown(output_ids),
        output_ids=tuple(int(i) for i in output_ids),
        encoder=encoder,
        decoder=attention.matrix()[:, :, :n, :n],
        cross=cross.matrix()[:, :, :n],
        generated=True,
    )


def look_at_written(
    models, checkpoint, ids, prompt_tokens: int, attention=None
) -> Generator[Progress, None, PairCapture]:
    """Job: an encoder-decoder's three kinds over what Generate has so far (`ids`: the input's `prompt_tokens`
    ids, ending with </s>, then the written ones). The rows generation handed over are drawn as they are;
    without them the model reads the pair once (teacher forcing gives the same weights)."""
    input_ids, output_ids = list(ids[:prompt_tokens]), list(ids[prompt_tokens:])
    if not input_ids or not output_ids:
        raise UserError("Nothing written yet: the attention comes with the first token the model writes.")
    handed = pair_of_rows(checkpoint.tokenizer, input_ids, output_ids, attention)
    if handed is not None:
        yield Progress(None, "Gathering the attention the generation handed over…")
        return handed
    yield Progress(None, "Loading the model…")
    model = models.model_for(checkpoint)
    context = checkpoint.model_config.context_length
    notice = ""
    if len(output_ids) > context:
        notice = f"The output is {len(output_ids):,} tokens long; the heatmaps show its first {context:,}."
        output_ids = output_ids[:context]
    yield Progress(None, "Reading the input and the output…")
    return capture_ids_pair(model, checkpoint.tokenizer, input_ids[-context:], output_ids, True, notice)
