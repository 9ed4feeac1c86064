"""Argument types the subcommands share."""

from __future__ import annotations

import argparse
from pathlib import Path

DEMO = "demo"
DEMO_ENCODER_DECODER = "demo-encoder-decoder"


def model_dir(text: str) -> Path:
    """A run folder; ``demo`` names the demo model that ships with the app, ``demo-encoder-decoder``
    its demo encoder-decoder (T5 style).

    A folder of that name in the working folder wins, so an existing path is
    never reinterpreted. An installed wheel keeps the demo models inside the
    package, where nobody would guess their path.
    """
    from playground import paths

    path = Path(text)
    find = {DEMO: paths.demo_model_dir, DEMO_ENCODER_DECODER: paths.demo_encoder_decoder_dir}.get(text)
    if find is not None and not path.exists():
        shipped = find()
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


def at_least_one(text: str) -> float:
    """An argparse type: a number of at least 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not value >= 1:  # NaN too
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


DEVICES = ["auto", "cuda", "mps", "cpu"]


def add_model_arguments(
    parser: argparse.ArgumentParser, what: str = "use", several: bool = False, default_note: str = ""
) -> None:
    """``--model DIR`` (``demo`` for the demo model) and ``--which best|last``."""
    parser.add_argument(
        "--model",
        type=model_dir,
        required=True,
        metavar="DIR",
        action="append" if several else "store",
        help=f"a run folder (or its best/ or last/ folder); '{DEMO}' for the demo model, "
        f"'{DEMO_ENCODER_DECODER}' for the demo encoder-decoder (T5 style){' (repeat to compare)' if several else ''}",
    )
    parser.add_argument(
        "--which",
        choices=["best", "last"],
        default="best",
        help=f"in a run folder, which checkpoint to {what}{default_note}",
    )


def add_device_arguments(parser: argparse.ArgumentParser, default: str | None = "auto", why: str = "") -> None:
    """``--device`` and ``--threads``; ``apply_threads`` and ``resolve_device`` read them."""
    help_text = "where to run the model" + (f" (default {default}{why})" if default else "")
    parser.add_argument("--device", choices=DEVICES, default=default, help=help_text)
    parser.add_argument(
        "--threads", type=positive_int, metavar="N", help="CPU threads for PyTorch (default: all cores)"
    )


def apply_threads(args: argparse.Namespace) -> None:
    """Use ``--threads`` CPU threads, when given.

    Small models gain little from many threads, and threads that wait on a
    busy core slow every operation down: fewer can be much faster.
    """
    if getattr(args, "threads", None) is not None:
        import torch

        torch.set_num_threads(max(1, args.threads))
