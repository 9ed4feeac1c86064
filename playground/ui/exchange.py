"""File ▸ Import a Hugging Face model… and File ▸ Export the model…: the exchange with `transformers`, in jobs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import QFileDialog, QWidget

from playground.engine.jobs import Job
from playground.engine.session import Session


def import_model(parent: QWidget, session: Session) -> Optional[Job]:
    """Ask for a Hugging Face model folder, then import it."""
    folder = QFileDialog.getExistingDirectory(
        parent, "Import a Hugging Face GPT-2 or LLaMA model (a folder with config.json, "
                "model.safetensors and tokenizer.json)")
    return import_model_from(session, Path(folder)) if folder else None


def import_model_from(session: Session, folder: Path) -> Job:
    """Import `folder` as a new run (never running code from it) and make it the current model."""
    from playground.core.checkpoints import new_run_dir

    out = new_run_dir(f"imported-{folder.name}")
    warnings: list[str] = []

    def work(report, cancel):
        from playground.core.checkpoints import load_checkpoint
        from playground.core.huggingface import import_hf

        try:
            import_hf(folder, out, warn=warnings.append)
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)  # leave no empty run behind
            raise
        return load_checkpoint(out)

    def adopt(loaded) -> None:
        checkpoint, model = loaded
        session.set_checkpoint(checkpoint, model)
        note = f" Note: {' '.join(warnings)}" if warnings else ""
        session.info(f"Imported {folder.name} as {out.name}: it is now the model in Generate, Attention and "
                     f"Evaluate.{note}")

    job = Job(work, f"importing {folder.name}")
    job.result.connect(adopt)
    job.error.connect(session.error)
    job.start()
    return job


def export_model(parent: QWidget, session: Session) -> Optional[Job]:
    """Ask where to put the current model in Hugging Face format, then export it."""
    if session.checkpoint is None:
        session.warn("There is no model to export yet: train one, or load the demo model in Generate.")
        return None
    folder = QFileDialog.getExistingDirectory(
        parent, "Export the model for Hugging Face transformers: choose where to put its folder")
    if not folder:
        return None
    return export_model_to(session, free_folder(Path(folder) / f"{session.checkpoint.name}-hf"))


def export_model_to(session: Session, out: Path) -> Job:
    """Write the current checkpoint to `out` (a new folder) in Hugging Face format."""
    checkpoint = session.checkpoint

    def work(report, cancel):
        from playground.core.huggingface import export_checkpoint

        return export_checkpoint(checkpoint.path, out)

    job = Job(work, f"exporting {checkpoint.name}")
    job.result.connect(lambda path: session.info(
        f"Exported {checkpoint.name} to {path}. Load it with transformers: "
        f"AutoModelForCausalLM.from_pretrained(\"{path}\")."))
    job.error.connect(session.error)
    job.start()
    return job


def free_folder(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`, ... if it exists: an export never mixes with an older one."""
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{n}")
        n += 1
    return candidate
