"""The engine: any job generator in a thread, with throttled progress, pause, cancel and superseding."""

import threading
import time
from dataclasses import dataclass

import pytest

from playground.core.progress import Progress, UserError
from playground.engine.jobs import MIN_INTERVAL_S, Job, JobSlot


@dataclass(frozen=True)
class Point:
    x: int


def collect(job):
    seen = {"progress": [], "partial": [], "result": [], "error": [], "cancelled": 0, "done": 0, "paused": []}
    job.progress.connect(lambda p: seen["progress"].append(p.message))
    job.partial.connect(seen["partial"].append)
    job.result.connect(seen["result"].append)
    job.error.connect(seen["error"].append)
    job.cancelled.connect(lambda: seen.__setitem__("cancelled", seen["cancelled"] + 1))
    job.paused_changed.connect(seen["paused"].append)
    job.done.connect(lambda: seen.__setitem__("done", seen["done"] + 1))
    return seen


def test_a_generator_yields_partials_in_order_and_returns_its_result(qtbot, jobs):
    def work(n):
        for i in range(n):
            yield Point(i)
        return "all done"

    job = Job(work, 50, doing="counting")
    seen = collect(job)
    job.start()
    jobs.wait(qtbot)
    assert seen["partial"] == [Point(i) for i in range(50)]
    assert seen["result"] == ["all done"] and seen["done"] == 1 and seen["error"] == []


def test_a_message_followed_by_a_long_silence_is_shown_during_the_silence(qtbot, jobs):
    """The trailing flush: the last held-back progress reaches the window within the interval."""
    release = threading.Event()

    def work():
        yield Progress(0.1, "Counting words")
        yield Progress(0.2, "Learning the vocabulary…")  # within 1/30 s of the first: held back
        release.wait(10)  # a long, silent stretch (a tokenizer training in Rust)
        return 1

    job = Job(work, doing="training")
    seen = collect(job)
    job.start()
    qtbot.waitUntil(lambda: "Learning the vocabulary…" in seen["progress"], timeout=2000)
    assert seen["result"] == []  # still inside the silent stretch
    release.set()
    jobs.wait(qtbot)
    assert seen["progress"] == ["Counting words", "Learning the vocabulary…"]


def test_progress_is_throttled_but_the_last_report_always_arrives(qtbot, jobs):
    def work():
        for i in range(20_000):
            yield Progress(i / 20_000, f"step {i}")
        return None

    job = Job(work, doing="counting")
    seen = collect(job)
    job.start()
    jobs.wait(qtbot)
    assert seen["progress"][-1] == "step 19999"
    assert len(seen["progress"]) < 2000


def test_cancel_closes_the_generator_so_its_clean_up_runs(qtbot, jobs):
    cleaned = threading.Event()

    def work():
        try:
            while True:
                yield Progress(None, "working")
                time.sleep(0.001)
        finally:
            cleaned.set()

    job = Job(work, doing="looping")
    seen = collect(job)
    job.start()
    qtbot.waitUntil(lambda: bool(seen["progress"]), timeout=5000)
    job.cancel()
    jobs.wait(qtbot)
    assert cleaned.is_set() and seen["cancelled"] == 1 and seen["result"] == [] and seen["done"] == 1


def test_a_job_that_takes_cancel_gets_the_engines_token(qtbot, jobs):
    def work(cancel):
        while not cancel.cancelled:  # one long call that polls the token
            time.sleep(0.005)
        yield Progress(None, "noticed")

    job = Job(work, doing="waiting")
    seen = collect(job)
    job.start()
    job.cancel()
    jobs.wait(qtbot)
    assert seen["cancelled"] == 1


def test_pause_stops_asking_for_items_until_resumed(qtbot, jobs):
    produced = []

    def work():
        for i in range(1000):
            produced.append(i)
            yield Point(i)
            time.sleep(0.001)
        return len(produced)

    job = Job(work, doing="counting")
    seen = collect(job)
    job.start()
    qtbot.waitUntil(lambda: len(seen["partial"]) > 5, timeout=5000)
    job.pause()
    qtbot.waitUntil(lambda: seen["paused"] == [True], timeout=5000)
    held = len(produced)
    time.sleep(0.1)
    assert len(produced) == held
    job.resume()
    jobs.wait(qtbot)
    assert seen["paused"] == [True, False] and seen["result"] == [1000]


@pytest.mark.parametrize(
    "exc, words",
    [
        (UserError("The corpus is empty."), "The corpus is empty."),
        (MemoryError(), "Ran out of memory while parsing"),
        (ValueError("bad"), "ValueError: bad"),
    ],
)
def test_an_exception_becomes_a_sentence(qtbot, jobs, exc, words):
    def work():
        yield Progress(None, "starting")
        raise exc

    job = Job(work, doing="parsing")
    seen = collect(job)
    job.start()
    jobs.wait(qtbot)
    assert len(seen["error"]) == 1 and words in seen["error"][0] and seen["done"] == 1


def test_a_new_job_in_a_slot_supersedes_the_old_and_its_late_results_are_dropped(qtbot, jobs):
    gate = threading.Event()

    def slow():
        yield Point(-1)
        gate.wait(10)
        yield Point(-2)  # after it was superseded: never delivered
        return "old"

    def fast():
        yield Point(1)
        return "new"

    slot = JobSlot()
    first, second = Job(slow, doing="old work"), Job(fast, doing="new work")
    old, new = collect(first), collect(second)
    slot.start(first)
    qtbot.waitUntil(lambda: old["partial"] == [Point(-1)], timeout=5000)
    slot.start(second)
    gate.set()
    jobs.wait(qtbot)
    assert new["result"] == ["new"] and new["partial"] == [Point(1)]
    assert old["result"] == [] and old["partial"] == [Point(-1)] and old["done"] == 1
    assert slot.job is None and not slot.busy


def test_a_slot_counts_a_superseded_job_until_it_is_done_and_stops_and_waits_for_all(qtbot, jobs):
    def stuck(cancel):
        while not cancel.cancelled:  # blocks inside one call until cancelled, as a Rust trainer does
            time.sleep(0.01)
        yield Point(0)
        return "late"

    slot = JobSlot()
    first, second = Job(stuck, doing="old work"), Job(stuck, doing="new work")
    slot.start(first)
    slot.start(second)  # supersedes the first, which is still winding down
    assert slot.busy and slot.any_not_done
    assert slot.stop_and_wait(5000)
    assert not first.isRunning() and not second.isRunning()
    qtbot.waitUntil(lambda: not slot.any_not_done, timeout=5000)  # both report their end on the GUI thread
    assert not slot.busy
    jobs.wait(qtbot)


def test_throttle_interval_is_short_enough_to_feel_live():
    assert MIN_INTERVAL_S <= 0.05
