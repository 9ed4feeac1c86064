"""The shared 'no model yet' page: the demo button, the train button, and an install without a demo model."""

from playground.engine.jobs import Job
from playground.ui.widgets.no_model import NoModelPage


def make_page(qtbot, session) -> NoModelPage:
    page = NoModelPage(session, "No model yet", "Load the demo model or train one.")
    qtbot.addWidget(page)
    page.show()
    return page


def test_without_a_demo_model_the_button_is_off_and_says_why(qtbot, session, monkeypatch):
    import playground.paths

    monkeypatch.setattr(playground.paths, "demo_model_dir", lambda: None)
    page = make_page(qtbot, session)
    assert not page.demo_button.isEnabled()
    assert "no demo model" in page.demo_button.toolTip()
    with qtbot.waitSignal(session.message) as said:
        assert page.load_demo() is None
    assert said.args[0] == "error" and "models/demo" in said.args[1]
    assert page.load_job is None


def test_the_train_button_asks_for_the_train_step(qtbot, session):
    page = make_page(qtbot, session)
    with qtbot.waitSignal(session.show_step, timeout=1000) as shown:
        page.train_button.click()
    assert shown.args == ["train"]


def test_the_demo_button_loads_the_demo_model_into_the_session(qtbot, session):
    from playground.paths import demo_model_dir

    assert demo_model_dir() is not None, "models/demo is missing: it ships with the repository, so restore it"
    page = make_page(qtbot, session)
    assert page.demo_button.isEnabled()
    assert "4 layers" in page.demo_button.toolTip() and "4.12" in page.demo_button.toolTip()
    with qtbot.waitSignal(session.checkpoint_changed, timeout=60_000) as changed:
        page.demo_button.click()
        assert page.load_job is not None and not page.demo_button.isEnabled()
        assert page.status.text()
    assert changed.args[0] is session.checkpoint and session.checkpoint is not None
    qtbot.waitUntil(lambda: page.load_job is None, timeout=10_000)
    qtbot.waitUntil(lambda: not Job.running(), timeout=10_000)
    assert page.demo_button.isEnabled() and page.status.text() == ""


def test_loading_the_demo_model_keeps_the_window_smooth(qtbot, session, watchdog, monkeypatch, jobs):
    import time

    import torch  # noqa: F401  - loaded by the app's start-up job before anyone can click

    import playground.core.checkpoints as checkpoints

    real = checkpoints.load_checkpoint

    def slow(*args, **kwargs):  # a slow disk: on the GUI thread this would be a freeze
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "load_checkpoint", slow)
    page = make_page(qtbot, session)
    watchdog.reset()
    with qtbot.waitSignal(session.checkpoint_changed, timeout=60_000):
        page.demo_button.click()
    jobs.wait(qtbot)
    watchdog.assert_smooth("the demo model was loaded")
    assert page.load_job is None
    assert session.checkpoint is not None and session.checkpoint.step > 0
