"""Fixtures for pytest-qt tests: a session and the Tokenizer Lab panel on a tiny corpus."""

import pytest

from playground.core.corpus import corpus_from_text, scan_corpus
from playground.core.tokenizer_worker import shutdown_workers
from playground.engine.session import Session

TINY_TEXT = "\n".join(
    f"The {w} sat on the mat number {i}. Tokens, subwords and merges: {w}ing {w}ed {w}s."
    for i, w in enumerate(["cat", "dog", "bird", "fish", "horse", "mouse", "lion", "tiger"] * 20)
) + "\n"


@pytest.fixture(scope="session", autouse=True)
def _stop_workers():
    yield
    shutdown_workers()


@pytest.fixture
def session():
    return Session()


@pytest.fixture
def tiny_corpus():
    corpus = corpus_from_text(TINY_TEXT, name="tiny")
    return corpus, scan_corpus(corpus)


@pytest.fixture
def panel(qtbot, session, tiny_corpus):
    from playground.ui.tokenizer_panel import TokenizerPanel

    widget = TokenizerPanel(session)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    session.set_corpus(*tiny_corpus)
    return widget
