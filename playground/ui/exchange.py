"""File ▸ Import a Hugging Face model… and File ▸ Export the model…: the exchange with `transformers`, in jobs.

The work is `core.huggingface`'s (`import_as_new_run`, `export_checkpoint`);
this module asks for the folders, starts the jobs and says what happened.
Decoders (GPT-2, LLaMA) and encoders (BERT) go both ways; what the messages
say (where the model is used, how transformers loads it) follows the family.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

from playground.core.files import free_folder
from playground.core.run_layout import runs_dir
from playground.engine.jobs import Job
from playground.engine.session import Session

FOLDER_KEY = "exchange/folder"  # QSettings: where the last import or export dialog was used
IMPORT_TITLE = (
    "Import a Hugging Face GPT-2, LLaMA or BERT model (a folder with config.json, model.safetensors and tokenizer.json)"
)


def steps_using(config) -> str:
    """The steps where a model of this family is used: an encoder fills masks, it does not generate."""
    return "Fill the mask, Attention and Evaluate" if config.is_encoder else "Generate, Attention and Evaluate"


def loading_hint(config, path: Path) -> str:
    """How `transformers` loads an exported model of this family."""
    auto = "AutoModelForMaskedLM" if config.is_encoder else "AutoModelForCausalLM"
    return f'{auto}.from_pretrained("{path}")'


def start_folder() -> str:
    """Where both dialogs open: the folder last used, else the runs folder (never the process's own)."""
    last = QSettings().value(FOLDER_KEY, "", str)
    return last if isinstance(last, str) and last and Path(last).is_dir() else str(runs_dir())


def remember_folder(folder: Path) -> None:
    QSettings().setValue(FOLDER_KEY, str(folder))


def import_model(parent: QWidget, session: Session) -> Optional[Job]:
    """Ask for a Hugging Face model folder, then import it."""
    folder = QFileDialog.getExistingDirectory(parent, IMPORT_TITLE, start_folder())
    if not folder:
        return None
    remember_folder(Path(folder).parent)  # next time its neighbours are in view
    return import_model_from(session, Path(folder))


def import_model_from(session: Session, folder: Path) -> Job:
    """Import `folder` as a new run (never running code from it) and make it the current model."""
    from playground.core.huggingface import import_as_new_run

    def adopt(imported) -> None:
        session.set_checkpoint(imported.checkpoint, imported.model)
        note = f" Note: {' '.join(imported.notes)}" if imported.notes else ""
        session.info(
            f"Imported {folder.name} as {imported.run_dir.name}: it is now the model in "
            f"{steps_using(imported.checkpoint.model_config)}.{note}"
        )

    job = Job(import_as_new_run, folder, doing=f"importing {folder.name}")
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
        parent, "Export the model for Hugging Face transformers: choose where to put its folder", start_folder()
    )
    if not folder:
        return None
    remember_folder(Path(folder))
    return export_model_to(session, free_folder(Path(folder) / f"{session.checkpoint.name}-hf"))


def export_model_to(session: Session, out: Path) -> Job:
    """Write the current checkpoint to `out` (a new folder) in Hugging Face format."""
    from playground.core.huggingface import export_checkpoint

    checkpoint = session.checkpoint
    assert checkpoint is not None, "export_model_to needs a current model (export_model checks)"
    job = Job(export_checkpoint, checkpoint.path, out, doing=f"exporting {checkpoint.name}")
    job.result.connect(
        lambda path: session.info(
            f"Exported {checkpoint.name} to {path}. Load it with transformers: "
            f"{loading_hint(checkpoint.model_config, path)}."
        )
    )
    job.error.connect(session.error)
    job.start()
    return job
