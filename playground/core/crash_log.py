"""Unexpected errors, written down: a capped crash log in the user data folder and the hooks that feed it.

No Qt here. The window installs :func:`install_hooks` with a callback that shows
the error; this module only formats, writes and rotates. Writing never raises:
a crash handler that crashes would hide the first error.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Callable, Optional

MAX_BYTES = 512 * 1024  # one log file grows to about this size before it is rotated
BACKUPS = 2  # crash.log.1, crash.log.2: older ones are deleted
_lock = threading.Lock()


def crash_log_path() -> Path:
    """``<user data>/logs/crash.log`` (the folder is created; the file only when something is written)."""
    from playground.paths import user_data_dir

    folder = user_data_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "crash.log"


@dataclass(frozen=True)
class CrashReport:
    """One unhandled exception, as written to the log and shown to the person."""

    kind: str  # the exception's class name, e.g. "ValueError"
    message: str  # str(exception)
    traceback: str  # the formatted traceback
    thread: str  # the thread it happened in
    when: str  # local time, ISO format
    log_path: Optional[Path]  # where it was written, or None when the log could not be written

    def summary(self) -> str:
        """One line: ``ValueError: the numbers did not add up``."""
        return f"{self.kind}: {self.message}" if self.message else self.kind


def format_entry(
    kind: type, value: BaseException, tb: Optional[TracebackType], thread: str = "", when: Optional[_dt.datetime] = None
) -> tuple[str, str]:
    """(timestamp, log entry): a header with versions, then the full traceback."""
    from playground import __version__

    stamp = (when or _dt.datetime.now()).isoformat(timespec="seconds")
    trace = "".join(traceback.format_exception(kind, value, tb))
    header = (
        f"===== {stamp} · LLM Playground {__version__} · Python {platform.python_version()} · "
        f"{platform.system()} {platform.release()} · thread {thread or threading.current_thread().name}"
    )
    return stamp, f"{header}\n{trace.rstrip()}\n\n"


def _rotate(path: Path, backups: int) -> None:
    for n in range(backups, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        newer = path.with_name(f"{path.name}.{n - 1}") if n > 1 else path
        if newer.exists():
            os.replace(newer, older)


def write_entry(
    text: str, path: Optional[Path] = None, max_bytes: int = MAX_BYTES, backups: int = BACKUPS
) -> Optional[Path]:
    """Append `text` to the crash log, rotating it first when it has grown past `max_bytes`.
    Returns the path written, or None when it could not be written (never raises)."""
    try:
        path = Path(path) if path is not None else crash_log_path()
        with _lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and path.stat().st_size + len(text.encode("utf-8")) > max_bytes:
                if backups > 0:
                    _rotate(path, backups)
                else:
                    path.unlink()
            # One entry never grows a file past the cap on its own: keep its start and end.
            if len(text) > max_bytes:
                half = max_bytes // 2 - 100
                text = f"{text[:half]}\n… ({len(text) - 2 * half:,} characters left out) …\n{text[-half:]}"
            with open(path, "a", encoding="utf-8", errors="replace") as f:
                f.write(text)
        return path
    except Exception:  # noqa: BLE001 - the log is a courtesy; the report still reaches the window
        return None


def record_exception(
    kind: type, value: BaseException, tb: Optional[TracebackType], thread: str = "", path: Optional[Path] = None
) -> CrashReport:
    """Write one exception to the crash log and describe it."""
    thread = thread or threading.current_thread().name
    stamp, entry = format_entry(kind, value, tb, thread)
    written = write_entry(entry, path)
    return CrashReport(
        kind=getattr(kind, "__name__", str(kind)),
        message=str(value),
        traceback="".join(traceback.format_exception(kind, value, tb)),
        thread=thread,
        when=stamp,
        log_path=written,
    )


class CrashHooks:
    """``sys.excepthook`` and ``threading.excepthook`` that log to the crash log and call `on_crash`.

    `on_crash(report)` is called in the thread where the error happened (a GUI
    marshals it to its own thread). Ctrl+C and SystemExit go to the hooks that
    were there before. :meth:`uninstall` puts the previous hooks back.
    """

    def __init__(self, on_crash: Callable[[CrashReport], None], path: Optional[Path] = None) -> None:
        self.on_crash = on_crash
        self.path = path
        self.reports: list[CrashReport] = []
        self._previous_sys = sys.excepthook
        self._previous_threading = threading.excepthook
        self._installed = False
        self._handling = threading.local()

    def install(self) -> "CrashHooks":
        self._previous_sys = sys.excepthook
        self._previous_threading = threading.excepthook
        sys.excepthook = self.sys_hook
        threading.excepthook = self.thread_hook
        self._installed = True
        return self

    def uninstall(self) -> None:
        if not self._installed:
            return
        if sys.excepthook == self.sys_hook:
            sys.excepthook = self._previous_sys
        if threading.excepthook == self.thread_hook:
            threading.excepthook = self._previous_threading
        self._installed = False

    @property
    def installed(self) -> bool:
        return self._installed

    def sys_hook(self, kind, value, tb) -> None:
        if issubclass(kind, (KeyboardInterrupt, SystemExit)):
            self._previous_sys(kind, value, tb)
            return
        self.handle(kind, value, tb, threading.current_thread().name)

    def thread_hook(self, args: "threading.ExceptHookArgs") -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else threading.current_thread().name
        self.handle(args.exc_type, args.exc_value, args.exc_traceback, name)

    def handle(self, kind, value, tb, thread: str = "") -> Optional[CrashReport]:
        """Log one exception and report it; an error inside the handler falls back to the terminal."""
        if getattr(self._handling, "active", False):
            sys.__excepthook__(kind, value, tb)  # the handler itself failed: do not loop
            return None
        self._handling.active = True
        try:
            if value is None:
                try:
                    value = kind()
                except Exception:  # noqa: BLE001 - an exception class that needs arguments
                    value = RuntimeError(getattr(kind, "__name__", str(kind)))
            report = record_exception(kind, value, tb, thread, self.path)
            self.reports.append(report)
            del self.reports[:-20]
            try:
                self.on_crash(report)
            except Exception:  # noqa: BLE001
                sys.__excepthook__(*sys.exc_info())
            return report
        finally:
            self._handling.active = False


def install_hooks(on_crash: Callable[[CrashReport], None], path: Optional[Path] = None) -> CrashHooks:
    """Install :class:`CrashHooks` and return them (call ``.uninstall()`` to put the old hooks back)."""
    return CrashHooks(on_crash, path).install()
