"""pytest-qt tests of the encoder (BERT style) in the Build and Train steps: the family choice, the
counts of the encoder's parts, the offer to add its special tokens, and a masked-LM run through Train."""

from __future__ import annotations

import pytest

from playground.core.config import ENCODER_PRESETS, PRESETS, ModelConfig
from playground.core.model import GPT
from playground.core.progress import run_quietly
from playground.core.tokenization import (
    ENCODER_SPECIAL_TOKENS,
    LoadedTokenizer,
    missing_encoder_tokens,
    spec_for_kind,
    train_in_process,
)


@pytest.fixture
def build_panel(qtbot, session, monkeypatch):
    from playground.ui.build_panel import BuildPanel

    # No device benchmark on the first show: these tests count parameters, not speed (test_build_panel does).
    monkeypatch.setattr(BuildPanel, "start_measurement", lambda self: None)
    panel = BuildPanel(session)
    qtbot.addWidget(panel)
    panel.resize(1150, 800)
    return panel


def trained(corpus, kind: str, vocab_size: int = 300) -> LoadedTokenizer:
    spec = spec_for_kind(kind, vocab_size=vocab_size)
    return LoadedTokenizer(run_quietly(train_in_process(corpus, spec)), name=spec.label, spec=spec)


@pytest.fixture
def bpe(tiny_corpus):
    return trained(tiny_corpus[0], "bpe")


@pytest.fixture
def wordpiece(tiny_corpus):
    return trained(tiny_corpus[0], "wordpiece")


def table_rows(panel) -> dict[str, str]:
    table = panel.breakdown_table
    return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}


def offered(combo) -> list:
    return [combo.itemData(i) for i in range(combo.count())]


# -- Build ------------------------------------------------------------------------------------


def test_the_family_choice_changes_the_flavours_presets_and_the_config(build_panel, session):
    panel = build_panel
    assert offered(panel.family) == ["decoder", "encoder", "encoder-decoder"]
    assert panel.family.itemText(0) == "Decoder: next-token (GPT-2 style, LLaMA style)"
    assert panel.family.itemText(1) == "Encoder: masked tokens (BERT style)"
    assert offered(panel.flavour) == ["gpt2", "llama"]
    assert offered(panel.preset) == [*PRESETS, None]
    assert len(panel.family.toolTip()) > 20 and all(panel.family.itemData(i, 3) for i in range(2))  # tooltips

    panel.family.setCurrentIndex(panel.family.findData("encoder"))
    assert offered(panel.flavour) == ["bert"] and "post-norm" in panel.flavour.itemData(0, 3)
    assert offered(panel.preset) == [*ENCODER_PRESETS, None]
    assert panel.preset.currentData() == "tiny"  # the sizes stay where the family has the same preset
    config = panel.config()
    assert config.family == "encoder" and config.is_encoder and config.flavour == "bert"
    assert session.model_config == config
    assert "masked-LM head" in panel.flavour_note.text()

    panel.preset.setCurrentIndex(panel.preset.findData("bert-base"))
    assert (panel.config().n_layer, panel.config().context_length, panel.config().vocab_size) == (12, 512, 30522)
    assert "BERT's tokenizer" in panel.vocab.text()
    panel.set_family("decoder")  # the big preset of one family becomes the other's
    assert panel.preset.currentData() == "gpt2-small" and panel.config().flavour == "gpt2"
    assert not panel.config().is_encoder


@pytest.mark.parametrize("preset", list(ENCODER_PRESETS))
def test_the_parameter_table_counts_the_encoders_parts_as_the_built_model(qtbot, build_panel, preset):
    panel = build_panel
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_flavour("bert")
    panel.set_preset(preset)
    config = panel.config()
    assert config.is_encoder
    rows = table_rows(panel)
    assert list(rows) == [
        "Token embedding",
        "Position embedding",
        "Token-type embedding",
        "Attention",
        "MLP",
        "Norms",
        "Masked-LM head",
        "Output head",
        "Total",
    ]
    model = GPT.from_config(config, "meta")
    assert int(rows["Total"].replace(",", "")) == sum(p.numel() for p in model.parameters())
    assert rows["Token-type embedding"] == f"{2 * config.n_embd:,}" and rows["Output head"] == "shared"
    # The chart has a bar for each part, their shares summing to the whole.
    widths = panel.param_bars.opts["width"]
    assert len(widths) == 8 and sum(widths) == pytest.approx(100.0)
    assert panel.param_plot.height() == panel.breakdown_table.height()

    panel.set_family("decoder")
    assert "Masked-LM head" not in table_rows(panel) and len(panel.param_bars.opts["width"]) == 6


def test_an_encoder_shows_its_own_memory_and_flops(build_panel):
    from playground.core.config import flops_per_token
    from playground.core.estimates import human_flops

    panel = build_panel
    decoder = panel.config()
    decoder_memory = panel.memory_table.item(0, 1).text()
    panel.set_flavour("bert")
    encoder = panel.config()
    assert f"<b>{human_flops(flops_per_token(encoder))}</b>" in panel.flops_label.text()
    assert flops_per_token(encoder) != flops_per_token(decoder)
    assert panel.memory_table.item(0, 1).text() != decoder_memory  # more weights: the encoder's extra parts


def test_the_missing_tokens_are_offered_and_added_as_a_new_current_tokenizer(qtbot, build_panel, session, bpe, jobs):
    panel = build_panel
    panel.show()
    session.add_tokenizer(bpe)
    assert panel.kind_box.tokens_offer.isHidden()  # a decoder needs none of them
    panel.set_flavour("bert")
    missing = missing_encoder_tokens(bpe)
    assert missing and not panel.kind_box.tokens_offer.isHidden()
    note = panel.kind_box.tokens_note.text()
    assert " ".join(missing) in note and bpe.name in note

    messages = []
    session.message.connect(lambda level, text: messages.append((level, text)))
    assert panel.add_encoder_tokens() is not None
    jobs.wait(qtbot)
    current = session.tokenizer
    assert current is not bpe and session.tokenizers == [bpe, current]
    assert missing_encoder_tokens(current) == [] and current.vocab_size == bpe.vocab_size + len(missing)
    assert panel.config().vocab_size == current.vocab_size and session.model_config.vocab_size == current.vocab_size
    assert panel.kind_box.tokens_offer.isHidden()
    assert messages and messages[-1][0] == "info" and current.name in messages[-1][1]
    assert panel.kind_box.add_tokens.isEnabled()


def test_a_wordpiece_tokenizer_needs_no_offer(build_panel, session, wordpiece):
    build_panel.set_flavour("bert")
    session.add_tokenizer(wordpiece)
    assert missing_encoder_tokens(wordpiece) == []
    assert build_panel.kind_box.tokens_offer.isHidden()
    assert set(ENCODER_SPECIAL_TOKENS) <= set(wordpiece.special_tokens)


def test_the_family_is_kept_in_the_workspace_state(qtbot, session):
    from playground.ui.build_panel import BuildPanel

    first = BuildPanel(session)
    qtbot.addWidget(first)
    first.set_flavour("bert")
    first.set_preset("bert-base")
    state = first.state()
    assert state["family"] == "encoder" and state["flavour"] == "bert" and state["preset"] == "bert-base"

    second = BuildPanel(session)
    qtbot.addWidget(second)
    second.restore_state(state)
    assert second.config() == first.config() == ModelConfig.from_preset("bert-base", 30522, flavour="bert")
    assert second.preset.currentData() == "bert-base"


# -- Train ------------------------------------------------------------------------------------


def encoder_config(tok: LoadedTokenizer) -> ModelConfig:
    return ModelConfig.bert_style(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, n_embd=16)


@pytest.fixture
def encoder_session(session, tiny_corpus, wordpiece):
    session.set_corpus(*tiny_corpus)
    session.add_tokenizer(wordpiece)
    session.set_model_config(encoder_config(wordpiece), True)
    return session


@pytest.fixture
def train_panel(qtbot, encoder_session, tmp_path, monkeypatch, jobs):
    import playground.core.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    from playground.ui.training_panel import TrainingPanel

    panel = TrainingPanel(encoder_session)
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    qtbot.waitUntil(lambda: panel.plots_ready)
    panel.batch.setValue(4)
    panel.eval_interval.setValue(10)
    panel.sample_interval.setValue(10)
    panel.warmup.setValue(2)
    return panel


def test_the_masked_share_is_offered_for_an_encoder_only(train_panel, encoder_session, wordpiece):
    panel = train_panel
    assert panel.mask_share.isVisibleTo(panel) and panel.mask_share.value() == 15
    assert "80%" in panel.mask_share.toolTip() and "10%" in panel.mask_share.toolTip()
    panel.mask_share.setValue(25)
    assert panel.train_config().mask_share == pytest.approx(0.25)
    restored = panel.state()
    encoder_session.set_model_config(encoder_config(wordpiece).replace(family="decoder", flavour="gpt2"), True)
    assert not panel.mask_share.isVisibleTo(panel)
    panel.mask_share.setValue(15)
    panel.restore_state(restored)
    assert panel.mask_share.value() == 25


def test_an_encoder_without_its_special_tokens_cannot_start_and_is_sent_to_build(
    qtbot, train_panel, encoder_session, bpe
):
    panel = train_panel
    assert panel.start_button.isEnabled()
    encoder_session.add_tokenizer(bpe)
    encoder_session.set_model_config(encoder_config(bpe), True)
    assert not panel.start_button.isEnabled()
    text = panel.ready_label.text()
    assert "[MASK]" in text and bpe.name in text and "href='build'" in text
    with qtbot.waitSignal(encoder_session.show_step) as shown:
        panel.ready_label.linkActivated.emit("build")
    assert shown.args == ["build"]


def test_a_short_encoder_run_shows_masked_accuracy_and_fill_mask_samples(qtbot, train_panel, encoder_session, jobs):
    panel = train_panel
    panel.steps.setValue(30)
    assert panel.start() is not None
    jobs.wait(qtbot, 60_000)
    assert panel.last_error is None
    assert panel.accuracy_x == [0, 10, 20, 30] and all(0.0 <= a <= 1.0 for a in panel.accuracy_y)
    xs, ys = panel.charts.accuracy_curve.getData()
    assert list(xs) == [0, 10, 20, 30] and list(ys) == pytest.approx([100 * a for a in panel.accuracy_y])
    assert panel.loss_plot.plotItem.getAxis("right").isVisible()
    legend = [label.text for _, label in panel.loss_plot.plotItem.legend.items]
    assert legend.count("masked-token accuracy (right axis)") == 1
    accuracy = panel.stats["ppl"]
    assert accuracy.caption.text() == "accuracy" and "Masked-token accuracy" in accuracy.toolTip()
    assert accuracy.value.text() == f"{panel.accuracy_y[-1]:.1%}"
    samples = panel.samples.toPlainText()
    assert "── step 10 ──" in samples and "[MASK]" in samples and "(was " in samples and "%" in samples
    assert "hidden words" in panel.samples.placeholderText()
    assert encoder_session.checkpoint is not None and encoder_session.checkpoint.model_config.is_encoder


def test_stop_ends_an_encoder_run_with_a_checkpoint(qtbot, train_panel, jobs):
    panel = train_panel
    panel.steps.setValue(100_000)
    assert panel.start() is not None
    qtbot.waitUntil(lambda: len(panel.steps_x) > 3, timeout=30_000)
    panel.toggle_pause()
    assert panel.job.paused
    panel.stop()  # a paused run goes on to save, then stops
    jobs.wait(qtbot, 30_000)
    assert panel.job is None and panel.stop_reason == "stopped"
    assert (panel.last_run_dir / "last" / "model.safetensors").exists()


def test_an_encoder_cannot_fine_tune_a_decoder(qtbot, train_panel, encoder_session, wordpiece, jobs):
    panel = train_panel
    encoder_session.set_model_config(encoder_config(wordpiece).replace(family="decoder", flavour="gpt2"), True)
    panel.steps.setValue(5)
    assert panel.start() is not None
    jobs.wait(qtbot, 60_000)
    parent = panel.last_run_dir
    assert panel.stats["ppl"].caption.text() == "perplexity"  # a decoder's run

    encoder_session.set_model_config(encoder_config(wordpiece), True)
    assert panel.set_init_from(parent) is not None
    jobs.wait(qtbot)
    messages = []
    encoder_session.message.connect(lambda level, text: messages.append((level, text)))
    assert panel.start() is not None
    jobs.wait(qtbot, 60_000)
    assert messages and messages[-1][0] == "error"
    assert "family is 'decoder' there but 'encoder' here" in messages[-1][1]
    assert panel.start_button.isEnabled()


# -- fits the screen ------------------------------------------------------------------------------


@pytest.mark.parametrize("presenting", [False, True], ids=["1024x640", "presentation at 1280x720"])
def test_the_encoders_build_and_train_steps_fit_a_small_screen(qtbot, session, tiny_corpus, bpe, presenting):
    """The family row, the offer to add tokens and the masked share: nothing cut, nothing scrolls sideways."""
    from tests.ui.test_fits_screens import make_window, problems_on_screen

    size = (1280, 720) if presenting else (1024, 640)
    session.set_corpus(*tiny_corpus)
    session.add_tokenizer(bpe)
    window = make_window(qtbot, session, size)
    window.set_presentation_mode(presenting)
    try:
        window.go_to("build")
        window.build_panel.set_flavour("bert")
        assert not window.build_panel.kind_box.tokens_offer.isHidden()
        assert problems_on_screen(window, size) == []
        window.go_to("train")
        train = window.training_panel
        assert train.mask_share.isVisibleTo(train) and "[MASK]" in train.ready_label.text()
        assert problems_on_screen(window, size) == []
    finally:
        window.set_presentation_mode(False)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_encoders_notes_are_readable(qtbot, session, tiny_corpus, bpe, theme):
    """The family note, the offer to add tokens and Train's sentence about them meet WCAG AA."""
    from PySide6.QtCore import QSettings

    from playground.ui import themes
    from tests.ui.test_contrast_walk import unreadable_labels
    from tests.ui.test_fits_screens import make_window

    session.set_corpus(*tiny_corpus)
    session.add_tokenizer(bpe)
    window = make_window(qtbot, session, (1280, 720))
    try:
        window.set_theme(theme)
        window.go_to("build")
        window.build_panel.set_flavour("bert")
        assert window.build_panel.kind_box.tokens_note.isVisible()
        assert unreadable_labels(window) == []
        window.go_to("train")
        assert window.training_panel.ready_label.isVisible()
        assert unreadable_labels(window) == []
    finally:
        window.set_theme("light")
        themes.apply_look(themes.Look())
        QSettings().remove("view/theme")
