"""pytest-qt tests of the Prompt panel: edit a template, watch the prompt and its token count, send it on."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
)

from playground.core.prompts import Example, PromptTemplate, builtin_templates, load_template
from playground.core.tokenization import open_tokenizer

ROOT = Path(__file__).resolve().parents[2]
COL_ON, COL_INPUT = 0, 1


@pytest.fixture(scope="module")
def demo_tokenizer():
    return open_tokenizer(ROOT / "models" / "demo" / "tokenizer.json")


def fake_checkpoint(tokenizer, context_length: int):
    """What the panel reads from a Checkpoint, without loading a model."""
    return SimpleNamespace(
        tokenizer=tokenizer, model_config=SimpleNamespace(context_length=context_length), name="test-model"
    )


@pytest.fixture
def prompt_panel(qtbot, session):
    from playground.ui.prompt_panel import PromptPanel

    widget = PromptPanel(session)
    qtbot.addWidget(widget)
    widget.resize(1150, 780)
    widget.show()
    return widget


def start_on_the_first_template(qtbot, panel):
    """Choose the first built-in template (the panel starts on the one that suits the demo model)."""
    panel.template_combo.setCurrentIndex(0)
    settle(qtbot, panel)


def settle(qtbot, panel):
    """Wait for the debounced re-render."""
    qtbot.waitUntil(lambda: not panel._refresh_timer.isActive(), timeout=3000)
    assert panel.preview_text() == panel.template().render().text


def test_starts_with_the_builtin_template_that_suits_the_demo_model(prompt_panel):
    first = next(t for t in builtin_templates() if t.name == "Python phrases")  # the demo model learned Python docs
    assert prompt_panel.template_combo.count() == len(builtin_templates())
    assert prompt_panel.template() == first
    assert prompt_panel.preview_text() == first.render().text
    assert prompt_panel.preview.toPlainText() == prompt_panel.preview_text()
    assert first.description in prompt_panel.description_label.text()
    assert "No tokenizer yet" in prompt_panel.token_count_label.text()


def test_preview_follows_the_examples(qtbot, prompt_panel):
    panel = prompt_panel
    panel.set_template(
        PromptTemplate(
            name="t",
            instruction="Do it.",
            k=2,
            input="q",
            examples=[Example("a1", "b1"), Example("a2", "b2"), Example("a3", "b3")],
        )
    )
    assert panel.preview_text() == ("Do it.\n\nInput: a1\nOutput: b1\n\nInput: a2\nOutput: b2\n\nInput: q\nOutput:")
    table = panel.examples_table

    # Untick the first example: the next ticked one takes its place.
    table.item(0, COL_ON).setCheckState(Qt.Unchecked)
    settle(qtbot, panel)
    assert "a1" not in panel.preview_text() and "a3" in panel.preview_text()
    table.item(0, COL_ON).setCheckState(Qt.Checked)
    settle(qtbot, panel)

    # Edit a cell.
    table.item(1, COL_INPUT).setText("edited {braces}")
    settle(qtbot, panel)
    assert "Input: edited {braces}\nOutput: b2" in panel.preview_text()

    # Reorder: few-shot takes the first k rows.
    panel.move_example(row=2, delta=-1)
    settle(qtbot, panel)
    assert [e.input for e in panel.template().examples] == ["a1", "a3", "edited {braces}"]
    assert panel.preview_text().index("a1") < panel.preview_text().index("a3")
    assert "edited" not in panel.preview_text()
    panel.move_example(row=1, delta=-1)
    settle(qtbot, panel)
    assert panel.preview_text().index("a3") < panel.preview_text().index("a1")

    # Add, raise k, remove.
    row = panel.add_example(Example("new in", "new out"), edit=False)
    assert row == 3
    panel.k_spin.setValue(4)
    settle(qtbot, panel)
    assert "Input: new in\nOutput: new out\n\nInput: q\nOutput:" in panel.preview_text()
    panel.remove_example(row=3)
    settle(qtbot, panel)
    assert "new in" not in panel.preview_text()
    assert panel.examples_table.rowCount() == 3


def test_modes_and_k(qtbot, prompt_panel):
    panel = prompt_panel
    start_on_the_first_template(qtbot, panel)
    for mode in ("zero-shot", "one-shot", "few-shot", "chain-of-thought", "instruction"):
        panel.mode_combo.setCurrentIndex(panel.mode_combo.findData(mode))
        settle(qtbot, panel)
        assert panel.template().mode == mode
        assert panel.k_spin.isEnabled() == (mode in ("few-shot", "chain-of-thought"))
        assert panel.preview_text() == builtin_templates()[0].render(mode).text


def test_token_count_matches_the_tokenizer(qtbot, prompt_panel, demo_tokenizer):
    panel = prompt_panel
    panel.session.set_tokenizer(demo_tokenizer)
    settle(qtbot, panel)
    n = len(demo_tokenizer.encode(panel.preview_text()))
    assert panel.n_tokens == n and f"<b>{n:,}</b> tokens" in panel.token_count_label.text()
    assert "no context length" in panel.token_count_label.text()

    panel.session.set_checkpoint(fake_checkpoint(demo_tokenizer, 1024))
    settle(qtbot, panel)
    assert panel.prompt_window == 1024 - 64
    assert f"<b>{n:,}</b> tokens of the <b>960</b>" in panel.token_count_label.text()
    assert panel.fit.fits and panel.warning_label.isHidden()

    panel.query_edit.setPlainText("A much longer query with more words in it than before.")
    settle(qtbot, panel)
    assert panel.n_tokens == len(demo_tokenizer.encode(panel.preview_text())) > n


def test_warning_when_the_context_is_too_small(qtbot, prompt_panel, demo_tokenizer):
    panel = prompt_panel
    start_on_the_first_template(qtbot, panel)
    panel.session.set_checkpoint(fake_checkpoint(demo_tokenizer, 64))  # reads 48 tokens of a prompt
    settle(qtbot, panel)
    assert panel.prompt_window == 48
    assert not panel.fit.fits
    assert panel.warning_label.isVisible()
    assert panel.fit.message() in panel.warning_label.text()
    assert "the first" in panel.warning_label.text() and "example 1" in panel.warning_label.text()
    # The cut text is struck through, the kept text is not.
    cursor = QTextCursor(panel.preview.document())
    cursor.setPosition(1)
    assert cursor.charFormat().fontStrikeOut()
    cursor.setPosition(len(panel.preview_text()))
    assert not cursor.charFormat().fontStrikeOut()

    # Zero-shot fits again.
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("zero-shot"))
    settle(qtbot, panel)
    assert panel.fit.fits and panel.warning_label.isHidden()


def test_send_hands_a_copy_to_generate(qtbot, prompt_panel):
    panel, session = prompt_panel, prompt_panel.session
    steps = []
    session.show_step.connect(steps.append)
    with qtbot.waitSignal(session.prompt_sent, timeout=2000) as blocker:
        panel.send_button.click()
    sent = blocker.args[0]
    assert isinstance(sent, PromptTemplate) and sent == panel.template()
    assert session.prompt is sent and steps == ["generate"]
    panel.instruction_edit.setPlainText("Something else.")
    settle(qtbot, panel)
    assert sent.instruction != "Something else."  # a copy, not the panel's own


def test_send_shortcut(qtbot, prompt_panel):
    prompt_panel.activateWindow()
    prompt_panel.instruction_edit.setFocus()
    with qtbot.waitSignal(prompt_panel.session.prompt_sent, timeout=2000):
        qtbot.keyClick(prompt_panel.instruction_edit, Qt.Key_Return, Qt.ControlModifier)


def test_edits_survive_switching_templates(qtbot, prompt_panel):
    panel = prompt_panel
    start_on_the_first_template(qtbot, panel)
    panel.instruction_edit.setPlainText("My own instruction.")
    settle(qtbot, panel)
    assert panel.template_combo.itemText(0).endswith("(edited)")
    assert panel.revert_button.isEnabled()
    panel.template_combo.setCurrentIndex(1)
    assert panel.template() == builtin_templates()[1]
    panel.template_combo.setCurrentIndex(0)
    assert panel.instruction_edit.toPlainText() == "My own instruction."
    panel.revert()
    assert panel.template() == builtin_templates()[0]
    assert not panel.template_combo.itemText(0).endswith("(edited)")


def test_bad_format_is_shown_and_blocks_sending(qtbot, prompt_panel):
    panel = prompt_panel
    panel.format_edits["example_format"].setPlainText("Q: {input}\nA: {answer}")
    settle_problem = lambda: not panel._refresh_timer.isActive()  # noqa: E731
    qtbot.waitUntil(settle_problem, timeout=3000)
    assert "{answer}" in panel.problem_label.text() and panel.problem_label.isVisible()
    assert not panel.send_button.isEnabled()
    messages = []
    panel.session.message.connect(lambda level, text: messages.append((level, text)))
    panel.send()
    assert messages and messages[0][0] == "error"
    panel.format_edits["example_format"].setPlainText("Q: {input}\nA: {output}")
    settle(qtbot, panel)
    assert panel.problem_label.isHidden() and panel.send_button.isEnabled()


def test_open_and_save(qtbot, prompt_panel, tmp_path):
    panel = prompt_panel
    messages = []
    panel.session.message.connect(lambda level, text: messages.append((level, text)))
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n", encoding="utf-8")
    before = panel.template()
    assert not panel.open_template(bad)
    assert messages[-1][0] == "error" and "bad.toml" in messages[-1][1]
    assert panel.template() == before

    panel.instruction_edit.setPlainText("Saved instruction.")
    path = tmp_path / "mine.json"
    assert panel.save_to(path)
    assert load_template(path) == panel.template()
    assert "mine.json" in panel.template_combo.currentText()
    # The built-in the edits started from is back to itself; the edits live in the file.
    assert not panel.template_combo.itemText(0).endswith("(edited)")

    other = tmp_path / "other.toml"
    t = PromptTemplate(name="Other", description="From a file.", examples=[Example("x", "y")], input="z")
    from playground.core.prompts import save_template

    save_template(t, other)
    assert panel.open_template(other)
    assert panel.template() == t
    assert panel.description_label.text() == "From a file."
    assert panel.template_combo.currentText() == "Other (other.toml)"


def test_every_control_has_a_tooltip(prompt_panel):
    missing = []
    for kind in (QPushButton, QComboBox, QSpinBox, QPlainTextEdit, QLineEdit, QTableWidget):
        for w in prompt_panel.findChildren(kind):
            if isinstance(w.parent(), (QAbstractSpinBox, QComboBox)):
                continue  # the line edit inside a spin box
            if not w.toolTip():
                missing.append(f"{type(w).__name__} {w.objectName() or ''}")
    assert not missing


def test_hover_names_the_part(qtbot, prompt_panel):
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QToolTip

    start_on_the_first_template(qtbot, prompt_panel)
    view = prompt_panel.preview
    view.moveCursor(QTextCursor.Start)
    rect = view.cursorRect(view.textCursor())
    pos = QPoint(rect.left() + 3, rect.center().y())
    view.viewportEvent(QHelpEvent(QEvent.ToolTip, pos, view.viewport().mapToGlobal(pos)))
    assert "Instruction" in QToolTip.text()


def test_huge_template_counts_and_draws_only_its_end(qtbot, prompt_panel, demo_tokenizer):
    """A multi-MB instruction: the count and the preview take what the model reads, not all of it."""
    import time

    from playground.core.prompts import PromptTemplate
    from playground.ui.widgets.prompt_preview import PREVIEW_TAIL_CHARS

    panel = prompt_panel
    panel.session.set_checkpoint(fake_checkpoint(demo_tokenizer, 256))  # reads 192 tokens of a prompt
    line = "The quick brown fox jumps over the lazy dog, 1234 times.\n"
    template = PromptTemplate(
        name="Huge", instruction=line * (4_000_000 // len(line)), input="the dog", mode="zero-shot"
    )
    panel.set_template(template)
    started = time.perf_counter()
    panel.refresh()
    seconds = time.perf_counter() - started
    text = panel.preview_text()
    assert len(text) > 3_900_000 and seconds < 5.0
    assert not panel.fit.fits and not panel.fit.exact and panel.n_tokens > 192
    # The cut falls where the whole text's last 192 tokens begin (the tokens of its last lines).
    tail_from = text.rindex("\n", 0, len(text) - 20_000) + 1
    whole = [tail_from + s for s in demo_tokenizer.token_starts(text[tail_from:])]
    assert panel.fit.cut_chars == whole[-192]
    assert "More than" in panel.token_count_label.text() and "all but the last 192" in panel.warning_label.text()
    drawn = panel.preview.toPlainText()
    assert len(drawn) < PREVIEW_TAIL_CHARS + 10_000 and "more characters cut" in drawn
    assert drawn.endswith(text[-1000:])
