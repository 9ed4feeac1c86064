"""End to end: the real window, as launched, through the whole Tokenizer Lab flow."""


from PySide6.QtCore import Qt


def test_whole_flow(qtbot, tmp_path):
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
        assert session.corpus_stats.characters > 1_000_000      # the built-in corpus is ready
        assert "Characters" in panel.corpus_stats.text()

        # Train byte-level BPE by clicking, then a character-level one.
        panel.vocab_size.setValue(1000)
        qtbot.mouseClick(panel.train_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: len(session.tokenizers) == 1, timeout=60_000)
        qtbot.waitUntil(lambda: panel.train_job is None)
        bpe = session.tokenizer
        assert bpe.vocab_size == 1000
        panel.kind.setCurrentIndex(panel.kind.findData("char"))
        qtbot.mouseClick(panel.train_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: len(session.tokenizers) == 2, timeout=60_000)
        qtbot.waitUntil(lambda: panel.train_job is None)

        # Type and see tokens.
        panel.input.clear()
        qtbot.keyClicks(panel.input, "def tokenize(text):")
        qtbot.waitUntil(lambda: panel.token_view.toPlainText() == "def tokenize(text):")
        assert len(panel.token_view.pieces) == len("def tokenize(text):")  # the char tokenizer is current

        # Compare both.
        panel.tabs.setCurrentWidget(panel.compare)
        qtbot.waitUntil(lambda: len(panel.compare.column_widgets()) == 2)
        bpe_column = panel.compare.column_widgets()[0]
        assert len(bpe_column.view.pieces) < len("def tokenize(text):")

        # Vocabulary of the BPE one.
        panel.current.setCurrentIndex(0)
        assert session.tokenizer is bpe
        panel.tabs.setCurrentWidget(panel.vocab)
        assert panel.vocab.vocab_model.rowCount() == 1000

        # Save, reopen, same tokens.
        path = tmp_path / "bpe.json"
        assert panel.save_tokenizer_file(path)
        reopened = panel.open_tokenizer_file(path)
        assert [p.id for p in reopened.encode("hello world")] == [p.id for p in bpe.encode("hello world")]

        # The device was found in the background and is shown.
        qtbot.waitUntil(lambda: session.device is not None, timeout=60_000)
        assert window.device_label.text() == session.device.describe()
    finally:
        window.close()
        shutdown_workers()
