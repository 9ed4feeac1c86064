"""The main window: the workflow steps down the side, one panel at a time.

Panels are built when their step is first shown (the first one before the window paints), and the
rest one at a time once the start-up jobs are done (or 10 s have passed), so the window paints without waiting for seven
panels and their imports; `panel()` and the `*_panel` attributes build a panel on demand.
"""

from __future__ import annotations

import importlib
import time
from typing import TYPE_CHECKING, Optional, Union, cast

from PySide6.QtCore import QCoreApplication, QEvent, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from playground.core.crash_log import crash_log_path
from playground.engine.jobs import Job
from playground.engine.session import Session
from playground.ui import exchange, help_window, themes
from playground.ui.host_keys import HostKeys
from playground.ui.presentation import PresentationMode
from playground.ui.widgets.message_bar import MessageBar
from playground.ui.widgets.presenter_bar import PresenterBar
from playground.ui.workspace_menu import install_workspace_menu

if TYPE_CHECKING:
    from playground.core.devices import DeviceInfo
    from playground.ui.demo_flow import DemoRunner
    from playground.ui.tour import Tour
    from playground.ui.training_panel import TrainingPanel

SETTINGS_VERSION = 1  # QSettings: window/geometry, view/theme
SIDEBAR_WIDTH = 170
PRESENTATION_SIDEBAR_SCALE = 1.2  # room for the step names in big type; the rest is the panel's (screenshots)
# The sidebar's scroll bars: slim, on its navy in every look (the style's own is a light bar beside the text).
SIDEBAR_SCROLL_STYLE = (
    "QScrollBar:vertical { background: {sidebar_bg}; width: 10px; margin: 0; border: none; }"
    "QScrollBar::handle:vertical { background: {sidebar_scroll}; border-radius: 3px; min-height: 24px; margin: 2px; }"
    "QScrollBar::handle:vertical:hover, QScrollBar::handle:vertical:pressed { background: {sidebar_concept}; }"
    "QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical { height: 0; border: none; background: none; }"
    "QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical { background: none; }"
)
STEPS_STYLE = (
    "#steps { background: {sidebar_bg}; color: {sidebar_fg}; border: none; font-size: 12pt; }"
    "#steps::item { padding: 12px 10px; }"
    "#steps::item:selected { background: {sidebar_selected_bg}; color: {sidebar_selected_fg}; "
    "border-left: 4px solid {marker}; }" + SIDEBAR_SCROLL_STYLE
)
# White in presentation mode: its high-contrast look gives the concept text the sidebar's strongest colour.
CONCEPT_STYLE = "#concept { background: {sidebar_bg}; color: {sidebar_concept}; padding: 12px; font-size: 9.5pt; }"
# The workflow: each step's title (the panel's own `title`, listed here so the sidebar fills before
# any panel module is imported), and where its panel class lives.
STEPS = [
    ("Tokenize", "playground.ui.tokenizer_panel", "TokenizerPanel"),
    ("Build", "playground.ui.build_panel", "BuildPanel"),
    ("Train", "playground.ui.training_panel", "TrainingPanel"),
    ("Prompt", "playground.ui.prompt_panel", "PromptPanel"),
    ("Generate", "playground.ui.generate_panel", "GeneratePanel"),
    ("Attention", "playground.ui.attention_panel", "AttentionPanel"),
    ("Evaluate", "playground.ui.evaluate_panel", "EvaluatePanel"),
]
WORKFLOW = [title for title, _, _ in STEPS]
BUILD_STEP = WORKFLOW.index("Build")
# After the window first shows, the panels not shown yet are built one per event-loop turn, this far
# apart, so input and paints get through between them. They are built at all (not only on first
# show) because panels keep listening to the session: Build sets the session's model config that
# the later steps read, Attention collects training probes, Generate keeps the prompt it was sent.
# They wait while background jobs run (the start-up's torch import and demo model share the GIL:
# a panel built then stalls the window several times as long), but no longer than the last number.
IDLE_BUILD_START_MS = 300
IDLE_BUILD_GAP_MS = 30
IDLE_BUILD_QUIET_WAIT_MS = 10_000


class PanelPage(QScrollArea):
    """Holds one step's panel: the window's minimum size never depends on what a panel shows.

    A panel that needs more room than the window has (six tokenizers in Compare, big type on a
    small projector) scrolls inside its page instead of pushing the window off the screen.
    """

    def __init__(self, panel: QWidget) -> None:
        super().__init__()
        self.panel = panel
        self.setWidget(_PanelHolder(panel))
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.viewport().setAutoFillBackground(False)
        panel.setAutoFillBackground(False)


class _PanelHolder(QWidget):
    """The panel's frame inside its page: as big as the page, never smaller than the panel's minimum.

    Why not the panel itself: a scroll area asks a widget whose layout wraps text for its height at
    the page's width, which is its *preferred* height (every label on its preferred lines), so pages
    scrolled down on a 640-px screen although the panel's minimum fitted. This frame has no layout;
    it reports the panel's minimum and gives the panel its whole rectangle.
    """

    def __init__(self, panel: QWidget) -> None:
        super().__init__()
        self.panel = panel
        panel.setParent(self)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.panel.minimumSizeHint().expandedTo(self.panel.minimumSize())

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSizeHint()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.panel.setGeometry(self.rect())

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # the panel's minimum may have changed
            self.updateGeometry()
        return super().event(event)


def _panel_attribute(row: int) -> property:
    def get(self: "MainWindow") -> QWidget:
        return self.panel(row)

    return property(get, doc=f"The {STEPS[row][0]} panel, built on first use.")


class MainWindow(QMainWindow):
    panel_built = Signal(object)  # a panel, just built (the workspace controller gives it its saved state)

    tokenizer_panel = _panel_attribute(0)
    build_panel = _panel_attribute(1)
    training_panel = _panel_attribute(2)
    prompt_panel = _panel_attribute(3)
    generate_panel = _panel_attribute(4)
    attention_panel = _panel_attribute(5)
    evaluate_panel = _panel_attribute(6)

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.setWindowTitle("LLM Playground")
        self.resize(1320, 840)

        self._built: list[Optional[QWidget]] = [None] * len(STEPS)
        self._building: set[int] = set()
        self._shown_at: Optional[float] = None  # time.monotonic() when first shown
        self.presentation = PresentationMode(self.built_panels)
        # The model being trained cannot change shape mid-run.
        session.training_changed.connect(self._lock_build_step)
        self.steps = QListWidget()
        self.steps.setObjectName("steps")
        self.steps.setFixedWidth(SIDEBAR_WIDTH)
        self.steps.setIconSize(QSize(20, 20))
        themes.themed_style(self.steps, STEPS_STYLE)
        self.stack = QStackedWidget()
        for number, (title, _module, _name) in enumerate(STEPS, start=1):
            item = QListWidgetItem(f"{number}  {title}")
            item.setToolTip(f"Step {number} of the workflow: {' → '.join(WORKFLOW)}")
            self.steps.addItem(item)
            self.stack.addWidget(QWidget())  # a placeholder until the panel is built
        self.concept = QLabel()
        self.concept.setObjectName("concept")
        self.concept.setWordWrap(True)
        self.concept.setAlignment(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft)
        themes.themed_style(self.concept, CONCEPT_STYLE)
        self.steps.currentRowChanged.connect(self._show_step)
        self.steps.setCurrentRow(0)
        session.show_step.connect(self.go_to)

        self.message_bar = MessageBar()
        session.message.connect(self.message_bar.show_message)
        session.message.connect(lambda *_: self._refresh_look(self.message_bar))  # it restyles each message

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(6, 6, 6, 0)
        rl.addWidget(self.message_bar)
        rl.addWidget(self.stack, 1)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        sidebar = QWidget()
        sidebar.setFixedWidth(SIDEBAR_WIDTH)
        themes.themed_style(sidebar, "background: {sidebar_bg};")
        self.sidebar = sidebar
        sl = QVBoxLayout(sidebar)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.setSpacing(0)
        # The steps keep their height; the concept below scrolls when it is longer than the room left.
        self.concept_scroll = QScrollArea()
        self.concept_scroll.setWidget(self.concept)
        self.concept_scroll.setWidgetResizable(True)
        self.concept_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.concept_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        themes.themed_style(self.concept_scroll, SIDEBAR_SCROLL_STYLE)
        sl.addWidget(self.steps)
        sl.addWidget(self.concept_scroll, 1)
        self._fit_steps()
        layout.addWidget(sidebar)
        layout.addWidget(right, 1)
        self.setCentralWidget(central)

        self.device_label = QLabel("Looking for a GPU (loading PyTorch)…")
        self.device_label.setToolTip("The device that trains and runs models.")
        self.model_label = QLabel("Model: none yet")
        self.model_label.setToolTip("The trained model the later steps use: the demo model until you train one.")
        # The demo's presenter bar, at the top while it runs: where it is, a talking point, Back/Next/Hold/Stop.
        self.presenter_bar = PresenterBar()
        rl.insertWidget(0, self.presenter_bar)
        self.demo_label = self.presenter_bar.step_label
        self.demo_stop_button = self.presenter_bar.stop_button
        self.demo_stop_button.clicked.connect(self.stop_demo)
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.device_label)
        session.device_changed.connect(self._show_device)
        session.checkpoint_changed.connect(self._show_model)
        # A step may explain itself differently for another kind of model (Generate: Fill the mask).
        session.checkpoint_changed.connect(lambda _: self._show_concept())
        self._show_model(session.checkpoint)  # a model chosen before the window opened

        self.tour: Optional[Tour] = None  # made on first use
        self.demo: Optional[DemoRunner] = None  # while one runs (or ran last)
        self.shortcuts_window: Optional[QWidget] = None
        self.about_box: Optional[QMessageBox] = None
        self._menus()
        self._restore()
        self.workspaces = install_workspace_menu(self)  # after the File menu and the first panel exist
        self.host_keys = HostKeys(self)  # Ctrl+1…7 show a step, F5 runs the demo, Esc stops it

    # ------------------------------------------------------------------ panels, built on demand

    def panel(self, step: Union[int, str]) -> QWidget:
        """The panel of `step` (its row, or its title), built now if it was not yet."""
        row = step if isinstance(step, int) else [title.lower() for title in WORKFLOW].index(step.lower())
        panel = self._built[row]
        return panel if panel is not None else self._build_panel(row)

    @property
    def step_titles(self) -> list[str]:
        """The workflow's steps, in order, without building any panel."""
        return list(WORKFLOW)

    @property
    def panels(self) -> list[QWidget]:
        """Every panel in workflow order (builds the ones not built yet)."""
        return [self.panel(row) for row in range(len(STEPS))]

    def current_panel(self) -> Optional[QWidget]:
        """The panel on screen (None before its step is built)."""
        index = self.stack.currentIndex()
        return self._built[index] if index >= 0 else None

    def built_panels(self) -> list[QWidget]:
        """The panels built so far, in workflow order."""
        return [panel for panel in self._built if panel is not None]

    def _build_panel(self, row: int) -> QWidget:
        if row > BUILD_STEP and self._built[BUILD_STEP] is None:
            self._build_panel(BUILD_STEP)  # the session's model config, which the later steps read, is its
        if row in self._building:
            raise RuntimeError(f"the {STEPS[row][0]} panel asked for itself while it was being built")
        self._building.add(row)
        try:
            _title, module, name = STEPS[row]
            panel = getattr(importlib.import_module(module), name)(self.session)
        finally:
            self._building.discard(row)
        placeholder = self.stack.widget(row)
        assert placeholder is not None  # every step has its widget, a placeholder until built
        self.stack.insertWidget(row, PanelPage(panel))
        self.stack.removeWidget(placeholder)
        placeholder.deleteLater()
        self.stack.setCurrentIndex(max(0, self.steps.currentRow()))
        self._built[row] = panel
        if row == BUILD_STEP:
            panel.setEnabled(not self.session.training)
        self.panel_built.emit(panel)  # its saved state and layout, before presentation mode looks
        self.presentation.adopt(panel)
        self._refresh_look(panel)
        return panel

    def _lock_build_step(self, training: bool) -> None:
        build = self._built[BUILD_STEP]
        if build is not None:
            build.setEnabled(not training)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self._shown_at is None:
            self._shown_at = time.monotonic()
            QTimer.singleShot(IDLE_BUILD_START_MS, self, self._build_next_idle)

    def _build_next_idle(self) -> None:
        if not self.isVisible():
            return  # closed (or never shown again): nothing left to build for
        assert self._shown_at is not None  # showEvent set it before it scheduled this
        if Job.running() and time.monotonic() - self._shown_at < IDLE_BUILD_QUIET_WAIT_MS / 1000:
            QTimer.singleShot(200, self, self._build_next_idle)
            return
        missing = [row for row, panel in enumerate(self._built) if panel is None]
        if missing:
            self._build_panel(missing[0])
        if len(missing) > 1:
            QTimer.singleShot(IDLE_BUILD_GAP_MS, self, self._build_next_idle)

    def _fit_steps(self) -> None:
        """The step list as tall as its steps, so none hides behind a scroll bar."""
        self.steps.ensurePolished()
        rows = sum(self.steps.sizeHintForRow(i) for i in range(self.steps.count()))
        self.steps.setFixedHeight(rows + 2 * self.steps.frameWidth() + 4)

    def _show_step(self, row: int) -> None:
        if row < 0:
            return
        panel = self.panel(row)  # built on first show
        self.stack.setCurrentIndex(row)
        self._show_concept()
        # Panels build their plots on first show (some a moment later): give those the look too. Only
        # that panel's widgets: a walk over the whole window would stall it each time a step is shown.
        if self._look_is_custom():
            QTimer.singleShot(0, self, lambda: self._refresh_look(panel))
            QTimer.singleShot(300, self, lambda: self._refresh_look(panel))

    def _show_concept(self) -> None:
        panel = self.current_panel()
        self.concept.setText(getattr(panel, "concept", "") if panel is not None else "")

    def go_to(self, step: str) -> None:
        """Show the step whose title is `step` ("train", "generate", ...); an unknown title does nothing."""
        for row, title in enumerate(WORKFLOW):
            if title.lower() == step.lower():
                self.steps.setCurrentRow(row)
                return

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        import_action = QAction("&Import a Hugging Face model…", self, shortcut=QKeySequence("Ctrl+Shift+I"))
        import_action.triggered.connect(lambda: exchange.import_model(self, self.session))
        import_action.setToolTip(
            "Explore a GPT-2, LLaMA or BERT model you downloaded (a folder with config.json, "
            "model.safetensors and tokenizer.json) in Generate or Fill the mask, Attention and Evaluate."
        )
        export_action = QAction("&Export the model for Hugging Face…", self, shortcut=QKeySequence("Ctrl+Shift+X"))
        export_action.triggered.connect(lambda: exchange.export_model(self, self.session))
        export_action.setToolTip(
            "Write the current model as a transformers folder (GPT2LMHeadModel, LlamaForCausalLM or "
            "BertForMaskedLM) with its tokenizer."
        )
        file_menu.addAction(import_action)
        file_menu.addAction(export_action)
        file_menu.setToolTipsVisible(True)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence(QKeySequence.StandardKey.Quit))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        self.file_menu = file_menu

        view_menu = self.menuBar().addMenu("&View")
        view_menu.setToolTipsVisible(True)
        self.presentation_action = QAction(
            "&Presentation mode", self, shortcut=QKeySequence("Ctrl+Shift+P"), checkable=True
        )
        self.presentation_action.toggled.connect(self.set_presentation_mode)
        self.presentation_action.setToolTip(
            "For a workshop: big type, high contrast, and only the controls a first look needs. Press again to go back."
        )
        view_menu.addAction(self.presentation_action)
        theme_menu = view_menu.addMenu("&Theme")
        theme_menu.setToolTipsVisible(True)
        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for key, label in themes.THEMES.items():
            action = QAction(label, self, checkable=True)
            action.setToolTip(
                {
                    "system": "Follow the operating system's colours.",
                    "light": "Dark text on a light window.",
                    "dark": "Light text on a dark window: easier on the eyes in a dim room.",
                }[key]
            )
            action.triggered.connect(lambda _=False, key=key: self.set_theme(key))
            self.theme_group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[key] = action
        self.theme_actions[themes.current_look().theme].setChecked(True)
        self.view_menu = view_menu

        help_menu = self.menuBar().addMenu("&Help")
        help_menu.setToolTipsVisible(True)
        tour_action = QAction("Guided &tour", self, shortcut=QKeySequence("F1"))
        tour_action.triggered.connect(lambda: self.start_tour())
        tour_action.setToolTip("Walk through the steps in order, with a short explanation of each idea.")
        self.demo_action = QAction("Run the whole &demo", self)
        self.demo_action.triggered.connect(self._demo_triggered)
        self.demo_action.setToolTip(
            "Tokenizer, model, training, a few-shot prompt, generation and attention, "
            "all on the built-in corpus, in a minute or two."
        )
        shortcuts_action = QAction("&Keyboard shortcuts", self, shortcut=QKeySequence("Ctrl+/"))
        shortcuts_action.triggered.connect(self.show_shortcuts)
        shortcuts_action.setToolTip("Every shortcut of every step, in one list.")
        crash_action = QAction("Open the &crash log folder", self)
        crash_action.triggered.connect(self.open_crash_log_folder)
        crash_action.setToolTip(f"Unexpected errors are written to {crash_log_path()}.")
        about_action = QAction("&About LLM Playground", self)
        about_action.triggered.connect(self.show_about)
        about_action.setToolTip("Versions of the app, PyTorch, Qt and Python, and the device.")
        start_here_action = QAction("&Start here", self)
        start_here_action.triggered.connect(self.show_start_here)
        start_here_action.setToolTip("The first step's card: try the demo model, build your own, or watch the demo.")
        self.tokenizer_panel.start_here.watch_wanted.connect(lambda: self.run_demo())
        help_menu.addAction(start_here_action)
        for item in (tour_action, self.demo_action, None, shortcuts_action, crash_action, None, about_action):
            help_menu.addSeparator() if item is None else help_menu.addAction(item)
        self.help_menu = help_menu

    # ------------------------------------------------------------------ help

    def show_about(self) -> QMessageBox:
        """The About box (not modal: the window keeps working behind it)."""
        from playground.paths import user_data_dir

        device = self.session.device.describe() if self.session.device else None
        if self.about_box is None:
            self.about_box = QMessageBox(
                QMessageBox.Icon.Information, "About LLM Playground", "", QMessageBox.StandardButton.Close, self
            )
            self.about_box.setTextFormat(Qt.TextFormat.RichText)
            self.about_box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.about_box.setModal(False)
            self.about_box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        self.about_box.setText(help_window.about_html(device, user_data_dir(), crash_log_path()))
        self.about_box.show()
        self.about_box.raise_()
        return self.about_box

    def show_shortcuts(self) -> QWidget:
        """The keyboard shortcuts window, gathered afresh from the menus and panels."""
        if self.shortcuts_window is not None:
            self.shortcuts_window.close()
            self.shortcuts_window.deleteLater()
        self.shortcuts_window = help_window.ShortcutsWindow(self)
        self._refresh_look(self.shortcuts_window)
        self.shortcuts_window.show()
        return self.shortcuts_window

    def open_crash_log_folder(self) -> None:
        folder = crash_log_path().parent
        if not help_window.open_folder(folder):
            self.session.info(f"The crash log is in {folder}.")

    def start_tour(self, index: int = 0):
        """Start the guided tour at step `index` (returns the Tour)."""
        if self.tour is None:
            from playground.ui.tour import Tour

            self.tour = Tour(self)
        self.tour.start(index)
        self._refresh_look(self.tour)
        self.tour.place()
        return self.tour

    def show_start_here(self) -> None:
        """Help ▸ Start here: the first step, with its Start here card shown again."""
        self.go_to("tokenize")
        self.tokenizer_panel.start_here.reopen()

    # ------------------------------------------------------------------ the one-click demo

    def _demo_triggered(self) -> None:
        (self.stop_demo if self.demo is not None and self.demo.running else self.run_demo)()

    def run_demo(self, settings=None):
        """Run the whole workflow on the built-in corpus (returns the DemoRunner, or None when busy)."""
        from playground.ui.demo_flow import DemoRunner, DemoSettings

        if self.demo is not None and self.demo.running:
            return self.demo
        runner = DemoRunner(self, settings or DemoSettings())
        self.presenter_bar.attach(runner)
        runner.stage_started.connect(self._demo_stage)
        runner.finished.connect(self._demo_finished)
        self.demo = runner
        if not runner.start():
            return None
        self.host_keys.watch_demo(runner)
        return runner

    def stop_demo(self) -> None:
        if self.demo is not None:
            self.demo.stop()

    def _demo_stage(self, *_stage) -> None:
        self.demo_action.setText("Stop the &demo")  # the presenter bar says where the demo is

    def _demo_finished(self, ok: bool, message: str) -> None:
        self.demo_action.setText("Run the whole &demo")
        (self.session.info if ok else self.session.warn)(message)

    # ------------------------------------------------------------------ look

    def set_theme(self, theme: str) -> None:
        """ "system", "light" or "dark"; kept for the next launch."""
        themes.set_theme(theme)
        self.theme_actions[theme].setChecked(True)
        settings = QSettings()
        settings.setValue("version", SETTINGS_VERSION)
        settings.setValue("view/theme", theme)

    @property
    def presentation_mode(self) -> bool:
        return self.presentation.active

    def set_presentation_mode(self, on: bool) -> None:
        """Big type, high contrast and fewer controls, for a room; off restores everything.

        The window keeps its size: each step's page scrolls what no longer fits, rather than the
        window growing past a projector's screen."""
        if on == self.presentation.active:
            return
        self.presentation.set_active(on)
        width = round(SIDEBAR_WIDTH * (PRESENTATION_SIDEBAR_SCALE if on else 1.0))
        self.sidebar.setFixedWidth(width)
        self.steps.setFixedWidth(width)
        self._refresh_look(self.sidebar)
        themes.refresh(self.sidebar)  # also when leaving: the sidebar's own sizes come back
        self._fit_steps()
        if self.presentation_action.isChecked() != on:
            self.presentation_action.setChecked(on)
        if self.tour is not None:
            self.tour.place()
        if on:
            self.statusBar().showMessage("Ctrl+Shift+P: leave presentation", 8000)
        else:
            self.statusBar().clearMessage()

    @staticmethod
    def _look_is_custom() -> bool:
        return themes.current_look() != themes.Look() or themes.is_dark()

    def _refresh_look(self, root: Optional[QWidget] = None) -> None:
        if self._look_is_custom():
            themes.refresh(root)

    def _show_model(self, checkpoint) -> None:
        if checkpoint is None:
            self.model_label.setText("Model: none yet")
            return
        from playground.core.config import parameter_breakdown
        from playground.core.estimates import human_count

        params = human_count(parameter_breakdown(checkpoint.model_config).total)
        loss = f", val loss {checkpoint.val_loss:.2f}" if checkpoint.val_loss is not None else ""
        self.model_label.setText(f"Model: {checkpoint.name} ({params} parameters, step {checkpoint.step:,}{loss})")
        self.model_label.setToolTip(str(checkpoint.path))

    def _show_device(self, device: DeviceInfo) -> None:
        self.device_label.setText(device.describe())

    # ------------------------------------------------------------------ window state

    def _restore(self) -> None:
        settings = QSettings()
        if settings.value("version", 0, int) == SETTINGS_VERSION:
            geometry = settings.value("window/geometry")
            if geometry is not None:
                self.restoreGeometry(geometry)
            theme = settings.value("view/theme", "system")
            if theme in themes.THEMES and theme != themes.current_look().theme:
                themes.set_theme(theme)
                self.theme_actions[theme].setChecked(True)

    def ask_stop_training(self) -> bool:
        """Asked when the window closes during training (tests replace it)."""
        answer = QMessageBox.question(
            self,
            "Training is running",
            "A model is training. Stop it, save a checkpoint of where it got to, and quit?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event) -> None:  # noqa: N802
        # Only panels already built can have work to stop: closing builds none.
        training = cast("Optional[TrainingPanel]", self._built[WORKFLOW.index("Train")])
        if getattr(self, "_saving_to_close", False):
            event.ignore()  # already waiting for the save; the window closes when it is done
            return
        if training is not None and training.job is not None:
            if not self.ask_stop_training():
                event.ignore()
                return
            # Wait for the save however long it takes, with the window drawn and
            # saying so, but nothing in it to click: quitting meanwhile would
            # destroy the training thread mid-write.
            self.statusBar().showMessage("Saving a checkpoint of the training run… the window closes when it is saved.")
            self._saving_to_close = True
            parts = [part for part in (self.centralWidget(), self.menuBar()) if part is not None]
            for part in parts:
                part.setEnabled(False)
            try:
                training.stop_and_wait()
            finally:
                self._saving_to_close = False
                for part in parts:
                    part.setEnabled(True)
            if training.last_error:  # the save failed: keep the window, so the message can be read
                self.statusBar().showMessage(
                    "The checkpoint could not be saved (see the message above). Close the window again to quit anyway."
                )
                event.ignore()
                return
        self.stop_demo()
        if self.tour is not None:
            self.tour.close_tour()
        self.set_presentation_mode(False)  # the application font is shared: give it back
        for panel in self.built_panels():
            if hasattr(panel, "stop_and_wait") and panel is not training:
                panel.stop_and_wait()
        settings = QSettings()
        settings.setValue("version", SETTINGS_VERSION)
        settings.setValue("window/geometry", self.saveGeometry())
        Job.cancel_all()
        # Deliver the jobs' last signals now, while every panel still exists.
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents()
        super().closeEvent(event)
