"""Where the app finds what it ships (resources, demo models) and where it keeps user data."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Optional

from platformdirs import user_data_path

APP_NAME = "llm-playground"


@cache
def app_root() -> Path:
    """The folder that holds what the app ships: ``resources/``, ``models/``, ``packaging/icons/``.

    A wheel carries them inside the package as ``playground/_app/``; a checkout,
    an editable install and the PyInstaller build keep them beside the package.
    """
    packaged = Path(str(files("playground") / "_app"))
    if (packaged / "resources").is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    """Corpora, prompt templates and tasks."""
    return app_root() / "resources"


def models_dir() -> Path:
    """Demo models that ship with the app."""
    return app_root() / "models"


def icons_dir() -> Path:
    """The app's icon in several sizes."""
    return app_root() / "packaging" / "icons"


def demo_model_dir() -> Optional[Path]:
    """The demo model that ships in models/demo, if this install has it."""
    path = models_dir() / "demo"
    return path if (path / "config.json").exists() else None


def demo_encoder_dir() -> Optional[Path]:
    """The demo encoder (BERT style) that ships in models/demo-encoder, if this install has it."""
    path = models_dir() / "demo-encoder"
    return path if (path / "config.json").exists() else None


def demo_encoder_decoder_dir() -> Optional[Path]:
    """The demo encoder-decoder (T5 style) that ships in models/demo-encoder-decoder, if this install has it."""
    path = models_dir() / "demo-encoder-decoder"
    return path if (path / "config.json").exists() else None


def user_data_dir() -> Path:
    """Per-user data (tokenizers, runs): created on first use."""
    path = user_data_path(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path
