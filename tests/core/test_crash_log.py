"""The crash log: unhandled exceptions written down with their traceback, capped in size, hooks restored."""

import sys
import threading

from playground.core import crash_log
from playground.core.crash_log import CrashHooks, crash_log_path, record_exception, write_entry


def _raise_and_catch(message="the numbers did not add up"):
    try:
        raise ValueError(message)
    except ValueError:
        return sys.exc_info()


def test_the_log_lives_in_the_user_data_folder():
    from playground.paths import user_data_dir

    path = crash_log_path()
    assert path == user_data_dir() / "logs" / "crash.log"
    assert path.parent.is_dir()


def test_an_exception_is_written_with_its_traceback(tmp_path):
    log = tmp_path / "logs" / "crash.log"
    report = record_exception(*_raise_and_catch(), thread="worker-7", path=log)
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "ValueError: the numbers did not add up" in text
    assert "_raise_and_catch" in text  # the frame where it happened
    assert "thread worker-7" in text and "LLM Playground" in text
    assert report.kind == "ValueError" and report.message == "the numbers did not add up"
    assert report.log_path == log and report.summary() == "ValueError: the numbers did not add up"
    record_exception(*_raise_and_catch("again"), path=log)
    assert log.read_text(encoding="utf-8").count("=====") == 2  # appended, not overwritten


def test_the_log_is_capped_and_rotated(tmp_path):
    log = tmp_path / "crash.log"
    entry = "x" * 400 + "\n"
    for _ in range(20):
        write_entry(entry, log, max_bytes=1000, backups=2)
    assert log.stat().st_size <= 1000
    assert (tmp_path / "crash.log.1").exists() and (tmp_path / "crash.log.2").exists()
    assert not (tmp_path / "crash.log.3").exists()  # older ones are deleted
    # One huge entry keeps its start and end, within the cap.
    write_entry("START" + "y" * 5000 + "END", log, max_bytes=1000, backups=0)
    text = log.read_text()
    assert text.startswith("START") and text.endswith("END") and len(text) <= 1000


def test_writing_never_raises(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert write_entry("hello", blocker / "crash.log") is None  # its folder cannot be made
    report = record_exception(*_raise_and_catch(), path=blocker / "crash.log")
    assert report.log_path is None and report.kind == "ValueError"


def test_hooks_log_report_and_restore(tmp_path, monkeypatch):
    before_sys, before_threading = sys.excepthook, threading.excepthook
    seen = []
    hooks = CrashHooks(seen.append, tmp_path / "crash.log").install()
    try:
        assert sys.excepthook == hooks.sys_hook and threading.excepthook == hooks.thread_hook
        sys.excepthook(*_raise_and_catch("in the main thread"))

        def work():
            raise RuntimeError("in a thread")

        thread = threading.Thread(target=work, name="the-worker")
        thread.start()
        thread.join()
    finally:
        hooks.uninstall()
    assert sys.excepthook is before_sys and threading.excepthook is before_threading
    assert [r.message for r in seen] == ["in the main thread", "in a thread"]
    assert seen[1].thread == "the-worker" and seen[1].kind == "RuntimeError"
    text = (tmp_path / "crash.log").read_text()
    assert "RuntimeError: in a thread" in text and "in work" in text


def test_ctrl_c_goes_to_the_previous_hook(tmp_path):
    previous = []
    seen = []
    old = sys.excepthook
    sys.excepthook = lambda *args: previous.append(args[0])
    hooks = CrashHooks(seen.append, tmp_path / "crash.log").install()
    try:
        sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
    finally:
        hooks.uninstall()
        sys.excepthook = old
    assert previous == [KeyboardInterrupt] and not seen
    assert not (tmp_path / "crash.log").exists()


def test_a_failing_callback_does_not_loop(tmp_path, capsys):
    def broken(report):
        raise RuntimeError("the dialog broke")

    hooks = CrashHooks(broken, tmp_path / "crash.log")
    report = hooks.handle(*_raise_and_catch())
    assert report is not None and "ValueError" in (tmp_path / "crash.log").read_text()
    assert "the dialog broke" in capsys.readouterr().err  # printed to the terminal instead


def test_no_qt_in_the_crash_log_module():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(crash_log))
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(name.startswith(("PySide6", "PyQt")) for name in imported)


def test_a_thread_that_exits_is_not_a_crash(tmp_path):
    seen = []
    hooks = CrashHooks(seen.append, tmp_path / "crash.log").install()
    try:
        thread = threading.Thread(target=lambda: sys.exit(0))
        thread.start()
        thread.join()
    finally:
        hooks.uninstall()
    assert not seen
