"""An encoder in the Attention Lab (a full square in every view, the causal-vs-masked tab) and in Evaluate
(pseudo-perplexity beside a decoder's perplexity, a masked-word task)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sample_text import sentences  # tests/ is on sys.path
from tiny_runs import save_random_run, wordpiece_tokenizer

from playground.core.checkpoints import load_checkpoint
from playground.core.config import ModelConfig
from playground.core.tokenization import LoadedTokenizer
from playground.ui.attention_panel import (
    SOURCE_TEXT,
    VIEW_ALL,
    VIEW_HEAD,
    VIEW_LAYER,
    VIEW_LINES,
    VIEW_MEAN,
    AttentionPanel,
)
from playground.ui.evaluate_panel import EvaluatePanel
from playground.ui.widgets import attention_compare

TEXT = "the cat sat on the mat"


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer() -> LoadedTokenizer:
    return wordpiece_tokenizer(sentences(200))


@pytest.fixture(scope="module")
def encoder_run(tmp_path_factory, tokenizer):
    config = ModelConfig.bert_style(vocab_size=tokenizer.vocab_size, context_length=24, n_layer=2, n_head=2, n_embd=32)
    return save_random_run(tmp_path_factory.mktemp("runs") / "tiny-encoder", config, tokenizer)


@pytest.fixture(scope="module")
def decoder_run(tmp_path_factory, tokenizer):
    config = ModelConfig.gpt2_style(vocab_size=tokenizer.vocab_size, context_length=24, n_layer=1, n_head=4, n_embd=32)
    return save_random_run(tmp_path_factory.mktemp("runs") / "tiny-decoder", config, tokenizer)


@pytest.fixture
def lab(qtbot, session, encoder_run, monkeypatch):
    # Causal vs masked: two models side by side (with the demo encoder-decoder it becomes Three families,
    # tested in test_seq2seq_attention_lab.py).
    monkeypatch.setattr(attention_compare, "demo_encoder_decoder_dir", lambda: None)
    panel = AttentionPanel(session)
    qtbot.addWidget(panel)
    panel.resize(1150, 780)
    panel.show()
    qtbot.waitExposed(panel)
    session.set_checkpoint(*load_checkpoint(encoder_run))
    yield panel
    panel.stop_and_wait()


def idle(qtbot, panel, timeout=30_000) -> None:
    qtbot.waitUntil(panel.is_idle, timeout=timeout)


def look_at(qtbot, panel, text: str) -> None:
    panel.source.setCurrentIndex(SOURCE_TEXT)
    panel.text_edit.setPlainText(text)
    panel.capture_text()
    idle(qtbot, panel)


# -- the Attention Lab ------------------------------------------------------------------------------


def test_an_encoders_heatmap_is_a_full_square_whose_rows_sum_to_one(qtbot, lab):
    look_at(qtbot, lab, TEXT)
    assert lab.shown is not None and lab.shown.causal is False
    assert lab.shown.tokens[0] == "[CLS]" and lab.shown.tokens[-1] == "[SEP]"
    image = lab.heatmap.image  # what the heatmap shows: no cell covered, nothing NaN
    T = len(lab.shown.tokens)
    assert image.shape == (T, T) and not np.isnan(image).any()
    assert np.allclose(image.sum(1), 1.0, atol=1e-5)
    assert np.all(image[np.triu_indices(T, 1)] > 0)  # not a triangle
    assert lab.heatmap.mask_item.path().isEmpty()  # nothing hatched
    assert "not allowed" not in lab.heatmap.cell_text(0, T - 1)
    assert "every token reads every token" in lab.heatmap.title.text
    assert "encoder" in lab.controls.caption.text() and "[CLS]" in lab.controls.caption.text()
    assert "every token reads every token" in lab.concept


def test_every_view_of_an_encoder_works_and_saves(qtbot, lab, tmp_path):
    look_at(qtbot, lab, TEXT)
    T = len(lab.shown.tokens)
    for view in (VIEW_MEAN, VIEW_LAYER, VIEW_ALL, VIEW_LINES, VIEW_HEAD):
        lab.view.setCurrentIndex(view)
        assert lab.views.stack.currentWidget() is not lab.views.blank
    assert not np.isnan(lab.grid._tile_mask).any()  # the small multiples are squares too
    assert lab.lines.causal is False
    lab.lines.select(0)
    assert "cannot look" not in lab.lines.key_text(T - 1)  # [CLS] reads the last token
    assert lab.head_table.rowCount() == 2 * 2
    lab.select_head(1, 1)
    saved = lab.export_matrix(tmp_path / "m.csv")
    with open(saved, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0][1] == "[CLS]" and rows[0][-1] == "[SEP]"
    matrix = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    assert np.allclose(matrix, lab.shown.weights[1, 1])
    assert lab.export_picture(tmp_path / "p.png").stat().st_size > 0


def test_the_training_probe_of_an_encoder_shows_a_square(qtbot, lab, encoder_run):
    from playground.core.attention import LiveProbe
    from playground.ui.attention_panel import SOURCE_PROBE

    checkpoint, model = load_checkpoint(encoder_run)
    lab.source.setCurrentIndex(SOURCE_PROBE)
    idle(qtbot, lab)
    record = LiveProbe(checkpoint.tokenizer, TEXT).probe(model, step=4, now=0.0)
    lab.session.attention_probe.emit(record)
    assert lab.shown.step == 4 and lab.shown.causal is False
    assert not np.isnan(lab.heatmap.image).any()


def compare_tab(qtbot, lab):
    lab.tabs.setCurrentWidget(lab.compare_tab)
    qtbot.waitUntil(lambda: not lab.compare_tab.is_busy(), timeout=30_000)
    return lab.compare_tab


def test_causal_vs_masked_draws_a_triangle_beside_a_square(qtbot, lab, decoder_run, encoder_run):
    view = compare_tab(qtbot, lab)
    view.set_folder(0, decoder_run)
    view.set_folder(1, encoder_run)
    qtbot.waitUntil(lambda: view.result is not None and not view.is_busy(), timeout=30_000)
    qtbot.waitUntil(lambda: [s.encoder for s in view.result.sides] == [False, True], timeout=30_000)
    decoder, encoder = (heatmap.matrix for heatmap in view.heatmaps)
    assert np.all(np.triu(decoder, 1) == 0)  # the triangle: nothing above the diagonal
    T = encoder.shape[0]
    assert np.all(encoder[np.triu_indices(T, 1)] > 0)  # the square
    assert T == decoder.shape[0] + 2  # the encoder reads [CLS] ... [SEP]
    shown = view.matrices()
    assert np.isnan(shown[0][np.triu_indices(decoder.shape[0], 1)]).all()  # hatched
    assert not np.isnan(shown[1]).any()
    assert view.heatmaps[0].causal and not view.heatmaps[1].causal
    assert "decoder" in view.heatmaps[0].title.text and "encoder" in view.heatmaps[1].title.text

    # The same layer and head for both; a model without them shows its nearest and says so.
    view.layer.setValue(1)
    view.head.setValue(3)
    assert "no layer 1" in view.notes[0].text() and "no head 3" in view.notes[1].text()
    assert np.allclose(view.heatmaps[1].matrix, view.result.sides[1].snapshot.weights[1, 1])
    view.mean.setChecked(True)
    assert np.allclose(view.heatmaps[1].matrix, view.result.sides[1].snapshot.weights[1].mean(0), atol=1e-6)


def test_a_side_showing_the_current_model_follows_it(qtbot, lab, decoder_run, encoder_run):
    view = compare_tab(qtbot, lab)
    view.choices[0].setCurrentIndex(view.choices[0].findData(attention_compare.CURRENT))
    view.set_folder(1, encoder_run)
    qtbot.waitUntil(lambda: view.result is not None and not view.is_busy(), timeout=30_000)
    assert view.result.sides[0].name == "tiny-encoder" and view.result.sides[0].encoder
    lab.session.set_checkpoint(*load_checkpoint(decoder_run))
    qtbot.waitUntil(lambda: not view.is_busy() and view.result.sides[0].name == "tiny-decoder", timeout=30_000)
    assert not view.result.sides[0].encoder and "decoder" in view.choices[0].currentText()
    assert np.all(np.triu(view.heatmaps[0].matrix, 1) == 0)


def test_the_causal_side_keeps_a_decoder_when_the_current_model_becomes_an_encoder(
    qtbot, lab, decoder_run, encoder_run
):
    lab.session.set_checkpoint(*load_checkpoint(decoder_run))
    view = compare_tab(qtbot, lab)
    view.choices[0].setCurrentIndex(view.choices[0].findData(attention_compare.CURRENT))
    lab.session.set_checkpoint(*load_checkpoint(encoder_run))  # the current model is now an encoder
    assert view.choices[0].currentData() != attention_compare.CURRENT
    assert "decoder" in view.choices[0].currentText().lower()  # the triangle stays a triangle
    qtbot.waitUntil(lambda: not view.is_busy(), timeout=30_000)
    view.stop_and_wait()


def test_without_the_demo_encoder_a_sentence_offers_to_choose_a_model(qtbot, lab, monkeypatch, encoder_run):
    monkeypatch.setattr(attention_compare, "demo_encoder_dir", lambda: None)
    lab.session.set_checkpoint(None)
    view = attention_compare.CausalVsMasked(lab.session)
    qtbot.addWidget(view)
    view.show()
    assert not view.missing_row.isHidden() and "not installed" in view.missing.text()
    assert view.choose_button.text() == "Choose a model…"
    monkeypatch.setattr(attention_compare.QFileDialog, "getExistingDirectory", lambda *a, **k: str(encoder_run))
    view.choose_button.click()
    assert view.choices[1].currentData() == str(encoder_run)
    qtbot.waitUntil(lambda: not view.is_busy(), timeout=30_000)
    view.stop_and_wait()


# -- Evaluate -----------------------------------------------------------------------------------------


@pytest.fixture
def evaluate(qtbot, session, decoder_run):
    panel = EvaluatePanel(session)
    qtbot.addWidget(panel)
    panel.resize(1150, 780)
    panel.show()
    session.set_checkpoint(*load_checkpoint(decoder_run))
    yield panel
    panel.stop_and_wait()


def test_pseudo_perplexity_rows_appear_beside_a_decoders_perplexity(qtbot, evaluate, encoder_run, tmp_path):
    tab = evaluate.perplexity
    text = tmp_path / "text.txt"
    text.write_text(sentences(5, seed=2), encoding="utf-8")
    assert tab.set_text_file(text)
    assert tab.checkpoints.add(encoder_run)
    tab.measure()
    qtbot.waitUntil(lambda: not evaluate.is_busy(), timeout=60_000)
    rows = {m.row.name: m.row for m in tab.results}
    assert rows["tiny-decoder"].measure == "perplexity" and rows["tiny-encoder"].is_pseudo
    table = tab.results_table
    cells = {
        table.item(r, 0).text().lstrip("● "): [table.item(r, c).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    }
    fonts = {table.item(r, 0).text().lstrip("● "): table.item(r, 6).font() for r in range(table.rowCount())}
    assert fonts["tiny-encoder (best)"].italic() and not fonts["tiny-decoder (best)"].italic()  # pseudo: italic
    assert cells["tiny-encoder (best)"][6] == f"{rows['tiny-encoder'].perplexity:,.1f}"
    assert cells["tiny-encoder (best)"][8] == f"{rows['tiny-encoder'].masked_accuracy:.1%}"
    assert cells["tiny-decoder (best)"][8] == "—"
    assert set(tab.bpb_chart.labels()) == {"tiny-decoder", "tiny-encoder · encoder"}  # the kind on its bar
    assert tab.kinds_note.isVisible() and "not the same kind" in tab.kinds_note.text()
    assert "encoders with encoders" in tab.kinds_note.text() and "italics" in tab.kinds_note.text()


def test_a_masked_word_task_scores_the_encoder(qtbot, evaluate, session, encoder_run, tmp_path):
    session.set_checkpoint(*load_checkpoint(encoder_run))
    tasks = evaluate.tasks
    evaluate.tabs.setCurrentIndex(1)
    assert tasks.encoder_note.isVisible() and not tasks.strategy_combo.isEnabled()
    path = tmp_path / "1-sentiment.jsonl"
    examples = [{"input": "the cat sat", "reference": "positive"}, {"input": "a dog slept", "reference": "negative"}]
    path.write_text("\n".join(json.dumps(x) for x in examples) + "\n", encoding="utf-8")
    assert tasks.open_task(path)
    tasks.run_task()
    qtbot.waitUntil(lambda: not evaluate.is_busy(), timeout=60_000)
    assert "Done" in tasks.status.text()
    assert tasks.examples_table.rowCount() == 2
    checkpoint, model = load_checkpoint(encoder_run)
    from playground.core.task_eval import fill_answer, load_task, template_for

    template = template_for(load_task(path))
    results = tasks.shown_run.results
    for result in results:
        assert result.mode in ("zero-shot", "few-shot")
        for row, example in zip(result.rows, examples):
            prompt = template.render(mode=result.mode, input=example["input"]).text
            assert row.output == fill_answer(model, checkpoint.tokenizer, prompt).raw  # the [MASK]'s top guess
            assert row.exact == (row.output == example["reference"])


def test_one_heatmap_turns_from_square_to_triangle_and_back_on_the_same_tokens(qtbot):
    from playground.ui.widgets.heatmap import AttentionHeatmap

    heatmap = AttentionHeatmap()
    qtbot.addWidget(heatmap)
    tokens = ["a", "b", "c"]
    square = np.full((3, 3), 1 / 3, dtype=np.float32)
    heatmap.set_matrix(square, tokens, causal=False)
    assert heatmap.mask_item.path().isEmpty() and not np.isnan(heatmap.image).any()
    triangle = np.tril(np.ones((3, 3), dtype=np.float32)) / np.arange(1, 4, dtype=np.float32)[:, None]
    heatmap.set_matrix(triangle, tokens)
    assert not heatmap.mask_item.path().isEmpty() and np.isnan(heatmap.image[0, 2])
    assert "not allowed" in heatmap.cell_text(0, 2)
    heatmap.set_matrix(square, tokens, causal=False)
    assert heatmap.mask_item.path().isEmpty() and "0.333" in heatmap.cell_text(0, 2)
