"""pytest-qt tests that drive the Tokenizer Lab panel like a person would."""

import json
import os

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QToolTip

from playground.engine.jobs import Job


def train(qtbot, panel, kind="bpe", vocab=300):
    panel.kind.setCurrentIndex(panel.kind.findData(kind))
    panel.vocab_size.setValue(vocab)
    # Watched through the panel and the set of running jobs, never the job
    # itself: it may end (and be deleted) before the test gets to wait.
    assert panel.start_training() is not None
    qtbot.waitUntil(lambda: panel.train_job is None and not Job.running(), timeout=30_000)
    return panel.session.tokenizer


def test_train_then_type_shows_coloured_tokens(qtbot, panel):
    tok = train(qtbot, panel)
    assert tok is not None and tok.vocab_size == 300
    assert panel.current.currentText() == tok.name
    panel.input.setPlainText("The cat sat.")
    qtbot.waitUntil(lambda: len(panel.token_view.pieces) == len(tok.encode("The cat sat.")))
    pieces = panel.token_view.pieces
    assert "".join(p.text for p in pieces) == "The cat sat."
    assert f"<b>{len(pieces)}</b> tokens" in panel.counts.text()
    assert panel.ids.toPlainText() == ", ".join(str(p.id) for p in pieces)
    # The rendered text shows every token's characters with a background colour.
    assert panel.token_view.toPlainText() == "The cat sat."


def test_hover_shows_id_and_bytes(qtbot, panel):
    train(qtbot, panel)
    panel.input.setPlainText("cat")
    qtbot.waitUntil(lambda: panel.token_view.toPlainText() == "cat")
    view = panel.token_view
    rect = view.cursorRect(view.textCursor())  # start of the document
    pos = QPoint(rect.left() + 3, rect.center().y())
    piece = view.piece_at(pos)
    assert piece is not None and piece.index == 0
    view.viewportEvent(QHelpEvent(QEvent.ToolTip, pos, view.viewport().mapToGlobal(pos)))
    tip = QToolTip.text()
    assert f"id <b>{piece.id}</b>" in tip
    assert " ".join(f"{b:02X}" for b in piece.raw) in tip


def test_show_whitespace(qtbot, panel):
    train(qtbot, panel)
    panel.input.setPlainText("a b\nc")
    qtbot.waitUntil(lambda: panel.token_view.toPlainText() == "a b\nc")
    panel.whitespace.setChecked(True)
    assert panel.token_view.toPlainText() == "a·b↵\nc"


def test_emoji_bytes_are_shown_as_partial_tokens(qtbot, panel):
    train(qtbot, panel)
    panel.input.setPlainText("🙂")
    qtbot.waitUntil(lambda: len(panel.token_view.pieces) == 4)
    assert all(p.partial for p in panel.token_view.pieces)
    assert b"".join(p.raw for p in panel.token_view.pieces) == "🙂".encode()
    assert "<F0>" in panel.token_view.toPlainText()


def test_compare_two_tokenizers_side_by_side(qtbot, panel):
    train(qtbot, panel, "bpe", 300)
    train(qtbot, panel, "char", 60)
    panel.tabs.setCurrentWidget(panel.compare)
    panel.input.setPlainText("The horse sat.")
    qtbot.waitUntil(lambda: len(panel.compare.column_widgets()) == 2)
    qtbot.waitUntil(lambda: all(c.view.toPlainText() == "The horse sat." for c in panel.compare.column_widgets()))
    counts = [len(c.view.pieces) for c in panel.compare.column_widgets()]
    assert counts[1] == len("The horse sat.")  # character level: one token per character
    assert counts[0] < counts[1]  # BPE packs characters together
    # Unticking one removes its column.
    panel.compare.chooser.item(1).setCheckState(Qt.Unchecked)
    assert len(panel.compare.column_widgets()) == 1


def test_vocab_sweep_plots_points(qtbot, panel, jobs):
    panel.compare.sizes = (260, 300, 400)
    panel.tabs.setCurrentWidget(panel.compare)
    qtbot.waitUntil(lambda: panel.compare.plot is not None)
    assert panel.start_sweep() is not None
    jobs.wait(qtbot, 60_000)
    assert [s for s, _ in panel.compare.points] == [260, 300, 400]
    xs, ys = panel.compare.curve.getData()
    assert len(ys) == 3 and ys[0] < ys[1] < ys[2]  # more merges, more characters per token
    assert panel.compare.sweep_button.isEnabled()


def test_vocabulary_browser_search_and_merges(qtbot, panel):
    tok = train(qtbot, panel)
    vocab = panel.vocab
    assert vocab.vocab_model.rowCount() == tok.vocab_size
    assert vocab.merge_model.rowCount() == len(tok.merges()) > 0
    merged = tok.merges()[-1]
    needle = merged[0] + merged[1]  # the last token BPE learned
    vocab.search.setText(needle)
    qtbot.waitUntil(lambda: vocab.vocab_proxy.rowCount() < tok.vocab_size)
    assert 0 < vocab.vocab_proxy.rowCount() < tok.vocab_size
    rows = [[vocab.vocab_proxy.index(r, c).data() for c in range(5)] for r in range(vocab.vocab_proxy.rowCount())]
    assert any(row[1] == needle and row[4] == str(len(tok.merges()) - 1) for row in rows)
    assert vocab.merge_proxy.rowCount() >= 1


def test_save_and_reopen(qtbot, panel, tmp_path):
    tok = train(qtbot, panel)
    path = tmp_path / "tok.json"
    assert panel.save_tokenizer_file(path)
    assert json.loads(path.read_text())["model"]["type"] == "BPE"
    reopened = panel.open_tokenizer_file(path)
    assert reopened is panel.session.tokenizer and len(panel.session.tokenizers) == 2
    text = "The mouse sat on the mat."
    assert [p.id for p in reopened.encode(text)] == [p.id for p in tok.encode(text)]


def test_malformed_tokenizer_json_shows_message(qtbot, panel, tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{ not json")
    with qtbot.waitSignal(panel.session.message) as blocker:
        assert panel.open_tokenizer_file(bad) is None
    level, text = blocker.args
    assert level == "error" and "not valid JSON" in text
    assert panel.session.tokenizers == []


def test_deeply_nested_tokenizer_json_shows_a_sentence(qtbot, panel, tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("[" * 50_000 + "]" * 50_000)
    with qtbot.waitSignal(panel.session.message) as blocker:
        assert panel.open_tokenizer_file(bad) is None
    level, text = blocker.args
    assert level == "error" and "tokenizer.json is not a tokenizer.json: it nests lists or tables" in text
    assert panel.session.tokenizers == []


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_as_corpus_shows_a_sentence_and_keeps_the_old_corpus(qtbot, panel, session, tmp_path):
    before = session.corpus
    pipe = tmp_path / "corpus.txt"
    os.mkfifo(pipe)
    from playground.core.corpus import corpus_from_paths

    with qtbot.waitSignal(session.message, timeout=10_000) as blocker:
        panel.load_corpus(lambda: corpus_from_paths([pipe]))
    qtbot.waitUntil(lambda: panel.corpus_job is None)
    assert blocker.args[0] == "error" and "corpus.txt is a named pipe (FIFO), not a regular file" in blocker.args[1]
    assert session.corpus is before
    assert all(b.isEnabled() for b in panel.corpus_buttons)


def test_vocab_smaller_than_alphabet_disables_train(qtbot, panel):
    panel.kind.setCurrentIndex(panel.kind.findData("bpe"))
    panel.vocab_size.setValue(100)
    assert not panel.train_button.isEnabled()
    assert "at least 257" in panel.spec_problem.text()
    assert panel.start_training() is None
    panel.vocab_size.setValue(500)
    assert panel.train_button.isEnabled()


def test_cancel_training_keeps_previous_tokenizer(qtbot, panel, session, tmp_path):
    tok = train(qtbot, panel)
    # A corpus big enough that training takes a while.
    from playground.core.corpus import corpus_from_paths, scan_corpus
    from playground.core.progress import run_quietly

    big = tmp_path / "big.txt"
    big.write_text("".join(f"word{i} other{i % 977} thing{i % 13}\n" for i in range(400_000)))
    corpus = corpus_from_paths([big])
    session.set_corpus(corpus, run_quietly(scan_corpus(corpus)))
    panel.vocab_size.setValue(20_000)
    job = panel.start_training()
    qtbot.wait(300)
    assert panel.train_cancel.isEnabled()
    with qtbot.waitSignal(job.cancelled, timeout=3000):
        panel.train_cancel.click()
    qtbot.waitUntil(lambda: panel.train_job is None, timeout=3000)
    assert session.tokenizer is tok and len(session.tokenizers) == 1
    assert "cancelled" in panel.train_status.text().lower()


def test_binary_corpus_is_refused_and_old_corpus_kept(qtbot, panel, session, tmp_path):
    before = session.corpus
    binary = tmp_path / "picture.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10)
    from playground.core.corpus import corpus_from_paths

    with qtbot.waitSignal(session.message, timeout=10_000) as blocker:
        panel.load_corpus(lambda: corpus_from_paths([binary]))
    qtbot.waitUntil(lambda: panel.corpus_job is None)
    assert blocker.args[0] == "error" and "binary" in blocker.args[1]
    assert session.corpus is before
    assert all(b.isEnabled() for b in panel.corpus_buttons)


def test_empty_pasted_corpus_is_refused(qtbot, panel, session):
    before = session.corpus
    from playground.core.corpus import corpus_from_text

    with qtbot.waitSignal(session.message, timeout=10_000) as blocker:
        panel.load_corpus(lambda: corpus_from_text("   \n  "))
    qtbot.waitUntil(lambda: panel.corpus_job is None)
    assert "empty" in blocker.args[1]
    assert session.corpus is before


def test_opened_bert_tokenizer_shows_special_tokens(qtbot, panel, tmp_path):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "the": 4, "cat": 5, "##s": 6, "sat": 7, ".": 8}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    loaded = panel.open_tokenizer_file(path)
    panel.input.setPlainText("The cats sat.")
    qtbot.waitUntil(lambda: len(panel.token_view.pieces) == 7)
    assert [p.token for p in panel.token_view.pieces] == ["[CLS]", "the", "cat", "##s", "sat", ".", "[SEP]"]
    assert panel.token_view.pieces[0].special and panel.token_view.pieces[-1].special
    assert [p.id for p in panel.token_view.pieces] == Tokenizer.from_file(str(path)).encode("The cats sat.").ids
    assert loaded is not None


def test_trained_tokenizers_are_kept_for_the_next_session(qtbot, panel, session):
    from playground.engine.session import Session
    from playground.ui.saved_tokenizers import saved_tokenizers_dir
    from playground.ui.tokenizer_panel import TokenizerPanel

    tok = train(qtbot, panel)
    assert tok.path is not None and tok.path.parent == saved_tokenizers_dir() and tok.path.exists()
    # A new session (the app started again) finds it.
    later = Session()
    again = TokenizerPanel(later)
    qtbot.addWidget(again)
    again.restore_saved_tokenizers()
    names = [t.name for t in later.tokenizers]
    assert tok.name in names
    restored = later.tokenizers[names.index(tok.name)]
    assert [p.id for p in restored.encode("The cat sat.")] == [p.id for p in tok.encode("The cat sat.")]


def test_a_relaunch_keeps_the_tokenizer_that_was_current(qtbot, panel):
    from playground.engine.session import Session
    from playground.ui.tokenizer_panel import TokenizerPanel

    first = train(qtbot, panel, vocab=280)
    second = train(qtbot, panel, vocab=320)
    assert panel.session.tokenizer is second  # the newest is current after training
    panel.current.setCurrentIndex(panel.session.tokenizers.index(first))  # the person goes back to the first
    assert panel.session.tokenizer is first
    later = Session()
    said = []
    later.message.connect(lambda level, text: said.append(text))
    again = TokenizerPanel(later)
    qtbot.addWidget(again)
    again.restore_saved_tokenizers()
    assert [t.vocab_size for t in later.tokenizers] == [280, 320]
    assert later.tokenizer is not None and later.tokenizer.vocab_size == 280  # not silently the newest
    assert again.current.currentText() == later.tokenizer.name
    assert any("Reopened 2 tokenizers" in s and "as when you left" in s for s in said)


def test_opened_padded_tokenizer_says_what_was_turned_off_and_marks_unknown_tokens(qtbot, panel, tmp_path):
    from PySide6.QtGui import QTextCursor
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab = {"[PAD]": 0, "[UNK]": 1, "the": 2, "cat": 3, "sat": 4}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.add_special_tokens(["[PAD]", "[UNK]"])
    tok.enable_padding(length=64, pad_id=0, pad_token="[PAD]")
    tok.enable_truncation(64)
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    messages = []
    panel.session.message.connect(lambda *args: messages.append(args))
    panel.open_tokenizer_file(path)
    assert any(
        "padding to 64 tokens with [PAD] and truncation at 64 tokens are turned off" in str(m) for m in messages
    ), messages
    panel.input.setPlainText("The dog sat")
    qtbot.waitUntil(lambda: [p.token for p in panel.token_view.pieces] == ["the", "[UNK]", "sat"])
    assert "1 unknown" in panel.counts.text()
    view = panel.token_view
    cursor = QTextCursor(view.document())
    cursor.setPosition(len("The ") + 1)
    assert cursor.charFormat().fontStrikeOut()  # "dog" drawn as lost text
    cursor.setPosition(1)
    assert not cursor.charFormat().fontStrikeOut()


def test_special_tokens_in_the_corpus_ask_before_training(qtbot, panel):
    """'the' as a special token would make every 'the' vanish: the window asks, and trains only if told to."""
    from PySide6.QtCore import QEventLoop, QTimer

    asked = []
    answers = [False, True]

    def confirm(message):  # like the real dialog: an event loop of its own runs while it waits
        asked.append(message)
        loop = QEventLoop()
        QTimer.singleShot(200, loop.quit)
        loop.exec()
        return answers.pop(0)

    panel.confirm_special_in_text = confirm
    panel.kind.setCurrentIndex(panel.kind.findData("bpe"))
    panel.vocab_size.setValue(300)
    panel.specials.setText("the, <|endoftext|>")
    before = list(panel.session.tokenizers)

    assert panel.start_training() is not None
    qtbot.waitUntil(lambda: len(asked) == 1 and panel.train_job is None and not Job.running(), timeout=30_000)
    qtbot.wait(300)
    assert asked[0].startswith("The special token “the” occurs in the corpus as ordinary text.")
    assert panel.session.tokenizers == before and "Not trained" in panel.train_status.text()
    assert panel.train_job is None and panel.train_button.isEnabled()  # "no" starts nothing

    assert panel.start_training() is not None  # asked again, answered yes: a second job trains anyway
    qtbot.waitUntil(lambda: panel.session.tokenizer not in before + [None] and panel.train_job is None, timeout=30_000)
    assert len(asked) == 2
    tok = panel.session.tokenizer
    assert tok not in before and "the" in tok.special_tokens


def test_saving_over_the_corpus_is_refused(qtbot, panel, tmp_path):
    from playground.core.corpus import corpus_from_paths, scan_corpus
    from playground.core.progress import run_quietly

    corpus_file = tmp_path / "corpus.txt"
    corpus_file.write_text("The cat sat on the mat.\n" * 100, encoding="utf-8")
    corpus = corpus_from_paths([corpus_file])
    panel.session.set_corpus(corpus, run_quietly(scan_corpus(corpus)))
    train(qtbot, panel)
    errors = []
    panel.session.message.connect(lambda level, text: errors.append(text) if level == "error" else None)
    assert not panel.save_tokenizer_file(corpus_file)
    assert corpus_file.read_text(encoding="utf-8").startswith("The cat sat")
    assert errors and "is the corpus the tokenizer learns from" in errors[-1]
    assert panel.save_tokenizer_file(tmp_path / "tok.json")


def test_training_shows_learning_the_vocabulary_after_counting_words(qtbot, panel, monkeypatch):
    """On a small corpus "Learning the vocabulary…" follows "Counting words" within milliseconds, then
    nothing is reported until the end: it used to be held back, so the bar said "Counting words" throughout."""
    shown = []
    show = panel._train_progress

    def spy(p):
        show(p)
        shown.append(panel.train_progress.format())

    monkeypatch.setattr(panel, "_train_progress", spy)  # before the job connects to it
    assert train(qtbot, panel) is not None
    assert shown and shown[0].startswith("Counting words")
    assert "Learning the vocabulary…" in shown


def test_a_new_corpus_replaces_one_still_being_read(qtbot, panel, session, tmp_path, jobs):
    from functools import partial

    from playground.core.corpus import corpus_from_paths, corpus_from_text

    big = tmp_path / "big.txt"
    big.write_text("".join(f"line {i} of a long corpus\n" for i in range(300_000)), encoding="utf-8")
    first = panel.load_corpus(partial(corpus_from_paths, [big]))
    second = panel.load_corpus(partial(corpus_from_text, "Only this short text.\n", name="short"))
    assert first is not second and panel.corpus_job is second
    jobs.wait(qtbot)
    assert session.corpus.name == "short" and session.corpus_stats.characters == len("Only this short text.\n")
    assert panel.corpus_job is None and all(b.isEnabled() for b in panel.corpus_buttons)
    assert not panel.corpus_box.progress.isVisible()
