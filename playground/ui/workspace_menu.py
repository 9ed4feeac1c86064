"""File ▸ workspaces: new, open, recent, save, save as, export and import as .zip.

`install_workspace_menu(window)` adds the actions to the window's File menu
and returns the `WorkspaceMenu`: the `WorkspaceController`
(`ui/workspace_controller.py`, which does the work) with the actions and the
dialogs that ask for folders, zips and what to export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QVBoxLayout,
)

from playground.core.files import free_folder
from playground.core.progress import UserError
from playground.ui.workspace_controller import AfterSave, WorkspaceController, workspace_files


class WorkspaceMenu(WorkspaceController):
    """The workspace controller, with its File menu actions and the dialogs they open."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self._make_actions()

    # ================================================================== menu

    def _file_menu(self) -> QMenu:
        bar = self.window.menuBar()
        for action in bar.actions():
            menu = action.menu()
            if menu is not None and menu.title().replace("&", "") == "File":
                return menu
        menu = QMenu("&File", bar)
        first = bar.actions()[0] if bar.actions() else None
        if first is None:
            bar.addMenu(menu)
        else:
            bar.insertMenu(first, menu)
        return menu

    def _make_actions(self) -> None:
        w = self.window

        def action(text: str, tip: str, slot: Callable, shortcut: Optional[str] = None) -> QAction:
            a = QAction(text, w)
            a.setToolTip(tip)
            a.setStatusTip(tip)
            if shortcut:
                a.setShortcut(shortcut)
            a.triggered.connect(lambda *_: slot())
            return a

        self.new_action = action(
            "&New workspace…",
            "Start afresh in a new folder: built-in corpus, no tokenizers, the demo model, "
            "every step at its defaults. The open workspace is saved first.",
            self._new_triggered,
            "Ctrl+Alt+N",
        )
        self.open_action = action(
            "&Open workspace…",
            "Open a workspace folder: corpus, tokenizers, model, prompt and every step's "
            "settings come back as they were saved.",
            self._open_triggered,
            "Ctrl+Alt+O",
        )
        self.save_action = action(
            "&Save workspace",
            "Save everything into the open workspace folder (it is also saved every minute "
            "and when the window closes).",
            self.save,
            "Ctrl+Alt+S",
        )
        self.save_as_action = action(
            "Save workspace &as…",
            "Save everything into a new workspace folder, which becomes the open one.",
            self.save_as,
            "Ctrl+Alt+Shift+S",
        )
        self.export_action = action(
            "&Export workspace as .zip…",
            "Write the workspace as one .zip to share or move: tokenizers, the "
            "models you choose (without their optimizer state), templates and settings, no absolute paths.",
            self._export_triggered,
        )
        self.import_action = action(
            "I&mport workspace from .zip…",
            "Unpack a workspace .zip into an empty folder and open it. "
            "A damaged or unsafe zip is refused before anything is written.",
            self._import_triggered,
        )
        self.recent_menu = QMenu("&Recent workspaces", w)
        self.recent_menu.setToolTipsVisible(True)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)

        menu = self._file_menu()
        menu.setToolTipsVisible(True)
        first = menu.actions()[0] if menu.actions() else None

        def put(item) -> None:
            if isinstance(item, QMenu):
                menu.insertMenu(first, item) if first is not None else menu.addMenu(item)
            elif item is None:
                menu.insertSeparator(first) if first is not None else menu.addSeparator()
            else:
                menu.insertAction(first, item) if first is not None else menu.addAction(item)

        for item in (
            self.new_action,
            self.open_action,
            self.recent_menu,
            self.save_action,
            self.save_as_action,
            None,
            self.export_action,
            self.import_action,
            None,
        ):
            put(item)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent()
        if not recent:
            none = self.recent_menu.addAction("No recent workspaces")
            none.setEnabled(False)
            return
        for n, folder in enumerate(recent, start=1):
            a = self.recent_menu.addAction(f"&{n}  {folder.name}")
            a.setToolTip(str(folder))
            a.triggered.connect(lambda *_, f=folder: self.open_recent(f))
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear the list", self.clear_recent)

    # ================================================================== the dialogs (tests replace them)

    def ask_folder(self, title: str) -> Optional[Path]:
        start = str(self.folder.parent if self.folder else Path.home())
        folder = QFileDialog.getExistingDirectory(self.window, title, start)
        return Path(folder) if folder else None

    def ask_zip_to_write(self) -> Optional[Path]:
        start = (self.folder.parent / f"{self.folder.name}.zip") if self.folder else Path.home() / "workspace.zip"
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Export the workspace as a .zip", str(start), "Workspace (*.zip)"
        )
        if not path:
            return None
        return Path(path) if path.lower().endswith(".zip") else Path(path + ".zip")

    def ask_zip_to_read(self) -> Optional[Path]:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Import a workspace .zip", str(Path.home()), "Workspace (*.zip);;All files (*)"
        )
        return Path(path) if path else None

    def ask_export_choices(self, run_names: list[str], has_corpus: bool) -> Optional[tuple[list[str], bool]]:
        """Which runs go into the zip, and whether the corpus files do; None when cancelled."""
        if not run_names and not has_corpus:
            return [], False
        dialog = QDialog(self.window)
        dialog.setWindowTitle("Export the workspace")
        runs = QListWidget()
        for name in run_names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            runs.addItem(item)
        corpus = QCheckBox("Include the corpus files")
        corpus.setChecked(has_corpus)
        corpus.setEnabled(has_corpus)
        corpus.setToolTip("Without them, whoever opens the workspace chooses a corpus again.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(
            QLabel(
                "Models (runs) to include: their weights and settings, without the optimizer "
                "state that only resuming needs."
            )
        )
        layout.addWidget(runs)
        layout.addWidget(corpus)
        layout.addWidget(buttons)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        chosen = [
            runs.item(i).text() for i in range(runs.count()) if runs.item(i).checkState() == Qt.CheckState.Checked
        ]
        return chosen, corpus.isChecked()

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self.window,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    # ================================================================== menu actions

    def _new_triggered(self) -> None:
        folder = self.ask_folder("New workspace: choose or make an empty folder")
        if folder is not None:
            self.new_workspace(folder)

    def _open_triggered(self) -> None:
        folder = self.ask_folder("Open a workspace folder")
        if folder is not None:
            self.open(folder)

    def save(self) -> bool:
        """Save into the open workspace, or ask for a folder when none is open."""
        return self.save_to(self.folder) if self.folder is not None else self.save_as()

    def save_as(self, then: Optional[AfterSave] = None) -> bool:
        folder = self.ask_folder("Save the workspace: choose or make an empty folder")
        if folder is None or (
            folder != self.folder
            and workspace_files().is_workspace(folder)
            and not self.confirm(
                "Replace the workspace?", f"{folder} holds another workspace. Replace it with this one?"
            )
        ):
            return self._told(then, False)
        return self.save_to(folder, then=then)

    def _export_triggered(self) -> None:
        def saved(ok: bool) -> None:
            if ok:
                self._ask_and_export()

        if self.folder is None:
            self.session.info("Save the workspace in a folder first; then it can be exported as a .zip.")
            self.save_as(then=saved)
        else:
            self.save_to(self.folder, quiet=True, then=saved)

    def _ask_and_export(self) -> None:
        """The open workspace is saved: ask which runs go into the zip and where it goes, then export."""
        try:
            ws = workspace_files().read_workspace(self.folder)
        except UserError as e:
            self.session.error(str(e))
            return
        choices = self.ask_export_choices(
            [r.name for r in ws.runs], ws.corpus is not None and ws.corpus.kind != "default"
        )
        if choices is None:
            return
        path = self.ask_zip_to_write()
        if path is not None:
            self.export_zip(path, runs=choices[0], include_corpus=choices[1])

    def _import_triggered(self) -> None:
        zip_path = self.ask_zip_to_read()
        if zip_path is None:
            return
        folder = self.ask_folder("Import the workspace into an empty folder")
        if folder is None:
            return
        if folder.exists() and any(folder.iterdir()):
            folder = free_folder(folder / zip_path.stem)  # beside what is there, never mixed with it
        self.import_zip(zip_path, folder)


def install_workspace_menu(window) -> WorkspaceController:
    """Add the workspace actions to `window`'s File menu; returns the controller (one per window)."""
    existing = getattr(window, "workspaces", None)
    if isinstance(existing, WorkspaceController):
        return existing
    controller = WorkspaceMenu(window)
    window.workspaces = controller
    return controller
