"""Test set-up shared by every test: Qt offscreen, and no job left running."""

import os
import sys

# Before anything imports Qt: without a display a QApplication would abort.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

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
