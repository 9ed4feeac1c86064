"""Benchmark: an encoder's masked-LM training and its pseudo-perplexity, each against bare PyTorch.

One run, on one device, with a BERT-style model of a Build preset and a
WordPiece tokenizer (which has [MASK], [CLS], [SEP], [PAD], [UNK]) trained on
the built-in corpus:

1. **MLM training speed.** Tokens per second of the app's trainer
   (``TrainingRun.steps()`` with the masked-LM objective: windows between
   [CLS] and [SEP], 15% of the positions chosen, 80/10/10) against a bare
   PyTorch MLM loop: the same model config and seed, the same batch (size and
   shape, random windows from a CPU generator), BERT's masking written out in
   a few tensor operations, AdamW with the same parameter groups and settings,
   the same gradient clipping and thread count. Both are warmed up, then
   blocks of ``--steps`` steps alternate ``--repeats`` times; medians.
   Target: app / bare >= 0.95.
2. **Pseudo-perplexity time.** ``masked_eval.pseudo_perplexity_on_ids`` on the
   first ``--ppl-tokens`` tokens of the validation split against the same
   computation batched by hand: the same windows, one row per token with that
   token hidden, ``--ppl-batch`` rows a forward pass, the hidden token's
   cross-entropy summed. Both must give the same pseudo-perplexity; the runs
   alternate ``--repeats`` times; medians. Target: bare time / app time >= 0.9.

Run from the repository root:

    python benchmarks/encoder.py [--preset small] [--steps N] [--batch 16] [--repeats R] [--threads T]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

from machine_load import OtherLoad  # benchmarks/ is on sys.path when run as a script
from training import BareLoop, bench_train_config, mark, sync

SPEED_TARGET = 0.95  # the app's MLM tokens/s at least this share of the bare loop's
PPL_TARGET = 0.9  # the app's pseudo-perplexity at least this share of the hand-batched speed


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


# -- 1. MLM training ------------------------------------------------------------------------


class BareMaskedLoop(BareLoop):
    """`BareLoop` (same model, optimizer, clipping) with BERT's masked-LM batch written out plainly."""

    def __init__(self, model_config, train_config, data, device, tokens) -> None:
        import numpy as np
        import torch

        super().__init__(model_config, train_config, data, device)
        self.window = model_config.context_length - 2  # [CLS] window [SEP]
        self.ids = torch.from_numpy(np.asarray(data.train).astype(np.int64))
        self.offsets = torch.arange(self.window)
        self.cls, self.sep, self.mask = tokens.cls, tokens.sep, tokens.mask
        self.ordinary = torch.tensor(tokens.ordinary, dtype=torch.long)
        self.share = train_config.mask_share

    def batch(self):
        torch, B = self.torch, self.cfg.batch_size
        starts = torch.randint(len(self.ids) - self.window + 1, (B,), generator=self.generator)
        x = torch.cat(
            [
                torch.full((B, 1), self.cls, dtype=torch.long),
                self.ids[starts[:, None] + self.offsets],
                torch.full((B, 1), self.sep, dtype=torch.long),
            ],
            dim=1,
        )
        chosen = torch.rand(x.shape, generator=self.generator) < self.share
        chosen[:, 0] = chosen[:, -1] = False  # never [CLS] or [SEP]
        labels = torch.where(chosen, x, -100)
        roll = torch.rand(x.shape, generator=self.generator)
        random_ids = self.ordinary[torch.randint(len(self.ordinary), x.shape, generator=self.generator)]
        x = torch.where(chosen & (roll < 0.8), self.mask, x)
        x = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, x)
        return x.to(self.device), labels.to(self.device)

    def step(self) -> float:
        x, y = self.batch()
        loss = self.model(x, y).loss
        loss.backward()
        self.torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip if self.cfg.grad_clip > 0 else math.inf)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return loss.item()


def timed(fn: Callable[[int], None], n: int, device) -> float:
    sync(device)
    start = time.perf_counter()
    fn(n)
    sync(device)
    return time.perf_counter() - start


def measure_training(args, model_config, tok, data, tokens, work_dir: Path) -> dict:
    from playground.core.training import StepRecord, TrainingRun

    cfg = bench_train_config(args)
    run = TrainingRun(model_config, cfg, tok, data, work_dir / "mlm-run")
    records = run.steps()
    bare = BareMaskedLoop(model_config, cfg, data, run.device, tokens)

    def app_steps(n: int) -> None:
        done = 0
        while done < n:
            record = next(records)
            if isinstance(record, StepRecord):
                done += 1
            elif done or run.step:  # only the evaluation before the first step may come
                raise RuntimeError(f"a {type(record).__name__} fired inside the timed steps")

    def bare_steps(n: int) -> None:
        for _ in range(n):
            bare.step()

    log(f"MLM training: warming up ({args.warmup} steps each)…")
    timed(app_steps, args.warmup, run.device)
    timed(bare_steps, args.warmup, run.device)
    load = OtherLoad()
    app_t, bare_t = [], []
    for r in range(args.repeats):
        order = (("app", app_steps), ("bare", bare_steps))
        got = {name: timed(fn, args.steps, run.device) for name, fn in (order[::-1] if r % 2 else order)}
        app_t.append(got["app"])
        bare_t.append(got["bare"])
        log(f"  repeat {r + 1}/{args.repeats}: app {got['app']:.3f} s, bare {got['bare']:.3f} s")
    other = load.share()
    records.close()
    tokens_per_block = args.steps * cfg.tokens_per_step(model_config.context_length)
    ratios = [b / a for a, b in zip(app_t, bare_t)]
    return {
        "app_tps": tokens_per_block / statistics.median(app_t),
        "bare_tps": tokens_per_block / statistics.median(bare_t),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "other_load": other,
    }


# -- 2. pseudo-perplexity -------------------------------------------------------------------


def hand_batched_pseudo_perplexity(model, ids: list[int], tokens, batch_size: int) -> tuple[float, int]:
    """(total NLL, rows): every token hidden alone in its window, `batch_size` rows a forward pass."""
    import torch
    from torch.nn import functional as F

    room = model.config.context_length - 2
    windows = [[tokens.cls, *ids[s : s + room], tokens.sep] for s in range(0, len(ids), room)]
    width = max(len(w) for w in windows)
    padded = torch.full((len(windows), width), tokens.pad, dtype=torch.long)
    real = torch.zeros((len(windows), width), dtype=torch.long)
    for i, w in enumerate(windows):
        padded[i, : len(w)] = torch.tensor(w)
        real[i, : len(w)] = 1
    # Rows: (window, position) of every token but the special ones ([CLS], [SEP], an [UNK] in the text).
    special = set(tokens.special)
    rows = [(i, p) for i, w in enumerate(windows) for p, t in enumerate(w) if t not in special]
    window_of = torch.tensor([i for i, _ in rows])
    position_of = torch.tensor([p for _, p in rows])
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            win, pos = window_of[start : start + batch_size], position_of[start : start + batch_size]
            r = torch.arange(len(win))
            x = padded[win]
            targets = x[r, pos].clone()
            x[r, pos] = tokens.mask
            logits = model(x, attention_mask=real[win]).logits
            total += float(F.cross_entropy(logits[r, pos], targets, reduction="sum"))
    return total, len(rows)


def measure_pseudo_perplexity(args, model_config, tok, data, tokens) -> dict:
    import torch

    from playground.core.masked_eval import pseudo_perplexity_on_ids
    from playground.core.model import GPT
    from playground.core.progress import run_quietly

    torch.manual_seed(args.seed)
    model = GPT.from_config(model_config).eval()
    ids = [int(i) for i in data.val[: args.ppl_tokens]]
    text = tok.decode(ids)

    def app() -> float:
        return run_quietly(pseudo_perplexity_on_ids(model, ids, tok, args.ppl_batch, text)).total_nll

    def bare() -> float:
        return hand_batched_pseudo_perplexity(model, ids, tokens, args.ppl_batch)[0]

    log("pseudo-perplexity: warming up…")
    app_nll, (bare_nll, rows) = app(), hand_batched_pseudo_perplexity(model, ids, tokens, args.ppl_batch)
    load = OtherLoad()
    app_t, bare_t = [], []
    for r in range(args.repeats):
        order = (("app", app), ("bare", bare))
        got = {}
        for name, fn in order[::-1] if r % 2 else order:
            start = time.perf_counter()
            fn()
            got[name] = time.perf_counter() - start
        app_t.append(got["app"])
        bare_t.append(got["bare"])
        log(f"  repeat {r + 1}/{args.repeats}: app {got['app']:.3f} s, by hand {got['bare']:.3f} s")
    ratios = [b / a for a, b in zip(app_t, bare_t)]
    return {
        "app_s": statistics.median(app_t),
        "bare_s": statistics.median(bare_t),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "rows": rows,
        "same": math.isclose(app_nll, bare_nll, rel_tol=1e-4),
        "ppl": math.exp(app_nll / rows),
        "other_load": load.share(),
    }


# -- the run --------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", help="the Build panel's preset (default small)")
    parser.add_argument("--batch", type=int, default=16, help="batch size (default 16, the app's)")
    parser.add_argument("--steps", type=int, default=10, help="training steps per timed block (default 10)")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks per side, interleaved (default 5)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps per side first (default 3)")
    parser.add_argument("--vocab-size", type=int, default=2000, help="WordPiece vocabulary (default 2000)")
    parser.add_argument("--ppl-tokens", type=int, default=1000, help="validation tokens scored (default 1000)")
    parser.add_argument("--ppl-batch", type=int, default=32, help="pseudo-perplexity rows a pass (default 32)")
    parser.add_argument("--threads", type=int, help="torch threads (default: cores - 1, as the app)")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: training, ppl")
    args = parser.parse_args(argv)
    args.device, args.precision = "cpu", "fp32"
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    work_dir = Path(tempfile.mkdtemp(prefix="playground-bench-"))
    os.environ["XDG_DATA_HOME"] = str(work_dir / "data")
    os.environ["XDG_CONFIG_HOME"] = str(work_dir / "config")
    try:
        return run(args, skip, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def run(args, skip: set[str], work_dir: Path) -> int:
    import torch

    from playground.core.config import ModelConfig, parameter_breakdown
    from playground.core.corpus import default_corpus
    from playground.core.data import encode_corpus, split_tokens
    from playground.core.devices import cpu_name
    from playground.core.masking import encoder_tokens
    from playground.core.progress import run_quietly
    from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process

    threads = args.threads or max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(threads)
    corpus = default_corpus()
    spec = spec_for_kind("wordpiece", vocab_size=args.vocab_size)
    tok = LoadedTokenizer(run_quietly(train_in_process(corpus, spec)), name=f"wordpiece-{args.vocab_size}", spec=spec)
    tokens = encoder_tokens(tok)
    ids = run_quietly(encode_corpus(corpus, tok))
    data = split_tokens(ids, 0.1)
    model_config = ModelConfig.from_preset(args.preset, tok.vocab_size, flavour="bert")

    print("# Encoder benchmark: masked-LM training and pseudo-perplexity vs bare PyTorch\n")
    print(
        f"- device: CPU: {cpu_name()}, {os.cpu_count()} cores, torch.set_num_threads({threads}); "
        f"torch {torch.__version__}, Python {platform.python_version()}"
    )
    print(
        f"- model: preset {args.preset!r}, bert, {model_config.n_layer} layers x {model_config.n_head} heads x "
        f"{model_config.n_embd} wide, context {model_config.context_length}, vocab {model_config.vocab_size:,}, "
        f"{parameter_breakdown(model_config).total:,} parameters"
    )
    print(
        f"- data: built-in corpus, WordPiece {tok.vocab_size:,}, {len(ids):,} tokens; training batch {args.batch}; "
        f"{args.repeats} interleaved repeats per side, medians\n",
        flush=True,
    )
    rows = []
    if "training" not in skip:
        t = measure_training(args, model_config, tok, data, tokens, work_dir)
        rows.append(
            (
                f"MLM training speed, tokens/s ({args.steps} steps a block)",
                f"app {t['app_tps']:,.0f}",
                f"bare MLM loop {t['bare_tps']:,.0f}",
                f"{t['ratio']:.3f} {mark(t['ratio'] >= SPEED_TARGET)} "
                f"(blocks {t['ratio_min']:.2f} to {t['ratio_max']:.2f})",
                f"app/bare ≥ {SPEED_TARGET}",
                t["other_load"],
            )
        )
    if "ppl" not in skip:
        p = measure_pseudo_perplexity(args, model_config, tok, data, tokens)
        rows.append(
            (
                f"pseudo-perplexity, {p['rows']:,} tokens hidden one at a time, {args.ppl_batch} a pass",
                f"app {p['app_s']:.2f} s",
                f"batched by hand {p['bare_s']:.2f} s",
                f"{p['ratio']:.3f} {mark(p['ratio'] >= PPL_TARGET)} "
                f"(repeats {p['ratio_min']:.2f} to {p['ratio_max']:.2f}); same result: {'yes' if p['same'] else 'NO'}",
                f"by hand / app time ≥ {PPL_TARGET}",
                p["other_load"],
            )
        )
    print("| measure | app | compared with | ratio | target |")
    print("|---|---:|---:|---:|---|")
    for measure, app, other, ratio, target, _ in rows:
        print(f"| {measure} | {app} | {other} | {ratio} | {target} |")
    for measure, *_, load in rows:
        if load is not None:
            print(f"\n- other processes' CPU use while measuring {measure.split(',')[0]}: {load:.0%} of the machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
