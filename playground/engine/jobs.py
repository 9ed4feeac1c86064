"""The one engine: any job generator, run in a QThread, reported through Qt signals.

A *job* is a plain generator function from ``playground/core`` (or a Qt-free
module beside it). Called with its arguments it returns a generator that

* yields :class:`Progress` — throttled to ~30 updates a second, and the last
  one held back is always shown (a trailing flush ``MIN_INTERVAL_S`` later),
  so a message followed by a long silent stretch is never lost;
* yields any other object — a *partial result*, a small typed record (a point
  for a chart, a generated token). Partials are delivered in order, never
  dropped, except once the job is superseded;
* ``return``\\ s its result.

The engine can pause a job (it simply stops asking the generator for the next
item), cancel it (it stops asking and closes the generator, so the job's
``finally`` blocks run) and drop a superseded job's late results
(:class:`JobSlot`). A job function that blocks inside one call for long (a
tokenizer trained in Rust, a file read) takes a ``cancel`` keyword: the engine
passes its :class:`CancelToken` there, and the work polls it.

Why our own and not superqt's ``GeneratorWorker``: that one runs on the global
QThreadPool, pauses by polling every 10 ms, has no progress throttle and no
notion of a superseded job; each of those would be written on top of it
anyway. A QThread per job keeps start, wait and the leak check simple.

An exception becomes an ``error`` signal carrying a sentence for the window,
never a crash. Signals are emitted on the GUI thread (relayed from the worker),
so a superseded job's queued signals can still be dropped on arrival.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
import traceback
from typing import Any, Callable, Generator, Optional

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from playground.core.progress import GUI_INTERVAL_S, Cancelled, CancelToken, Progress, UserError

log = logging.getLogger(__name__)

MIN_INTERVAL_S = GUI_INTERVAL_S

JobGen = Generator[Any, None, Any]
JobFn = Callable[..., Any]  # a generator function (JobGen), or a plain one whose value is the result


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


def takes_cancel(fn: Callable) -> bool:
    """Whether ``fn`` has a ``cancel`` parameter the engine should fill in."""
    try:
        return "cancel" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class Job(QThread):
    """One job generator in the background. Connect to the signals, then ``start()``.

    ``Job(fn, *args, doing="training the model", **kwargs)`` runs ``fn(*args, **kwargs)``.
    """

    progress = Signal(object)  # Progress, throttled with a trailing flush
    partial = Signal(object)  # partial results, in order
    result = Signal(object)  # what the generator returned
    error = Signal(str)  # a sentence for the person
    cancelled = Signal()
    paused_changed = Signal(bool)
    done = Signal()  # after result, error or cancelled

    # Worker-thread side: relayed on the GUI thread, where a superseded job's are dropped.
    _partial_from_worker = Signal(object)
    _flush_wanted = Signal(int)
    _ended_in_worker = Signal(str, object)

    _running: set["Job"] = set()  # keeps running jobs alive and lets tests find leaks

    def __init__(self, fn: JobFn, *args, doing: str, parent: Optional[QObject] = None, **kwargs) -> None:
        super().__init__(parent)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.doing = doing
        self.token = CancelToken()
        self.superseded = False
        self.work_ended = False
        self._resume = threading.Event()
        self._resume.set()
        self._lock = threading.Lock()
        self._last_emit = 0.0
        self._pending: Optional[Progress] = None
        self._flush_scheduled = False
        self._partial_from_worker.connect(self._relay_partial)
        self._flush_wanted.connect(self._schedule_flush)
        self._ended_in_worker.connect(self._relay_end)
        self.finished.connect(self._forget)

    # ------------------------------------------------------------ control (GUI thread)

    def start(self, *args) -> None:  # noqa: D401 - Qt's name
        Job._running.add(self)
        super().start(*args)

    def cancel(self) -> None:
        self.token.cancel()
        self._resume.set()  # a paused job must wake up to stop

    def supersede(self) -> None:
        """Cancel, and drop whatever this job still reports: a newer job replaces it."""
        self.superseded = True
        self.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.token.cancelled

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def pause(self) -> None:
        if not self.token.cancelled:
            self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    # ------------------------------------------------------------ the worker thread

    def run(self) -> None:
        kind, value = self._execute()
        self.work_ended = True  # only the thread's last instructions are left
        self._ended_in_worker.emit(kind, value)

    def _execute(self) -> tuple[str, Any]:
        """Run the job to its end: ("result", value), ("cancelled", None) or ("error", sentence)."""
        kwargs = dict(self.kwargs)
        if "cancel" not in kwargs and takes_cancel(self.fn):
            kwargs["cancel"] = self.token
        try:
            value = self._drive(self.fn(*self.args, **kwargs))
            return ("cancelled", None) if self.token.cancelled else ("result", value)
        except Cancelled:
            return "cancelled", None
        except BaseException as exc:  # every failure becomes a message, never a crash
            if not isinstance(exc, UserError):
                log.error("Job failed while %s\n%s", self.doing, traceback.format_exc())
            return "error", describe_error(exc, self.doing)

    def _drive(self, gen: JobGen) -> Any:
        """Ask the generator for items until it returns, obeying pause and cancel between items."""
        if not inspect.isgenerator(gen):
            return gen  # a plain function's value: nothing to step through
        try:
            while True:
                if not self._resume.is_set():
                    self._partial_from_worker.emit(_Paused(True))
                    self._resume.wait()
                    self._partial_from_worker.emit(_Paused(False))
                if self.token.cancelled:
                    raise Cancelled("Cancelled.")
                try:
                    item = next(gen)
                except StopIteration as stop:
                    return stop.value
                if isinstance(item, Progress):
                    self._offer_progress(item)
                else:
                    self._partial_from_worker.emit(item)
        finally:
            gen.close()  # runs the job's own clean-up when it stops early

    def _offer_progress(self, p: Progress) -> None:
        now = time.monotonic()
        with self._lock:
            wait_s = MIN_INTERVAL_S - (now - self._last_emit)
            if wait_s <= 0 and not self._flush_scheduled:
                self._last_emit, self._pending = now, None
                send = True
            else:
                self._pending = p
                send = False
                schedule = not self._flush_scheduled
                self._flush_scheduled = True
        if send:
            self._partial_from_worker.emit(p)
        elif schedule:
            self._flush_wanted.emit(max(1, int(wait_s * 1000) + 1))

    # ------------------------------------------------------------ relays (GUI thread)

    def _take_pending(self) -> Optional[Progress]:
        with self._lock:
            p, self._pending = self._pending, None
            self._flush_scheduled = False
            if p is not None:
                self._last_emit = time.monotonic()
            return p

    @Slot(int)
    def _schedule_flush(self, delay_ms: int) -> None:
        QTimer.singleShot(delay_ms, self, self._flush)

    @Slot()
    def _flush(self) -> None:
        p = self._take_pending()
        if p is not None and not self.superseded:
            self.progress.emit(p)

    @Slot(object)
    def _relay_partial(self, item: Any) -> None:
        if self.superseded:
            return
        if isinstance(item, Progress):
            self.progress.emit(item)
        elif isinstance(item, _Paused):
            self.paused_changed.emit(item.paused)
        else:
            self.partial.emit(item)

    @Slot(str, object)
    def _relay_end(self, kind: str, value: Any) -> None:
        self._flush()
        if not self.superseded:
            if kind == "result":
                self.result.emit(value)
            elif kind == "error":
                self.error.emit(value)
            else:
                self.cancelled.emit()
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


class _Paused:
    """The worker's note that it is now paused (or running again)."""

    __slots__ = ("paused",)

    def __init__(self, paused: bool) -> None:
        self.paused = paused


class JobSlot(QObject):
    """One kind of work a panel does, one job at a time; a new one supersedes the old.

    ``slot.start(job)`` supersedes the job in the slot (cancels it and drops its
    late results), then starts ``job``. ``slot.job`` is the running job or None,
    so a panel needs no run counters of its own. ``stop_and_wait`` also waits
    for superseded jobs that are still winding down.

    Jobs are forgotten on their ``done`` signal, which is emitted on the GUI
    thread, never on ``QThread.finished``: a queued ``finished`` to a plain
    Python callable was seen to go missing once the job had deleted itself.
    """

    changed = Signal()  # a job started or ended: update the buttons

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.job: Optional[Job] = None
        self._not_done: set[Job] = set()  # the current job and superseded ones not yet done

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def any_not_done(self) -> bool:
        """The current job, or a superseded one still winding down, has not reported its end."""
        return bool(self._not_done)

    def start(self, job: Job) -> Job:
        if self.job is not None:
            self.job.supersede()
        self.job = job
        self._not_done.add(job)
        job.done.connect(lambda job=job: self._ended(job))
        job.start()
        self.changed.emit()
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every job this slot started that is not done, and wait for their threads."""
        jobs = list(self._not_done)
        for job in jobs:
            job.cancel()
        return all(job.wait(timeout_ms) for job in jobs)

    def _ended(self, job: Job) -> None:
        self._not_done.discard(job)
        if self.job is job:
            self.job = None
            self.changed.emit()
