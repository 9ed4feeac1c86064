"""The Evaluate panel: perplexity of checkpoints on a text, and task scores, zero-shot against few-shot."""

from __future__ import annotations

import gc
import json
import shutil
import threading
from pathlib import Path

import pytest

from playground.core.checkpoints import load_checkpoint, runs_dir, save_checkpoint, write_run_files
from playground.core.config import ModelConfig
from playground.core.corpus import corpus_from_text, default_corpus
from playground.core.evaluation import perplexity_of_file, perplexity_on_ids, validation_ids
from playground.core.model import GPT
from playground.core.progress import run_quietly
from playground.core.sampling import SamplingSettings
from playground.core.task_eval import compare_modes, load_task, template_for
from playground.ui.evaluate_panel import EvaluatePanel

DEMO = Path(__file__).resolve().parents[2] / "models" / "demo"
SENTIMENT = [
    {"input": "The concert was a joy from start to finish.", "reference": "positive"},
    {"input": "My order arrived broken and late.", "reference": "negative"},
    {"input": "A lovely hotel with a great view.", "reference": "positive"},
]


@pytest.fixture(autouse=True)
def one_thread():
    """One PyTorch thread: as fast for a tiny model, and immune to a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def demo():
    return load_checkpoint(DEMO)


@pytest.fixture(scope="module")
def docs_text() -> str:
    return default_corpus().read_text(4000)[:4000]


@pytest.fixture
def text_file(tmp_path, docs_text) -> Path:
    path = tmp_path / "docs.txt"
    path.write_text(docs_text, encoding="utf-8")
    return path


@pytest.fixture
def untrained_run(tmp_path, demo) -> Path:
    """An untrained model with the demo's tokenizer, saved as a run."""
    import torch

    run = tmp_path / "untrained-run"
    config = ModelConfig(vocab_size=demo[0].model_config.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=16)
    write_run_files(run, config, {}, demo[0].tokenizer)
    torch.manual_seed(0)
    save_checkpoint(run, "best", GPT(config), state={}, meta={"step": 7})
    return run


@pytest.fixture
def messages(session):
    got: list[tuple[str, str]] = []
    session.message.connect(lambda level, text: got.append((level, text)))
    return got


@pytest.fixture
def panel(qtbot, session):
    widget = EvaluatePanel(session)
    qtbot.addWidget(widget)
    widget.resize(1150, 780)
    widget.show()
    yield widget
    widget.stop_and_wait()


@pytest.fixture
def with_model(panel, session, demo):
    session.set_checkpoint(*demo)
    return panel


@pytest.fixture
def settled_gc():
    """What is loaded kept out of the collector's way, as the app does once started (`warm_up_training`):
    else a full collection over everything the test session made stalls every thread for a few hundred ms."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def loads_on(session) -> list:
    """The threads the shared model store is asked for a model on, from now on."""
    threads, model_for = [], session.models.model_for
    session.models.model_for = lambda *a, **k: (threads.append(threading.current_thread()), model_for(*a, **k))[1]
    return threads


def wait_idle(qtbot, panel, timeout=60_000) -> None:
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=timeout)


def column(table, c: int) -> list[str]:
    return [table.item(r, c).text() if table.item(r, c) else "" for r in range(table.rowCount())]


def measured(panel) -> dict[str, object]:
    """The panel's results by checkpoint name (the rows the table shows)."""
    return {m.row.name: m.row for m in panel.perplexity.results}


# -- no model ----------------------------------------------------------------------------------------


def test_no_model_shows_the_empty_state(panel, session, demo):
    assert panel.pages.currentWidget() is panel.empty_page
    assert panel.empty_page.title.text() == "No model to evaluate yet"
    assert "perplexity" in panel.empty_page.text.text()
    assert panel.title == "Evaluate" and "bits per byte" in panel.concept
    assert panel.perplexity.measure() is None and panel.tasks.run_task() is None
    session.set_checkpoint(*demo)
    assert panel.pages.currentWidget() is panel.tabs and panel.perplexity.bpb_chart is not None
    session.set_checkpoint(None)
    assert panel.pages.currentWidget() is panel.empty_page


# -- perplexity ----------------------------------------------------------------------------------------


def test_measuring_a_file_gives_the_cores_numbers(qtbot, with_model, demo, text_file):
    panel = with_model
    assert panel.perplexity.set_text_file(text_file) and panel.perplexity.source_file.isChecked()
    job = panel.perplexity.measure()
    assert job is not None and panel.perplexity.measure() is None  # one job at a time
    assert not panel.perplexity.measure_button.isEnabled() and panel.perplexity.cancel_button.isEnabled()
    wait_idle(qtbot, panel)
    checkpoint, model = demo
    expected = run_quietly(perplexity_of_file(model, checkpoint.tokenizer, text_file))
    assert panel.perplexity.results_table.rowCount() == 1
    row = measured(panel)["demo"]
    assert row.tokens == expected.tokens
    assert row.perplexity == pytest.approx(expected.perplexity)
    assert row.bits_per_byte == pytest.approx(expected.bits_per_byte)
    assert row.parameters == model.num_parameters() and row.vocab_size == 2000 and row.steps == checkpoint.step
    cells = [
        panel.perplexity.results_table.item(0, c).text() for c in range(panel.perplexity.results_table.columnCount())
    ]
    assert cells[0] == "● demo (best)" and cells[1] == "docs.txt"
    assert cells[3] == "2,000" and cells[4] == f"{checkpoint.step:,}" and cells[5] == f"{expected.tokens:,}"
    assert cells[6] == f"{expected.perplexity:,.1f}" and cells[7] == f"{expected.bits_per_byte:.3f}"
    assert panel.perplexity.bpb_chart.values() == pytest.approx([expected.bits_per_byte])
    assert panel.perplexity.bpb_chart.highlighted() == 0  # the current model stands out
    assert "Measured" in panel.perplexity.status.text()
    assert panel.perplexity.measure_button.isEnabled() and not panel.perplexity.cancel_button.isEnabled()


def test_a_second_checkpoint_adds_a_row_and_a_bar_and_keeps_earlier_results(
    qtbot, with_model, text_file, untrained_run, tmp_path, docs_text
):
    panel = with_model
    panel.perplexity.set_text_file(text_file)
    panel.perplexity.measure()
    wait_idle(qtbot, panel)
    assert panel.perplexity.checkpoints.add(untrained_run)
    assert (
        panel.perplexity.checkpoints.view.count() == 2
        and "untrained-run" in panel.perplexity.checkpoints.view.item(1).text()
    )
    assert not panel.perplexity.checkpoints.add(untrained_run / "best")  # the same checkpoint, once
    panel.perplexity.measure()
    wait_idle(qtbot, panel)
    assert panel.perplexity.results_table.rowCount() == 2  # demo measured again: its row replaced, not doubled
    rows = measured(panel)
    assert set(rows) == {"demo", "untrained-run"} and rows["untrained-run"].steps == 7
    # untrained, it is about as unsure as the whole vocabulary, per token and per byte far worse
    assert rows["untrained-run"].perplexity > 1000
    assert rows["untrained-run"].bits_per_byte > 2 * rows["demo"].bits_per_byte
    assert panel.perplexity.bpb_chart.labels() == ["demo", "untrained-run"]
    assert panel.perplexity.bpb_chart.values() == pytest.approx(
        [rows["demo"].bits_per_byte, rows["untrained-run"].bits_per_byte]
    )

    # Another text: new rows beside the old ones; the chart shows the latest text.
    other = tmp_path / "other.txt"
    other.write_text(docs_text[:2000], encoding="utf-8")
    panel.perplexity.set_text_file(other)
    panel.perplexity.checkpoints.view.item(1).setSelected(True)
    panel.perplexity.checkpoints.remove_selected()
    assert panel.perplexity.checkpoints.view.count() == 1
    panel.perplexity.measure()
    wait_idle(qtbot, panel)
    assert panel.perplexity.results_table.rowCount() == 3
    assert sorted(column(panel.perplexity.results_table, 1)) == ["docs.txt", "docs.txt", "other.txt"]
    assert len(panel.perplexity.bpb_chart.values()) == 1
    # Choosing a row of the first text brings its bars back.
    for r in range(3):
        if panel.perplexity.results_table.item(r, 1).text() == "docs.txt":
            panel.perplexity.results_table.selectRow(r)
            break
    assert len(panel.perplexity.bpb_chart.values()) == 2


def test_a_folder_without_a_checkpoint_is_refused(with_model, tmp_path, messages):
    panel = with_model
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not a model", encoding="utf-8")
    assert not panel.perplexity.checkpoints.add(folder)
    assert panel.perplexity.checkpoints.view.count() == 1
    assert messages and messages[-1][0] == "error" and "notes is not a checkpoint" in messages[-1][1]
    assert not panel.perplexity.checkpoints.add(tmp_path / "missing")
    assert not panel.perplexity.checkpoints.add(DEMO)  # the current model is on the list already
    assert messages[-1][0] == "info" and "current model" in messages[-1][1]


def test_recent_runs_offer_the_runs_folder(with_model, untrained_run):
    panel = with_model
    run = runs_dir() / "2030-01-01_00-00-00_recent"
    shutil.copytree(untrained_run, run)
    try:
        assert run in panel.perplexity.checkpoints.recent_runs()
        panel.perplexity.checkpoints.fill_recent_menu()
        actions = {a.text(): a for a in panel.perplexity.checkpoints.recent_menu.actions()}
        assert run.name in actions and "The demo model" in actions
        assert not actions["The demo model"].isEnabled()  # the current model
        actions[run.name].trigger()
        assert panel.perplexity.checkpoints.view.count() == 2
    finally:
        shutil.rmtree(run, ignore_errors=True)


def test_a_bad_text_file_is_refused_with_the_cores_sentence(with_model, tmp_path, messages):
    panel = with_model
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    assert not panel.perplexity.set_text_file(binary)
    assert messages[-1][0] == "error" and "weights.bin" in messages[-1][1]
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    assert not panel.perplexity.set_text_file(empty)
    assert "empty" in messages[-1][1]
    assert not panel.perplexity.set_text_file(tmp_path / "missing.txt")
    assert panel.perplexity.text_path is None and panel.perplexity.file_label.text() == "no file chosen"


def test_the_validation_split_is_what_the_core_scores(qtbot, session, with_model, demo, docs_text):
    panel = with_model
    corpus = corpus_from_text(docs_text, name="docs")
    session.set_corpus(corpus, None)
    assert panel.perplexity.source_validation.isChecked()
    panel.perplexity.measure()
    wait_idle(qtbot, panel)
    checkpoint, model = demo
    expected = run_quietly(
        perplexity_on_ids(model, run_quietly(validation_ids(corpus, checkpoint.tokenizer)), checkpoint.tokenizer)
    )
    row = measured(panel)["demo"]
    assert row.tokens == expected.tokens and row.bits_per_byte == pytest.approx(expected.bits_per_byte)
    assert panel.perplexity.results_table.item(0, 1).text() == "validation split of docs"


def test_cancel_stops_measuring(qtbot, with_model, text_file):
    panel = with_model
    panel.perplexity.set_text_file(text_file)
    job = panel.perplexity.measure()
    job.cancel()  # before it scores anything
    wait_idle(qtbot, panel)
    assert "Stopped" in panel.perplexity.status.text() and panel.perplexity.results_table.rowCount() == 0


def test_a_checkpoint_that_cannot_be_read_is_named_and_the_others_are_scored(
    qtbot, with_model, text_file, untrained_run, messages
):
    panel = with_model
    panel.perplexity.set_text_file(text_file)
    assert panel.perplexity.checkpoints.add(untrained_run)
    (untrained_run / "config.json").write_text("{ not json", encoding="utf-8")  # damaged after it was added
    panel.perplexity.measure()
    wait_idle(qtbot, panel)
    assert set(measured(panel)) == {"demo"}  # the readable one has its row
    errors = [text for level, text in messages if level == "error"]
    assert len(errors) == 1 and errors[0].startswith("Some checkpoints could not be scored. untrained-run: ")
    assert "1 could not be scored" in panel.perplexity.status.text()
    assert panel.perplexity.progress.format() == "Done, with problems"


def test_measuring_loads_checkpoints_off_the_gui_thread(
    qtbot, session, panel, demo, text_file, untrained_run, settled_gc, watchdog, jobs
):
    session.set_checkpoint(demo[0])  # no model offered: the shared store loads it in the job
    threads = loads_on(session)
    panel.perplexity.set_text_file(text_file)
    panel.perplexity.checkpoints.add(untrained_run)
    qtbot.wait(200)  # the panel drawn first: that is not what is timed
    watchdog.reset()
    panel.perplexity.measure()
    jobs.wait(qtbot)
    watchdog.assert_smooth("measuring two checkpoints, both loaded in the job")
    assert set(measured(panel)) == {"demo", "untrained-run"}
    assert len(threads) == 1 and threads[0] is not threading.main_thread()


# -- tasks ---------------------------------------------------------------------------------------------


@pytest.fixture
def task_file(tmp_path) -> Path:
    """Three sentiment examples under the built-in task's name, so its template goes with them."""
    path = tmp_path / "1-sentiment.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in SENTIMENT) + "\n", encoding="utf-8")
    return path


def test_a_task_run_fills_both_modes_and_every_example(qtbot, with_model, demo, task_file):
    panel = with_model
    panel.tabs.setCurrentIndex(1)
    assert panel.tasks.task_combo.count() >= 4  # the built-in tasks
    assert panel.tasks.open_task(task_file)
    assert panel.tasks.task_combo.currentText() == "Sentiment (1-sentiment.jsonl)"
    assert panel.tasks.examples_table.rowCount() == 3 and column(panel.tasks.examples_table, 2)[0] == "positive"
    assert "3 examples" in panel.tasks.task_info.text()
    assert panel.tasks.template_combo.currentText() == "The task's own: Sentiment"
    assert (
        "Few-shot" in panel.tasks.prompt_preview.toPlainText()
        and "I loved every minute" in panel.tasks.prompt_preview.toPlainText()
    )
    panel.tasks.max_tokens.setValue(6)
    shown = []  # (mode, index, whether the scored results were in yet) for each answer put in the table
    show_answer = panel.tasks._show_answer
    panel.tasks._show_answer = lambda run, row: (
        shown.append((row.mode, row.index, run.results is not None)),
        show_answer(run, row),
    )
    panel.tasks.run_task()
    wait_idle(qtbot, panel, 120_000)
    assert "Done" in panel.tasks.status.text()
    # Every answer reached the table as it was done, before the scores; then all again with them.
    live = [(mode, index) for mode, index, scored in shown if not scored]
    assert live == [(m, i) for m in ("zero-shot", "few-shot") for i in range(3)]

    checkpoint, model = demo
    task = load_task(task_file)
    expected = run_quietly(
        compare_modes(
            model,
            checkpoint.tokenizer,
            template_for(task),
            task,
            ("zero-shot", "few-shot"),
            SamplingSettings(strategy="greedy", temperature=1.0, max_new_tokens=6),
        )
    )
    scores = panel.tasks.scores_table
    assert [scores.horizontalHeaderItem(c).text() for c in range(3)] == ["Zero-shot", "Few-shot", "Difference"]
    assert scores.verticalHeaderItem(0).toolTip().startswith("BLEU")
    for c, result in enumerate(expected):
        assert scores.item(1, c).text() == f"{result.scores.chrf:.1f}"
        assert scores.item(4, c).text() == f"{result.scores.rouge_l:.2f}"
        assert scores.item(5, c).text().endswith(f"({sum(r.exact for r in result.rows)} of 3)")
        outputs = column(panel.tasks.examples_table, 3 + 3 * c)
        assert outputs == [r.output if r.output else "(nothing)" for r in result.rows]
        assert column(panel.tasks.examples_table, 4 + 3 * c) == ["✓" if r.exact else "✗" for r in result.rows]
        assert column(panel.tasks.examples_table, 5 + 3 * c) == [f"{r.chrf:.0f}" for r in result.rows]
    assert panel.tasks.examples_table.item(0, 1).toolTip().count("The concert was a joy")
    # The results stay with their task: away and back again, they are still there.
    panel.tasks.task_combo.setCurrentIndex(0)
    panel.tasks.task_combo.setCurrentIndex(panel.tasks.task_combo.findText("Sentiment (1-sentiment.jsonl)"))
    assert scores.item(1, 0).text() == f"{expected[0].scores.chrf:.1f}"


def test_a_task_run_loads_the_model_and_answers_off_the_gui_thread(
    qtbot, session, panel, demo, task_file, settled_gc, watchdog, jobs
):
    session.set_checkpoint(demo[0])  # no model offered: the shared store loads it in the job
    threads = loads_on(session)
    panel.tabs.setCurrentIndex(1)
    panel.tasks.open_task(task_file)
    panel.tasks.compare_combo.setCurrentIndex(panel.tasks.compare_combo.findData(""))  # one mode
    panel.tasks.max_tokens.setValue(4)
    qtbot.wait(200)  # the tab drawn first: that is not what is timed
    watchdog.reset()
    panel.tasks.run_task()
    jobs.wait(qtbot, 120_000)
    watchdog.assert_smooth("asking a task's examples")
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
    run = panel.tasks.shown_run
    assert run.modes == ["zero-shot"] and len(run.rows) == 3 and len(run.results) == 1
    assert panel.tasks.scores_table.isColumnHidden(1) and panel.tasks.status.text().startswith("Done")


def test_long_texts_are_cut_and_shown_whole_in_the_tooltip(with_model, tmp_path):
    panel = with_model
    long_input = "word " * 60
    path = tmp_path / "long.csv"
    path.write_text(f'input,reference\n"{long_input}",yes\n', encoding="utf-8")
    assert panel.tasks.open_task(path)
    cell = panel.tasks.examples_table.item(0, 1)
    assert len(cell.text()) <= 70 and cell.text().endswith("…")
    assert long_input.strip() in cell.toolTip()


def test_a_bad_task_file_shows_the_error(with_model, tmp_path, messages):
    panel = with_model
    count = panel.tasks.task_combo.count()
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nhow,so\n", encoding="utf-8")
    assert not panel.tasks.open_task(bad)
    assert messages[-1][0] == "error" and "no 'input' and no 'reference' column" in messages[-1][1]
    assert not panel.tasks.open_task(tmp_path / "notes.txt")
    assert "is not a task file" in messages[-1][1]
    assert panel.tasks.task_combo.count() == count


def test_cancel_stops_a_task_run(qtbot, with_model):
    panel = with_model
    panel.tabs.setCurrentIndex(1)
    panel.tasks.task_combo.setCurrentIndex(panel.tasks.task_combo.findText("Python phrases"))
    job = panel.tasks.run_task()
    assert job is not None and panel.tasks.run_task() is None
    assert panel.tasks.cancel_button.isEnabled() and not panel.tasks.run_button.isEnabled()
    panel.cancel()  # Esc on the Tasks tab
    wait_idle(qtbot, panel)
    assert panel.tasks.status.text().startswith("Stopped by you")
    assert panel.tasks.scores_table.item(0, 0).text() == "—"
    assert panel.tasks.run_button.isEnabled() and not panel.tasks.cancel_button.isEnabled()


def test_the_prompt_sent_from_the_prompt_panel_is_offered(with_model, session):
    from playground.core.prompts import builtin_templates

    panel = with_model
    template = builtin_templates()[1]
    template.name = "My prompt"
    session.send_prompt(template)
    labels = [panel.tasks.template_combo.itemText(i) for i in range(panel.tasks.template_combo.count())]
    assert "From the Prompt panel: My prompt" in labels
    assert any(label.startswith("Built-in: ") for label in labels)
    panel.tasks.template_combo.setCurrentIndex(labels.index("From the Prompt panel: My prompt"))
    assert panel.tasks.current_template() is template


def test_the_current_model_mark_follows_the_session(qtbot, session, with_model, text_file, untrained_run):
    panel = with_model
    panel.perplexity.set_text_file(text_file)
    panel.perplexity.checkpoints.add(untrained_run)
    panel.perplexity.measure()
    wait_idle(qtbot, panel)
    assert panel.perplexity.bpb_chart.highlighted() == 0
    session.set_checkpoint(*load_checkpoint(untrained_run))
    # The run is now the current model, listed once; the demo stays on the list to compare with.
    items = [panel.perplexity.checkpoints.view.item(r).text() for r in range(panel.perplexity.checkpoints.view.count())]
    assert len(items) == 2 and "untrained-run" in items[0] and "(current model)" in items[0]
    assert items[1].startswith("demo · best")
    assert panel.perplexity.bpb_chart.highlighted() == 1  # ... and its bar is the one that stands out
    marked = [panel.perplexity.results_table.item(r, 0).text() for r in range(2)]
    assert sorted(marked) == ["demo (best)", "● untrained-run (best)"]


def test_the_state_goes_into_a_workspace_and_back(qtbot, with_model, demo, text_file, untrained_run, task_file):
    from playground.engine.session import Session

    panel = with_model
    panel.perplexity.set_text_file(text_file)
    panel.perplexity.checkpoints.add(untrained_run)
    panel.tasks.open_task(task_file)
    panel.tasks.compare_combo.setCurrentIndex(panel.tasks.compare_combo.findData("one-shot"))
    panel.tasks.max_tokens.setValue(9)
    panel.tabs.setCurrentIndex(1)
    state = panel.state()
    assert json.loads(json.dumps(state)) == state

    other = Session()
    restored = EvaluatePanel(other)
    qtbot.addWidget(restored)
    restored.restore_state(state)  # no model yet: the files wait for one
    assert restored.tabs.currentIndex() == 1 and restored.tasks.max_tokens.value() == 9
    assert restored.perplexity.text_path is None
    other.set_checkpoint(*demo)
    assert restored.perplexity.text_path == text_file and restored.perplexity.checkpoints.view.count() == 2
    assert restored.tasks.task_combo.currentText() == "Sentiment (1-sentiment.jsonl)"
    assert restored.tasks.compare_combo.currentData() == "one-shot"
    assert restored.state() == state
