"""Bigger type for presentation mode, and exactly the old type back afterwards.

:mod:`playground.ui.themes` applies a look's font scale with these: fonts a widget's code set
(:func:`refont`), pyqtgraph's axes, labels and text items (:func:`scale_axis`, :func:`scale_title`,
:func:`scale_text_item`), each remembering what it replaced, and a :class:`FontSnapshot` of every
widget's font taken before the type grows, which puts back what Qt's style sheets would keep large.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QWidget
from shiboken6 import isValid

SIZE_RESOLVED = 0x2  # QFont::SizeResolved: the font names its own size (PySide6 does not export the enum)
BASE_FONT = "_pg_base_font"  # dynamic properties: the font the code set, and the one we set instead
APPLIED_FONT = "_pg_applied_font"


_QT_SAVED_FONT = "_q_styleSheetWidgetFont"  # Qt's own: the font a style sheet puts back when it goes


@dataclass
class _WidgetFont:
    widget: QWidget
    depth: int
    font: QFont
    explicit: bool  # the code set a font (Qt.WA_SetFont)
    qt_saved: Any  # Qt's _QT_SAVED_FONT property (None when it has none)


class FontSnapshot:
    """Every widget's font before the type grew, to put back exactly when it shrinks again.

    Scaling the application font alone does not come back exactly: a widget styled by a style
    sheet (its own or an ancestor's, and a scroll area's viewport with it) copies the font it
    inherits into its own when it is polished. One polished while the type was large keeps the
    large font after the application font shrinks (the token-id box, the token view, the prompt
    preview), and Qt's remembered font (_QT_SAVED_FONT) would bring it back at the next polish.
    """

    def __init__(self) -> None:
        self.entries: list[_WidgetFont] = []
        for widget in QApplication.allWidgets():
            self.entries.append(
                _WidgetFont(
                    widget,
                    _depth(widget),
                    QFont(widget.font()),
                    widget.testAttribute(Qt.WidgetAttribute.WA_SetFont),
                    widget.property(_QT_SAVED_FONT),
                )
            )
        self.entries.sort(key=lambda entry: entry.depth)  # parents first: children inherit from them

    def restore(self, scale: float) -> None:
        """Put back every font as it was; `scale`: the one the type had (for widgets made meanwhile)."""
        for entry in self.entries:
            widget = entry.widget
            if not isValid(widget):
                continue
            current = widget.font()
            if current != entry.font and not _same_but_size(current, entry.font):
                continue  # its code gave it a font of its own meanwhile
            explicit = widget.testAttribute(Qt.WidgetAttribute.WA_SetFont)
            if current != entry.font or explicit != entry.explicit:
                if not entry.explicit:  # inherit again, then let its style sheet have its say
                    widget.setFont(QFont())
                    if widget.testAttribute(Qt.WidgetAttribute.WA_StyleSheet):
                        widget.style().unpolish(widget)
                        widget.style().polish(widget)
                if widget.font() != entry.font:
                    widget.setFont(entry.font)
            if widget.property(_QT_SAVED_FONT) != entry.qt_saved:
                widget.setProperty(_QT_SAVED_FONT, entry.qt_saved)
        known = {id(entry.widget) for entry in self.entries}
        made = [w for w in QApplication.allWidgets() if id(w) not in known and w.parentWidget() is not None]
        for widget in sorted(made, key=_depth):
            _shrink_if_inherited_large(widget, scale)


def _depth(widget: QWidget) -> int:
    depth, parent = 0, widget.parentWidget()
    while parent is not None:
        depth, parent = depth + 1, parent.parentWidget()
    return depth


def _shrink_if_inherited_large(widget: QWidget, scale: float) -> None:
    """A widget made while the type was large, whose style sheet kept its parent's large size as its own."""
    parent = widget.parentWidget()
    if parent is None:
        return
    size, parent_size = widget.font().pointSizeF(), parent.font().pointSizeF()
    if size <= 0 or parent_size <= 0 or abs(size - round(parent_size * scale, 1)) > 0.05:
        return
    if not widget.testAttribute(Qt.WidgetAttribute.WA_SetFont):
        widget.setFont(QFont())  # inherit again, then let its style sheet have its say
        if widget.testAttribute(Qt.WidgetAttribute.WA_StyleSheet):
            widget.style().unpolish(widget)
            widget.style().polish(widget)
    if abs(widget.font().pointSizeF() - round(parent_size * scale, 1)) <= 0.05:
        font = QFont(widget.font())
        font.setPointSizeF(parent_size)
        widget.setFont(font)


def _same_but_size(font: QFont, other: QFont) -> bool:
    resized = QFont(font)
    if other.pointSizeF() > 0:
        resized.setPointSizeF(other.pointSizeF())
    elif other.pixelSize() > 0:
        resized.setPixelSize(other.pixelSize())
    return resized == other


def scaled_font(font: QFont, scale: float) -> QFont:
    scaled = QFont(font)
    if font.pointSizeF() > 0:
        scaled.setPointSizeF(round(font.pointSizeF() * scale, 1))
    elif font.pixelSize() > 0:
        scaled.setPixelSize(max(1, round(font.pixelSize() * scale)))
    return scaled


def scaled_number(number: str, scale: float, unit: str) -> str:
    value = float(number) * scale
    return str(round(value)) if unit.lower() == "px" else f"{value:.1f}".rstrip("0").rstrip(".")


def refont(widget: QWidget, scale: float) -> None:
    if not widget.testAttribute(Qt.WidgetAttribute.WA_SetFont):
        return  # it follows its parent and the application font
    current = widget.font()
    base, applied = widget.property(BASE_FONT), widget.property(APPLIED_FONT)
    if base is not None and applied is not None and current != applied:
        base = None  # the code set a new font since
        widget.setProperty(BASE_FONT, None)
        widget.setProperty(APPLIED_FONT, None)
    if scale == 1.0:
        if base is not None:
            widget.setFont(base)
            widget.setProperty(BASE_FONT, None)
            widget.setProperty(APPLIED_FONT, None)
        return
    if base is None:
        if not current.resolveMask() & SIZE_RESOLVED:
            return  # only the family is set: the size follows the application font
        base = QFont(current)
    font = scaled_font(base, scale)
    widget.setProperty(BASE_FONT, base)
    widget.setProperty(APPLIED_FONT, font)
    if current != font:
        widget.setFont(font)


# ---------------------------------------------------------------------------------------------- plots


_UNSET = object()
# Set (to True) on a pyqtgraph TextItem whose owner sizes its font from font_scale() itself.
OWNER_SCALES = "_pg_owner_scales"


def scale_axis(axis, scale: float, previous_scale: float, app_font: QFont) -> None:
    """A pyqtgraph AxisItem: its tick and title fonts (`app_font`: the application's at scale 1)."""
    if axis.label is None:  # closed
        return
    base_tick: Any = getattr(axis, "_pg_base_tick_font", _UNSET)
    label_font = axis.label.font()
    if scale == 1.0:
        if base_tick is not _UNSET:
            axis.setTickFont(base_tick)
            axis.label.setFont(axis._pg_base_label_font)
            # The room for the tick texts: pyqtgraph gives back only what is over 10 px too much.
            axis.textWidth, axis.textHeight = axis._pg_base_text_room
            axis._updateLabel()
            del axis._pg_base_tick_font, axis._pg_base_label_font, axis._pg_base_text_room
        elif previous_scale != 1.0 and label_font == scaled_font(app_font, previous_scale):
            axis.label.setFont(QFont(app_font))  # made while the type was large, never seen then
            axis._updateLabel()
        return
    if base_tick is _UNSET:
        axis._pg_base_tick_font = base_tick = axis.style.get("tickFont")
        # Made while the type was large, its title took the large application font: its own is the small one.
        axis._pg_base_label_font = QFont(app_font) if label_font == QApplication.font() else QFont(label_font)
        axis._pg_base_text_room = (axis.textWidth, axis.textHeight)
    axis.setTickFont(scaled_font(base_tick, scale) if base_tick is not None else QApplication.font())
    axis.label.setFont(scaled_font(axis._pg_base_label_font, scale))
    axis._updateLabel()


def scale_title(label, scale: float, app_font: QFont) -> None:
    """A pyqtgraph LabelItem: its size option scaled (one without a size gets `app_font`'s, the application's
    font at scale 1, scaled)."""
    base = getattr(label, "_pg_base_size", _UNSET)
    if base is _UNSET:
        if scale == 1.0:
            return
        label._pg_base_size = base = label.opts.get("size")
    size = base
    if scale != 1.0:
        if not base:  # it wrote in the application font as it was when it was made: say it big
            size = f"{scaled_number(str(app_font.pointSizeF()), scale, 'pt')}pt"
        else:
            match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(pt|px)\s*", str(base))
            if match:
                size = f"{scaled_number(match.group(1), scale, match.group(2))}{match.group(2)}"
    if size:
        if label.opts.get("size") != size:
            label.setText(label.text, size=size)
    elif "size" in label.opts:
        del label.opts["size"]
        label.setText(label.text)
    if scale == 1.0:
        del label._pg_base_size


def scale_text_item(item, scale: float, previous_scale: float, app_font: QFont) -> None:
    """A pyqtgraph TextItem keeps the font it was made with (the application's then) unless told."""
    current = item.textItem.font()
    base, applied = getattr(item, "_pg_base_font", None), getattr(item, "_pg_applied_font", None)
    if base is not None and current != applied:
        base = None  # its code set a font since
    if base is None:
        if scale == 1.0:
            if previous_scale != 1.0 and current == scaled_font(QApplication.font(), previous_scale):
                item.setFont(QApplication.font())  # made while the type was large, never seen then
            return
        # Made while the type was large, in the application font: its size at scale 1 is the application's.
        base = QFont(app_font) if current == QApplication.font() else QFont(current)
    font = scaled_font(base, scale)
    item._pg_base_font, item._pg_applied_font = base, font
    if current != font:
        item.setFont(font)
    if scale == 1.0:
        item._pg_base_font = item._pg_applied_font = None
