"""Cards that wrap onto rows of even length: six read as 3 + 3, never 5 + 1."""

from __future__ import annotations

import math


def even_columns(count: int, fit: int) -> int:
    """How many of `count` items go on one row when at most `fit` fit side by side, evened out over the
    rows that takes (10 items, 4 fit: 3 rows of 4, 4 and 2 → 4; 6 items, 5 fit: 2 rows → 3)."""
    fit = max(1, min(fit, count))
    rows = math.ceil(max(1, count) / fit)
    return math.ceil(max(1, count) / rows)
