"""pytest-qt tests for Fill the mask: the Generate step's page when the current model is an encoder."""

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from playground.engine.jobs import Job

ENCODER_TEXT = "\n".join(
    f"the {w} sat on the mat number {i}. the {w} likes the {w}s and the red house."
    for i, w in enumerate(["cat", "dog", "bird", "fish"] * 30)
)
TWO_MASKS = "the [MASK] sat on the [MASK] ."


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    """(Checkpoint, GPT): a tiny BERT style encoder with random weights, saved as a run folder, and a
    WordPiece tokenizer that has the encoder's special tokens."""
    import torch

    from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
    from playground.core.config import ModelConfig
    from playground.core.corpus import corpus_from_text
    from playground.core.model import GPT
    from playground.core.progress import run_quietly
    from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process
    from playground.core.training import TrainConfig

    spec = spec_for_kind("wordpiece", vocab_size=120)
    tokenizer = LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(ENCODER_TEXT), spec)), spec=spec)
    torch.manual_seed(0)
    config = ModelConfig.bert_style(vocab_size=tokenizer.vocab_size, context_length=64, n_layer=1, n_head=2, n_embd=32)
    model = GPT(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)  # spread guesses, so "surest first" has an order to find
    folder = tmp_path_factory.mktemp("runs") / "tiny-encoder"
    write_run_files(folder, config, TrainConfig(), tokenizer)
    save_checkpoint(folder, "best", model, {}, {"step": 3, "val_loss": 4.0})
    return load_checkpoint(folder)


@pytest.fixture(scope="module")
def demo():
    from playground.core.checkpoints import load_checkpoint
    from playground.paths import demo_model_dir

    return load_checkpoint(demo_model_dir())


@pytest.fixture
def panel(qtbot, session):
    from playground.ui.generate_panel import GeneratePanel

    widget = GeneratePanel(session)
    qtbot.addWidget(widget)
    widget.resize(1150, 780)
    widget.show()
    yield widget
    widget.stop_and_wait()
    qtbot.waitUntil(lambda: not Job.running(), timeout=10_000)


def idle(qtbot, panel):
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=30_000)


def write(qtbot, panel, text):
    """Type `text` into Fill the mask and wait for its guesses."""
    page = panel.fill_mask_page
    page.edit.setPlainText(text)
    idle(qtbot, panel)
    return page


def test_two_masks_show_their_candidates_and_a_click_puts_one_in(qtbot, session, panel, encoder):
    from playground.core.fill_mask import fill_mask, put_in

    checkpoint, model = encoder
    session.set_checkpoint(checkpoint, model)
    assert panel.modes.currentWidget() is panel.fill_mask_page
    page = write(qtbot, panel, TWO_MASKS)
    expected = fill_mask(model, checkpoint.tokenizer, TWO_MASKS, top_k=5)
    # The same guesses as the core gives (probabilities to float precision: the job runs on another thread,
    # where PyTorch may sum in another order).
    assert [[c.id for c in slot.candidates] for slot in page.result.slots] == [
        [c.id for c in slot.candidates] for slot in expected.slots
    ]
    for got, want in zip(page.result.slots, expected.slots):
        assert [c.probability for c in got.candidates] == pytest.approx([c.probability for c in want.candidates])
    assert len(page.candidates.cards) == 2 and page.problem_box.isHidden()
    for index, slot in enumerate(expected.slots):
        assert len(page.candidates.labels(index)) == 5
        assert [label.lstrip("…") for label in page.candidates.labels(index)] == [c.text for c in slot.candidates]
    page.top_k.setValue(3)
    idle(qtbot, panel)
    assert [len(page.candidates.labels(i)) for i in (0, 1)] == [3, 3]

    chart = page.candidates.cards[1].chart
    qtbot.mouseClick(chart, Qt.MouseButton.LeftButton, pos=QPoint(chart.width() // 2, chart.row_centre(1)))
    chosen = page.result.slots[1].candidates[1]
    assert page.text() == put_in(TWO_MASKS, 1, chosen)
    idle(qtbot, panel)
    assert len(page.candidates.cards) == 1  # one mask left, guessed again
    page.candidates.cards[0].chart.clicked.emit(0)
    assert "[MASK]" not in page.text()
    idle(qtbot, panel)
    assert not page.problem_box.isHidden() and not page.problem_insert.isHidden()


def test_fill_all_fills_the_surest_first_showing_each_step(qtbot, session, panel, encoder):
    from playground.core.fill_mask import MaskFilled, fill_all_masks
    from playground.core.progress import run_quietly

    checkpoint, model = encoder
    session.set_checkpoint(checkpoint, model)
    page = write(qtbot, panel, TWO_MASKS)
    steps = []
    expected = run_quietly(fill_all_masks(model, checkpoint.tokenizer, TWO_MASKS), on_partial=steps.append)
    shown = []
    job = page.fill_all()
    assert job is not None
    job.partial.connect(lambda step: shown.append(page.text()))
    assert page.stop_button.isEnabled() and not page.fill_button.isEnabled()
    idle(qtbot, panel)
    filled = [s for s in steps if isinstance(s, MaskFilled)]
    assert page.text() == expected.text
    assert shown == [s.text for s in filled]  # the text showed each step as it came
    assert page.steps.isVisible() and page.steps.text().count("[MASK]") == 2
    assert f"[MASK] {filled[0].index + 1}" in page.steps.text().split("<br>")[1]  # the surest first
    assert page.status.text() == "Filled 2 masks, the surest first."
    assert "filled" in page.problem.text()  # no mask left: it says so, and how to guess again
    page.edit.undo()  # one Ctrl+Z takes the whole fill back
    assert page.text() == TWO_MASKS


def test_a_text_without_a_mask_says_how_to_add_one(qtbot, session, panel, encoder):
    from playground.ui.fill_mask_page import NO_MASK

    session.set_checkpoint(*encoder)
    page = write(qtbot, panel, "the cat sat on the mat .")
    assert page.problem.text() == NO_MASK and "Insert [MASK]" in NO_MASK
    assert page.problem_box.isVisible() and page.problem_insert.isVisible()
    assert page.candidates.cards == []
    assert page.fill_all() is None  # nothing to fill
    cursor = page.edit.textCursor()
    cursor.setPosition(len("the cat sat on the"))
    page.edit.setTextCursor(cursor)
    page.problem_insert.click()
    assert page.text() == "the cat sat on the [MASK] mat ."
    idle(qtbot, panel)
    assert page.problem_box.isHidden() and len(page.candidates.cards) == 1


def test_a_text_longer_than_the_context_is_cut_with_a_notice(qtbot, session, panel, encoder):
    session.set_checkpoint(*encoder)
    page = write(qtbot, panel, "the [MASK] sat " + "on the mat " * 40)
    assert page.notice.isVisible() and "the rest was cut" in page.notice.text()
    assert len(page.candidates.cards) == 1
    page = write(qtbot, panel, "the cat sat " * 40 + "[MASK]")  # the only mask lies past the context
    assert page.candidates.cards == [] and "put one earlier" in page.problem.text()


def test_the_page_follows_the_kind_of_model(qtbot, session, panel, encoder, demo):
    assert panel.modes.currentWidget() is panel.decoder_page  # no model yet: the decoder's page and its offer
    session.set_checkpoint(*demo)
    assert panel.modes.currentWidget() is panel.decoder_page and panel.decoder_page.isVisible()
    session.set_checkpoint(*encoder)
    assert panel.modes.currentWidget() is panel.fill_mask_page and panel.fill_mask_page.isVisible()
    assert panel.fill_mask_page.heading.text() == "Fill the mask"
    assert panel.fill_mask_page.kind_hint.isVisible()  # says how to get back to generating
    idle(qtbot, panel)
    session.set_checkpoint(*demo)
    assert panel.modes.currentWidget() is panel.decoder_page
    assert panel.fill_mask_page.checkpoint is None


def test_ctrl_enter_fills_the_masks_while_the_page_is_on_show(qtbot, session, panel, encoder):
    session.set_checkpoint(*encoder)
    page = write(qtbot, panel, TWO_MASKS)
    panel.activateWindow()
    page.edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is page.edit, timeout=3000)
    qtbot.keyClick(page.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    idle(qtbot, panel)
    assert "[MASK]" not in page.text() and panel.job is None  # filled, and no generation started


def test_a_mask_in_a_decoders_prompt_offers_the_demo_encoder(qtbot, session, panel, encoder, demo, monkeypatch):
    from playground import paths

    session.set_checkpoint(*demo)
    panel.prompt_edit.setPlainText("The [MASK] sat.")
    hint = panel.mask_hint
    assert hint.isVisible() and "decoder" in hint.text.text()
    monkeypatch.setattr(paths, "demo_encoder_dir", lambda: None, raising=False)
    hint.want("encoder")
    assert hint.button.text() == "Build an encoder"
    steps = []
    session.show_step.connect(steps.append)
    hint.button.click()
    assert steps == ["build"]

    checkpoint, _ = encoder
    monkeypatch.setattr(paths, "demo_encoder_dir", lambda: Path(checkpoint.path).parent)
    hint.want("encoder")
    assert hint.button.text() == "Load the demo encoder"
    with qtbot.waitSignal(session.checkpoint_changed, timeout=30_000):
        hint.button.click()
    assert session.checkpoint.model_config.is_encoder
    assert panel.modes.currentWidget() is panel.fill_mask_page and not hint.isVisible()
    idle(qtbot, panel)


def test_the_mask_template_goes_from_the_prompt_step_to_fill_the_mask(qtbot, session, panel, encoder):
    from playground.core.prompts import builtin_templates
    from playground.ui.prompt_panel import PromptPanel

    session.set_checkpoint(*encoder)
    prompt = PromptPanel(session)
    qtbot.addWidget(prompt)
    template = next(t for t in builtin_templates() if "[MASK]" in t.query_format)
    index = next(i for i in range(prompt.template_combo.count()) if prompt.template_combo.itemText(i) == template.name)
    prompt.template_combo.setCurrentIndex(index)
    prompt.refresh()
    prompt.send_button.click()
    page = panel.fill_mask_page
    assert page.text() == template.render().text and page.text().endswith("Sentiment: [MASK].")
    idle(qtbot, panel)
    assert len(page.candidates.cards) == 1
    assert panel.prompt_edit.toPlainText() != page.text()  # the decoder's prompt is left alone
    prompt.close()


def test_the_page_fits_a_small_screen_and_presentation_mode(qtbot, session, encoder):
    from test_contrast_walk import unreadable_labels
    from test_fits_screens import make_window, problems_on_screen

    from playground.ui import themes

    session.set_checkpoint(*encoder)
    window = make_window(qtbot, session, (1024, 640))
    try:
        window.go_to("generate")
        panel = window.current_panel()
        page = write(qtbot, panel, TWO_MASKS + " and the [MASK] sat on the [MASK] .")
        assert panel.modes.currentWidget() is page and len(page.candidates.cards) == 4
        assert problems_on_screen(window, (1024, 640)) == []
        assert unreadable_labels(window) == []
        window.resize(1280, 720)
        window.set_theme("dark")
        window.set_presentation_mode(True)
        QApplication.processEvents()
        assert problems_on_screen(window, (1280, 720)) == []
        assert unreadable_labels(window) == []
    finally:
        window.set_presentation_mode(False)
        window.set_theme("light")
        themes.apply_look(themes.Look())
        window.current_panel().stop_and_wait()


def test_a_workspace_keeps_the_text_and_top_k(qtbot, session, panel, encoder):
    from playground.core.workspace_format import migrate_panel_state, versioned_panel_state
    from playground.ui.generate_panel import GeneratePanel

    session.set_checkpoint(*encoder)
    page = write(qtbot, panel, "the [MASK] likes the mat .")
    page.top_k.setValue(7)
    saved = versioned_panel_state("generate", panel.state())
    other = GeneratePanel(session)
    qtbot.addWidget(other)
    other.restore_state(migrate_panel_state("generate", saved))
    assert other.fill_mask_page.text() == "the [MASK] likes the mat ." and other.fill_mask_page.top_k.value() == 7
    older = {key: value for key, value in saved.items() if key != "fill_mask"} | {"version": 1}
    assert migrate_panel_state("generate", older)["fill_mask"] == {}  # a version 1 state: the page's defaults
    other.restore_state(migrate_panel_state("generate", older))
    assert other.fill_mask_page.text() == "the [MASK] likes the mat ."
    other.stop_and_wait()


def test_typing_guesses_once_typing_pauses_and_the_window_keeps_drawing(qtbot, session, panel, encoder, jobs, watchdog):
    session.set_checkpoint(*encoder)
    page = write(qtbot, panel, "")
    started = jobs.started
    watchdog.reset()
    qtbot.keyClicks(page.edit, "the cat [MASK] on")
    assert jobs.started == started  # nothing yet: it waits for a pause in the typing
    idle(qtbot, panel)
    assert jobs.started == started + 1 and len(page.candidates.cards) == 1
    page.fill_all()
    jobs.wait(qtbot)
    idle(qtbot, panel)
    watchdog.assert_smooth("guessing and filling masks")
    assert "[MASK]" not in page.text()


def test_the_sidebar_explains_fill_the_mask_while_an_encoder_is_current(qtbot, session, encoder, demo):
    from playground.ui.main_window import MainWindow

    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    window.go_to("generate")
    session.set_checkpoint(*demo)
    assert "<b>Generation</b>" in window.concept.text()
    session.set_checkpoint(*encoder)  # the step on show changes its explanation with the model
    assert "<b>Fill the mask</b>" in window.concept.text() and "[MASK]" in window.concept.text()
    session.set_checkpoint(*demo)
    assert "<b>Generation</b>" in window.concept.text()
