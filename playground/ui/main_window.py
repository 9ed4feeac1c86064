"""The main window: the workflow steps down the side, one panel at a time."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QSettings, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow, QMessageBox,
                               QStackedWidget, QVBoxLayout, QWidget)

from playground import __version__
from playground.core.devices import DeviceInfo
from playground.engine.jobs import Job
from playground.engine.session import Session
from playground.ui import exchange
from playground.ui.attention_panel import AttentionPanel
from playground.ui.build_panel import BuildPanel
from playground.ui.generate_panel import GeneratePanel
from playground.ui.prompt_panel import PromptPanel
from playground.ui.tokenizer_panel import TokenizerPanel
from playground.ui.training_panel import TrainingPanel
from playground.ui.widgets.message_bar import MessageBar

SETTINGS_VERSION = 1
# The whole workflow; a step appears in the window only once its panel is built.
WORKFLOW = ["Tokenize", "Build", "Train", "Prompt", "Generate", "Attention"]


class MainWindow(QMainWindow):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.setWindowTitle("LLM Playground")
        self.resize(1320, 840)

        self.tokenizer_panel = TokenizerPanel(session)
        self.build_panel = BuildPanel(session)
        self.training_panel = TrainingPanel(session)
        self.prompt_panel = PromptPanel(session)
        self.generate_panel = GeneratePanel(session)
        self.attention_panel = AttentionPanel(session)
        self.panels = [self.tokenizer_panel, self.build_panel, self.training_panel, self.prompt_panel,
                       self.generate_panel, self.attention_panel]
        # The model being trained cannot change shape mid-run.
        session.training_changed.connect(lambda running: self.build_panel.setEnabled(not running))
        self.steps = QListWidget()
        self.steps.setObjectName("steps")
        self.steps.setFixedWidth(170)
        self.steps.setIconSize(QSize(20, 20))
        self.steps.setStyleSheet(
            "#steps { background: #23283a; color: #e8eaf2; border: none; font-size: 12pt; }"
            "#steps::item { padding: 12px 10px; }"
            "#steps::item:selected { background: #3b4466; color: white; border-left: 4px solid #f4a340; }")
        self.stack = QStackedWidget()
        for number, panel in enumerate(self.panels, start=1):
            item = QListWidgetItem(f"{number}  {panel.title}")
            item.setToolTip(f"Step {number} of the workflow: {' → '.join(WORKFLOW)}")
            self.steps.addItem(item)
            self.stack.addWidget(panel)
        self.concept = QLabel()
        self.concept.setObjectName("concept")
        self.concept.setWordWrap(True)
        self.concept.setAlignment(Qt.AlignBottom | Qt.AlignLeft)
        self.concept.setStyleSheet("#concept { background: #23283a; color: #b9bed0; padding: 12px; font-size: 9.5pt; }")
        self.steps.currentRowChanged.connect(self._show_step)
        self.steps.setCurrentRow(0)
        session.show_step.connect(self.go_to)

        self.message_bar = MessageBar()
        session.message.connect(self.message_bar.show_message)

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
        sidebar.setFixedWidth(170)
        sidebar.setStyleSheet("background: #23283a;")
        sl = QVBoxLayout(sidebar)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.setSpacing(0)
        sl.addWidget(self.steps, 1)
        sl.addWidget(self.concept)
        layout.addWidget(sidebar)
        layout.addWidget(right, 1)
        self.setCentralWidget(central)

        self.device_label = QLabel("Looking for a GPU (loading PyTorch)…")
        self.device_label.setToolTip("The device that trains and runs models.")
        self.model_label = QLabel("Model: none yet")
        self.model_label.setToolTip("The trained model the later steps use: the demo model until you train one.")
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.device_label)
        session.device_changed.connect(self._show_device)
        session.checkpoint_changed.connect(self._show_model)
        self._menus()
        self._restore()

    def _show_step(self, row: int) -> None:
        self.stack.setCurrentIndex(row)
        self.concept.setText(getattr(self.panels[row], "concept", ""))

    def go_to(self, step: str) -> None:
        """Show the step whose title is `step` ("train", "generate", ...), when it is built."""
        for row, panel in enumerate(self.panels):
            if panel.title.lower() == step.lower():
                self.steps.setCurrentRow(row)
                return

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        import_action = QAction("&Import a Hugging Face model…", self, shortcut="Ctrl+Shift+I",
                                triggered=lambda: exchange.import_model(self, self.session))
        import_action.setToolTip("Explore a GPT-2 or LLaMA model you downloaded (a folder with config.json, "
                                 "model.safetensors and tokenizer.json) in Generate, Attention and Evaluate.")
        export_action = QAction("&Export the model for Hugging Face…", self, shortcut="Ctrl+Shift+E",
                                triggered=lambda: exchange.export_model(self, self.session))
        export_action.setToolTip("Write the current model as a transformers folder (GPT2LMHeadModel or "
                                 "LlamaForCausalLM) with its tokenizer.")
        file_menu.addAction(import_action)
        file_menu.addAction(export_action)
        file_menu.setToolTipsVisible(True)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.Quit, triggered=self.close)
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(QAction("&About LLM Playground", self, triggered=self._about))

    def _about(self) -> None:
        device = self.session.device.describe() if self.session.device else "still detecting"
        QMessageBox.about(self, "About LLM Playground",
                          f"<h3>LLM Playground {__version__}</h3>"
                          "<p>Build a small language model with your own hands and watch it from the inside.</p>"
                          f"<p>Device: {device}</p>")

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

    def ask_stop_training(self) -> bool:
        """Asked when the window closes during training (tests replace it)."""
        answer = QMessageBox.question(
            self, "Training is running",
            "A model is training. Stop it, save a checkpoint of where it got to, and quit?",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    def closeEvent(self, event) -> None:  # noqa: N802
        training = getattr(self, "training_panel", None)
        if training is not None and training.job is not None:
            if not self.ask_stop_training():
                event.ignore()
                return
            self.statusBar().showMessage("Stopping training and saving a checkpoint…")
            training.stop_and_wait()
        self.generate_panel.stop_and_wait()
        self.attention_panel.stop_and_wait()
        settings = QSettings()
        settings.setValue("version", SETTINGS_VERSION)
        settings.setValue("window/geometry", self.saveGeometry())
        Job.cancel_all()
        # Deliver the jobs' last signals now, while every panel still exists.
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents()
        super().closeEvent(event)
