"""The attention heatmap widget: what a redraw on new tokens redoes, and what it reuses."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from playground.ui.themes import qcolour
from playground.ui.widgets import heatmap as heatmap_module
from playground.ui.widgets.heatmap import AttentionHeatmap, TokenAxis, staircase


def causal(T: int, seed: int = 0) -> np.ndarray:
    weights = np.tril(np.random.default_rng(seed).random((T, T), dtype=np.float32))
    return weights / weights.sum(axis=1, keepdims=True)


@pytest.fixture
def heatmap(qtbot):
    widget = AttentionHeatmap()
    qtbot.addWidget(widget)
    widget.resize(700, 560)
    widget.show()
    return widget


def test_new_tokens_reuse_the_mask_the_layout_and_each_label_s_measure(qtbot, heatmap, monkeypatch):
    shapes, measured = [], []
    monkeypatch.setattr(heatmap_module, "staircase", lambda T: shapes.append(T) or staircase(T))
    width_of = TokenAxis._width_of
    monkeypatch.setattr(TokenAxis, "_width_of", lambda self, text: measured.append(text) or width_of(self, text))
    first = [f"a{i}" for i in range(64)]
    second = [f"word{i}" for i in range(64)]

    heatmap.set_matrix(causal(64), first)
    qtbot.wait(10)
    assert shapes == [64] and len(measured) == 2 * 64  # both axes measure each new label once
    heatmap.set_matrix(causal(64, 1), second)  # longer labels: the axes grow at once
    qtbot.wait(10)
    room = (heatmap.left.width(), heatmap.bottom.height())
    heatmap.set_matrix(causal(64, 2), first)
    qtbot.wait(10)
    assert (heatmap.left.width(), heatmap.bottom.height()) == room  # and keep their room for a bit shorter ones
    heatmap.set_matrix(causal(64, 3), second)
    qtbot.wait(10)
    assert shapes == [64]  # same count: the mask stays
    assert len(measured) == 4 * 64  # the second text measured once, then known
    assert heatmap.labels == second and heatmap.left.labels == second

    heatmap.set_matrix(causal(65), second + ["x"])
    assert shapes == [64, 65]  # one more token: a new staircase
    assert np.isnan(heatmap.image[np.triu_indices(65, 1)]).all()


def test_the_mask_covers_exactly_the_cells_after_each_query():
    for T in (1, 2, 5, 17):
        path = staircase(T)
        for q in range(T):
            for k in range(T):
                assert path.contains(QPointF(k + 0.5, q + 0.5)) == (k > q), (T, q, k)


def test_the_highlighted_tokens_are_drawn_in_the_hover_colour(qtbot, heatmap):
    tokens = ["The", " cat", " sat", " on", " the", " mat"]
    heatmap.set_matrix(causal(6), tokens)
    qtbot.wait(20)

    def hover_pixels() -> int:
        image = heatmap.grab().toImage()
        hover = qcolour("paper_select")  # the hovered token's label
        axis = heatmap.left.mapRectToScene(heatmap.left.boundingRect())
        found = 0
        for x in range(int(axis.left()), int(axis.right()), 2):
            for y in range(int(axis.top()), int(axis.bottom()), 2):
                c = image.pixelColor(x, y)
                found += abs(c.red() - hover.red()) + abs(c.green() - hover.green()) + abs(c.blue() - hover.blue()) < 60
        return found

    assert hover_pixels() == 0
    heatmap._hover(4, 1)
    qtbot.wait(20)
    assert heatmap.left.highlight == 4 and hover_pixels() > 0
