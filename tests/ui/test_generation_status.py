"""The Generate step's status line and comparison tab on their own, without a model or a job."""

from types import SimpleNamespace

from playground.core.prompts import Example, PromptTemplate
from playground.core.sampling_settings import SamplingSettings
from playground.ui.widgets.generation_status import GenerationStatus
from playground.ui.widgets.side_by_side import CompareTab, SamplesTab


def token(stop_reason=""):
    return SimpleNamespace(stop_reason=stop_reason)


def test_the_status_words_how_a_generation_ended(qtbot):
    status = GenerationStatus()
    qtbot.addWidget(status)
    status.finished([], cancelled=False)
    assert status.text() == "Done"
    status.finished([token(), token("the end-of-text token")], cancelled=False)
    assert status.text() == "Stopped: the end-of-text token · 2 tokens"  # no timing: no streamed tokens
    status.finished([token("a reason of its own")], cancelled=False)
    assert status.text() == "Stopped: a reason of its own · 1 tokens"
    status.finished([token(), token("max new tokens")], cancelled=True)
    assert status.text() == "Stopped by you after 2 tokens · 2 tokens"


def test_the_status_times_streamed_tokens_from_the_first_to_the_last(qtbot, monkeypatch):
    status = GenerationStatus()
    qtbot.addWidget(status)
    clock = iter([10.0, 10.5, 11.0])
    monkeypatch.setattr("playground.ui.widgets.generation_status.time.monotonic", lambda: next(clock))
    status.start_timing()
    for n in (1, 2, 3):
        status.token_streamed(n)
    assert status.text() == "Generating… 3 tokens"
    status.finished([token(), token(), token("max new tokens")], cancelled=False)
    assert status.text() == "Stopped: max new tokens · 3 tokens, 2 tokens/s"


def test_the_status_says_where_beam_search_stopped(qtbot):
    status = GenerationStatus()
    qtbot.addWidget(status)
    status.beams_stopped(None)
    assert status.text() == "Stopped by you before the first step."
    beams = [SimpleNamespace(finished=True), SimpleNamespace(finished=False)]
    status.beams_found(SimpleNamespace(steps=1200, beams=beams))
    assert status.text() == "Beam search finished after 1,200 steps: 1 of 2 beams reached the end-of-text token."


def test_the_compare_tab_renders_its_template_zero_shot_and_in_its_own_mode(qtbot):
    tab = CompareTab()
    qtbot.addWidget(tab)
    assert tab.template is None and "Send a few-shot prompt" in tab.template_label.text()
    template = PromptTemplate(name="Greeting", mode="zero-shot", examples=[Example("hi", "hello")], input="hey")
    tab.set_template(template)
    assert tab.other_mode() == "few-shot"  # a zero-shot template is compared with its few-shot self
    assert "Greeting" in tab.template_label.text()
    settings = SamplingSettings()
    runs = tab.start_runs(settings)
    zero, few = (text for text, _ in runs)
    assert "hello" not in zero and "Input: hi\nOutput: hello" in few and zero.endswith("Input: hey\nOutput:")
    assert all(s is settings for _, s in runs) and len(tab.area.columns) == 2


def test_the_samples_tab_gives_each_column_the_next_seed(qtbot):
    tab = SamplesTab()
    qtbot.addWidget(tab)
    runs = tab.start_runs("Once", SamplingSettings(strategy="sample", seed=7), [7, 8, 9])
    assert [(text, s.seed) for text, s in runs] == [("Once", 7), ("Once", 8), ("Once", 9)]
    assert [c.caption for c in tab.area.columns] == ["seed 7", "seed 8", "seed 9"]
