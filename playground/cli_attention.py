"""The command line for attention: save where one head (or a layer's heads on average) looked.

    playground attention --model DIR --text TEXT --layer L --head H|mean --out FILE.npy|FILE.csv [--which best|last]
    playground attention --model DIR --kind encoder|decoder|cross --input TEXT [--output TEXT] ...

The matrix [T, T] (query by key; cross-attention's [T, S]: output tokens by
input tokens) goes to --out; its shape, the tokens and any notice go to stderr.
An encoder-decoder has three kinds of attention, so it needs --kind; without
--output it reads its own greedy output. `add_command` adds it to the subcommands of `playground.cli`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground.cli_args import add_device_arguments, add_model_arguments, apply_threads
from playground.core.progress import UserError

KINDS = ("encoder", "decoder", "cross")  # as core/seq2seq_look.py names them (not imported: it pulls in torch)


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
    attention.add_argument(
        "--text", "--input", dest="text", required=True, help="the text the model reads (an encoder-decoder's input)"
    )
    attention.add_argument(
        "--kind",
        choices=KINDS,
        help="which attention: encoder (self-attention over the input: a square), decoder (causal "
        "self-attention over the output: a triangle) or cross (output tokens reading input tokens: a "
        "rectangle); an encoder-decoder has all three and needs this, a one-stack model has one",
    )
    attention.add_argument(
        "--output", help="the output an encoder-decoder reads with teacher forcing (default: its own greedy output)"
    )
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

    from playground.core.attention import save_matrix, select
    from playground.core.checkpoints import load_checkpoint
    from playground.core.seq2seq_look import capture_kind, family_of
    from playground.core.training import resolve_device

    if args.out.suffix.lower() not in (".npy", ".csv"):
        raise UserError(f"Cannot save a matrix as {args.out.name}: choose a name ending in .npy or .csv.")
    apply_threads(args)
    checkpoint, loaded = load_checkpoint(args.model, device=resolve_device(args.device), which=args.which)
    family = family_of(loaded.config)
    kind = args.kind
    if kind is None:
        if family == "encoder-decoder":
            raise UserError(
                "This model is an encoder-decoder (T5 style): it has three kinds of attention. Choose one with "
                "--kind encoder (the input reading itself), decoder (the output reading itself, causally) or "
                "cross (the output reading the input)."
            )
        kind = family
    snapshot = capture_kind(loaded, checkpoint.tokenizer, kind, args.text, args.output)
    if snapshot.notice:
        print(snapshot.notice, file=sys.stderr)
    matrix = select(snapshot.weights, args.layer, args.head)
    save_matrix(matrix, args.out, tokens=snapshot.tokens, key_tokens=snapshot.key_tokens)
    head = "the mean of all heads" if args.head == "mean" else f"head {args.head}"
    rows, columns = matrix.shape
    if snapshot.is_rectangle:
        shape = "cross-attention: each output token reads every input token"
    elif not snapshot.causal:
        shape = "a full square: every token reads every token"
    else:
        shape = "each token reads the past"
    where = f"{kind} attention, " if family == "encoder-decoder" else ""
    print(
        f"{where}layer {args.layer}, {head}: a {rows} x {columns} matrix (query by key; {shape}) -> {args.out}",
        file=sys.stderr,
    )
    if snapshot.is_rectangle:
        print("output tokens (rows): " + " ".join(repr(t) for t in snapshot.tokens), file=sys.stderr)
        print("input tokens (columns): " + " ".join(repr(t) for t in snapshot.keys), file=sys.stderr)
    else:
        print("tokens: " + " ".join(repr(t) for t in snapshot.tokens), file=sys.stderr)
    return 0
