"""Evaluate's "Mode" and "Compare with" never name the same mode."""

import pytest

from playground.ui.task_tab import TaskTab


@pytest.fixture
def tasks(qtbot, session):
    tab = TaskTab(session)
    qtbot.addWidget(tab)
    return tab


def enabled(combo, mode: str) -> bool:
    return combo.model().item(combo.findData(mode)).isEnabled()


def test_compare_with_does_not_offer_the_first_mode(tasks):
    assert tasks.mode_combo.currentData() == "zero-shot"
    assert not enabled(tasks.compare_combo, "zero-shot") and enabled(tasks.compare_combo, "few-shot")
    tasks.mode_combo.setCurrentIndex(tasks.mode_combo.findData("one-shot"))
    assert not enabled(tasks.compare_combo, "one-shot") and enabled(tasks.compare_combo, "zero-shot")


def test_choosing_the_compared_mode_first_swaps_the_two(tasks):
    tasks.mode_combo.setCurrentIndex(tasks.mode_combo.findData("few-shot"))  # was zero-shot vs few-shot
    assert tasks.compare_combo.currentData() == "zero-shot"
    assert tasks.modes() == ["few-shot", "zero-shot"]


def test_a_workspace_that_compares_a_mode_with_itself_runs_one_mode(tasks):
    tasks.restore_settings({"mode": "one-shot", "compare": "one-shot"})
    assert tasks.mode_combo.currentData() == "one-shot"
    assert tasks.compare_combo.currentData() == "" and tasks.modes() == ["one-shot"]
