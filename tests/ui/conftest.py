"""Fixtures for pytest-qt tests: a session and the Tokenizer Lab panel on a tiny corpus."""

import sys

import pytest

from playground.core.corpus import corpus_from_text, scan_corpus
from playground.core.progress import run_quietly
from playground.core.tokenizer_worker import shutdown_workers
from playground.engine.session import Session

TINY_TEXT = (
    "\n".join(
        f"The {w} sat on the mat number {i}. Tokens, subwords and merges: {w}ing {w}ed {w}s."
        for i, w in enumerate(["cat", "dog", "bird", "fish", "horse", "mouse", "lion", "tiger"] * 20)
    )
    + "\n"
)


@pytest.fixture(scope="session", autouse=True)
def _stop_workers():
    yield
    shutdown_workers()


@pytest.fixture(autouse=True)
def default_look():
    """Every test starts in the default look, and no theme choice is kept for its windows.

    A look or a kept ``view/theme`` left behind (settings are shared by the tests) made every later
    window restyle itself as a chosen look does: slower, and not what those tests meant to check.
    """
    yield
    themes = sys.modules.get("playground.ui.themes")
    if themes is None:
        return
    from PySide6.QtCore import QSettings

    QSettings().remove("view/theme")
    if themes.current_look() != themes.Look():
        themes.apply_look(themes.Look())


@pytest.fixture
def session():
    return Session()


@pytest.fixture
def tiny_corpus():
    corpus = corpus_from_text(TINY_TEXT, name="tiny")
    return corpus, run_quietly(scan_corpus(corpus))


@pytest.fixture
def panel(qtbot, session, tiny_corpus):
    from playground.ui.tokenizer_panel import TokenizerPanel

    widget = TokenizerPanel(session)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    session.set_corpus(*tiny_corpus)
    return widget


class EventLoopWatchdog:
    """Measures the longest gap between ticks of a 10 ms timer on the GUI thread.

    Work done on the GUI thread (a checkpoint load, a folder copy) shows up as
    a gap; ``assert_smooth`` fails when one is over ``limit_ms``.
    """

    def __init__(self, limit_ms: float = 100.0) -> None:
        import time

        from PySide6.QtCore import QTimer

        self.limit_ms = limit_ms
        self.gaps: list[float] = []
        self._time = time.monotonic
        self._last = self._time()
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = self._time()
        self.gaps.append((now - self._last) * 1000)
        self._last = now

    def reset(self) -> None:
        self.gaps.clear()
        self._last = self._time()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def longest_ms(self) -> float:
        return max(self.gaps, default=0.0)

    def assert_smooth(self, what: str) -> None:
        self._tick()  # a stall that is still going on counts too
        assert self.gaps, "the watchdog never ticked: the event loop did not run"
        assert self.longest_ms <= self.limit_ms, (
            f"the window froze for {self.longest_ms:.0f} ms while {what} (limit {self.limit_ms:.0f} ms)"
        )


@pytest.fixture
def watchdog(qtbot):
    """An event-loop watchdog: call ``reset()`` just before the action, ``assert_smooth(what)`` after.

    The test session's objects are frozen first, as the app freezes its start-up's: otherwise a full
    garbage collection over everything earlier tests left behind (~0.4 s) stalls whichever thread runs it.
    """
    import gc

    gc.collect()
    gc.freeze()
    dog = EventLoopWatchdog()
    yield dog
    dog.stop()
    gc.unfreeze()


def pytest_collection_modifyitems(items):
    """A freeze measurement runs again (at most twice) when it fails: on a shared 2-core CI machine another
    process can take the CPU from the window for a moment. A real freeze (work on the GUI thread) fails
    every run; the rerun is reported, never hidden (pytest-rerunfailures)."""
    for item in items:
        if "watchdog" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.flaky(reruns=2))
