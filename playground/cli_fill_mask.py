"""The command line for encoders: what a model guesses for each [MASK] of a text.

    playground fill-mask --model DIR|demo --text "The [MASK] function" [--top-k 5] [--json] [--which best|last]

Each mask's candidates go to stdout (a line per mask, or JSON with --json); a
notice (a text cut to the context) goes to stderr. ``--model demo`` is the demo
encoder when the app ships one. `add_command` adds it to the subcommands of
`playground.cli`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from playground.cli_args import DEMO, add_device_arguments, apply_threads, model_dir, positive_int


def encoder_dir(text: str) -> Path:
    """--model: a run folder; ``demo`` names the demo encoder (else the demo model, which is a decoder)."""
    if text == DEMO and not Path(text).exists():
        from playground import paths

        find = getattr(paths, "demo_encoder_dir", None)
        shipped = find() if find is not None else None
        if shipped is not None:
            return shipped
    return model_dir(text)


def add_command(subparsers: argparse._SubParsersAction) -> None:
    """Add `fill-mask` to `subparsers` (it sets `fill_mask_command` to its function)."""
    fill = subparsers.add_parser(
        "fill-mask",
        help="show an encoder's best guesses for each [MASK] of a text",
        description="Run an encoder (a BERT style model) over a text once and print, for each [MASK] in it, "
        "the tokens it finds most likely there, with their probabilities.",
    )
    fill.add_argument(
        "--model",
        type=encoder_dir,
        required=True,
        metavar="DIR",
        help="a run folder of an encoder (or its best/ or last/ folder); 'demo' for the demo encoder",
    )
    fill.add_argument(
        "--which", choices=["best", "last"], default="best", help="in a run folder, which checkpoint to use"
    )
    fill.add_argument("--text", required=True, help="the text, with [MASK] where a word is to be guessed")
    fill.add_argument(
        "--top-k", type=positive_int, default=5, metavar="K", help="how many guesses per mask (default 5)"
    )
    fill.add_argument("--json", action="store_true", help="print the guesses as JSON")
    add_device_arguments(fill, "cpu", ": one pass over a text needs no GPU")
    fill.set_defaults(fill_mask_command=fill_mask_command)


def fill_mask_command(args: argparse.Namespace) -> int:
    from playground.cli_model import print_text
    from playground.core.checkpoints import load_checkpoint
    from playground.core.fill_mask import fill_mask, require_encoder
    from playground.core.training import resolve_device

    apply_threads(args)
    checkpoint, model = load_checkpoint(args.model, device=resolve_device(args.device), which=args.which)
    require_encoder(model)
    result = fill_mask(model, checkpoint.tokenizer, args.text, args.top_k)
    if result.notice:
        print(result.notice, file=sys.stderr)
    if args.json:
        masks = [
            {
                "mask": slot.index + 1,
                "candidates": [
                    {"token": c.token, "text": c.text, "id": c.id, "probability": round(c.probability, 6)}
                    for c in slot.candidates
                ],
            }
            for slot in result.slots
        ]
        print_text(json.dumps({"text": args.text, "notice": result.notice, "masks": masks}, ensure_ascii=False))
    else:
        for slot in result.slots:
            guesses = "  ".join(f"{c.text!r} {100 * c.probability:.1f}%" for c in slot.candidates)
            print_text(f"[MASK] {slot.index + 1}: {guesses}")
    return 0
