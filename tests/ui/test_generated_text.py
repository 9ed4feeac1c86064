"""The Generate output keeps the newest text in view, even after a long cut prompt."""

from playground.core.sampling import GeneratedToken
from playground.ui.widgets.generated_text import GeneratedTextView


def at_end(view) -> bool:
    bar = view.verticalScrollBar()
    return bar.maximum() > 0 and bar.value() == bar.maximum()


def test_a_long_cut_prompt_does_not_hold_the_view_at_the_top(qtbot):
    view = GeneratedTextView()
    qtbot.addWidget(view)
    view.resize(500, 200)
    view.show()
    qtbot.waitExposed(view)
    view.set_prompt("def greet(name):\n", cut="an old, long context line\n" * 200)
    assert at_end(view)  # where the tokens will arrive, not the struck-through start
    for i in range(60):
        view.append_token(GeneratedToken(i, i, f"token{i}\n", 0.5, 0.5))
        assert at_end(view), f"lost the end at token {i}"


def test_a_reader_who_scrolls_up_is_left_there(qtbot):
    view = GeneratedTextView()
    qtbot.addWidget(view)
    view.resize(500, 200)
    view.show()
    view.set_prompt("x\n" * 100)
    view.verticalScrollBar().setValue(0)
    view.append_token(GeneratedToken(0, 0, "more\n", 0.5, 0.5))
    assert view.verticalScrollBar().value() == 0
