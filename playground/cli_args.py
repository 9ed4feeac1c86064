"""Argument types the subcommands share."""

from __future__ import annotations

import argparse
from pathlib import Path

DEMO = "demo"


def model_dir(text: str) -> Path:
    """A run folder; ``demo`` names the demo model that ships with the app.

    A folder called ``demo`` in the working folder wins, so an existing path is
    never reinterpreted. An installed wheel keeps the demo model inside the
    package, where nobody would guess its path.
    """
    path = Path(text)
    if text == DEMO and not path.exists():
        from playground.paths import demo_model_dir

        shipped = demo_model_dir()
        if shipped is not None:
            return shipped
    return path


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (0 is refused, never read as "not given")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not value > 0:  # NaN too
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value
