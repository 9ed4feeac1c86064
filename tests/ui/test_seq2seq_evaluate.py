"""Evaluate with an encoder-decoder as the model: the step says it does not score one in the window yet, and
where (the command line) it is scored; a decoder brings the tabs back."""

from PySide6.QtWidgets import QLabel

from playground.core.checkpoints import load_checkpoint
from playground.paths import demo_encoder_decoder_dir, demo_model_dir
from playground.ui.evaluate_panel import EvaluatePanel


def test_an_encoder_decoder_gets_a_page_that_names_the_commands_and_a_decoder_brings_the_tabs_back(qtbot, session):
    panel = EvaluatePanel(session)
    qtbot.addWidget(panel)
    panel.resize(1024, 600)
    panel.show()

    session.set_checkpoint(*load_checkpoint(demo_encoder_decoder_dir()))
    assert panel.pages.currentWidget() is panel.encoder_decoder_page
    words = " ".join(label.text() for label in panel.encoder_decoder_page.findChildren(QLabel))
    assert "does not score an encoder–decoder in the window yet" in words
    assert "playground eval perplexity" in words and "playground eval task" in words

    session.set_checkpoint(*load_checkpoint(demo_model_dir()))
    assert panel.pages.currentWidget() is panel.tabs
    panel.stop_and_wait()
