"""A separate process that trains tokenizers, so Cancel can stop one at once.

The ``tokenizers`` library computes merges in Rust with no way to interrupt
it; a worker process can simply be killed. Workers are started ahead of time
and reused, so a training pays no start-up cost. The protocol is one JSON
object per line on stdin/stdout.

Run as ``python -m playground.core.tokenizer_worker``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from queue import Empty, Queue
from typing import Optional

from playground.core.corpus import Corpus
from playground.core.progress import Cancelled, CancelToken, JobGenerator, Progress, UserError


def worker_command() -> list[str]:
    """How to start a worker: ``python -m`` normally, the app binary itself when frozen."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--tokenizer-worker"]
    return [sys.executable, "-m", "playground.core.tokenizer_worker"]


class WorkerProcess:
    """One worker process and a thread that reads its replies into a queue."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            worker_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            bufsize=1,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        assert self.process.stdin is not None and self.process.stdout is not None  # both are pipes
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        self.replies: Queue = Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        # Lines that are not replies (a library printing to stdout) are skipped: if this
        # thread died on one, the training waiting for a reply would wait forever.
        try:
            for line in self.stdout:
                try:
                    reply = json.loads(line)
                except ValueError:
                    continue
                if isinstance(reply, dict):
                    self.replies.put(reply)
        finally:
            self.replies.put(None)  # the process ended

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: dict) -> None:
        self.stdin.write(json.dumps(request) + "\n")
        self.stdin.flush()

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait(timeout=5)

    def close(self) -> None:
        if self.alive:
            try:
                self.stdin.close()
                self.process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()


_idle: list[WorkerProcess] = []
_idle_lock = threading.Lock()


def prestart_worker() -> None:
    """Start a worker now so that the first training need not wait for one."""
    with _idle_lock:
        if not any(w.alive for w in _idle):
            _idle.append(WorkerProcess())


def shutdown_workers() -> None:
    with _idle_lock:
        while _idle:
            _idle.pop().close()


def _acquire() -> WorkerProcess:
    with _idle_lock:
        while _idle:
            worker = _idle.pop()
            if worker.alive:
                return worker
    return WorkerProcess()


def _release(worker: WorkerProcess) -> None:
    with _idle_lock:
        if worker.alive and len(_idle) < 2:
            _idle.append(worker)
            return
    worker.close()


def run_in_worker(
    corpus: Corpus,
    spec,
    allow_special_in_text: bool = False,
    *,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[str]:
    """Train in a worker: yields the worker's progress, returns the tokenizer's JSON.

    Cancel (the token, or closing this generator) kills the worker at once."""
    worker = _acquire()
    # Absolute paths: the worker runs in another folder, where a relative path means another file.
    request = {
        "files": [str(Path(p).resolve()) for p in corpus.files],
        "text": corpus.text,
        "name": corpus.name,
        "spec": spec.to_dict(),
        "allow_special_in_text": allow_special_in_text,
    }
    try:
        worker.send(request)
    except OSError:
        worker.kill()
        worker = WorkerProcess()
        worker.send(request)
    answered = False
    try:
        while True:
            if cancel is not None and cancel.cancelled:
                raise Cancelled("Tokenizer training cancelled.")
            try:
                reply = worker.replies.get(timeout=0.05)
            except Empty:
                continue
            if reply is None:
                code = worker.process.wait()
                raise RuntimeError(f"The tokenizer training process stopped unexpectedly (exit code {code}).")
            if "progress" in reply:
                fraction, message = reply["progress"]
                yield Progress(fraction, message)
                continue
            answered = True
            _release(worker)
            if "result" in reply:
                return reply["result"]
            if "special_in_text" in reply:
                from playground.core.tokenization import SpecialTokensInText

                raise SpecialTokensInText(reply["special_in_text"])
            if "user_error" in reply:
                raise UserError(reply["user_error"])
            raise RuntimeError(reply.get("error", f"The tokenizer worker answered {reply!r}."))
    finally:
        if not answered:
            worker.kill()  # cancelled, or the caller stopped listening: the training stops too


def serve() -> None:
    """The worker's loop: read a request, train, write progress and the result."""
    from playground.core.tokenization import SpecialTokensInText, TokenizerSpec, train_in_process

    def reply(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        request = json.loads(line)
        corpus = Corpus(name=request["name"], files=tuple(Path(p) for p in request["files"]), text=request["text"])
        training = train_in_process(
            corpus, TokenizerSpec.from_dict(request["spec"]), request.get("allow_special_in_text", False)
        )
        try:
            while True:
                try:
                    p = next(training)
                except StopIteration as done:
                    reply({"result": done.value.to_str()})
                    break
                # One line per megabyte read: the app's engine decides what the window shows.
                reply({"progress": [p.fraction, p.message]})
        except SpecialTokensInText as e:
            reply({"special_in_text": e.found})
        except UserError as e:
            reply({"user_error": str(e)})
        except Exception as e:  # reported to the app, which shows it
            reply({"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    serve()
