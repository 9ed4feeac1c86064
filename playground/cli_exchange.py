"""The command line for exchanging models with Hugging Face `transformers` (no network, no `transformers` needed).

    playground export --model DIR --out DIR [--which best|last] [--overwrite]
    playground import --hf DIR --out DIR [--overwrite]

`export` writes a run's checkpoint as a GPT-2 (GPT2LMHeadModel) or LLaMA
(LlamaForCausalLM) folder; `import` turns such a folder into a run folder.
What was written goes to stderr, the folder to stdout. `add_command` adds both
to the subcommands of `playground.cli`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground.cli_args import add_model_arguments


def add_command(subparsers: argparse._SubParsersAction) -> None:
    """Add `export` and `import` to `subparsers` (each sets `exchange_command` to its function)."""
    export = subparsers.add_parser(
        "export",
        help="write a trained model as a Hugging Face transformers folder",
        description="Write a checkpoint as a folder that transformers' AutoModelForCausalLM (or, for an "
        "encoder, AutoModelForMaskedLM) and AutoTokenizer read: GPT2LMHeadModel for a GPT-2 style model, "
        "LlamaForCausalLM for a LLaMA style one, BertForMaskedLM for a BERT style encoder, with its "
        "tokenizer and a short model card.",
    )
    add_model_arguments(export, "export", default_note=" (default best)")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write")
    export.add_argument("--overwrite", action="store_true", help="replace what a non-empty --out holds")
    export.set_defaults(exchange_command=export_command)

    imp = subparsers.add_parser(
        "import",
        help="make a run folder from a Hugging Face GPT-2, LLaMA or BERT folder",
        description="Read a local Hugging Face folder (config.json, tokenizer.json and model.safetensors, or "
        "sharded safetensors with model.safetensors.index.json) of a GPT-2, LLaMA or BERT model into a run "
        "folder this app opens. Pickled weights (pytorch_model.bin) are refused, never opened.",
    )
    imp.add_argument("--hf", type=Path, required=True, metavar="DIR", help="the Hugging Face folder to read")
    imp.add_argument("--out", type=Path, required=True, metavar="DIR", help="the run folder to write")
    imp.add_argument("--overwrite", action="store_true", help="replace what a non-empty --out holds")
    imp.set_defaults(exchange_command=import_command)


def export_command(args: argparse.Namespace) -> int:
    from playground.cli_progress import run_with_bar
    from playground.core.huggingface import export_checkpoint

    out = run_with_bar(export_checkpoint(args.model, args.out, which=args.which, overwrite=args.overwrite), "Exporting")
    _report(out, f"Exported {args.model} ({args.which}) as a Hugging Face model:")
    return 0


def import_command(args: argparse.Namespace) -> int:
    from playground.cli_progress import run_with_bar
    from playground.core.huggingface import import_hf

    def warn(note) -> None:
        print(f"warning: {note.text}", file=sys.stderr)

    out = run_with_bar(import_hf(args.hf, args.out, overwrite=args.overwrite), "Importing", on_partial=warn)
    _report(out, f"Imported {args.hf} as a run folder:")
    return 0


def _report(out: Path, headline: str) -> None:
    from playground.core.units import human_bytes

    print(headline, file=sys.stderr)
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        print(f"  {path.relative_to(out).as_posix():<26} {human_bytes(path.stat().st_size):>10}", file=sys.stderr)
    print(out)
