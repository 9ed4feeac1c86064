"""Smoke test of a built app: does the frozen binary, or a wheel installed outside the checkout, work?

    python packaging/smoke_test.py [dist/llm-playground] [--xvfb] [--skip-gui] [--timeout 900]
    python packaging/smoke_test.py --exe VENV/bin/playground [--skip-gui]

Standard library only, so any Python 3.9+ runs it. Each check starts the built
binary (or the installed ``playground`` launcher) in a fresh process, from a
temporary working folder, with the data and settings folders
(XDG_DATA_HOME, XDG_CONFIG_HOME) in a temporary folder so nothing of the
person's own is read or written:

1. ``--version`` prints the app's name.
2. ``tokenizer train --corpus default``: the built-in corpus is found, and the
   training runs in the command's own process (the window's Tokenize panel uses
   the tokenizer worker instead, checked in 5);
   ``tokenizer encode`` then reads the result back.
3. ``generate --model demo``: the demo model that ships with the app writes text.
   ``eval task --model demo --task sentiment``: the demo
   model, the built-in tasks and prompt templates, and the scoring libraries
   (sacrebleu picks its tokenizer module by name at run time).
   ``fill-mask --model demo``: the demo encoder that ships with the app guesses a [MASK].
   ``generate --model demo-encoder-decoder --input``: the demo encoder-decoder (T5 style)
   writes its output for an input.
4. ``export``: the demo model written as a Hugging Face folder.
5. ``--screenshot DIR`` with Qt's offscreen platform (or a real X server from
   ``xvfb-run`` with --xvfb, which also loads the bundled xcb plugin): the whole
   window runs through every panel (two tokenizers trained in the worker, a
   300-step training, generation, attention). Checks: every printed PNG exists
   and is a PNG, the Tokenize panel saved its two tokenizers (so the worker
   answered the window), the training saved a run, nothing logged a traceback
   or an error, and no tokenizer worker outlived the app.

Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Smoke:
    def __init__(self, exe: Path, tmp: Path, timeout: float) -> None:
        self.exe = exe
        self.tmp = tmp
        self.timeout = timeout
        self.failures: list[str] = []
        self.env = dict(
            os.environ,
            XDG_DATA_HOME=str(tmp / "data"),
            XDG_CONFIG_HOME=str(tmp / "config"),
            XDG_CACHE_HOME=str(tmp / "cache"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):  # the frozen app must need none of them
            self.env.pop(var, None)

    def run(self, args: list[str], timeout: float = 120, prefix: list[str] = (), env=None):
        started = time.perf_counter()
        proc = subprocess.run(
            [*prefix, str(self.exe), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env=env or self.env,
            cwd=str(self.tmp),
        )
        return proc, time.perf_counter() - started

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""), flush=True)
        if not ok:
            self.failures.append(name)
        return ok

    def show_output(self, proc) -> None:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-25:]
        print("      " + "\n      ".join(tail), flush=True)

    # -- the checks -----------------------------------------------------------------

    def version(self) -> None:
        proc, secs = self.run(["--version"], timeout=60)
        if not self.check(
            "--version",
            proc.returncode == 0 and "LLM Playground" in proc.stdout,
            f"{proc.stdout.strip()!r}, {secs:.1f} s",
        ):
            self.show_output(proc)

    def tokenizer(self) -> None:
        out = self.tmp / "tok.json"
        proc, secs = self.run(
            ["tokenizer", "train", "--corpus", "default", "--kind", "bpe", "--vocab-size", "500", "--out", str(out)],
            timeout=300,
        )
        vocab = 0
        if proc.returncode == 0 and out.exists():
            try:
                vocab = len(json.loads(out.read_text(encoding="utf-8"))["model"]["vocab"])
            except (ValueError, KeyError, TypeError):
                vocab = 0
        if not self.check(
            "tokenizer train (command line, built-in corpus)", vocab == 500, f"vocabulary {vocab}, {secs:.1f} s"
        ):
            self.show_output(proc)
            return
        proc, _ = self.run(["tokenizer", "encode", "--tokenizer", str(out), "def add(a, b): return a + b"])
        try:
            count = json.loads(proc.stdout)["count"]
        except (ValueError, KeyError):
            count = 0
        if not self.check("tokenizer encode", proc.returncode == 0 and count > 0, f"{count} tokens"):
            self.show_output(proc)

    def evaluate(self) -> None:
        proc, secs = self.run(
            ["generate", "--model", "demo", "--prompt", "Return the", "--max-new-tokens", "12", "--seed", "1"],
            timeout=300,
        )
        if not self.check(
            "generate (the demo model that ships with the app)",
            proc.returncode == 0
            and proc.stdout.startswith("Return the")
            and len(proc.stdout.strip()) > len("Return the"),
            f"{proc.stdout.strip()[:60]!r}, {secs:.1f} s",
        ):
            self.show_output(proc)
            return
        demo = "demo"
        proc, secs = self.run(
            ["eval", "task", "--model", demo, "--task", "sentiment", "--max-new-tokens", "8", "--json"], timeout=300
        )
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            result = None
        if not self.check(
            "eval task (demo model, built-in task, sacrebleu + rouge-score)",
            proc.returncode == 0 and result is not None,
            f"{secs:.1f} s",
        ):
            self.show_output(proc)
        proc, secs = self.run(
            ["fill-mask", "--model", demo, "--text", "Return the [MASK] of the list.", "--top-k", "3", "--json"],
            timeout=300,
        )
        try:
            guesses = json.loads(proc.stdout)
        except ValueError:
            guesses = None
        if not self.check(
            "fill-mask (the demo encoder that ships with the app)",
            proc.returncode == 0 and bool(guesses),
            f"{secs:.1f} s",
        ):
            self.show_output(proc)
        proc, secs = self.run(
            ["generate", "--model", "demo-encoder-decoder", "--input", "number to words: 421", "--seed", "1"],
            timeout=300,
        )
        if not self.check(
            "generate --input (the demo encoder-decoder that ships with the app)",
            proc.returncode == 0 and bool(proc.stdout.strip()),
            f"{proc.stdout.strip()[:60]!r}, {secs:.1f} s",
        ):
            self.show_output(proc)
        out = self.tmp / "export"
        proc, secs = self.run(["export", "--model", demo, "--out", str(out)], timeout=300)
        if not self.check(
            "export (Hugging Face folder)",
            proc.returncode == 0 and (out / "model.safetensors").exists(),
            f"{secs:.1f} s",
        ):
            self.show_output(proc)

    def gui(self, xvfb: bool) -> None:
        shots = self.tmp / "shots"
        env = dict(self.env)
        prefix: list[str] = []
        if xvfb:
            if shutil.which("xvfb-run") is None:
                self.check("xvfb-run available", False, "install xvfb or drop --xvfb")
                return
            env.pop("QT_QPA_PLATFORM", None)
            env["QT_QPA_PLATFORM"] = "xcb"
            prefix = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24"]
        else:
            env["QT_QPA_PLATFORM"] = "offscreen"
        try:
            proc, secs = self.run(["--screenshot", str(shots)], timeout=self.timeout, prefix=prefix, env=env)
        except subprocess.TimeoutExpired:
            self.check("--screenshot finished", False, f"still running after {self.timeout:.0f} s")
            return
        log = proc.stdout + proc.stderr
        printed = [Path(line.strip()) for line in proc.stdout.splitlines() if line.strip().endswith(".png")]
        if not self.check(
            "--screenshot finished",
            proc.returncode == 0,
            f"exit {proc.returncode}, {secs:.1f} s, {'xvfb + xcb' if xvfb else 'offscreen'}",
        ):
            self.show_output(proc)
        bad = [
            p.name
            for p in printed
            if not (p.exists() and p.stat().st_size > 1000 and p.read_bytes()[:8] == PNG_SIGNATURE)
        ]
        self.check(
            "screenshots written",
            bool(printed) and not bad,
            f"{len(printed)} PNGs: {', '.join(p.stem for p in printed)}"
            + (f"; missing or not PNG: {', '.join(bad)}" if bad else ""),
        )
        saved = sorted((self.tmp / "data" / "llm-playground" / "tokenizers").glob("*.json"))
        self.check(
            "Tokenize panel trained its tokenizers in the worker",
            len(saved) >= 2,
            f"{len(saved)} saved: {', '.join(p.stem.split('-', 2)[-1] for p in saved)}",
        )
        runs = [p for p in (self.tmp / "data" / "llm-playground" / "runs").glob("*") if p.is_dir()]
        self.check("Train panel saved a run", bool(runs), ", ".join(p.name for p in runs))
        problems = [
            line
            for line in log.splitlines()
            if "Traceback" in line
            or line.startswith(("ERROR", "CRITICAL", "[PYI-"))
            or "Something unexpected went wrong" in line
        ]
        if not self.check("no tracebacks or errors logged", not problems, "; ".join(problems[:3])):
            self.show_output(proc)
        time.sleep(0.5)
        left = leftover_workers(self.exe)
        self.check("no tokenizer worker left running", not left, f"pids {left}" if left else "")


def leftover_workers(exe: Path) -> list[int]:
    """Tokenizer workers of this app still running (Linux /proc only).

    The frozen binary starts itself with --tokenizer-worker; an installed
    package starts its environment's Python (named as it was, not resolved:
    every venv's python links to the same interpreter) with -m.
    """
    found = []
    frozen = os.path.realpath(exe)
    python = str(exe.parent / "python")
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            args = [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        if len(args) > 2 and (
            (args[1] == "--tokenizer-worker" and os.path.realpath(args[0]) == frozen)
            or (args[0] == python and args[1:3] == ["-m", "playground.core.tokenizer_worker"])
        ):
            found.append(int(entry.name))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "app_dir",
        nargs="?",
        type=Path,
        default=REPO / "dist" / "llm-playground",
        help="the built one-folder app (default dist/llm-playground)",
    )
    parser.add_argument(
        "--exe", type=Path, help="instead of a built app: an installed launcher, e.g. VENV/bin/playground"
    )
    parser.add_argument("--xvfb", action="store_true", help="run the window under xvfb-run with Qt's xcb platform")
    parser.add_argument("--skip-gui", action="store_true", help="only the command-line checks")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the --screenshot run (default 900)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (screenshots, logs)")
    args = parser.parse_args(argv)

    exe = args.exe.absolute() if args.exe else args.app_dir.resolve() / "llm-playground"
    if not exe.exists():
        hint = "install the wheel there" if args.exe else "build it with: bash packaging/build.sh"
        print(f"error: {exe} not found; {hint}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="llm-playground-smoke-"))
    print(f"Smoke test of {exe} (work folder {tmp})", flush=True)
    smoke = Smoke(exe, tmp, args.timeout)
    started = time.perf_counter()
    try:
        smoke.version()
        smoke.tokenizer()
        smoke.evaluate()
        if not args.skip_gui:
            smoke.gui(args.xvfb)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - started
    if smoke.failures:
        print(f"FAILED {len(smoke.failures)} check(s) in {total:.0f} s: {', '.join(smoke.failures)}")
        return 1
    print(f"All checks passed in {total:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
