"""The checkpoints the Perplexity tab scores: the current model first, then run folders added to compare with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
)

from playground.core.progress import UserError
from playground.engine.session import Session

MAX_RECENT_RUNS = 20


@dataclass
class CheckpointEntry:
    """A line of the list: the current model (folder None) or a checkpoint folder."""

    folder: Optional[Path]
    label: str = ""
    tip: str = ""


def checkpoint_folder(path: Path) -> Optional[Path]:
    """The folder `load_checkpoint(path)` reads: the run's best, else last; or the folder itself."""
    from playground.core.checkpoints import CONFIG_FILE, WEIGHTS_FILE, checkpoint_dir, is_checkpoint

    if not is_checkpoint(path):
        return None
    if (path / WEIGHTS_FILE).is_file() and (path.parent / CONFIG_FILE).is_file():
        return path
    return checkpoint_dir(path, "best") or checkpoint_dir(path, "last")


class CheckpointList(QGroupBox):
    """ "2 · Checkpoints to compare": the list with Add…, Recent runs and Remove.

    The current model is always the first line; when another becomes current,
    the one before stays on the list to compare with.
    """

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__("2 · Checkpoints to compare", parent)
        self.session = session
        self.entries: list[CheckpointEntry] = [CheckpointEntry(None)]
        self._shown_checkpoint = None  # the current model as this list last saw it

        self.view = QListWidget()
        self.view.setToolTip(
            "Every checkpoint here is scored on the same text. The current model is "
            "always on the list; add others to compare them with it."
        )
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setMinimumHeight(70)
        self.view.setMaximumHeight(150)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.itemSelectionChanged.connect(self._update_buttons)
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Add a run folder (or its best/ or last/ folder) to the comparison.")
        self.add_button.clicked.connect(self.choose_checkpoint)
        self.recent_button = QToolButton()
        self.recent_button.setText("Recent runs")
        self.recent_button.setToolTip("Add one of your training runs, newest first, or the demo model.")
        self.recent_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.recent_menu = QMenu(self.recent_button)
        self.recent_menu.setToolTipsVisible(True)
        self.recent_menu.aboutToShow.connect(self.fill_recent_menu)
        self.recent_button.setMenu(self.recent_menu)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip(
            "Take the selected checkpoints off the list (their results stay in the "
            "table). The current model always stays."
        )
        self.remove_button.clicked.connect(self.remove_selected)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.recent_button)
        row.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view)
        layout.addLayout(row)
        self._update_buttons()

    # ---------------------------------------------------------------- what to score

    def targets(self) -> list[Union[Path, object]]:
        """What `compare_checkpoints` scores: the current checkpoint itself, the others as folders."""
        return [self.session.checkpoint if e.folder is None else e.folder for e in self.entries]

    def folders(self) -> list[Path]:
        """The checkpoints added to the list (not the current model), for a workspace."""
        return [e.folder for e in self.entries if e.folder is not None]

    def current_folder(self) -> Optional[Path]:
        checkpoint = self.session.checkpoint
        return None if checkpoint is None else Path(checkpoint.path).resolve()

    # ---------------------------------------------------------------- the current model changed

    def on_checkpoint(self, checkpoint) -> None:
        """An added checkpoint that became the current model is listed once; the one before stays."""
        if checkpoint is not None:
            current = self.current_folder()
            self.entries = [e for e in self.entries if e.folder is None or e.folder != current]
        previous, self._shown_checkpoint = self._shown_checkpoint, checkpoint
        if previous is not None and checkpoint is not None and previous is not checkpoint:
            self._keep_on_list(previous)
        self.refresh()

    def _keep_on_list(self, checkpoint) -> None:
        """The model that was current stays on the list, to compare the new one with (when it can be read again)."""
        folder = checkpoint_folder(Path(checkpoint.path))
        if folder is None:
            return
        folder = folder.resolve()
        if folder == self.current_folder() or any(e.folder == folder for e in self.entries):
            return
        which = folder.name.split(".")[0]
        self.entries.insert(
            1, CheckpointEntry(folder, f"{folder.parent.name} · {which} · step {checkpoint.step:,}", str(folder))
        )

    def refresh(self) -> None:
        selected = {self.view.row(i) for i in self.view.selectedItems()}
        self.view.clear()
        for n, entry in enumerate(self.entries):
            if entry.folder is None:
                checkpoint = self.session.checkpoint
                if checkpoint is None:
                    text, tip = "● Current model: none yet", "Load or train a model first."
                else:
                    text = f"● {checkpoint.name} · step {checkpoint.step:,} (current model)"
                    tip = f"The model the other steps use now.\n{checkpoint.path}"
            else:
                text, tip = entry.label, entry.tip
            item = QListWidgetItem(text)
            item.setToolTip(tip)
            if entry.folder is None:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.view.addItem(item)
            item.setSelected(n in selected)
        self._update_buttons()

    def _update_buttons(self) -> None:
        selected = [self.view.row(i) for i in self.view.selectedItems()]
        self.remove_button.setEnabled(any(r > 0 for r in selected))

    # ---------------------------------------------------------------- adding and removing

    def choose_checkpoint(self) -> None:
        from playground.core.checkpoints import runs_dir

        folder = QFileDialog.getExistingDirectory(
            self, "Add a run folder (or its best/ or last/ folder)", str(runs_dir())
        )
        if folder:
            self.add(folder)

    def add(self, path) -> bool:
        """Put a checkpoint (a run folder or its best/ or last/ folder) on the list; False, with a message,
        for a folder that holds no checkpoint or one that is on the list already."""
        from playground.core.checkpoints import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, read_meta

        path = Path(path)
        folder = checkpoint_folder(path)
        if folder is None:
            self.session.error(
                f"{path.name or path} is not a checkpoint: a run folder holds {CONFIG_FILE}, {TOKENIZER_FILE} "
                f"and a best/ or last/ folder with {WEIGHTS_FILE}. Choose one of your runs (Recent runs lists "
                f"them) or the folder of a model you imported."
            )
            return False
        folder = folder.resolve()
        if folder == self.current_folder():
            self.session.info(f"{folder.parent.name} is the current model: it is on the list already.")
            return False
        if any(e.folder == folder for e in self.entries):
            self.session.info(f"{folder.parent.name} ({folder.name}) is on the list already.")
            return False
        try:
            step = int(read_meta(folder).get("step", 0))
            detail = f" · step {step:,}"
        except (UserError, ValueError, TypeError):
            detail = ""
        which = folder.name.split(".")[0]
        self.entries.append(CheckpointEntry(folder, f"{folder.parent.name} · {which}{detail}", str(folder)))
        self.refresh()
        return True

    def restore(self, folders) -> None:
        """Add the checkpoints a workspace listed that can still be read (quietly skipping the rest)."""
        for folder in folders if isinstance(folders, list) else []:
            if isinstance(folder, str) and checkpoint_folder(Path(folder)) is not None:
                folder = Path(folder).resolve()
                if folder != self.current_folder() and all(e.folder != folder for e in self.entries):
                    self.add(folder)

    def remove_selected(self) -> None:
        rows = sorted({self.view.row(i) for i in self.view.selectedItems()}, reverse=True)
        for row in rows:
            if 0 < row < len(self.entries):
                del self.entries[row]
        self.view.clearSelection()
        self.refresh()

    @staticmethod
    def recent_runs() -> list[Path]:
        """Run folders in the runs folder that hold a checkpoint, newest first."""
        from playground.core.checkpoints import is_checkpoint, runs_dir

        try:
            folders = [p for p in runs_dir().iterdir() if p.is_dir()]
        except OSError:
            return []
        folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        return [p for p in folders if is_checkpoint(p)][:MAX_RECENT_RUNS]

    def fill_recent_menu(self) -> None:
        from playground.paths import demo_model_dir

        self.recent_menu.clear()
        listed = {e.folder.parent for e in self.entries if e.folder is not None}
        current = self.current_folder()
        if current is not None:
            listed.add(current.parent)
        runs = self.recent_runs()
        for run in runs:
            action = self.recent_menu.addAction(run.name)
            action.setToolTip(str(run))
            action.setEnabled(run.resolve() not in listed)
            action.triggered.connect(lambda _=False, p=run: self.add(p))
        if not runs:
            action = self.recent_menu.addAction("No runs yet: train a model in the Train step")
            action.setEnabled(False)
        demo = demo_model_dir()
        if demo is not None:
            self.recent_menu.addSeparator()
            action = self.recent_menu.addAction("The demo model")
            action.setToolTip(f"The small model that ships with the app.\n{demo}")
            action.setEnabled(Path(demo).resolve() not in listed)
            action.triggered.connect(lambda _=False, p=demo: self.add(p))
