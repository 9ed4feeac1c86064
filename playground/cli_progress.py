"""The command line's progress bar: a job generator run on this thread, drawn by tqdm on stderr.

The same generators the window runs in its engine (``playground/engine/jobs.py``)
run here; ``Progress`` moves the bar, partial results go to ``on_partial``.
"""

from __future__ import annotations

import signal
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, TypeVar

from playground.core.progress import CancelToken, JobGenerator, Progress

T = TypeVar("T")

BAR_STEPS = 1000  # a fraction becomes a position out of this many


LOG_INTERVAL_S = 1.0  # where stderr is not a terminal: at most one progress line a second


def run_with_bar(
    gen: JobGenerator[T],
    desc: str = "",
    on_partial: Optional[Callable[[Any], None]] = None,
    quiet: bool = False,
    delay_s: float = 0.5,
) -> T:
    """Run ``gen`` to its end with a progress bar; return its result.

    The bar shows nothing for the first ``delay_s`` and nothing at all when
    ``quiet``: a quick job prints nothing. On a terminal tqdm draws the bar;
    when stderr is a file or a pipe (a log, a script) a bar's carriage returns
    would be noise, so each new message becomes a line instead (and tqdm,
    whose import reads package metadata, is not imported at all).
    """
    started = time.monotonic()
    view: Optional[_Bar | _Lines] = None
    fraction = 0.0  # the last known; a bar that appears late starts there
    try:
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
            if isinstance(item, Progress):
                if item.fraction is not None:
                    fraction = item.fraction
                if view is None and not quiet and sys.stderr is not None and time.monotonic() - started >= delay_s:
                    view = _Bar(desc, fraction) if sys.stderr.isatty() else _Lines()
                if view is not None:
                    view.show(item, fraction)
            elif on_partial is not None:
                if view is not None:
                    view.clear()  # a partial may print a line: keep the bar below it
                on_partial(item)
    finally:
        if view is not None:
            view.close()


class _Bar:
    """tqdm's bar on a terminal."""

    def __init__(self, desc: str, fraction: float) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=BAR_STEPS,
            initial=round(fraction * BAR_STEPS),
            desc=desc,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
            bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
        )

    def show(self, p: Progress, fraction: float) -> None:
        new_message = bool(p.message) and p.message != self.bar.desc
        if new_message:
            self.bar.set_description_str(p.message, refresh=False)
        position = round(fraction * BAR_STEPS)
        if position < self.bar.n and p.fraction is not None:  # the next phase (encoding, then training)
            self.bar.reset(total=BAR_STEPS)  # starts from the left again
        if position > self.bar.n:
            self.bar.update(position - self.bar.n)  # redraws at most ten times a second
        elif new_message:
            self.bar.refresh()  # a new stage shows at once; the same one again costs nothing

    def clear(self) -> None:
        self.bar.clear()

    def close(self) -> None:
        self.bar.close()


class _Lines:
    """Progress as plain lines: a new message (a new stage at once), at most one a second."""

    def __init__(self) -> None:
        self.last_message = ""
        self.last_at = 0.0

    def show(self, p: Progress, fraction: float) -> None:
        now = time.monotonic()
        if not p.message or p.message == self.last_message:
            return
        if p.fraction is not None and now - self.last_at < LOG_INTERVAL_S:
            return
        self.last_message, self.last_at = p.message, now
        percent = "" if p.fraction is None else f"{100 * p.fraction:5.1f}% "
        print(f"{percent}{p.message}", file=sys.stderr, flush=True)

    def clear(self) -> None:
        pass

    def close(self) -> None:
        pass


@contextmanager
def ctrl_c_cancels() -> Iterator[CancelToken]:
    """A cancel token that Ctrl+C sets (the work then stops at its next check, saving what it must)."""
    token = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: token.cancel())
    try:
        yield token
    finally:
        signal.signal(signal.SIGINT, previous)
