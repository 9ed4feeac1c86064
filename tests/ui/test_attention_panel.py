"""The Attention step: captures from your text, from generated text and from training probes; the views,
the head summary, the embedding map, export, and what it shows without a model."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from playground.core.attention import ProbeRecord
from playground.engine.session import GeneratedText, Session
from playground.ui.attention_panel import (
    MAX_HISTORY,
    SOURCE_GENERATE,
    SOURCE_PROBE,
    SOURCE_TEXT,
    VIEW_ALL,
    VIEW_HEAD,
    VIEW_LAYER,
    VIEW_LINES,
    VIEW_MEAN,
    AttentionPanel,
)

CODE = "def add(a, b):\n    return a + b"


@pytest.fixture(scope="module")
def demo():
    from playground.core.checkpoints import load_checkpoint
    from playground.paths import demo_model_dir

    assert demo_model_dir() is not None, "models/demo is missing: it ships with the repository, so restore it"
    return load_checkpoint(demo_model_dir())


def make_panel(qtbot, session) -> AttentionPanel:
    panel = AttentionPanel(session)
    qtbot.addWidget(panel)
    panel.resize(1150, 780)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.fixture
def lab(qtbot, session, demo):
    panel = make_panel(qtbot, session)
    session.set_checkpoint(*demo)
    yield panel
    panel.stop_and_wait()


def idle(qtbot, panel, timeout=30_000) -> None:
    qtbot.waitUntil(panel.is_idle, timeout=timeout)


def look_at(qtbot, panel, text: str) -> None:
    panel.source.setCurrentIndex(SOURCE_TEXT)
    panel.text_edit.setPlainText(text)
    panel.capture_text()
    idle(qtbot, panel)


def causal_weights(n_layer: int, n_head: int, T: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(n_layer, n_head, T, T, generator=g) * 3
    scores = scores.masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf"))
    return scores.softmax(-1)


def shown_image(panel) -> np.ndarray:
    return np.nan_to_num(np.array(panel.heatmap.image, copy=True), nan=-1.0)


# -- capturing -------------------------------------------------------------------------------


def test_my_text_fills_the_heatmap_with_one_row_and_column_per_token(qtbot, lab, demo):
    checkpoint, _ = demo
    look_at(qtbot, lab, CODE)
    T = len(checkpoint.tokenizer.encode(CODE))
    assert lab.shown.tokens[0] == "def" and len(lab.shown.tokens) == T
    assert lab.heatmap.image.shape == (T, T)
    # causal: nothing above the diagonal (drawn as NaN, so the hatching shows), rows sum to 1
    image = lab.heatmap.image
    assert np.isnan(image[np.triu_indices(T, 1)]).all()
    assert np.allclose(np.nansum(image, axis=1), 1.0, atol=1e-4)
    assert lab.head_table.rowCount() == 16  # 4 layers × 4 heads
    assert not lab.notice.isVisible()
    # the heatmap's labels show spaces and new lines
    assert "⏎␣␣␣" in lab.heatmap.labels and "␣return" in lab.heatmap.labels


def test_a_text_longer_than_the_context_says_which_window_is_shown(qtbot, lab):
    look_at(qtbot, lab, "one two three four five six seven eight nine ten " * 40)
    assert lab.heatmap.image.shape == (128, 128)
    assert lab.notice.isVisible() and "the last 128" in lab.notice.text()


def test_generated_text_adds_a_row_per_token_only_when_generate_is_the_source(qtbot, lab, demo):
    checkpoint, _ = demo
    ids = checkpoint.tokenizer.encode_ids([CODE])[0]
    tokens = [checkpoint.tokenizer.decode([i]) for i in ids]

    def emit(n: int) -> None:
        lab.session.text_generated.emit(GeneratedText(checkpoint, list(ids[:n]), tokens[:n], prompt_tokens=3))

    look_at(qtbot, lab, "hello world")
    before = lab.heatmap.image.shape
    emit(5)
    idle(qtbot, lab)
    assert lab.heatmap.image.shape == before  # My text is the source: generation is not followed

    lab.source.setCurrentIndex(SOURCE_GENERATE)  # shows the latest generated text at once
    idle(qtbot, lab)
    assert lab.heatmap.image.shape == (5, 5)
    assert lab.text_edit.isReadOnly() and lab.text_edit.toPlainText() == "".join(tokens[:5])
    for n in range(6, len(ids) + 1):
        emit(n)
        idle(qtbot, lab)
        assert lab.heatmap.image.shape == (n, n)
    # a burst of tokens coalesces: whatever ran in between, the last one is what shows
    for n in range(2, len(ids) + 1):
        emit(n)
    idle(qtbot, lab)
    assert lab.heatmap.image.shape == (len(ids), len(ids))
    assert lab.shown.tokens == tokens
    assert f"3 prompt + {len(ids) - 3} written tokens" in lab.heatmap.title.text


def test_a_look_at_the_old_source_that_ends_after_a_switch_is_dropped(qtbot, lab, monkeypatch):
    import threading

    from playground.core import attention_jobs
    from playground.core.progress import Progress

    release, looking = threading.Event(), threading.Event()
    real = attention_jobs.look_at_text

    def slow(models, checkpoint, text):
        yield Progress(None, "Reading the text…")
        looking.set()
        release.wait(10)
        return (yield from real(models, checkpoint, text))

    look_at(qtbot, lab, "hello world")
    monkeypatch.setattr(attention_jobs, "look_at_text", slow)
    lab.text_edit.setPlainText("a text whose look ends too late")
    lab.capture_text()
    qtbot.waitUntil(looking.is_set, timeout=10_000)
    lab.source.setCurrentIndex(SOURCE_GENERATE)  # nothing generated yet
    release.set()
    idle(qtbot, lab)
    assert lab.shown is None and "Nothing generated yet" in lab.views.blank.text()


# -- the training probe ----------------------------------------------------------------------


def probe(step: int, T: int = 6, seed: int = 0) -> ProbeRecord:
    return ProbeRecord(step=step, tokens=[f"t{i}" for i in range(T)], weights=causal_weights(4, 4, T, seed))


def test_probe_records_update_the_heatmap_and_the_slider_scrubs_back(qtbot, lab):
    lab.source.setCurrentIndex(SOURCE_PROBE)
    idle(qtbot, lab)
    assert lab.history_row.isVisible() and not lab.look_button.isVisible()
    images = []
    for i, step in enumerate((10, 20, 30)):
        lab.session.attention_probe.emit(probe(step, seed=i))
        images.append(shown_image(lab))
    assert not np.array_equal(images[0], images[1]) and not np.array_equal(images[1], images[2])
    assert lab.history_slider.maximum() == 2 and lab.history_slider.value() == 2
    assert "step 30" in lab.history_label.text() and lab.follow_latest.isChecked()

    lab.history_slider.setValue(0)  # back in time
    assert "step 10" in lab.history_label.text() and not lab.follow_latest.isChecked()
    assert np.array_equal(shown_image(lab), images[0])
    assert "training step 10" in lab.heatmap.title.text
    lab.session.attention_probe.emit(probe(40, seed=3))  # not following: the view stays at step 10
    assert lab.shown.step == 10 and lab.history_slider.maximum() == 3 and lab.history_slider.value() == 0
    lab.follow_latest.setChecked(True)
    assert lab.shown.step == 40 and lab.history_slider.value() == 3
    lab.history_slider.setValue(1)
    lab.history_slider.setValue(3)  # back at the end: following again
    assert lab.follow_latest.isChecked()


def test_the_probe_history_is_thinned_evenly_and_keeps_the_first_and_latest(qtbot, lab):
    lab.source.setCurrentIndex(SOURCE_PROBE)
    idle(qtbot, lab)
    for step in range(1, 3 * MAX_HISTORY + 1):
        lab.session.attention_probe.emit(probe(step, T=4, seed=step))
    steps = [e.step for e in lab.history]
    assert len(steps) <= MAX_HISTORY and len(steps) > MAX_HISTORY // 3
    assert steps[0] == 1 and steps[-1] == 3 * MAX_HISTORY and steps == sorted(steps)
    gaps = np.diff(steps[:-1])
    assert gaps.min() == gaps.max()  # evenly spaced from the first step on (the newest is extra)
    # a new run starts a new history
    lab.session.set_training(True)
    assert lab.history == [] and lab.history_slider.maximum() == 0
    lab.session.set_training(False)


def test_editing_the_probe_sentence_tells_the_session(qtbot, lab):
    lab.source.setCurrentIndex(SOURCE_PROBE)
    assert lab.text_edit.toPlainText() == lab.session.probe_text
    with qtbot.waitSignal(lab.session.probe_text_changed, timeout=3000) as blocker:
        lab.text_edit.setPlainText("A dog ran to the dog.")
    assert blocker.args == ["A dog ran to the dog."] and lab.session.probe_text == "A dog ran to the dog."
    idle(qtbot, lab)  # before training, the probe sentence is shown as the current model sees it
    assert lab.shown is not None and "".join(lab.shown.tokens) == "A dog ran to the dog."


def test_a_real_training_run_sends_probe_records_that_change_the_heatmap(qtbot, tmp_path, tiny_corpus):
    from playground.core.config import ModelConfig
    from playground.core.progress import run_quietly
    from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process
    from playground.core.training import TrainConfig
    from playground.core.training_job import TrainingRequest, train
    from playground.engine.jobs import Job

    session = Session()
    panel = make_panel(qtbot, session)
    assert panel.pages.currentWidget() is panel.empty_page
    corpus, _ = tiny_corpus
    spec = spec_for_kind("bpe", vocab_size=300)
    tokenizer = LoadedTokenizer(run_quietly(train_in_process(corpus, spec)), spec=spec)
    config = ModelConfig.gpt2_style(vocab_size=tokenizer.vocab_size, context_length=32, n_layer=2, n_head=2, n_embd=32)
    train_config = TrainConfig(
        batch_size=4,
        max_steps=5000,
        eval_interval=5000,
        sample_interval=0,
        device="cpu",
        learning_rate=1e-2,
        warmup_steps=5,
    )
    session.set_probe_text("The cat sat on the mat. The cat sat on the mat.")
    request = TrainingRequest(config, train_config, tokenizer, corpus, tmp_path / "run", probe_text=session.probe_text)
    job = Job(train, request, doing="training the model")
    records = []

    def forward(record) -> None:  # what the Train panel does with the job's records
        if isinstance(record, ProbeRecord):
            records.append(record)
            session.attention_probe.emit(record)

    job.partial.connect(forward)
    session.set_training(True)
    job.start()
    try:
        # with no model yet, training shows the probe (there is nothing else to look at)
        assert panel.pages.currentWidget() is panel.tabs and panel.source.currentIndex() == SOURCE_PROBE
        qtbot.waitUntil(lambda: len(records) >= 3, timeout=60_000)
        first = shown_image(panel)
        qtbot.waitUntil(lambda: len(records) >= 4 and records[-1].step > records[0].step + 20, timeout=60_000)
    finally:
        job.cancel()
        job.wait(30_000)
        qtbot.waitUntil(lambda: not job.isRunning(), timeout=30_000)
        session.set_training(False)
    T = len(records[0].tokens)
    assert panel.heatmap.image.shape == (T, T) and panel.layer.maximum() == 1 and panel.head.maximum() == 1
    assert panel.shown.step == panel.history[-1].step == records[-1].step
    assert not np.array_equal(shown_image(panel), first)  # the pattern moved as the model learned
    panel.stop_and_wait()


# -- hovering, clicking, the head summary ----------------------------------------------------------


def hover(qtbot, widget, where) -> QPoint:
    """Move the mouse to `where()` (a scene position), once the view has settled: back-to-back moves
    are merged, and a view just shown fits its range when it first paints."""
    qtbot.wait(30)
    point = widget.mapFromScene(where())
    QTest.mouseMove(widget.viewport(), point)
    return point


def test_hovering_a_cell_names_its_query_and_key_tokens_and_weight(qtbot, lab):
    look_at(qtbot, lab, CODE)
    heatmap = lab.heatmap
    q, k = 8, 3  # '␣return' reading 'a'
    hover(qtbot, heatmap, lambda: heatmap.scene_pos_of(q, k))
    qtbot.waitUntil(lambda: heatmap.hover_cell == (q, k), timeout=3000)
    weight = lab.current_matrix[q, k]
    assert heatmap.hover_text == f"‘␣return’ (#8) → ‘a’ (#3): {weight:.3f}"
    assert lab.readout.text() == heatmap.hover_text
    assert heatmap.left.highlight == q and heatmap.bottom.highlight == k
    hover(qtbot, heatmap, lambda: heatmap.scene_pos_of(2, 9))  # above the diagonal: the future
    qtbot.waitUntil(lambda: heatmap.hover_cell == (2, 9), timeout=3000)
    assert heatmap.hover_text.startswith("‘(’ (#2) → ‘␣a’ (#9)") and "cannot look" in heatmap.hover_text


def test_the_hover_readout_is_forgotten_when_the_text_or_source_changes(qtbot, lab):
    look_at(qtbot, lab, CODE)
    heatmap = lab.heatmap
    hover(qtbot, heatmap, lambda: heatmap.scene_pos_of(8, 3))
    qtbot.waitUntil(lambda: heatmap.hover_cell == (8, 3), timeout=3000)
    old = lab.readout.text()
    assert "␣return" in old

    look_at(qtbot, lab, "hello world, hello there")  # other tokens: that cell is gone
    assert lab.readout.text() != old and lab.readout.text().startswith("Hover over a cell")

    hover(qtbot, heatmap, lambda: heatmap.scene_pos_of(3, 1))
    qtbot.waitUntil(lambda: heatmap.hover_cell == (3, 1), timeout=3000)
    old = lab.readout.text()
    lab.source.setCurrentIndex(SOURCE_PROBE)  # cleared at once, before the new look ends
    assert lab.readout.text() != old
    idle(qtbot, lab)
    assert lab.readout.text() != old


def click(qtbot, widget, where) -> None:
    point = hover(qtbot, widget, where)
    QTest.mouseClick(widget.viewport(), Qt.LeftButton, Qt.NoModifier, point)


def test_clicking_a_small_multiple_or_the_overview_enlarges_that_head(qtbot, lab):
    look_at(qtbot, lab, CODE)
    lab.select_head(1, 0)
    lab.view.setCurrentIndex(VIEW_LAYER)
    grid = lab.grid
    assert lab.view_stack.currentWidget() is grid and len(grid.tiles) == 4
    click(qtbot, grid, lambda: grid.scene_pos_of(1, 3))
    qtbot.waitUntil(lambda: lab.view.currentIndex() == VIEW_HEAD, timeout=3000)
    assert (lab.layer.value(), lab.head.value()) == (1, 3)
    assert lab.view_stack.currentWidget() is lab.heatmap and "head 3" in lab.heatmap.title.text

    lab.view.setCurrentIndex(VIEW_ALL)
    assert len(grid.tiles) == 16 and grid.selected == (1, 3)
    click(qtbot, grid, lambda: grid.scene_pos_of(2, 1))
    qtbot.waitUntil(lambda: lab.view.currentIndex() == VIEW_HEAD, timeout=3000)
    assert (lab.layer.value(), lab.head.value()) == (2, 1)
    np.testing.assert_array_equal(lab.current_matrix, lab.shown.weights[2, 1])


def test_the_mean_and_lines_views(qtbot, lab):
    look_at(qtbot, lab, CODE)
    lab.select_head(2, 0)
    lab.view.setCurrentIndex(VIEW_MEAN)
    assert not lab.head.isEnabled()
    np.testing.assert_allclose(lab.current_matrix, lab.shown.weights[2].mean(0), atol=1e-6)
    lab.view.setCurrentIndex(VIEW_LINES)
    lines = lab.lines
    assert lines.selected == len(lab.shown.tokens) - 1  # the newest token, at first
    point = lines.query_pos(4).toPoint()
    QTest.mouseClick(lines, Qt.LeftButton, Qt.NoModifier, point)
    assert lines.selected == 4 and "(#4)" in lab.lines_title.text()
    assert "→ ‘def’ (#0)" in lines.key_text(0) and "cannot look" in lines.key_text(6)


def test_the_head_table_sorts_and_a_click_selects_that_head(qtbot, lab):
    look_at(qtbot, lab, CODE)
    table = lab.head_table
    table.sortItems(3, Qt.DescendingOrder)  # weight on the previous token, highest first
    values = [table.item(r, 3).value for r in range(table.rowCount())]
    assert values == sorted(values, reverse=True)
    best = max(lab.shown.stats, key=lambda s: s.previous_token)
    assert (table.item(0, 0).value, table.item(0, 1).value) == (best.layer, best.head)
    rect = table.visualItemRect(table.item(0, 2))
    QTest.mouseClick(table.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center())
    assert (lab.layer.value(), lab.head.value()) == (best.layer, best.head)
    assert lab.view.currentIndex() == VIEW_HEAD
    # a new capture keeps the order the person chose
    look_at(qtbot, lab, "The cat sat on the mat.")
    values = [table.item(r, 3).value for r in range(table.rowCount())]
    assert values == sorted(values, reverse=True) and table.rowCount() == 16


def test_layer_and_head_are_bounded_by_the_model_and_a_bad_choice_is_a_message(qtbot, lab):
    look_at(qtbot, lab, CODE)
    assert lab.layer.maximum() == 3 and lab.head.maximum() == 3
    lab.head.setValue(9)
    assert lab.head.value() == 3
    lab.layer.setMaximum(9)  # only code can do this: select() refuses, and the window says why
    with qtbot.waitSignal(lab.session.message, timeout=3000) as blocker:
        lab.layer.setValue(7)
    assert blocker.args[0] == "error" and "layer 7 does not exist" in blocker.args[1]


# -- embeddings ---------------------------------------------------------------------------


def test_the_embedding_map_computes_and_lists_neighbours(qtbot, lab, demo):
    checkpoint, model = demo
    lab.tabs.setCurrentIndex(1)
    idle(qtbot, lab)
    view = lab.embedding_view
    assert view.data is not None and view.data.coords.shape == (checkpoint.tokenizer.vocab_size, 2)
    assert "variance" in lab.embedding_view.plot.getAxis("bottom").labelText
    assert view.search("the")
    assert view.data.texts[view.chosen].strip() == "the"
    assert view.neighbour_table.rowCount() == 10 == len(view.neighbours)
    sims = [s for _, s in view.neighbours]
    assert sims == sorted(sims, reverse=True) and all(-1.0 <= s <= 1.0 for s in sims)
    assert view.neighbour_table.item(0, 0).text() == view.data.labels[view.neighbours[0][0]]
    assert not view.search("zzzqqq-no-such-token") and "No token" in view.chosen_label.text()
    # a new checkpoint recomputes the map (once)
    assert lab.compute_embeddings() is None


def test_a_map_that_fails_says_why_and_waits_for_the_next_look_before_trying_again(qtbot, lab, monkeypatch, jobs):
    from playground.core import attention_jobs
    from playground.core.progress import UserError

    def failing(models, checkpoint):
        yield from ()
        raise UserError("The map could not be made.")

    monkeypatch.setattr(attention_jobs, "map_embeddings", failing)
    idle(qtbot, lab)
    before = jobs.started  # the lab's first look at the probe sentence may count
    with qtbot.waitSignal(lab.session.message, timeout=10_000) as blocker:
        lab.tabs.setCurrentIndex(1)
    assert blocker.args == ["error", "The map could not be made."]
    jobs.wait(qtbot)
    qtbot.wait(100)
    assert jobs.started == before + 1 and lab.is_idle()  # no retry by itself
    lab.tabs.setCurrentIndex(0)
    lab.tabs.setCurrentIndex(1)  # looking again tries again
    jobs.wait(qtbot)
    assert jobs.started == before + 2


# -- export ------------------------------------------------------------------------------


def test_export_writes_png_csv_and_npy(qtbot, lab, tmp_path):
    look_at(qtbot, lab, CODE)
    lab.select_head(1, 2)
    png = lab.export_picture(tmp_path / "heads")
    assert png.suffix == ".png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    path = lab.export_matrix(tmp_path / "head.csv")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["query \\ key", *lab.shown.tokens] and rows[9][0] == " return"
    loaded = np.load(lab.export_matrix(tmp_path / "head.npy"))
    np.testing.assert_array_equal(loaded, lab.shown.weights[1, 2])
    lab.view.setCurrentIndex(VIEW_LINES)
    assert lab.export_picture(tmp_path / "lines.png").stat().st_size > 1000


# -- no model --------------------------------------------------------------------------------


def test_without_a_model_the_panel_offers_the_demo_model_and_training(qtbot, session, demo):
    panel = make_panel(qtbot, session)
    try:
        assert panel.pages.currentWidget() is panel.empty_page
        with qtbot.waitSignal(session.show_step, timeout=1000) as blocker:
            panel.train_button.click()
        assert blocker.args == ["train"]
        with qtbot.waitSignal(session.checkpoint_changed, timeout=30_000):
            panel.load_demo_button.click()
        assert session.checkpoint is not None and panel.pages.currentWidget() is panel.tabs
        idle(qtbot, panel)
        assert panel.shown is not None and panel.heatmap.image is not None
    finally:
        panel.stop_and_wait()


def test_the_head_grid_draws_texts_longer_than_a_tile(qtbot):
    """A 128-token text is averaged down to 64 cells a tile (blocks of 2), not drawn at 96."""
    import numpy as np

    from playground.ui.widgets.head_grid import HeadGrid, Tile

    grid = HeadGrid()
    qtbot.addWidget(grid)
    T = 128
    weights = np.tril(np.ones((1, 2, T, T), dtype=np.float32))
    weights /= weights.sum(-1, keepdims=True)
    grid.set_heads(weights, [Tile(0, 0, 0, 0), Tile(0, 1, 0, 1)], 1, 2)
    assert grid.tile_size == 64
    assert grid.image_item.image.shape[0] == 64
