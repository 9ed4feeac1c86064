"""Help: the keyboard shortcuts window, the About text, and the crash log's folder.

The shortcuts are gathered from the window itself each time the window opens:
every menu action with a shortcut, and every panel's QShortcut, so the list is
never out of date. A QShortcut is described by its ``whatsThis`` or
``objectName`` when set, or else by the tooltip of the control that names the
same keys (a panel's "Train (Ctrl+Enter)" button describes its Ctrl+Return).
"""

from __future__ import annotations

import html
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground import __version__
from playground.ui.widgets.table_cells import cell

EVERYWHERE = "Everywhere"
ALIASES = (
    ("Return", "Enter"),
    ("Del", "Delete"),
    ("Esc", "Escape"),
    ("PgUp", "Page Up"),
    ("PgDown", "Page Down"),
    ("Ins", "Insert"),
)


@dataclass
class ShortcutInfo:
    keys: list[str]  # portable key names, e.g. ["Ctrl+Return", "Ctrl+Enter"]
    description: str
    where: str  # "Everywhere · File menu", or a panel's title
    conflicts: list[str] = field(default_factory=list)  # other shortcuts active at the same time with the same keys

    @property
    def key_text(self) -> str:
        return " or ".join(self.keys)


# ---------------------------------------------------------------------------------------------- gathering


def _plain(text: str) -> str:
    """Menu or button text without accelerators, symbols at its ends and trailing ellipses."""
    text = text.replace("&&", "\x00").replace("&", "").replace("\x00", "&")
    text = re.sub(r"^[^\w(]+|[^\w)?!.]+$", "", text.strip())
    return text.rstrip(".…").strip()


def _key_variants(key: str) -> list[str]:
    """`key` and the other names people write for it (Return/Enter, Del/Delete, Esc/Escape)."""
    variants = {key}
    for a, b in ALIASES:
        for v in list(variants):
            for x, y in ((a, b), (b, a)):
                if re.search(rf"(?<![\w]){re.escape(x)}(?![\w])", v):
                    variants.add(re.sub(rf"(?<![\w]){re.escape(x)}(?![\w])", y, v))
    return sorted(variants, key=len, reverse=True)


def _key_pattern(key: str) -> re.Pattern:
    alternatives = "|".join(re.escape(v) for v in _key_variants(key))
    return re.compile(rf"(?<![\w+])(?:{alternatives})(?![\w+])", re.IGNORECASE)


def _sentence_without_key(tooltip: str, pattern: re.Pattern) -> str:
    text = re.split(r"<br\s*/?>|<p>|\n\n", tooltip, maxsplit=1, flags=re.IGNORECASE)[0]
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    text = re.sub(r"\(\s*" + pattern.pattern + r"\s*\)", "", text, flags=re.IGNORECASE)
    text = pattern.sub("", text)
    text = re.sub(r"\s+([.,:;!?])(?=\s|$)", r"\1", re.sub(r"\s{2,}", " ", text)).strip()
    text = re.sub(r"[.,:;]\s*$", "", text).strip()
    return text + "." if text else ""


def describe_from_tooltips(container: QWidget, key: str) -> str:
    """A description for `key` from the tooltip of a control in `container` that mentions it."""
    pattern = _key_pattern(key)
    widgets = container.findChildren(QWidget)
    # Buttons first: "Train tokenizer (Ctrl+Enter)" says what the key does better than a caption does.
    widgets.sort(key=lambda w: not isinstance(w, QAbstractButton))
    for widget in widgets:
        tip = widget.toolTip()
        if tip and pattern.search(re.sub(r"<[^>]+>", "", tip)):
            sentence = _sentence_without_key(tip, pattern)
            if isinstance(widget, QAbstractButton) and _plain(widget.text()):
                name = _plain(widget.text())
                return f"{name}: {sentence}" if sentence and sentence.lower() != name.lower() + "." else name
            if sentence:
                return sentence
    return ""


def _portable(sequence: QKeySequence) -> str:
    return sequence.toString(QKeySequence.SequenceFormat.PortableText)


def _menu_actions(menu: QMenu, path: str):
    for action in menu.actions():
        submenu = action.menu()  # a QMenu or None (the stubs say QObject)
        if isinstance(submenu, QMenu):
            yield from _menu_actions(submenu, f"{path} ▸ {_plain(action.text())}")
        elif not action.isSeparator():
            yield action, path


def gather_shortcuts(window) -> list[ShortcutInfo]:
    """Every shortcut of the window's menus and panels, with a description, grouped and checked for clashes."""
    rows: list[tuple[str, str, str, object]] = []  # (key, description, where, owner)
    seen_actions: set[int] = set()

    for top in window.menuBar().actions():
        menu = top.menu()
        if menu is None:
            continue
        for action, path in _menu_actions(menu, _plain(top.text())):
            seen_actions.add(id(action))
            name = _plain(action.text())
            tip = action.toolTip()
            description = name if not tip or _plain(tip) == name else f"{name}: {tip}"
            for sequence in action.shortcuts():
                rows.append((_portable(sequence), description, f"{EVERYWHERE} · {path} menu", None))

    panels = list(getattr(window, "panels", []))
    for panel in panels:
        title = str(getattr(panel, "title", type(panel).__name__))
        for shortcut in panel.findChildren(QShortcut):
            key = _portable(shortcut.key())
            if not key:
                continue
            description = (
                shortcut.whatsThis()
                or shortcut.objectName()
                or describe_from_tooltips(panel, key)
                or "(no description)"
            )
            rows.append((key, description, title, panel))
        for action in panel.findChildren(QAction):
            if id(action) in seen_actions:
                continue
            seen_actions.add(id(action))
            for sequence in action.shortcuts():
                rows.append((_portable(sequence), _plain(action.text()) or action.toolTip(), title, panel))

    # Shortcuts of the window that live outside the panels and the menus.
    for shortcut in window.findChildren(QShortcut):
        if any(
            panel.isAncestorOf(shortcut.parent()) or panel is shortcut.parent()
            for panel in panels
            if isinstance(shortcut.parent(), QWidget)
        ):
            continue
        key = _portable(shortcut.key())
        if key:
            rows.append((key, shortcut.whatsThis() or shortcut.objectName() or "(no description)", EVERYWHERE, None))

    # Keys the window watches for itself only at times (Esc stops the demo while it runs).
    host_keys = getattr(window, "host_keys", None)
    for key, description, when in host_keys.situational() if host_keys is not None else ():
        rows.append((key, description, when, None))

    # Group the keys that do the same thing in the same place (Ctrl+Return and Ctrl+Enter).
    grouped: dict[tuple[str, str], ShortcutInfo] = {}
    for key, description, where, _owner in rows:
        info = grouped.setdefault((where, description), ShortcutInfo([], description, where))
        if key not in info.keys:
            info.keys.append(key)

    # Two shortcuts clash when both are active at once: the same keys in one panel, or in a panel
    # and everywhere. Qt then runs neither.
    infos = list(grouped.values())
    for a in infos:
        for b in infos:
            if a is b:
                continue
            same_place = a.where == b.where or a.where.startswith(EVERYWHERE) or b.where.startswith(EVERYWHERE)
            if same_place and set(map(str.lower, a.keys)) & set(map(str.lower, b.keys)):
                a.conflicts.append(f"{b.description} ({b.where})")
    order = {str(getattr(p, "title", "")): i for i, p in enumerate(panels)}
    infos.sort(
        key=lambda i: (0 if i.where.startswith(EVERYWHERE) else 1 + order.get(i.where, len(order)), i.where, i.key_text)
    )
    return infos


class ShortcutsWindow(QDialog):
    """A non-modal window listing every shortcut, with a filter box."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(820, 560)
        self.shortcuts = gather_shortcuts(window)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: type a key or a word…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter)
        self.table = QTableWidget(len(self.shortcuts), 3)
        self.table.setHorizontalHeaderLabels(["Keys", "What it does", "Where"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        for row, info in enumerate(self.shortcuts):
            keys = QTableWidgetItem(info.key_text)
            what = QTableWidgetItem(
                info.description + (" ⚠ clashes with: " + "; ".join(info.conflicts) if info.conflicts else "")
            )
            if info.conflicts:
                what.setToolTip(
                    "Both shortcuts are active at the same time, so Qt runs neither. Give one of them other keys."
                )
            where = QTableWidgetItem(info.where)
            for column, item in enumerate((keys, what, where)):
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.resizeRowsToContents()
        note = QLabel("A panel's shortcuts work while that panel is shown; the others everywhere.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def rows(self) -> list[tuple[str, str, str]]:
        """(keys, description, where) of each row shown (not filtered out)."""
        return [
            (cell(self.table, r, 0).text(), cell(self.table, r, 1).text(), cell(self.table, r, 2).text())
            for r in range(self.table.rowCount())
            if not self.table.isRowHidden(r)
        ]

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for row in range(self.table.rowCount()):
            line = " ".join(cell(self.table, row, c).text().lower() for c in range(3))
            self.table.setRowHidden(row, not all(w in line for w in words))


# ---------------------------------------------------------------------------------------------- about


def package_version(name: str) -> str:
    from importlib import metadata  # 0.2 s (email, calendar, locale): only when the About box opens

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        module = sys.modules.get(name)
        return str(getattr(module, "__version__", "not installed"))


def versions(device_text: Optional[str] = None) -> dict[str, str]:
    """What the About box lists: the app and the libraries it stands on, and the device."""
    torch = sys.modules.get("torch")  # never imported here: that takes seconds on the GUI thread
    torch_text = "loading" if torch is None or not hasattr(torch, "__version__") else str(torch.__version__)
    if torch is not None and hasattr(torch, "version") and getattr(torch.version, "cuda", None):
        torch_text += f" (CUDA {torch.version.cuda})"
    return {
        "LLM Playground": __version__,
        "PyTorch": torch_text,
        "Qt": qVersion(),
        "PySide6": pyside_version,
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "tokenizers": package_version("tokenizers"),
        "pyqtgraph": package_version("pyqtgraph"),
        "System": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Device": device_text or "still detecting",
    }


def about_html(device_text: Optional[str], data_folder: Path, crash_log: Path) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k)}&nbsp;&nbsp;</td><td><b>{html.escape(v)}</b></td></tr>"
        for k, v in versions(device_text).items()
    )
    return (
        f"<h3>LLM Playground {html.escape(__version__)}</h3>"
        "<p>Build a small language model with your own hands and watch it from the inside.</p>"
        f"<table cellspacing=2>{rows}</table>"
        f"<p>Your data (tokenizers, runs): <br><tt>{html.escape(str(data_folder))}</tt></p>"
        f"<p>Crash log (unexpected errors are written here): <br><tt>{html.escape(str(crash_log))}</tt></p>"
    )


def open_folder(path: Path) -> bool:
    """Show `path` in the system's file manager (tests replace this)."""
    path.mkdir(parents=True, exist_ok=True)
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
