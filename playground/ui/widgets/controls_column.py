"""The column of controls on a step's left: as narrow as its contents allow, scrolling down when short."""

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

QWIDGETSIZE_MAX = 16_777_215  # Qt's "no maximum"


class ControlsColumn(QScrollArea):
    """Holds ``widget`` in a column that scrolls down, never sideways, and never cuts a control.

    Its minimum width is what the contents need plus room for the vertical scroll bar, so
    on a small screen the column is exactly as wide as its widest control row (word-wrapped
    labels give way first) and the step's work beside it keeps the rest; ``maximum_width``
    stops it from taking half of a large screen. Build's results use one too, with no maximum.
    """

    def __init__(self, widget: QWidget, maximum_width: int = 430, parent=None) -> None:
        super().__init__(parent)
        self.setWidget(widget)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMaximumWidth(maximum_width)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # A scroll area does not pass its contents' new minimum on to the layout it sits in:
        # a label that gets a longer text, or a bigger font, would be cut without this.
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()
        return super().eventFilter(watched, event)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        widget = self.widget()
        inner = widget.minimumSizeHint().width() if widget is not None else 0
        width = min(inner + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth(), self.maximumWidth())
        return QSize(width, super().minimumSizeHint().height())
