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
