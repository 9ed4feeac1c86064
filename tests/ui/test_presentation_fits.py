"""Presentation mode scales inside the window: big type on every plot of every step (at least 16 px at
1280×720), a window that keeps its size, and leaving it puts every font and size back exactly."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QScrollBar, QWidget

from playground.ui import themes

MIN_PX = 16  # the smallest type a room reads on a 1280×720 projector


@pytest.fixture(scope="module")
def demo():
    from playground.core.checkpoints import load_checkpoint
    from playground.paths import demo_model_dir

    assert demo_model_dir() is not None, "models/demo is missing: it ships with the repository, so restore it"
    return load_checkpoint(demo_model_dir())


@pytest.fixture
def window(qtbot, session):
    from playground.ui.main_window import MainWindow

    w = MainWindow(session)
    qtbot.addWidget(w)
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.set_presentation_mode(False)  # the look is the application's, shared by every later test
    themes.apply_look(themes.Look())
    QSettings().remove("view/theme")


def px(font: QFont) -> float:
    """The height of `font`'s em on the screen, in pixels."""
    if font.pixelSize() > 0:
        return float(font.pixelSize())
    return font.pointSizeF() * QApplication.primaryScreen().logicalDotsPerInchY() / 72


def css_px(size: str) -> float:
    number, unit = re.fullmatch(r"\s*([0-9.]+)\s*(pt|px)\s*", size).groups()
    return float(number) * (1 if unit == "px" else QApplication.primaryScreen().logicalDotsPerInchY() / 72)


def settle(qtbot, ms: int = 60) -> None:
    qtbot.wait(ms)


def visit_every_step(qtbot, window, jobs=None) -> None:
    for row in range(len(window.step_titles)):
        window.steps.setCurrentRow(row)
        settle(qtbot, 120)
        if jobs is not None and jobs.started:
            jobs.wait(qtbot)
            settle(qtbot)


def plot_text_sizes(root: QWidget) -> list[tuple[str, float]]:
    """(what, px) for every piece of text on the visible pyqtgraph plots under `root`."""
    import pyqtgraph as pg

    from playground.ui.widgets.heatmap import TokenAxis

    sizes: list[tuple[str, float]] = []
    views = [v for v in root.findChildren(pg.GraphicsView) if v.isVisible() and v.scene() is not None]
    for view in views:
        name = type(view).__name__
        for item in view.scene().items():
            if not item.isVisible():
                continue
            if isinstance(item, TokenAxis):
                if item.labels:
                    sizes.append((f"{name}: token labels", px(item.font)))
            elif isinstance(item, pg.AxisItem) and item.style.get("showValues", True):
                sizes.append((f"{name}: {item.orientation} ticks", px(item.style.get("tickFont") or view.font())))
            if isinstance(item, pg.AxisItem) and item.label.isVisible() and item.labelText:
                sizes.append((f"{name}: axis label {item.labelText!r}", px(item.label.font())))
            elif isinstance(item, pg.LabelItem) and item.text.strip():
                size = item.opts.get("size")
                sizes.append((f"{name}: label {item.text[:30]!r}", css_px(size) if size else px(item.item.font())))
            elif isinstance(item, pg.TextItem) and item.textItem.toPlainText().strip():
                sizes.append((f"{name}: text {item.textItem.toPlainText()[:30]!r}", px(item.textItem.font())))
    return sizes


# ---------------------------------------------------------------------------------------------- big type


def test_every_plot_of_every_step_is_in_big_type(qtbot, window, session, demo, jobs):
    from playground.ui.attention_panel import VIEW_ALL, VIEW_HEAD, VIEW_LAYER, VIEW_MEAN

    session.set_checkpoint(*demo)
    visit_every_step(qtbot, window, jobs)
    window.set_presentation_mode(True)
    seen: list[tuple[str, str, float]] = []
    for row, title in enumerate(window.step_titles):
        window.steps.setCurrentRow(row)
        settle(qtbot, 150)
        if jobs.started:
            jobs.wait(qtbot)
        settle(qtbot)
        seen += [(title, what, size) for what, size in plot_text_sizes(window.current_panel())]
    attention = window.attention_panel
    window.go_to("attention")
    for view in (VIEW_HEAD, VIEW_MEAN, VIEW_LAYER, VIEW_ALL):  # the heatmap, the head grid
        attention.view.setCurrentIndex(view)
        settle(qtbot, 150)
        jobs.wait(qtbot)
        settle(qtbot)
        seen += [(f"Attention view {view}", what, size) for what, size in plot_text_sizes(attention)]

    kinds = {what.split(":")[0] for _title, what, _size in seen}
    assert {"PlotWidget", "AttentionHeatmap", "HeadGrid", "MetricBars"} <= kinds  # the plots were there
    assert any("token labels" in what for _title, what, _size in seen)
    assert any("'attention weight'" in what for _title, what, _size in seen)  # the colour bar's title
    assert any(what == "AttentionHeatmap: right ticks" for _title, what, _size in seen)  # and its numbers
    small = [(title, what, round(size, 1)) for title, what, size in seen if size < MIN_PX]
    assert not small, small


def test_plots_made_in_presentation_mode_are_big_and_small_again_after_it(qtbot, window, session, demo, jobs):
    # On before the steps' panels and plots are built: what they make then is big, and small afterwards.
    window.set_presentation_mode(True)
    session.set_checkpoint(*demo)
    seen = []
    for row in range(len(window.step_titles)):
        window.steps.setCurrentRow(row)
        settle(qtbot, 150)
        if jobs.started:
            jobs.wait(qtbot)
        settle(qtbot)
        seen += plot_text_sizes(window.current_panel())
    assert len(seen) > 20 and not [(what, size) for what, size in seen if size < MIN_PX]
    window.set_presentation_mode(False)
    seen = []
    for row in range(len(window.step_titles)):
        window.steps.setCurrentRow(row)
        settle(qtbot, 120)
        seen += plot_text_sizes(window.current_panel())
    normal = 11 * QApplication.primaryScreen().logicalDotsPerInchY() / 72  # the largest plot text (a title)
    assert not [(what, size) for what, size in seen if size > normal + 0.5]
    # Nor does a widget made meanwhile keep the big application font (style sheets copy it in).
    big = themes.scaled_font(QApplication.font(), 1.5).pointSizeF()
    kept = [
        (type(w).__name__, type(w.parentWidget()).__name__)
        for w in QApplication.allWidgets()
        if w.font().pointSizeF() == big and not isinstance(w, QScrollBar) and not _qt_internal(w, window)
    ]
    assert not kept


def test_painted_charts_grow_with_the_type_and_shrink_back_exactly(qtbot, default_look):
    from playground.ui.widgets.attention_lines import AttentionLines
    from playground.ui.widgets.candidate_chart import BarRow, BarRows
    from playground.ui.widgets.generated_text import ProbabilityLegend

    bars = BarRows(["bar_before", "series_blue"], bar_height=8, gap=7)
    bars.set_rows([BarRow("the", [0.5, 0.7], chosen=True), BarRow("a", [0.2, None], below=[0.0, 0.1])])
    lines = AttentionLines()
    legend = ProbabilityLegend()
    for widget in (bars, lines, legend):
        qtbot.addWidget(widget)
    lines.set_attention(np.tril(np.ones((3, 3))) / 3, ["a", "b", "c"])
    lines.resize(500, 200)
    lines.show()
    before = (bars.height(), QFont(bars.label_font), QFont(bars.value_font), lines.minimumHeight(), legend.height())

    themes.apply_look(themes.Look(font_scale=1.5, high_contrast=True))
    lines.grab()  # painting sizes its type
    assert px(bars.label_font) >= MIN_PX and px(bars.value_font) >= MIN_PX
    assert bars.height() > before[0]  # the rows grew with their type: nothing overlaps
    assert px(lines.font_normal) >= MIN_PX and lines.minimumHeight() > before[3]
    assert legend.height() > before[4]

    themes.apply_look(themes.Look())
    after = (bars.height(), QFont(bars.label_font), QFont(bars.value_font), lines.minimumHeight(), legend.height())
    assert after == before


@pytest.fixture
def default_look():
    yield
    themes.apply_look(themes.Look())


# ---------------------------------------------------------------------------------------------- the window


@pytest.mark.parametrize("size", [(1280, 720), (1024, 640)])
def test_the_window_keeps_its_size(qtbot, window, session, demo, jobs, size):
    session.set_checkpoint(*demo)
    window.resize(*size)
    visit_every_step(qtbot, window, jobs)
    assert (window.width(), window.height()) == size
    window.set_presentation_mode(True)
    settle(qtbot)
    assert (window.width(), window.height()) == size
    for row, title in enumerate(window.step_titles):
        window.steps.setCurrentRow(row)
        settle(qtbot, 120)
        assert (window.width(), window.height()) == size, f"{title} grew the window"
    window.set_presentation_mode(False)
    settle(qtbot, 120)
    assert (window.width(), window.height()) == size
    if jobs.started:
        jobs.wait(qtbot)


# ---------------------------------------------------------------------------------------------- restore


def _qt_internal(widget: QWidget, main: QWidget) -> bool:
    """Qt's own parts (scroll bar containers, a combo box's popup) size themselves when first laid out."""
    return widget.objectName().startswith("qt_") or widget.window() is not main


def widget_state(window) -> dict:
    state = {}
    for widget in QApplication.allWidgets():
        if isinstance(widget, QScrollBar):
            continue  # no text; Qt itself gives a scroll bar the application font when it first lays one out
        key = id(widget)
        state[key] = (widget, QFont(widget.font()), widget.testAttribute(Qt.WidgetAttribute.WA_SetFont))
        if not _qt_internal(widget, window):
            state[key] += (
                widget.minimumWidth(),
                widget.maximumWidth(),
                widget.minimumHeight(),
                widget.maximumHeight(),
                widget.styleSheet(),
            )
    return state


def plot_state() -> dict:
    import pyqtgraph as pg

    state = {}
    for view in QApplication.allWidgets():
        if not isinstance(view, pg.GraphicsView) or view.scene() is None:
            continue
        for item in view.scene().items():
            if isinstance(item, pg.AxisItem):
                tick = item.style.get("tickFont")
                own = getattr(item, "font", None)
                state[id(item)] = (
                    item,
                    tick and QFont(tick),
                    QFont(item.label.font()),
                    QFont(own) if isinstance(own, QFont) else None,
                    item.width() if item.orientation in ("left", "right") else item.height(),  # its room
                )
            elif isinstance(item, pg.LabelItem):
                state[id(item)] = (item, item.opts.get("size"), QFont(item.item.font()))
            elif isinstance(item, pg.TextItem):
                state[id(item)] = (item, QFont(item.textItem.font()))
    return state


def differences(before: dict, after: dict) -> list:
    """What changed on the widgets and items seen both times (the same object, not a new one at its id)."""

    def shown(values) -> list:
        return [value.toString() if isinstance(value, QFont) else value for value in values]

    found = []
    for key, old in before.items():
        new = after.get(key)
        if new is not None and new[0] is old[0] and new[1:] != old[1:]:
            thing = old[0]
            name = (
                f"{thing.objectName()} in {type(thing.parentWidget()).__name__}" if isinstance(thing, QWidget) else ""
            )
            found.append((type(thing).__name__, name, shown(old[1:]), shown(new[1:])))
    return found


def test_leaving_presentation_mode_restores_every_font_and_size_exactly(qtbot, window, session, demo, jobs):
    session.set_checkpoint(*demo)
    visit_every_step(qtbot, window, jobs)
    widgets, plots = widget_state(window), plot_state()
    app_font = QFont(QApplication.font())
    sidebar = window.sidebar.width()

    window.set_presentation_mode(True)
    visit_every_step(qtbot, window, jobs)
    assert window.sidebar.width() > sidebar
    window.set_presentation_mode(False)
    visit_every_step(qtbot, window, jobs)

    assert QApplication.font() == app_font and window.sidebar.width() == sidebar
    assert not differences(widgets, widget_state(window))
    assert not differences(plots, plot_state())
    # The named culprits of the findings: they stayed large.
    tokenizer, generate = window.tokenizer_panel, window.generate_panel
    for widget in (window.menuBar(), tokenizer.ids, tokenizer.token_view, generate.prompt_edit, generate.output):
        parts = [widget, widget.viewport()] if hasattr(widget, "viewport") else [widget]
        for part in parts:
            assert part.font() == widgets[id(part)][1]

    # A later change of look re-polishes every widget: no font from presentation mode comes back then.
    # (Qt itself gives scroll bars and their containers the application font then, presentation or not.)
    themes.set_theme("dark")
    themes.set_theme("system")
    changed = differences(widgets, widget_state(window))
    assert not [c for c in changed if c[0] != "QScrollBar" and not c[1].startswith("qt_")]
