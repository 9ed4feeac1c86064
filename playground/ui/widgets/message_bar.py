"""A banner at the top of the window for errors, warnings and notices."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

from playground.ui.themes import themed_style

# Each level's colour roles (background, text and border: a light bar in every look) and icon.
STYLES = {
    "error": ("alert", "⚠"),
    "warning": ("amber", "⚠"),
    "info": ("note", "ℹ"),
}


class MessageBar(QFrame):
    """Shows one message at a time; errors stay until closed, notices fade after a while."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss this message")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.icon)
        layout.addWidget(self.text, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.hide)
        self.level = ""
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        roles, icon = STYLES.get(level, STYLES["info"])
        themed_style(
            self,
            f"MessageBar {{ background: {{{roles}_bg}}; border: 1px solid {{{roles}_border}}; "
            f"border-radius: 4px; }} QLabel {{ color: {{{roles}_fg}}; font-size: 10.5pt; }}"
            f" QToolButton {{ color: {{{roles}_fg}}; }}",
        )
        self.level = level
        self.icon.setText(icon)
        self.text.setText(text)
        self.show()
        self._timer.stop()
        if level == "info":
            self._timer.start(8000)
