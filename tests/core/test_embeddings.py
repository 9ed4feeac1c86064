"""Token embeddings: the matrix, its 2-D principal-component map, and nearest neighbours."""

import numpy as np
import pytest
import torch

from playground.core.config import ModelConfig
from playground.core.embeddings import embedding_matrix, nearest_neighbours, pca_2d
from playground.core.model import GPT
from playground.core.progress import UserError


@pytest.fixture(scope="module")
def model(one_thread):
    torch.manual_seed(0)
    return GPT(ModelConfig.gpt2_style(vocab_size=50, context_length=8, n_layer=1, n_head=2, n_embd=16))


def test_embedding_matrix_is_a_detached_cpu_copy_of_the_table(model):
    matrix = embedding_matrix(model)
    assert matrix.shape == (50, 16) and matrix.dtype == torch.float32 and not matrix.requires_grad
    assert matrix.equal(model.token_embedding.weight.detach())


def test_pca_gives_two_coordinates_per_token_and_decreasing_shares(model):
    matrix = embedding_matrix(model)
    coords, explained = pca_2d(matrix)
    assert coords.shape == (50, 2)
    assert 1 >= explained[0] >= explained[1] > 0 and sum(explained) <= 1 + 1e-9
    np.testing.assert_allclose(coords.mean(0), 0, atol=1e-6)  # centred
    # The components are the directions of most variance: their variances are the shares given.
    total = ((matrix - matrix.mean(0)) ** 2).sum().item()
    np.testing.assert_allclose((coords.astype(np.float64) ** 2).sum(0) / total, explained, rtol=1e-4)
    again, explained_again = pca_2d(matrix.clone().numpy())
    np.testing.assert_array_equal(coords, again)
    assert explained == explained_again


def test_pca_axes_are_signed_by_their_largest_loading():
    # Data along one clear direction: its largest loading is made positive,
    # so flipping every vector gives the same first axis, not a mirror image.
    rng = np.random.default_rng(0)
    line = np.outer(rng.normal(size=30), [3.0, -1.0, 0.5]) + 0.01 * rng.normal(size=(30, 3))
    coords, _ = pca_2d(line)
    flipped, _ = pca_2d(-line)
    np.testing.assert_allclose(flipped[:, 0], -coords[:, 0], rtol=1e-6, atol=1e-9)
    # The first axis reads the dominant feature (+3 times the row's size) with its own sign.
    assert np.corrcoef(coords[:, 0], line[:, 0])[0, 1] > 0.99


def test_pca_of_degenerate_tables():
    coords, explained = pca_2d(np.ones((5, 4)))
    assert explained == (0.0, 0.0) and not coords.any()
    coords, explained = pca_2d(np.arange(6.0).reshape(6, 1))
    assert coords.shape == (6, 2) and explained == (pytest.approx(1.0), 0.0) and not coords[:, 1].any()


def test_nearest_neighbour_of_a_copied_row_is_its_copy(model):
    matrix = embedding_matrix(model).clone()
    matrix[7] = matrix[31] * 2.5  # same direction, other length: cosine ignores length
    neighbours = nearest_neighbours(matrix, 31, k=5)
    assert len(neighbours) == 5 and neighbours[0][0] == 7
    assert neighbours[0][1] == pytest.approx(1.0, abs=1e-6)
    assert 31 not in [i for i, _ in neighbours]
    similarities = [s for _, s in neighbours]
    assert similarities == sorted(similarities, reverse=True) and all(-1 <= s <= 1 + 1e-6 for s in similarities)


def test_nearest_neighbours_edges(model):
    matrix = embedding_matrix(model)
    assert len(nearest_neighbours(matrix, 0, k=100)) == 49
    assert nearest_neighbours(matrix, 0, k=0) == []
    for bad in (50, -1):
        with pytest.raises(UserError, match=f"token {bad} does not exist: this vocabulary has ids 0–49"):
            nearest_neighbours(matrix, bad)
