"""Where the app finds what it ships (resources, demo models) and where it keeps user data."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from platformdirs import user_data_path

APP_NAME = "llm-playground"
_ROOT = Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    """The ``resources/`` folder beside the package (source checkout or editable install)."""
    return _ROOT / "resources"


def models_dir() -> Path:
    """Demo models that ship with the app."""
    return _ROOT / "models"


def demo_model_dir() -> Optional[Path]:
    """The demo model that ships in models/demo, if this install has it."""
    path = models_dir() / "demo"
    return path if (path / "config.json").exists() else None


def user_data_dir() -> Path:
    """Per-user data (tokenizers, runs): created on first use."""
    path = user_data_path(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path
