"""pytest-qt tests of the Build panel: the counts it shows are the model's, problems show where they belong."""

from __future__ import annotations

import pytest

from playground.core.config import PRESETS, ModelConfig
from playground.core.devices import DeviceInfo
from playground.core.estimates import human_bytes, memory_estimate
from playground.core.model import GPT
from playground.core.progress import run_quietly
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process
from playground.core.units import human_count

FLAVOURS = ["gpt2", "llama"]


@pytest.fixture
def build_panel(qtbot, session):
    from playground.ui.build_panel import BuildPanel

    panel = BuildPanel(session)
    panel.MEASURE_SECONDS = 0.05
    qtbot.addWidget(panel)
    panel.resize(1150, 800)
    yield panel
    qtbot.waitUntil(lambda: panel.measure_job is None, timeout=30_000)


@pytest.fixture
def tokenizer(tiny_corpus):
    corpus, _ = tiny_corpus
    spec = spec_for_kind("bpe", vocab_size=300)
    return LoadedTokenizer(run_quietly(train_in_process(corpus, spec)), name="BPE 300 · tiny", spec=spec)


def shown_total(panel) -> int:
    table = panel.breakdown_table
    row = table.rowCount() - 1
    assert table.item(row, 0).text() == "Total"
    return int(table.item(row, 1).text().replace(",", ""))


def meta_count(config: ModelConfig) -> int:
    """What the real model holds, built on the meta device: shapes only, no memory."""
    return sum(p.numel() for p in GPT.from_config(config, "meta").parameters())


def choose_preset(panel, name: str) -> None:
    panel.preset.setCurrentIndex(panel.preset.findData(name))


@pytest.mark.parametrize("with_tokenizer", [False, True])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_every_preset_shows_the_real_models_parameter_count(build_panel, session, tokenizer, flavour, with_tokenizer):
    panel = build_panel
    if with_tokenizer:
        session.add_tokenizer(tokenizer)
    panel.set_flavour(flavour)
    for name, preset in PRESETS.items():
        choose_preset(panel, "tiny" if name != "tiny" else "small")  # a real change each time
        choose_preset(panel, name)
        if with_tokenizer:
            vocab = tokenizer.vocab_size
        else:
            vocab = preset.vocab_size or panel.PROVISIONAL_VOCAB  # GPT-2 small shows its own 50,257
        expected = ModelConfig.from_preset(name, vocab, flavour=flavour)
        assert panel.config() == expected
        assert panel.preset.currentData() == name
        assert shown_total(panel) == meta_count(expected)
        assert session.model_config == expected
        assert session.model_config_ok is with_tokenizer


def test_moving_the_layers_control_updates_the_count(build_panel, session):
    panel = build_panel
    before = shown_total(panel)
    panel.n_layer.setValue(panel.n_layer.value() + 1)
    after = shown_total(panel)
    assert after > before
    assert after == meta_count(panel.config())
    assert panel.preset.currentData() is None  # no preset has these sizes: "custom"
    assert session.model_config.n_layer == panel.n_layer.value()


def test_width_the_heads_cannot_share_is_shown_next_to_width_and_blocks_training(build_panel, session, tokenizer):
    panel = build_panel
    session.add_tokenizer(tokenizer)
    assert session.model_config_ok is True
    panel.n_head.setValue(4)
    panel.n_embd.setValue(50)
    label = panel.problem_labels["n_embd"]
    assert not label.isHidden()
    assert "not divisible by 4 heads" in label.text()
    assert "ERROR" not in label.text()
    assert session.model_config_ok is False
    assert session.model_config.n_embd == 50
    assert panel.total_label.text().startswith("—")
    # Both controls' captions are marked; the others are not.
    assert panel.captions["n_embd"].styleSheet() and panel.captions["n_head"].styleSheet()
    assert not panel.captions["n_layer"].styleSheet()

    panel.n_embd.setValue(52)
    assert label.isHidden()
    assert session.model_config_ok is True
    assert shown_total(panel) == meta_count(panel.config())


def test_llama_style_needs_an_even_share_per_head(build_panel, session, tokenizer):
    panel = build_panel
    session.add_tokenizer(tokenizer)
    panel.set_flavour("llama")
    panel.n_head.setValue(4)
    panel.n_embd.setValue(36)  # 9 numbers per head: RoPE turns them in pairs
    assert "RoPE" in panel.problem_labels["n_embd"].text()
    assert session.model_config_ok is False
    panel.set_flavour("gpt2")
    assert panel.problem_labels["n_embd"].isHidden()
    assert session.model_config_ok is True


def test_the_tokenizer_sets_the_vocabulary(build_panel, session, tokenizer):
    panel = build_panel
    assert panel.config().vocab_size == panel.PROVISIONAL_VOCAB
    assert "tokenizer" in panel.problem_labels["vocab_size"].text()
    assert not panel.problem_labels["vocab_size"].isHidden()
    assert session.model_config_ok is False

    session.add_tokenizer(tokenizer)
    assert panel.config().vocab_size == tokenizer.vocab_size
    assert f"{tokenizer.vocab_size:,}" in panel.vocab.text()
    assert panel.problem_labels["vocab_size"].isHidden()
    assert session.model_config.vocab_size == tokenizer.vocab_size
    assert session.model_config_ok is True
    assert shown_total(panel) == meta_count(panel.config())

    session.set_tokenizer(None)
    assert panel.config().vocab_size == panel.PROVISIONAL_VOCAB
    assert session.model_config_ok is False


def test_mlp_width_zero_means_automatic(build_panel):
    panel = build_panel
    choose_preset(panel, "small")
    assert panel.mlp_hidden.value() == 0 and panel.config().mlp_hidden is None
    assert "automatic (512)" == panel.mlp_hidden.specialValueText()
    panel.set_flavour("llama")
    assert "automatic (384)" == panel.mlp_hidden.specialValueText()
    panel.mlp_hidden.setValue(640)
    assert panel.config().mlp_hidden == 640
    assert shown_total(panel) == meta_count(panel.config())


def test_memory_table_follows_the_batch_size(build_panel):
    panel = build_panel
    choose_preset(panel, "small")
    table = panel.memory_table
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    activations = lambda: table.item(rows["Activations"], 1).text()  # noqa: E731
    weights = table.item(rows["Weights"], 1).text()
    m8 = memory_estimate(panel.config(), 8, device=panel._device_kind())
    panel.batch_size.setValue(8)
    assert activations() == human_bytes(m8.activations)
    panel.batch_size.setValue(16)
    m16 = panel.memory()
    assert m16.activations == 2 * m8.activations
    assert activations() == human_bytes(m16.activations)
    assert table.item(rows["Total"], 1).text() == human_bytes(m16.total)
    assert table.item(rows["Weights"], 1).text() == weights  # the batch does not change the weights


def test_mixed_precision_counts_only_where_the_trainer_uses_it(build_panel, session):
    panel = build_panel
    choose_preset(panel, "small")
    fp32 = panel.memory()
    panel.precision.setCurrentIndex(panel.precision.findData("bf16"))
    # No CUDA GPU: training falls back to float32, and so does the estimate.
    assert panel.effective_precision() == "fp32"
    assert panel.memory() == fp32
    assert not panel.precision_note.isHidden() and "CUDA" in panel.precision_note.text()

    session.set_device(DeviceInfo("cuda", "Test GPU", total_memory=8 * 2**30, free_memory=6 * 2**30))
    assert panel.effective_precision() == "bf16"
    assert panel.precision_note.isHidden()
    bf16 = panel.memory()
    assert bf16 == memory_estimate(panel.config(), panel.batch_size.value(), "bf16", device="cuda")
    assert (
        bf16.activations < memory_estimate(panel.config(), panel.batch_size.value(), "fp32", device="cuda").activations
    )
    table = panel.memory_table
    assert table.item(3, 1).text() == human_bytes(bf16.activations)


def test_fit_line_compares_with_free_gpu_memory(build_panel, session):
    panel = build_panel
    session.set_device(DeviceInfo("cuda", "Test GPU", total_memory=8 * 2**30, free_memory=4 * 2**30))
    table = panel.memory_table
    assert table.item(table.rowCount() - 1, 1).text() == "4.0 GiB"
    assert "Test GPU" in table.item(table.rowCount() - 1, 2).text()
    choose_preset(panel, "tiny")
    assert "Fits" in panel.fit_label.text()
    choose_preset(panel, "gpt2-small")
    panel.batch_size.setValue(16)
    assert "Does not fit" in panel.fit_label.text()
    assert "smaller batch" in panel.fit_label.text()


def test_showing_the_panel_draws_the_charts_and_measures_the_speed(qtbot, build_panel):
    panel = build_panel
    assert panel.param_plot is None  # pyqtgraph waits for the first show
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.param_bars is not None and panel.memory_bars is not None
    widths = panel.param_bars.opts["width"]
    assert len(widths) == 6 and sum(widths) == pytest.approx(100.0)
    qtbot.waitUntil(lambda: panel.flops_per_second is not None, timeout=30_000)
    assert panel.flops_per_second > 0
    assert "tokens/s" in panel.tokens_label.text()
    assert "1,000 steps" in panel.steps_label.text()
    # Changing the batch updates the time, and the charts in place.
    bars = panel.param_bars
    before = panel.steps_label.text()
    panel.batch_size.setValue(panel.batch_size.value() * 4)
    assert panel.steps_label.text() != before
    assert panel.param_bars is bars


def test_every_control_explains_itself(build_panel):
    panel = build_panel
    controls = [
        panel.preset,
        panel.flavour,
        panel.n_layer,
        panel.n_head,
        panel.n_embd,
        panel.mlp_hidden,
        panel.context_length,
        panel.vocab,
        panel.dropout,
        panel.batch_size,
        panel.precision,
        panel.remeasure,
    ]
    for control in controls:
        assert len(control.toolTip()) > 20, control
    for combo in (panel.preset, panel.flavour, panel.precision):
        for i in range(combo.count()):
            assert combo.itemData(i, role=3)  # Qt.ToolTipRole
    assert panel.title == "Build" and "<b>" in panel.concept


def test_measuring_runs_one_job_at_a_time_and_shows_its_result(qtbot, build_panel, jobs):
    panel = build_panel
    assert panel.start_measurement() is not None
    assert not panel.remeasure.isEnabled() and panel.start_measurement() is None  # one at a time
    assert panel.device_speed_label.text() == "measuring…"
    jobs.wait(qtbot)
    assert panel.measure_job is None and panel.remeasure.isEnabled()
    assert panel.flops_per_second > 0 and panel.measured_device is not None
    assert "measured on" in panel.device_speed_label.text() and "tokens/s" in panel.tokens_label.text()


def test_the_gpt2_small_note_explains_the_count_shown_with_another_vocabulary(build_panel, session, tokenizer):
    panel = build_panel
    choose_preset(panel, "gpt2-small")
    note = panel.preset_note.text()
    assert "124M" in note and "50,257" in note and "Here" not in note  # GPT-2's own vocabulary: its own count

    session.add_tokenizer(tokenizer)
    shown = human_count(shown_total(panel))
    assert shown != "124.4M"
    assert f"Here, with your {tokenizer.vocab_size:,}-token vocabulary: {shown}." in panel.preset_note.text()

    panel.set_flavour("llama")
    assert f"vocabulary and LLaMA-style layers: {human_count(shown_total(panel))}." in panel.preset_note.text()
