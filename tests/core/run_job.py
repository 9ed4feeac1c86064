"""Run a job generator to its end in a test, keeping what it reported."""

from __future__ import annotations

from typing import Any, Optional

from playground.core.progress import Progress


def run_job(gen, progress: Optional[list] = None, partials: Optional[list] = None) -> Any:
    """Step ``gen`` to its end here; append its Progress to ``progress`` and its partial results
    to ``partials`` (when given); return its result. Exceptions reach the caller."""
    while True:
        try:
            item = next(gen)
        except StopIteration as done:
            return done.value
        target = progress if isinstance(item, Progress) else partials
        if target is not None:
            target.append(item)
