"""The *Start here* card on the first step: three ways into the app for someone opening it for the first
time. It stays until dismissed (remembered in QSettings) and Help ▸ Start here brings it back."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout

from playground.engine.jobs import Job
from playground.engine.session import Session
from playground.ui.themes import themed_style
from playground.ui.widgets.no_model import demo_load_job, is_demo

DISMISSED_KEY = "first_run/start_here_dismissed"

DEMO_TIP = (
    "Go to the Generate step with the small model that ships with the app (trained on Python's "
    "documentation) and let it write."
)
BUILD_TIP = "Start from the beginning: train a tokenizer on the corpus here, then build, train and try your own model."
WATCH_TIP = (
    "The whole flow on the built-in corpus, step by step: tokenizer, model, training, prompt, generation and attention."
)


def big_button(label: str, tip: str) -> QPushButton:
    button = QPushButton(label)
    button.setToolTip(tip)
    button.setMinimumHeight(44)
    themed_style(button, "font-size: 11.5pt; font-weight: 600;")
    return button


class StartHereCard(QFrame):
    """'Start here': `demo_button` shows Generate with the demo model current (loading it if needed),
    `build_button` asks the panel to put the focus on its train button (`build_wanted`), `watch_button`
    asks the window for the one-click demo (`watch_wanted`); `close_button` dismisses the card for good."""

    build_wanted = Signal()
    watch_wanted = Signal()

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.load_job: Optional[Job] = None  # the demo model's load this card started, while it runs
        self.setObjectName("StartHereCard")
        themed_style(
            self,
            "#StartHereCard { background: {card_bg}; border: 1px solid {card_border}; border-radius: 6px; }",
        )
        title = QLabel("Start here")
        themed_style(title, "font-size: 15pt; font-weight: 600; color: {heading};")
        text = QLabel(
            "Three ways in. Help ▸ Guided tour (F1) explains each step; Help ▸ Start here brings this card back."
        )
        text.setWordWrap(True)
        themed_style(text, "font-size: 10.5pt; color: {body};")
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Hide this card (Help ▸ Start here shows it again).")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.dismiss)

        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.demo_button = big_button("▶  Try the demo model", DEMO_TIP)
        self.build_button = big_button("Build your own", BUILD_TIP)
        self.watch_button = big_button("Watch the demo", WATCH_TIP)
        buttons = QHBoxLayout()
        for button in (self.demo_button, self.build_button, self.watch_button):
            buttons.addWidget(button, 1)
        self.demo_button.clicked.connect(self.try_demo_model)
        self.build_button.clicked.connect(self._build_own)
        self.watch_button.clicked.connect(self.watch_wanted)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 12)
        layout.addLayout(head)
        layout.addWidget(text)
        layout.addLayout(buttons)
        self.setVisible(not self.dismissed())

    @staticmethod
    def dismissed() -> bool:
        return bool(QSettings().value(DISMISSED_KEY, False, bool))

    def dismiss(self) -> None:
        """Hide the card, and keep it hidden at the next launches."""
        QSettings().setValue(DISMISSED_KEY, True)
        self.hide()

    def reopen(self) -> None:
        """Show the card again (Help ▸ Start here), until it is dismissed again."""
        QSettings().remove(DISMISSED_KEY)
        self.show()

    def try_demo_model(self) -> Optional[Job]:
        """Show Generate with the demo model current: load it unless it is current or loading already
        (Generate shows that it loads). Returns the load this started, if any."""
        checkpoint = self.session.checkpoint
        if not is_demo(checkpoint) and not self.session.demo_loading and self.load_job is None:
            self.load_job = demo_load_job(self.session)
            if self.load_job is not None:
                self.load_job.error.connect(self.session.error)
                self.load_job.done.connect(self._load_ended)
                self.load_job.start()
        self.session.show_step.emit("generate")
        return self.load_job

    def _load_ended(self) -> None:
        self.load_job = None

    def _build_own(self) -> None:
        self.session.show_step.emit("tokenize")
        self.build_wanted.emit()
