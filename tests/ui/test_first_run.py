"""First run (issue 14, item 4): the demo model's loading state on every 'Load the demo model' offer,
stop strings from a template's separator, defaults that suit the shipped Python-docs model, and the
Start here card."""

from types import SimpleNamespace

import pytest

from playground.ui.widgets.no_model import DEMO_LABEL, LOADING_TIP, NoModelPage


def make_page(qtbot, session) -> NoModelPage:
    page = NoModelPage(session, "No model yet", "Load the demo model or train one.")
    qtbot.addWidget(page)
    page.show()
    return page


# (b) "Load the demo model" shows the loading state while the demo model loads


def test_the_offer_waits_while_the_start_up_load_runs(qtbot, session):
    page = make_page(qtbot, session)
    assert page.demo_button.isEnabled() and page.demo_button.text() == DEMO_LABEL
    assert not page.busy.isVisible()

    session.set_demo_loading(True)  # what app.py says when it starts loading the demo model
    assert not page.demo_button.isEnabled()
    assert page.demo_button.text() == LOADING_TIP and page.busy.isVisible()
    assert page.load_demo() is None and page.load_job is None  # no second load

    session.set_demo_loading(False)
    assert page.demo_button.isEnabled() and page.demo_button.text() == DEMO_LABEL
    assert not page.busy.isVisible()


def test_a_page_shows_the_loading_state_of_its_own_load_and_every_other_offer_too(qtbot, session, jobs):
    generate_page, attention_page = make_page(qtbot, session), make_page(qtbot, session)
    with qtbot.waitSignal(session.checkpoint_changed, timeout=60_000):
        generate_page.demo_button.click()
        for page in (generate_page, attention_page):
            assert not page.demo_button.isEnabled() and page.demo_button.text() == LOADING_TIP
            assert page.busy.isVisible()
        assert session.demo_loading
    jobs.wait(qtbot)
    assert not session.demo_loading
    for page in (generate_page, attention_page):
        assert page.demo_button.isEnabled() and not page.busy.isVisible()


def test_the_start_up_load_announces_itself(qtbot, session, jobs):
    from playground.app import start_background_work

    quiet_panel = SimpleNamespace(use_default_corpus=lambda: None, restore_saved_tokenizers=lambda: None)
    window = SimpleNamespace(session=session, tokenizer_panel=quiet_panel)
    page = make_page(qtbot, session)
    start_background_work(window)
    assert session.demo_loading and page.demo_button.text() == LOADING_TIP
    jobs.wait(qtbot)
    assert not session.demo_loading and session.checkpoint is not None
    assert page.demo_button.text() == DEMO_LABEL


# (d) a prompt template's example separator becomes a stop string


def python_phrases():
    from playground.core.prompts import builtin_templates

    return next(t for t in builtin_templates() if t.name == "Python phrases")


def test_a_sent_template_stops_at_its_example_separator(qtbot, session):
    from dataclasses import replace

    from playground.ui.generate_panel import GeneratePanel

    panel = GeneratePanel(session)
    qtbot.addWidget(panel)
    panel.stop_strings.setPlainText("END")  # the learner's own stop string stays
    template = python_phrases()
    assert template.example_separator == "\n\n"
    session.send_prompt(template)
    assert panel.settings().stop_strings == ("END", "\n\n")
    assert "\\n\\n" in panel.stop_strings.toPlainText()  # shown where the learner sees it

    session.send_prompt(replace(template, example_separator="\n---\n"))  # the next template's replaces it
    assert panel.settings().stop_strings == ("END", "\n---\n")
    session.send_prompt(replace(template, example_separator=""))
    assert panel.settings().stop_strings == ("END",)
    panel.stop_and_wait()


# (c) the defaults suit the shipped model, trained on Python's documentation


def demo_checkpoint():
    from playground.core.checkpoints import load_checkpoint
    from playground.paths import demo_model_dir

    folder = demo_model_dir()
    assert folder is not None, "models/demo is missing: it ships with the repository, so restore it"
    return load_checkpoint(folder)[0]


def test_the_prompt_panel_starts_on_the_python_template_and_it_fits_the_demo_model(qtbot, session):
    from playground.ui.prompt_panel import PromptPanel

    session.set_checkpoint(demo_checkpoint())
    panel = PromptPanel(session)
    qtbot.addWidget(panel)
    assert panel.template().name == "Python phrases" and panel.template().mode == "few-shot"
    qtbot.waitUntil(lambda: not panel._refresh_timer.isActive(), timeout=3000)
    assert panel.fit.fits and panel.warning_label.isHidden()  # k examples and the query: nothing is cut


def test_the_evaluate_task_defaults_to_python_phrases_and_every_prompt_fits(qtbot, session):
    from playground.ui.task_tab import TaskTab

    checkpoint = demo_checkpoint()
    session.set_checkpoint(checkpoint)
    tab = TaskTab(session)
    qtbot.addWidget(tab)
    tab.make_ready()  # what the Evaluate step does when first shown
    task, template = tab.current_task(), tab.current_template()
    assert task is not None and task.name == "Python phrases"
    assert template is not None and template.k >= 1
    encode, context = checkpoint.tokenizer.encode, checkpoint.model_config.context_length
    for example in task.examples:  # the few-shot prompt, the answer it may write: all in the model's context
        few_shot = template.render("few-shot", input=example.input).text
        assert len(encode(few_shot)) + tab.max_tokens.value() <= context


# (a) the Start here card


@pytest.fixture
def fresh_profile():
    """No 'dismissed' remembered (the settings live in the tests' own XDG_CONFIG_HOME)."""
    from PySide6.QtCore import QSettings

    from playground.ui.widgets.start_here import DISMISSED_KEY

    QSettings().remove(DISMISSED_KEY)
    yield
    QSettings().remove(DISMISSED_KEY)


@pytest.fixture
def window(qtbot, session, fresh_profile):
    from playground.ui.main_window import MainWindow

    w = MainWindow(session)
    qtbot.addWidget(w)
    w.resize(1280, 720)
    w.show()
    yield w
    w.tokenizer_panel.start_here.hide()


def test_a_fresh_profile_starts_on_the_card_until_it_is_dismissed(qtbot, session, fresh_profile):
    from playground.ui.tokenizer_panel import TokenizerPanel

    panel = TokenizerPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    card = panel.start_here
    assert card.isVisible()
    assert [b.text() for b in (card.demo_button, card.build_button, card.watch_button)] == [
        "▶  Try the demo model",
        "Build your own",
        "Watch the demo",
    ]
    card.close_button.click()
    assert not card.isVisible()

    again = TokenizerPanel(session)  # the next launch: still dismissed
    qtbot.addWidget(again)
    again.show()
    assert not again.start_here.isVisible()


def test_help_start_here_reopens_the_card_on_the_first_step(window):
    card = window.tokenizer_panel.start_here
    assert window.current_panel() is window.tokenizer_panel and card.isVisible()
    card.dismiss()
    window.go_to("generate")
    action = next(a for a in window.help_menu.actions() if a.text() == "&Start here")
    action.trigger()
    assert window.current_panel() is window.tokenizer_panel and card.isVisible()


def test_try_the_demo_model_shows_generate_with_the_demo_model(qtbot, window, session, jobs):
    from playground.ui.widgets.no_model import is_demo

    assert session.checkpoint is None
    with qtbot.waitSignal(session.checkpoint_changed, timeout=60_000):
        window.tokenizer_panel.start_here.demo_button.click()
        assert window.current_panel() is window.generate_panel
        assert session.demo_loading  # Generate's offer shows that it loads
    jobs.wait(qtbot)
    assert is_demo(session.checkpoint) and not session.demo_loading

    window.go_to("tokenize")  # the demo model is current already: no second load
    assert window.tokenizer_panel.start_here.try_demo_model() is None
    assert window.current_panel() is window.generate_panel


def test_try_the_demo_model_while_it_loads_at_start_up_starts_no_second_load(window, session):
    session.set_demo_loading(True)
    assert window.tokenizer_panel.start_here.try_demo_model() is None
    assert window.current_panel() is window.generate_panel
    session.set_demo_loading(False)


def test_build_your_own_stays_on_tokenize_with_the_train_button_focused(qtbot, window):
    from PySide6.QtWidgets import QApplication

    window.activateWindow()
    window.tokenizer_panel.start_here.build_button.click()
    assert window.current_panel() is window.tokenizer_panel
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.tokenizer_panel.train_button, timeout=2000)


def test_watch_the_demo_starts_the_one_click_demo(window, monkeypatch):
    started = []
    monkeypatch.setattr(window, "run_demo", lambda settings=None: started.append(True))
    window.tokenizer_panel.start_here.watch_button.click()
    assert started == [True]
