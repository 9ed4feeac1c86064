"""Every step fits a small screen (1024×640, a 1280×720 projector, a 1366×768 laptop): no
horizontal scrolling, no control outside the window or cut by its column, whatever the content."""

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QSplitter,
    QStyle,
    QTabBar,
    QTabWidget,
    QTextEdit,
    QWidget,
)

CONTROLS = (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit, QAbstractSlider, QTabBar)
EDITS = (QLineEdit, QPlainTextEdit, QTextEdit)
SAMPLE = "\n".join(
    f"The {w} sat on the mat {i}. Tokens, subwords: {w}ing {w}s." for i, w in enumerate(["cat", "dog"] * 40)
)
SCREENS = [(1024, 640), (1280, 720), (1366, 768)]


@pytest.fixture(scope="module")
def demo():
    from playground.core.checkpoints import load_checkpoint
    from playground.paths import demo_model_dir

    path = demo_model_dir()
    assert path is not None, "models/demo is missing: it ships with the repository, so restore it"
    return load_checkpoint(path)


def make_window(qtbot, session, size):
    from playground.ui.main_window import MainWindow

    window = MainWindow(session)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    QApplication.processEvents()
    return window


def scroll_bar_of(area: QAbstractScrollArea, horizontal: bool):
    return area.horizontalScrollBar() if horizontal else area.verticalScrollBar()


def clipped(control: QWidget, window: QWidget) -> str:
    """Why ``control`` cannot be seen whole, or "" when it can.

    Outside a scroll area's view is fine only in a direction that area scrolls (its bar shows):
    a table that scrolls sideways may hide columns, a column of controls may scroll down. Beyond
    such an area, what counts is the part of the view it can be scrolled into.
    """
    rect = QRect(control.mapTo(window, QPoint(0, 0)), control.size())
    parent = control.parentWidget()
    while parent is not None and parent is not window:
        area = parent.parentWidget()
        if isinstance(area, QAbstractScrollArea) and parent is area.viewport():
            view = QRect(parent.mapTo(window, QPoint(0, 0)), parent.size())
            if rect.left() < view.left() or rect.right() > view.right():
                if not area.horizontalScrollBar().isVisible():
                    return f"cut sideways by {type(area).__name__} (view {view}, control {rect})"
                rect = QRect(view.left(), rect.top(), min(rect.width(), view.width()), rect.height())
            if rect.top() < view.top() or rect.bottom() > view.bottom():
                if not area.verticalScrollBar().isVisible():
                    return f"cut top or bottom by {type(area).__name__} (view {view}, control {rect})"
                rect = QRect(rect.left(), view.top(), rect.width(), min(rect.height(), view.height()))
        parent = parent.parentWidget()
    if not window.rect().contains(rect):
        return f"outside the window ({rect} in {window.rect()})"
    return ""


def visible_tab_states(panel: QWidget):
    """Yield once per tab of every tab widget on show (the panel's own tabs, one level deep)."""
    yield "first tab"
    for tabs in panel.findChildren(QTabWidget):
        if not tabs.isVisible():
            continue
        start = tabs.currentIndex()
        for index in range(tabs.count()):
            if index != start and tabs.isTabEnabled(index):
                tabs.setCurrentIndex(index)
                QApplication.processEvents()
                yield f"tab {tabs.tabText(index)!r}"
        tabs.setCurrentIndex(start)
        QApplication.processEvents()


def problems_on_screen(window, size) -> list[str]:
    """Everything wrong with the step on show, in words."""
    QApplication.processEvents()
    page = window.stack.currentWidget()
    panel = page.panel
    title = type(panel).__name__
    found = []
    if window.width() > size[0]:
        found.append(f"{title}: the window grew to {window.width()} px")
    if window.minimumSizeHint().width() > 1000:
        found.append(f"{title}: the window's minimum width is {window.minimumSizeHint().width()} px")
    need, room = panel.minimumSizeHint().width(), page.viewport().width()
    if need > room:
        found.append(f"{title}: needs {need} px, its page has {room} px (a horizontal scroll bar)")
    for area in panel.findChildren(QScrollArea):
        inner = area.widget()
        if area.isVisible() and inner is not None and not area.horizontalScrollBar().isVisible():
            if inner.minimumSizeHint().width() > area.viewport().width():
                found.append(
                    f"{title}: a {type(inner).__name__} needs {inner.minimumSizeHint().width()} px, cut to {area.viewport().width()}"
                )
    for bar in panel.findChildren(QTabBar):
        tabs = sum(bar.tabRect(index).width() for index in range(bar.count()))
        if bar.isVisible() and tabs > bar.width():
            found.append(
                f"{title}: tabs {[bar.tabText(i) for i in range(bar.count())]} need {tabs} px, have {bar.width()}"
            )
    for control in panel.findChildren(QWidget):
        if isinstance(control, CONTROLS) and control.isVisible():
            why = clipped(control, window)
            if why:
                label = getattr(control, "text", lambda: "")() if isinstance(control, QAbstractButton) else ""
                found.append(f"{title}: {type(control).__name__} {label!r} {why}")
    return found


def overlapping(panel: QWidget) -> list[str]:
    """Widgets a layout placed over each other (it does when squeezed below what they need)."""
    found = []
    for holder in [panel, *panel.findChildren(QWidget)]:
        layout = holder.layout()
        if layout is None or not holder.isVisible() or isinstance(holder, QSplitter):
            continue
        items = [layout.itemAt(i).widget() for i in range(layout.count())]
        shown = [w for w in items if w is not None and w.isVisible() and w.width() > 0 and w.height() > 0]
        for i, a in enumerate(shown):
            for b in shown[i + 1 :]:
                common = a.geometry().intersected(b.geometry())
                if common.width() > 2 and common.height() > 2:
                    found.append(f"{type(a).__name__} and {type(b).__name__} overlap in {type(holder).__name__}")
    return found


def check_every_step(window, size) -> list[str]:
    found = []
    for row in range(window.steps.count()):
        window.steps.setCurrentRow(row)
        QApplication.processEvents()
        for state in visible_tab_states(window.current_panel()):
            found += [f"{problem} [{state}]" for problem in problems_on_screen(window, size)]
            found += [f"{problem} [{state}]" for problem in overlapping(window.current_panel())]
    return found


@pytest.mark.parametrize("size", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_step_fits_without_a_model(qtbot, session, size):
    window = make_window(qtbot, session, size)
    assert check_every_step(window, size) == []


@pytest.mark.parametrize("size", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_step_fits_with_the_demo_model(qtbot, session, demo, size):
    checkpoint, model = demo
    session.set_checkpoint(checkpoint, model)
    session.add_tokenizer(checkpoint.tokenizer)  # as at start-up: its counts line under the live tokens
    window = make_window(qtbot, session, size)
    assert check_every_step(window, size) == []


def small_tokenizers(text: str):
    """Six tokenizers of every kind, trained in a blink on ``text`` (names as long as real ones)."""
    from playground.core.tokenization import KINDS, LoadedTokenizer, build_tokenizer, spec_for_kind

    made = []
    for number in range(6):
        kind = list(KINDS)[number % len(KINDS)]
        spec = spec_for_kind(kind, vocab_size=120 + 10 * number)
        tokenizer, trainer = build_tokenizer(spec)
        tokenizer.train_from_iterator(text.splitlines(), trainer)
        made.append(LoadedTokenizer(tokenizer, name=f"{kind}-{spec.vocab_size}-wikitext-sample-{number}", spec=spec))
    return made


def bert_tokenizer_file(folder):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "the": 4, "cat": 5, "##s": 6, "sat": 7, ".": 8}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    path = folder / "tokenizer.json"
    tok.save(str(path))
    return path


def test_six_tokenizers_and_a_bert_one_in_compare_scroll_inside_their_table(qtbot, session, tmp_path):
    window = make_window(qtbot, session, (1024, 640))
    panel = window.tokenizer_panel
    for tokenizer in small_tokenizers(SAMPLE):
        session.add_tokenizer(tokenizer)
    assert panel.open_tokenizer_file(bert_tokenizer_file(tmp_path)) is not None
    panel.tabs.setCurrentWidget(panel.compare)
    for row in range(panel.compare.chooser.count()):
        panel.compare.chooser.item(row).setCheckState(panel.compare.chooser.item(row).checkState().Checked)
    panel.input.setPlainText("The cats sat on the mat. " * 20)
    qtbot.waitUntil(lambda: len(panel.compare.column_widgets()) == 7)
    assert problems_on_screen(window, (1024, 640)) == []
    columns = panel.compare.column_widgets()
    assert panel.compare.columns_scroll.horizontalScrollBar().isVisible()  # the columns scroll, not the panel
    assert all(column.width() >= 150 for column in columns)  # each still wide enough to read


def test_a_saved_splitter_state_keeps_the_splitters_orientation(qtbot):
    """A state saved from another splitter (a row) must not turn a column into a row twice as wide."""
    from PySide6.QtWidgets import QSplitter

    from playground.ui.workspace_settings import restore_splitters, save_splitters

    row, column = QSplitter(Qt.Orientation.Horizontal), QSplitter(Qt.Orientation.Vertical)
    for splitter in (row, column):
        qtbot.addWidget(splitter)
        splitter.addWidget(QWidget())
        splitter.addWidget(QWidget())
    save_splitters([("layout/test/0", row)])
    restore_splitters([("layout/test/0", column)])
    assert column.orientation() == Qt.Orientation.Vertical


def placeholder_problem(edit: QWidget) -> str:
    """Why ``edit``'s placeholder is cut, or "" when all of it shows.

    A line edit, and a QTextEdit (Qt draws its placeholder on one line), show one line: the text
    must fit its width. QPlainTextEdit and WrappedPlaceholderTextEdit wrap their placeholder: the
    wrapped text must fit the view's height.
    """
    from playground.ui.widgets.wrapped_placeholder import WrappedPlaceholderTextEdit

    text = edit.placeholderText()
    metrics = edit.fontMetrics()
    if isinstance(edit, QTextEdit) and not isinstance(edit, WrappedPlaceholderTextEdit):
        width = edit.viewport().width() - 2 * int(edit.document().documentMargin())
        return (
            ""
            if metrics.horizontalAdvance(text) <= width
            else f"one line of {metrics.horizontalAdvance(text)} px in {width}"
        )
    if isinstance(edit, QLineEdit):
        margins = edit.textMargins()
        room = edit.style().subElementRect(QStyle.SubElement.SE_LineEditContents, _line_edit_option(edit), edit)
        width = room.width() - margins.left() - margins.right() - 4  # Qt's inner margin, 2 px a side
        return "" if metrics.horizontalAdvance(text) <= width else f"{metrics.horizontalAdvance(text)} px in {width}"
    view = edit.viewport()
    margin = int(edit.document().documentMargin())
    box = QRect(0, 0, view.width() - 2 * margin, 10_000)
    height = metrics.boundingRect(box, int(Qt.TextFlag.TextWordWrap), text).height()
    return "" if height <= view.height() - margin else f"{height} px high in {view.height() - margin}"


def _line_edit_option(edit: QLineEdit):
    from PySide6.QtWidgets import QStyleOptionFrame

    option = QStyleOptionFrame()
    option.initFrom(edit)
    option.lineWidth = edit.style().pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, option, edit)
    return option


def placeholders_cut(window) -> list[str]:
    found = []
    for row in range(window.steps.count()):
        window.steps.setCurrentRow(row)
        QApplication.processEvents()
        panel = window.current_panel()
        for state in visible_tab_states(panel):
            for edit in panel.findChildren(QWidget):
                if isinstance(edit, EDITS) and edit.isVisible() and edit.placeholderText():
                    why = placeholder_problem(edit)
                    if why:
                        found.append(f"{type(panel).__name__} [{state}]: {edit.placeholderText()!r} is cut: {why}")
    return sorted(set(found))


@pytest.mark.parametrize("with_model", [False, True], ids=["no model", "demo model"])
def test_every_placeholder_shows_whole_at_1024x640(qtbot, session, demo, with_model):
    if with_model:
        session.set_checkpoint(*demo)
    window = make_window(qtbot, session, (1024, 640))
    assert placeholders_cut(window) == []


def lines_with_ink(edit: QWidget) -> int:
    """How many text lines of ``edit``'s view hold something other than its background."""
    image = edit.viewport().grab().toImage()
    background = image.pixelColor(image.width() - 2, image.height() - 2)
    line = edit.fontMetrics().lineSpacing()
    margin = int(edit.document().documentMargin())
    inked = {
        max(0, y - margin) // line
        for y in range(image.height())
        for x in range(0, image.width(), 2)
        if image.pixelColor(x, y) != background
    }
    return len(inked)


def test_a_wrapped_placeholder_shows_every_line_where_qt_cuts_it(qtbot):
    from playground.ui.widgets.wrapped_placeholder import WrappedPlaceholderTextEdit

    sentence = "The model's text appears here, one token at a time, as the model writes it."
    edits = []
    for kind in (QTextEdit, WrappedPlaceholderTextEdit):
        edit = kind()
        qtbot.addWidget(edit)
        edit.setPlaceholderText(sentence)
        edit.resize(200, 140)
        edit.show()
        edits.append(edit)
    QApplication.processEvents()
    cut, wrapped = edits
    assert wrapped.placeholderText() == sentence
    assert lines_with_ink(cut) == 1  # Qt's own: one line, cut at the edge (why the class exists)
    assert lines_with_ink(wrapped) >= 3  # the whole sentence, wrapped
    wrapped.setPlainText("text")
    QApplication.processEvents()
    assert lines_with_ink(wrapped) == 1  # the placeholder goes once there is text


def test_the_probability_legend_keeps_room_for_its_whole_caption(qtbot, session, demo):
    from PySide6.QtGui import QFontMetrics

    session.set_checkpoint(*demo)
    window = make_window(qtbot, session, (1024, 640))
    window.go_to("generate")
    QApplication.processEvents()
    legend = window.generate_panel.legend
    caption = QFontMetrics(legend._caption_font()).horizontalAdvance(legend.CAPTION)
    assert legend.width() >= 6 + legend.BAR_MIN + 12 + caption + 6  # the bar, a gap, all of the caption


@pytest.mark.parametrize("size", [(1024, 640), (2560, 1440)], ids=["1024x640", "2560x1440"])
def test_build_puts_the_note_and_chart_below_on_a_small_screen_and_beside_on_a_big_one(qtbot, session, size):
    window = make_window(qtbot, session, size)
    window.go_to("build")
    panel = window.build_panel
    qtbot.waitUntil(lambda: panel.parameters_box.plot is not None)
    QApplication.processEvents()
    headline, table, chart = panel.headline, panel.breakdown_table, panel.parameters_box.plot
    note = headline.total_note
    assert note.height() >= note.heightForWidth(note.width())  # every line of the note shows
    below = chart.mapTo(panel, QPoint(0, 0)).y() >= table.mapTo(panel, QPoint(0, table.height())).y()
    assert below == (size[0] < 2000)
    note_below = note.y() >= headline.total_label.geometry().bottom()
    assert note_below == (size[0] < 2000)


def test_every_step_fits_a_projector_in_presentation_mode(qtbot, session, demo):
    """Big type at 1280x720 still fits every step: nothing scrolls sideways, no control is cut."""
    checkpoint, model = demo
    session.set_checkpoint(checkpoint, model)
    session.add_tokenizer(checkpoint.tokenizer)
    window = make_window(qtbot, session, (1280, 720))
    window.set_presentation_mode(True)
    try:
        assert check_every_step(window, (1280, 720)) == []
    finally:
        window.set_presentation_mode(False)


def test_the_embedding_map_fits_once_it_is_computed(qtbot, session, demo):
    """The map's title names the model and its sizes: it wraps rather than widen the step (it arrives late)."""
    checkpoint, model = demo
    session.set_checkpoint(checkpoint, model)
    window = make_window(qtbot, session, (1024, 640))
    window.go_to("attention")
    panel = window.attention_panel
    panel.tabs.setCurrentWidget(panel.embedding_tab)
    qtbot.waitUntil(lambda: panel.embedding_tab.view.data is not None, timeout=30_000)
    QApplication.processEvents()
    assert "each a vector of" in panel.embedding_tab.view.title.text()
    assert problems_on_screen(window, (1024, 640)) == []


def test_the_training_numbers_wrap_and_the_room_sees_the_main_ones(qtbot, session, demo):
    """After a run the numbers are long: in big type they wrap onto rows (never widen the step), and
    presentation mode keeps loss, speed and time left, hiding the expert ones until it ends."""
    checkpoint, model = demo
    session.set_checkpoint(checkpoint, model)
    window = make_window(qtbot, session, (1280, 720))
    window.go_to("train")
    grid = window.training_panel.stat_grid
    values = {"step": "300 / 300", "loss": "5.496", "val": "5.568", "ppl": "261.8", "tps": "8,527"}
    values |= {"step_time": "127 ms", "eta": "12 s", "lr": "3.00e-04", "gnorm": "0.64", "mem": "1,024 MiB"}
    for key, text in values.items():
        grid.stats[key].set(text)
    assert grid.columns == 5
    window.set_presentation_mode(True)
    try:
        QApplication.processEvents()
        shown = [key for key, stat in grid.stats.items() if stat.isVisible()]
        assert shown == ["step", "loss", "val", "ppl", "tps", "eta"]
        qtbot.waitUntil(lambda: grid.columns == 3)  # 3 + 3
        assert problems_on_screen(window, (1280, 720)) == []
    finally:
        window.set_presentation_mode(False)
    QApplication.processEvents()
    assert all(stat.isVisible() for stat in grid.stats.values())
    qtbot.waitUntil(lambda: grid.columns == 5)
