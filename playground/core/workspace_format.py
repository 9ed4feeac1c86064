"""What `workspace.json` says: its content, its version and migrations, and the paths it names.

A file carries a version number: an older one is migrated step by step
(`MIGRATIONS`), a newer one is refused with a sentence, never misread. Each
panel's saved state carries a version of its own (`PANEL_STATE_VERSIONS`,
`PANEL_MIGRATIONS`), so a panel can change what it saves without a new
workspace version; a state saved before panels had versions is version 0.

Paths inside `workspace.json` are relative to the workspace when the file is
inside it, ``app:...`` for what ships with the app (the demo model), and
absolute only for things left where they are.

Plain data and paths only: nothing here reads or writes a file.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Callable, Optional, Union

from playground.core.files import parse_json
from playground.core.progress import UserError
from playground.core.run_layout import CHECKPOINT_NAMES

PathLike = Union[str, os.PathLike]

WORKSPACE_VERSION = 1
WORKSPACE_FORMAT = "llm-playground-workspace"
WORKSPACE_FILE = "workspace.json"
TOKENIZERS_DIR = "tokenizers"
RUNS_DIR = "runs"
PROMPTS_DIR = "prompts"
CORPUS_DIR = "corpus"
TEMPLATE_FILE = f"{PROMPTS_DIR}/template.toml"
SENT_PROMPT_FILE = f"{PROMPTS_DIR}/sent.toml"
PASTED_CORPUS_FILE = f"{CORPUS_DIR}/pasted.txt"
APP_PREFIX = "app:"  # a path inside the app's own folder (the demo model)

# MIGRATIONS[n] turns the dict of a version-n workspace.json into version n + 1.
# Version 1 is the first format, so there is nothing to migrate yet; a change
# to the format bumps WORKSPACE_VERSION and adds its step here.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}

# Each panel's state layout (what its `state()` returns), saved with it as "version". A change to what
# a panel saves bumps its number here and adds a step to PANEL_MIGRATIONS[key]: PANEL_MIGRATIONS[key][n]
# turns its version-n state into version n + 1. A panel not named here is kept as it was saved.
PANEL_STATE_VERSIONS: dict[str, int] = {
    "tokenize": 1,
    "build": 1,
    "train": 1,
    "prompt": 1,
    "generate": 2,  # 2: the Fill-the-mask page's text and top-k
    "attention": 1,
    "evaluate": 1,
    "window": 1,  # the window's own: which step is shown
}
PANEL_VERSION_KEY = "version"
UNVERSIONED = 0  # a state saved before panels had versions


def _unversioned_to_first(state: dict) -> dict:
    """States saved before panels had versions hold exactly what version 1 holds."""
    return state


PANEL_MIGRATIONS: dict[str, dict[int, Callable[[dict], dict]]] = {
    key: {UNVERSIONED: _unversioned_to_first} for key in PANEL_STATE_VERSIONS
}


def _generate_gains_fill_mask(state: dict) -> dict:
    """Generate version 2 adds the Fill-the-mask page's state; a version 1 state had none (the page's defaults)."""
    return {**state, "fill_mask": {}}


PANEL_MIGRATIONS["generate"][1] = _generate_gains_fill_mask


# =========================================================================== the file's content


@dataclass
class CorpusRef:
    """The corpus: the built-in one ("default") or files ("files"; pasted text is kept in a file too)."""

    kind: str  # "default", "files" or "text"
    name: str
    files: list[str] = field(default_factory=list)


@dataclass
class TokenizerRef:
    name: str
    file: str
    spec: Optional[dict] = None  # the TokenizerSpec it was trained with, when known


@dataclass
class RunRef:
    name: str
    path: str


@dataclass
class CheckpointRef:
    run: str  # a RunRef's name
    which: str  # "best" or "last"


@dataclass
class Workspace:
    """What `workspace.json` says (always the current version once read; panel states without their version)."""

    corpus: Optional[CorpusRef] = None
    tokenizers: list[TokenizerRef] = field(default_factory=list)
    tokenizer: Optional[str] = None  # the current tokenizer's name
    runs: list[RunRef] = field(default_factory=list)
    checkpoint: Optional[CheckpointRef] = None
    prompt_template: Optional[str] = None  # the Prompt step's template (a .toml file)
    sent_prompt: Optional[str] = None  # the template last sent to Generate
    probe_text: Optional[str] = None  # the sentence training probes
    panels: dict[str, dict] = field(default_factory=dict)  # each panel's state()
    version: int = WORKSPACE_VERSION
    # Sentences about what was read but not used (a panel's state from a newer app); not saved.
    notes: list[str] = field(default_factory=list, compare=False)

    def to_dict(self) -> dict:
        return {
            "format": WORKSPACE_FORMAT,
            "version": self.version,
            "corpus": None if self.corpus is None else vars(self.corpus).copy(),
            "tokenizers": [vars(t).copy() for t in self.tokenizers],
            "tokenizer": self.tokenizer,
            "runs": [vars(r).copy() for r in self.runs],
            "checkpoint": None if self.checkpoint is None else vars(self.checkpoint).copy(),
            "prompt_template": self.prompt_template,
            "sent_prompt": self.sent_prompt,
            "probe_text": self.probe_text,
            "panels": {key: versioned_panel_state(key, state) for key, state in self.panels.items()},
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = WORKSPACE_FILE) -> "Workspace":
        """Migrate and check plain data; every problem is a UserError naming `source`."""
        data = migrate(data, source)

        def bad(what: str) -> UserError:
            return UserError(f"{source} is damaged: {what}. Open another workspace, or save this one again.")

        def text(value: Any, what: str, optional: bool = True) -> Optional[str]:
            if value is None and optional:
                return None
            if not isinstance(value, str):
                raise bad(f"{what} should be text, not {value!r}")
            return value

        def table(value: Any, keys: tuple[str, ...], what: str) -> dict:
            if not isinstance(value, dict) or any(not isinstance(value.get(k), str) for k in keys):
                raise bad(f"{what} should name {', '.join(keys)}")
            return value

        corpus = None
        if data.get("corpus") is not None:
            c = table(data["corpus"], ("kind", "name"), "the corpus")
            if c["kind"] not in ("default", "files", "text"):
                raise bad(f"the corpus kind {c['kind']!r} is unknown")
            files = c.get("files", [])
            if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
                raise bad("the corpus files should be a list of paths")
            corpus = CorpusRef(c["kind"], c["name"], list(files))
        tokenizers = []
        for t in _list(data.get("tokenizers"), bad, "the tokenizers"):
            t = table(t, ("name", "file"), "each tokenizer")
            spec = t.get("spec")
            if spec is not None and not isinstance(spec, dict):
                raise bad("a tokenizer's spec should be a table")
            tokenizers.append(TokenizerRef(t["name"], t["file"], spec))
        runs = [
            RunRef(**{k: r[k] for k in ("name", "path")})
            for r in (table(r, ("name", "path"), "each run") for r in _list(data.get("runs"), bad, "the runs"))
        ]
        checkpoint = None
        if data.get("checkpoint") is not None:
            c = table(data["checkpoint"], ("run", "which"), "the checkpoint")
            if c["which"] not in CHECKPOINT_NAMES:
                raise bad(f"the checkpoint {c['which']!r} should be one of {', '.join(CHECKPOINT_NAMES)}")
            if c["run"] not in {r.name for r in runs}:
                raise bad(f"the checkpoint's run {c['run']!r} is not among the workspace's runs")
            checkpoint = CheckpointRef(c["run"], c["which"])
        panels = data.get("panels") or {}
        if not isinstance(panels, dict) or not all(isinstance(v, dict) for v in panels.values()):
            raise bad("the panels' settings should be a table of tables")
        notes: list[str] = []
        current = {}
        for key, state in panels.items():
            migrated = migrate_panel_state(key, state, notes)
            if migrated is not None:
                current[key] = migrated
        return cls(
            corpus=corpus,
            tokenizers=tokenizers,
            tokenizer=text(data.get("tokenizer"), "the tokenizer"),
            runs=runs,
            checkpoint=checkpoint,
            prompt_template=text(data.get("prompt_template"), "the prompt template"),
            sent_prompt=text(data.get("sent_prompt"), "the sent prompt"),
            probe_text=text(data.get("probe_text"), "the probe text"),
            panels=current,
            version=WORKSPACE_VERSION,
            notes=notes,
        )

    def references(self) -> list[str]:
        """Every path the workspace names."""
        refs = list(self.corpus.files) if self.corpus is not None else []
        refs += [t.file for t in self.tokenizers] + [r.path for r in self.runs]
        refs += [p for p in (self.prompt_template, self.sent_prompt) if p]
        return refs

    def run(self, name: str) -> Optional[RunRef]:
        return next((r for r in self.runs if r.name == name), None)


def _list(value: Any, bad, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(f"{what} should be a list")
    return value


def migrate(data: Any, source: str = WORKSPACE_FILE) -> dict:
    """`data` brought to WORKSPACE_VERSION; UserError for a newer, unknown or missing version."""
    if not isinstance(data, dict):
        raise UserError(f"{source} is not a workspace: it holds {type(data).__name__}, not named settings.")
    if data.get("format", WORKSPACE_FORMAT) != WORKSPACE_FORMAT:
        raise UserError(f"{source} is not an LLM Playground workspace (its format is {data.get('format')!r}).")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise UserError(
            f"{source} is not a workspace this app can read: its version number is "
            f"{'missing' if version is None else repr(version)}."
        )
    if version > WORKSPACE_VERSION:
        raise UserError(
            f"{source} was saved by a newer version of LLM Playground (workspace version {version}; "
            f"this app reads up to {WORKSPACE_VERSION}). Update the app to open it."
        )
    if version < 1:
        raise UserError(f"{source} has an unknown workspace version {version}: it cannot be read.")
    data = copy.deepcopy(data)
    while version < WORKSPACE_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise UserError(f"{source} is an old workspace (version {version}) that this app can no longer read.")
        data = step(data)
        version += 1
        data["version"] = version
    return data


# =========================================================================== each panel's state


def versioned_panel_state(key: str, state: dict) -> dict:
    """A panel's state as saved: with its layout's version (a panel this app does not know: as it came)."""
    if key not in PANEL_STATE_VERSIONS:
        return copy.deepcopy(state)
    return {**copy.deepcopy(state), PANEL_VERSION_KEY: PANEL_STATE_VERSIONS[key]}


def migrate_panel_state(key: str, state: dict, notes: Optional[list[str]] = None) -> Optional[dict]:
    """A saved panel state brought to its current version, without the version number.

    None (and a sentence in `notes`) for a state this app cannot read: saved
    by a newer app, or with a version it has no way forward from; the panel
    then keeps its defaults. A panel this app does not know is kept as it came.
    """
    if key not in PANEL_STATE_VERSIONS:
        return copy.deepcopy(state)
    notes = notes if notes is not None else []
    current = PANEL_STATE_VERSIONS[key]
    state = copy.deepcopy(state)
    version = state.pop(PANEL_VERSION_KEY, UNVERSIONED)
    what = "The window's settings" if key == "window" else f"The {key.capitalize()} step's settings"
    if isinstance(version, bool) or not isinstance(version, int) or version < UNVERSIONED:
        notes.append(f"{what} in the workspace have an unknown version {version!r}; they were left at their defaults.")
        return None
    if version > current:
        notes.append(
            f"{what} were saved by a newer version of LLM Playground (version "
            f"{version}; this app reads up to {current}); they were left at their defaults."
        )
        return None
    steps = PANEL_MIGRATIONS.get(key, {})
    while version < current:
        step = steps.get(version)
        if step is None:
            notes.append(
                f"{what} are of an old version ({version}) this app can no longer "
                "read; they were left at their defaults."
            )
            return None
        state = step(state)
        version += 1
    return state


# =========================================================================== paths


def app_root() -> Path:
    """The app's own folder: `app:` paths start here."""
    from playground.paths import app_root as shipped_root

    return shipped_root()


def is_absolute_reference(ref: str) -> bool:
    """True for a POSIX or Windows absolute path (or anything with a drive letter)."""
    return PurePosixPath(ref).is_absolute() or bool(PureWindowsPath(ref).drive) or ref.startswith("\\")


def relative_parts(ref: str, what: str) -> tuple[str, ...]:
    """The parts of a relative reference; UserError if it could climb out of its folder."""
    parts = PurePosixPath(ref).parts
    if not ref or "\\" in ref or "\x00" in ref or ".." in parts or any(":" in p for p in parts) or not parts:
        raise UserError(f"{what} names {ref!r}, a path that leads outside the workspace: it is refused.")
    return parts


def resolve(folder: PathLike, ref: str) -> Path:
    """The path a reference names: relative to `folder`, ``app:`` inside the app, or absolute."""
    if ref.startswith(APP_PREFIX):
        return app_root().joinpath(*relative_parts(ref[len(APP_PREFIX) :], "The workspace"))
    if is_absolute_reference(ref):
        return Path(ref)
    return Path(folder).joinpath(*relative_parts(ref, "The workspace"))


def reference(folder: PathLike, path: PathLike) -> str:
    """How `workspace.json` names `path`: relative inside the workspace, ``app:`` inside the app, else absolute."""
    path = Path(path).absolute()
    for base, prefix in ((Path(folder).absolute(), ""), (app_root(), APP_PREFIX)):
        try:
            return prefix + path.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(path)


def check_references(ws: Workspace, allow_absolute: bool = True, source: str = WORKSPACE_FILE) -> None:
    """UserError for a reference that climbs out of the workspace (or any absolute one, when not allowed)."""
    for ref in ws.references():
        if ref.startswith(APP_PREFIX):
            relative_parts(ref[len(APP_PREFIX) :], source)
        elif is_absolute_reference(ref):
            if not allow_absolute:
                raise UserError(
                    f"{source} names the absolute path {ref!r}; an exchanged workspace may only "
                    "name files inside itself, so it is refused."
                )
        else:
            relative_parts(ref, source)


def parse_workspace(raw: bytes, source: str = WORKSPACE_FILE, allow_absolute: bool = True) -> Workspace:
    """A workspace from the bytes of a workspace.json: migrated, checked, its paths confined."""
    data = parse_json(raw, source, "a workspace", " Open another workspace, or save this one again.")
    ws = Workspace.from_dict(data, source)
    check_references(ws, allow_absolute, source)
    return ws
