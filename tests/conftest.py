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
def own_data_folder(tmp_path_factory, monkeypatch):
    """Each test gets an empty data folder (runs, tokenizers, logs).

    A shared one let a test that reopens "the saved tokenizers" find another
    test's tokenizer of the same name, saved in the same second, first.
    Settings (XDG_CONFIG_HOME) stay shared: Qt reads that path once.
    """
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(autouse=True)
def no_running_jobs(request):
    """Fail any test that leaves a background job (a QThread) running."""
    yield
    if "playground.engine.jobs" not in sys.modules:
        return
    from playground.engine.jobs import Job

    for job in Job.running():
        if job.work_ended:  # it has reported its end; its thread is returning: not left running
            job.wait(5000)
    running = Job.running()
    if running:
        Job.cancel_all()
        pytest.fail(f"test left {len(running)} job(s) running: {[j.doing for j in running]}")


class JobWatch:
    """Counts the jobs started while it watches and the ones that have ended.

    Each job's work is wrapped before the job starts, so an end that comes
    before the test gets to wait is never missed; and nothing here connects to
    or touches a job afterwards (a job deletes itself once it has finished, and
    a queued Qt signal to a plain Python callable was seen to go missing then).
    """

    def __init__(self, monkeypatch):
        from playground.engine.jobs import Job

        self.started = 0
        self.ended = 0
        original_start = Job.start

        def start(job, *args):
            self.started += 1
            execute = job._execute

            def watched():
                try:
                    return execute()
                finally:
                    self.ended += 1  # on the job's thread, just before it reports its end

            job._execute = watched
            original_start(job, *args)

        monkeypatch.setattr(Job, "start", start)

    def wait(self, qtbot, timeout=60_000):
        """Wait until every job started so far has ended, its signals have been delivered and it is released.

        A job leaves ``Job._running`` only after its ``finished`` has been handled on this
        thread, so its result, error and done (queued before it) have reached their slots.
        """
        from playground.engine.jobs import Job

        assert self.started, "no job was started"
        qtbot.waitUntil(lambda: self.ended == self.started and not Job._running, timeout=timeout)


@pytest.fixture
def jobs(monkeypatch):
    return JobWatch(monkeypatch)
