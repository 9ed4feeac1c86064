"""Test set-up shared by every test: Qt offscreen, and no job left running."""

import os
import sys
import tempfile

# Before anything imports Qt: without a display a QApplication would abort.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests keep runs, tokenizers and settings out of the person's own data folder.
_data_home = tempfile.mkdtemp(prefix="playground-test-data-")
os.environ["XDG_DATA_HOME"] = _data_home
os.environ["XDG_CONFIG_HOME"] = _data_home

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def no_running_jobs(request):
    """Fail any test that leaves a background job (a QThread) running."""
    yield
    if "playground.engine.jobs" not in sys.modules:
        return
    from playground.engine.jobs import Job

    running = Job.running()
    if running:
        Job.cancel_all()
        pytest.fail(f"test left {len(running)} job(s) running: {[j.doing for j in running]}")


class JobWatch:
    """Counts the jobs started while it watches and the ones that have ended.

    It connects to each job's ``finished`` *before* the job starts, so an end
    that comes before the test gets to wait is never missed, and the test never
    touches a job that may already be deleted (jobs delete themselves later).
    """

    def __init__(self, monkeypatch):
        from playground.engine.jobs import Job

        self.started = 0
        self.ended = 0
        original_start = Job.start

        def start(job, *args):
            self.started += 1
            job.finished.connect(self._end)
            original_start(job, *args)

        monkeypatch.setattr(Job, "start", start)

    def _end(self):
        self.ended += 1

    def wait(self, qtbot, timeout=60_000):
        """Wait until every job started so far has ended (its thread too)."""
        assert self.started, "no job was started"
        qtbot.waitUntil(lambda: self.ended == self.started, timeout=timeout)


@pytest.fixture
def jobs(monkeypatch):
    return JobWatch(monkeypatch)
