"""Keys for a host in front of a room: Ctrl+1…Ctrl+7 show a step, F5 starts or stops the demo, Esc stops it.

They work from anywhere in the window, also while a text box has the focus (text boxes keep only the keys
without Ctrl, and F5 is none of theirs). Esc belongs to the step on show (Tokenize, Train, Generate and
Evaluate stop their work with it) except while the demo runs: then it stops the demo, which stops the
stage's work too. Presenter clickers send F5 and Esc from their "start / end the show" button.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QWidget

if TYPE_CHECKING:
    from playground.ui.main_window import MainWindow

DEMO_KEY = "F5"
DEMO_STOP_KEY = "Esc"
WHILE_THE_DEMO_RUNS = "While the demo runs"


def step_key(row: int) -> str:
    """The key that shows the step in `row` (0 → "Ctrl+1")."""
    return f"Ctrl+{row + 1}"


class HostKeys(QObject):
    """Installs the host's keys on `window` (a MainWindow): see the module's docstring."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.main_window: MainWindow = window
        self.step_shortcuts: list[QShortcut] = []
        count = len(window.step_titles)
        for row, title in enumerate(window.step_titles):
            shortcut = QShortcut(QKeySequence(step_key(row)), window)
            shortcut.setWhatsThis(f"Show step {row + 1} of {count}: {title}")
            shortcut.activated.connect(lambda row=row: window.steps.setCurrentRow(row))
            self.step_shortcuts.append(shortcut)
            item = window.steps.item(row)
            item.setToolTip(f"{item.toolTip()} ({step_key(row)})")
        window.demo_action.setShortcut(QKeySequence(DEMO_KEY))
        window.demo_action.setToolTip(
            f"{window.demo_action.toolTip()} {DEMO_KEY} starts it; {DEMO_KEY} or {DEMO_STOP_KEY} stops it."
        )
        window.demo_stop_button.setToolTip(
            f"Stop the demo now ({DEMO_KEY} or {DEMO_STOP_KEY}); what it made so far stays."
        )
        self._watching = False

    def situational(self) -> list[tuple[str, str, str]]:
        """(key, what it does, when) of the keys that are not QShortcuts, for the shortcuts window."""
        return [(DEMO_STOP_KEY, "Stop the demo (the step's own Esc waits until it ends)", WHILE_THE_DEMO_RUNS)]

    # ------------------------------------------------------------------ Esc while the demo runs

    def watch_demo(self, runner) -> None:
        """Let Esc stop `runner` (a running DemoRunner) until it finishes."""
        if not self._watching:
            app = QApplication.instance()
            assert app is not None  # a window exists
            app.installEventFilter(self)  # the focused widget is asked first: only the application sees Esc before it
            self._watching = True
        runner.finished.connect(self._unwatch)

    def _unwatch(self, *_args) -> None:
        app = QApplication.instance()
        if self._watching and app is not None:
            app.removeEventFilter(self)
        self._watching = False

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        assert isinstance(event, QKeyEvent)
        if event.key() != Qt.Key.Key_Escape or event.modifiers() != Qt.KeyboardModifier.NoModifier:
            return False
        if not isinstance(watched, QWidget) or watched.window() is not self.main_window:
            return False  # a dialog's Esc stays the dialog's
        demo = self.main_window.demo
        if demo is None or not demo.running:
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # Esc is a key press for the focused widget, not the step's shortcut...
            return True
        self.main_window.stop_demo()  # ...and here, before the widget sees it, it stops the demo
        return True
