"""Benchmark: an encoder-decoder's generation with its caches against without them, and against
Hugging Face `transformers` on the same weights.

One run, on the CPU, greedy decoding through the app's ``generate_tokens`` (the encoder-decoder path:
``input_ids=...``, ``SamplingSettings(strategy="greedy", max_new_tokens=N, stop_at_end=False)``) of a
T5-style model with random weights, from an input of ``INPUT_LENGTH`` random ids and </s>:

1. **Caches against none**: with the caches the encoder runs once, every decoder layer's
   cross-attention keys and values are made once, and each new output token goes through the
   decoder once (its self-attention cache). Without them (``use_cache=False``, as transformers'
   ``use_cache=False``) the encoder still runs once, but every step runs the decoder over all the
   tokens written so far and makes the cross-attention keys and values again. Target (the issue's):
   at least 3x the tokens/s at 128 new tokens.
2. **transformers**, if installed: the checkpoint exported with ``export_checkpoint`` and loaded
   as ``T5ForConditionalGeneration``; ``generate(..., do_sample=False, num_beams=1, use_cache=True)``
   with no end token (so both write exactly N tokens), on the same threads. Target: ours at least 1.0x
   theirs, with the same greedy tokens.

Each value is the median of ``--repeats`` timed runs, the sides alternating after one untimed
warm-up each (``generation.compare``). Run from the repository root:

    python benchmarks/seq2seq.py [--threads N] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional

from generation import compare, log, mark, transformers_version  # benchmarks/ is on sys.path as a script
from machine_load import OtherLoad

ROOT = Path(__file__).resolve().parents[1]

CACHE_TARGET = 3.0  # the caches at least this many times the tokens/s of none
TRANSFORMERS_TARGET = 1.0  # ours at least this many times transformers' tokens/s
NEW_TOKENS = 128
QUICK_TOKENS = 16
INPUT_LENGTH = 128  # a paragraph: the cross-attention keys and values the caches make once are worth keeping
# The "medium" preset's sizes (nanoGPT's Shakespeare model) in both stacks: about 26M parameters here.
SIZES = dict(context_length=256, n_layer=6, n_head=6, n_embd=384, relative_buckets=32, relative_max_distance=128)


def ours(model, start: int, input_ids: list[int], use_cache: bool) -> Callable[[int], list[int]]:
    """The app's path: `generate_tokens` on the encoder-decoder, greedy, never stopping early."""
    from playground.core.sampling import SamplingSettings, generate_tokens

    def run(new_tokens: int) -> list[int]:
        settings = SamplingSettings(strategy="greedy", max_new_tokens=new_tokens, stop_at_end=False)
        tokens = generate_tokens(model, [start], settings, use_cache=use_cache, input_ids=input_ids)
        return [token.id for token in tokens]

    return run


def theirs(hf_model, input_ids: list[int]) -> Callable[[int], list[int]]:
    """transformers' greedy generation with its cache; no end token, so it writes exactly `new_tokens`."""
    import torch

    ids = torch.tensor([input_ids])
    hf_model.generation_config.eos_token_id = None

    def run(new_tokens: int) -> list[int]:
        with torch.no_grad():
            out = hf_model.generate(ids, max_new_tokens=new_tokens, do_sample=False, num_beams=1, use_cache=True)
        return out[0, 1:].tolist()  # without the decoder's start token

    return run


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side; the median counts (default 3)")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_TOKENS} new tokens, one repeat")
    args = parser.parse_args(argv)

    import torch

    from playground.core.checkpoints import save_checkpoint, write_run_files
    from playground.core.config import ModelConfig
    from playground.core.devices import cpu_name
    from playground.core.t5_model import T5
    from playground.core.t5_tokens import t5_tokens, with_t5_tokens
    from playground.core.tokenization import open_tokenizer
    from playground.core.train_config import TrainConfig

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    repeats = 1 if args.quick else args.repeats
    new_tokens = QUICK_TOKENS if args.quick else NEW_TOKENS
    judged = new_tokens == NEW_TOKENS
    hf_version = transformers_version()

    tokenizer = with_t5_tokens(open_tokenizer(ROOT / "models" / "demo" / "tokenizer.json"))
    tokens = t5_tokens(tokenizer)
    config = ModelConfig.t5_style(vocab_size=tokenizer.vocab_size, **SIZES)
    torch.manual_seed(0)
    model = T5(config).eval()
    g = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, tokens.pad, (INPUT_LENGTH,), generator=g).tolist() + [tokens.eos]

    print("# Encoder-decoder generation: caches against none, and against Hugging Face transformers\n")
    print(
        f"- machine: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}, "
        f"torch.set_num_threads({threads}); Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; transformers {hf_version or 'not installed'}"
    )
    print(
        f"- model: T5 style (v1.0), random weights, {config.n_layer} encoder + {config.decoder_layers} decoder "
        f"layers x {config.n_head} heads x {config.n_embd} wide, context {config.context_length}, vocab "
        f"{config.vocab_size:,} (the demo tokenizer with T5's tokens), {model.num_parameters():,} parameters; "
        f"input {INPUT_LENGTH} random ids and </s>"
    )
    print(
        f"- decoding: greedy through `generate_tokens(..., input_ids=...)`, {new_tokens} new tokens, never "
        f"stopping early; median of {repeats} timed run(s) per side, sides alternating, one untimed warm-up each\n",
        flush=True,
    )

    load = OtherLoad()
    rows = []
    log("caches against none:")
    result = compare(
        {
            "caches": ours(model, tokens.decoder_start, input_ids, True),
            "none": ours(model, tokens.decoder_start, input_ids, False),
        },
        repeats,
        new_tokens,
    )
    cached, bare = result["caches"], result["none"]
    speedup = cached["tps"] / bare["tps"]
    rows.append(
        (
            f"{new_tokens} new tokens: with the caches against without, tokens/s",
            f"caches {cached['tps']:,.0f}",
            f"none {bare['tps']:,.0f}",
            f"{speedup:.2f}x" + (f" {mark(speedup >= CACHE_TARGET)}" if judged else ""),
            f"same tokens: {'yes' if cached['ids'] == bare['ids'] else 'no'}",
            f"≥ {CACHE_TARGET:g}x",
        )
    )

    against = None
    if hf_version is not None:
        import transformers

        from playground.core import huggingface as hf
        from playground.core.progress import run_quietly

        with tempfile.TemporaryDirectory() as folder:
            run = Path(folder) / "run"
            write_run_files(run, config, TrainConfig(), tokenizer)
            save_checkpoint(run, "best", model, {}, {"step": 0})
            exported = run_quietly(hf.export_checkpoint(run, Path(folder) / "hf"))
            hf_model = transformers.T5ForConditionalGeneration.from_pretrained(exported, local_files_only=True)
        hf_model.eval()
        log("ours against transformers:")
        result = compare(
            {"ours": ours(model, tokens.decoder_start, input_ids, True), "transformers": theirs(hf_model, input_ids)},
            repeats,
            new_tokens,
        )
        mine, other = result["ours"], result["transformers"]
        against = mine["tps"] / other["tps"]
        rows.append(
            (
                f"{new_tokens} new tokens, caches: ours (generate_tokens) against transformers "
                "T5ForConditionalGeneration.generate, tokens/s",
                f"ours {mine['tps']:,.0f}",
                f"transformers {other['tps']:,.0f}",
                f"{against:.2f}x" + (f" {mark(against >= TRANSFORMERS_TARGET)}" if judged else ""),
                f"same tokens: {'yes' if mine['ids'] == other['ids'] else 'no'}",
                f"≥ {TRANSFORMERS_TARGET:g}x",
            )
        )

    other_load = load.report()
    header = ("measure", "ours", "compared with", "ratio", "check", "target")
    for row in (header, ("---", "---:", "---:", "---:", "---", "---"), *rows):
        print("| " + " | ".join(row) + " |")
    print()
    if not judged:
        print(f"- targets: not judged in a --quick run ({new_tokens} new tokens; they are for {NEW_TOKENS})")
    else:
        print(f"- caches ≥ {CACHE_TARGET:g}x: {'met' if speedup >= CACHE_TARGET else 'NOT met'} ({speedup:.2f}x)")
        if against is not None:
            met = "met" if against >= TRANSFORMERS_TARGET else "NOT met"
            print(f"- ours ≥ {TRANSFORMERS_TARGET:g}x transformers: {met} ({against:.2f}x)")
    if hf_version is None:
        print("- transformers comparison skipped: the package is not installed (`pip install transformers`).")
    print(f"- {other_load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
