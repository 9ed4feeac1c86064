"""Sampling: turning a model's next-token scores into text.

Each step the model gives a score (logit) for every token of the vocabulary.
A chain of small *logits processors* reshapes them, always in this order:

    1. repetition penalty  tokens already in the text lose score (CTRL, Keskar et al. 2019):
                           a positive logit is divided by the penalty, a negative one multiplied
    2. temperature         every logit divided by T: below 1 sharpens, above 1 flattens
    3. top-k               only the k best tokens stay
    4. top-p (nucleus)     only the smallest set of best tokens whose probabilities add up to p
    5. min-p               only tokens at least min_p times as likely as the best one

and a *decoder* picks the next token:

    greedy   the most likely token after the repetition penalty (temperature and
             the filters never change which token is best, so they are not applied)
    sample   a random draw from what is left (a seed makes it repeatable)
    beam     keeps the `beams` most likely continuations, by summed log-probability
             (after the repetition penalty), and returns the best finished ones, scored by
             that sum divided by length ** length_penalty (the rules are in `beam_search.py`);
             the filters are for sampling and are not applied

Generation reads the prompt once and then feeds one token a step through the
key/value cache. The model never reads more than its context: a longer text is
cut from the left (`prepare_prompt` says so), and once the text outgrows the
window each step re-reads the last `context_length` tokens afresh.

An encoder-decoder (T5) runs the same loop: its encoder reads the input once and
its decoder writes from its start token (`seq2seq_generation`, `open_window`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generator, Optional, Protocol, Sequence, Union

import torch
from torch import Tensor

from playground.core.attention_records import AttentionRows
from playground.core.model import GPT
from playground.core.progress import CancelToken, UserError
from playground.core.sampling_settings import SamplingSettings
from playground.core.t5_model import T5

END_TOKENS = ("<|endoftext|>", "</s>", "<eos>", "[SEP]")  # the first one a tokenizer has ends the text
CANDIDATES = 10  # how many of the best tokens each generated token remembers


# -- logits processors ----------------------------------------------------------
# Each takes logits [B, V] and the ids seen so far [B, T] and returns new logits.
# A token a filter removes gets -inf, so its probability becomes exactly 0.


@dataclass(frozen=True)
class RepetitionPenalty:
    penalty: float

    @property
    def name(self) -> str:
        return f"repetition penalty {self.penalty:g}"

    def __call__(self, logits: Tensor, seen: Optional[Tensor]) -> Tensor:
        assert seen is not None, "a chain with a repetition penalty is given the ids seen"
        if seen.numel() == 0:
            return logits
        scores = torch.gather(logits, 1, seen)
        scores = torch.where(scores > 0, scores / self.penalty, scores * self.penalty)
        return logits.scatter(1, seen, scores)


@dataclass(frozen=True)
class Temperature:
    temperature: float

    @property
    def name(self) -> str:
        return f"temperature {self.temperature:g}"

    def __call__(self, logits: Tensor, seen: Optional[Tensor]) -> Tensor:
        return logits / self.temperature


@dataclass(frozen=True)
class TopK:
    k: int

    @property
    def name(self) -> str:
        return f"top-k {self.k}"

    def __call__(self, logits: Tensor, seen: Optional[Tensor]) -> Tensor:
        if self.k >= logits.size(-1):
            return logits
        kth = torch.topk(logits, self.k, dim=-1).values[:, -1:]
        return logits.masked_fill(logits < kth, float("-inf"))


@dataclass(frozen=True)
class TopP:
    p: float

    @property
    def name(self) -> str:
        return f"top-p {self.p:g}"

    def __call__(self, logits: Tensor, seen: Optional[Tensor]) -> Tensor:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # A token stays when the tokens before it add up to less than p: the
        # nucleus is the smallest set that reaches p, and the best token always stays.
        before = torch.cumsum(probs, dim=-1) - probs
        drop_sorted = before >= self.p
        drop = drop_sorted.scatter(1, order, drop_sorted)
        return logits.masked_fill(drop, float("-inf"))


@dataclass(frozen=True)
class MinP:
    min_p: float

    @property
    def name(self) -> str:
        return f"min-p {self.min_p:g}"

    def __call__(self, logits: Tensor, seen: Optional[Tensor]) -> Tensor:
        probs = torch.softmax(logits, dim=-1)
        floor = self.min_p * probs.max(dim=-1, keepdim=True).values
        return logits.masked_fill(probs < floor, float("-inf"))


class Processor(Protocol):
    """One link of the chain (the classes above); `seen` may be None when no link in the chain reads it."""

    @property
    def name(self) -> str: ...

    def __call__(self, logits: Tensor, seen: Optional[Tensor]) -> Tensor: ...


def build_processors(settings: SamplingSettings) -> list[Processor]:
    """The active processors for `settings`, in the documented order."""
    chain: list[Processor] = []
    if settings.repetition_penalty != 1.0:
        chain.append(RepetitionPenalty(settings.repetition_penalty))
    if settings.strategy != "sample":
        return chain  # greedy and beam only rank, and the rest never changes the ranking
    if settings.temperature != 1.0:
        chain.append(Temperature(settings.temperature))
    if settings.top_k > 0:
        chain.append(TopK(settings.top_k))
    if settings.top_p < 1.0:
        chain.append(TopP(settings.top_p))
    if settings.min_p > 0.0:
        chain.append(MinP(settings.min_p))
    return chain


def apply_processors(logits: Tensor, seen: Optional[Tensor], chain: Sequence[Processor]) -> Tensor:
    for processor in chain:
        logits = processor(logits, seen)
    return logits


# -- what generation hands out ---------------------------------------------------


@dataclass
class Candidate:
    """A token the model considered: its id, its text and a probability."""

    id: int
    text: str
    prob: float


@dataclass
class Stage:
    """The distribution after one processor, for the step-by-step view (its best tokens)."""

    name: str
    candidates: list[Candidate]
    kept: int  # how many tokens still have a probability above 0


@dataclass
class GeneratedToken:
    """One new token, with what the model thought of it.

    prob: the model's own probability for it (softmax of the raw logits).
    chosen_prob: its probability in the distribution it was drawn from (after the processors).
    before / after: the best candidates before and after the processors.
    stop_reason: on the last token only, why generation stopped.
    attention: with `generate_tokens(attention=True)`, where this token looked in
        every layer and head (its own row); the first token carries the prompt's
        rows too, and a token read with its window afresh carries the whole window.
    """

    index: int
    id: int
    text: str
    prob: float
    chosen_prob: float
    before: list[Candidate] = field(default_factory=list)
    after: list[Candidate] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    stop_reason: str = ""
    attention: Optional[AttentionRows] = None


@dataclass
class PreparedPrompt:
    """Prompt ids as the model will read them, and a notice when some were cut."""

    ids: list[int]
    total_tokens: int  # all of the prompt's tokens (at least this many when not exact)
    cut_tokens: int = 0
    notice: str = ""
    exact: bool = True  # False for a huge prompt of which only the end was tokenized


# -- helpers ------------------------------------------------------------------------


def special_token_id(tokenizer, candidates: Sequence[str]) -> Optional[int]:
    """The id of the first of `candidates` that is one of the tokenizer's special tokens, if any."""
    if tokenizer is None:
        return None
    for token in candidates:
        if token in tokenizer.special_tokens:
            found = tokenizer.tokenizer.token_to_id(token)
            if found is not None:
                return found
    return None


def end_token_id(tokenizer) -> Optional[int]:
    """The id of the tokenizer's end-of-text token, if it has one."""
    return special_token_id(tokenizer, END_TOKENS)


def prepare_prompt(tokenizer, text: str, context_length: int) -> PreparedPrompt:
    """Encode `text` for generation.

    An empty prompt starts from the end-of-text token (what the model saw
    between documents while training), else from a new line. A prompt longer
    than the context is cut from the left, with a notice; a huge one is not
    tokenized whole, only as much of its end as the context needs.
    """
    from playground.core.prompts import TAIL_DROP_TOKENS, tail_cuts

    for cut in tail_cuts(text, context_length):
        ids = tokenizer.encode_ids([text[cut:]])[0][TAIL_DROP_TOKENS:]
        if len(ids) > context_length:
            return PreparedPrompt(
                ids=ids[-context_length:],
                total_tokens=len(ids),
                cut_tokens=len(ids) - context_length,
                exact=False,
                notice=(
                    f"The prompt has more than {len(ids):,} tokens (its first {cut:,} characters were not even "
                    f"counted) but the model reads at most {context_length:,}: only the last "
                    f"{context_length:,} are kept."
                ),
            )
    ids = tokenizer.encode_ids([text])[0] if text else []
    if not ids:
        start = end_token_id(tokenizer)
        ids = [start] if start is not None else tokenizer.encode_ids(["\n"])[0]
        notice = "The prompt is empty, so the model starts from the beginning of a text."
        if not ids:
            raise UserError("This tokenizer cannot encode even a new line, so there is nothing to start from.")
        return PreparedPrompt(
            ids=ids,
            total_tokens=0,
            notice=notice
            if text == ""
            else "The prompt gave no tokens with this tokenizer, so the model starts from the beginning.",
        )
    if len(ids) <= context_length:
        return PreparedPrompt(ids=ids, total_tokens=len(ids))
    cut = len(ids) - context_length
    return PreparedPrompt(
        ids=ids[cut:],
        total_tokens=len(ids),
        cut_tokens=cut,
        notice=(
            f"The prompt has {len(ids):,} tokens but the model reads at most {context_length:,}: "
            f"the first {cut:,} are cut and the model sees only the last {context_length:,}."
        ),
    )


class _TokenTexts:
    """Each candidate's text, decoded once per generation (the same few tokens come up every step)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.known: dict[int, str] = {}

    def __call__(self, token_id: int) -> str:
        if token_id not in self.known:
            self.known[token_id] = str(token_id) if self.tokenizer is None else self.tokenizer.token_text(token_id)
        return self.known[token_id]


def _top(probs: Tensor, texts: _TokenTexts, n: int = CANDIDATES) -> list[Candidate]:
    values, ids = torch.topk(probs, min(n, probs.numel()))
    # One copy to the host, not one wait per number (that matters on a GPU).
    return [Candidate(i, texts(i), v) for v, i in zip(values.tolist(), ids.tolist()) if v > 0]


class ContextWindow:
    """Feeds a growing sequence through the model, within its context, with or without the cache.

    The two methods at the end are all it asks of the model; an encoder-decoder's
    decoder overrides them (`seq2seq_generation.DecoderWindow`), so that greedy,
    sampling and beam search run the same loop for both.
    """

    end_tokens: tuple[str, ...] = END_TOKENS  # the first of these the tokenizer has ends the text

    def __init__(self, model: Union[GPT, T5], use_cache: bool = True):
        self.model = model
        self.context = model.config.context_length
        self.device = next(model.parameters()).device
        self.use_cache = use_cache
        self.cache: Any = None
        self.fed = 0  # how many of the sequence's tokens the cache holds

    def logits(self, sequences: list[list[int]]) -> Tensor:
        """Next-token logits [B, V] for equally long sequences of ids."""
        return self.read(sequences)[0]

    def read(self, sequences: list[list[int]], attention: bool = False) -> tuple[Tensor, Optional[AttentionRows]]:
        """Next-token logits [B, V], and with `attention` the first sequence's rows for the tokens just read."""
        length = len(sequences[0])
        if not self.use_cache:
            ids = torch.tensor([s[-self.context :] for s in sequences], device=self.device)
            logits, rows = self._forward(ids, None, attention)
            return logits.float(), rows
        if self.cache is None or self.cache.length + (length - self.fed) > self.context:
            # Positions are numbered from the window's start, so a full cache
            # cannot slide along: read the last `context` tokens afresh.
            self.cache, self.fed = self._new_cache(len(sequences)), max(0, length - self.context)
        pending = torch.tensor([s[self.fed :] for s in sequences], device=self.device)
        logits, rows = self._forward(pending, self.cache, attention)
        self.fed = length
        return logits.float(), rows

    def reorder(self, rows: Tensor) -> None:
        if self.cache is not None:
            self.cache.reorder(rows.to(self.device))

    def _new_cache(self, batch: int) -> Any:
        """An empty cache for `batch` sequences."""
        assert isinstance(self.model, GPT)
        return self.model.new_kv_cache()

    def _forward(self, ids: Tensor, cache: Any, attention: bool) -> tuple[Tensor, Optional[AttentionRows]]:
        """The logits after the last of `ids` [B, T] (read after the tokens in `cache`, which grows by them),
        and with `attention` the first sequence's rows."""
        capture = {"capture_attention": True} if attention else {}
        if cache is None:
            output = self.model(ids, last_only=True, **capture)
        elif not attention:
            return self.model.step(ids, cache)[0], None
        else:
            output = self.model(ids, kv_cache=cache, last_only=True, **capture)
        rows = AttentionRows.of_output(output.attentions) if attention else None
        return output.logits[:, -1, :], rows


def open_window(
    model: Union[GPT, T5], use_cache: bool = True, input_ids: Optional[Sequence[int]] = None, attention: bool = False
) -> ContextWindow:
    """How generation reads `model`: a decoder continues its prompt; an encoder-decoder's decoder writes
    after `input_ids`, which its encoder reads once (with `attention`, spelling its weights out)."""
    encoder_decoder = model.config.is_encoder_decoder
    if input_ids is None and not encoder_decoder:
        return ContextWindow(model, use_cache)
    if input_ids is None:
        raise UserError("An encoder-decoder writes an output for an input: give it the input text.")
    if not encoder_decoder:
        raise UserError(
            "Only an encoder-decoder reads an input apart from what it writes; this model continues a prompt."
        )
    from playground.core.seq2seq_generation import DecoderWindow

    assert isinstance(model, T5)
    return DecoderWindow(model, input_ids, use_cache, attention)


class _Detokenizer:
    """Turns new ids into text piece by piece, holding back a character cut in half.

    Each step decodes only the tokens since the last piece, plus the one before
    them for context (a decoder may treat a text's first token differently), so
    a long generation costs the same per token as a short one.
    """

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.text = ""
        self.start = 0  # context: decoding begins here
        self.done = 0  # the tokens before this are in `text`

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        if self.tokenizer is None:
            return ""
        before = self.tokenizer.decode(self.ids[self.start : self.done])
        now = self.tokenizer.decode(self.ids[self.start :])
        if now.endswith("\ufffd") or len(now) <= len(before):  # half a character: wait for the rest
            return ""
        piece = now[len(before) :]
        self.start, self.done = self.done, len(self.ids)
        self.text += piece
        return piece


# -- greedy and sampling ------------------------------------------------------------------


@torch.no_grad()
def generate_tokens(
    model: Union[GPT, T5],
    prompt_ids: Sequence[int],
    settings: SamplingSettings,
    tokenizer=None,
    cancel: Optional[CancelToken] = None,
    generator: Optional[torch.Generator] = None,
    use_cache: bool = True,
    explain: bool = False,
    candidates: bool = True,
    attention: bool = False,
    input_ids: Optional[Sequence[int]] = None,
) -> Generator[GeneratedToken, None, None]:
    """Continue `prompt_ids` one token at a time (greedy or sample), yielding each new token.

    An encoder-decoder (`model` a T5) writes after `input_ids`, the input its
    encoder reads once: `prompt_ids` are then what its decoder has so far, the
    decoder's start token first (see `seq2seq_generation`).

    The last token yielded carries `stop_reason`. Stops at `max_new_tokens`, at
    the end-of-text token (when `stop_at_end`), at a stop string (needs
    `tokenizer`), or when `cancel` is set. `candidates` lists each token's best
    rivals (off for callers that only want the text). `explain` records every processor's
    distribution in `stages` (the step-by-step view). `generator` defaults to
    one seeded with `settings.seed`.

    `attention` hands over where each token looked (`GeneratedToken.attention`)
    from the same cached forward passes: each new token is read as soon as it is
    chosen, spelling its attention out, and that pass also gives the next
    token's logits. So it costs one forward more than without (the last token's
    own), and the weights are those a separate `capture_ids` would find.
    An encoder-decoder's rows are `Seq2SeqRows`: its decoder's self-attention,
    with the same rows' cross-attention over the input (and the encoder's own, on the first token).
    """
    settings.raise_if_invalid()
    if settings.strategy == "beam":
        raise ValueError("Use beam_search for beam search.")
    if not prompt_ids:
        raise UserError("Generation needs at least one token to start from.")
    if generator is None:
        generator = torch.Generator()
        if settings.seed is None:
            generator.seed()
        else:
            generator.manual_seed(settings.seed)
    chain = build_processors(settings)
    needs_seen = explain or any(isinstance(p, RepetitionPenalty) for p in chain)
    window = open_window(model, use_cache, input_ids, attention)
    end_id = special_token_id(tokenizer, window.end_tokens) if settings.stop_at_end else None
    longest_stop = max((len(s) for s in settings.stop_strings), default=0)
    sequence = list(prompt_ids)
    text = _Detokenizer(tokenizer)
    texts = _TokenTexts(tokenizer)
    was_training = model.training
    model.eval()
    raw: Optional[Tensor] = None  # the next token's logits, when the last pass gave them already
    try:
        for index in range(settings.max_new_tokens):
            if cancel is not None and cancel.cancelled:
                return
            if raw is None:
                raw, prompt_rows = window.read([sequence], attention)
            seen = torch.tensor([sequence[-window.context :]], device=raw.device) if needs_seen else None
            stages = _stages(raw, seen, chain, texts) if explain else []
            logits = apply_processors(raw, seen, chain)[0]
            probs = torch.softmax(logits, dim=-1)
            if settings.strategy == "greedy":
                token = int(torch.argmax(logits))
            else:
                draw = probs if generator.device == probs.device else probs.to(generator.device)
                token = int(torch.multinomial(draw, 1, generator=generator))
            raw_probs = torch.softmax(raw[0], dim=-1)
            sequence.append(token)
            piece = text.add(token)
            out = GeneratedToken(
                index=index,
                id=token,
                text=piece,
                prob=float(raw_probs[token]),
                chosen_prob=float(probs[token]),
                before=_top(raw_probs, texts) if candidates else [],
                after=_top(probs, texts) if candidates else [],
                stages=stages,
            )
            raw = None
            if attention:
                # Read the new token now: its own row, and the logits the next step needs.
                raw, rows = window.read([sequence], attention=True)
                assert rows is not None and prompt_rows is not None  # both read with attention
                out.attention = rows.after(prompt_rows) if index == 0 else rows
            tail = text.text[-(len(piece) + longest_stop) :]  # a stop string can only end in the new piece
            if token == end_id:
                out.stop_reason = "the end-of-text token"
            elif piece and any(s and s in tail for s in settings.stop_strings):
                out.stop_reason = "a stop string"
            elif index == settings.max_new_tokens - 1:
                out.stop_reason = "max new tokens"
            yield out
            if out.stop_reason:
                return
    finally:
        model.train(was_training)


def _stages(raw: Tensor, seen: Optional[Tensor], chain: Sequence[Processor], texts: _TokenTexts) -> list[Stage]:
    def stage(name: str, logits: Tensor) -> Stage:
        probs = torch.softmax(logits[0], dim=-1)
        return Stage(name, _top(probs, texts), int((probs > 0).sum()))

    stages = [stage("the model", raw)]
    logits = raw
    for processor in chain:
        logits = processor(logits, seen)
        stages.append(stage(processor.name, logits))
    return stages


def generate_ids(
    model: GPT,
    ids: Union[Sequence[int], Tensor],
    max_new_tokens: int,
    temperature: float = 0.0,
    top_k: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
) -> list[int]:
    """The `max_new_tokens` ids after `ids`: greedy at temperature 0, else drawn (from the `top_k` best)."""
    if isinstance(ids, Tensor):
        ids = ids.flatten().tolist()
    if not ids:
        raise ValueError("generate_ids needs at least one token to start from.")
    if max_new_tokens <= 0:  # a training run may ask for no sample text
        return []
    settings = SamplingSettings(
        strategy="greedy" if temperature <= 0 else "sample",
        temperature=temperature if temperature > 0 else 1.0,
        top_k=top_k or 0,
        max_new_tokens=max_new_tokens,
        stop_at_end=False,
    )
    return [
        t.id for t in generate_tokens(model, ids, settings, generator=generator or torch.Generator(), candidates=False)
    ]
