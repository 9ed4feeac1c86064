"""The Attention step with an encoder-decoder (issue 16): a choice of three kinds (encoder square, decoder
triangle, cross-attention rectangle) in every view, cross-attention filling in live while Generate writes,
and the "Three families" tab. Decoders and encoders keep one kind and one text."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground import paths
from playground.core import seq2seq_look
from playground.core.attention_records import AttentionSoFar
from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
from playground.core.config import ModelConfig
from playground.core.sampling import SamplingSettings, generate_tokens
from playground.core.seq2seq_generation import prepare_input
from playground.core.t5_model import T5
from playground.core.t5_tokens import t5_tokens, with_t5_tokens
from playground.core.tokenization import open_tokenizer
from playground.core.train_config import TrainConfig
from playground.engine.session import GeneratedText
from playground.ui.attention_panel import SOURCE_GENERATE, SOURCE_TEXT, VIEW_ALL, VIEW_LAYER, VIEW_LINES, AttentionPanel

INPUT, OUTPUT = "reverse: red green blue", "blue green red"
NEW_TOKENS = 6


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def t5_run(tmp_path_factory):
    """A tiny encoder-decoder with random weights: 2 encoder layers, 3 decoder layers, 2 heads."""
    tokenizer = with_t5_tokens(open_tokenizer(paths.demo_model_dir() / "tokenizer.json"), n_sentinels=4)
    config = ModelConfig.t5_style(
        vocab_size=tokenizer.vocab_size, context_length=24, n_layer=2, n_decoder_layer=3, n_head=2,
        n_embd=16, relative_buckets=8,
    )  # fmt: skip
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("runs") / "tiny-t5"
    write_run_files(folder, config, TrainConfig(), tokenizer)
    save_checkpoint(folder, "best", T5(config).eval(), {}, {"step": 2})
    return folder


@pytest.fixture
def lab(qtbot, session):
    panel = AttentionPanel(session)
    qtbot.addWidget(panel)
    panel.resize(1150, 780)
    panel.show()
    qtbot.waitExposed(panel)
    yield panel
    panel.stop_and_wait()


def idle(qtbot, lab):
    qtbot.waitUntil(lambda: lab.is_idle() and not lab._capture_timer.isActive(), timeout=30_000)


def test_the_kind_choice_and_the_output_box_show_for_an_encoder_decoder_only(qtbot, lab, t5_run):
    lab.session.set_checkpoint(*load_checkpoint(paths.demo_model_dir()))
    idle(qtbot, lab)
    assert lab.controls.kind.isHidden() and lab.controls.output_edit.isHidden()
    assert lab.shown is not None and lab.shown.kind == "" and not lab.shown.is_rectangle  # as before
    lab.session.set_checkpoint(*load_checkpoint(paths.demo_encoder_dir()))
    idle(qtbot, lab)
    assert lab.controls.kind.isHidden() and not lab.shown.causal and lab.shown.kind == ""

    lab.session.set_checkpoint(*load_checkpoint(t5_run))
    idle(qtbot, lab)
    assert not lab.controls.kind.isHidden() and not lab.controls.output_edit.isHidden()
    assert lab.shown.kind == "cross" and lab.pair is not None and lab.pair.generated  # its own output

    lab.session.set_checkpoint(*load_checkpoint(paths.demo_model_dir()))
    idle(qtbot, lab)
    assert lab.controls.kind.isHidden() and lab.controls.output_edit.isHidden() and lab.pair is None


def test_each_kind_draws_its_shape_in_every_view(qtbot, lab, t5_run, tmp_path):
    lab.session.set_checkpoint(*load_checkpoint(t5_run))
    lab.source.setCurrentIndex(SOURCE_TEXT)
    lab.text_edit.setPlainText(INPUT)
    lab.controls.output_edit.setText(OUTPUT)
    lab.controls.output_edit.textEdited.emit(OUTPUT)  # as typing it does
    idle(qtbot, lab)
    pair = lab.pair
    assert pair is not None and not pair.generated and pair.written_tokens[-1] == "</s>"
    S, T = len(pair.input_tokens), len(pair.written_tokens)
    assert S != T

    # Cross-attention: a rectangle, output tokens down, input tokens across, labelled so.
    cross = lab.controls.kind.findData("cross")
    lab.controls.kind.setCurrentIndex(cross)
    assert lab.shown.kind == "cross" and lab.heatmap.image.shape == (T, S)
    assert not np.isnan(lab.heatmap.image).any()
    assert lab.heatmap.left.labelText.startswith("output token") and lab.heatmap.bottom.labelText.startswith("input")
    assert lab.heatmap.key_tokens == list(pair.input_tokens) and "cross-attention" in lab.heatmap.title.text
    assert "writing" in lab.heatmap.cell_text(0, S - 1)
    # The summary: "—" where a statistic has no meaning for cross-attention, never "nan".
    table = lab.head_table
    texts = [table.item(r, c).text() for r in range(table.rowCount()) for c in range(table.columnCount())]
    assert table.rowCount() == 3 * 2 and "—" in texts and not any("nan" in t for t in texts)
    # Every other view takes the rectangle.
    lab.view.setCurrentIndex(VIEW_LAYER)
    assert lab.grid.tile_rows == T and lab.grid.tile_size == S
    lab.view.setCurrentIndex(VIEW_ALL)
    assert lab.grid.image.shape[0] > lab.grid.image.shape[1] * 0  # drawn
    assert len(lab.grid.tiles) == 3 * 2
    lab.view.setCurrentIndex(VIEW_LINES)
    assert lab.lines.key_tokens == list(pair.input_tokens) and lab.lines.cross
    assert lab.lines.matrix.shape == (T, S)
    saved = lab.export_matrix(tmp_path / "cross.csv")
    header = saved.read_text(encoding="utf-8").splitlines()[0]
    assert header.count(",") == S  # a column per input token, after the row labels
    assert lab.export_picture(tmp_path / "cross.png").stat().st_size > 0

    # Encoder self-attention: a full square over the input; decoder self-attention: a triangle over the output.
    lab.view.setCurrentIndex(0)
    lab.controls.kind.setCurrentIndex(lab.controls.kind.findData("encoder"))
    assert lab.heatmap.image.shape == (S, S) and not np.isnan(lab.heatmap.image).any()
    assert lab.layer.maximum() == 1  # two encoder layers
    lab.controls.kind.setCurrentIndex(lab.controls.kind.findData("decoder"))
    shown = lab.heatmap.image
    assert shown.shape == (T, T) and np.isnan(shown[np.triu_indices(T, 1)]).all()
    assert lab.layer.maximum() == 2  # three decoder layers
    assert "decoder self-attention" in lab.heatmap.title.text


def test_cross_attention_grows_a_row_per_generated_token(qtbot, lab, t5_run, monkeypatch):
    """What the Generate panel does with an encoder-decoder, token by token: the Lab draws the rows the
    generation hands over, and runs no model of its own."""
    checkpoint, model = load_checkpoint(t5_run)
    lab.session.set_checkpoint(checkpoint, model)
    lab.source.setCurrentIndex(SOURCE_GENERATE)
    idle(qtbot, lab)
    tokenizer = checkpoint.tokenizer
    input_ids = prepare_input(tokenizer, INPUT, model.config.context_length).ids
    ids, so_far = list(input_ids), None

    def announce() -> None:
        texts = [tokenizer.decode([i]) for i in ids]
        lab.session.text_generated.emit(
            GeneratedText(checkpoint, list(ids), texts, len(input_ids), attention=so_far, attention_follows=True)
        )
        idle(qtbot, lab)

    announce()  # the input: nothing written yet
    assert lab.shown is None and "first token" in lab.views.blank.text()

    def no_model(*_args, **_kwargs):
        raise AssertionError("the Lab ran the model: it should draw the rows generation handed over")

    monkeypatch.setattr(seq2seq_look, "capture_ids_pair", no_model)
    start = t5_tokens(tokenizer).decoder_start
    settings = SamplingSettings(strategy="greedy", max_new_tokens=NEW_TOKENS, stop_at_end=False)
    S = len(input_ids)
    for n, token in enumerate(
        generate_tokens(model, [start], settings, input_ids=input_ids, tokenizer=tokenizer, attention=True), 1
    ):
        ids.append(token.id)
        so_far = (so_far or AttentionSoFar()).add(token.attention)
        announce()
        assert lab.shown.kind == "cross" and lab.heatmap.image.shape == (n, S)  # one more row
        assert lab.controls.output_edit.text() == "".join(tokenizer.decode([i]) for i in ids[S:])
    assert n == NEW_TOKENS
    # The same weights as reading the pair afresh (teacher forcing).
    monkeypatch.undo()
    fresh = seq2seq_look.capture_ids_pair(model, tokenizer, input_ids, ids[S:])
    np.testing.assert_allclose(lab.pair.cross, fresh.cross, atol=1e-5, rtol=0)
    np.testing.assert_allclose(lab.pair.encoder, fresh.encoder, atol=1e-5, rtol=0)
    lab.controls.kind.setCurrentIndex(lab.controls.kind.findData("decoder"))
    assert lab.heatmap.image.shape == (NEW_TOKENS, NEW_TOKENS)
    np.testing.assert_allclose(lab.pair.decoder, fresh.decoder, atol=1e-5, rtol=0)


def assert_three_shapes(view) -> None:
    """A triangle (NaN above the diagonal), a square and a rectangle, side by side."""
    triangle, square, rectangle = view.matrices()
    T = triangle.shape[0]
    assert triangle.shape == (T, T) and np.isnan(triangle[np.triu_indices(T, 1)]).all()
    assert square.shape[0] == square.shape[1] and not np.isnan(square).any()
    third = view.result.sides[2].snapshot
    assert rectangle.shape == (len(third.tokens), len(third.keys)) and not np.isnan(rectangle).any()
    assert "encoder-decoder" in view.heatmaps[2].title.text.lower() and view.heatmaps[2].cross
    assert [h.isVisible() for h in view.heatmaps] == [True, True, True]


def test_three_families_with_the_demo_encoder_decoder(qtbot, lab):
    assert paths.demo_encoder_decoder_dir() is not None, "models/demo-encoder-decoder ships with the repository"
    lab.session.set_checkpoint(*load_checkpoint(paths.demo_model_dir()))
    view = lab.compare_tab
    assert view.three and lab.tabs.tabText(2) == "Three families" and view.missing_third_row.isHidden()
    assert "encoder-decoder" in view.choices[2].currentText().lower()
    lab.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: not view.is_busy() and view.result is not None, timeout=30_000)
    assert len(view.result.sides) == 3
    assert_three_shapes(view)
    view.stop_and_wait()


def test_without_the_demo_a_sentence_offers_an_encoder_decoder_s_folder(qtbot, session, t5_run, monkeypatch):
    from playground.ui.widgets import attention_compare

    monkeypatch.setattr(attention_compare, "demo_encoder_decoder_dir", lambda: None)
    session.set_checkpoint(*load_checkpoint(paths.demo_model_dir()))
    lab = AttentionPanel(session)
    qtbot.addWidget(lab)
    lab.resize(1150, 780)
    lab.show()
    view = lab.compare_tab
    assert lab.tabs.tabText(2) == "Causal vs masked" and not view.three and view.choices[2].isHidden()
    assert not view.missing_third_row.isHidden() and "not installed" in view.missing_third.text()
    lab.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: not view.is_busy(), timeout=30_000)
    assert len(view.result.sides) == 2 and len(view.heatmaps) == 2  # as before: the triangle and the square
    monkeypatch.setattr(attention_compare.QFileDialog, "getExistingDirectory", lambda *a, **k: str(t5_run))
    view.choose_third_button.click()
    assert view.three and lab.tabs.tabText(2) == "Three families" and view.missing_third_row.isHidden()
    qtbot.waitUntil(
        lambda: not view.is_busy() and view.result is not None and len(view.result.sides) == 3, timeout=30_000
    )
    assert_three_shapes(view)
    lab.stop_and_wait()


@pytest.mark.parametrize("size,presenting", [((1024, 640), False), ((1280, 720), True)], ids=["1024x640", "presenting"])
def test_the_attention_step_fits_with_an_encoder_decoder(qtbot, session, t5_run, size, presenting):
    """The kind choice, the output box and three heatmaps abreast still fit a small screen and a projector."""
    from test_fits_screens import make_window, overlapping, problems_on_screen, visible_tab_states

    session.set_checkpoint(*load_checkpoint(t5_run))
    window = make_window(qtbot, session, size)
    window.set_presentation_mode(presenting)
    try:
        window.steps.setCurrentRow([t.lower() for t in window.step_titles].index("attention"))
        lab = window.current_panel()
        idle(qtbot, lab)
        assert lab.shown is not None and lab.shown.kind == "cross"
        lab.compare_tab.set_folder(2, t5_run)
        qtbot.waitUntil(lambda: not lab.compare_tab.is_busy(), timeout=30_000)
        found = []
        for state in visible_tab_states(lab):
            found += [f"{problem} [{state}]" for problem in problems_on_screen(window, size) + overlapping(lab)]
        assert found == []
    finally:
        window.set_presentation_mode(False)
        window.attention_panel.stop_and_wait()


def test_generating_with_the_demo_encoder_decoder_fills_cross_attention_in_live(qtbot, lab, monkeypatch):
    """The Generate panel hands its rows over while the Lab follows it: a row per written token, no model run
    by the Lab."""
    from dataclasses import replace

    from playground.engine.jobs import Job
    from playground.ui.generate_panel import GeneratePanel

    assert paths.demo_encoder_decoder_dir() is not None, "models/demo-encoder-decoder ships with the repository"
    lab.session.set_checkpoint(*load_checkpoint(paths.demo_encoder_decoder_dir()))
    lab.source.setCurrentIndex(SOURCE_GENERATE)
    idle(qtbot, lab)
    monkeypatch.setattr(seq2seq_look, "capture_ids_pair", lambda *a, **k: pytest.fail("the Lab ran the model"))
    generate = GeneratePanel(lab.session)
    qtbot.addWidget(generate)
    generate.show()
    shapes = []
    lab.session.text_generated.connect(lambda g: shapes.append(len(g.ids) - g.prompt_tokens))
    try:
        generate.set_settings(replace(generate.settings(), strategy="greedy", max_new_tokens=NEW_TOKENS))
        generate.prompt_edit.setPlainText("342")
        assert generate.generate() is not None
        qtbot.waitUntil(lambda: not generate.is_busy() and not Job.running(), timeout=60_000)
        read = lab.last_generated
        written = len(read.ids) - read.prompt_tokens
        qtbot.waitUntil(
            lambda: lab.is_idle() and lab.pair is not None and len(lab.pair.output_ids) == written, timeout=30_000
        )
        assert read.attention is not None and written >= 2 and shapes[-written:] == list(range(1, written + 1))
        assert lab.shown.kind == "cross" and lab.heatmap.image.shape == (written, read.prompt_tokens)
    finally:
        generate.stop_and_wait()
