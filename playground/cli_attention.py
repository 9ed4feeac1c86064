"""The command line for attention: save where one head (or a layer's heads on average) looked.

    playground attention --model DIR --text TEXT --layer L --head H|mean --out FILE.npy|FILE.csv [--which best|last]

The matrix [T, T] (query by key) goes to --out; its shape, the tokens and any
notice go to stderr. `add_command` adds it to the subcommands of `playground.cli`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground.cli_args import add_device_arguments, add_model_arguments, apply_threads
from playground.core.progress import UserError


def head_choice(text: str):
    """--head: a number or 'mean'."""
    if text.strip().lower() == "mean":
        return "mean"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a head number or 'mean', not {text!r}") from None


def add_command(subparsers: argparse._SubParsersAction) -> None:
    """Add `attention` to `subparsers` (it sets `attention_command` to its function)."""
    attention = subparsers.add_parser(
        "attention",
        help="save one head's attention weights over a text as a matrix",
        description="Run a trained model over a text once and save where one attention head looked: a "
        "query-by-key matrix whose row q holds how token q spread its attention over tokens 0..q (a decoder), "
        "or over every token (an encoder, which reads the text between [CLS] and [SEP]).",
    )
    add_model_arguments(attention)
    attention.add_argument("--text", required=True, help="the text the model reads")
    attention.add_argument("--layer", type=int, default=0, help="the layer, counted from 0 (default 0)")
    attention.add_argument(
        "--head",
        type=head_choice,
        default="mean",
        metavar="H|mean",
        help="the head, counted from 0, or 'mean' for the average of the layer's heads (default mean)",
    )
    attention.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE.npy|FILE.csv",
        help="where to save the matrix: .npy for NumPy, .csv (with the tokens as labels) for a spreadsheet",
    )
    add_device_arguments(attention, "cpu", ": one pass over a text needs no GPU")
    attention.set_defaults(attention_command=attention_command)


def attention_command(args: argparse.Namespace) -> int:

    from playground.core.attention import capture_attention, save_matrix, select
    from playground.core.checkpoints import load_checkpoint, one_stack
    from playground.core.training import resolve_device

    if args.out.suffix.lower() not in (".npy", ".csv"):
        raise UserError(f"Cannot save a matrix as {args.out.name}: choose a name ending in .npy or .csv.")
    apply_threads(args)
    checkpoint, loaded = load_checkpoint(args.model, device=resolve_device(args.device), which=args.which)
    capture = capture_attention(one_stack(loaded, "playground attention"), checkpoint.tokenizer, args.text)
    if capture.notice:
        print(capture.notice, file=sys.stderr)
    matrix = select(capture.weights, args.layer, args.head)
    save_matrix(matrix, args.out, tokens=capture.tokens)
    head = "the mean of all heads" if args.head == "mean" else f"head {args.head}"
    T = len(capture.tokens)
    shape = "a full square: every token reads every token" if not capture.causal else "each token reads the past"
    print(f"layer {args.layer}, {head}: a {T} x {T} matrix (query by key; {shape}) -> {args.out}", file=sys.stderr)
    print("tokens: " + " ".join(repr(t) for t in capture.tokens), file=sys.stderr)
    return 0
