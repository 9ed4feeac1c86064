"""Benchmark: the Attention Lab's costs. A forward pass that captures attention against the fused
one, the heatmaps' redraw time, and training's speed with the live attention probe on and off.

One run, on the CPU:

1. **Capture.** ``capture_ids(model, ids)`` (a forward pass with
   ``capture_attention=True``, every weight spelled out, copied to the CPU as
   float32) against the fused path ``model(idx, last_only=True)`` (PyTorch's
   ``scaled_dot_product_attention``), both in eval mode without gradients, on
   the demo model (``models/demo``, context 128: T=128) and on a ~10M-parameter
   GPT-2 style model with random weights and context 512 (T=128, 256, 512).
   Medians of ``--repeats`` interleaved runs after a warm-up. No target: the
   ratio says what a capture costs against the pass the model runs anyway.
2. **Redraw.** In an offscreen Qt window: ``AttentionHeatmap.set_matrix`` with
   a 256×256 matrix, and ``HeadGrid.set_heads`` with 8×8 heads of 64×64 (one
   mosaic image), each timed until the view has painted the new data
   (``processEvents()`` until its viewport got its paint event, then once
   more for the rest of the window); matrices alternate
   between two random causal ones so every redraw draws something new. Also a
   growing text (T=128 → 192, one token more each redraw: what generation does,
   where the axes change too), and the panel's whole path for one training-probe
   record (demo shape, 16 tokens: head statistics, the table, the heatmap).
   Target: p50 ≤ 16 ms (one frame at 60 Hz). And the heatmap when the tokens
   change (256 of them, another text each redraw: labels, axes and the masked
   triangle follow) against a bare pyqtgraph ``ImageItem.setImage`` of the same
   matrix with the same colour map and levels, in a plot of the same size, the
   two alternating. Target: ratio of the p50s ≤ 1.5.
3. **Training with the live probe.** ``TrainingRun(...).steps()`` on the
   ``tiny`` and ``small`` presets (byte-level BPE 2000 on the built-in corpus,
   batch 16, fp32, torch threads = cores - 1 as the app's training job (``core/training_job.py``)
   sets), with a ``LiveProbe`` (default budget: 5% of the time, at most every
   0.25 s) asked after each step exactly as ``playground/core/training_job.py``
   does, against the same run without it. One run serves both sides: blocks of
   ``--steps`` steps alternate (on, off, off, on, ...); the probe's clock counts
   only the "on" blocks, as if it had been on all along. Target: tokens/s with
   the probe ≥ 0.9 × without.

Run from the repository root:

    python benchmarks/attention.py [--repeats 7] [--steps 40] [--threads N] [--skip capture,redraw,training]
"""

from __future__ import annotations

import argparse
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REDRAW_TARGET_MS = 16.0
REDRAW_RATIO_TARGET = 1.5  # the heatmap on new tokens against a bare pyqtgraph ImageItem's setImage
PROBE_TARGET = 0.9
TEN_M = dict(vocab_size=2000, context_length=512, n_layer=6, n_head=6, n_embd=384)


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def percentile(values: list[float], q: float) -> float:
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo, hi = int(k), min(len(xs) - 1, int(k) + 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def interleaved(sides: dict[str, Callable[[], None]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds of each side: warm-ups first, then the sides alternate (ABBA)."""
    for run in sides.values():
        for _ in range(warmup):
            run()
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    order = list(sides)
    for r in range(repeats):
        for name in order if r % 2 == 0 else reversed(order):
            start = time.perf_counter()
            sides[name]()
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in seconds.items()}


# -- 1. capture against the fused forward ------------------------------------------------------


def measure_capture(args) -> list[tuple]:
    import torch

    from playground.core.attention import capture_ids
    from playground.core.checkpoints import load_checkpoint
    from playground.core.config import ModelConfig, parameter_breakdown
    from playground.core.model import GPT
    from playground.paths import demo_model_dir

    models = []
    if demo_model_dir() is not None:
        _, demo = load_checkpoint(demo_model_dir(), device="cpu")
        models.append(("demo", demo, [128]))
    torch.manual_seed(0)
    config = ModelConfig.gpt2_style(**TEN_M)
    models.append(
        (f"~10M ({parameter_breakdown(config).total / 1e6:.1f}M)", GPT.from_config(config).eval(), [128, 256, 512])
    )
    rows = []
    for name, model, lengths in models:
        model.eval()
        cfg = model.config
        for T in lengths:
            ids = torch.randint(0, cfg.vocab_size, (T,), generator=torch.Generator().manual_seed(T))

            def fused(ids=ids, model=model):
                with torch.no_grad():
                    model(ids[None, :], last_only=True)

            def capture(ids=ids, model=model):
                capture_ids(model, ids)

            log(f"capture: {name}, T={T}…")
            got = interleaved({"fused": fused, "capture": capture}, args.repeats)
            size = cfg.n_layer * cfg.n_head * T * T * 4
            rows.append(
                (
                    name,
                    f"{cfg.n_layer}×{cfg.n_head}",
                    T,
                    got["fused"] * 1000,
                    got["capture"] * 1000,
                    got["capture"] / got["fused"],
                    size,
                )
            )
    return rows


# -- 2. redraw --------------------------------------------------------------------------------


def causal(rng, shape):
    import numpy as np

    T = shape[-1]
    scores = rng.standard_normal(shape).astype(np.float32) * 3
    scores[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] = -np.inf
    scores -= scores.max(-1, keepdims=True)
    w = np.exp(scores)
    return (w / w.sum(-1, keepdims=True)).astype(np.float32)


def measure_redraw(args) -> list[tuple]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    from playground.ui.widgets.head_grid import HeadGrid, Tile
    from playground.ui.widgets.heatmap import AttentionHeatmap

    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    rows = []
    ratios: list[tuple[str, str, float]] = []  # (view, baseline, p50 ratio)

    class Paints(QObject):
        """Counts the paint events a view's viewport gets."""

        count = 0

        def eventFilter(self, obj, event):  # noqa: N802
            if event.type() == QEvent.Paint:
                Paints.count += 1
            return False

    counter = Paints()

    def draw_and_paint(widget, draw: Callable[[int], None], i: int) -> None:
        """Set the data, then run the event loop until the view has painted it (the scene batches its
        changes and paints them on the next turn of the loop), and once more for the rest of the window."""
        target = Paints.count + 1
        draw(i)
        widget.viewport().update()
        deadline = time.perf_counter() + 2.0
        while Paints.count < target and time.perf_counter() < deadline:
            app.processEvents()
        app.processEvents()

    def run(label: str, widget, draw: Callable[[int], None], n: int) -> None:
        widget.viewport().installEventFilter(counter)
        for i in range(3):  # warm-up: the first draws lay out the axes and build caches
            draw_and_paint(widget, draw, i)
        times = []
        for i in range(n):
            start = time.perf_counter()
            draw_and_paint(widget, draw, i)
            times.append((time.perf_counter() - start) * 1000)
        widget.viewport().removeEventFilter(counter)
        log(f"redraw: {label}: p50 {percentile(times, 50):.1f} ms")
        rows.append((label, percentile(times, 50), percentile(times, 95), max(times)))

    def run_against(label: str, widget, draw, base_label: str, base, base_draw, n: int) -> None:
        """Two views, their redraws alternating (so both see the same machine); the ratio of the p50s."""
        for w in (widget, base):
            w.viewport().installEventFilter(counter)
        for i in range(3):
            draw_and_paint(widget, draw, i)
            draw_and_paint(base, base_draw, i)
        times: dict[str, list[float]] = {label: [], base_label: []}
        for i in range(n):
            for name, w, d in ((label, widget, draw), (base_label, base, base_draw))[:: 1 if i % 2 == 0 else -1]:
                start = time.perf_counter()
                draw_and_paint(w, d, i)
                times[name].append((time.perf_counter() - start) * 1000)
        for w in (widget, base):
            w.viewport().removeEventFilter(counter)
        for name in (label, base_label):
            rows.append((name, percentile(times[name], 50), percentile(times[name], 95), max(times[name])))
        ratio = percentile(times[label], 50) / percentile(times[base_label], 50)
        log(f"redraw: {label}: p50 {percentile(times[label], 50):.1f} ms, {ratio:.2f}× {base_label}")
        ratios.append((label, base_label, ratio))

    heatmap = AttentionHeatmap()
    heatmap.resize(760, 600)
    heatmap.show()
    tokens = [f"tok{i}" for i in range(256)]
    pair = [causal(rng, (256, 256)), causal(rng, (256, 256))]
    run("heatmap 256×256 (same tokens)", heatmap, lambda i: heatmap.set_matrix(pair[i % 2], tokens), args.redraws)

    # The tokens change (another text of 256 tokens: axes, labels and mask follow), against a bare
    # pyqtgraph ImageItem of the same size given the same matrix with the same colours (the
    # attention colour map, levels 0..1), in the same run: what is left is the heatmap's own cost.
    import pyqtgraph as pg

    from playground.ui.widgets.heatmap import attention_colormap

    texts = [[f"a{i}" for i in range(256)], [f"word{i}" for i in range(256)]]
    bare = pg.GraphicsLayoutWidget()
    bare.resize(760, 600)
    bare_image = pg.ImageItem(axisOrder="row-major")
    bare_image.setLookupTable(attention_colormap().getLookupTable(nPts=256, alpha=True))
    bare.addPlot().addItem(bare_image)
    bare.show()
    run_against(
        "heatmap 256×256, new tokens each redraw",
        heatmap,
        lambda i: heatmap.set_matrix(pair[i % 2], texts[i % 2]),
        "bare pyqtgraph ImageItem.setImage 256×256",
        bare,
        lambda i: bare_image.setImage(pair[i % 2], autoLevels=False, levels=(0.0, 1.0)),
        args.redraws,
    )
    bare.close()

    grown = causal(rng, (192 + 3, 192 + 3))
    words = [f"w{i}" for i in range(192 + 3)]
    run(
        "heatmap growing by a token, T=128→192",
        heatmap,
        lambda i: heatmap.set_matrix(grown[: 128 + i, : 128 + i], words[: 128 + i]),
        64,
    )

    grid = HeadGrid()
    grid.resize(760, 600)
    grid.show()
    tiles = [Tile(layer, head, layer, head) for layer in range(8) for head in range(8)]
    heads = [causal(rng, (8, 8, 64, 64)), causal(rng, (8, 8, 64, 64))]
    labels_r = [f"layer {i}" for i in range(8)]
    labels_c = [f"head {i}" for i in range(8)]
    run(
        "grid of 8×8 heads, 64×64 each",
        grid,
        lambda i: grid.set_heads(heads[i % 2], tiles, 8, 8, row_labels=labels_r, col_labels=labels_c),
        args.redraws,
    )

    # The panel's whole path for one training-probe record (what arrives ~4 times a second).
    import torch

    from playground.core.attention import ProbeRecord
    from playground.engine.session import Session
    from playground.ui.attention_panel import SOURCE_PROBE, AttentionPanel

    session = Session()
    panel = AttentionPanel(session)
    panel.resize(1150, 780)
    panel.show()
    panel.source.setCurrentIndex(SOURCE_PROBE)
    app.processEvents()
    probes = [torch.from_numpy(causal(rng, (4, 4, 16, 16))) for _ in range(2)]
    words16 = [f"p{i}" for i in range(16)]

    def probe(i: int) -> None:
        session.attention_probe.emit(ProbeRecord(step=i, tokens=words16, weights=probes[i % 2]))

    run("panel: one training-probe record (4×4 heads, 16 tokens)", panel.heatmap, probe, args.redraws)
    panel.stop_and_wait()
    for w in (heatmap, grid, panel):
        w.close()
    app.processEvents()
    return rows, ratios


# -- 3. training with and without the live probe -------------------------------------------------


def measure_training(args, preset: str, tok, data, work_dir: Path) -> dict:
    import torch

    from playground.core.attention import LiveProbe
    from playground.core.config import ModelConfig
    from playground.core.training import StepRecord, TrainConfig, TrainingRun
    from playground.engine.session import DEFAULT_PROBE_TEXT

    model_config = ModelConfig.from_preset(preset, tok.vocab_size)
    big = 10**6
    cfg = TrainConfig(
        batch_size=args.batch, max_steps=big, eval_interval=big, sample_interval=0, device="cpu", seed=1337
    )
    run = TrainingRun(model_config, cfg, tok, data, work_dir / f"run-{preset}")
    records = run.steps()
    probe = LiveProbe(tok, DEFAULT_PROBE_TEXT)
    clock = {"on": 0.0}  # seconds spent in "on" blocks: the probe's view of how long training has run
    probes = {"n": 0, "s": 0.0}

    def block(n: int, with_probe: bool) -> float:
        done = 0
        start = time.perf_counter()
        while done < n:
            record = next(records)
            if not isinstance(record, StepRecord):
                continue
            done += 1
            if with_probe:  # as core/training_job.py does after each step
                now = clock["on"] + (time.perf_counter() - start)
                if probe.due(now, now):
                    t = time.perf_counter()
                    probed = probe.probe(run.model, record.step, now)
                    if probed is not None:
                        probes["n"] += 1
                        probes["s"] += time.perf_counter() - t
        seconds = time.perf_counter() - start
        if with_probe:
            clock["on"] += seconds
        return seconds

    log(f"training ({preset}): warming up…")
    block(args.warmup, False)
    block(args.warmup, True)
    probes["n"], probes["s"] = 0, 0.0
    load = OtherLoad()
    on, off = [], []
    for r in range(args.repeats):
        order = (True, False) if r % 2 == 0 else (False, True)
        for with_probe in order:
            (on if with_probe else off).append(block(args.steps, with_probe))
        log(f"  repeat {r + 1}/{args.repeats}: on {on[-1]:.3f} s, off {off[-1]:.3f} s for {args.steps} steps")
    records.close()
    tokens = args.steps * cfg.tokens_per_step(model_config.context_length)
    ratios = [b / a for a, b in zip(on, off)]
    return {
        "preset": preset,
        "config": model_config,
        "tps_on": tokens / statistics.median(on),
        "tps_off": tokens / statistics.median(off),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "probes": probes["n"],
        "probe_ms": 1000 * probes["s"] / max(1, probes["n"]),
        "on_s": sum(on),
        "other_load": load.share(),
        "step_ms": 1000 * statistics.median(off) / args.steps,
        "threads": torch.get_num_threads(),
    }


# -- the report ---------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs or blocks per side (default 7)")
    parser.add_argument("--redraws", type=int, default=60, help="timed redraws per view (default 60)")
    parser.add_argument("--steps", type=int, default=40, help="training steps per timed block (default 40)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed training steps per side (default 5)")
    parser.add_argument("--batch", type=int, default=16, help="training batch size (default 16, the app's)")
    parser.add_argument("--presets", default="tiny,small", help="presets for the probe run (default tiny,small)")
    parser.add_argument("--threads", type=int, help="torch threads (default: cores - 1, as the app's training job)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: capture, redraw, training")
    args = parser.parse_args(argv)
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

    from playground.core.devices import cpu_name

    threads = args.threads or max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(threads)
    print("# Attention Lab benchmark: capture cost, heatmap redraws, training with the live probe\n")
    print(
        f"- device: CPU: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    )
    print(f"- threads: torch.set_num_threads({threads}); medians of {args.repeats} interleaved runs\n", flush=True)
    load = OtherLoad()
    failed = False

    if "capture" not in skip:
        rows = measure_capture(args)
        print("## Forward pass: capturing attention against the fused path\n")
        print("| model | layers×heads | T | fused ms | capture ms | capture / fused | weights captured |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, shape, T, fused, capture, ratio, size in rows:
            print(f"| {name} | {shape} | {T} | {fused:.1f} | {capture:.1f} | {ratio:.2f}× | {size / 2**20:.1f} MiB |")
        print()

    if "redraw" not in skip:
        rows, ratios = measure_redraw(args)
        print("## Redraw (offscreen Qt: set the data, run the event loop until the view has painted it)\n")
        print(f"| view | p50 ms | p95 ms | max ms | p50 ≤ {REDRAW_TARGET_MS:.0f} ms |")
        print("|---|---:|---:|---:|---|")
        for label, p50, p95, worst in rows:
            ok = p50 <= REDRAW_TARGET_MS
            failed |= not ok
            print(f"| {label} | {p50:.1f} | {p95:.1f} | {worst:.1f} | {mark(ok)} |")
        print()
        print("Against a baseline redrawn in the same run, alternating (ratio of the p50s):\n")
        print(f"| view | baseline | ratio | ≤ {REDRAW_RATIO_TARGET}× |")
        print("|---|---|---:|---|")
        for label, base, ratio in ratios:
            ok = ratio <= REDRAW_RATIO_TARGET
            failed |= not ok
            print(f"| {label} | {base} | {ratio:.2f}× | {mark(ok)} |")
        print()

    if "training" not in skip:
        from playground.core.corpus import default_corpus
        from playground.core.data import encode_corpus, split_tokens
        from playground.core.progress import run_quietly
        from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process

        log("training: a BPE tokenizer and the corpus's ids…")
        corpus = default_corpus()
        spec = spec_for_kind("bpe", vocab_size=2000)
        tok = LoadedTokenizer(run_quietly(train_in_process(corpus, spec)), name="bpe-2000", spec=spec)
        data = split_tokens(run_quietly(encode_corpus(corpus, tok)), 0.1)
        results = [measure_training(args, p.strip(), tok, data, work_dir) for p in args.presets.split(",") if p]
        print("## Training with the live attention probe (default budget 5%, at most every 0.25 s)\n")
        print(
            "| preset | step | probe on, tokens/s | probe off, tokens/s | on / off | probes (cost each) "
            f"| on / off ≥ {PROBE_TARGET} |"
        )
        print("|---|---:|---:|---:|---:|---:|---|")
        for r in results:
            c = r["config"]
            ok = r["ratio"] >= PROBE_TARGET
            failed |= not ok
            print(
                f"| {r['preset']} ({c.n_layer}×{c.n_head}×{c.n_embd}, ctx {c.context_length}) | "
                f"{r['step_ms']:.0f} ms | {r['tps_on']:,.0f} | {r['tps_off']:,.0f} | {r['ratio']:.3f} "
                f"({r['ratio_min']:.2f}–{r['ratio_max']:.2f}) | {r['probes']} in {r['on_s']:.0f} s "
                f"({r['probe_ms']:.1f} ms) | {mark(ok)} |"
            )
        print()
    print(f"- {load.report()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
