"""How long work reports progress and learns that it should stop.

Core functions take ``progress`` (a callable receiving :class:`Progress`) and
``cancel`` (a :class:`CancelToken`); the engine turns both into Qt signals,
the command line prints them, tests ignore them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Optional


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
