"""The presenter bar: shown at the top of the window while the demo runs, so the host paces it.

It says which stage is on screen and whether its work is done, gives the host a
talking point to read aloud, and has Back, Next, Hold, an optional auto-advance
and Stop. The keys (→/PageDown, ←/PageUp) are the window's (``host_keys.py``);
the bar takes the keyboard focus whenever the stage on screen changes, so a
presenter clicker's arrow keys reach the demo, not a text box a panel focused.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout

from playground.ui.themes import themed_style

DEFAULT_AUTO_ADVANCE_S = 8
NEXT_TEXT, FINISH_TEXT = "Next  ▶", "Finish  ✓"


class PresenterBar(QFrame):
    """Back, Next, Hold, auto-advance and Stop for a DemoRunner (see :meth:`attach`), with its talking point."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("presenterBar")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a clicker's keys arrive here, not in a text box
        themed_style(
            self, "#presenterBar { background: {card_bg}; border: 1px solid {card_border}; border-radius: 6px; }"
        )
        self.runner = None
        self._shown_index: Optional[int] = None

        self.step_label = QLabel()
        self.step_label.setWordWrap(True)
        self.step_label.setToolTip("Where the one-click demo is.")
        themed_style(self.step_label, "color: {heading}; font-weight: bold;")
        self.state_label = QLabel()
        themed_style(self.state_label, "color: {muted};")
        self.talk_label = QLabel()
        self.talk_label.setWordWrap(True)
        self.talk_label.setToolTip("A talking point for this stage: what the room sees, and why it matters.")
        themed_style(self.talk_label, "color: {text}; font-size: 12pt;")

        self.back_button = QPushButton("◀  Back")
        self.back_button.setToolTip("Show the previous stage again, with its result (← or PageUp). Nothing runs again.")
        self.next_button = QPushButton(NEXT_TEXT)
        self.next_button.setToolTip("Go on to the next stage once this one is done (→ or PageDown).")
        self.hold_button = QPushButton("❚❚  Hold")
        self.hold_button.setCheckable(True)
        self.hold_button.setToolTip("Stop the auto-advance here while you talk; click again to let it go on.")
        self.auto_box = QCheckBox("Auto")
        self.auto_box.setToolTip("Auto-advance: move on by itself this many seconds after each stage's work is done.")
        self.auto_seconds = QSpinBox()
        self.auto_seconds.setRange(0, 120)
        self.auto_seconds.setSuffix(" s")
        self.auto_seconds.setValue(DEFAULT_AUTO_ADVANCE_S)
        self.auto_seconds.setToolTip(self.auto_box.toolTip())
        self.stop_button = QPushButton("■  Stop")
        self.stop_button.setToolTip("Stop the demo now; what it made so far stays.")
        for button in (self.back_button, self.next_button, self.hold_button, self.stop_button):
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves the focus on the bar

        self.back_button.clicked.connect(lambda: self.runner is not None and self.runner.back())
        self.next_button.clicked.connect(lambda: self.runner is not None and self.runner.next())
        self.hold_button.toggled.connect(lambda held: self.runner is not None and self.runner.set_held(held))
        self.auto_box.toggled.connect(self._auto_changed)
        self.auto_seconds.valueChanged.connect(self._auto_changed)

        # Two rows, so the panel keeps its height: where the demo is and the controls; the talking point.
        top = QHBoxLayout()
        top.addWidget(self.step_label, 1)
        top.addWidget(self.state_label)
        top.addSpacing(8)
        for widget in (self.back_button, self.next_button, self.hold_button, self.auto_box, self.auto_seconds):
            top.addWidget(widget)
        top.addSpacing(8)
        top.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.talk_label)
        self.hide()

    def attach(self, runner) -> None:
        """Drive `runner` (a DemoRunner, before its start) and show its stages until it finishes."""
        self.runner = runner
        self._shown_index = None
        runner.stage_started.connect(self._stage_started)
        runner.changed.connect(self.refresh)
        runner.finished.connect(self._finished)
        seconds = runner.auto_advance_s
        for widget in (self.auto_box, self.auto_seconds, self.hold_button):
            widget.blockSignals(True)
        self.auto_box.setChecked(seconds is not None)
        if seconds is not None:
            self.auto_seconds.setValue(round(seconds))
        self.hold_button.setChecked(runner.held)
        for widget in (self.auto_box, self.auto_seconds, self.hold_button):
            widget.blockSignals(False)

    def _auto_changed(self, *_args) -> None:
        if self.runner is not None:
            self.runner.set_auto_advance(float(self.auto_seconds.value()) if self.auto_box.isChecked() else None)

    def _stage_started(self, index: int, count: int, _name: str, label: str) -> None:
        self.step_label.setText(f"Demo · step {index + 1} of {count}: {label}…")
        self.show()

    def _finished(self, *_args) -> None:
        self.hide()
        self.runner = None

    def refresh(self) -> None:
        """Show the runner's stage on screen, its state and its talking point; enable what can be done."""
        runner = self.runner
        stage = runner.current_stage if runner is not None else None
        if runner is None or stage is None:
            return
        count, index = len(runner.stages), runner.index
        working = index == runner.front and runner.working
        self.step_label.setText(f"Demo · step {index + 1} of {count}: {stage.label}" + ("…" if working else " ✓"))
        self.talk_label.setText(stage.talk())
        if working:
            state = "working…"
        elif index < runner.front:
            state = "looking back"
        elif runner.auto_advancing():
            state = "moving on…"
        elif runner.auto_advance_s is not None and runner.held:
            state = "held"
        else:
            state = "Next when ready"
        self.state_label.setText(state)
        self.back_button.setEnabled(runner.can_go_back())
        self.next_button.setEnabled(runner.can_go_next())
        self.next_button.setText(FINISH_TEXT if runner.is_last() and not working else NEXT_TEXT)
        self.hold_button.setEnabled(self.auto_box.isChecked())
        if index != self._shown_index:  # another stage on screen: its panel may have taken the focus
            self._shown_index = index
            self.setFocus(Qt.FocusReason.OtherFocusReason)
