"""The guided tour's causal-vs-masked card: the demo GPT and the demo BERT read one sentence, live."""

import numpy as np
import pytest
from PySide6.QtCore import Qt


@pytest.fixture
def window(qtbot, session):
    from playground.ui.main_window import MainWindow

    w = MainWindow(session)
    qtbot.addWidget(w)
    w.resize(1024, 640)
    w.show()
    return w


def attention_row(window) -> int:
    return [t.lower() for t in window.step_titles].index("attention")


def test_the_attention_card_draws_a_triangle_beside_a_square(qtbot, window, jobs):
    from playground import paths

    assert paths.demo_encoder_dir() is not None, "models/demo-encoder ships with the repository"
    tour = window.start_tour(attention_row(window) - 1)
    assert tour.live is None  # a card without a live view
    with qtbot.waitSignal(tour.step_changed, timeout=5000):
        qtbot.mouseClick(tour.next_button, Qt.LeftButton)
    live = tour.live
    assert live is not None and live.isVisible()
    jobs.wait(qtbot)
    assert live.result is not None and not live.status.isVisible()

    triangle, square = live.decoder_map.matrix, live.encoder_map.matrix
    assert np.triu(triangle, k=1).max() == 0 and square[np.triu_indices(len(square), k=1)].min() > 0
    assert live.decoder_map.causal and not live.encoder_map.causal
    assert np.isnan(live.decoder_map.image[0, -1]) and not np.isnan(live.encoder_map.image).any()
    assert live.encoder_map.tokens[0] == "[CLS]" and live.encoder_map.tokens[-1] == "[SEP]"
    assert "causal" in live.decoder_map.title.text and "masked" in live.encoder_map.title.text
    assert window.rect().contains(tour.geometry())  # fits a 1024x640 window

    # Another head redraws both at once, without reading again.
    started = jobs.started
    live.head.setCurrentIndex(live.head.findData(1))
    assert jobs.started == started
    assert np.array_equal(live.encoder_map.matrix, live.result.encoder.matrix(live.layer.value(), 1))
    assert np.array_equal(live.decoder_map.matrix, live.result.decoder.matrix(live.layer.value(), 1))

    # A new sentence is read again, in a job.
    live.sentence.setText("Open the file.")
    qtbot.keyClick(live.sentence, Qt.Key_Return)
    jobs.wait(qtbot)
    assert live.result.text == "Open the file." and "".join(live.decoder_map.tokens) == "Open the file."

    with qtbot.waitSignal(tour.step_changed, timeout=5000):
        qtbot.mouseClick(tour.next_button, Qt.LeftButton)
    assert tour.live is None and not live.isVisible()


def test_without_the_demo_encoder_the_card_says_so(qtbot, window, jobs, monkeypatch):
    from playground import paths

    monkeypatch.setattr(paths, "demo_encoder_dir", lambda: None)
    tour = window.start_tour(attention_row(window))
    jobs.wait(qtbot)
    assert tour.live.status.isVisible() and "models/demo-encoder" in tour.live.status.text()
