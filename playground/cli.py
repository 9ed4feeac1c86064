"""The command line: the same core code as the window, for scripted workshop preparation.

playground                                  open the window
playground --screenshot DIR                 save a PNG of every panel, then quit
playground tokenizer train --corpus PATH --kind bpe --vocab-size N --out FILE.json
playground tokenizer encode --tokenizer FILE.json "TEXT"
playground fill-mask --model DIR --text "The [MASK] function" [--top-k 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional

from playground import __version__
from playground.core.progress import Cancelled, UserError


def build_parser(with_commands: bool = True, only: Optional[str] = None) -> argparse.ArgumentParser:
    """The command line's parser; `only` = "tokenizer" leaves out the other commands and their imports."""
    parser = argparse.ArgumentParser(
        prog="playground", description="LLM Playground: build a small language model and watch it from the inside."
    )
    parser.add_argument("--version", action="version", version=f"LLM Playground {__version__}")
    parser.add_argument(
        "--screenshot", metavar="DIR", type=Path, help="save a PNG of every working panel into DIR, then quit"
    )
    if not with_commands:
        parser.set_defaults(command=None)
        return parser
    commands = parser.add_subparsers(dest="command")

    tok = commands.add_parser("tokenizer", help="train or use a tokenizer")
    tok_commands = tok.add_subparsers(dest="tokenizer_command", required=True)
    from playground.core.tokenization import KINDS

    train = tok_commands.add_parser("train", help="train a tokenizer on a corpus and save tokenizer.json")
    train.add_argument(
        "--corpus",
        action="append",
        required=True,
        metavar="PATH",
        help="a text file or folder (repeat for more); 'default' for the built-in corpus",
    )
    train.add_argument("--kind", choices=list(KINDS), default="bpe")
    train.add_argument("--vocab-size", type=int, default=2000)
    train.add_argument("--min-frequency", type=int, default=2)
    train.add_argument("--special-tokens", default=None, help="comma-separated; the default suits the kind")
    train.add_argument("--lowercase", action="store_true")
    train.add_argument(
        "--allow-special-in-text",
        action="store_true",
        help="train even when a special token occurs in the corpus as ordinary text "
        "(a marker the corpus holds on purpose)",
    )
    train.add_argument("--out", type=Path, required=True, metavar="FILE.json")
    train.add_argument("--overwrite", action="store_true", help="replace --out if it already exists")

    encode = tok_commands.add_parser("encode", help="print the ids and tokens of a text as JSON")
    encode.add_argument("--tokenizer", type=Path, required=True, metavar="FILE.json")
    encode.add_argument("text")
    if only == "tokenizer":
        return parser
    from playground.cli_model import add_commands

    add_commands(commands)
    from playground import cli_attention

    cli_attention.add_command(commands)
    from playground import cli_eval

    cli_eval.add_command(commands)
    from playground import cli_exchange

    cli_exchange.add_command(commands)
    from playground import cli_fill_mask

    cli_fill_mask.add_command(commands)
    return parser


def _window_args(argv: list[str]) -> Optional[argparse.Namespace]:
    """The arguments when they only open the window, parsed without importing every command's
    module (a twentieth of a second of start-up); None when a command or --help needs the full parser."""
    if any(a in ("-h", "--help") for a in argv):
        return None
    args, rest = build_parser(with_commands=False).parse_known_args(argv)
    return None if rest else args


def tokenizer_train(args) -> int:
    from playground.cli_progress import run_with_bar
    from playground.core.corpus import corpus_from_paths, default_corpus, scan_corpus
    from playground.core.tokenization import (
        LoadedTokenizer,
        SpecialTokensInText,
        check_output_path,
        check_spec,
        spec_for_kind,
    )

    # Every path is made absolute here, before anything else reads it.
    corpus = (
        default_corpus()
        if args.corpus == ["default"]
        else corpus_from_paths([Path(p).expanduser().resolve() for p in args.corpus])
    )
    out = check_output_path(args.out, corpus.files, args.overwrite)
    spec = spec_for_kind(
        args.kind, vocab_size=args.vocab_size, min_frequency=args.min_frequency, lowercase=args.lowercase
    )
    if args.special_tokens is not None:
        from dataclasses import replace

        spec = replace(spec, special_tokens=tuple(s.strip() for s in args.special_tokens.split(",") if s.strip()))
    check_spec(spec)  # before the corpus is read: a bad size needs no scan to be refused
    stats = run_with_bar(scan_corpus(corpus), "Reading the corpus")
    check_spec(spec, stats)
    print(
        f"Corpus {corpus.name}: {stats.characters:,} characters, {stats.distinct_characters} distinct", file=sys.stderr
    )
    for warning in stats.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    started = time.monotonic()
    try:
        trained = _train_interruptibly(corpus, spec, args.allow_special_in_text)
    except SpecialTokensInText as e:
        raise UserError(f"{e} If the corpus holds them on purpose, train with --allow-special-in-text.") from e
    tok = LoadedTokenizer(trained, name=spec.label, spec=spec)
    tok.save(out)
    print(
        f"Trained {spec.label} ({tok.vocab_size:,} tokens) in {time.monotonic() - started:.1f} s -> {out}",
        file=sys.stderr,
    )
    return 0


def _train_interruptibly(corpus, spec, allow_special_in_text: bool):
    """Train in this process (no worker to start: a command line pays for nothing it does not use).

    The library's merge phase cannot be interrupted and runs on a thread of its own
    (see `train_in_process`) while this one draws the bar: Ctrl+C reaches this thread
    at once, and the process ends without waiting for the merges."""
    import os

    from playground.cli_progress import run_with_bar
    from playground.core.tokenization import train_in_process

    try:
        return run_with_bar(train_in_process(corpus, spec, allow_special_in_text), "Training")
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr, flush=True)
        os._exit(130)  # nothing was written yet; a clean exit would wait for the merges


def tokenizer_encode(args) -> int:
    from playground.core.tokenization import open_tokenizer

    tok = open_tokenizer(args.tokenizer)
    enc = tok.tokenizer.encode(args.text)
    result = {"ids": enc.ids, "tokens": enc.tokens, "count": len(enc.ids)}
    try:
        print(json.dumps(result, ensure_ascii=False))
    except UnicodeEncodeError:  # a console that cannot show 'Ġ' (Windows cp1252): escaped JSON is the same data
        print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--tokenizer-worker"]:  # the frozen app starting its own worker
        from playground.core.tokenizer_worker import serve

        serve()
        return 0
    command = next((a for a in argv if not a.startswith("-")), None)
    args = _window_args(argv) or build_parser(only="tokenizer" if command == "tokenizer" else None).parse_args(argv)
    try:
        if args.command in ("train", "generate"):
            from playground.cli_model import run

            return run(args)
        if args.command == "attention":
            return args.attention_command(args)
        if args.command == "fill-mask":
            return args.fill_mask_command(args)
        if args.command == "eval":
            return args.eval_command(args)
        if args.command in ("export", "import"):
            return args.exchange_command(args)
        if args.command == "tokenizer":
            return {"train": tokenizer_train, "encode": tokenizer_encode}[args.tokenizer_command](args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("cancelled", file=sys.stderr)
        return 130
    from playground.app import run_gui

    return run_gui(screenshot_dir=args.screenshot)
