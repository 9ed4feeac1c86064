"""Benchmark: how long the app takes from process start to a visible window, and to "ready".

Each run is a fresh process, started the way a person starts the app. The
parent reads the system-wide monotonic clock (``CLOCK_MONOTONIC``) just before
it spawns the process; the child reads the same clock at each milestone, so
the times include starting Python itself. The child is a small driver that
runs the real entry point, ``playground.cli.main([])`` (what ``python -m
playground`` and the ``playground`` launcher call: the argument parser, then
``run_gui``), with one addition: ``MainWindow`` is replaced by a subclass that
only watches. Its milestones:

- **Python running**: the driver's first line (interpreter start-up);
- **window shown**: the main window's Show event (``window.show()`` in ``run_gui``);
- **window exposed**: the Expose event of its native window (the platform says
  it can be seen);
- **window painted**: the main window's first Paint event after that. The
  target, "window <= 1 s", is judged on this one;
- **device shown**: ``session.device_changed`` (torch imported in a background
  job, the device found; the status bar shows it);
- **demo model loaded**: ``session.checkpoint_changed`` (``models/demo`` read
  into ``session.checkpoint``);
- **ready**: the later of the last two.

**The baseline**: in the same run, alternating with the app, a bare PySide6
``QMainWindow`` process (``QApplication``, an empty ``QMainWindow`` of the
same title and size, ``show()``), timed to the same Show, Expose and first
Paint events. The target is a ratio: the app's window painted at most
``WINDOW_TARGET_RATIO`` times as late as the bare window (medians), so the
verdict does not depend on how fast or busy the machine is.

Then the driver quits the app the usual way (``app.quit()``: the tokenizer
worker it started is shut down). Each run gets the same fresh, empty data and
settings folders (XDG_DATA_HOME, XDG_CONFIG_HOME), so no saved tokenizers of
the person's are loaded; the first run is an untimed warm-up (it also fills the
disk cache and writes the bytecode cache, even where PYTHONDONTWRITEBYTECODE is
set), so the timed runs are "a later start". The table shows medians.

**The built app** (``--frozen``, default ``dist/llm-playground/llm-playground``
when it exists): a frozen binary runs no driver, so it is measured from
outside: with an X display (``xvfb-run -a``), the time until ``xwininfo`` finds
a mapped window named "LLM Playground", polled every ``--poll-ms``. For a fair
comparison ``python -m playground`` is measured the same way in the same run.

Run from the repository root:

    python benchmarks/startup.py [--runs 5] [--frozen [PATH]] [--no-frozen]
    xvfb-run -a python benchmarks/startup.py     # with an X server: also the built app

Without a display, Qt's offscreen platform is used for the in-process runs
(say so with ``--offscreen`` even when a display is there).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from machine_load import OtherLoad  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parent.parent
WINDOW_TARGET_RATIO = 2.5  # the app's window painted at most this many times as late as a bare QMainWindow
TITLE = "LLM Playground"


def now() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)


# The child process. It prints one JSON line of CLOCK_MONOTONIC readings.
DRIVER = r'''
import time
def now():
    return time.clock_gettime(time.CLOCK_MONOTONIC)
T = {"python": now()}
import json, os, sys

def mark(name):
    T.setdefault(name, now())


class TorchWatch:
    """Notes where torch is first imported from (the app's three innermost frames), then steps aside."""
    where = None

    def find_spec(self, name, path=None, target=None):
        if name == "torch" and TorchWatch.where is None:
            import traceback
            frames = [f for f in traceback.extract_stack()[:-1] if "/playground/" in f.filename.replace("\\", "/")]
            TorchWatch.where = " → ".join(
                f"{f.filename.replace(chr(92), '/').rsplit('/playground/', 1)[-1]}:{f.lineno} ({f.name})"
                for f in frames[-3:]) or "?"
            T["torch_import"] = now()
        return None


sys.meta_path.insert(0, TorchWatch())

import playground.ui.main_window as main_window_module
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

timeout_s = float(os.environ["STARTUP_BENCH_TIMEOUT"])


class Watch(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj, event):
        kind = event.type()
        if obj is self.window:
            if kind == QEvent.Type.Show:
                mark("shown")
                handle = self.window.windowHandle()
                if handle is not None:
                    handle.installEventFilter(self)
            elif kind == QEvent.Type.Paint and "exposed" in T:
                mark("painted")
        elif kind == QEvent.Type.Expose and obj.isExposed():
            mark("exposed")
        return False


def finish():
    QApplication.instance().quit()


def check_ready():
    if "device" in T and "checkpoint" in T:
        mark("ready")
        QTimer.singleShot(0, finish)


class TimedMainWindow(main_window_module.MainWindow):
    def __init__(self, session, *args, **kwargs):
        mark("window_init")
        super().__init__(session, *args, **kwargs)
        mark("constructed")
        self._watch = Watch(self)
        self.installEventFilter(self._watch)
        session.device_changed.connect(lambda _d: (mark("device"), check_ready()))
        session.checkpoint_changed.connect(lambda c: c is not None and (mark("checkpoint"), check_ready()))
        QTimer.singleShot(int(timeout_s * 1000), finish)


main_window_module.MainWindow = TimedMainWindow
import playground.app
if getattr(playground.app, "MainWindow", None) is not None:
    playground.app.MainWindow = TimedMainWindow
from playground.cli import main
rc = main([])
T["exit_code"] = rc
T["torch_where"] = TorchWatch.where
print("STARTUP-BENCH " + json.dumps(T), flush=True)
'''

# The baseline: a bare PySide6 QMainWindow, watched the same way, quitting once painted.
BARE_DRIVER = r"""
import time
def now():
    return time.clock_gettime(time.CLOCK_MONOTONIC)
T = {"python": now()}
import json, sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow


def mark(name):
    T.setdefault(name, now())


class Watch(QObject):
    def eventFilter(self, obj, event):
        kind = event.type()
        if obj is window:
            if kind == QEvent.Type.Show:
                mark("shown")
                window.windowHandle().installEventFilter(self)
            elif kind == QEvent.Type.Paint and "exposed" in T:
                mark("painted")
                QTimer.singleShot(0, app.quit)
        elif kind == QEvent.Type.Expose and obj.isExposed():
            mark("exposed")
        return False


app = QApplication(sys.argv[:1])
mark("window_init")
window = QMainWindow()
window.setWindowTitle("LLM Playground")
window.resize(1320, 840)
mark("constructed")
watch = Watch()
window.installEventFilter(watch)
window.show()
QTimer.singleShot(30_000, app.quit)
app.exec()
print("STARTUP-BENCH " + json.dumps(T), flush=True)
"""

MILESTONES = [  # key, row label
    ("python", "Python running (interpreter started)"),
    ("window_init", "MainWindow() entered (imports and parser done)"),
    ("constructed", "MainWindow() built"),
    ("shown", "window shown (Show event)"),
    ("exposed", "window exposed (Expose event)"),
    ("painted", "window painted (first Paint event)"),
    ("device", "device shown (torch loaded, session.device_changed)"),
    ("checkpoint", "demo model loaded (session.checkpoint_changed)"),
    ("ready", "ready (device and demo model both)"),
]


def child_env(data: Path) -> dict:
    env = dict(os.environ)
    env["XDG_DATA_HOME"] = str(data / "data")
    env["XDG_CONFIG_HOME"] = str(data / "config")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    # A person's later start finds compiled bytecode (pip and the built app write it): let the warm-up
    # write it, even where PYTHONDONTWRITEBYTECODE is set, or every run compiles the app's modules
    # (about 0.1 s) while the bare window's library code is compiled already.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not has_display() and ("QT_QPA_PLATFORM" not in env or "--offscreen" in sys.argv):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and "--offscreen" not in sys.argv


def platform_name() -> str:
    if "--offscreen" in sys.argv:
        return "offscreen"
    if os.environ.get("QT_QPA_PLATFORM"):
        return os.environ["QT_QPA_PLATFORM"]
    if os.environ.get("WAYLAND_DISPLAY"):
        return "wayland"
    return f"xcb (DISPLAY={os.environ['DISPLAY']})" if os.environ.get("DISPLAY") else "offscreen"


def run_driver(env: dict, timeout_s: float, driver: str = DRIVER) -> dict:
    """One in-process measurement: seconds from spawn to each milestone."""
    env = dict(env, STARTUP_BENCH_TIMEOUT=str(timeout_s))
    spawned = now()
    proc = subprocess.run(
        [sys.executable, "-c", driver], capture_output=True, text=True, env=env, cwd=str(REPO), timeout=timeout_s + 60
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("STARTUP-BENCH ")), None)
    if line is None:
        raise RuntimeError(f"the driver printed no result (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    marks = json.loads(line.split(" ", 1)[1])
    result = {k: v - spawned for k, v in marks.items() if isinstance(v, float)}
    result["torch_where"] = marks.get("torch_where")
    return result


def mapped_window(title: str) -> bool:
    """Whether the X server has a viewable top-level window with this title."""
    tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True).stdout
    for match in re.finditer(r"^\s*(0x[0-9a-f]+) \"" + re.escape(title) + r"\"", tree, re.M):
        info = subprocess.run(["xwininfo", "-id", match.group(1)], capture_output=True, text=True).stdout
        if "IsViewable" in info:
            return True
    return False


def run_outside(command: list[str], env: dict, timeout_s: float, poll_s: float) -> Optional[float]:
    """Seconds from spawn until the window is mapped, watched from outside with xwininfo."""
    spawned = now()
    proc = subprocess.Popen(
        command, env=env, cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    found = None
    try:
        while now() - spawned < timeout_s and proc.poll() is None:
            if mapped_window(TITLE):
                found = now() - spawned
                break
            time.sleep(poll_s)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the app and its tokenizer worker
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    time.sleep(0.3)  # let the X server forget the window before the next run looks for it
    return found


def fmt(values: list[float]) -> tuple[str, str]:
    if not values:
        return "n/a", ""
    return f"{statistics.median(values):.2f}", f"{min(values):.2f}–{max(values):.2f}"


BASELINE_KEYS = ("python", "shown", "exposed", "painted")  # the milestones a bare QMainWindow has too


def mark_ok(ok: bool) -> str:
    return "✓" if ok else "✗"


def median_of(runs: list[dict], key: str) -> Optional[float]:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed runs (default 5), after one untimed warm-up")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a run may take to get ready")
    parser.add_argument(
        "--frozen",
        nargs="?",
        type=Path,
        const=REPO / "dist" / "llm-playground" / "llm-playground",
        default=REPO / "dist" / "llm-playground" / "llm-playground",
        help="the built app's binary (default dist/llm-playground/llm-playground, if built)",
    )
    parser.add_argument("--no-frozen", action="store_true", help="skip the built app")
    parser.add_argument("--poll-ms", type=float, default=20, help="how often the outside watch asks X (default 20)")
    parser.add_argument("--offscreen", action="store_true", help="Qt's offscreen platform even with a display")
    args = parser.parse_args(argv)

    data = Path(tempfile.mkdtemp(prefix="llm-playground-startup-"))
    env = child_env(data)
    try:
        for i in range(args.warmup):
            run_driver(env, args.timeout, BARE_DRIVER)
            run_driver(env, args.timeout)
            print(f"warm-up {i + 1}: done", file=sys.stderr, flush=True)
        load = OtherLoad()
        runs, bare = [], []
        for i in range(args.runs):  # alternating, so both see the same machine
            for side in ("bare", "app") if i % 2 == 0 else ("app", "bare"):
                r = run_driver(env, args.timeout, BARE_DRIVER if side == "bare" else DRIVER)
                (bare if side == "bare" else runs).append(r)
                times = sorted(((k, v) for k, v in r.items() if isinstance(v, float)), key=lambda kv: kv[1])
                print(
                    f"run {i + 1}, {side}: "
                    + ", ".join(f"{k} {v:.3f}" for k, v in times)
                    + ("" if side == "bare" else f"; torch first imported from {r.get('torch_where')}"),
                    file=sys.stderr,
                    flush=True,
                )
        other = load.share()

        outside = None
        frozen = None if args.no_frozen else args.frozen
        if frozen is not None and not frozen.exists():
            frozen = None
        x_ok = (
            bool(os.environ.get("DISPLAY"))
            and shutil.which("xwininfo") is not None
            and os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb"
            and not args.offscreen
        )
        if frozen is not None and x_ok:
            outside = {"source": [], "frozen": []}
            commands = {"source": [sys.executable, "-m", "playground"], "frozen": [str(frozen)]}
            envs = {"source": env, "frozen": {k: v for k, v in env.items() if k != "PYTHONPATH"}}
            for side in ("source", "frozen"):  # one untimed start each: the disk cache
                run_outside(commands[side], envs[side], args.timeout, args.poll_ms / 1000)
            for i in range(args.runs):
                for side in ("source", "frozen") if i % 2 == 0 else ("frozen", "source"):
                    t = run_outside(commands[side], envs[side], args.timeout, args.poll_ms / 1000)
                    if t is not None:
                        outside[side].append(t)
                    print(
                        f"outside run {i + 1}, {side}: " + ("not seen" if t is None else f"{t:.3f} s"),
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        shutil.rmtree(data, ignore_errors=True)

    import PySide6
    import torch

    print(
        f"Start-up, median of {args.runs} fresh processes each for the app and a bare QMainWindow (alternating, "
        f"after {args.warmup} warm-up), seconds from "
        f"spawning the process; Qt platform {platform_name()}; Python {platform.python_version()}, "
        f"PySide6 {PySide6.__version__}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"{platform.system()} {platform.machine()}"
    )
    print()
    print("| measure | median s | min–max s | bare QMainWindow s | app / bare | result | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for key, label in MILESTONES:
        values = [r[key] for r in runs if key in r]
        med, spread = fmt(values)
        base = median_of(bare, key) if key in BASELINE_KEYS else None
        ratio = statistics.median(values) / base if values and base else None
        result, target = "", ""
        if key == "painted":
            target = f"≤ {WINDOW_TARGET_RATIO:g}× the bare window"
            result = mark_ok(ratio is not None and ratio <= WINDOW_TARGET_RATIO)
        missing = len(runs) - len(values)
        if missing:
            result = (result + " " if result else "") + f"({missing} of {len(runs)} runs never got there)"
        print(
            f"| {label} | {med} | {spread} | {'' if base is None else f'{base:.2f}'} "
            f"| {'' if ratio is None else f'{ratio:.2f}×'} | {result} | {target} |"
        )
    if outside is not None:
        for side, label in (("source", "python -m playground"), ("frozen", f"built app ({args.frozen.name})")):
            med, spread = fmt(outside[side])
            print(
                f"| {label}: window mapped, seen from outside (xwininfo every {args.poll_ms:g} ms) | {med} "
                f"| {spread} | | | | |"
            )
    print()
    if other is not None:
        print(
            f"- other processes used {100 * other:.0f}% of the machine's CPU during the in-process runs "
            f"(0% is a quiet machine)"
        )
    early = [r for r in runs if "torch_import" in r and "shown" in r and r["torch_import"] < r["shown"]]
    if early:
        where = sorted({r["torch_where"] for r in early})
        started = statistics.median(r["torch_import"] for r in early)
        print(
            f"- torch was imported before the window showed in {len(early)} of {len(runs)} runs (at "
            f"{started:.2f} s, first from {', '.join(where)}): the window waits for it. The app means to "
            f"import it after the window shows, in start_background_work's job."
        )
    elif runs:
        print("- torch was first imported after the window showed (in the background job), in every run")
    if frozen is None and not args.no_frozen:
        print("- the built app was not measured: build it first (bash packaging/build.sh)")
    elif frozen is not None and outside is None:
        print(
            "- the built app was not measured: that needs an X display and xwininfo "
            "(run under xvfb-run -a, without QT_QPA_PLATFORM=offscreen)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
