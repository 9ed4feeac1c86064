"""Token embeddings for the Attention Lab: the table of token vectors, a 2-D map of it, and each token's neighbours.

The map is a principal component analysis: the two directions in which the
token vectors differ most, so that tokens the model treats alike land close.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np
import torch
from torch import Tensor

from .progress import UserError
from .token_labels import display_token

Matrix = Union[Tensor, np.ndarray]
N_CANDIDATES = 200  # common whole words offered for labels on the map


def embedding_matrix(model) -> Tensor:
    """The model's token embedding table [vocab_size, n_embd]: float32, on the CPU, without gradients."""
    return model.token_embedding.weight.detach().float().cpu()


def _as_tensor(matrix: Matrix, dtype: torch.dtype) -> Tensor:
    m = matrix.detach() if isinstance(matrix, Tensor) else torch.as_tensor(np.asarray(matrix))
    if m.ndim != 2:
        raise ValueError(f"expected a [tokens, width] matrix, got shape {tuple(m.shape)}")
    return m.to("cpu", dtype)


def pca_2d(matrix: Matrix) -> tuple[np.ndarray, tuple[float, float]]:
    """Each row's coordinates [V, 2] on the two principal components, and the share of variance each explains.

    Exact and deterministic: the eigenvectors of the [C, C] covariance (cheap
    even for a 50k-token vocabulary), each signed so that its largest loading
    is positive, so that the map does not mirror itself from one checkpoint to
    the next. A component the data lacks (a single token, a width of 1, equal
    rows) has coordinates 0 and explains 0.
    """
    x = _as_tensor(matrix, torch.float64)  # float64: rounding too small to move the map
    V, C = x.shape
    x = x - x.mean(dim=0, keepdim=True)
    covariance = x.T @ x
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
    order = torch.arange(C - 1, max(C - 3, -1), -1)
    components = eigenvectors[:, order]  # [C, <=2], largest first
    variances = eigenvalues[order].clamp(min=0.0)
    # Sign: the loading of largest size positive (the first such, if two tie).
    largest = components.abs().argmax(dim=0)
    signs = torch.sign(components[largest, torch.arange(components.shape[1])])
    components = components * torch.where(signs == 0, torch.ones_like(signs), signs)

    coords = np.zeros((V, 2), dtype=np.float32)
    coords[:, : components.shape[1]] = (x @ components).numpy()
    total = float(covariance.diagonal().sum())
    explained = [float(v) / total if total > 0 else 0.0 for v in variances]
    explained += [0.0] * (2 - len(explained))
    # Rounding may leave a vanishing component a tiny non-zero coordinate.
    for j, share in enumerate(explained):
        if share <= 1e-12:
            coords[:, j] = 0.0
            explained[j] = 0.0
    return coords, (explained[0], explained[1])


def nearest_neighbours(matrix: Matrix, token_id: int, k: int = 10) -> list[tuple[int, float]]:
    """The `k` tokens whose vectors point most nearly the same way as `token_id`'s, with their cosine similarity.

    The token itself is left out; ties keep the lower id first.
    """
    x = _as_tensor(matrix, torch.float32)
    V = x.shape[0]
    if isinstance(token_id, bool) or not isinstance(token_id, (int, np.integer)) or not 0 <= token_id < V:
        raise UserError(f"token {token_id} does not exist: this vocabulary has ids 0–{V - 1}.")
    k = min(int(k), V - 1)
    if k <= 0:
        return []
    unit = x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)
    similarity = unit @ unit[int(token_id)]
    similarity[int(token_id)] = -float("inf")
    values, ids = torch.sort(similarity, descending=True, stable=True)
    return [(int(i), float(v)) for v, i in zip(values[:k], ids[:k])]


# -- the map the Attention Lab draws ----------------------------------------------


@dataclass
class EmbeddingMap:
    """What the map shows: coordinates [V, 2], each axis's share of the variance, and each token's text."""

    coords: np.ndarray
    explained: tuple[float, float]
    texts: list[str]  # what each id stands for ('' for an id the tokenizer lacks)
    matrix: np.ndarray  # the embedding table [V, C], float32
    featured: list[int]  # ids labelled on the map
    name: str = ""
    labels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.labels:
            self.labels = [display_token(t, 16) if t else f"<unused {i}>" for i, t in enumerate(self.texts)]


def compute_embedding_map(model, tokenizer, name: str = "", n_featured: int = N_CANDIDATES) -> EmbeddingMap:
    """The PCA map of `model`'s token embeddings, for the tokens `tokenizer` knows (seconds for 50k tokens)."""
    table = embedding_matrix(model)
    vocab = tokenizer.vocabulary()
    V = min(int(table.shape[0]), max((e.id for e in vocab), default=-1) + 1)
    matrix = table[:V].numpy()  # rows past the tokenizer's ids are padding the model never trains
    coords, explained = pca_2d(matrix)
    texts = [""] * V
    labels = [f"<unused {i}>" for i in range(V)]
    for e in vocab:
        if e.id < V:
            texts[e.id] = e.token if e.special else e.text
            if e.special:
                labels[e.id] = e.token
            elif "\ufffd" in e.text:  # a piece of a character: name its bytes
                labels[e.id] = "byte " + " ".join(f"{b:02X}" for b in e.raw)
            else:
                labels[e.id] = display_token(e.text, 16)
    # Label common whole words: the tokenizer learned the most frequent first (a BPE's merge order).
    words = [
        e
        for e in vocab
        if e.id < V
        and not e.special
        and "\ufffd" not in e.text
        and e.text.strip().isalpha()
        and len(e.text.strip()) >= 2
    ]
    # Whole words first: with a space before them (a byte-level BPE writes words that way).
    words.sort(key=lambda e: (not e.text.startswith(" "), e.merge_rank if e.merge_rank is not None else 10**9, e.id))
    featured = [e.id for e in words[:n_featured]]
    return EmbeddingMap(
        coords=coords, explained=explained, texts=texts, matrix=matrix, featured=featured, name=name, labels=labels
    )
