"""What the window keeps between sessions about workspaces, in QSettings: the recent list, and each
panel's splitter layout. Each is kept under a version number: a newer app's values are not misread."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QSplitter

RECENT_VERSION = 1  # QSettings "workspaces/...": the list of recent workspace folders
LAYOUT_VERSION = 1  # QSettings "layout/...": each panel's splitter sizes
MAX_RECENT = 8


def recent_workspaces() -> list[Path]:
    settings = QSettings()
    if settings.value("workspaces/version", 0, int) != RECENT_VERSION:
        return []  # none kept yet, or a newer app's list: not misread
    value = settings.value("workspaces/recent", [], list)
    if not isinstance(value, list):
        return []  # nothing usable kept (None, say)
    return [Path(v) for v in value if isinstance(v, str) and v][:MAX_RECENT]


def set_recent_workspaces(folders: list[Path]) -> None:
    settings = QSettings()
    settings.setValue("workspaces/version", RECENT_VERSION)
    settings.setValue("workspaces/recent", [str(f) for f in folders[:MAX_RECENT]])


def splitters_of(key: str, panel) -> list[tuple[str, QSplitter]]:
    """(settings key, splitter) for each splitter of the panel saved under `key`."""
    return [(f"layout/{key}/{i}", s) for i, s in enumerate(panel.findChildren(QSplitter))]


def save_splitters(splitters: list[tuple[str, QSplitter]]) -> None:
    settings = QSettings()
    settings.setValue("layout/version", LAYOUT_VERSION)
    for key, splitter in splitters:
        settings.setValue(key, splitter.saveState())


def restore_splitters(splitters: list[tuple[str, QSplitter]]) -> None:
    settings = QSettings()
    if settings.value("layout/version", 0, int) != LAYOUT_VERSION:
        return
    for key, splitter in splitters:
        state = settings.value(key)
        if isinstance(state, (QByteArray, bytes)):
            # A saved state carries an orientation too: one saved from another splitter (the panel
            # held other splitters then) would turn a column into a row twice as wide as the screen.
            orientation = splitter.orientation()
            splitter.restoreState(state)
            splitter.setOrientation(orientation)
