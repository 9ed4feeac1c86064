"""Workspaces: one folder that holds a learner's project.

    my-workspace/
      workspace.json        version, corpus, tokenizers, runs, checkpoint, templates, panel settings
      tokenizers/*.json     every tokenizer of the session
      runs/<name>/...       training runs copied in (others are referenced where they are)
      prompts/*.toml        the Prompt step's template, and the one last sent to Generate
      corpus/pasted.txt     pasted corpus text (files are referenced where they are)

What `workspace.json` says, its versions and the paths it names are in
`core/workspace_format.py`; a workspace as one .zip file is
`core/workspace_zip.py`. Here: saving what the session holds into the folder
and opening it again. Copying a run in is the one slow part of a save: the
window runs it first as a job (`runs_to_copy`, `copy_runs`), so the save that
follows finds nothing left to copy.

No Qt here, and nothing heavy at import: PyTorch is never needed.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from playground.core.corpus import Corpus, default_corpus, default_corpus_path, read_text_chunks
from playground.core.files import atomic_file, is_inside, read_bytes, read_toml, write_text_atomic
from playground.core.progress import JobGenerator, Progress, UserError, run_quietly
from playground.core.run_layout import is_unfinished, looks_like_run, run_and_which
from playground.core.workspace_format import (
    APP_PREFIX,
    PASTED_CORPUS_FILE,
    RUNS_DIR,
    SENT_PROMPT_FILE,
    TEMPLATE_FILE,
    TOKENIZERS_DIR,
    WORKSPACE_FILE,
    CheckpointRef,
    CorpusRef,
    PathLike,
    RunRef,
    TokenizerRef,
    Workspace,
    is_absolute_reference,
    parse_workspace,
    reference,
    resolve,
)

# Runs up to this size are copied into the workspace when it is saved; bigger ones are referenced.
RUN_COPY_LIMIT_BYTES = 256 * 2**20
MAX_WORKSPACE_JSON_BYTES = 64 * 2**20


# =========================================================================== reading and writing workspace.json


def is_workspace(folder: PathLike) -> bool:
    return (Path(folder) / WORKSPACE_FILE).is_file()


def read_workspace(folder: PathLike) -> Workspace:
    """Read `folder/workspace.json`; a missing, damaged, newer or hostile file is a UserError sentence."""
    folder = Path(folder)
    path = folder / WORKSPACE_FILE
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: a workspace is a folder holding {WORKSPACE_FILE}.")
    if not path.is_file():
        raise UserError(
            f"{folder} is not a workspace: it has no {WORKSPACE_FILE}. Choose the folder you saved "
            "a workspace in, or import a workspace .zip."
        )
    return parse_workspace(read_bytes(path, "a workspace", MAX_WORKSPACE_JSON_BYTES), str(path))


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
    tokenizer: Any = None  # the current one (one of `tokenizers`)
    checkpoint: Optional[Path] = None  # the current checkpoint folder (or its run folder)
    template: Optional[dict] = None  # PromptTemplate.to_dict() of the Prompt step
    sent_prompt: Optional[dict] = None  # ... of the template last sent to Generate
    probe_text: Optional[str] = None
    panels: dict = field(default_factory=dict)
    training: bool = False  # a run is writing now: runs are not copied until it ends


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-.")[:60] or "tokenizer"


def tokenizer_file(index: int, tokenizer) -> str:
    return f"{TOKENIZERS_DIR}/{index + 1:02d}-{_slug(tokenizer.name)}.json"


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


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
        run, which = run_and_which(content.checkpoint)
        ref = reference(folder, run)
        if not (ref.startswith(APP_PREFIX) or not is_absolute_reference(ref)):
            copied = runs_here / run.name
            if copied.is_dir() and (content.training or not run.is_dir()):
                ref = f"{RUNS_DIR}/{run.name}"  # the copy stands in until the run can be copied again
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
    that are the same: after `copy_runs` there is nothing left to copy);
    workspace.json is written last, so an interrupted save leaves the previous
    one readable.
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
    run_quietly(copy_runs(_planned_copies(folder, content, ws)))
    for file, data in ((ws.prompt_template, content.template), (ws.sent_prompt, content.sent_prompt)):
        if file is not None and data is not None:  # planned together
            _write_if_changed(folder / file, to_toml(data))
    if ws.sent_prompt is None:
        (folder / SENT_PROMPT_FILE).unlink(missing_ok=True)
    write_workspace(folder, ws)
    return ws


# =========================================================================== copying runs in


@dataclass(frozen=True)
class RunCopy:
    """A run that saving copies into the workspace: `source` folder to `target` folder."""

    source: Path
    target: Path


def _planned_copies(folder: Path, content: WorkspaceContent, ws: Workspace) -> list[RunCopy]:
    """The runs that `ws` (planned from `content`) names inside the workspace but that live elsewhere."""
    if ws.checkpoint is None or content.checkpoint is None or content.training:
        return []  # a run being written is copied once it has ended
    run_ref = ws.run(ws.checkpoint.run)
    assert run_ref is not None  # plan_workspace names the checkpoint's run among the runs
    source, _ = run_and_which(content.checkpoint)
    if not run_ref.path.startswith(f"{RUNS_DIR}/") or not source.is_dir() or is_inside(source, folder):
        return []
    return [RunCopy(source, resolve(folder, run_ref.path))]


def runs_to_copy(folder: PathLike, content: WorkspaceContent) -> list[RunCopy]:
    """The runs that saving `content` in `folder` now would copy, and that differ from their copy.

    Nothing is written, and only sizes and times are compared: cheap enough
    to ask before every save, so that a copy runs in a job first.
    """
    folder = Path(folder)
    planned = _planned_copies(folder, content, plan_workspace(folder, content))
    return [c for c in planned if _files_to_copy(c.source, c.target)]


def copy_runs(copies: list[RunCopy]) -> JobGenerator[None]:
    """Copy each run into the workspace (a job generator; see `sync_folder`)."""
    for run in copies:
        yield from sync_folder(run.source, run.target)


def _files_to_copy(source: Path, target: Path) -> list[tuple[Path, Path]]:
    """(file in `source`, its place in `target`) for each file whose size or time differ there.

    Links and unfinished files or checkpoints (``*.tmp``) are skipped.
    """
    pairs = []
    try:
        for src in sorted(source.rglob("*")):
            rel = src.relative_to(source)
            if src.is_symlink() or any(is_unfinished(part) for part in rel.parts) or not src.is_file():
                continue
            dst = target / rel
            if dst.is_file():
                s, d = src.stat(), dst.stat()
                if d.st_size == s.st_size and d.st_mtime_ns == s.st_mtime_ns:
                    continue
            pairs.append((src, dst))
    except OSError as e:
        raise UserError(f"Could not read the run {source.name}: {e.strerror or e}.") from e
    return pairs


def sync_folder(source: Path, target: Path) -> JobGenerator[None]:
    """Make `target` hold `source`'s files, copying only those whose size or time differ (a job generator).

    Each file is copied under a temporary name, synced and renamed, so a crash
    (or the job stopped) never leaves half a file; unfinished checkpoints
    (``*.tmp``) are skipped.
    """
    pairs = _files_to_copy(source, target)
    total = sum(src.stat().st_size for src, _ in pairs)
    done = 0
    try:
        for src, dst in pairs:
            yield Progress(
                done / max(1, total),
                f"Copying the run {source.name} into the workspace: {src.relative_to(source).as_posix()}",
            )
            dst.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(dst) as tmp:
                shutil.copy2(src, tmp)
            done += dst.stat().st_size
    except OSError as e:
        raise UserError(f"Could not copy the run {source.name} into the workspace: {e.strerror or e}.") from e
    yield Progress(1.0, f"Copied the run {source.name} into the workspace")


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
    template: Any = None  # PromptTemplate
    sent_prompt: Any = None  # PromptTemplate
    problems: list[str] = field(default_factory=list)


def open_workspace(folder: PathLike) -> OpenedWorkspace:
    """Read a workspace and the files it names. A broken workspace.json is a UserError; a missing
    tokenizer, corpus file or run is a sentence in `problems`, and the rest still opens."""
    from playground.core.tokenization import TokenizerSpec, open_tokenizer

    folder = Path(folder).absolute()
    ws = read_workspace(folder)
    opened = OpenedWorkspace(folder, ws)

    if ws.corpus is not None:
        corpus_ref = ws.corpus
        if corpus_ref.kind == "default":
            opened.corpus = default_corpus()
        else:
            paths = [resolve(folder, f) for f in corpus_ref.files]
            missing = [p for p in paths if not p.exists()]
            if missing:
                opened.problems.append(
                    f"The workspace's corpus “{corpus_ref.name}” is missing {', '.join(str(p) for p in missing[:3])}"
                    f"{' and more' if len(missing) > 3 else ''}; the built-in corpus is used instead. "
                    "Open the corpus again in the Tokenize step."
                )
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
                opened.corpus = Corpus(name=corpus_ref.name, files=tuple(paths), text=text)

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

    opened.problems += ws.notes
    if ws.checkpoint is not None:
        run_ref = ws.run(ws.checkpoint.run)
        assert run_ref is not None  # parse_workspace checks that the checkpoint names one of the runs
        run = resolve(folder, run_ref.path)
        if looks_like_run(run):
            opened.checkpoint, opened.which = run, ws.checkpoint.which
        else:
            opened.problems.append(
                f"The workspace's model {run.name} is missing or incomplete at {run}; no model was loaded."
            )

    for attr, file in (("template", ws.prompt_template), ("sent_prompt", ws.sent_prompt)):
        if file is None:
            continue
        try:
            setattr(opened, attr, read_template(resolve(folder, file)))
        except UserError as e:
            opened.problems.append(str(e))
    return opened


def load_run(path: PathLike, which: str = "best") -> JobGenerator[tuple[Any, Any]]:
    """The workspace's model: (Checkpoint, GPT) read from a run folder (a job generator).

    PyTorch is imported here, in the job, not where the job is started.
    """
    path = Path(path)
    yield Progress(None, f"Loading the model {path.name}")
    from playground.core.checkpoints import load_checkpoint

    return load_checkpoint(path, which=which)


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
        if (
            not isinstance(values.get("name"), str)
            or not isinstance(values.get("k", 0), int)
            or not all(isinstance(v, str) for k, v in values.items() if k != "k")
            or not isinstance(examples, list)
            or not all(isinstance(e, dict) for e in examples)
        ):
            raise UserError(f"{source} is not a usable prompt template: {first}") from None
        return PromptTemplate(
            **values,
            examples=[
                Example(
                    str(e.get("input", "")),
                    str(e.get("output", "")),
                    str(e.get("reasoning", "")),
                    bool(e.get("enabled", True)),
                )
                for e in examples
            ],
        )
