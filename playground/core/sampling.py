"""Sampling: turning a model's next-token scores into text.

For now one small helper, `generate_ids`, which the trainer uses for its
progress samples and the command line for `generate`.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from playground.core.model import GPT, KVCache


@torch.no_grad()
def generate_ids(
    model: GPT,
    ids: Union[Sequence[int], Tensor],
    max_new_tokens: int,
    temperature: float = 0.0,
    top_k: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
) -> list[int]:
    """Continue the token ids `ids`; return only the `max_new_tokens` new ids.

    temperature 0 picks the most likely token every time (greedy); above 0 the
    scores are divided by it and a token is drawn (from the `top_k` best if
    given), using `generator` if given so that a seed gives the same text.

    The key/value cache feeds each new token once. The model never reads more
    than its context length: once the text is longer, each step re-reads the
    last `context_length` tokens from a fresh cache (positions are numbered
    from the window's start, so a cache cannot simply slide along).
    """
    if isinstance(ids, Tensor):
        ids = ids.flatten().tolist()
    if not ids:
        raise ValueError("generate_ids needs at least one token to start from.")
    window = model.config.context_length
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        sequence = list(ids)
        new: list[int] = []
        cache: Optional[KVCache] = None
        pending = sequence[-window:]  # tokens not yet in the cache
        for _ in range(max_new_tokens):
            if cache is not None and cache.length + len(pending) > window:
                cache, pending = None, sequence[-window:]
            logits, cache = model.step(torch.tensor([pending], device=device), cache)
            next_id = pick(logits[0].float(), temperature, top_k, generator)
            sequence.append(next_id)
            new.append(next_id)
            pending = [next_id]
        return new
    finally:
        model.train(was_training)


def pick(
    logits: Tensor,
    temperature: float = 0.0,
    top_k: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
) -> int:
    """One token id from scores [vocab_size]: greedy at temperature 0, else a draw."""
    if temperature <= 0:
        return int(torch.argmax(logits))
    logits = logits / temperature
    if top_k is not None and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if generator is not None and generator.device != probs.device:
        probs = probs.to(generator.device)
    return int(torch.multinomial(probs, 1, generator=generator))
