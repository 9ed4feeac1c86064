"""The Attention Lab's work, as job generators (the contract is in ``playground/engine/jobs.py``).

Each takes the session's model store (``models``: anything with
``model_for(checkpoint)``, which loads the weights once) and the checkpoint,
yields its progress and returns what the Lab draws: an `AttentionSnapshot`, or
the `EmbeddingMap` of the token embeddings, or for the causal-vs-masked view
a `SideBySide` of two models over one sentence. A generated text whose generation
handed its attention over (`AttentionSoFar`) is drawn without running the model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Generator, Optional, Sequence, Union

import numpy as np
from torch import Tensor

from .attention import capture_attention, capture_ids
from .attention_records import AttentionSnapshot, AttentionSoFar, snapshot_of
from .embeddings import EmbeddingMap, compute_embedding_map
from .progress import Progress, UserError

LOADING = Progress(None, "Loading the model…")


def look_at_text(models, checkpoint, text: str) -> Generator[Progress, None, AttentionSnapshot]:
    """Run the model over `text` once and return where each head looked."""
    yield LOADING
    model = models.model_for(checkpoint)
    yield Progress(None, "Reading the text…")
    capture = capture_attention(model, checkpoint.tokenizer, text)
    return snapshot_of(capture.weights, capture.tokens, notice=capture.notice, causal=capture.causal)


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


# -- causal vs masked: two models side by side on one sentence ----------------------------


@dataclass(frozen=True)
class ModelChoice:
    """One side of the causal-vs-masked view: the session's current model (`path` None) or a model folder."""

    label: str
    path: Optional[str] = None


@dataclass(frozen=True)
class ComparedSide:
    """Where one model's heads looked over the sentence: `encoder` reads every token (a square)."""

    choice: ModelChoice
    name: str
    encoder: bool
    snapshot: AttentionSnapshot


@dataclass(frozen=True)
class SideBySide:
    """The result of `look_side_by_side`: both sides, in the order chosen."""

    text: str
    sides: tuple[ComparedSide, ...]


class FolderModels:
    """Models read from folders for the comparison, kept (the latest `keep`) so that typing does not reload them.

    Separate from the session's `ModelStore`, which holds the current model
    only: comparing must not push that one out. Safe to call from jobs.
    """

    def __init__(self, keep: int = 2) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, str], tuple] = {}  # (folder, device) -> (checkpoint, model)

    def get(self, path: str, device) -> tuple:
        """(checkpoint, model) of the folder `path` (a run: its best checkpoint), on `device`."""
        from .checkpoints import load_checkpoint

        key = (str(Path(path).resolve()), str(device))
        with self._lock:
            found = self._loaded.get(key)
        if found is not None:
            return found
        found = load_checkpoint(path, device=device)
        with self._lock:
            self._loaded[key] = found
            while len(self._loaded) > self.keep:
                self._loaded.pop(next(iter(self._loaded)))
        return found


def look_side_by_side(
    models, current, choices: Sequence[ModelChoice], text: str, folders: FolderModels
) -> Generator[Progress, None, SideBySide]:
    """Run each chosen model over `text` once: a decoder's attention is a triangle, an encoder's a square,
    an encoder-decoder's cross-attention (its greedy output reading `text`) a rectangle.

    `current` is the session's checkpoint (for a choice without a folder; its
    model comes from `models`); folders are read through `folders`. Each side
    reads the text as its model was trained (an encoder between [CLS] and [SEP]).
    """
    if not text.strip():
        raise UserError("Type a sentence for both models to read.")
    sides = []
    for n, choice in enumerate(choices):
        yield Progress(n / len(choices), f"Loading {choice.label}…")
        if choice.path is None:
            if current is None:
                raise UserError(f"There is no current model for “{choice.label}”: choose another model for that side.")
            checkpoint, model = current, models.model_for(current)
        else:
            checkpoint, model = folders.get(choice.path, models.device())
        yield Progress((n + 0.5) / len(choices), f"{choice.label} reads the text…")
        if model.config.is_encoder_decoder:  # the text is its input; its cross-attention a rectangle
            from .seq2seq_look import capture_pair

            snapshot = capture_pair(model, checkpoint.tokenizer, text).snapshot("cross")
        else:
            capture = capture_attention(model, checkpoint.tokenizer, text)
            snapshot = snapshot_of(capture.weights, capture.tokens, notice=capture.notice, causal=capture.causal)
        sides.append(ComparedSide(choice, checkpoint.name, bool(model.config.is_encoder), snapshot))
    return SideBySide(text, tuple(sides))


def nearest_head(snapshot: AttentionSnapshot, layer: int, head: Union[int, str]) -> tuple[int, Union[int, str], str]:
    """(layer, head, note): the layer and head asked for, or the nearest this model has, with a sentence saying so.

    `head` may be "mean" (the layer's average), which every layer has.
    """
    n_layer, n_head = int(snapshot.weights.shape[0]), int(snapshot.weights.shape[1])
    use_layer = max(0, min(int(layer), n_layer - 1))
    use_head: Union[int, str] = head if isinstance(head, str) else max(0, min(int(head), n_head - 1))
    notes = []
    if use_layer != layer:
        notes.append(f"it has no layer {layer} ({n_layer} layers), so this is layer {use_layer}, the nearest")
    if use_head != head:
        notes.append(f"it has no head {head} ({n_head} heads a layer), so this is head {use_head}, the nearest")
    return use_layer, use_head, ("This model: " + "; ".join(notes) + ".") if notes else ""
