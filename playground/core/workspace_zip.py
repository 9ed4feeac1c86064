"""A workspace as one .zip file: export to share or move it, import to unpack one safely.

`export_workspace` writes a .zip with no absolute path in it (tokenizers, the
chosen runs' weights and descriptions without their optimizer state,
templates, settings). `import_workspace` checks every member of a zip before it
extracts anything (`core/zip_safety.py`), extracts into a temporary folder
beside the destination and swaps it in at the end (`files.atomic_folder`), so
a damaged or hostile zip leaves nothing behind.

Both are job generators (`core/progress.py`): they yield `Progress` and return
their result; stopping one midway (the engine closes it) leaves nothing half
written.
"""

from __future__ import annotations

import copy
import json
import shutil
import zipfile
from pathlib import Path
from typing import Iterable, Optional

from playground.core.files import atomic_file, atomic_folder, is_inside, open_regular
from playground.core.progress import JobGenerator, Progress, UserError
from playground.core.run_layout import (
    CHECKPOINT_NAMES,
    META_FILE,
    RUN_FILES,
    WEIGHTS_FILE,
    checkpoint_dir,
    looks_like_run,
)
from playground.core.workspace import read_workspace
from playground.core.workspace_format import (
    APP_PREFIX,
    CORPUS_DIR,
    PROMPTS_DIR,
    RUNS_DIR,
    TOKENIZERS_DIR,
    WORKSPACE_FILE,
    PathLike,
    RunRef,
    TokenizerRef,
    check_references,
    is_absolute_reference,
    parse_workspace,
    resolve,
)
from playground.core.zip_safety import MAX_ZIP_TOTAL_BYTES, NOTHING, check_zip, copy_member, member_parts, read_member

MAX_WORKSPACE_JSON_BYTES = 64 * 2**20
FREE_SPACE_MARGIN_BYTES = 64 * 2**20  # left free on the disk after an import


# =========================================================================== export as .zip


def export_workspace(
    folder: PathLike,
    zip_path: PathLike,
    runs: Optional[Iterable[str]] = None,
    include_corpus: bool = True,
) -> JobGenerator[list[str]]:
    """Write the workspace in `folder` as one .zip that names no absolute path (a job generator).

    It holds workspace.json, the tokenizers, the templates, the corpus files
    (`include_corpus`) and, of the runs (all, or those named in `runs`), each
    checkpoint's weights and meta.json and the run's JSON files; optimizer
    states (state.pt) are left out. Runs and corpus files kept outside the
    workspace are put inside it. Returns sentences about what was left out.
    """
    folder, zip_path = Path(folder).absolute(), Path(zip_path).absolute()
    yield Progress(None, f"Gathering {folder.name}")
    out, members, notes = _plan_export(folder, runs, include_corpus)
    total = sum(p.stat().st_size for p in members.values())
    if total > MAX_ZIP_TOTAL_BYTES:
        raise UserError(
            f"The workspace holds {total / 2**30:.1f} GB to export, more than a workspace .zip may "
            f"({MAX_ZIP_TOTAL_BYTES / 2**30:.0f} GB). Choose fewer runs, or leave the corpus out."
        )

    done = 0
    try:
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        with (
            atomic_file(zip_path) as tmp,
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as zf,
        ):
            zf.writestr(WORKSPACE_FILE, json.dumps(out.to_dict(), indent=1, ensure_ascii=False) + "\n")
            for name, path in members.items():
                yield Progress(done / max(1, total), f"Exporting {name}")
                # Weights hardly compress: storing them is as small and much faster.
                kind = zipfile.ZIP_STORED if name.endswith(".safetensors") else zipfile.ZIP_DEFLATED
                zf.write(path, name, compress_type=kind)
                done += path.stat().st_size
    except OSError as e:
        raise UserError(f"Could not write {zip_path}: {e.strerror or e}.") from e
    yield Progress(1.0, f"Exported to {zip_path.name}")
    return notes


def _plan_export(folder: Path, runs: Optional[Iterable[str]], include_corpus: bool):
    """(workspace.json as exported, {name in the zip: file}, notes about what was left out)."""
    ws = read_workspace(folder)
    out = copy.deepcopy(ws)
    notes: list[str] = []
    members: dict[str, Path] = {}

    def add(name: str, path: Path) -> None:
        member_parts(name)
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
    refs = (
        ([*ws.corpus.files] if ws.corpus is not None else [])
        + [t.file for t in ws.tokenizers]
        + [ws.prompt_template, ws.sent_prompt]
        + [r.path for r in ws.runs]
    )
    taken: set[str] = {r for r in refs if r and not is_absolute_reference(r) and not r.startswith(APP_PREFIX)}
    if ws.corpus is not None and ws.corpus.kind != "default":
        files = []
        paths = [(ref, resolve(folder, ref)) for ref in ws.corpus.files]
        size = sum(p.stat().st_size for _, p in paths if p.is_file())
        fits = size <= MAX_ZIP_TOTAL_BYTES // 2
        for file, path in paths:
            name = place(file, CORPUS_DIR, taken)
            files.append(name)
            if include_corpus and fits and path.is_file():
                add(name, path)
        if not (include_corpus and fits):
            why = "as asked" if not include_corpus else f"it is too big for an exchange ({size / 2**30:.1f} GB)"
            notes.append(
                f"The corpus “{ws.corpus.name}” was left out ({why}): whoever opens the workspace "
                "chooses a corpus again."
            )
        elif any(not p.is_file() for _, p in paths):
            notes.append(f"Part of the corpus “{ws.corpus.name}” is missing and was left out.")
        assert out.corpus is not None  # a copy of ws.corpus
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
    for run_ref in ws.runs:
        if chosen is not None and run_ref.name not in chosen:
            continue
        if run_ref.path.startswith(APP_PREFIX):
            out.runs.append(run_ref)  # ships with every copy of the app
            continue
        run = resolve(folder, run_ref.path)
        if not looks_like_run(run):
            notes.append(f"The run {run_ref.name} is missing or incomplete at {run} and was left out.")
            continue
        name = place(run_ref.path, RUNS_DIR, taken) if is_absolute_reference(run_ref.path) else run_ref.path
        for file in RUN_FILES:
            if (run / file).is_file():
                add(f"{name}/{file}", run / file)
        for which in CHECKPOINT_NAMES:
            checkpoint = checkpoint_dir(run, which)
            if checkpoint is not None:
                for file in (WEIGHTS_FILE, META_FILE):  # not state.pt: an optimizer state is for resuming
                    if (checkpoint / file).is_file():
                        add(f"{name}/{which}/{file}", checkpoint / file)
        out.runs.append(RunRef(run_ref.name, name))
    if out.checkpoint is not None and out.run(out.checkpoint.run) is None:
        notes.append(
            f"The current model's run {out.checkpoint.run} was not chosen, so the exported workspace "
            "has no current model."
        )
        out.checkpoint = None

    check_references(out, allow_absolute=False)
    return out, members, notes


# =========================================================================== import from .zip


def import_workspace(zip_path: PathLike, dest: PathLike) -> JobGenerator[Path]:
    """Unpack a workspace .zip into `dest` (a new or empty folder) and return `dest` (a job generator).

    Everything is checked before extraction (`zip_safety.check_zip`;
    workspace.json must be there, readable, of a known version and name no
    absolute path). Files go into a temporary folder beside `dest` that is
    swapped in at the end; on any failure, or when the job is stopped, it is
    removed, so nothing is left half-written.
    """
    zip_path, dest = Path(zip_path), Path(dest).absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"{dest} is not an empty folder: choose an empty or a new folder for the workspace.")
    if not dest.parent.is_dir():
        raise UserError(f"{dest.parent} does not exist: choose a folder that does.")
    yield Progress(None, f"Checking {zip_path.name}")
    with open_regular(zip_path, "a workspace .zip") as raw:
        try:
            zf = zipfile.ZipFile(raw)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else "it is not a zip file, or it is damaged"
            raise UserError(f"{zip_path.name} could not be opened as a workspace .zip: {reason}.") from e
        with zf:
            yield from unpack(zf, zip_path, dest)
    yield Progress(1.0, f"Imported {dest.name}")
    return dest


def unpack(zf: zipfile.ZipFile, zip_path: Path, dest: Path) -> JobGenerator[None]:
    """Check every member of `zf`, then extract them into a temporary folder swapped in for `dest`."""
    infos = check_zip(zf)
    names = {"/".join(member_parts(i.filename)): i for i in infos}
    ws_info = names.get(WORKSPACE_FILE)
    if ws_info is None or ws_info.is_dir():
        raise UserError(f"{zip_path.name} is not a workspace .zip: it has no {WORKSPACE_FILE} at its top. {NOTHING}")
    if ws_info.file_size > MAX_WORKSPACE_JSON_BYTES:
        raise UserError(f"The zip is refused: its {WORKSPACE_FILE} is implausibly big. {NOTHING}")
    raw = read_member(zf, ws_info, zip_path.name)
    parse_workspace(raw, f"{WORKSPACE_FILE} in {zip_path.name}", allow_absolute=False)
    total = sum(i.file_size for i in infos)
    _check_free_space(dest.parent, total)

    # Unpacked into a temporary folder beside `dest`, swapped in once whole; a refusal, a failure or
    # the job stopped removes it, so nothing stays behind.
    try:
        with atomic_folder(dest) as tmp:
            done = 0
            for info in infos:
                parts = member_parts(info.filename)
                if not parts:
                    continue
                target = tmp.joinpath(*parts)
                if not is_inside(target, tmp):  # belt and braces: the name check already refused it
                    raise UserError(f"The zip is refused: {info.filename!r} leads outside the folder.")
                try:
                    (target if info.is_dir() else target.parent).mkdir(parents=True, exist_ok=True)
                    if info.is_dir():
                        continue
                    yield Progress(done / max(1, total), f"Unpacking {info.filename}")
                    with open(target, "xb") as dst:
                        for size in copy_member(zf, info, dst, zip_path.name):
                            done += size
                            yield Progress(done / max(1, total), f"Unpacking {info.filename}")
                except OSError as e:
                    raise UserError(f"Could not unpack {info.filename}: {e.strerror or e}. {NOTHING}") from e
            read_workspace(tmp)
    except OSError as e:
        raise UserError(f"Could not put the workspace in {dest}: {e.strerror or e}. {NOTHING}") from e


def _check_free_space(folder: Path, needed: int) -> None:
    """UserError when `folder`'s disk cannot hold `needed` bytes and a little to spare."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # unknown: extraction itself reports a full disk
    if needed + FREE_SPACE_MARGIN_BYTES > free:
        raise UserError(
            f"The workspace would unpack to {needed / 2**20:,.1f} MB but {folder} has only "
            f"{free / 2**20:,.1f} MB free: free some space or choose another folder. {NOTHING}"
        )
