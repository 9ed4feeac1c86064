"""Colours are named roles (playground/ui/colours.py): every look has each of them, text is readable on what
it is drawn on, switching looks puts back exactly what was there, and no colour is written anywhere else."""

import re
from collections import Counter
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSettings
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

import playground.ui
from playground.ui import themes
from playground.ui.colours import LOOKS, ROLES, TEXT_ON, contrast_ratio

AA = 4.5  # WCAG AA for text
COLOUR_IN_HTML = re.compile(r"color:\s*(#[0-9a-f]{6})")


@pytest.fixture
def default_look(qapp):
    """Whatever a test does to the look, the next one starts from the default again."""
    yield
    themes.apply_look(themes.Look())


def apply(look: "themes.Look") -> None:
    themes.apply_look(look)
    QApplication.processEvents()  # the new palette reaches each widget through the event queue


def window_colour(widget: QWidget) -> str:
    return widget.palette().color(QPalette.Window).name()


def ink_contrast(image: QImage, rect: QRect = None, skip: QRect = None) -> float:
    """The contrast of the text drawn in `image` (in `rect`, outside `skip`) against its background: the most
    common colour there is the background, the strongest contrast against it the text (its strokes reach
    its full colour)."""
    rect = rect or image.rect()
    pixels = [
        image.pixelColor(x, y).name()
        for x in range(rect.left(), rect.right() + 1)
        for y in range(rect.top(), rect.bottom() + 1)
        if skip is None or not skip.contains(x, y)
    ]
    background = Counter(pixels).most_common(1)[0][0]
    return max(contrast_ratio(p, background) for p in set(pixels))


# ---------------------------------------------------------------------------------------------- the table


def test_every_role_has_a_colour_in_every_look():
    assert LOOKS == ("light", "dark", "light_hc", "dark_hc")
    for role, values in ROLES.items():
        assert len(values) == len(LOOKS), role
        for look, value in zip(LOOKS, values):
            assert re.fullmatch(r"#[0-9a-f]{6}", value), f"{role} in {look}: {value!r}"
    assert {role for pair in TEXT_ON for role in pair} <= set(ROLES)


@pytest.mark.parametrize("look", LOOKS)
def test_text_is_readable_on_its_background_in_every_look(look):
    i = LOOKS.index(look)
    poor = []
    for fg, bg in TEXT_ON:
        if (look, fg, bg) == ("light", "selection_fg", "selection_bg"):
            continue  # Fusion's own light highlight (3.7:1), kept as it is: the light look does not change
        ratio = contrast_ratio(ROLES[fg][i], ROLES[bg][i])
        if ratio < AA:
            poor.append(f"{fg} {ROLES[fg][i]} on {bg} {ROLES[bg][i]}: {ratio:.2f}")
    assert not poor


@pytest.mark.parametrize("look", LOOKS)
def test_faint_text_stays_fainter_than_muted_text_but_visible(look):
    # Inactive text (dropped, unused, cut) is exempt from AA, but it must still read as fainter, in the dark too.
    i = LOOKS.index(look)
    muted = contrast_ratio(ROLES["muted"][i], ROLES["base"][i])
    for role in ("faint", "ghost"):
        assert 1.5 < contrast_ratio(ROLES[role][i], ROLES["base"][i]) < muted, role


def test_the_palettes_are_made_of_the_roles(qapp):
    light, dark, light_hc = themes.light_palette(), themes.dark_palette(), themes.light_palette(True)
    for role, palette_role in (
        ("window", QPalette.Window),
        ("base", QPalette.Base),
        ("text", QPalette.Text),
        ("button", QPalette.Button),
        ("selection_bg", QPalette.Highlight),
        ("selection_fg", QPalette.HighlightedText),
    ):
        assert light.color(palette_role).name() == ROLES[role][0], role  # Fusion's own, unchanged
        assert dark.color(palette_role).name() == ROLES[role][1], role
        assert light_hc.color(palette_role).name() == ROLES[role][2], role
    assert themes.dark_palette(True).color(QPalette.Highlight).name() == ROLES["selection_bg"][3]


def test_colour_follows_the_look(default_look):
    themes.apply_look(themes.Look(theme="light"))
    assert themes.colour("muted") == ROLES["muted"][0]
    themes.apply_look(themes.Look(theme="dark", high_contrast=True))
    assert themes.colour("muted") == ROLES["muted"][3]
    assert themes.qcolour("paper", alpha=90).alpha() == 90
    assert themes.render("color: {muted}; {x}", x="{muted}") == f"color: {ROLES['muted'][3]}; {{muted}}"


def test_no_colour_is_written_outside_the_roles_table():
    ui = Path(playground.ui.__file__).parent
    patterns = [
        re.compile(r"(?<![&\w])#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b"),  # "#5f6368"
        re.compile(r"QColor\(\s*(?:\d|[\"'])"),  # QColor(255, ..)
        re.compile(r"\bQt\.(?:white|black|red|green|blue|cyan|magenta|yellow|gray|darkGray|lightGray)\b"),
        re.compile(r"(?:mkPen|mkBrush|setBackground|setBackgroundColor)\(\s*[\"']\w+[\"']"),  # pg's "w"
        re.compile(r"\b(?:background|foreground|color|brush|symbolBrush)=[\"']\w+[\"']"),
        re.compile(r"(?:color|background(?:-color)?)\s*:\s*(?:white|black|red|green|blue|gr[ae]y|yellow)\b"),
    ]
    found = []
    for path in sorted(ui.rglob("*.py")):
        if path == ui / "colours.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if any(p.search(line) for p in patterns):
                found.append(f"{path.relative_to(ui)}:{n}: {line.strip()}")
    assert not found


# ---------------------------------------------------------------------------------------------- the window


def _look_of(window) -> list:
    """What the look decides in the window: every widget's style sheet, every label's text, the palette."""
    state = [tuple(QApplication.palette().color(role).name() for role in (QPalette.Window, QPalette.Text))]
    for widget in [window, *window.findChildren(QWidget)]:
        state.append(
            (
                type(widget).__name__,
                widget.objectName(),
                widget.styleSheet(),
                widget.text() if isinstance(widget, QLabel) else None,
            )
        )
    return state


def test_dark_and_back_to_light_restores_the_light_look_exactly(qtbot, session, default_look):
    from playground.ui.main_window import STEPS, MainWindow

    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    for row in range(len(STEPS)):
        window.panel(row)
    session.error("A message in the bar")
    window.set_theme("light")
    light = _look_of(window)

    window.set_theme("dark")
    dark = _look_of(window)
    assert len(dark) == len(light) and dark != light
    # Nothing in the dark look still carries a text colour made for the light one.
    text_roles = ("muted", "body", "heading", "error", "warning", "ok", "special_token", "faint", "ghost")
    dark_values = {values[1] for values in ROLES.values()}
    light_only = {ROLES[role][0] for role in text_roles} - dark_values
    left = [entry for entry in dark[1:] if any(v in str(entry) for v in light_only)]
    assert not left

    window.set_theme("light")
    assert _look_of(window) == light
    QSettings().remove("view/theme")  # set_theme keeps the choice for the next window: not for other tests


# ---------------------------------------------------------------------------------------------- issue 14's list


def test_the_tokenizer_name_in_the_counts_line_is_readable_in_dark(qtbot, session, default_look):
    from playground.core.tokenization import open_tokenizer
    from playground.paths import demo_model_dir
    from playground.ui.tokenizer_panel import TokenizerPanel

    session.add_tokenizer(open_tokenizer(demo_model_dir() / "tokenizer.json"))
    panel = TokenizerPanel(session)
    qtbot.addWidget(panel)
    panel.input.setPlainText("def add(a, b):\n    return a + b")
    panel.retokenize()
    apply(themes.Look(theme="dark"))  # the line was drawn in the light look: it follows
    text = panel.counts.text()
    colours = COLOUR_IN_HTML.findall(text)
    assert session.tokenizer.name in text and colours
    assert all(contrast_ratio(c, window_colour(panel.counts)) >= AA for c in colours), text


def test_the_probability_legend_is_readable_in_dark(qtbot, default_look):
    from playground.ui.widgets.generated_text import ProbabilityLegend

    apply(themes.Look(theme="dark"))
    legend = ProbabilityLegend()
    qtbot.addWidget(legend)
    legend.resize(560, 30)
    image = legend.grab().toImage()
    bar = QRect(0, 0, 250, 15)  # the colour scale itself, over its ticks
    assert ink_contrast(image, skip=bar) >= AA


def _token(prob=0.4, chosen=0.65):
    from playground.core.sampling import Candidate, GeneratedToken

    before = [Candidate(5, " of", prob), Candidate(6, ".", 0.08)]
    return GeneratedToken(
        index=2,
        id=5,
        text=" of",
        prob=prob,
        chosen_prob=chosen,
        before=before,
        after=[Candidate(5, " of", chosen), Candidate(6, ".", 0.1)],
    )


def test_the_candidate_chip_and_its_line_are_readable_in_dark(qtbot, default_look):
    from playground.ui.widgets.candidate_chart import CandidateChart

    chart = CandidateChart()
    qtbot.addWidget(chart)
    chart.set_token(_token())
    apply(themes.Look(theme="dark"))
    title = chart.title.text()
    chip = re.search(r"<code style='background:(#[0-9a-f]{6}); color:(#[0-9a-f]{6})'>", title)
    assert chip and contrast_ratio(chip.group(1), chip.group(2)) >= AA  # no longer white on white
    gave = re.search(r"color:(#[0-9a-f]{6})'>The model gave it", title)
    assert gave and contrast_ratio(gave.group(1), window_colour(chart)) >= AA
    for colour in COLOUR_IN_HTML.findall(chart.legend.styleSheet()):
        assert contrast_ratio(colour, window_colour(chart)) >= AA


def test_fits_is_readable_in_dark(qtbot, default_look):
    from playground.core.config import PRESETS
    from playground.core.estimates import AvailableMemory, memory_estimate
    from playground.ui.widgets.build_results import MemoryBox

    apply(themes.Look(theme="dark"))
    box = MemoryBox()
    qtbot.addWidget(box)
    config = PRESETS["tiny"].config(2000)
    box.show_memory(config, memory_estimate(config, 16), AvailableMemory(2**34, "a test"), 16, "fp32", "cpu")
    text = box.fit_label.text()
    assert "Fits" in text
    (colour,) = COLOUR_IN_HTML.findall(text)
    assert contrast_ratio(colour, window_colour(box.fit_label)) >= AA


def test_the_selected_head_summary_row_is_readable_in_dark_presentation(qtbot, default_look):
    from playground.core.attention import HeadStats
    from playground.ui.widgets.head_summary import HeadSummary

    apply(themes.Look(theme="dark", high_contrast=True, font_scale=1.5))
    summary = HeadSummary()
    qtbot.addWidget(summary)
    summary.resize(520, 420)
    summary.show()
    stats = [HeadStats(layer, head, 1.5, 0.1 * head, 0.3, 0.9) for layer in range(2) for head in range(3)]
    summary.fill(stats, False, 0, 1)
    table = summary.table
    row = table.currentRow()
    assert table.item(row, 1).text() == "1"
    for column in range(table.columnCount()):
        table.scrollToItem(table.item(row, column))  # big type: the columns scroll sideways
        image = table.viewport().grab().toImage()
        cell = table.visualItemRect(table.item(row, column)).adjusted(3, 3, -3, -3)
        assert image.rect().contains(cell), column
        assert ink_contrast(image, rect=cell) >= AA, column
