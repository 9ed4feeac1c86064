"""pytest-qt tests of the encoder-decoder (T5 style) in the Build and Train steps: the family choice, the
counts of its parts (cross-attention, relative position bias), the offer to add T5's special tokens, and
short runs through Train by span corruption and by text to text."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from playground.core.config import ENCODER_DECODER_PRESETS, ModelConfig
from playground.core.progress import run_quietly
from playground.core.t5_model import T5
from playground.core.t5_tokens import missing_t5_tokens, with_t5_tokens
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process


@pytest.fixture
def build_panel(qtbot, session, monkeypatch):
    from playground.ui.build_panel import BuildPanel

    monkeypatch.setattr(BuildPanel, "start_measurement", lambda self: None)  # no benchmark: counts only
    panel = BuildPanel(session)
    qtbot.addWidget(panel)
    panel.resize(1150, 800)
    return panel


@pytest.fixture
def bpe(tiny_corpus):
    spec = spec_for_kind("bpe", vocab_size=300)
    return LoadedTokenizer(run_quietly(train_in_process(tiny_corpus[0], spec)), name=spec.label, spec=spec)


def table_rows(panel) -> dict[str, str]:
    table = panel.breakdown_table
    return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}


def offered(combo) -> list:
    return [combo.itemData(i) for i in range(combo.count())]


# -- Build ------------------------------------------------------------------------------------


def test_the_encoder_decoder_is_offered_with_its_presets_flavour_and_decoder_depth(qtbot, build_panel, session):
    panel = build_panel
    assert offered(panel.family) == ["decoder", "encoder", "encoder-decoder"]
    assert panel.family.itemText(2) == "Encoder–decoder: text to text (T5 style)"
    assert "cross-attention" in panel.family.itemData(2, 3)
    assert not panel.n_decoder_layer.isVisibleTo(panel)  # one stack: no decoder depth

    panel.family.setCurrentIndex(panel.family.findData("encoder-decoder"))
    assert offered(panel.flavour) == ["t5"] and "relative position bias" in panel.flavour.itemData(0, 3)
    assert offered(panel.preset) == [*ENCODER_DECODER_PRESETS, None]
    assert panel.preset.currentData() == "tiny"
    config = panel.config()
    assert config.is_encoder_decoder and config.flavour == "t5" and config.n_decoder_layer is None
    assert session.model_config == config
    assert "relative position bias" in panel.flavour_note.text() and "cross-attention" in panel.flavour_note.text()
    assert panel.n_decoder_layer.isVisibleTo(panel) and panel.captions["n_layer"].text() == "Encoder depth"

    panel.n_decoder_layer.setValue(3)  # a decoder deeper than the encoder
    config = panel.config()
    assert (config.n_layer, config.decoder_layers) == (2, 3) and panel.preset.currentData() is None
    assert panel.state()["n_decoder_layer"] == 3
    from playground.ui.build_panel import BuildPanel

    restored = BuildPanel(session)  # a workspace brings the family and both depths back
    qtbot.addWidget(restored)
    restored.restore_state(panel.state())
    assert restored.config() == config and restored.kind_box.current_family() == "encoder-decoder"

    panel.preset.setCurrentIndex(panel.preset.findData("t5-small"))
    assert (panel.config().n_layer, panel.config().vocab_size) == (6, 32128) and "T5's tokenizer" in panel.vocab.text()
    panel.set_family("encoder")  # the big preset of one family becomes the other's
    assert panel.preset.currentData() == "bert-base" and panel.config().n_decoder_layer is None
    assert not panel.n_decoder_layer.isVisibleTo(panel) and panel.captions["n_layer"].text() == "Layers"


@pytest.mark.parametrize("decoder_layers", [0, 1, 3])
def test_the_parameter_table_counts_the_encoder_decoders_parts_as_the_built_model(qtbot, build_panel, decoder_layers):
    panel = build_panel
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_flavour("t5")
    panel.n_decoder_layer.setValue(decoder_layers)
    rows = table_rows(panel)
    assert list(rows) == [
        "Token embedding",
        "Relative position bias",
        "Attention",
        "Cross-attention",
        "MLP",
        "Norms",
        "Output head",
        "Total",
    ]
    config = panel.config()
    model = T5(config)
    assert int(rows["Total"].replace(",", "")) == sum(p.numel() for p in model.parameters())
    assert rows["Relative position bias"] == f"{2 * config.relative_buckets * config.n_head:,}"
    for part in ("Cross-attention", "Relative position bias"):
        tip = panel.breakdown_table.item(list(rows).index(part), 0).toolTip()
        assert len(tip) > 40  # what it is, in a sentence
    widths = panel.param_bars.opts["width"]
    assert len(widths) == 7 and sum(widths) == pytest.approx(100.0)
    assert "T5-small" in panel.total_note.text()
    assert panel.memory_table.item(0, 1).text() not in ("", "—")
    assert panel.flops_label.text()

    panel.set_family("decoder")
    assert "Cross-attention" not in table_rows(panel) and len(panel.param_bars.opts["width"]) == 6


def test_the_missing_t5_tokens_are_offered_and_added(qtbot, build_panel, session, bpe, jobs):
    panel = build_panel
    panel.show()
    session.add_tokenizer(bpe)
    panel.set_flavour("t5")
    missing = missing_t5_tokens(bpe)
    assert missing and not panel.kind_box.tokens_offer.isHidden()
    note = panel.kind_box.tokens_note.text()
    assert str(missing) in note and bpe.name in note and "</s>" in note
    assert "sentinels" in panel.kind_box.add_tokens.toolTip() and "&lt;pad&gt;" in panel.kind_box.add_tokens.toolTip()
    assert panel.kind_box.tokens_note.textFormat() == Qt.TextFormat.PlainText  # <pad> and </s> shown as written

    messages = []
    session.message.connect(lambda level, text: messages.append((level, text)))
    assert panel.add_missing_tokens() is not None
    jobs.wait(qtbot)
    current = session.tokenizer
    assert current is not bpe and not missing_t5_tokens(current)
    assert current.vocab_size == bpe.vocab_size + len(missing.tokens) and "T5 tokens" in current.name
    assert session.model_config.vocab_size == current.vocab_size
    assert panel.kind_box.tokens_offer.isHidden()
    assert messages[-1][0] == "info" and current.name in messages[-1][1]


# -- Train --------------------------------------------------------------------------------------


def t5_config(tok: LoadedTokenizer) -> ModelConfig:
    return ModelConfig.t5_style(
        vocab_size=tok.vocab_size, context_length=48, n_layer=1, n_decoder_layer=1, n_head=2, n_embd=16
    )


@pytest.fixture
def t5_tok(bpe):
    return with_t5_tokens(bpe)


@pytest.fixture
def t5_session(session, tiny_corpus, t5_tok):
    session.set_corpus(*tiny_corpus)
    session.add_tokenizer(t5_tok)
    session.set_model_config(t5_config(t5_tok), True)
    return session


@pytest.fixture
def train_panel(qtbot, t5_session, tmp_path, monkeypatch, jobs):
    import playground.core.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")
    from playground.ui.training_panel import TrainingPanel

    panel = TrainingPanel(t5_session)
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    qtbot.waitUntil(lambda: panel.plots_ready)
    panel.batch.setValue(4)
    panel.eval_interval.setValue(5)
    panel.sample_interval.setValue(5)
    panel.warmup.setValue(2)
    return panel


def test_the_objective_controls_follow_the_family_and_the_objective(train_panel, t5_session, t5_tok):
    panel = train_panel
    controls = panel.seq2seq
    assert controls.isVisibleTo(panel) and not panel.mask_share.isVisibleTo(panel)
    assert controls.noise_share.isVisibleTo(panel) and not controls.task_combo.isVisibleTo(panel)
    controls.noise_share.setValue(20)
    controls.mean_span.setValue(2.5)
    cfg = panel.train_config()
    assert (cfg.objective, cfg.noise_share, cfg.mean_span) == ("span-corruption", pytest.approx(0.2), 2.5)

    controls.set_objective("text-to-text")
    assert controls.task_combo.isVisibleTo(panel) and not controls.noise_share.isVisibleTo(panel)
    cfg = panel.train_config()
    assert (cfg.objective, cfg.task, cfg.task_prefix) == ("text-to-text", "reverse-words", "reverse: ")
    assert "not used" in panel.data_label.text()
    state = panel.state()

    controls.task_combo.setCurrentIndex(controls.task_combo.findData("file"))  # a file wanted, none chosen
    assert controls.pick_file.isVisibleTo(panel)
    assert not panel.start_button.isEnabled() and "choose a shipped task set or a task file" in panel.ready_label.text()

    panel.restore_state(state)
    assert panel.train_config().task == "reverse-words" and panel.start_button.isEnabled()
    t5_session.set_model_config(
        t5_config(t5_tok).replace(
            family="decoder",
            flavour="gpt2",
            positions="learned",
            norm="layernorm",
            mlp="gelu",
            bias=True,
            n_decoder_layer=None,
        ),
        True,
    )
    assert not controls.isVisibleTo(panel)


def test_text_to_text_needs_no_corpus_but_span_corruption_does(qtbot, train_panel, session, t5_tok):
    from playground.engine.session import Session

    fresh = Session()
    fresh.add_tokenizer(t5_tok)
    fresh.set_model_config(t5_config(t5_tok), True)
    from playground.ui.training_panel import TrainingPanel

    panel = TrainingPanel(fresh)
    qtbot.addWidget(panel)
    assert "corpus" in panel.ready_label.text()
    panel.seq2seq.set_objective("text-to-text")
    assert panel.readiness_problem() is None and panel.start_button.isEnabled()


def test_an_encoder_decoder_without_t5_tokens_cannot_start(qtbot, train_panel, t5_session, bpe):
    panel = train_panel
    t5_session.add_tokenizer(bpe)
    t5_session.set_model_config(t5_config(bpe), True)
    assert not panel.start_button.isEnabled()
    text = panel.ready_label.text()
    assert "&lt;/s&gt;" in text and bpe.name in text and "href='build'" in text


@pytest.mark.parametrize("objective", ["span-corruption", "text-to-text"])
def test_a_short_encoder_decoder_run_shows_its_samples(qtbot, train_panel, t5_session, jobs, objective):
    panel = train_panel
    panel.seq2seq.set_objective(objective)
    panel.steps.setValue(10)
    assert panel.start() is not None
    jobs.wait(qtbot, 120_000)
    assert panel.last_error is None
    assert panel.steps_x[-1] == 10 and panel.val_x == [0, 5, 10]
    samples = panel.samples.toPlainText()
    assert "── step 5 ──" in samples and "answer:" in samples
    if objective == "span-corruption":
        assert "corrupted:" in samples and "<extra_id_0>" in samples and "target:" in samples
    else:
        assert "input:     reverse: " in samples and "reference:" in samples
        assert "(right)" in samples or "(wrong)" in samples
    assert "fixed input" in panel.samples.placeholderText()
    assert panel.stats["ppl"].caption.text() == "perplexity"
    checkpoint = t5_session.checkpoint
    assert checkpoint is not None and checkpoint.model_config.is_encoder_decoder
    assert checkpoint.train_config.objective == objective


def test_an_encoder_decoder_run_pauses_stops_and_fine_tunes(qtbot, train_panel, t5_session, jobs):
    panel = train_panel
    panel.steps.setValue(100_000)
    assert panel.start() is not None
    qtbot.waitUntil(lambda: len(panel.steps_x) > 3, timeout=60_000)
    panel.toggle_pause()
    assert panel.job.paused
    panel.stop()
    jobs.wait(qtbot, 60_000)
    assert panel.stop_reason == "stopped" and (panel.last_run_dir / "last" / "model.safetensors").exists()
    parent = panel.last_run_dir
    stopped_at = panel.steps_x[-1]

    panel.steps.setValue(stopped_at + 3)  # continue the stopped run where it stopped
    assert panel.continue_last_run() is not None
    jobs.wait(qtbot, 60_000)
    assert panel.last_error is None and panel.steps_x[-1] == stopped_at + 3 and panel.last_run_dir == parent

    assert panel.set_init_from(parent) is not None  # fine-tune what was just trained
    jobs.wait(qtbot)
    assert parent.name in panel.start_from.text()
    panel.steps.setValue(3)
    assert panel.start() is not None
    jobs.wait(qtbot, 60_000)
    assert panel.last_error is None and panel.steps_x[-1] == 3 and panel.parent_x


# -- fits the screen ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "presenting"),
    [((1024, 640), False), ((1280, 720), False), ((1280, 720), True)],
    ids=["1024x640", "1280x720", "presentation at 1280x720"],
)
def test_the_encoder_decoders_build_and_train_steps_fit(qtbot, session, tiny_corpus, bpe, size, presenting):
    """The family row, the offer to add T5's tokens, the decoder depth and the objective's controls:
    nothing cut, nothing scrolls sideways."""
    from tests.ui.test_fits_screens import make_window, problems_on_screen

    session.set_corpus(*tiny_corpus)
    session.add_tokenizer(bpe)
    window = make_window(qtbot, session, size)
    window.set_presentation_mode(presenting)
    try:
        window.go_to("build")
        window.build_panel.set_flavour("t5")
        assert not window.build_panel.kind_box.tokens_offer.isHidden()
        assert problems_on_screen(window, size) == []
        window.go_to("train")
        train = window.training_panel
        assert train.seq2seq.isVisibleTo(train) and "&lt;/s&gt;" in train.ready_label.text()
        assert problems_on_screen(window, size) == []
        train.seq2seq.set_objective("text-to-text")
        assert problems_on_screen(window, size) == []
    finally:
        window.set_presentation_mode(False)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_encoder_decoders_notes_are_readable(qtbot, session, tiny_corpus, bpe, theme):
    """The family note, the offer to add T5's tokens and Train's sentence about them meet WCAG AA."""
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
        window.build_panel.set_flavour("t5")
        assert window.build_panel.kind_box.tokens_note.isVisible()
        assert unreadable_labels(window) == []
        window.go_to("train")
        window.training_panel.seq2seq.set_objective("text-to-text")
        assert window.training_panel.ready_label.isVisible()
        assert unreadable_labels(window) == []
    finally:
        window.set_theme("light")
        themes.apply_look(themes.Look())
        QSettings().remove("view/theme")


def test_text_to_text_trains_on_a_task_file_with_its_own_prefix(qtbot, train_panel, t5_session, tmp_path, jobs):
    import json

    pairs = [{"input": f"{a} {b}", "reference": f"{b} {a}"} for a in ("cat", "dog", "bird") for b in ("red", "sun")]
    task = tmp_path / "swap.jsonl"
    task.write_text("\n".join(json.dumps(p) for p in pairs * 4), encoding="utf-8")
    panel = train_panel
    panel.seq2seq.set_objective("text-to-text")
    panel.seq2seq.set_task(str(task), "swap: ")
    cfg = panel.train_config()
    assert (cfg.task, cfg.task_prefix) == (str(task), "swap: ") and "swap.jsonl" in panel.seq2seq.task_note.text()
    panel.steps.setValue(5)
    assert panel.start() is not None
    jobs.wait(qtbot, 60_000)
    assert panel.last_error is None and "input:     swap: " in panel.samples.toPlainText()

    task.unlink()  # gone: the step says so before a run can fail on it
    panel.seq2seq.changed.emit()
    assert not panel.start_button.isEnabled() and "swap.jsonl" in panel.ready_label.text()
