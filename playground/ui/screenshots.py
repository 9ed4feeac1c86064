"""``playground --screenshot DIR``: a PNG of every working panel, in a state that shows what it does,
all at a projector's 1280×720; then every step in each look a room may see (light, dark, presentation)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from playground.ui.main_window import MainWindow


def wait_until(condition, timeout_s: float = 60.0) -> bool:
    """Run the event loop until ``condition()`` holds (or time runs out)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        QApplication.processEvents()
        time.sleep(0.01)
    return True


SCREEN = (1280, 720)  # a common projector: what a workshop host has
LOOKS = ("light", "dark", "presentation")


def take_screenshots(window: MainWindow, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    window.resize(*SCREEN)
    session = window.session
    panel = window.tokenizer_panel
    written: list[Path] = []

    def grab(name: str) -> None:
        QApplication.processEvents()
        time.sleep(0.05)
        QApplication.processEvents()
        path = out_dir / f"{name}.png"
        window.grab().save(str(path))
        written.append(path)

    wait_until(lambda: session.corpus_stats is not None and panel.corpus_job is None)
    # Two tokenizers, so the comparison has something to compare.
    panel.kind.setCurrentIndex(panel.kind.findData("wordpiece"))
    panel.vocab_size.setValue(1000)
    panel.start_training()
    wait_until(lambda: panel.train_job is None)
    panel.kind.setCurrentIndex(panel.kind.findData("bpe"))
    panel.vocab_size.setValue(2000)
    panel.start_training()
    wait_until(lambda: panel.train_job is None)
    panel.whitespace.setChecked(True)

    panel.tabs.setCurrentIndex(0)
    grab("tokenize-live")
    panel.tabs.setCurrentIndex(1)
    wait_until(lambda: panel.compare.plot is not None, 10)
    panel.start_sweep()
    wait_until(lambda: panel.sweep_job is None, 120)
    grab("tokenize-compare")
    panel.tabs.setCurrentIndex(2)
    panel.vocab.search.setText("Ġthe")
    wait_until(lambda: panel.vocab.vocab_proxy.rowCount() < 100, 5)
    grab("tokenize-vocabulary")
    panel.vocab.search.setText("")
    panel.tabs.setCurrentIndex(0)

    # Build: the tiny preset on the BPE tokenizer.
    window.steps.setCurrentRow(window.panels.index(window.build_panel))
    window.build_panel.set_preset("tiny")
    wait_until(lambda: window.build_panel.flops_per_second is not None, 30)
    grab("build")

    # Train: a short run, so the curves and samples have something to show.
    train = window.training_panel
    window.steps.setCurrentRow(window.panels.index(train))
    wait_until(lambda: train.plots_ready, 10)
    train.steps.setValue(300)
    train.eval_interval.setValue(25)
    train.sample_interval.setValue(100)
    train.start()
    wait_until(lambda: train.job is None, 600)
    grab("train")

    # Prompt: the built-in few-shot template, as it opens.
    window.steps.setCurrentRow(window.panels.index(window.prompt_panel))
    wait_until(lambda: session.checkpoint is not None, 60)
    window.prompt_panel.refresh()
    grab("prompt")

    # Generate with the demo model: a streamed answer, one token's candidates, then step mode.
    from playground.paths import demo_model_dir

    generate = window.generate_panel
    demo = demo_model_dir()
    assert session.checkpoint is not None  # waited for above
    if demo is not None and session.checkpoint.path.parent != demo:
        generate.load_demo()
        wait_until(lambda: generate.load_job is None, 60)
    window.steps.setCurrentRow(window.panels.index(generate))
    generate.apply_preset("balanced")
    generate.max_new_tokens.setValue(60)
    generate.prompt_edit.setPlainText("Return the")
    generate.generate()
    wait_until(lambda: not generate.is_busy(), 120)
    generate.output.select(4)
    wait_until(lambda: not generate.is_busy(), 30)
    grab("generate")
    generate.clear_output()
    generate.prompt_edit.setPlainText("The function returns")
    for _ in range(3):
        generate.step()
        wait_until(lambda: not generate.is_busy(), 30)
    grab("generate-step")

    # Attention: the demo model reading a line of Python, one head, every head, and the embedding map.
    from playground.ui.attention_panel import SOURCE_TEXT, VIEW_ALL, VIEW_HEAD

    attention = window.attention_panel
    window.steps.setCurrentRow(window.panels.index(attention))
    attention.source.setCurrentIndex(SOURCE_TEXT)
    attention.text_edit.setPlainText("def add(a, b):\n    return a + b")
    attention.capture_text()
    wait_until(attention.is_idle, 60)
    attention.select_head(1, 2)
    attention.view.setCurrentIndex(VIEW_HEAD)
    grab("attention")
    attention.view.setCurrentIndex(VIEW_ALL)
    grab("attention-grid")
    attention.tabs.setCurrentIndex(1)
    wait_until(attention.is_idle, 60)
    attention.embedding_view.search(" the")
    grab("embeddings")
    attention.tabs.setCurrentIndex(0)

    # Evaluate: the demo model against the model trained above, on the validation split; then a task.
    evaluate = window.evaluate_panel
    window.steps.setCurrentRow(window.panels.index(evaluate))
    if train.last_run_dir is not None:
        evaluate.perplexity.checkpoints.add(train.last_run_dir)
    evaluate.perplexity.source_validation.setChecked(True)
    evaluate.perplexity.measure()
    wait_until(lambda: not evaluate.is_busy(), 300)
    grab("evaluate-perplexity")
    evaluate.tabs.setCurrentIndex(1)
    evaluate.tasks.task_combo.setCurrentIndex(max(0, evaluate.tasks.task_combo.findText("Python phrases")))
    evaluate.tasks.mode_combo.setCurrentIndex(max(0, evaluate.tasks.mode_combo.findData("few-shot")))
    evaluate.tasks.compare_combo.setCurrentIndex(max(0, evaluate.tasks.compare_combo.findData("zero-shot")))
    evaluate.tasks.run_task()
    wait_until(lambda: not evaluate.is_busy(), 300)
    grab("evaluate-tasks")

    # Workshop: presentation mode on Train, the guided tour, and the dark theme (not saved as a setting).
    from playground.ui import themes

    window.steps.setCurrentRow(window.panels.index(train))
    window.set_presentation_mode(True)
    grab("presentation-train")
    window.set_presentation_mode(False)
    tour = window.start_tour(0)
    grab("tour")
    tour.go(window.panels.index(attention))  # the card with the two demo models, causal and masked
    live = tour.live
    wait_until(lambda: live is None or getattr(live, "result", None) is not None, 60)
    grab("tour-causal-masked")
    tour.close_tour()
    shoot_encoder(window, grab)
    themes.set_theme("dark")
    window.steps.setCurrentRow(window.panels.index(attention))
    grab("dark-attention")
    themes.set_theme("system")
    for look in LOOKS:
        written.extend(shoot_every_step(window, out_dir / "steps", look))
    return written


def shoot_encoder(window: MainWindow, grab) -> None:
    """The demo encoder (when the app ships one): Fill the mask, and Causal vs masked; then the demo
    decoder is current again."""
    from playground.core.checkpoints import load_checkpoint
    from playground.paths import demo_encoder_dir, demo_model_dir

    folder, decoder = demo_encoder_dir(), demo_model_dir()
    if folder is None or decoder is None:
        return
    session = window.session
    window.message_bar.hide()  # the last step's news is not these pictures'
    session.set_checkpoint(*load_checkpoint(folder))
    generate = window.generate_panel
    window.steps.setCurrentRow(window.panels.index(generate))
    generate.fill_mask_page.set_text("Return the [MASK] of the list. If the [MASK] is empty, raise an error.")
    wait_until(lambda: not generate.fill_mask_page.is_busy() and generate.fill_mask_page.result is not None, 60)
    grab("fill-mask")
    attention = window.attention_panel
    window.steps.setCurrentRow(window.panels.index(attention))
    attention.tabs.setCurrentWidget(attention.compare_tab)
    attention.compare_tab.look()
    wait_until(lambda: not attention.compare_tab.is_busy() and bool(attention.compare_tab.matrices()), 60)
    grab("causal-vs-masked")
    attention.tabs.setCurrentIndex(0)
    session.set_checkpoint(*load_checkpoint(decoder))


def shoot_every_step(window: MainWindow, out_dir: Path, look: str) -> list[Path]:
    """`look`-N-step.png for every step as it stands, in `look` ("light", "dark" or "presentation");
    the look is put back afterwards (and not kept as a setting)."""
    from playground.ui import themes

    out_dir.mkdir(parents=True, exist_ok=True)
    themes.set_theme("dark" if look == "dark" else "light")
    window.set_presentation_mode(look == "presentation")
    written = []
    for row, title in enumerate(window.step_titles):
        window.steps.setCurrentRow(row)
        for _ in range(3):
            QApplication.processEvents()
            time.sleep(0.05)
        path = out_dir / f"{look}-{row + 1}-{title.lower()}.png"
        window.grab().save(str(path))
        written.append(path)
    window.set_presentation_mode(False)
    themes.set_theme("system")
    return written
