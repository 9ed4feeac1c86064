"""Benchmark: generation speed with the key/value cache against without it, and against
Hugging Face `transformers` on the same weights.

One run, on the CPU, greedy decoding from a short prompt
(``SamplingSettings(strategy="greedy", max_new_tokens=N, stop_at_end=False)``
through the app's ``generate_tokens``):

1. **The demo model** (``models/demo``, context 128). 256 new tokens do not
   fit its window: once the text is longer than the context, the cached path
   re-reads the last 128 tokens every step, as the uncached one always does.
   So it also runs ``context - 1 - prompt`` new tokens, which stay inside the
   window, where the cache's advantage is clean.
2. **A ~10M-parameter GPT-2 style model**, random weights, context 512, where
   256 new tokens fit. Target (the issue's): the cache at least 5x faster.
   A bare loop (``model.step`` and ``argmax``, nothing else) shows what the
   app's generator adds per token (softmax, the top candidates, ...).
3. **transformers**, if installed: the same ~10M model converted with
   ``to_transformers_gpt2``, ``generate(..., do_sample=False, use_cache=True)``
   against ours, and whether both produce the same tokens.

Each value is the median of ``--repeats`` timed runs; the sides alternate
within each repeat, after one untimed warm-up each. Per-run times go to
stderr; a line reports how busy the rest of the machine was.

Run from the repository root:

    python benchmarks/generation.py [--threads N] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Optional

from machine_load import OtherLoad  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]

SPEEDUP_TARGET = 5.0  # KV cache at least this many times the tokens/s of no cache
NEW_TOKENS = 256
DEMO_PROMPT = "The model"
RANDOM_PROMPT_LENGTH = 8
# The ~10M model: nanoGPT's Shakespeare sizes with a small vocabulary and a context that holds 256 new tokens.
TEN_M = dict(vocab_size=2000, context_length=512, n_layer=6, n_head=6, n_embd=384)
QUICK_TOKENS = 24


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


WARMUP_TOKENS = 16  # the untimed first run of each side: enough to load every kernel


def timed(label: str, run: Callable[[int], list[int]], new_tokens: int) -> tuple[float, list[int]]:
    start = time.perf_counter()
    ids = run(new_tokens)
    seconds = time.perf_counter() - start
    assert len(ids) == new_tokens, (label, len(ids))
    log(f"  {label}: {new_tokens} tokens in {seconds:.3f} s")
    return seconds, ids


def compare(sides: dict[str, Callable[[int], list[int]]], repeats: int, new_tokens: int) -> dict[str, dict]:
    """Median tokens/s of each side and the ids each produced.

    Each side is a function of the number of new tokens. One short untimed
    warm-up each; then the sides alternate (ABBA), so that neither always goes first.
    """
    for name, run in sides.items():
        timed(f"{name} (warm-up)", run, min(new_tokens, WARMUP_TOKENS))
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    ids: dict[str, list[int]] = {}
    order = list(sides)
    for r in range(repeats):
        for name in order if r % 2 == 0 else reversed(order):
            s, ids[name] = timed(name, sides[name], new_tokens)
            seconds[name].append(s)
    return {
        name: {"tps": new_tokens / statistics.median(seconds[name]), "ids": ids[name], "runs": seconds[name]}
        for name in sides
    }


# -- the sides: each returns a function of the number of new tokens -------------------


def app_generate(model, prompt: list[int], use_cache: bool) -> Callable[[int], list[int]]:
    """The app's path: `generate_tokens`, greedy, never stopping early."""
    from playground.core.sampling import SamplingSettings, generate_tokens

    def run(new_tokens: int) -> list[int]:
        settings = SamplingSettings(strategy="greedy", max_new_tokens=new_tokens, stop_at_end=False)
        return [token.id for token in generate_tokens(model, prompt, settings, use_cache=use_cache)]

    return run


def bare_generate(model, prompt: list[int]) -> Callable[[int], list[int]]:
    """The least a cached greedy loop can do: `model.step`, argmax, feed it back (the text must fit the context)."""
    import torch

    def run(new_tokens: int) -> list[int]:
        with torch.no_grad():
            logits, cache = model.step(torch.tensor([prompt]))
            ids = []
            for _ in range(new_tokens):
                token = logits.argmax(dim=-1, keepdim=True)
                ids.append(int(token))
                if len(ids) < new_tokens:
                    logits, cache = model.step(token, cache)
        return ids

    return run


def hf_generate(hf_model, prompt: list[int]) -> Callable[[int], list[int]]:
    """transformers' own greedy generation with its cache, made to run exactly `new_tokens` steps."""
    import torch

    input_ids = torch.tensor([prompt])

    def run(new_tokens: int) -> list[int]:
        with torch.no_grad():
            out = hf_model.generate(
                input_ids,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                use_cache=True,
                pad_token_id=0,
            )
        return out[0, len(prompt) :].tolist()

    return run


def transformers_version() -> Optional[str]:
    try:
        import transformers
    except ImportError:
        return None
    transformers.logging.set_verbosity_error()  # no advice about generation configs in the table
    return transformers.__version__


# -- the run ---------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side; the median counts (default 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: {QUICK_TOKENS} new tokens instead of {NEW_TOKENS}, one repeat",
    )
    parser.add_argument("--demo", type=Path, default=ROOT / "models" / "demo", help="the demo checkpoint")
    args = parser.parse_args(argv)

    import torch

    from playground.core.checkpoints import load_checkpoint
    from playground.core.config import ModelConfig
    from playground.core.devices import cpu_name
    from playground.core.model import GPT

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    repeats = 1 if args.quick else args.repeats
    new_tokens = QUICK_TOKENS if args.quick else NEW_TOKENS
    hf_version = transformers_version()

    checkpoint, demo = load_checkpoint(args.demo)
    demo_prompt = checkpoint.tokenizer.encode_ids([DEMO_PROMPT])[0]
    demo_context = demo.config.context_length
    inside = demo_context - 1 - len(demo_prompt)  # new tokens that keep the whole text inside the window
    # Steps whose text no longer fits: each re-reads the last `context` tokens without the cache's help.
    rereads = max(0, len(demo_prompt) + new_tokens - 1 - demo_context)

    torch.manual_seed(0)
    ten_m = GPT.from_config(ModelConfig.gpt2_style(**TEN_M)).eval()
    ten_m_prompt = torch.randint(
        0, TEN_M["vocab_size"], (RANDOM_PROMPT_LENGTH,), generator=torch.Generator().manual_seed(1)
    ).tolist()
    c = ten_m.config

    print("# Generation benchmark: KV cache against no cache, and against Hugging Face transformers\n")
    print(
        f"- machine: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}, "
        f"torch.set_num_threads({threads}); Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; transformers {hf_version or 'not installed'}"
    )
    print(
        f"- decoding: greedy through `generate_tokens` (SamplingSettings(strategy='greedy', "
        f"max_new_tokens=N, stop_at_end=False)); median of {repeats} timed run(s) per side, sides alternating, "
        f"one untimed warm-up each"
    )
    print(
        f"- demo model: {args.demo.name}, {demo.config.n_layer} layers x {demo.config.n_head} heads x "
        f"{demo.config.n_embd} wide, context {demo_context}, vocab {demo.config.vocab_size:,}, "
        f"{demo.num_parameters():,} parameters; prompt {DEMO_PROMPT!r} = {len(demo_prompt)} tokens"
    )
    print(
        f"- ~10M model: GPT-2 style, random weights, {c.n_layer} layers x {c.n_head} heads x {c.n_embd} wide, "
        f"context {c.context_length}, vocab {c.vocab_size:,}, {ten_m.num_parameters():,} parameters; "
        f"prompt {RANDOM_PROMPT_LENGTH} random ids\n",
        flush=True,
    )

    load = OtherLoad()
    rows = []

    def cache_row(label: str, model, prompt: list[int], n: int, target: bool) -> dict:
        log(f"{label}:")
        result = compare(
            {"KV cache": app_generate(model, prompt, True), "no cache": app_generate(model, prompt, False)}, repeats, n
        )
        cached, uncached = result["KV cache"], result["no cache"]
        ratio = cached["tps"] / uncached["tps"]
        verdict = f"{ratio:.2f}x" + (f" {mark(ratio >= SPEEDUP_TARGET)}" if target else "")
        same = "yes" if cached["ids"] == uncached["ids"] else "no"
        rows.append(
            (
                label,
                f"KV cache {cached['tps']:,.0f}",
                f"no cache {uncached['tps']:,.0f}",
                verdict,
                f"same tokens: {same}",
                f"cache ≥ {SPEEDUP_TARGET:g}x" if target else "",
            )
        )
        return result

    where = (
        f"past the {demo_context}-token window: the last {rereads} steps re-read it whole"
        if rereads
        else f"inside the {demo_context}-token window"
    )
    cache_row(f"demo, {new_tokens} new tokens ({where}), tokens/s", demo, demo_prompt, new_tokens, target=False)
    cache_row(f"demo, {inside} new tokens (inside the window), tokens/s", demo, demo_prompt, inside, target=False)
    judged = new_tokens == NEW_TOKENS  # the target is for 256 new tokens, not a --quick run's few
    ten_m_result = cache_row(
        f"~10M model, {new_tokens} new tokens, tokens/s", ten_m, ten_m_prompt, new_tokens, target=judged
    )
    speedup = ten_m_result["KV cache"]["tps"] / ten_m_result["no cache"]["tps"]

    log("~10M model, the app's generator against a bare cached loop:")
    result = compare(
        {"app": app_generate(ten_m, ten_m_prompt, True), "bare loop": bare_generate(ten_m, ten_m_prompt)},
        repeats,
        new_tokens,
    )
    app, bare = result["app"], result["bare loop"]
    rows.append(
        (
            f"~10M model, {new_tokens} new tokens, KV cache: generate_tokens against a bare loop "
            f"(model.step + argmax), tokens/s",
            f"app {app['tps']:,.0f}",
            f"bare loop {bare['tps']:,.0f}",
            f"{app['tps'] / bare['tps']:.2f}x",
            f"same tokens: {'yes' if bare['ids'] == app['ids'] else 'no'}",
            "",
        )
    )

    hf_note = None
    if hf_version is not None:
        from playground.core.huggingface import to_transformers_gpt2

        log("~10M model, ours against transformers:")
        hf_model = to_transformers_gpt2(ten_m)
        result = compare(
            {"ours": app_generate(ten_m, ten_m_prompt, True), "transformers": hf_generate(hf_model, ten_m_prompt)},
            repeats,
            new_tokens,
        )
        ours_tps, theirs_tps = result["ours"]["tps"], result["transformers"]["tps"]
        same = "yes" if result["ours"]["ids"] == result["transformers"]["ids"] else "no"
        rows.append(
            (
                f"~10M model, {new_tokens} new tokens, KV cache: ours (generate_tokens) against "
                f"transformers GPT2LMHeadModel.generate, tokens/s",
                f"ours {ours_tps:,.0f}",
                f"transformers {theirs_tps:,.0f}",
                f"{ours_tps / theirs_tps:.2f}x (ours/theirs)",
                f"same tokens: {same}",
                "",
            )
        )
    else:
        hf_note = (
            "- transformers comparison skipped: the package is not installed. Enable it with "
            "`pip install transformers` (optional for the app) and run again."
        )

    other = load.report()
    print("| measure | ours | compared with | ratio | check | target |")
    print("|---|---:|---:|---:|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    if judged:
        print(
            f"- target: the KV cache at least {SPEEDUP_TARGET:g}x the tokens/s of no cache on the ~10M model "
            f"with {new_tokens} new tokens: {'met' if speedup >= SPEEDUP_TARGET else 'NOT met'} ({speedup:.2f}x)"
        )
    else:
        print(f"- target: not judged in a --quick run ({new_tokens} new tokens; the target is for {NEW_TOKENS})")
    if rereads:
        print(
            f"- demo, {new_tokens} new tokens: the text outgrows the {demo_context}-token window, so "
            f"{rereads} of the {new_tokens} steps re-read the last {demo_context} tokens afresh with the "
            f"cache too (positions are numbered from the window's start, so a full cache cannot slide)"
        )
    if hf_note:
        print(hf_note)
    print(f"- {other}")
    share = load.share()
    if share is not None and threads > 1 and share * (os.cpu_count() or 1) > 0.5:
        print(
            f"- note: other processes kept about {share * (os.cpu_count() or 1):.1f} of the "
            f"{os.cpu_count()} cores busy while torch ran {threads} threads; each operation then waits for "
            f"its slowest thread's time slice. Compare a run with --threads 1."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
