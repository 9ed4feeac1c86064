"""File ▸ workspaces: new, open, recent, save, save as, export and import as .zip; autosave; panel layout.

`install_workspace_menu(window)` adds the actions to the window's File menu
and returns the `WorkspaceController` that does the work. The files are
`core.workspace`'s business; this module gathers what the session and each
panel hold (`panel.state()`), and puts it back (`panel.restore_state()`),
loading corpora and models in jobs. Window layout (each panel's splitters)
is kept in QSettings, with the recent workspaces, each under a version number.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QLabel, QListWidget,
                               QListWidgetItem, QMenu, QMessageBox, QSplitter, QVBoxLayout)

from playground.core.progress import Progress, UserError
from playground.engine.jobs import Job

if TYPE_CHECKING:
    from playground.core.workspace import WorkspaceContent


def _files():
    """`core.workspace`, imported on first use: the window paints without its zip and file machinery."""
    from playground.core import workspace
    return workspace

RECENT_VERSION = 1   # QSettings "workspaces/...": the list of recent workspace folders
LAYOUT_VERSION = 1   # QSettings "layout/...": each panel's splitter sizes
MAX_RECENT = 8
AUTOSAVE_MS = 60_000
APP_TITLE = "LLM Playground"


def _normalized(data: dict) -> dict:
    """The dict as JSON would give it back (tuples become lists), so snapshots compare as saved."""
    return json.loads(json.dumps(data))


class WorkspaceController(QObject):
    """The open workspace (a folder, or None), and every way to make, open, save and exchange one."""

    opened = Signal(object)  # the folder, once everything is restored (models and corpus loaded)
    saved = Signal(object)   # the folder

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.folder: Optional[Path] = None
        self.jobs: set[Job] = set()           # export and import
        self._pending: set[Job] = set()       # corpus and model loads of an opening workspace
        self._opening = False
        self._save_when_ready = False
        self._saved: Optional[dict] = None    # the workspace.json last written or read (normalized)
        # The states of panels not built yet (the window builds a panel when its step is first shown),
        # given to each when it is built, and saved as they are meanwhile.
        self._pending_states: dict[str, dict] = {}
        self._adopting = None                 # a panel being given its waiting state (still counts as waiting)
        self._defaults = self.panel_states()  # what New workspace puts back; a later panel adds its own
        if hasattr(window, "panel_built"):
            window.panel_built.connect(self._panel_built)
        self.timer = QTimer(self, interval=AUTOSAVE_MS, timeout=self.autosave)
        self.timer.start()
        window.installEventFilter(self)
        self._make_actions()
        self.restore_layout()

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
            "&New workspace…", "Start afresh in a new folder: built-in corpus, no tokenizers, the demo model, "
            "every step at its defaults. The open workspace is saved first.", self._new_triggered, "Ctrl+Alt+N")
        self.open_action = action(
            "&Open workspace…", "Open a workspace folder: corpus, tokenizers, model, prompt and every step's "
            "settings come back as they were saved.", self._open_triggered, "Ctrl+Alt+O")
        self.save_action = action(
            "&Save workspace", "Save everything into the open workspace folder (it is also saved every minute "
            "and when the window closes).", self.save, "Ctrl+Alt+S")
        self.save_as_action = action(
            "Save workspace &as…", "Save everything into a new workspace folder, which becomes the open one.",
            self.save_as, "Ctrl+Alt+Shift+S")
        self.export_action = action(
            "&Export workspace as .zip…", "Write the workspace as one .zip to share or move: tokenizers, the "
            "models you choose (without their optimizer state), templates and settings, no absolute paths.",
            self._export_triggered)
        self.import_action = action(
            "I&mport workspace from .zip…", "Unpack a workspace .zip into an empty folder and open it. "
            "A damaged or unsafe zip is refused before anything is written.", self._import_triggered)
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

        for item in (self.new_action, self.open_action, self.recent_menu, self.save_action, self.save_as_action,
                     None, self.export_action, self.import_action, None):
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
        path, _ = QFileDialog.getSaveFileName(self.window, "Export the workspace as a .zip", str(start),
                                              "Workspace (*.zip)")
        if not path:
            return None
        return Path(path) if path.lower().endswith(".zip") else Path(path + ".zip")

    def ask_zip_to_read(self) -> Optional[Path]:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import a workspace .zip", str(Path.home()),
                                              "Workspace (*.zip);;All files (*)")
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
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked)
            runs.addItem(item)
        corpus = QCheckBox("Include the corpus files")
        corpus.setChecked(has_corpus)
        corpus.setEnabled(has_corpus)
        corpus.setToolTip("Without them, whoever opens the workspace chooses a corpus again.")
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(QLabel("Models (runs) to include: their weights and settings, without the optimizer "
                                "state that only resuming needs."))
        layout.addWidget(runs)
        layout.addWidget(corpus)
        layout.addWidget(buttons)
        if dialog.exec() != QDialog.Accepted:
            return None
        chosen = [runs.item(i).text() for i in range(runs.count()) if runs.item(i).checkState() == Qt.Checked]
        return chosen, corpus.isChecked()

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.window, title, text, QMessageBox.Yes | QMessageBox.Cancel,
                                      QMessageBox.Cancel)
        return answer == QMessageBox.Yes

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

    def save_as(self) -> bool:
        folder = self.ask_folder("Save the workspace: choose or make an empty folder")
        if folder is None:
            return False
        if folder != self.folder and _files().is_workspace(folder) and not self.confirm(
                "Replace the workspace?", f"{folder} holds another workspace. Replace it with this one?"):
            return False
        return self.save_to(folder)

    def _export_triggered(self) -> None:
        if self.folder is None:
            self.session.info("Save the workspace in a folder first; then it can be exported as a .zip.")
            if not self.save_as():
                return
        if not self.save_to(self.folder, quiet=True):
            return
        try:
            ws = _files().read_workspace(self.folder)
        except UserError as e:
            self.session.error(str(e))
            return
        choices = self.ask_export_choices([r.name for r in ws.runs],
                                          ws.corpus is not None and ws.corpus.kind != "default")
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
            folder = _files().free_folder(folder / zip_path.stem)  # beside what is there, never mixed with it
        self.import_zip(zip_path, folder)

    # ================================================================== gathering and restoring state

    def _built_panels(self) -> list:
        """The window's panels built so far (a window without lazy panels: all of them)."""
        built = getattr(self.window, "built_panels", None)
        return list(built()) if callable(built) else list(getattr(self.window, "panels", None) or [])

    def _panels(self) -> list[tuple[str, object]]:
        """(key, panel) for each built panel that keeps a state."""
        return [(panel.title.lower(), panel) for panel in self._built_panels()
                if hasattr(panel, "state") and hasattr(panel, "restore_state") and panel is not self._adopting]

    def panel_states(self) -> dict:
        """Each built panel's state, and the state waiting for each panel not built yet."""
        states = copy.deepcopy(self._pending_states)
        states.update({key: panel.state() for key, panel in self._panels()})
        steps = getattr(self.window, "steps", None)
        if steps is not None:
            states["window"] = {"step": steps.currentRow()}
        return states

    def restore_panels(self, states: dict) -> None:
        panels = self._panels()
        built = {key for key, _ in panels}
        # A panel not built yet gets exactly this state when it is built (none: its defaults).
        self._pending_states = {key: copy.deepcopy(state) for key, state in states.items()
                                if key not in built and key != "window" and isinstance(state, dict)}
        for key, panel in panels:
            self._restore_panel(panel, states.get(key))
        step = (states.get("window") or {}).get("step")
        steps = getattr(self.window, "steps", None)
        if steps is not None and isinstance(step, int) and 0 <= step < steps.count():
            steps.setCurrentRow(step)

    def _restore_panel(self, panel, state) -> None:
        if isinstance(state, dict):
            try:
                panel.restore_state(state)
            except Exception as e:  # one panel's odd value must not stop the others
                self.session.warn(f"The {panel.title} step's settings could not all be restored ({e}).")

    def _panel_built(self, panel) -> None:
        """A panel the window just built: note its defaults, then give it its layout and waiting state."""
        if not (hasattr(panel, "state") and hasattr(panel, "restore_state")):
            return
        key = panel.title.lower()
        self._adopting = panel   # as it was a moment ago: not built, its state waiting
        try:
            clean = not self.is_dirty()
        finally:
            self._adopting = None
        self._defaults.setdefault(key, panel.state())
        self._restore_layout_of(key, panel)
        self._restore_panel(panel, self._pending_states.pop(key, None))
        if clean and self.folder is not None and not self._opening:
            # Building a panel changes nothing in the workspace: what it holds now counts as saved.
            self._saved = self.snapshot()

    def content(self) -> WorkspaceContent:
        """What would be saved now."""
        s = self.session
        panels = self.panel_states()
        template = None
        prompt = panels.get("prompt")
        if prompt is not None:
            template = prompt.pop("template", None)  # kept as prompts/template.toml
            if template is not None and not isinstance(template, dict):
                template = template.to_dict()
        sent = s.prompt.to_dict() if s.prompt is not None else None
        checkpoint = Path(s.checkpoint.path) if s.checkpoint is not None else None
        return _files().WorkspaceContent(corpus=s.corpus, tokenizers=list(s.tokenizers), tokenizer=s.tokenizer,
                                checkpoint=checkpoint, template=template, sent_prompt=sent,
                                probe_text=s.probe_text, panels=panels, training=s.training)

    def snapshot(self) -> Optional[dict]:
        """What saving now would write (nothing is written): workspace.json, the templates, and which
        tokenizer and corpus objects the session holds (a retrained tokenizer may keep its name)."""
        if self.folder is None:
            return None
        content = self.content()
        corpus = content.corpus
        return _normalized({
            "workspace": _files().plan_workspace(self.folder, content).to_dict(),
            "template": content.template, "sent_prompt": content.sent_prompt,
            "tokenizers": [id(t) for t in content.tokenizers],
            "corpus_text": hash(corpus.text) if corpus is not None else None,
        })

    def is_dirty(self) -> bool:
        """True when the open workspace differs from what its folder holds."""
        return self.folder is not None and not self._opening and self.snapshot() != self._saved

    @property
    def busy(self) -> bool:
        """True while an opened workspace's corpus or model is still loading."""
        return self._opening

    # ================================================================== save

    def save_to(self, folder, quiet: bool = False) -> bool:
        """Save the session and every panel into `folder` (an empty folder, a new one or a workspace)."""
        if self._opening:
            self.session.warn("The workspace is still opening (its model or corpus is loading); save when it is done.")
            return False
        folder = Path(folder).absolute()
        if folder.exists() and not folder.is_dir():
            self.session.error(f"{folder} is a file: choose a folder for the workspace.")
            return False
        if folder != self.folder and folder.is_dir() and any(folder.iterdir()) and not _files().is_workspace(folder):
            self.session.error(f"{folder} already holds other files: choose an empty folder (make a new one in the "
                               "dialog) or an existing workspace.")
            return False
        QGuiApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            _files().save_workspace(folder, self.content())
        except UserError as e:
            self.session.error(str(e))
            return False
        finally:
            QGuiApplication.restoreOverrideCursor()
        self._became_open(folder)
        self._saved = self.snapshot()
        if not quiet:
            self.session.info(f"Saved the workspace {folder.name} in {folder.parent}.")
        self.saved.emit(folder)
        return True

    def autosave(self) -> bool:
        """Save the open workspace if anything changed (the timer, and the window closing, call this)."""
        if self.folder is None or self._opening or not self.is_dirty():
            return False
        return self.save_to(self.folder, quiet=True)

    def _became_open(self, folder: Path) -> None:
        self.folder = folder
        self.remember(folder)
        self.window.setWindowTitle(f"{folder.name} — {APP_TITLE}")

    # ================================================================== open

    def open_recent(self, folder: Path) -> bool:
        if not _files().is_workspace(folder):
            self.session.error(f"The workspace {folder} is no longer there (moved or deleted); it was taken off "
                               "the recent list.")
            self.forget(folder)
            return False
        return self.open(folder)

    def _can_switch(self) -> bool:
        if self.session.training:
            self.session.error("A model is training: stop it (Train step) before you switch workspaces.")
            return False
        if self._opening:
            self.session.warn("A workspace is still opening; try again when it is done.")
            return False
        return True

    def open(self, folder) -> bool:
        """Open the workspace in `folder`: the session, every panel, and (in jobs) its corpus and model."""
        if not self._can_switch():
            return False
        try:
            opened = _files().open_workspace(folder)
        except UserError as e:
            self.session.error(str(e))
            return False
        if self.folder is not None and self.folder != opened.folder:
            self.autosave()  # the workspace being left keeps its latest state
        self._opening, self._save_when_ready = True, False
        self._became_open(opened.folder)
        try:
            self._restore(opened)
        except Exception as e:  # never left half-open: say what happened, keep what was restored
            self.session.error(f"The workspace {opened.folder.name} was only partly restored: "
                               f"{type(e).__name__}: {e}")
        finally:
            self._maybe_ready()
        return True

    def _restore(self, opened) -> None:
        """Hand an `OpenedWorkspace` to the session and the panels; its corpus and model load in jobs."""
        s, w = self.session, self.window
        if opened.corpus is not None and opened.corpus != s.corpus and hasattr(w, "tokenizer_panel"):
            corpus = opened.corpus
            self._track(w.tokenizer_panel.load_corpus(lambda: corpus))
        for tok in list(s.tokenizers):
            s.remove_tokenizer(tok)
        for tok in opened.tokenizers:
            s.add_tokenizer(tok, make_current=False)
        s.set_tokenizer(opened.tokenizer if opened.tokenizer is not None or not opened.tokenizers
                        else opened.tokenizers[-1])
        if opened.workspace.probe_text is not None and opened.workspace.probe_text != s.probe_text:
            s.set_probe_text(opened.workspace.probe_text)
        s.prompt = opened.sent_prompt
        if opened.sent_prompt is not None:
            s.prompt_sent.emit(opened.sent_prompt)  # Generate keeps it for its comparison (no step change)

        states = copy.deepcopy(opened.workspace.panels)
        for key, default in self._defaults.items():  # a panel the file has no state for starts afresh
            if key != "window":
                states.setdefault(key, copy.deepcopy(default))
        prompt = states.setdefault("prompt", {})
        if opened.template is not None:
            prompt["template"] = opened.template
            prompt["file"] = str(_files().resolve(opened.folder, opened.workspace.prompt_template))
        self.restore_panels(states)

        if opened.checkpoint is not None:
            self._load_model(opened.checkpoint, opened.which, states.get("attention"))
        elif s.checkpoint is not None:
            s.set_checkpoint(None)
        if opened.problems:
            s.warn(" ".join(opened.problems))

    def new_workspace(self, folder) -> bool:
        """Start afresh in `folder` (new or empty): built-in corpus, no tokenizers, the demo model, defaults."""
        from playground.core.corpus import default_corpus
        from playground.engine.session import DEFAULT_PROBE_TEXT
        from playground.paths import demo_model_dir

        folder = Path(folder).absolute()
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            self.session.error(f"{folder} is not empty: choose an empty folder (or make a new one) for the new "
                               "workspace.")
            return False
        if not self._can_switch():
            return False
        self.autosave()
        s, w = self.session, self.window
        self._opening, self._save_when_ready = True, True
        self.folder = folder
        for tok in list(s.tokenizers):
            s.remove_tokenizer(tok)
        s.prompt = None
        s.set_probe_text(DEFAULT_PROBE_TEXT)
        self.restore_panels(copy.deepcopy(self._defaults))
        built_in = default_corpus()
        if s.corpus != built_in and hasattr(w, "tokenizer_panel"):
            self._track(w.tokenizer_panel.load_corpus(lambda: built_in))
        demo = demo_model_dir()
        if demo is not None:
            if s.checkpoint is None or Path(s.checkpoint.run_dir).absolute() != demo.absolute():
                self._load_model(demo, "best", self._defaults.get("attention"))
        elif s.checkpoint is not None:
            s.set_checkpoint(None)
        self._maybe_ready()
        return True

    def _load_model(self, path: Path, which: str, attention_state: Optional[dict]) -> Job:
        """Load a checkpoint in a job; it becomes the session's model (its weights go to `session.models`)."""
        def work(report, cancel):
            from playground.core.checkpoints import load_checkpoint

            return load_checkpoint(path, which=which)

        def adopt(loaded) -> None:
            checkpoint, model = loaded
            self.session.set_checkpoint(checkpoint, model)
            attention = getattr(self.window, "attention_panel", None)
            if attention is not None and isinstance(attention_state, dict):
                attention.restore_state(attention_state)  # now the layer and head fit the model

        def failed(message: str) -> None:
            self.session.error(message)
            if self.session.checkpoint is not None:
                self.session.set_checkpoint(None)  # not the previous workspace's model, under this one's name

        job = Job(work, f"loading the model {path.name}")
        job.result.connect(adopt)
        job.error.connect(failed)
        self._track(job)
        job.start()
        return job

    def _track(self, job: Optional[Job]) -> None:
        if job is None:
            return
        self._pending.add(job)
        job.done.connect(lambda: self._job_done(job))

    def _job_done(self, job: Job) -> None:
        self._pending.discard(job)
        # The job's own result handlers may still be queued behind this signal: look once they have run.
        QTimer.singleShot(0, self, self._maybe_ready)

    def _maybe_ready(self) -> None:
        if not self._opening or self._pending:
            return
        self._opening = False
        if self._save_when_ready:
            self._save_when_ready = False
            self.save_to(self.folder, quiet=True)
        else:
            self._saved = self.snapshot()
        self.opened.emit(self.folder)

    # ================================================================== zip

    def export_zip(self, path, runs: Optional[list[str]] = None, include_corpus: bool = True) -> Optional[Job]:
        """Export the open workspace (saved first) as `path`, in a job."""
        if self.folder is None:
            self.session.warn("There is no open workspace to export: save one first.")
            return None
        if self.is_dirty() and not self.save_to(self.folder, quiet=True):
            return None
        folder, path = self.folder, Path(path)

        def work(report, cancel):
            return _files().export_workspace(folder, path, runs, include_corpus, report, cancel)

        job = Job(work, f"exporting the workspace {folder.name}")
        job.progress.connect(self._show_progress)
        job.result.connect(lambda notes: self.session.info(
            f"Exported the workspace {folder.name} to {path}." + (" " + " ".join(notes) if notes else "")))
        job.error.connect(self.session.error)
        self._start(job)
        return job

    def import_zip(self, zip_path, dest) -> Job:
        """Unpack a workspace .zip into `dest` (new or empty) in a job, then open it."""
        zip_path, dest = Path(zip_path), Path(dest)

        def work(report, cancel):
            return _files().import_workspace(zip_path, dest, report, cancel)

        job = Job(work, f"importing {zip_path.name}")
        job.progress.connect(self._show_progress)
        job.result.connect(lambda folder: self.open(folder))
        job.error.connect(self.session.error)
        self._start(job)
        return job

    def _start(self, job: Job) -> None:
        self.jobs.add(job)
        job.done.connect(lambda: self.jobs.discard(job))
        job.done.connect(lambda: self.window.statusBar().clearMessage())
        job.start()

    def _show_progress(self, p: Progress) -> None:
        self.window.statusBar().showMessage(p.message)

    # ================================================================== recent workspaces (QSettings)

    def recent(self) -> list[Path]:
        settings = QSettings()
        if settings.value("workspaces/version", 0, int) != RECENT_VERSION:
            return []  # none kept yet, or a newer app's list: not misread
        value = settings.value("workspaces/recent", [], list) or []
        return [Path(v) for v in value if isinstance(v, str) and v][:MAX_RECENT]

    def _set_recent(self, folders: list[Path]) -> None:
        settings = QSettings()
        settings.setValue("workspaces/version", RECENT_VERSION)
        settings.setValue("workspaces/recent", [str(f) for f in folders[:MAX_RECENT]])

    def remember(self, folder: Path) -> None:
        self._set_recent([folder] + [f for f in self.recent() if f != folder])

    def forget(self, folder: Path) -> None:
        self._set_recent([f for f in self.recent() if f != folder])

    def clear_recent(self) -> None:
        self._set_recent([])

    # ================================================================== layout (QSettings)

    def _splitters(self) -> list[tuple[str, QSplitter]]:
        """Each built panel's splitters (a panel built later restores its own: `_restore_layout_of`)."""
        found = []
        for panel in self._built_panels():
            found += self._splitters_of(panel.title.lower(), panel)
        return found

    @staticmethod
    def _splitters_of(key: str, panel) -> list[tuple[str, QSplitter]]:
        return [(f"layout/{key}/{i}", s) for i, s in enumerate(panel.findChildren(QSplitter))]

    def save_layout(self) -> None:
        settings = QSettings()
        settings.setValue("layout/version", LAYOUT_VERSION)
        for key, splitter in self._splitters():
            settings.setValue(key, splitter.saveState())

    def restore_layout(self) -> None:
        self._restore_splitters(self._splitters())

    def _restore_layout_of(self, key: str, panel) -> None:
        self._restore_splitters(self._splitters_of(key, panel))

    @staticmethod
    def _restore_splitters(splitters: list[tuple[str, QSplitter]]) -> None:
        settings = QSettings()
        if settings.value("layout/version", 0, int) != LAYOUT_VERSION:
            return
        for key, splitter in splitters:
            state = settings.value(key)
            if isinstance(state, (QByteArray, bytes)):
                splitter.restoreState(state)

    # ================================================================== closing

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.window and event.type() == QEvent.Close:
            self.save_layout()
            self.autosave()
        return False


def install_workspace_menu(window) -> WorkspaceController:
    """Add the workspace actions to `window`'s File menu; returns the controller (one per window)."""
    existing = getattr(window, "workspaces", None)
    if isinstance(existing, WorkspaceController):
        return existing
    controller = WorkspaceController(window)
    window.workspaces = controller
    return controller
