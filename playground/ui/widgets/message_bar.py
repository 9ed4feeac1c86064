"""A banner at the top of the window for errors, warnings and notices."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

STYLES = {
    "error": ("#fdecea", "#8a1c12", "#e0a39c", "⚠"),
    "warning": ("#fff6e0", "#7a5500", "#e6cf8f", "⚠"),
    "info": ("#e8f3ff", "#0b4f8a", "#a9c9ea", "ℹ"),
}


class MessageBar(QFrame):
    """Shows one message at a time; errors stay until closed, notices fade after a while."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss this message")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.icon)
        layout.addWidget(self.text, 1)
        layout.addWidget(close, 0, Qt.AlignTop)
        self._timer = QTimer(self, singleShot=True, timeout=self.hide)
        self.level = ""
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        bg, fg, border, icon = STYLES.get(level, STYLES["info"])
        self.setStyleSheet(
            f"MessageBar {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
            f" QLabel {{ color: {fg}; font-size: 10.5pt; }}")
        self.level = level
        self.icon.setText(icon)
        self.text.setText(text)
        self.show()
        self._timer.stop()
        if level == "info":
            self._timer.start(8000)
