"""Small pieces the Evaluate panel's tabs share: notes, status lines, progress bars, table headers, cell text."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core.progress import Progress
from playground.ui.themes import AMBER_NOTICE, themed_style
from playground.ui.widgets.controls_column import ControlsColumn

MUTED, GOOD, BAD = "muted", "ok", "error"  # colour roles
AMBER_STYLE, NOTE_STYLE = AMBER_NOTICE, "color: {muted};"  # style templates (themes.themed_style)
MAX_CELL_CHARS = 70


def elide(text: str, limit: int = MAX_CELL_CHARS) -> str:
    """One line of at most `limit` characters: line breaks shown as ↵, the rest cut with …"""
    line = text.replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵").replace("\t", " ")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def whole_text_tip(text: str) -> str:
    """A tooltip that shows the text as it is (line breaks kept, long lines wrapped)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<div style='white-space: pre-wrap; max-width: 520px'>{escaped or '(nothing)'}</div>"


def set_header(table: QTableWidget, labels: list[str], tips: list[str]) -> None:
    """Column titles with a tooltip each."""
    table.setColumnCount(len(labels))
    for c, (label, tip) in enumerate(zip(labels, tips)):
        item = QTableWidgetItem(label)
        item.setToolTip(tip)
        table.setHorizontalHeaderItem(c, item)


class ElideRight(QStyledItemDelegate):
    """Cuts a column's text at its end, where the table cuts the others in the middle."""

    def initStyleOption(self, option, index) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight


def note(text: str = "", style: str = NOTE_STYLE) -> QLabel:
    """A wrapped explanatory line, muted unless `style` says otherwise."""
    label = QLabel(text)
    label.setWordWrap(True)
    themed_style(label, style)
    return label


def status_line() -> QLabel:
    """A note two lines high, so the layout does not jump as the status changes."""
    label = note("")
    label.setMinimumHeight(2 * label.fontMetrics().lineSpacing() + 4)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    return label


def progress_bar() -> QProgressBar:
    """A bar in thousandths that carries the job's message."""
    bar = QProgressBar()
    bar.setRange(0, 1000)
    bar.setValue(0)
    bar.setFormat("")
    bar.setTextVisible(True)
    return bar


def show_progress(bar: QProgressBar, p: Progress) -> None:
    if p.fraction is None:
        bar.setRange(0, 0)  # busy: the length is not known yet
    else:
        bar.setRange(0, 1000)
        bar.setValue(int(max(0.0, min(1.0, p.fraction)) * 1000))
    bar.setFormat(p.message)


def controls_column(widget: QWidget) -> ControlsColumn:
    """The controls on a tab's left, in a narrow column that scrolls when the window is short."""
    return ControlsColumn(widget, maximum_width=350)


class RunBox(QGroupBox):
    """A tab's last section: its start button with Cancel beside it, the job's bar and a status line."""

    def __init__(self, title: str, label: str, tip: str, cancel_tip: str) -> None:
        super().__init__(title)
        self.start_button = QPushButton(label)
        self.start_button.setToolTip(tip)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(cancel_tip)
        row = QHBoxLayout()
        row.addWidget(self.start_button, 1)
        row.addWidget(self.cancel_button)
        self.progress = progress_bar()
        self.status = status_line()
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
