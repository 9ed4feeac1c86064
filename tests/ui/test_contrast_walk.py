"""Every label of every step is readable (WCAG AA, 4.5:1) in light, dark, and both in presentation mode.

The background is measured, not assumed: the window is rendered and the most common colour behind each
label is its background. The text colours are the label's own (its palette, after style sheets) and every
colour its rich text names; a span with its own background is measured against that.
"""

import re
from collections import Counter

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QLabel

from playground.ui import themes
from playground.ui.colours import contrast_ratio

AA = 4.5
SPAN_STYLE = re.compile(r"style\s*=\s*['\"]([^'\"]*)['\"]", re.I)
FONT_COLOUR = re.compile(r"<font[^>]*color\s*=\s*['\"]?(#[0-9a-fA-F]{6})", re.I)
COLOUR = re.compile(r"(?<![-\w])color\s*:\s*(#[0-9a-fA-F]{6})", re.I)
BACKGROUND = re.compile(r"background(?:-color)?\s*:\s*(#[0-9a-fA-F]{6})", re.I)
LETTERS = re.compile(r"\w")


def background_behind(image: QImage, rect: QRect) -> str:
    rect = rect.intersected(image.rect())
    step = max(1, min(rect.width(), rect.height()) // 12)
    pixels = [
        image.pixelColor(x, y).name()
        for x in range(rect.left(), rect.right() + 1, step)
        for y in range(rect.top(), rect.bottom() + 1, step)
    ]
    return Counter(pixels).most_common(1)[0][0]


def text_colours(label: QLabel, background: str) -> list[tuple[str, str, str]]:
    """(colour, its background, what) for each colour the label's text is drawn in."""
    found = [(label.palette().color(label.foregroundRole()).name(), background, "the label's colour")]
    text = label.text()
    for style in SPAN_STYLE.findall(text):
        fg, bg = COLOUR.search(style), BACKGROUND.search(style)
        if fg:
            found.append((fg.group(1).lower(), (bg.group(1) if bg else background).lower(), f"a span ({style})"))
    found.extend((c.lower(), background, "a <font>") for c in FONT_COLOUR.findall(text))
    return found


def unreadable_labels(window) -> list[str]:
    image = window.grab().toImage()
    bad = []
    for label in window.findChildren(QLabel):
        if not label.isVisible() or not label.isEnabled() or not LETTERS.search(re.sub(r"<[^>]+>", "", label.text())):
            continue  # hidden, greyed out (WCAG exempts inactive controls), an image or a decoration
        top_left = label.mapTo(window, QPoint(0, 0))
        rect = QRect(top_left, label.size()).intersected(window.rect())
        if rect.width() < 4 or rect.height() < 4:
            continue  # scrolled out of sight
        background = background_behind(image, rect)
        for colour, behind, what in text_colours(label, background):
            ratio = contrast_ratio(colour, behind)
            if ratio < AA:
                bad.append(f"{label.text()[:60]!r}: {what} {colour} on {behind} = {ratio:.2f}")
    return bad


@pytest.fixture(scope="module")
def demo_model():
    from playground.core.checkpoints import load_checkpoint
    from playground.paths import demo_model_dir

    folder = demo_model_dir()
    assert folder is not None, "models/demo ships with the repository"
    return load_checkpoint(folder)


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("presenting", [False, True], ids=["normal", "presentation"])
def test_every_label_of_every_step_meets_aa(qtbot, session, demo_model, theme, presenting):
    from playground.ui.main_window import MainWindow

    window = MainWindow(session)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    try:
        window.set_theme(theme)
        window.set_presentation_mode(presenting)
        session.warn("A message in the bar, as the room would see it.")
        problems = {}
        for state in ("first run", "demo model"):
            if state == "demo model":  # the steps' pages with a model and its tokenizer in them
                checkpoint, model = demo_model
                session.set_checkpoint(checkpoint, model)
                session.add_tokenizer(checkpoint.tokenizer)
            for row, title in enumerate(window.step_titles):
                window.steps.setCurrentRow(row)
                for _ in range(3):
                    QApplication.processEvents()
                bad = unreadable_labels(window)
                if bad:
                    problems[f"{title}, {state}"] = bad
        assert not problems, "\n".join(f"{where}: {line}" for where, lines in problems.items() for line in lines)
    finally:
        window.set_presentation_mode(False)
        window.set_theme("light")
        themes.apply_look(themes.Look())
        QSettings().remove("view/theme")
