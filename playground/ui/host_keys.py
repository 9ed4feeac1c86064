"""Keys for a host in front of a room: Ctrl+1…Ctrl+7 show a step, F5 starts or stops the demo, Esc stops it,
and while the demo runs → / PageDown go on and ← / PageUp go back (the keys presenter clickers send).

They work from anywhere in the window, also while a text box has the focus (text boxes keep only the keys
without Ctrl, and F5 is none of theirs). Esc belongs to the step on show (Tokenize, Train, Generate and
Evaluate stop their work with it) except while the demo runs: then it stops the demo, which stops the
stage's work too. Presenter clickers send F5 and Esc from their "start / end the show" button.

A clicker sends its arrows wherever the focus is. The presenter bar takes the focus whenever the demo shows
another stage, so they reach the demo; PageDown and PageUp page the demo even from a text box (paging a
text box is nothing a host does mid-show), but ← and → stay the text box's when the host has clicked into
one to type: there they move the cursor, as the person typing expects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

if TYPE_CHECKING:
    from playground.ui.main_window import MainWindow

DEMO_KEY = "F5"
DEMO_STOP_KEY = "Esc"
NEXT_KEYS = (Qt.Key.Key_Right, Qt.Key.Key_PageDown)
BACK_KEYS = (Qt.Key.Key_Left, Qt.Key.Key_PageUp)
ARROWS = (Qt.Key.Key_Left, Qt.Key.Key_Right)
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
        return [
            (DEMO_STOP_KEY, "Stop the demo (the step's own Esc waits until it ends)", WHILE_THE_DEMO_RUNS),
            (
                "PgDown",
                "Next stage of the demo, once its work is done (a presenter clicker's key)",
                WHILE_THE_DEMO_RUNS,
            ),
            ("Right", "Next stage of the demo, once its work is done (a presenter clicker's key)", WHILE_THE_DEMO_RUNS),
            ("PgUp", "Back to the previous stage of the demo, with its result", WHILE_THE_DEMO_RUNS),
            ("Left", "Back to the previous stage of the demo, with its result", WHILE_THE_DEMO_RUNS),
        ]

    # ------------------------------------------------------------------ keys while the demo runs

    def watch_demo(self, runner) -> None:
        """Let Esc stop `runner` (a running DemoRunner), and the presenter keys pace it, until it finishes."""
        if not self._watching:
            app = QApplication.instance()
            assert app is not None  # a window exists
            app.installEventFilter(self)  # the focused widget is asked first: only the application sees keys before it
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
        key = event.key()
        if key not in (Qt.Key.Key_Escape, *NEXT_KEYS, *BACK_KEYS):
            return False
        if event.modifiers() not in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier):
            return False
        if not isinstance(watched, QWidget) or watched.window() is not self.main_window:
            return False  # a dialog's keys stay the dialog's
        demo = self.main_window.demo
        if demo is None or not demo.running:
            return False
        if key in ARROWS and is_typing_in(QApplication.focusWidget()):
            return False  # the host clicked into a text box: its arrows move the cursor
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # a key press for the focused widget, not a shortcut of the step...
            return True
        # ...and here, before the widget sees it, the demo takes it (one step per press, not per repeat).
        if key == Qt.Key.Key_Escape:
            self.main_window.stop_demo()
        elif not event.isAutoRepeat():
            (demo.next if key in NEXT_KEYS else demo.back)()
        return True


def is_typing_in(widget) -> bool:
    """True when `widget` takes typed text: an editable line, text box, spin box or editable combo box."""
    if isinstance(widget, (QLineEdit, QTextEdit, QPlainTextEdit)):
        return not widget.isReadOnly()
    if isinstance(widget, QAbstractSpinBox):
        return not widget.isReadOnly()
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return False
