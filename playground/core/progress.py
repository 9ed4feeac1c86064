"""How long work reports progress and learns that it should stop.

Long work is a *job generator* (the contract is in ``playground/engine/jobs.py``):
it yields :class:`Progress` and partial results (small typed records) and
returns its result. The engine runs it in a thread and turns what it yields
into Qt signals; the command line draws a progress bar
(``playground/cli_progress.py``); tests and inner callers that do not listen
use :func:`run_quietly`. Work that blocks inside one call for long also takes
a ``cancel`` (a :class:`CancelToken`) and polls it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Generator, Optional, TypeVar

GUI_INTERVAL_S = 1 / 30  # the window needs no more updates than it can draw: the one throttle's interval


@dataclass(frozen=True)
class Progress:
    """One progress report. ``fraction`` is None while the length is unknown."""

    fraction: Optional[float]
    message: str = ""


ProgressFn = Callable[[Progress], None]


class Cancelled(Exception):
    """Raised inside long work when its cancel token was set."""


class CancelToken:
    """A thread-safe flag that long work checks often and obeys."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("Cancelled.")


def no_progress(_: Progress) -> None:
    """The progress callback for callers that do not listen."""


class UserError(Exception):
    """A problem the person can fix: the message is a sentence shown as is."""


T = TypeVar("T")
JobGenerator = Generator[Any, None, T]


def run_quietly(gen: JobGenerator[T], on_partial: Optional[Callable[[Any], None]] = None) -> T:
    """Run a job generator to its end on this thread, ignoring its progress; return its result.

    ``on_partial`` receives every partial result (anything but :class:`Progress`).
    """
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_partial is not None and not isinstance(item, Progress):
            on_partial(item)
