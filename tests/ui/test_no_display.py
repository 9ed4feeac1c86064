"""Launching with no display prints what to do, instead of Qt's abort."""

import os
import subprocess
import sys

import pytest

from playground.app import display_problem


@pytest.mark.parametrize(
    "env, problem",
    [
        ({}, True),
        ({"QT_QPA_PLATFORM": "xcb"}, True),
        ({"DISPLAY": ":0"}, False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, False),
        ({"QT_QPA_PLATFORM": "offscreen"}, False),
    ],
)
def test_a_linux_session_without_a_display_is_named(env, problem):
    assert (display_problem(env, "linux") is not None) == problem


def test_other_systems_always_have_a_display():
    assert display_problem({}, "win32") is None and display_problem({}, "darwin") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux decides by DISPLAY")
def test_launching_without_a_display_prints_one_sentence_and_exits():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "playground"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "needs a display" in done.stderr and "QT_QPA_PLATFORM=offscreen" in done.stderr
    assert "Aborted" not in done.stderr and "could not connect to display" not in done.stderr
