"""The Attention Lab's work, as job generators (the contract is in ``playground/engine/jobs.py``).

Each takes the session's model store (``models``: anything with
``model_for(checkpoint)``, which loads the weights once) and the checkpoint,
yields its progress and returns what the Lab draws: an `AttentionSnapshot`, or
the `EmbeddingMap` of the token embeddings. A generated text whose generation
handed its attention over (`AttentionSoFar`) is drawn without running the model.
"""

from __future__ import annotations

from typing import Generator, Optional, Sequence, Union

import numpy as np
from torch import Tensor

from .attention import capture_attention, capture_ids
from .attention_records import AttentionSnapshot, AttentionSoFar, snapshot_of
from .embeddings import EmbeddingMap, compute_embedding_map
from .progress import Progress

LOADING = Progress(None, "Loading the model…")


def look_at_text(models, checkpoint, text: str) -> Generator[Progress, None, AttentionSnapshot]:
    """Run the model over `text` once and return where each head looked."""
    yield LOADING
    model = models.model_for(checkpoint)
    yield Progress(None, "Reading the text…")
    capture = capture_attention(model, checkpoint.tokenizer, text)
    return snapshot_of(capture.weights, capture.tokens, notice=capture.notice)


def look_at_generated(
    models,
    checkpoint,
    ids: Sequence[int],
    tokens: Sequence[str],
    prompt_tokens: int,
    attention: Optional[AttentionSoFar] = None,
) -> Generator[Progress, None, AttentionSnapshot]:
    """Where each head looked over a generated text (the prompt's `prompt_tokens` ids, then the written ones).

    Only the model's window (its last `context_length` ids) is shown, with a
    notice when the text is longer. With `attention` handed over by the
    generation pass, that is drawn as it is and no model runs; without it, the
    model reads the window once.
    """
    ids, tokens = list(ids), list(tokens)
    if len(tokens) != len(ids):
        tokens = [checkpoint.tokenizer.decode([i]) for i in ids]
    context = checkpoint.model_config.context_length
    cut = max(0, len(ids) - context)
    weights: Union[np.ndarray, Tensor]
    if attention is not None and attention.length == len(ids) - cut:
        yield Progress(None, "Gathering the attention the generation handed over…")
        weights = attention.matrix()
    else:
        yield LOADING
        model = models.model_for(checkpoint)
        yield Progress(None, "Reading the text…")
        weights = capture_ids(model, ids[cut:])
    notice = (
        f"The text has {len(ids):,} tokens; the model reads at most {context:,}, so the heatmap shows "
        f"the last {context:,} (the visible window)."
        if cut
        else ""
    )
    tokens = tokens[cut:]
    prompt = max(0, min(len(tokens), int(prompt_tokens) - cut))
    return snapshot_of(weights, tokens, notice=notice, prompt_tokens=prompt)


def map_embeddings(models, checkpoint) -> Generator[Progress, None, EmbeddingMap]:
    """The map of the checkpoint's token embeddings (two principal components) and each token's text."""
    yield LOADING
    model = models.model_for(checkpoint)
    yield Progress(None, "Mapping the token embeddings…")
    return compute_embedding_map(model, checkpoint.tokenizer, name=checkpoint.name)
