"""Workspaces: one folder that holds a learner's project, and its exchange as one .zip file.

    my-workspace/
      workspace.json        version, corpus, tokenizers, runs, checkpoint, templates, panel settings
      tokenizers/*.json     every tokenizer of the session
      runs/<name>/...       training runs copied in (others are referenced where they are)
      prompts/*.toml        the Prompt step's template, and the one last sent to Generate
      corpus/pasted.txt     pasted corpus text (files are referenced where they are)

Paths inside `workspace.json` are relative to the workspace when the file is
inside it, ``app:...`` for what ships with the app (the demo model), and
absolute only for things left where they are. A file carries a version
number: an older one is migrated step by step (`MIGRATIONS`), a newer one is
refused with a sentence, never misread.

`export_workspace` writes a .zip with no absolute path in it (tokenizers,
the chosen runs' weights and descriptions without their optimizer state,
templates, settings). `import_workspace` checks every member of a zip before
it extracts anything (names that climb out, links, sizes, counts), extracts
into a temporary folder beside the destination and renames it at the end, so
a damaged or hostile zip leaves nothing behind.

No Qt here, and nothing heavy at import: PyTorch is never needed.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Callable, Iterable, Optional, Union

from playground.core.corpus import Corpus, default_corpus, default_corpus_path, read_text_chunks
from playground.core.files import open_regular, parse_json, read_bytes, read_toml, write_text_atomic
from playground.core.progress import CancelToken, Progress, ProgressFn, UserError, no_progress

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

# A run's files, as `core.checkpoints` writes them (not imported: it would load PyTorch).
RUN_FILES = ("config.json", "train_config.json", "tokenizer.json", "history.json")
CHECKPOINT_NAMES = ("last", "best")
WEIGHTS_FILE = "model.safetensors"
META_FILE = "meta.json"
STATE_FILE = "state.pt"

# Runs up to this size are copied into the workspace when it is saved; bigger ones are referenced.
RUN_COPY_LIMIT_BYTES = 256 * 2**20

# What an imported zip may hold: checked on the zip's own directory before anything is extracted.
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_TOTAL_BYTES = 2 * 2**30
MAX_ZIP_MEMBER_BYTES = 2 * 2**30
MAX_COMPRESSION_RATIO = 200        # a zip bomb expands thousands of times; real files far less
RATIO_CHECK_FROM_BYTES = 1 * 2**20  # tiny files may compress very well and harm nobody
MAX_WORKSPACE_JSON_BYTES = 64 * 2**20
MAX_MEMBER_NAME_CHARS = 400
ALLOWED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
COPY_CHUNK_BYTES = 1 << 20
FREE_SPACE_MARGIN_BYTES = 64 * 2**20  # left free on the disk after an import

# MIGRATIONS[n] turns the dict of a version-n workspace.json into version n + 1.
# Version 1 is the first format, so there is nothing to migrate yet; a change
# to the format bumps WORKSPACE_VERSION and adds its step here.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


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
    run: str     # a RunRef's name
    which: str   # "best" or "last"


@dataclass
class Workspace:
    """What `workspace.json` says (always the current version once read)."""

    corpus: Optional[CorpusRef] = None
    tokenizers: list[TokenizerRef] = field(default_factory=list)
    tokenizer: Optional[str] = None        # the current tokenizer's name
    runs: list[RunRef] = field(default_factory=list)
    checkpoint: Optional[CheckpointRef] = None
    prompt_template: Optional[str] = None  # the Prompt step's template (a .toml file)
    sent_prompt: Optional[str] = None      # the template last sent to Generate
    probe_text: Optional[str] = None       # the sentence training probes
    panels: dict[str, dict] = field(default_factory=dict)  # each panel's state()
    version: int = WORKSPACE_VERSION

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
            "panels": copy.deepcopy(self.panels),
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
        runs = [RunRef(**{k: r[k] for k in ("name", "path")})
                for r in (table(r, ("name", "path"), "each run") for r in _list(data.get("runs"), bad, "the runs"))]
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
        return cls(
            corpus=corpus, tokenizers=tokenizers, tokenizer=text(data.get("tokenizer"), "the tokenizer"),
            runs=runs, checkpoint=checkpoint,
            prompt_template=text(data.get("prompt_template"), "the prompt template"),
            sent_prompt=text(data.get("sent_prompt"), "the sent prompt"),
            probe_text=text(data.get("probe_text"), "the probe text"),
            panels=panels, version=WORKSPACE_VERSION)

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
        raise UserError(f"{source} is not a workspace this app can read: its version number is "
                        f"{'missing' if version is None else repr(version)}.")
    if version > WORKSPACE_VERSION:
        raise UserError(f"{source} was saved by a newer version of LLM Playground (workspace version {version}; "
                        f"this app reads up to {WORKSPACE_VERSION}). Update the app to open it.")
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


# =========================================================================== paths


def is_workspace(folder: PathLike) -> bool:
    return (Path(folder) / WORKSPACE_FILE).is_file()


def app_root() -> Path:
    """The app's own folder: `app:` paths start here."""
    from playground.paths import app_root as shipped_root

    return shipped_root()


def is_absolute_reference(ref: str) -> bool:
    """True for a POSIX or Windows absolute path (or anything with a drive letter)."""
    return PurePosixPath(ref).is_absolute() or bool(PureWindowsPath(ref).drive) or ref.startswith("\\")


def _relative_parts(ref: str, what: str) -> tuple[str, ...]:
    """The parts of a relative reference; UserError if it could climb out of its folder."""
    parts = PurePosixPath(ref).parts
    if not ref or "\\" in ref or "\x00" in ref or ".." in parts or any(":" in p for p in parts) or not parts:
        raise UserError(f"{what} names {ref!r}, a path that leads outside the workspace: it is refused.")
    return parts


def resolve(folder: PathLike, ref: str) -> Path:
    """The path a reference names: relative to `folder`, ``app:`` inside the app, or absolute."""
    if ref.startswith(APP_PREFIX):
        return app_root().joinpath(*_relative_parts(ref[len(APP_PREFIX):], "The workspace"))
    if is_absolute_reference(ref):
        return Path(ref)
    return Path(folder).joinpath(*_relative_parts(ref, "The workspace"))


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
            _relative_parts(ref[len(APP_PREFIX):], source)
        elif is_absolute_reference(ref):
            if not allow_absolute:
                raise UserError(f"{source} names the absolute path {ref!r}; an exchanged workspace may only "
                                "name files inside itself, so it is refused.")
        else:
            _relative_parts(ref, source)


# =========================================================================== reading and writing workspace.json


def read_workspace(folder: PathLike) -> Workspace:
    """Read `folder/workspace.json`; a missing, damaged, newer or hostile file is a UserError sentence."""
    folder = Path(folder)
    path = folder / WORKSPACE_FILE
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: a workspace is a folder holding {WORKSPACE_FILE}.")
    if not path.is_file():
        raise UserError(f"{folder} is not a workspace: it has no {WORKSPACE_FILE}. Choose the folder you saved "
                        "a workspace in, or import a workspace .zip.")
    return parse_workspace(read_bytes(path, "a workspace", MAX_WORKSPACE_JSON_BYTES), str(path))


def parse_workspace(raw: bytes, source: str = WORKSPACE_FILE, allow_absolute: bool = True) -> Workspace:
    data = parse_json(raw, source, "a workspace", " Open another workspace, or save this one again.")
    ws = Workspace.from_dict(data, source)
    check_references(ws, allow_absolute, source)
    return ws


def write_workspace(folder: PathLike, ws: Workspace) -> Path:
    """Write `folder/workspace.json` atomically (a temporary name, then rename)."""
    path = Path(folder) / WORKSPACE_FILE
    write_text_atomic(path, json.dumps(ws.to_dict(), indent=1, ensure_ascii=False) + "\n")
    return path


def _write_if_changed(path: Path, text: str) -> None:
    """Leave a file alone when it already says `text` (autosave then touches nothing)."""
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    write_text_atomic(path, text)


# =========================================================================== saving what the session holds


@dataclass
class WorkspaceContent:
    """What the session and the panels hold, in the plain objects `core` knows."""

    corpus: Optional[Corpus] = None
    tokenizers: list = field(default_factory=list)  # LoadedTokenizer
    tokenizer: Any = None                            # the current one (one of `tokenizers`)
    checkpoint: Optional[Path] = None                # the current checkpoint folder (or its run folder)
    template: Optional[dict] = None                  # PromptTemplate.to_dict() of the Prompt step
    sent_prompt: Optional[dict] = None               # ... of the template last sent to Generate
    probe_text: Optional[str] = None
    panels: dict = field(default_factory=dict)
    training: bool = False  # a run is writing now: runs are not copied until it ends


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-.")[:60] or "tokenizer"


def tokenizer_file(index: int, tokenizer) -> str:
    return f"{TOKENIZERS_DIR}/{index + 1:02d}-{_slug(tokenizer.name)}.json"


def _run_and_which(path: Path) -> tuple[Path, str]:
    """(run folder, "best"/"last") for a checkpoint folder or a run folder."""
    name = path.name.split(".")[0]
    if (path / WEIGHTS_FILE).is_file() and name in CHECKPOINT_NAMES:
        return path.parent, name
    return path, "best"


def looks_like_run(path: Path) -> bool:
    """A run folder: its description and at least one checkpoint's weights (nothing is read)."""
    return (path / "config.json").is_file() and (path / "tokenizer.json").is_file() and any(
        checkpoint_folder(path, which) is not None for which in CHECKPOINT_NAMES)


def checkpoint_folder(run: Path, which: str) -> Optional[Path]:
    for candidate in (run / which, run / f"{which}.old"):
        if (candidate / WEIGHTS_FILE).is_file():
            return candidate
    return None


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.absolute().relative_to(folder.absolute())
        return True
    except ValueError:
        return False


def plan_workspace(folder: PathLike, content: WorkspaceContent) -> Workspace:
    """What `workspace.json` would say if `content` were saved in `folder` now (nothing is written)."""
    folder = Path(folder)
    ws = Workspace(panels=copy.deepcopy(content.panels), probe_text=content.probe_text)
    corpus = content.corpus
    if corpus is not None:
        if corpus.files == (default_corpus_path(),) and not corpus.text:
            ws.corpus = CorpusRef("default", corpus.name)
        else:
            files = [reference(folder, p) for p in corpus.files]
            if corpus.text:
                files.append(PASTED_CORPUS_FILE)
            ws.corpus = CorpusRef("text" if corpus.text and not corpus.files else "files", corpus.name, files)
    for i, tok in enumerate(content.tokenizers):
        spec = tok.spec.to_dict() if getattr(tok, "spec", None) is not None else None
        ws.tokenizers.append(TokenizerRef(tok.name, tokenizer_file(i, tok), spec))
    if content.tokenizer is not None and any(t is content.tokenizer for t in content.tokenizers):
        ws.tokenizer = content.tokenizer.name

    # Runs: those already in the workspace's runs/ folder, and the current checkpoint's.
    runs_here = folder / RUNS_DIR
    if runs_here.is_dir():
        for run in sorted(p for p in runs_here.iterdir() if p.is_dir() and looks_like_run(p)):
            ws.runs.append(RunRef(run.name, f"{RUNS_DIR}/{run.name}"))
    if content.checkpoint is not None:
        run, which = _run_and_which(Path(content.checkpoint))
        ref = reference(folder, run)
        if not (ref.startswith(APP_PREFIX) or not is_absolute_reference(ref)):
            copied = runs_here / run.name
            if copied.is_dir() and (content.training or not run.is_dir()):
                ref = f"{RUNS_DIR}/{run.name}"   # the copy stands in until the run can be copied again
            elif not content.training and run.is_dir() and folder_size(run) <= RUN_COPY_LIMIT_BYTES:
                ref = f"{RUNS_DIR}/{run.name}"
        existing = next((r for r in ws.runs if r.path == ref), None)
        if existing is None:
            name, n = run.name, 2
            while ws.run(name) is not None:
                name, n = f"{run.name}-{n}", n + 1
            existing = RunRef(name, ref)
            ws.runs.append(existing)
        ws.checkpoint = CheckpointRef(existing.name, which)
    if content.template is not None:
        ws.prompt_template = TEMPLATE_FILE
    if content.sent_prompt is not None:
        ws.sent_prompt = SENT_PROMPT_FILE
    return ws


def save_workspace(folder: PathLike, content: WorkspaceContent) -> Workspace:
    """Write `content` as a workspace in `folder` (created if needed); returns what workspace.json says.

    Files that did not change are left alone, so saving often costs little.
    Runs planned as ``runs/<name>`` are copied in (without rewriting files
    that are the same); workspace.json is written last, so an interrupted save
    leaves the previous one readable.
    """
    from playground.core.prompts import to_toml

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"Could not make the workspace folder {folder}: {e.strerror or e}.") from e
    ws = plan_workspace(folder, content)

    if content.corpus is not None and content.corpus.text:
        _write_if_changed(folder / PASTED_CORPUS_FILE, content.corpus.text)
    written = set()
    for ref, tok in zip(ws.tokenizers, content.tokenizers):
        path = folder / ref.file
        _write_if_changed(path, tok.tokenizer.to_str(pretty=True))
        written.add(path.name)
    tokenizers_here = folder / TOKENIZERS_DIR
    if tokenizers_here.is_dir():
        for stale in tokenizers_here.glob("*.json"):
            if stale.name not in written:
                stale.unlink(missing_ok=True)
    if ws.checkpoint is not None and content.checkpoint is not None:
        run_ref = ws.run(ws.checkpoint.run)
        source, _ = _run_and_which(Path(content.checkpoint))
        target = resolve(folder, run_ref.path)
        if run_ref.path.startswith(f"{RUNS_DIR}/") and source.is_dir() and not _inside(source, folder) \
                and not content.training:
            sync_folder(source, target)
    for ref, data in ((ws.prompt_template, content.template), (ws.sent_prompt, content.sent_prompt)):
        if ref is not None:
            _write_if_changed(folder / ref, to_toml(data))
    if ws.sent_prompt is None:
        (folder / SENT_PROMPT_FILE).unlink(missing_ok=True)
    write_workspace(folder, ws)
    return ws


def sync_folder(source: Path, target: Path, cancel: Optional[CancelToken] = None) -> None:
    """Make `target` hold `source`'s files, copying only those whose size or time differ.

    Each file is copied under a temporary name and renamed, so a crash never
    leaves half a file; unfinished checkpoints (``*.tmp``) are skipped.
    """
    try:
        for src in sorted(source.rglob("*")):
            rel = src.relative_to(source)
            if src.is_symlink() or any(part.endswith(".tmp") for part in rel.parts):
                continue
            dst = target / rel
            if src.is_dir():
                dst.mkdir(parents=True, exist_ok=True)
                continue
            s = src.stat()
            if dst.is_file():
                d = dst.stat()
                if d.st_size == s.st_size and d.st_mtime_ns == s.st_mtime_ns:
                    continue
            if cancel is not None:
                cancel.raise_if_cancelled()
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.copying")
            shutil.copy2(src, tmp)
            os.replace(tmp, dst)
    except OSError as e:
        raise UserError(f"Could not copy the run {source.name} into the workspace: {e.strerror or e}.") from e


# =========================================================================== opening


@dataclass
class OpenedWorkspace:
    """A workspace read back: the objects to hand to the session, and what could not be restored."""

    folder: Path
    workspace: Workspace
    corpus: Optional[Corpus] = None
    tokenizers: list = field(default_factory=list)
    tokenizer: Any = None
    checkpoint: Optional[Path] = None  # the run folder to load, with `which`
    which: str = "best"
    template: Any = None               # PromptTemplate
    sent_prompt: Any = None            # PromptTemplate
    problems: list[str] = field(default_factory=list)


def open_workspace(folder: PathLike) -> OpenedWorkspace:
    """Read a workspace and the files it names. A broken workspace.json is a UserError; a missing
    tokenizer, corpus file or run is a sentence in `problems`, and the rest still opens."""
    from playground.core.tokenization import TokenizerSpec, open_tokenizer

    folder = Path(folder).absolute()
    ws = read_workspace(folder)
    opened = OpenedWorkspace(folder, ws)

    if ws.corpus is not None:
        ref = ws.corpus
        if ref.kind == "default":
            opened.corpus = default_corpus()
        else:
            paths = [resolve(folder, f) for f in ref.files]
            missing = [p for p in paths if not p.exists()]
            if missing:
                opened.problems.append(
                    f"The workspace's corpus “{ref.name}” is missing {', '.join(str(p) for p in missing[:3])}"
                    f"{' and more' if len(missing) > 3 else ''}; the built-in corpus is used instead. "
                    "Open the corpus again in the Tokenize step.")
                opened.corpus = default_corpus()
            else:
                pasted = folder / PASTED_CORPUS_FILE
                text = ""
                if pasted in paths:
                    paths.remove(pasted)
                    try:
                        text = "".join(read_text_chunks(pasted))
                    except UserError as e:
                        opened.problems.append(f"The pasted corpus text could not be read: {e}")
                opened.corpus = Corpus(name=ref.name, files=tuple(paths), text=text)

    for ref in ws.tokenizers:
        try:
            tok = open_tokenizer(resolve(folder, ref.file))
        except UserError as e:
            opened.problems.append(f"The tokenizer “{ref.name}” could not be opened: {e}")
            continue
        tok.name = ref.name
        if ref.spec is not None:
            try:
                tok.spec = TokenizerSpec.from_dict(ref.spec)
            except (KeyError, TypeError, ValueError):
                pass  # the spec only labels the tokenizer; it works without
        opened.tokenizers.append(tok)
        if ref.name == ws.tokenizer:
            opened.tokenizer = tok

    if ws.checkpoint is not None:
        run = resolve(folder, ws.run(ws.checkpoint.run).path)
        if looks_like_run(run):
            opened.checkpoint, opened.which = run, ws.checkpoint.which
        else:
            opened.problems.append(f"The workspace's model {run.name} is missing or incomplete at {run}; "
                                   "no model was loaded.")

    for attr, ref in (("template", ws.prompt_template), ("sent_prompt", ws.sent_prompt)):
        if ref is None:
            continue
        try:
            setattr(opened, attr, read_template(resolve(folder, ref)))
        except UserError as e:
            opened.problems.append(str(e))
    return opened


def read_template(path: Path):
    """A template file of the workspace; an unfinished edit (a format naming an unknown part) is
    kept as it was typed rather than refused, so nothing the person wrote is lost."""
    return template_from_dict(read_toml(path, "a prompt template"), path.name)


def template_from_dict(data: Any, source: str = "the template"):
    """PromptTemplate.from_dict, or, when only its formats are unfinished, the template unchecked."""
    from playground.core.prompts import Example, PromptTemplate

    try:
        return PromptTemplate.from_dict(data)
    except UserError as first:
        if not isinstance(data, dict):
            raise UserError(f"{source} is not a usable prompt template: {first}") from None
        known = {f.name for f in fields(PromptTemplate)} - {"examples"}
        values = {k: v for k, v in data.items() if k in known}
        examples = data.get("examples", [])
        if (not isinstance(values.get("name"), str) or not isinstance(values.get("k", 0), int)
                or not all(isinstance(v, str) for k, v in values.items() if k != "k")
                or not isinstance(examples, list) or not all(isinstance(e, dict) for e in examples)):
            raise UserError(f"{source} is not a usable prompt template: {first}") from None
        return PromptTemplate(**values, examples=[
            Example(str(e.get("input", "")), str(e.get("output", "")), str(e.get("reasoning", "")),
                    bool(e.get("enabled", True))) for e in examples])


# =========================================================================== export as .zip


def export_workspace(
    folder: PathLike,
    zip_path: PathLike,
    runs: Optional[Iterable[str]] = None,
    include_corpus: bool = True,
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelToken] = None,
) -> list[str]:
    """Write the workspace in `folder` as one .zip that names no absolute path.

    It holds workspace.json, the tokenizers, the templates, the corpus files
    (`include_corpus`) and, of the runs (all, or those named in `runs`), each
    checkpoint's weights and meta.json and the run's JSON files; optimizer
    states (state.pt) are left out. Runs and corpus files kept outside the
    workspace are put inside it. Returns sentences about what was left out.
    """
    folder, zip_path = Path(folder).absolute(), Path(zip_path).absolute()
    ws = read_workspace(folder)
    out = copy.deepcopy(ws)
    notes: list[str] = []
    members: dict[str, Path] = {}  # name in the zip -> file

    def add(name: str, path: Path) -> None:
        _check_member_name(name)
        if members.get(name, path) != path:
            raise UserError(f"Two files would share the name {name} in the zip; rename one and export again.")
        members[name] = path

    def place(ref: str, fallback_dir: str, taken: set[str]) -> str:
        """Where a referenced file or folder goes in the zip: its own path when inside the workspace."""
        if not is_absolute_reference(ref) and not ref.startswith(APP_PREFIX):
            return ref
        base, stem, n = Path(ref).name, Path(ref).name, 2
        while f"{fallback_dir}/{base}" in taken:
            base, n = f"{n}-{stem}", n + 1
        taken.add(f"{fallback_dir}/{base}")
        return f"{fallback_dir}/{base}"

    # Files inside the workspace keep their names, so a file from outside must not take one of them.
    refs = ([*ws.corpus.files] if ws.corpus is not None else []) + [t.file for t in ws.tokenizers] \
        + [ws.prompt_template, ws.sent_prompt] + [r.path for r in ws.runs]
    taken: set[str] = {r for r in refs if r and not is_absolute_reference(r) and not r.startswith(APP_PREFIX)}
    if ws.corpus is not None and ws.corpus.kind != "default":
        files, size = [], 0
        paths = [(ref, resolve(folder, ref)) for ref in ws.corpus.files]
        size = sum(p.stat().st_size for _, p in paths if p.is_file())
        fits = size <= MAX_ZIP_TOTAL_BYTES // 2
        for ref, path in paths:
            name = place(ref, CORPUS_DIR, taken)
            files.append(name)
            if include_corpus and fits and path.is_file():
                add(name, path)
        if not (include_corpus and fits):
            why = "as asked" if not include_corpus else f"it is too big for an exchange ({size / 2**30:.1f} GB)"
            notes.append(f"The corpus “{ws.corpus.name}” was left out ({why}): whoever opens the workspace "
                         "chooses a corpus again.")
        elif any(not p.is_file() for _, p in paths):
            notes.append(f"Part of the corpus “{ws.corpus.name}” is missing and was left out.")
        out.corpus.files = files

    out.tokenizers = []
    for ref in ws.tokenizers:
        path = resolve(folder, ref.file)
        if not path.is_file():
            notes.append(f"The tokenizer “{ref.name}” is missing ({ref.file}) and was left out.")
            continue
        name = place(ref.file, TOKENIZERS_DIR, taken)
        add(name, path)
        out.tokenizers.append(TokenizerRef(ref.name, name, ref.spec))
    if out.tokenizer not in {t.name for t in out.tokenizers}:
        out.tokenizer = None

    for attr in ("prompt_template", "sent_prompt"):
        ref = getattr(ws, attr)
        if ref is None:
            continue
        path = resolve(folder, ref)
        if path.is_file():
            name = place(ref, PROMPTS_DIR, taken)
            add(name, path)
            setattr(out, attr, name)
        else:
            setattr(out, attr, None)

    chosen = None if runs is None else set(runs)
    out.runs = []
    for ref in ws.runs:
        if chosen is not None and ref.name not in chosen:
            continue
        if ref.path.startswith(APP_PREFIX):
            out.runs.append(ref)  # ships with every copy of the app
            continue
        run = resolve(folder, ref.path)
        if not looks_like_run(run):
            notes.append(f"The run {ref.name} is missing or incomplete at {run} and was left out.")
            continue
        name = place(ref.path, RUNS_DIR, taken) if is_absolute_reference(ref.path) else ref.path
        for file in RUN_FILES:
            if (run / file).is_file():
                add(f"{name}/{file}", run / file)
        for which in CHECKPOINT_NAMES:
            checkpoint = checkpoint_folder(run, which)
            if checkpoint is not None:
                for file in (WEIGHTS_FILE, META_FILE):   # not state.pt: an optimizer state is for resuming
                    if (checkpoint / file).is_file():
                        add(f"{name}/{which}/{file}", checkpoint / file)
        out.runs.append(RunRef(ref.name, name))
    if out.checkpoint is not None and out.run(out.checkpoint.run) is None:
        notes.append(f"The current model's run {out.checkpoint.run} was not chosen, so the exported workspace "
                     "has no current model.")
        out.checkpoint = None

    check_references(out, allow_absolute=False)
    total = sum(p.stat().st_size for p in members.values())
    if total > MAX_ZIP_TOTAL_BYTES:
        raise UserError(f"The workspace holds {total / 2**30:.1f} GB to export, more than a workspace .zip may "
                        f"({MAX_ZIP_TOTAL_BYTES / 2**30:.0f} GB). Choose fewer runs, or leave the corpus out.")

    tmp = zip_path.with_name(f".{zip_path.name}.{os.getpid()}.tmp")
    done = 0
    try:
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as zf:
            zf.writestr(WORKSPACE_FILE, json.dumps(out.to_dict(), indent=1, ensure_ascii=False) + "\n")
            for name, path in members.items():
                if cancel is not None:
                    cancel.raise_if_cancelled()
                progress(Progress(done / max(1, total), f"Exporting {name}"))
                # Weights hardly compress: storing them is as small and much faster.
                kind = zipfile.ZIP_STORED if name.endswith(".safetensors") else zipfile.ZIP_DEFLATED
                zf.write(path, name, compress_type=kind)
                done += path.stat().st_size
        os.replace(tmp, zip_path)
    except OSError as e:
        raise UserError(f"Could not write {zip_path}: {e.strerror or e}.") from e
    finally:
        tmp.unlink(missing_ok=True)
    progress(Progress(1.0, f"Exported to {zip_path.name}"))
    return notes


# =========================================================================== import from .zip


def _check_member_name(name: str) -> tuple[str, ...]:
    """The parts of a zip member's name; UserError for any name that could land outside its folder."""
    problem = None
    if not name or len(name) > MAX_MEMBER_NAME_CHARS:
        problem = "an empty or overlong name"
    elif "\x00" in name or "\\" in name:
        problem = "a name with a backslash or a NUL character"
    elif re.match(r"^[A-Za-z]:", name) or any(":" in part for part in name.split("/")):
        problem = "a drive letter or a colon"
    elif name.startswith("/") or is_absolute_reference(name):
        problem = "an absolute path"
    elif ".." in name.split("/"):
        problem = "a path that climbs out with '..'"
    if problem:
        raise UserError(f"The zip is refused: its member {name[:80]!r} has {problem}, which could write outside "
                        "the chosen folder. Nothing was extracted.")
    return tuple(p for p in name.split("/") if p not in ("", "."))


def check_zip(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Every member of `zf`, checked from the zip's own directory before anything is read.

    Refused: too many members, a name that climbs out or is absolute, a link,
    an encrypted member, an unknown compression, a member or a total that
    would unpack too big, a compression ratio only a zip bomb has (of a
    member, or of the whole archive: many small members add up), a name
    given twice, and a file that other members lie inside as in a folder.
    """
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UserError(f"The zip is refused: it holds {len(infos):,} members, more than a workspace ever has "
                        f"({MAX_ZIP_MEMBERS:,}). Nothing was extracted.")
    total, packed, seen, files = 0, 0, set(), set()
    for info in infos:
        parts = _check_member_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UserError(f"The zip is refused: {info.filename!r} is a symbolic link, which could point outside "
                            "the chosen folder. Nothing was extracted.")
        if info.flag_bits & 0x1:
            raise UserError(f"The zip is refused: {info.filename!r} is encrypted. Nothing was extracted.")
        if info.compress_type not in ALLOWED_COMPRESSION:
            raise UserError(f"The zip is refused: {info.filename!r} uses a compression this app does not read "
                            f"(method {info.compress_type}). Nothing was extracted.")
        key = "/".join(parts).lower()
        if key in seen:
            raise UserError(f"The zip is refused: it holds {info.filename!r} twice. Nothing was extracted.")
        seen.add(key)
        if not info.is_dir():
            files.add(key)
        if info.file_size > MAX_ZIP_MEMBER_BYTES:
            raise UserError(f"The zip is refused: {info.filename!r} would unpack to {info.file_size / 2**30:.1f} GB, "
                            f"more than {MAX_ZIP_MEMBER_BYTES / 2**30:.0f} GB. Nothing was extracted.")
        if info.file_size > RATIO_CHECK_FROM_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(1, info.compress_size):
            raise UserError(f"The zip is refused: {info.filename!r} would unpack {info.file_size // max(1, info.compress_size):,} "
                            "times bigger than it is packed, as only a zip bomb does. Nothing was extracted.")
        total += info.file_size
        packed += info.compress_size
        if total > MAX_ZIP_TOTAL_BYTES:
            raise UserError(f"The zip is refused: it would unpack to more than {MAX_ZIP_TOTAL_BYTES / 2**30:.0f} GB. "
                            "Nothing was extracted.")
    # Many members that each stay under the check above add up: the whole archive's ratio counts too.
    if total > RATIO_CHECK_FROM_BYTES and total > MAX_COMPRESSION_RATIO * max(1, packed):
        raise UserError(f"The zip is refused: it would unpack {total // max(1, packed):,} times bigger than it is "
                        f"packed ({packed / 2**20:.1f} MB to {total / 2**30:.2f} GB), as only a zip bomb does. "
                        "Nothing was extracted.")
    for key in seen:
        parts = key.split("/")
        clash = next(("/".join(parts[:n]) for n in range(1, len(parts)) if "/".join(parts[:n]) in files), None)
        if clash is not None:
            raise UserError(f"The zip is refused: {clash!r} is a file, yet other members lie inside it as in a "
                            "folder. Nothing was extracted.")
    return infos


def import_workspace(
    zip_path: PathLike,
    dest: PathLike,
    progress: ProgressFn = no_progress,
    cancel: Optional[CancelToken] = None,
) -> Path:
    """Unpack a workspace .zip into `dest` (a new or empty folder) and return `dest`.

    Everything is checked before extraction (see `check_zip`; workspace.json
    must be there, readable, of a known version and name no absolute path).
    Files go into a temporary folder beside `dest` that is renamed to `dest` at
    the end; on any failure it is removed, so nothing is left half-written.
    """
    zip_path, dest = Path(zip_path), Path(dest).absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"{dest} is not an empty folder: choose an empty or a new folder for the workspace.")
    if not dest.parent.is_dir():
        raise UserError(f"{dest.parent} does not exist: choose a folder that does.")
    with open_regular(zip_path, "a workspace .zip") as raw:
        try:
            zf = zipfile.ZipFile(raw)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else "it is not a zip file, or it is damaged"
            raise UserError(f"{zip_path.name} could not be opened as a workspace .zip: {reason}.") from e
        with zf:
            _unpack(zf, zip_path, dest, progress, cancel)
    progress(Progress(1.0, f"Imported {dest.name}"))
    return dest


def _unpack(zf: zipfile.ZipFile, zip_path: Path, dest: Path, progress: ProgressFn,
            cancel: Optional[CancelToken]) -> None:
    """Check every member of `zf`, then extract them into a temporary folder renamed to `dest`."""
    infos = check_zip(zf)
    names = {"/".join(_check_member_name(i.filename)): i for i in infos}
    ws_info = names.get(WORKSPACE_FILE)
    if ws_info is None or ws_info.is_dir():
        raise UserError(f"{zip_path.name} is not a workspace .zip: it has no {WORKSPACE_FILE} at its top. "
                        "Nothing was extracted.")
    if ws_info.file_size > MAX_WORKSPACE_JSON_BYTES:
        raise UserError(f"The zip is refused: its {WORKSPACE_FILE} is implausibly big. Nothing was extracted.")
    raw = _read_member(zf, ws_info, zip_path)
    parse_workspace(raw, f"{WORKSPACE_FILE} in {zip_path.name}", allow_absolute=False)
    total = sum(i.file_size for i in infos)
    _check_free_space(dest.parent, total)

    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.importing-", dir=dest.parent))
    except OSError as e:
        raise UserError(f"Could not write in {dest.parent}: {e.strerror or e}.") from e
    try:
        done = 0
        for info in infos:
            parts = _check_member_name(info.filename)
            if not parts:
                continue
            target = tmp.joinpath(*parts)
            if not _inside(target, tmp):  # belt and braces: the name check already refused it
                raise UserError(f"The zip is refused: {info.filename!r} leads outside the folder.")
            try:
                (target if info.is_dir() else target.parent).mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise UserError(f"Could not unpack {info.filename}: {e.strerror or e}. Nothing was extracted.") from e
            if info.is_dir():
                continue
            progress(Progress(done / max(1, total), f"Unpacking {info.filename}"))
            done += _extract_member(zf, info, target, zip_path, cancel)
        read_workspace(tmp)
        _move_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _check_free_space(folder: Path, needed: int) -> None:
    """UserError when `folder`'s disk cannot hold `needed` bytes and a little to spare."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # unknown: extraction itself reports a full disk
    if needed + FREE_SPACE_MARGIN_BYTES > free:
        raise UserError(f"The workspace would unpack to {needed / 2**20:,.1f} MB but {folder} has only "
                        f"{free / 2**20:,.1f} MB free: free some space or choose another folder. "
                        "Nothing was extracted.")


def _move_into_place(tmp: Path, dest: Path) -> None:
    """Rename the unpacked folder to `dest` (which may exist, empty)."""
    had_dest = dest.exists()
    try:
        if had_dest:
            dest.rmdir()
        os.rename(tmp, dest)
    except OSError as e:
        if had_dest:
            dest.mkdir(exist_ok=True)  # the chosen folder stays as it was
        raise UserError(f"Could not put the workspace in {dest}: {e.strerror or e}. Nothing was extracted.") from e


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, zip_path: Path) -> bytes:
    import zlib

    try:
        with zf.open(info) as f:
            data = f.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, zlib.error) as e:
        raise UserError(f"{zip_path.name} is damaged: {info.filename} could not be read ({e}).") from e
    if len(data) > info.file_size:
        raise UserError(f"The zip is refused: {info.filename} holds more than its header says. Nothing was extracted.")
    return data


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, zip_path: Path,
                    cancel: Optional[CancelToken]) -> int:
    """Copy one member to `target`, never more bytes than the zip's directory promised."""
    import zlib

    written = 0
    try:
        with zf.open(info) as src, open(target, "xb") as dst:
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                chunk = src.read(COPY_CHUNK_BYTES)
                if not chunk:
                    break
                written += len(chunk)
                if written > info.file_size:
                    raise UserError(f"The zip is refused: {info.filename} holds more than its header says. "
                                    "Nothing was extracted.")
                dst.write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error, RuntimeError, ValueError) as e:
        raise UserError(f"{zip_path.name} is damaged: {info.filename} could not be unpacked ({e}). "
                        "Nothing was extracted.") from e
    except OSError as e:
        raise UserError(f"Could not unpack {info.filename}: {e.strerror or e}. Nothing was extracted.") from e
    return written


def free_folder(path: PathLike) -> Path:
    """`path`, or `path-2`, `path-3`, ... when it exists."""
    path = Path(path)
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{n}")
        n += 1
    return candidate
