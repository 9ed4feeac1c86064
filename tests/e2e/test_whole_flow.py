"""End to end: the real window, as launched, through the whole Tokenizer Lab flow."""

from PySide6.QtCore import Qt


def test_whole_flow(qtbot, tmp_path, monkeypatch):
    import playground.core.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "runs_dir", lambda: tmp_path / "runs")

    from playground.app import start_background_work
    from playground.core.tokenizer_worker import shutdown_workers
    from playground.engine.session import Session
    from playground.ui.main_window import MainWindow

    session = Session()
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    start_background_work(window)  # built-in corpus, device detection, worker warm-up
    panel = window.tokenizer_panel
    try:
        qtbot.waitUntil(lambda: session.corpus_stats is not None and panel.corpus_job is None, timeout=30_000)
        assert session.corpus_stats.characters > 1_000_000  # the built-in corpus is ready
        assert "Characters" in panel.corpus_box.stats.text()

        # Train byte-level BPE by clicking, then a character-level one.
        # The demo model (and its tokenizer) load at launch: ready before anything is trained.
        qtbot.waitUntil(lambda: session.checkpoint is not None and bool(session.tokenizers), timeout=60_000)
        assert session.checkpoint.name == "demo"
        earlier = len(session.tokenizers)  # the demo's and any kept from earlier sessions
        panel.vocab_size.setValue(1000)
        qtbot.mouseClick(panel.train_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: len(session.tokenizers) == earlier + 1, timeout=60_000)
        qtbot.waitUntil(lambda: panel.train_job is None)
        bpe = session.tokenizer
        assert bpe.vocab_size == 1000
        panel.kind.setCurrentIndex(panel.kind.findData("char"))
        qtbot.mouseClick(panel.train_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: len(session.tokenizers) == earlier + 2, timeout=60_000)
        qtbot.waitUntil(lambda: panel.train_job is None)

        # Type and see tokens.
        panel.input.clear()
        qtbot.keyClicks(panel.input, "def tokenize(text):")
        qtbot.waitUntil(lambda: panel.token_view.toPlainText() == "def tokenize(text):")
        assert len(panel.token_view.pieces) == len("def tokenize(text):")  # the char tokenizer is current

        # Compare both.
        panel.tabs.setCurrentWidget(panel.compare)
        qtbot.waitUntil(lambda: len(panel.compare.column_widgets()) == earlier + 2)
        bpe_column = next(c for c in panel.compare.column_widgets() if c.tok is bpe)
        assert len(bpe_column.view.pieces) < len("def tokenize(text):")

        # Vocabulary of the BPE one.
        panel.current.setCurrentIndex(session.tokenizers.index(bpe))
        assert session.tokenizer is bpe
        panel.tabs.setCurrentWidget(panel.vocab)
        assert panel.vocab.vocab_model.rowCount() == 1000

        # Save, reopen, same tokens.
        path = tmp_path / "bpe.json"
        assert panel.save_tokenizer_file(path)
        reopened = panel.open_tokenizer_file(path)
        assert [p.id for p in reopened.encode("hello world")] == [p.id for p in bpe.encode("hello world")]

        # Build: the tiny preset on the BPE tokenizer; the count is live.
        window.steps.setCurrentRow(1)
        build = window.build_panel
        build.set_preset("tiny")
        assert session.model_config.vocab_size == 1000 and session.model_config_ok
        before = build.total_label.text()
        build.n_layer.setValue(build.n_layer.value() + 1)
        assert build.total_label.text() != before
        build.set_preset("tiny")
        qtbot.waitUntil(lambda: build.measure_job is None, timeout=30_000)

        # Train: a short run draws curves, writes a checkpoint and becomes the current model.
        window.steps.setCurrentRow(2)
        train = window.training_panel
        qtbot.waitUntil(lambda: train.plots_ready)
        assert train.start_button.isEnabled()
        train.steps.setValue(20)
        train.batch.setValue(8)
        train.eval_interval.setValue(10)
        train.sample_interval.setValue(10)
        qtbot.mouseClick(train.start_button, Qt.LeftButton)
        qtbot.waitUntil(
            lambda: train.job is None and session.checkpoint is not None and session.checkpoint.step == 20,
            timeout=120_000,
        )
        assert len(train.train_curve.getData()[0]) == 20
        assert train.val_y[-1] < train.val_y[0]
        assert "step 10" in train.samples.toPlainText()
        assert "step 20" in window.model_label.text()
        assert (train.last_run_dir / "best" / "model.safetensors").exists()

        # Prompt: the built-in few-shot template goes to Generate with one click.
        window.steps.setCurrentRow(window.panels.index(window.prompt_panel))
        prompt = window.prompt_panel
        qtbot.waitUntil(lambda: prompt.preview_text() != "")
        assert "tokens" in prompt.token_count_label.text()
        qtbot.mouseClick(prompt.send_button, Qt.LeftButton)
        generate = window.generate_panel
        assert window.current_panel() is generate
        assert generate.prompt_edit.toPlainText() == prompt.preview_text()

        # Generate with the model just trained: tokens stream in, and one can be inspected.
        generate.max_new_tokens.setValue(12)
        qtbot.mouseClick(generate.generate_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: not generate.is_busy(), timeout=60_000)
        assert 0 < len(generate.output.tokens()) <= 12
        generate.output.select(0)
        assert generate.candidate_chart.token is generate.output.tokens()[0]

        # Attention: the text just generated, one row per token the model read or wrote.
        from playground.ui.attention_panel import SOURCE_GENERATE

        window.steps.setCurrentRow(window.panels.index(window.attention_panel))
        attention = window.attention_panel
        attention.source.setCurrentIndex(SOURCE_GENERATE)
        read = attention.last_generated
        assert len(read.ids) == read.prompt_tokens + len(generate.output.tokens())
        visible = min(len(read.ids), session.checkpoint.model_config.context_length)
        qtbot.waitUntil(
            lambda: (
                attention.is_idle()
                and attention.heatmap.image is not None
                and attention.heatmap.image.shape == (visible, visible)
            ),
            timeout=30_000,
        )

        # The device was found in the background and is shown.
        qtbot.waitUntil(lambda: session.device is not None, timeout=60_000)
        assert window.device_label.text() == session.device.describe()
    finally:
        window.close()
        shutdown_workers()
