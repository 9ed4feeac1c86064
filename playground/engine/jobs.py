"""Background jobs: core work in a QThread, reported through Qt signals.

A job wraps ``fn(report, cancel) -> result``. ``report`` takes a
:class:`Progress`, which reaches the GUI at most ~30 times a second however
often the work reports, or any other object, which is a partial result (a
point for a chart, a sample) and is always delivered, as ``partial``. An
exception becomes an ``error`` signal carrying a sentence for the window,
never a crash.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Callable, Optional

from PySide6.QtCore import QThread, Signal

from playground.core.progress import Cancelled, CancelToken, Progress, UserError

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 1 / 30  # the GUI needs no more updates than it can draw

JobFn = Callable[[Callable[[Progress], None], CancelToken], Any]


def describe_error(exc: BaseException, doing: str) -> str:
    """A sentence for the window: what happened and, where we know, what to do."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return f"Ran out of memory while {doing}. Try a smaller corpus, vocabulary or model."
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"A file problem stopped {doing}: {exc.strerror or exc}{where}."
    if isinstance(exc, EOFError):
        return f"A file ended too early while {doing}: it is truncated or damaged."
    return f"Something went wrong while {doing}: {type(exc).__name__}: {exc}"


class Job(QThread):
    """One piece of background work. Connect to the signals, then ``start()``."""

    progress = Signal(object)   # Progress, throttled
    partial = Signal(object)    # partial results, never dropped
    result = Signal(object)     # whatever fn returned
    error = Signal(str)         # a sentence for the person
    cancelled = Signal()
    done = Signal()             # after result, error or cancelled

    _running: set["Job"] = set()  # keeps running jobs alive and lets tests find leaks

    def __init__(self, fn: JobFn, doing: str, parent=None) -> None:
        super().__init__(parent)
        self.fn = fn
        self.doing = doing
        self.token = CancelToken()
        self._last_emit = 0.0
        self._pending: Optional[Progress] = None
        self.finished.connect(self._forget)

    def start(self, *args) -> None:  # noqa: D401 - Qt's name
        Job._running.add(self)
        super().start(*args)

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.token.cancelled

    def _report(self, p: Any) -> None:
        if not isinstance(p, Progress):
            self.partial.emit(p)
            return
        now = time.monotonic()
        if now - self._last_emit >= MIN_INTERVAL_S:
            self._last_emit = now
            self._pending = None
            self.progress.emit(p)
        else:
            self._pending = p

    def run(self) -> None:
        try:
            value = self.fn(self._report, self.token)
            if self._pending is not None:
                self.progress.emit(self._pending)
            if self.token.cancelled:
                self.cancelled.emit()
            else:
                self.result.emit(value)
        except Cancelled:
            self.cancelled.emit()
        except BaseException as exc:  # every failure becomes a message, never a crash
            if not isinstance(exc, UserError):
                log.error("Job failed while %s\n%s", self.doing, traceback.format_exc())
            self.error.emit(describe_error(exc, self.doing))
        finally:
            self.done.emit()

    def _forget(self) -> None:
        Job._running.discard(self)
        self.deleteLater()

    @classmethod
    def running(cls) -> list["Job"]:
        return [job for job in cls._running if job.isRunning()]

    @classmethod
    def cancel_all(cls, wait_ms: int = 5000) -> None:
        """Ask every job to stop and wait for them (on quit and in tests)."""
        for job in list(cls._running):
            job.cancel()
        for job in list(cls._running):
            job.wait(wait_ms)
