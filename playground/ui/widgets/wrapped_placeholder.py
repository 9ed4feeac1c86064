"""A QTextEdit whose placeholder wraps onto more lines, as QPlainTextEdit's does."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QTextEdit


class WrappedPlaceholderTextEdit(QTextEdit):
    """QTextEdit draws its placeholder on one line, cut at the right edge: in a narrow view a
    sentence stopped mid-way ("The model's text appears here,"). The text is kept here, out of
    Qt's reach, and painted wrapped in the view instead."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._placeholder = ""

    def setPlaceholderText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._placeholder = text
        self.viewport().update()

    def placeholderText(self) -> str:  # noqa: N802 - Qt's name
        return self._placeholder

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        if not self._placeholder or not self.document().isEmpty():
            return
        painter = QPainter(self.viewport())
        painter.setPen(self.palette().placeholderText().color())
        margin = int(self.document().documentMargin())
        area = self.viewport().rect().adjusted(margin, margin, -margin, -margin)
        painter.drawText(area, Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap, self._placeholder)
        painter.end()
