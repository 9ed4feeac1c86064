"""The step-by-step chain wraps onto rows instead of scrolling sideways."""

from playground.core.sampling import Candidate, Stage
from playground.ui.widgets.stage_charts import StagesView

NAMES = ["the model", "repetition penalty 1.1", "temperature 0.8", "top-k 50", "top-p 0.9", "min-p 0.05"]


def six_stages():
    words = [Candidate(i, f" word{i}", 0.5 / (i + 1)) for i in range(8)]
    return [Stage(name, words[: 8 - k], 1000 // (k + 1)) for k, name in enumerate(NAMES)]


def test_six_stages_fit_without_sideways_scrolling(qtbot):
    view = StagesView()
    qtbot.addWidget(view)
    view.resize(800, 500)
    view.show()
    view.set_stages(six_stages(), chosen_id=1, heading="Token 3")
    qtbot.waitUntil(lambda: view.columns == 3)  # 3 + 3, not 5 + 1
    assert view.row.minimumSizeHint().width() <= view.scroll_area.viewport().width()
    assert not view.scroll_area.horizontalScrollBar().isVisible()
    cards = [c for c in view.charts if c.isVisible()]
    assert [c.name for c in cards] == NAMES
    qtbot.waitUntil(lambda: len({c.y() for c in cards}) == 2)  # laid out on the next turn
    rows = sorted({c.y() for c in cards})
    assert len(rows) == 2 and [c.y() for c in cards] == [rows[0]] * 3 + [rows[1]] * 3
    # A row's first card has no arrow before it; the others do.
    shown_arrows = [a for a in view.arrows if a.isVisible()]
    assert len(shown_arrows) == 4


def test_a_wide_view_keeps_every_stage_on_one_row(qtbot):
    view = StagesView()
    qtbot.addWidget(view)
    view.resize(1400, 400)
    view.show()
    view.set_stages(six_stages(), chosen_id=1, heading="Token 3")
    qtbot.waitUntil(lambda: view.columns == 6)
    qtbot.wait(10)
    assert len({c.y() for c in view.charts if c.isVisible()}) == 1
    assert sum(a.isVisible() for a in view.arrows) == 5
    # Fewer stages later: the cards left over hide.
    view.set_stages(six_stages()[:2], chosen_id=1, heading="Token 4")
    assert [c.isVisible() for c in view.charts] == [True, True, False, False, False, False]
    assert sum(a.isVisible() for a in view.arrows) == 1


def test_even_columns_balance_the_rows():
    from playground.ui.widgets.even_rows import even_columns

    assert even_columns(6, 5) == 3  # 3 + 3, not 5 + 1
    assert even_columns(6, 6) == 6 and even_columns(6, 9) == 6
    assert even_columns(10, 4) == 4  # 4 + 4 + 2
    assert even_columns(10, 5) == 5 and even_columns(7, 1) == 1
    assert even_columns(0, 3) == 1
