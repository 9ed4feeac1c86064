"""The open workspace, in the window: saving, autosave, opening, New, and the .zip exchange, in jobs.

The files are `core.workspace`'s and `core.workspace_zip`'s business; the
`WorkspaceController` gathers what the session and each panel hold
(`panel.state()`), and puts it back (`panel.restore_state()`), loading
corpora and models in jobs. A save that must copy a run into the workspace
(the first after training) copies it in a job first and writes the rest when
it is done, so the window never waits on a copy. The File menu that drives it
is `ui/workspace_menu.py`; the recent list and the panels' layout live in
QSettings (`ui/workspace_settings.py`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication

from playground.core.progress import Progress, UserError
from playground.engine.jobs import Job, JobSlot
from playground.ui import workspace_settings as settings

if TYPE_CHECKING:
    from playground.core.workspace import WorkspaceContent


def workspace_files():
    """`core.workspace`, imported on first use: the window paints without its zip and file machinery."""
    from playground.core import workspace

    return workspace


def workspace_zips():
    """`core.workspace_zip`, imported on first use too."""
    from playground.core import workspace_zip

    return workspace_zip


AUTOSAVE_MS = 60_000
APP_TITLE = "LLM Playground"


def _normalized(data: dict) -> dict:
    """The dict as JSON would give it back (tuples become lists), so snapshots compare as saved."""
    return json.loads(json.dumps(data))


AfterSave = Callable[[bool], None]  # told whether the save worked


@dataclass(eq=False)
class _SaveInFlight:
    """A save waiting for its run copy (a job): where to, and who waits for it."""

    folder: Path
    quiet: bool
    waiting: list[AfterSave] = field(default_factory=list)


class WorkspaceController(QObject):
    """The open workspace (a folder, or None), and every way to make, open, save and exchange one."""

    opened = Signal(object)  # the folder, once everything is restored (models and corpus loaded)
    saved = Signal(object)  # the folder

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.folder: Optional[Path] = None
        self.exporting = JobSlot(self)  # the .zip export
        self.importing = JobSlot(self)  # the .zip import
        self.copying = JobSlot(self)  # a run copied in before a save writes the rest
        self._save_in_flight: Optional[_SaveInFlight] = None
        self._closing = False  # the window is closing: a save does all its work at once
        self._pending: set[Job] = set()  # corpus and model loads of an opening workspace
        self._opening = False
        self._save_when_ready = False
        self._saved: Optional[dict] = None  # the workspace.json last written or read (normalized)
        # The states of panels not built yet (the window builds a panel when its step is first shown),
        # given to each when it is built, and saved as they are meanwhile.
        self._pending_states: dict[str, dict] = {}
        self._adopting = None  # a panel being given its waiting state (still counts as waiting)
        self._defaults = self.panel_states()  # what New workspace puts back; a later panel adds its own
        if hasattr(window, "panel_built"):
            window.panel_built.connect(self._panel_built)
        self.timer = QTimer(self, interval=AUTOSAVE_MS)
        self.timer.timeout.connect(self.autosave)
        self.timer.start()
        window.installEventFilter(self)
        self.restore_layout()

    # ================================================================== gathering and restoring state

    def _built_panels(self) -> list:
        """The window's panels built so far (a window without lazy panels: all of them)."""
        built = getattr(self.window, "built_panels", None)
        return list(built()) if callable(built) else list(getattr(self.window, "panels", None) or [])

    def _panels(self) -> list[tuple[str, Any]]:
        """(key, panel) for each built panel that keeps a state (any object with state() and restore_state())."""
        return [
            (panel.title.lower(), panel)
            for panel in self._built_panels()
            if hasattr(panel, "state") and hasattr(panel, "restore_state") and panel is not self._adopting
        ]

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
        self._pending_states = {
            key: copy.deepcopy(state)
            for key, state in states.items()
            if key not in built and key != "window" and isinstance(state, dict)
        }
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
        self._adopting = panel  # as it was a moment ago: not built, its state waiting
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
        return workspace_files().WorkspaceContent(
            corpus=s.corpus,
            tokenizers=list(s.tokenizers),
            tokenizer=s.tokenizer,
            checkpoint=checkpoint,
            template=template,
            sent_prompt=sent,
            probe_text=s.probe_text,
            panels=panels,
            training=s.training,
        )

    def snapshot(self) -> Optional[dict]:
        """What saving now would write (nothing is written): workspace.json, the templates, and which
        tokenizer and corpus objects the session holds (a retrained tokenizer may keep its name)."""
        if self.folder is None:
            return None
        content = self.content()
        corpus = content.corpus
        return _normalized(
            {
                "workspace": workspace_files().plan_workspace(self.folder, content).to_dict(),
                "template": content.template,
                "sent_prompt": content.sent_prompt,
                "tokenizers": [id(t) for t in content.tokenizers],
                "corpus_text": hash(corpus.text) if corpus is not None else None,
            }
        )

    def is_dirty(self) -> bool:
        """True when the open workspace differs from what its folder holds."""
        return self.folder is not None and not self._opening and self.snapshot() != self._saved

    @property
    def busy(self) -> bool:
        """True while an opened workspace's corpus or model is still loading."""
        return self._opening

    # ================================================================== save

    def save_to(self, folder, quiet: bool = False, then: Optional[AfterSave] = None) -> bool:
        """Save the session and every panel into `folder` (an empty folder, a new one or a workspace).

        True when saved, or being saved: a run to copy in (the first save after
        training) is copied in a job, and the rest is written when it is done;
        `saved` comes then. `then(ok)` is called once the save has ended either way.
        """
        if self._opening:
            self.session.warn("The workspace is still opening (its model or corpus is loading); save when it is done.")
            return self._told(then, False)
        folder = Path(folder).absolute()
        if self._save_in_flight is not None:  # a run is being copied into a workspace: it decides
            return self._save_checked(folder, quiet, then)
        if folder.exists() and not folder.is_dir():
            self.session.error(f"{folder} is a file: choose a folder for the workspace.")
            return self._told(then, False)
        if (
            folder != self.folder
            and folder.is_dir()
            and any(folder.iterdir())
            and not workspace_files().is_workspace(folder)
        ):
            self.session.error(
                f"{folder} already holds other files: choose an empty folder (make a new one in the "
                "dialog) or an existing workspace."
            )
            return self._told(then, False)
        return self._save_checked(folder, quiet, then)

    def _save_checked(self, folder: Path, quiet: bool, then: Optional[AfterSave]) -> bool:
        """`save_to` once `folder` is known to be a fit place (a save that copied a run in ends here too)."""
        in_flight = self._save_in_flight
        if in_flight is not None:
            if in_flight.folder != folder:
                self.session.warn(
                    f"The workspace is still being saved in {in_flight.folder.name} (a run is being "
                    "copied into it); try again when it is done."
                )
                return self._told(then, False)
            if then is not None:
                in_flight.waiting.append(then)  # that save writes what the session holds once the copy is done
            return True
        content = self.content()
        if not self._closing:
            try:
                copies = workspace_files().runs_to_copy(folder, content)
            except UserError as e:
                self.session.error(str(e))
                return self._told(then, False)
            if copies:
                self._copy_then_save(copies, _SaveInFlight(folder, quiet, [then] if then is not None else []))
                return True
        return self._told(then, self._write(folder, content, quiet))

    @staticmethod
    def _told(then: Optional[AfterSave], ok: bool) -> bool:
        if then is not None:
            then(ok)
        return ok

    def _write(self, folder: Path, content: WorkspaceContent, quiet: bool) -> bool:
        """Write the workspace now (anything left to copy is copied here)."""
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            workspace_files().save_workspace(folder, content)
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

    def _copy_then_save(self, copies: list, save: _SaveInFlight) -> None:
        """Copy the runs in a job; when it is done, save (writing what the session holds by then)."""
        self._save_in_flight = save
        job = Job(workspace_files().copy_runs, copies, doing=f"copying the run into the workspace {save.folder.name}")
        job.progress.connect(self._show_progress)
        job.result.connect(lambda _: self._copied(save))
        job.error.connect(lambda message: self._copy_ended(save, message))
        job.cancelled.connect(lambda: self._copy_ended(save, None))
        job.done.connect(lambda: self.window.statusBar().clearMessage())
        self.copying.start(job)

    def _take_save(self, save: _SaveInFlight) -> bool:
        """True when `save` is still the one in flight (it is then no longer)."""
        if self._save_in_flight is not save:
            return False  # given up on (the window closed and saved at once)
        self._save_in_flight = None
        return True

    def _copied(self, save: _SaveInFlight) -> None:
        if not self._take_save(save):
            return

        def tell_all(ok: bool) -> None:
            for tell in save.waiting:
                tell(ok)

        self._save_checked(save.folder, save.quiet, then=tell_all)

    def _copy_ended(self, save: _SaveInFlight, message: Optional[str]) -> None:
        """The copy failed (`message`) or was stopped: nothing more is written, and those waiting hear so."""
        if not self._take_save(save):
            return
        if message:
            self.session.error(message)
        for tell in save.waiting:
            tell(False)

    def _save_now_for_closing(self) -> None:
        """The window closes: stop a run copy in flight, and save at once (the copy finished here)."""
        in_flight, self._save_in_flight = self._save_in_flight, None
        job = self.copying.job
        if job is not None:
            job.cancel()
            job.wait()
        self._closing = True
        try:
            if in_flight is not None:
                self._save_checked(in_flight.folder, quiet=True, then=None)
            else:
                self.autosave()
        finally:
            self._closing = False

    def autosave(self) -> bool:
        """Save the open workspace if anything changed (the timer, and the window closing, call this)."""
        if self.folder is None or self._opening or not self.is_dirty():
            return False
        return self.save_to(self.folder, quiet=True)

    def _leave_then(self, action: Callable[[], None]) -> None:
        """Save the open workspace if it changed (its run maybe copied in a job first), then `action`."""
        if self.folder is None or self._opening or not self.is_dirty():
            action()
        else:
            self.save_to(self.folder, quiet=True, then=lambda ok: action())

    def _became_open(self, folder: Path) -> None:
        self.folder = folder
        self.remember(folder)
        self.window.setWindowTitle(f"{folder.name} — {APP_TITLE}")

    # ================================================================== open

    def open_recent(self, folder: Path) -> bool:
        if not workspace_files().is_workspace(folder):
            self.session.error(
                f"The workspace {folder} is no longer there (moved or deleted); it was taken off the recent list."
            )
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
        if self._save_in_flight is not None:
            self.session.warn(
                "The workspace is still being saved (a run is being copied into it); try again when it is done."
            )
            return False
        return True

    def open(self, folder) -> bool:
        """Open the workspace in `folder`: the session, every panel, and (in jobs) its corpus and model."""
        if not self._can_switch():
            return False
        try:
            opened = workspace_files().open_workspace(folder)
        except UserError as e:
            self.session.error(str(e))
            return False
        if self.folder is not None and self.folder != opened.folder:
            self._leave_then(lambda: self._show_opened(opened))  # the workspace being left keeps its latest state
        else:
            self._show_opened(opened)
        return True

    def _show_opened(self, opened) -> None:
        """Make an opened workspace the window's: the session, every panel, then its corpus and model in jobs."""
        self._opening, self._save_when_ready = True, False
        self._became_open(opened.folder)
        try:
            self._restore(opened)
        except Exception as e:  # never left half-open: say what happened, keep what was restored
            self.session.error(f"The workspace {opened.folder.name} was only partly restored: {type(e).__name__}: {e}")
        finally:
            self._maybe_ready()

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
        s.set_tokenizer(
            opened.tokenizer if opened.tokenizer is not None or not opened.tokenizers else opened.tokenizers[-1]
        )
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
            prompt["file"] = str(workspace_files().resolve(opened.folder, opened.workspace.prompt_template))
        self.restore_panels(states)

        if opened.checkpoint is not None:
            self._load_model(opened.checkpoint, opened.which, states.get("attention"))
        elif s.checkpoint is not None:
            s.set_checkpoint(None)
        if opened.problems:
            s.warn(" ".join(opened.problems))

    def new_workspace(self, folder) -> bool:
        """Start afresh in `folder` (new or empty): built-in corpus, no tokenizers, the demo model, defaults."""
        folder = Path(folder).absolute()
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            self.session.error(
                f"{folder} is not empty: choose an empty folder (or make a new one) for the new workspace."
            )
            return False
        if not self._can_switch():
            return False
        self._leave_then(lambda: self._start_afresh(folder))
        return True

    def _start_afresh(self, folder: Path) -> None:
        from playground.core.corpus import default_corpus
        from playground.engine.session import DEFAULT_PROBE_TEXT
        from playground.paths import demo_model_dir

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

    def _load_model(self, path: Path, which: str, attention_state: Optional[dict]) -> Job:
        """Load a checkpoint in a job; it becomes the session's model (its weights go to `session.models`)."""

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

        job = Job(workspace_files().load_run, path, which, doing=f"loading the model {path.name}")
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
        """Export the open workspace (saved first) as `path`, in a job.

        Returns the job started: the export, or the run copy that the save
        before it needs (the export starts when the save is done).
        """
        if self.folder is None:
            self.session.warn("There is no open workspace to export: save one first.")
            return None
        folder, path = self.folder, Path(path)
        if not self.is_dirty() and self._save_in_flight is None:
            return self._start_export(folder, path, runs, include_corpus)

        def saved(ok: bool) -> None:
            if ok:
                self._start_export(folder, path, runs, include_corpus)

        if not self.save_to(folder, quiet=True, then=saved):
            return None
        return self.exporting.job or self.copying.job

    def _start_export(self, folder: Path, path: Path, runs: Optional[list[str]], include_corpus: bool) -> Job:
        job = Job(
            workspace_zips().export_workspace,
            folder,
            path,
            runs,
            include_corpus,
            doing=f"exporting the workspace {folder.name}",
        )
        job.progress.connect(self._show_progress)
        job.result.connect(
            lambda notes: self.session.info(
                f"Exported the workspace {folder.name} to {path}." + (" " + " ".join(notes) if notes else "")
            )
        )
        job.error.connect(self.session.error)
        job.done.connect(lambda: self.window.statusBar().clearMessage())
        return self.exporting.start(job)

    def import_zip(self, zip_path, dest) -> Job:
        """Unpack a workspace .zip into `dest` (new or empty) in a job, then open it."""
        zip_path, dest = Path(zip_path), Path(dest)
        job = Job(workspace_zips().import_workspace, zip_path, dest, doing=f"importing {zip_path.name}")
        job.progress.connect(self._show_progress)
        job.result.connect(lambda folder: self.open(folder))
        job.error.connect(self.session.error)
        job.done.connect(lambda: self.window.statusBar().clearMessage())
        return self.importing.start(job)

    def _show_progress(self, p: Progress) -> None:
        self.window.statusBar().showMessage(p.message)

    # ================================================================== recent workspaces and layout (QSettings)

    def recent(self) -> list[Path]:
        return settings.recent_workspaces()

    def remember(self, folder: Path) -> None:
        settings.set_recent_workspaces([folder] + [f for f in self.recent() if f != folder])

    def forget(self, folder: Path) -> None:
        settings.set_recent_workspaces([f for f in self.recent() if f != folder])

    def clear_recent(self) -> None:
        settings.set_recent_workspaces([])

    def _splitters(self) -> list:
        """Each built panel's splitters (a panel built later restores its own: `_restore_layout_of`)."""
        return [item for panel in self._built_panels() for item in settings.splitters_of(panel.title.lower(), panel)]

    def save_layout(self) -> None:
        settings.save_splitters(self._splitters())

    def restore_layout(self) -> None:
        settings.restore_splitters(self._splitters())

    def _restore_layout_of(self, key: str, panel) -> None:
        settings.restore_splitters(settings.splitters_of(key, panel))

    # ================================================================== closing

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.window and event.type() == QEvent.Type.Close:
            self.save_layout()
            self._save_now_for_closing()
        return False
