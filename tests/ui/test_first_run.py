"""First run (issue 14, item 4): the demo model's loading state on every 'Load the demo model' offer,
stop strings from a template's separator, defaults that suit the shipped Python-docs model, and the
Start here card."""

from types import SimpleNamespace

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
