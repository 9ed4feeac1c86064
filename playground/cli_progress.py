"""The command line's progress bar: a job generator run on this thread, drawn by tqdm on stderr.

The same generators the window runs in its engine (``playground/engine/jobs.py``)
run here; ``Progress`` moves the bar, partial results go to ``on_partial``.
"""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, TypeVar

from playground.core.progress import CancelToken, JobGenerator, Progress

T = TypeVar("T")

BAR_STEPS = 1000  # a fraction becomes a position out of this many


def run_with_bar(gen: JobGenerator[T], desc: str = "", on_partial: Optional[Callable[[Any], None]] = None,
                 quiet: bool = False, delay_s: float = 0.5) -> T:
    """Run ``gen`` to its end with a progress bar; return its result.

    The bar shows nothing for the first ``delay_s`` (a quick job prints nothing)
    and nothing at all when ``quiet``.
    """
    from tqdm import tqdm

    with tqdm(total=BAR_STEPS, desc=desc, file=sys.stderr, delay=delay_s, disable=quiet, leave=False,
              dynamic_ncols=True, bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}") as bar:
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
            if isinstance(item, Progress):
                if item.message:
                    bar.set_description_str(item.message, refresh=False)
                if item.fraction is not None:
                    bar.update(max(0, round(item.fraction * BAR_STEPS) - bar.n))
                else:
                    bar.refresh()
            elif on_partial is not None:
                bar.clear()  # a partial may print a line: keep the bar below it
                on_partial(item)


@contextmanager
def ctrl_c_cancels() -> Iterator[CancelToken]:
    """A cancel token that Ctrl+C sets (the work then stops at its next check, saving what it must)."""
    token = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: token.cancel())
    try:
        yield token
    finally:
        signal.signal(signal.SIGINT, previous)
