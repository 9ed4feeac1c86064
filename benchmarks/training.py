"""Benchmark: the app's training against a bare PyTorch loop, the window while it
trains, and memory against the Build panel's estimate.

One run, on one device and one model configuration (a preset of the Build
panel, with the vocabulary of a byte-level BPE tokenizer trained on the
built-in corpus):

1. **Speed.** Tokens per second of the app's trainer
   (``TrainingRun.steps()``, each ``StepRecord`` timed from the moment it is
   asked for, with evaluations, samples and checkpoints set so that none
   falls in the timed steps) against a minimal PyTorch loop: the same model
   config and seed, the same ``get_batch``, AdamW with the same parameter
   groups and settings, the same gradient clipping, the same thread count and
   device. Both are warmed up first; then blocks of ``--steps`` steps
   alternate (app, bare, bare, app, ...) ``--repeats`` times, and the table
   shows the medians. Target: app / bare >= 0.95.
2. **Window responsiveness.** In a fresh process, as a newly started app, the
   real ``MainWindow`` (offscreen Qt), with the corpus, tokenizer and the Build
   panel's preset and batch set as a person would, shows
   the Train step; a ``QTimer`` ticking every ``--interval-ms`` records the
   gaps between ticks (stall = gap - interval), first for ``--gui-seconds``
   with nothing running (the baseline), then for ``--gui-seconds`` after
   pressing Start training in the panel (which encodes the corpus, builds the
   model and trains in the app's training job (``core/training_job.py``), evaluating, sampling
   and saving every ``--gui-eval-interval`` steps, with Steps set to
   ``--gui-max-steps``). Stalls before and after the first step arrives are
   reported apart. Target: p99 < 50 ms.
3. **Memory.** In a fresh process: import torch and the app, load the token
   ids (and build one throwaway AdamW: its first construction imports
   ``torch._dynamo``, ~65 MiB, once per process), then read the resident set
   (RSS), reset the kernel's high-water mark and train ``--mem-steps`` steps
   with ``TrainingRun``; the peak RSS increase is compared with
   ``memory_estimate(config, batch, precision, device=...)``, the number the
   Build panel shows. The same for the bare loop, in another fresh process,
   and (a diagnostic) for the app with glibc's mmap threshold fixed at 64 KiB,
   so that the RSS follows the live tensors. On a CUDA GPU
   ``torch.cuda.max_memory_allocated`` is used instead, and model FLOPs
   utilisation (MFU) is printed. Target: within 25%.

Run from the repository root:

    python benchmarks/training.py [--preset small] [--steps N] [--batch 16] [--repeats R]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

from machine_load import OtherLoad  # benchmarks/ is on sys.path when run as a script

SPEED_TARGET = 0.95  # the app's tokens/s at least this share of the bare loop's
STALL_TARGET_MS = 50  # p99 of the window's event-loop stalls while training
MEMORY_TARGET = 0.25  # the measured increase within this share of the estimate

# Dense peak TFLOP/s by GPU and the precision its matmuls run in, used for MFU
# when --peak-tflops is not given. From the vendor's data sheets.
GPU_PEAK_TFLOPS = {
    "H100 PCIe": {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0},
    "H100": {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4},  # SXM
    "H200": {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4},
    "A100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0},
}


# -- small helpers ---------------------------------------------------------------


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the nearest ranks."""
    if not values:
        return math.nan
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def proc_status() -> dict[str, int]:
    """The kB fields of /proc/self/status (VmRSS, VmHWM, RssAnon, RssFile, ...) in bytes."""
    out = {}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if len(parts) == 2 and parts[1] == "kB":
                    out[key] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


def reset_peak_rss() -> bool:
    """Set the kernel's high-water mark (VmHWM) to the current RSS (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


# -- the setting both sides share ----------------------------------------------------


def bench_train_config(args, max_steps: int = 10**6):
    """The app's TrainConfig for the timed runs: nothing but steps fires in the timed window.

    `steps()` evaluates once before the first step (not timed) and then at every
    `eval_interval` and at `max_steps`: both far beyond the steps run here.
    """
    from playground.core.training import TrainConfig

    return TrainConfig(
        batch_size=args.batch,
        max_steps=max_steps,
        eval_interval=max_steps,
        sample_interval=0,
        device=args.device,
        precision=args.precision,
        seed=args.seed,
    )


class BareLoop:
    """nanoGPT's training loop, as plainly as PyTorch allows, with the app's settings.

    The same model (config and seed), the same batches (`get_batch` with a CPU
    generator of the same seed), AdamW with weight decay on the matrices only and
    the same betas, eps and fused flag, gradient clipping at the same norm, and
    one read of the loss per step (the sync any loop that reports a loss makes).
    """

    def __init__(self, model_config, train_config, data, device) -> None:
        import torch

        from playground.core.model import GPT
        from playground.core.training import BETAS, resolve_precision

        self.torch = torch
        self.cfg, self.T, self.data, self.device = train_config, model_config.context_length, data, device
        self.precision, _ = resolve_precision(train_config.precision, device)
        torch.manual_seed(train_config.seed)
        self.model = GPT.from_config(model_config, device=device).train()
        params = list(self.model.parameters())
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": train_config.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        extra = {"fused": True} if device.type == "cuda" else {}
        self.opt = torch.optim.AdamW(groups, lr=train_config.learning_rate, betas=BETAS, eps=1e-8, **extra)
        self.params = params
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.generator = torch.Generator().manual_seed(train_config.seed)
        self.n = 0

    def step(self) -> float:
        from playground.core.data import get_batch

        torch, cfg = self.torch, self.cfg
        x, y = get_batch(self.data.train, cfg.batch_size, self.T, self.generator, self.device)
        if self.precision == "fp32":
            loss = self.model(x, y).loss
        else:
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
            with torch.autocast(device_type=self.device.type, dtype=dtype):
                loss = self.model(x, y).loss
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip if cfg.grad_clip > 0 else math.inf)
        if self.scaler is not None:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.n += 1
        return loss.item()


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- 1. speed ---------------------------------------------------------------------------


def measure_speed(args, model_config, tok, data, device, work_dir: Path) -> dict:
    from playground.core.training import StepRecord, TrainingRun

    cfg = bench_train_config(args)
    tokens_per_step = cfg.tokens_per_step(model_config.context_length)
    run = TrainingRun(model_config, cfg, tok, data, work_dir / "speed-run")
    records = run.steps()
    bare = BareLoop(model_config, cfg, data, run.device)

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

    def timed(fn: Callable[[int], None], n: int) -> float:
        sync(device)
        start = time.perf_counter()
        fn(n)
        sync(device)
        return time.perf_counter() - start

    # Warm-up, not timed: the first steps allocate, and the first optimizer step
    # and the first backward pass import and initialise parts of torch.
    log(f"speed: warming up ({args.warmup} steps each)…")
    w_app, w_bare = timed(app_steps, args.warmup), timed(bare_steps, args.warmup)
    log(f"  warm-up: app {w_app:.2f} s, bare {w_bare:.2f} s")

    load = OtherLoad()
    app_t, bare_t = [], []
    for r in range(args.repeats):
        order = (("app", app_steps), ("bare", bare_steps))
        if r % 2:
            order = order[::-1]
        got = {}
        for name, fn in order:
            got[name] = timed(fn, args.steps)
        app_t.append(got["app"])
        bare_t.append(got["bare"])
        log(
            f"  repeat {r + 1}/{args.repeats}: app {got['app']:.3f} s, bare {got['bare']:.3f} s "
            f"for {args.steps} steps (app/bare speed {got['bare'] / got['app']:.3f})"
        )
    other = load.share()
    tokens = args.steps * tokens_per_step
    app_tps = [tokens / t for t in app_t]
    bare_tps = [tokens / t for t in bare_t]
    ratios = [b / a for a, b in zip(app_t, bare_t)]
    records.close()
    return {
        "app_tps": statistics.median(app_tps),
        "bare_tps": statistics.median(bare_tps),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "other_load": other,
        "tokens_per_step": tokens_per_step,
        "app_step_ms": 1000 * statistics.median(app_t) / args.steps,
        "bare_step_ms": 1000 * statistics.median(bare_t) / args.steps,
    }


# -- 2. the window ------------------------------------------------------------------------


def measure_gui(args, tok, work_dir: Path) -> dict:
    """Run `gui_child` in a fresh process, as a freshly started app: nothing of torch's
    training machinery imported yet (the first optimizer's import happens in the run)."""
    tok_path = work_dir / "tokenizer-gui.json"
    tok.save(tok_path)
    spec_path = work_dir / "gui.json"
    spec_path.write_text(
        json.dumps({"args": {k: v for k, v in vars(args).items() if k != "tokenizer"}, "tokenizer": str(tok_path)})
    )
    log(
        f"gui: a fresh process: idle baseline for {args.gui_seconds:.0f} s, then training for {args.gui_seconds:.0f} s…"
    )
    done = subprocess.run(
        [sys.executable, __file__, "--gui-child", str(spec_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("GUI ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the window's process failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1][len("GUI ") :])


def gui_child(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    args = argparse.Namespace(**spec["args"])
    from playground.core.config import ModelConfig
    from playground.core.corpus import default_corpus, scan_corpus
    from playground.core.progress import run_quietly
    from playground.core.tokenization import open_tokenizer

    tok = open_tokenizer(spec["tokenizer"])
    corpus = default_corpus()
    stats = run_quietly(scan_corpus(corpus))
    model_config = ModelConfig.from_preset(args.preset, tok.vocab_size)
    result = _measure_gui(args, corpus, stats, tok, model_config)
    print("GUI " + json.dumps(result), flush=True)
    return 0


def _measure_gui(args, corpus, stats, tok, model_config) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from playground.app import make_application
    from playground.core.devices import detect_device
    from playground.core.startup import warm_up_training
    from playground.core.training import StepRecord
    from playground.core.training_job import StepBatch
    from playground.engine.jobs import Job
    from playground.engine.session import Session
    from playground.ui.main_window import MainWindow

    app = make_application(["llm-playground-benchmark"])
    session = Session()
    window = MainWindow(session)
    window.show()
    session.set_device(detect_device())
    warm_up_training()  # as the app's start-up job does right after torch loads (torch._dynamo)
    session.set_corpus(corpus, stats)
    session.add_tokenizer(tok)
    build = window.build_panel
    build.set_preset(args.preset)
    build.batch_size.setValue(args.batch)
    build.precision.setCurrentIndex(build.precision.findData(args.precision))
    if session.model_config != model_config or not session.model_config_ok:
        raise RuntimeError(f"the Build panel made {session.model_config}, not {model_config}")
    panel = window.training_panel
    window.steps.setCurrentRow(window.panels.index(panel))

    def spin(seconds: float, until: Callable[[], bool] = lambda: False) -> None:
        loop = QEventLoop()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            loop.processEvents(QEventLoop.AllEvents, 50)

    spin(10, lambda: panel.plots_ready)
    if not panel.plots_ready:
        raise RuntimeError("the Train panel never drew its plots")
    panel.batch.setValue(args.batch)
    panel.steps.setValue(args.gui_max_steps)
    panel.eval_interval.setValue(args.gui_eval_interval)
    panel.sample_interval.setValue(args.gui_eval_interval)
    panel.device.setCurrentIndex(panel.device.findData(args.device))
    panel.precision.setCurrentIndex(panel.precision.findData(args.precision))
    spin(0.5)

    interval_ms = args.interval_ms

    def sample_ticks(seconds: float) -> list[float]:
        """perf_counter() at every tick of a precise timer, for `seconds` of a running event loop."""
        ticks: list[float] = []
        timer = QTimer()
        timer.setTimerType(Qt.PreciseTimer)
        timer.setInterval(interval_ms)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        timer.start()
        loop.exec()
        timer.stop()
        return ticks

    def stalls(ticks: list[float], after: float = -math.inf, before: float = math.inf) -> list[float]:
        return [1000 * (b - a) - interval_ms for a, b in zip(ticks, ticks[1:]) if after <= a and b <= before]

    idle = stalls(sample_ticks(args.gui_seconds))

    steps: list[tuple[float, object]] = []  # (arrival time, StepRecord)
    kinds: dict[str, int] = {}

    def on_record(record) -> None:
        now = time.perf_counter()
        if isinstance(record, StepBatch):
            steps.extend((now, r) for r in record.records)
        else:
            name = type(record).__name__ if not isinstance(record, tuple) else str(record[0])
            kinds[name] = kinds.get(name, 0) + 1

    clicked = time.perf_counter()
    job = panel.start()
    if job is None:
        raise RuntimeError("the Train panel did not start: " + panel.ready_label.text())
    job.partial.connect(on_record)
    worker_threads: list[int] = []  # torch's thread count as the training thread sees it

    def in_worker(_record) -> None:
        if not worker_threads:
            worker_threads.append(_torch_threads())

    job.partial.connect(in_worker, Qt.DirectConnection)
    phases: list[tuple[float, str]] = []  # (arrival, progress message): what the run was doing
    job.progress.connect(lambda p: phases.append((time.perf_counter(), p.message)))
    ticks = sample_ticks(args.gui_seconds)
    panel.stop()
    spin(60, lambda: panel.job is None)
    if panel.job is not None:
        raise RuntimeError("training did not stop within 60 s of pressing Stop")
    first_step = steps[0][0] if steps else math.inf
    startup = stalls(ticks, before=first_step)
    # When the longest stall before the first step ended, and the last progress message before it.
    longest = max(((b - a, b) for a, b in zip(ticks, ticks[1:]) if b <= first_step), default=None)
    longest_startup = None
    if longest is not None:
        before = [m for t, m in phases if t <= longest[1]]
        longest_startup = {
            "ms": 1000 * longest[0] - interval_ms,
            "at_s": longest[1] - clicked,
            "phase": before[-1] if before else "before the first progress message",
        }
    training = stalls(ticks, after=first_step)
    # Training speed inside the window, from step records after the first one.
    records = [r for _, r in steps if isinstance(r, StepRecord)]
    gui_tps = None
    timed_steps = [r for r in records if r.step > 1]
    if len(timed_steps) >= 2:
        tokens = args.batch * model_config.context_length
        gui_tps = tokens * len(timed_steps) / sum(r.step_time_s for r in timed_steps)
    estimate_panel = build.memory()
    window.close()
    Job.cancel_all()
    app.processEvents()
    return {
        "torch_threads": worker_threads[0] if worker_threads else None,
        "idle": idle,
        "startup": startup,
        "training": training,
        "startup_s": first_step - clicked if steps else None,
        "longest_startup": longest_startup,
        "steps": len(records),
        "records": kinds,
        "gui_tps": gui_tps,
        "panel_estimate_total": estimate_panel.total,
    }


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


# -- 3. memory (in a fresh process) ----------------------------------------------------------


def memory_child(spec_path: str) -> int:
    """Run in a fresh process: baseline after imports and data, then train and report the peak."""
    spec = json.loads(Path(spec_path).read_text())
    import numpy as np
    import torch

    from playground.core.config import ModelConfig
    from playground.core.data import split_tokens
    from playground.core.tokenization import open_tokenizer
    from playground.core.training import StepRecord, TrainConfig, TrainingRun, resolve_device

    torch.set_num_threads(spec["threads"])
    model_config = ModelConfig.from_dict(spec["model_config"])
    train_config = TrainConfig.from_dict(spec["train_config"])
    tok = open_tokenizer(spec["tokenizer"])
    data = split_tokens(np.load(spec["ids"]), train_config.val_fraction)
    device = resolve_device(train_config.device)
    # Constructing the first optimizer imports torch._dynamo (and sympy): ~2 s and ~65 MiB
    # of Python modules, once per process, whatever the model. That is importing torch, not
    # training, so it belongs to the baseline; its size is reported on its own.
    anon = proc_status().get("RssAnon", 0)
    torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
    lazy_import = proc_status().get("RssAnon", 0) - anon
    gc.collect()

    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.init()
        torch.cuda.reset_peak_memory_stats(device)
    before = proc_status()
    reset = reset_peak_rss()
    cuda_before = torch.cuda.memory_allocated(device) if cuda else 0

    built = None
    if spec["side"] == "app":
        run = TrainingRun(model_config, train_config, tok, data, spec["run_dir"])
        built = proc_status()
        done = 0
        for record in run.steps():
            if isinstance(record, StepRecord):
                done += 1
                if done == spec["steps"]:
                    break
    else:
        bare = BareLoop(model_config, train_config, data, device)
        built = proc_status()
        for _ in range(spec["steps"]):
            bare.step()
    sync(device)
    after = proc_status()
    out = {
        "side": spec["side"],
        "reset": reset,
        "lazy_import": lazy_import,
        "rss_before": before.get("VmRSS"),
        "hwm_before": before.get("VmHWM"),
        "rss_built": built.get("VmRSS"),
        "rss_after": after.get("VmRSS"),
        "hwm_after": after.get("VmHWM"),
        "file_before": before.get("RssFile"),
        "file_after": after.get("RssFile"),
        "anon_before": before.get("RssAnon"),
        "anon_after": after.get("RssAnon"),
        "cuda_peak": (torch.cuda.max_memory_allocated(device) - cuda_before) if cuda else None,
        "cuda_reserved": torch.cuda.max_memory_reserved(device) if cuda else None,
    }
    print("MEMORY " + json.dumps(out), flush=True)
    return 0


def measure_memory(args, model_config, tok, ids, threads: int, work_dir: Path) -> dict:
    import numpy as np

    tok_path, ids_path = work_dir / "tokenizer.json", work_dir / "ids.npy"
    tok.save(tok_path)
    np.save(ids_path, ids)
    results = {}
    runs = [("app", "app", {}), ("bare", "bare", {})]
    if device_type(args) == "cpu" and platform.libc_ver()[0] == "glibc" and "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        # Diagnostic: glibc's malloc raises its mmap threshold (up to 32 MiB) each time a large
        # block is freed, after which blocks below it come from the heap and stay there once
        # freed. Fixing the threshold at 64 KiB maps every tensor of 64 KiB or more on its own
        # and unmaps it when freed, so the RSS follows the live tensors.
        runs.append(("app-mmap", "app", {"MALLOC_MMAP_THRESHOLD_": "65536"}))
    for key, side, env in runs:
        spec = {
            "side": side,
            "threads": threads,
            "steps": args.mem_steps,
            "model_config": model_config.to_dict(),
            "train_config": bench_train_config(args).to_dict(),
            "tokenizer": str(tok_path),
            "ids": str(ids_path),
            "run_dir": str(work_dir / f"memory-run-{key}"),
        }
        spec_path = work_dir / f"memory-{key}.json"
        spec_path.write_text(json.dumps(spec))
        log(f"memory: {key} in a fresh process ({args.mem_steps} steps)…")
        done = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(spec_path)],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, **env},
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("MEMORY ")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"the memory child ({key}) failed:\n{done.stdout}\n{done.stderr}")
        results[key] = json.loads(lines[-1][len("MEMORY ") :])
    return results


# -- the report ---------------------------------------------------------------------------------


def device_type(args) -> str:
    from playground.core.training import resolve_device

    return resolve_device(args.device).type


def peak_tflops(args, device, precision: str) -> tuple[Optional[float], str]:
    if args.peak_tflops:
        return args.peak_tflops, "--peak-tflops"
    if device.type != "cuda":
        return None, ""
    import torch

    name = torch.cuda.get_device_name(device)
    kind = precision
    if precision == "fp32" and torch.backends.cuda.matmul.allow_tf32:
        kind = "tf32"
    for key, table in GPU_PEAK_TFLOPS.items():  # "H100 PCIe" before "H100"
        if all(word in name for word in key.split()):
            return table[kind], f"{key} dense {kind} peak from its data sheet"
    return None, ""


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", help="the Build panel's preset (default small)")
    parser.add_argument("--batch", type=int, default=16, help="batch size (default 16, the app's)")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block (default 20)")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks per side, interleaved (default 5)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per side first (default 3)")
    parser.add_argument("--vocab-size", type=int, default=2000, help="BPE vocabulary (default 2000, the app's)")
    parser.add_argument("--tokenizer", type=Path, help="a tokenizer.json to use instead of training one")
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "mps", "cpu"))
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads for the speed and memory runs (default: cores - 1, as the app's "
        "training job sets; the window's run always uses the app's own setting)",
    )
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument(
        "--gui-seconds",
        type=float,
        default=15.0,
        help="seconds of idle baseline, then of training, in the window (default 15)",
    )
    parser.add_argument(
        "--gui-eval-interval",
        type=int,
        default=10,
        help="evaluate, save and sample every N steps in the window's run (default 10, so that "
        "they happen while measuring; the app's default is 50 and 100)",
    )
    parser.add_argument(
        "--gui-max-steps",
        type=int,
        default=500,
        help="the Train panel's Steps for the window's run (default 500, the app's); the "
        "learning-rate plot draws one point per step",
    )
    parser.add_argument("--interval-ms", type=int, default=5, help="the probe timer's interval (default 5)")
    parser.add_argument("--mem-steps", type=int, default=6, help="steps in each memory run (default 6)")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's peak TFLOP/s for MFU (CUDA only)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: speed, gui, memory")
    parser.add_argument("--memory-child", metavar="SPEC", help=argparse.SUPPRESS)
    parser.add_argument("--gui-child", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        return memory_child(args.memory_child)
    if args.gui_child:
        return gui_child(args.gui_child)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    # Runs, settings and window geometry go to a scratch folder, not the user's.
    work_dir = Path(tempfile.mkdtemp(prefix="playground-bench-"))
    os.environ["XDG_DATA_HOME"] = str(work_dir / "data")
    os.environ["XDG_CONFIG_HOME"] = str(work_dir / "config")
    try:
        return run(args, skip, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def run(args, skip: set[str], work_dir: Path) -> int:
    import torch

    from playground.core.config import ModelConfig, flops_per_token, parameter_breakdown
    from playground.core.corpus import default_corpus
    from playground.core.data import encode_corpus, split_tokens
    from playground.core.devices import cpu_name
    from playground.core.estimates import memory_estimate
    from playground.core.progress import run_quietly
    from playground.core.tokenization import LoadedTokenizer, open_tokenizer, spec_for_kind, train_in_process
    from playground.core.training import resolve_device, resolve_precision

    threads = args.threads or max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(threads)
    device = resolve_device(args.device)
    precision, note = resolve_precision(args.precision, device)

    corpus = default_corpus()
    if args.tokenizer:
        tok = open_tokenizer(args.tokenizer)
    else:
        spec = spec_for_kind("bpe", vocab_size=args.vocab_size)
        tok = LoadedTokenizer(run_quietly(train_in_process(corpus, spec)), name=f"bpe-{args.vocab_size}", spec=spec)
    ids = run_quietly(encode_corpus(corpus, tok))
    data = split_tokens(ids, 0.1)
    model_config = ModelConfig.from_preset(args.preset, tok.vocab_size)
    cfg = bench_train_config(args)
    n_params = parameter_breakdown(model_config).total
    fpt = flops_per_token(model_config)
    estimate = memory_estimate(model_config, args.batch, precision, "adamw", device.type)

    if device.type == "cuda":
        device_text = f"CUDA: {torch.cuda.get_device_name(device)}"
    else:
        device_text = f"{device.type.upper()}: {cpu_name()}, {os.cpu_count()} cores"
    print("# Training benchmark: the app's trainer and window vs a bare PyTorch loop\n")
    print(
        f"- device: {device_text}; torch {torch.__version__}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )
    print(
        f"- threads: torch.set_num_threads({threads}) for the speed and memory runs "
        f"(the app's training job uses cores - 1 = {max(1, (os.cpu_count() or 2) - 1)})"
    )
    print(
        f"- model: preset {args.preset!r}, {model_config.flavour}, {model_config.n_layer} layers x "
        f"{model_config.n_head} heads x {model_config.n_embd} wide, context {model_config.context_length}, "
        f"vocab {model_config.vocab_size:,}, dropout {model_config.dropout}, {n_params:,} parameters, "
        f"{fpt / 1e6:.1f} MFLOP per token"
    )
    print(
        f"- training: batch {args.batch} x context {model_config.context_length} = "
        f"{cfg.tokens_per_step(model_config.context_length):,} tokens a step, {precision}"
        f"{' (' + note + ')' if note else ''}, AdamW lr {cfg.learning_rate}, weight decay {cfg.weight_decay}, "
        f"grad clip {cfg.grad_clip}"
    )
    print(
        f"- data: built-in corpus, byte-level BPE {tok.vocab_size:,}, {len(ids):,} tokens ({len(data.train):,} train)"
    )
    print(
        f"- speed: {args.warmup} warm-up steps each, then {args.repeats} interleaved blocks of "
        f"{args.steps} steps per side, medians\n",
        flush=True,
    )

    speed = gui = memory = None
    if "speed" not in skip:
        speed = measure_speed(args, model_config, tok, data, device, work_dir)
    if "memory" not in skip:
        memory = measure_memory(args, model_config, tok, ids, threads, work_dir)
    if "gui" not in skip:
        gui = measure_gui(args, tok, work_dir)

    rows = []
    if speed is not None:
        ok = speed["ratio"] >= SPEED_TARGET
        rows.append(
            (
                "training speed, tokens/s",
                f"app {speed['app_tps']:,.0f}",
                f"bare loop {speed['bare_tps']:,.0f}",
                f"{speed['ratio']:.3f} {mark(ok)} (blocks {speed['ratio_min']:.2f} to {speed['ratio_max']:.2f})",
                f"app/bare ≥ {SPEED_TARGET}",
            )
        )
        rows.append(("time per step", f"{speed['app_step_ms']:.0f} ms", f"{speed['bare_step_ms']:.0f} ms", "", ""))
    if gui is not None:

        def dist(xs: list[float]) -> str:
            if not xs:
                return "—"
            return f"{percentile(xs, 50):.1f} / {percentile(xs, 99):.1f} / {max(xs):.1f} ms"

        ok = bool(gui["training"]) and percentile(gui["training"], 99) < STALL_TARGET_MS
        rows.append(
            (
                "window stall while training (p50 / p99 / max)",
                dist(gui["training"]),
                f"idle: {dist(gui['idle'])}",
                f"p99 {mark(ok)}",
                f"p99 < {STALL_TARGET_MS} ms",
            )
        )
        if gui["startup_s"] is not None:
            ok = bool(gui["startup"]) and percentile(gui["startup"], 99) < STALL_TARGET_MS
            rows.append(
                (
                    f"window stall from Start to the first step ({gui['startup_s']:.1f} s: encoding, building)",
                    dist(gui["startup"]),
                    "",
                    f"p99 {mark(ok)}",
                    f"p99 < {STALL_TARGET_MS} ms",
                )
            )
        if gui["gui_tps"] is not None and speed is not None:
            rows.append(
                (
                    "training speed in the window, tokens/s",
                    f"{gui['gui_tps']:,.0f}",
                    f"headless app {speed['app_tps']:,.0f}",
                    f"{gui['gui_tps'] / speed['app_tps']:.3f}",
                    "",
                )
            )
    if memory is not None:
        app_m, bare_m = memory["app"], memory["bare"]
        if device.type == "cuda":
            measured, bare_peak, what = app_m["cuda_peak"], bare_m["cuda_peak"], "peak CUDA memory allocated"
        else:
            measured = app_m["hwm_after"] - app_m["rss_before"]
            bare_peak = bare_m["hwm_after"] - bare_m["rss_before"]
            what = "peak RSS increase"
        ratio = measured / estimate.total
        ok = abs(ratio - 1) <= MEMORY_TARGET
        rows.append(
            (
                f"memory: {what} while training",
                f"app {mib(measured)}",
                f"estimate {mib(estimate.total)} (bare loop {mib(bare_peak)})",
                f"{ratio:.2f} x estimate {mark(ok)}",
                f"within ±{MEMORY_TARGET:.0%}",
            )
        )
        if "app-mmap" in memory:
            m = memory["app-mmap"]
            fixed = m["hwm_after"] - m["rss_before"]
            rows.append(
                (
                    "memory, diagnostic: the same with glibc's mmap threshold fixed at 64 KiB",
                    f"app {mib(fixed)}",
                    f"estimate {mib(estimate.total)}",
                    f"{fixed / estimate.total:.2f} x estimate",
                    "",
                )
            )
    tps = speed["app_tps"] if speed is not None else None
    if device.type == "cuda":
        peak, source = peak_tflops(args, device, precision)
        if peak and tps:
            rows.append(
                (
                    "model FLOPs utilisation (MFU)",
                    f"{100 * fpt * tps / (peak * 1e12):.1f}%",
                    f"{fpt * tps / 1e12:.2f} of {peak:g} TFLOP/s ({source})",
                    "",
                    "",
                )
            )
        else:
            rows.append(("model FLOPs utilisation (MFU)", "n/a", "unknown GPU: pass --peak-tflops", "", ""))
    else:
        achieved = f"{fpt * tps / 1e9:.1f} GFLOP/s achieved" if tps else ""
        rows.append(("model FLOPs utilisation (MFU)", "n/a (CPU)", achieved, "", ""))

    print("| measure | app | compared with | result | target |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()

    if speed is not None and speed["other_load"] is not None:
        print(
            f"- other processes used {100 * speed['other_load']:.0f}% of the machine's CPU during the "
            f"speed blocks (0% is a quiet machine)"
        )
    if gui is not None:
        print(
            f"- window: {len(gui['idle'])} idle and {len(gui['training']) + len(gui['startup'])} training "
            f"ticks of a {args.interval_ms} ms timer; {gui['steps']} steps trained in "
            f"{args.gui_seconds:.0f} s"
            + (f" at {gui['gui_tps']:,.0f} tokens/s (their step times)" if gui["gui_tps"] else "")
            + "; records besides steps: "
            + ", ".join(f"{k} {v}" for k, v in sorted(gui["records"].items()))
        )
        if gui["panel_estimate_total"] != estimate.total:
            print(
                f"- note: the Build panel showed {mib(gui['panel_estimate_total'])}, "
                f"this script's estimate {mib(estimate.total)}"
            )
        if gui.get("longest_startup"):
            ls = gui["longest_startup"]
            print(
                f"- the longest stall before the first step ({ls['ms']:.0f} ms) ended {ls['at_s']:.1f} s after "
                f"Start; the last progress message before it: {ls['phase']!r}"
            )
        print(
            f"- the window's run: Steps {args.gui_max_steps:,}, evaluate and sample every "
            f"{args.gui_eval_interval}; its training thread ran with torch.get_num_threads() = "
            f"{gui['torch_threads']} (the training job sets cores - 1)"
        )
    if memory is not None and device.type != "cuda":
        for side in memory:
            m = memory[side]
            print(
                f"- memory ({side}): baseline RSS {mib(m['rss_before'])} after importing torch and the app "
                f"and loading the data; after building model and optimizer {mib(m['rss_built'])}; peak "
                f"{mib(m['hwm_after'])}; of the increase, {mib(m['file_after'] - m['file_before'])} is "
                f"file-backed (library code paged in), at the end {mib(m['anon_after'] - m['anon_before'])} "
                f"more anonymous memory than at the baseline; the first AdamW's import of torch._dynamo "
                f"before the baseline took {mib(m['lazy_import'])}"
                + (
                    ""
                    if m["reset"]
                    else "; the high-water mark could not be reset, so the peak may include the loading"
                )
            )
        print(
            f"- estimate (memory_estimate, device {device.type!r}): weights {mib(estimate.weights)}, "
            f"gradients {mib(estimate.gradients)}, AdamW {mib(estimate.optimizer_state)}, activations "
            f"{mib(estimate.activations)} (logits {mib(estimate.logits)})"
        )
    elif memory is not None:
        for side in ("app", "bare"):
            m = memory[side]
            print(
                f"- memory ({side}): peak allocated {mib(m['cuda_peak'])}, peak reserved by the caching "
                f"allocator {mib(m['cuda_reserved'])}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
