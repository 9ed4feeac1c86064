"""Argument types the subcommands share."""

from __future__ import annotations

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
