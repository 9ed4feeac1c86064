"""Presentation mode, for a workshop in front of a room: big type, high contrast, fewer controls.

Turning it on scales every font by :data:`FONT_SCALE` (the application font,
the sizes panels set in code or style sheets, plot axes), switches to the
high-contrast variant of the current theme, and hides what each panel lists
in its ``advanced_widgets()`` (a form row's label goes with its field; a tab
page hides its tab). Turning it off puts back exactly what was there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from PySide6.QtWidgets import QFormLayout, QLayout, QScrollArea, QStackedWidget, QTabWidget, QWidget

from playground.ui import themes

FONT_SCALE = 1.5
QWIDGETSIZE_MAX = (1 << 24) - 1


def _form_label(widget: QWidget) -> Optional[QWidget]:
    """The label of `widget`'s row when it is a field of a QFormLayout."""
    parent = widget.parentWidget()
    root = parent.layout() if parent is not None else None
    if root is None:
        return None
    stack: list[QLayout] = [root]
    while stack:
        layout = stack.pop()
        if isinstance(layout, QFormLayout):
            label = layout.labelForField(widget)
            if label is not None:
                return label
        for i in range(layout.count()):
            item = layout.itemAt(i)
            child = item.layout() if item is not None else None
            if child is not None:
                stack.append(child)
    return None


def _tab_of(widget: QWidget) -> Optional[tuple[QTabWidget, int]]:
    """(tab widget, index) when `widget` is a page of a QTabWidget."""
    stack = widget.parentWidget()
    tabs = stack.parentWidget() if isinstance(stack, QStackedWidget) else None
    if isinstance(tabs, QTabWidget):
        index = tabs.indexOf(widget)
        if index >= 0:
            return tabs, index
    return None


@dataclass
class _HiddenWidget:
    widget: QWidget
    was_hidden: bool


@dataclass
class _HiddenTab:
    tabs: QTabWidget
    page: QWidget
    was_visible: bool
    was_current: bool


class PresentationMode:
    """Hides and restores advanced controls, and switches the look; the window adds its own touches."""

    def __init__(self, panels_of) -> None:
        self._panels_of = panels_of  # a callable: the panels now in the window (so a later panel counts too)
        self.active = False
        self._hidden: list[_HiddenWidget | _HiddenTab] = []

    def advanced_widgets(self, panels=None) -> list[QWidget]:
        found: list[QWidget] = []
        for panel in self._panels_of() if panels is None else panels:
            method = getattr(panel, "advanced_widgets", None)
            if callable(method):
                found.extend(w for w in method() if w is not None)
        return found

    def set_active(self, on: bool) -> None:
        if on == self.active:
            return
        self.active = on
        if on:
            self._hide_advanced()
            self._widen_columns()
            themes.apply_look(replace(themes.current_look(), font_scale=FONT_SCALE, high_contrast=True))
        else:
            themes.apply_look(replace(themes.current_look(), font_scale=1.0, high_contrast=False))
            self._restore_columns()
            self._restore_advanced()

    def adopt(self, panel: QWidget) -> None:
        """A panel built while presentation mode is on gets it too (and gives it back when it ends)."""
        if self.active:
            self._hide_advanced([panel])
            self._widen_columns([panel])

    def _widen_columns(self, panels=None) -> None:
        """Panels hold their controls in scroll areas of a fixed width range: widen them with the type."""
        if panels is None:
            self._widened = []
        for panel in self._panels_of() if panels is None else panels:
            for area in panel.findChildren(QScrollArea):
                if area.maximumWidth() < QWIDGETSIZE_MAX:
                    self._widened.append((area, area.minimumWidth(), area.maximumWidth()))
                    area.setMaximumWidth(round(area.maximumWidth() * FONT_SCALE))  # the minimum stays:
                    # on a small projector the column scrolls rather than push the window off the screen

    def _restore_columns(self) -> None:
        for area, low, high in getattr(self, "_widened", []):
            try:
                area.setMinimumWidth(low)
                area.setMaximumWidth(high)
            except RuntimeError:  # deleted meanwhile
                pass
        self._widened = []

    def _hide_advanced(self, panels=None) -> None:
        if panels is None:
            self._hidden = []
        for widget in self.advanced_widgets(panels):
            tab = _tab_of(widget)
            if tab is not None:
                tabs, index = tab
                self._hidden.append(_HiddenTab(tabs, widget, tabs.isTabVisible(index), tabs.currentIndex() == index))
                if tabs.currentIndex() == index:  # move off the tab before it goes
                    for other in range(tabs.count()):
                        if other != index and tabs.isTabVisible(other):
                            tabs.setCurrentIndex(other)
                            break
                tabs.setTabVisible(index, False)
                continue
            for w in (widget, _form_label(widget)):
                if w is not None:
                    self._hidden.append(_HiddenWidget(w, w.isHidden()))
                    w.hide()

    def _restore_advanced(self) -> None:
        for entry in reversed(self._hidden):
            try:
                if isinstance(entry, _HiddenTab):
                    index = entry.tabs.indexOf(entry.page)
                    if index >= 0:
                        entry.tabs.setTabVisible(index, entry.was_visible)
                        if entry.was_current:
                            entry.tabs.setCurrentIndex(index)
                else:
                    entry.widget.setHidden(entry.was_hidden)
            except RuntimeError:  # the widget was deleted meanwhile
                continue
        self._hidden = []
