"""The look of the app: light, dark or the system's theme, high contrast, and a font scale.

One :class:`Look` holds all three. Colours are named roles (``playground.ui.colours``):
:func:`colour` gives a role's value in the current look. Panels never write a
colour themselves:

- a style sheet with colours is a template, ``themed_style(label, "color: {muted};")``,
  and a rich-text label whose text has colours is one too, ``themed_text(...)``:
  both are rendered again, from the roles, whenever the look changes;
- what is painted, or cached as rich text elsewhere (a text document's formats,
  table items, plot pens), reads :func:`colour` when it is drawn and is drawn
  again on :func:`follow_look`'s notification.

:func:`apply_look` sets the palette (from the roles), a small style sheet and
pyqtgraph's colours, scales the application font, renders every template
again and tells the followers. It also walks every widget for the font scale:
``font-size`` values in style sheets and fonts a panel set with a size
(monospace editors) are scaled, pyqtgraph plots that use the default colours
get the theme's background and foreground, and every axis gets scaled tick and
label fonts. What the walk changed is remembered on the widget, so going back
to the default look restores exactly what the code had set (the scaling itself lives in
:mod:`playground.ui.type_scale`). :func:`refresh` repeats the walk for widgets made later (plots
are built on first show). Widgets that paint text in fonts of their own read :func:`font_scale`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, replace
from typing import Any, Optional

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget

from playground.ui.colours import ROLES
from playground.ui.type_scale import (
    OWNER_SCALES,
    FontSnapshot,
    refont,
    scale_axis,
    scale_text_item,
    scale_title,
    scaled_font,
    scaled_number,
)

THEMES = {"system": "System", "light": "Light", "dark": "Dark"}

BASE_STYLE = "_pg_base_style"  # dynamic properties: what the code set, and what we set instead
APPLIED_STYLE = "_pg_applied_style"
STYLE_TEMPLATE = "_pg_style_template"  # a style sheet with {role} placeholders (themed_style)

# A notice in a panel (a warning that the person can act on): amber, with its border.
AMBER_NOTICE = (
    "background: {amber_bg}; color: {amber_fg}; border: 1px solid {amber_border}; border-radius: 4px; padding: 4px 8px;"
)

_THEME_FOREGROUNDS = set(ROLES["plot_fg"])  # axes in one of these follow the theme; others chose their own
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")  # {muted}; never a rule's "{ color: ... }"


@dataclass(frozen=True)
class Look:
    theme: str = "system"  # "system", "light" or "dark"
    high_contrast: bool = False
    font_scale: float = 1.0


@dataclass
class _Saved:
    """The application as it was before the first change: what "system" and scale 1 go back to."""

    style: str
    palette: QPalette
    style_sheet: str
    font: QFont
    colour_scheme: Optional[Qt.ColorScheme]  # None on a Qt without colour schemes


_look = Look()
_saved: Optional[_Saved] = None
_app_font_base: Optional[QFont] = None
_dark: Optional[bool] = None  # whether the window is dark in the current look (None: not read yet)


def current_look() -> Look:
    return _look


def _app() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        raise RuntimeError("themes need a QApplication")
    return app


def _save_original(app: QApplication) -> _Saved:
    global _saved
    if _saved is None:
        hints = QGuiApplication.styleHints()
        _saved = _Saved(
            style=app.style().name(),
            palette=QPalette(app.palette()),
            style_sheet=app.styleSheet(),
            font=QFont(app.font()),
            colour_scheme=hints.colorScheme() if hasattr(hints, "colorScheme") else None,
        )
    return _saved


# ---------------------------------------------------------------------------------------------- palettes


def _set(palette: QPalette, role: QPalette.ColorRole, colour: str, disabled: Optional[str] = None) -> None:
    palette.setColor(QPalette.ColorGroup.All, role, QColor(colour))
    if disabled is not None:
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled))


def _index(dark: bool, high_contrast: bool) -> int:
    """Where a look's values stand in each role's tuple (colours.LOOKS)."""
    return (1 if dark else 0) + (2 if high_contrast else 0)


def _roles(dark: bool, high_contrast: bool) -> dict[str, str]:
    i = _index(dark, high_contrast)
    return {role: values[i] for role, values in ROLES.items()}


def dark_palette(high_contrast: bool = False) -> QPalette:
    c = _roles(True, high_contrast)
    p = QPalette()
    _set(p, QPalette.ColorRole.Window, c["window"])
    _set(p, QPalette.ColorRole.WindowText, c["text"], c["disabled_text"])
    _set(p, QPalette.ColorRole.Base, c["base"])
    _set(p, QPalette.ColorRole.AlternateBase, c["alt_base"])
    _set(p, QPalette.ColorRole.ToolTipBase, c["button"])
    _set(p, QPalette.ColorRole.ToolTipText, c["text"])
    _set(p, QPalette.ColorRole.PlaceholderText, c["placeholder"])
    _set(p, QPalette.ColorRole.Text, c["text"], c["disabled_text"])
    _set(p, QPalette.ColorRole.Button, c["button"])
    _set(p, QPalette.ColorRole.ButtonText, c["text"], c["disabled_text"])
    _set(p, QPalette.ColorRole.BrightText, c["bright_text"])
    _set(p, QPalette.ColorRole.Link, c["link"])
    _set(p, QPalette.ColorRole.LinkVisited, c["link"])
    _set(p, QPalette.ColorRole.Highlight, c["selection_bg"], c["frame_light"])
    _set(p, QPalette.ColorRole.HighlightedText, c["selection_fg"])
    for role, name in (
        (QPalette.ColorRole.Light, "frame_light"),
        (QPalette.ColorRole.Midlight, "frame_midlight"),
        (QPalette.ColorRole.Mid, "frame_mid"),
        (QPalette.ColorRole.Dark, "frame_dark"),
        (QPalette.ColorRole.Shadow, "frame_shadow"),
    ):
        _set(p, role, c[name])
    return p


def light_palette(high_contrast: bool = False) -> QPalette:
    """Fusion's standard palette; in high contrast, black on white with the roles' strong colours."""
    fusion = QStyleFactory.create("Fusion")
    p = QPalette(fusion.standardPalette()) if fusion is not None else QPalette()
    if high_contrast:
        c = _roles(False, True)
        _set(p, QPalette.ColorRole.Window, c["window"])
        _set(p, QPalette.ColorRole.WindowText, c["text"], c["disabled_text"])
        _set(p, QPalette.ColorRole.Base, c["base"])
        _set(p, QPalette.ColorRole.AlternateBase, c["alt_base"])
        _set(p, QPalette.ColorRole.Text, c["text"], c["disabled_text"])
        _set(p, QPalette.ColorRole.Button, c["button"])
        _set(p, QPalette.ColorRole.ButtonText, c["text"], c["disabled_text"])
        _set(p, QPalette.ColorRole.PlaceholderText, c["placeholder"])
        _set(p, QPalette.ColorRole.Highlight, c["selection_bg"])
        _set(p, QPalette.ColorRole.HighlightedText, c["selection_fg"])
        _set(p, QPalette.ColorRole.Link, c["link"])
        _set(p, QPalette.ColorRole.ToolTipBase, c["tooltip_bg"])
        _set(p, QPalette.ColorRole.ToolTipText, c["tooltip_fg"])
    return p


def palette_is_dark(palette: Optional[QPalette] = None) -> bool:
    palette = palette if palette is not None else _app().palette()
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def is_dark() -> bool:
    """True when the window is dark now (the dark theme, or a dark system theme)."""
    return palette_is_dark()


def _style_sheet(dark: bool, high_contrast: bool) -> str:
    c = _roles(dark, high_contrast)
    sheet = (
        f"QToolTip {{ color: {c['tooltip_fg']}; background-color: {c['tooltip_bg']}; "
        f"border: 1px solid {c['tooltip_border']}; padding: 2px; }}"
    )
    if high_contrast:
        sheet += " QGroupBox { font-weight: 600; }"
    return sheet


def plot_colours(look: Optional[Look] = None) -> tuple[str, str]:
    """(background, foreground) for pyqtgraph plots in `look` (now: the current one)."""
    look = look or _look
    c = _roles(is_dark(), look.high_contrast)
    return c["plot_bg"], c["plot_fg"]


# ---------------------------------------------------------------------------------------------- roles


def _look_index() -> int:
    global _dark
    if _dark is None:
        if QApplication.instance() is None:
            return _index(False, _look.high_contrast)  # no window yet: nothing is dark
        _dark = palette_is_dark()
    return _index(_dark, _look.high_contrast)


def colour(role: str) -> str:
    """The colour of `role` (see ``playground.ui.colours``) in the current look, as ``#rrggbb``."""
    return ROLES[role][_look_index()]


def qcolour(role: str, alpha: Optional[int] = None) -> QColor:
    """:func:`colour` as a QColor, with `alpha` (0-255) when given."""
    c = QColor(colour(role))
    if alpha is not None:
        c.setAlpha(alpha)
    return c


def render(template: str, /, **values: str) -> str:
    """`template` with each ``{role}`` replaced by its colour in the current look and each ``{name}``
    of `values` by that value (inserted as it is: it is never searched for placeholders itself)."""
    i = _look_index()

    def fill(match: re.Match) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else ROLES[name][i]  # a misspelt role is a KeyError

    return _PLACEHOLDER.sub(fill, template)


def themed_style(widget: QWidget, template: str) -> None:
    """Give `widget` the style sheet `template` (with ``{role}`` placeholders), rendered now and again
    whenever the look changes, its font sizes scaled with the look's. A plain ``setStyleSheet`` later
    replaces it."""
    widget.setProperty(STYLE_TEMPLATE, template)
    widget.setProperty(BASE_STYLE, None)
    widget.setProperty(APPLIED_STYLE, None)
    _restyle_sheet(widget, _look)


def themed_text(label, template: str, /, **values: str) -> None:
    """Set a rich-text `label`'s text to `template` rendered (see :func:`render`), and render it again
    whenever the look changes. `values` are put in as they are: escape what a person typed."""
    text = render(template, **values)
    label._pg_text = (template, values)
    label._pg_text_applied = text
    label.setText(text)


def _retext(widget: QWidget) -> None:
    spec = getattr(widget, "_pg_text", None)
    if spec is None:
        return
    label: Any = widget  # one themed_text() set: it has text(), setText() and the attributes it added
    if label.text() != label._pg_text_applied:
        label._pg_text = None  # the code set a text of its own since
        return
    text = render(spec[0], **spec[1])
    if text != label._pg_text_applied:
        label._pg_text_applied = text
        label.setText(text)


class LookNotifier(QObject):
    """Says when the look has changed (after the palette, the templates and the plots have followed)."""

    look_changed = Signal()


_notifier: Optional[LookNotifier] = None


def notifier() -> LookNotifier:
    global _notifier
    if _notifier is None:
        _notifier = LookNotifier()
    return _notifier


class _Follower(QObject):
    """Calls `redraw` on each change of look; a child of the widget, so it goes when the widget goes."""

    def __init__(self, parent: QObject, redraw) -> None:
        super().__init__(parent)
        self._redraw = redraw
        notifier().look_changed.connect(self.fire)

    @Slot()
    def fire(self) -> None:
        self._redraw()


def follow_look(widget: QObject, redraw) -> None:
    """Call `redraw()` after every change of look, for as long as `widget` lives: for colours a
    widget keeps (a text document's formats, table items, plot pens) rather than reads when painting."""
    _Follower(widget, redraw)


ITEM_COLOUR_ROLE = Qt.ItemDataRole.UserRole + 0x2C0  # item data: the colour role of a table item's text (themed_item)


def themed_item(item, role: Optional[str]) -> None:
    """Colour a table item's text with `role` (None: the table's own colour); its table follows the
    look when :func:`follow_item_colours` was called for it."""
    item.setData(ITEM_COLOUR_ROLE, role)
    item.setForeground(QBrush(qcolour(role)) if role else QBrush())


def follow_item_colours(table) -> None:
    """Recolour the items of `table` (a QTableWidget) coloured with :func:`themed_item` when the look changes."""

    def recolour() -> None:
        for r in range(table.rowCount()):
            for c in range(table.columnCount()):
                item = table.item(r, c)
                role = item.data(ITEM_COLOUR_ROLE) if item is not None else None
                if role:
                    item.setForeground(QBrush(qcolour(role)))

    follow_look(table, recolour)


# ---------------------------------------------------------------------------------------------- applying


def apply_look(look: Look) -> Look:
    """Make `look` the app's look, and re-style every widget. Returns the previous look."""
    global _look
    if look.theme not in THEMES:
        raise ValueError(f"unknown theme {look.theme!r}: choose one of {', '.join(THEMES)}")
    app = _app()
    saved = _save_original(app)
    global _dark
    previous, _look = _look, look
    hints = QGuiApplication.styleHints()

    if look.theme == "system" and not look.high_contrast:
        if hasattr(hints, "setColorScheme") and saved.colour_scheme is not None:
            hints.setColorScheme(saved.colour_scheme)
        if app.style().name().lower() != saved.style.lower():
            app.setStyle(saved.style)
        palette, sheet = saved.palette, saved.style_sheet
    else:
        dark = look.theme == "dark" or (look.theme == "system" and palette_is_dark(saved.palette))
        if hasattr(hints, "setColorScheme"):
            hints.setColorScheme(Qt.ColorScheme.Dark if dark else Qt.ColorScheme.Light)
        if app.style().name().lower() != "fusion":
            app.setStyle("Fusion")  # native styles (Windows 11, macOS) draw their own colours, not the palette's
        palette = dark_palette(look.high_contrast) if dark else light_palette(look.high_contrast)
        sheet = saved.style_sheet + _style_sheet(dark, look.high_contrast)
    # The order matters. The palette first, then the application style sheet goes: that re-polishes every
    # widget, so those with style sheets of their own take up the new palette too. Then the fonts, while no
    # application style sheet is set (with one, Qt does not pass a new font on to a widget's children);
    # then ours.
    global _fonts_at_scale_one
    if previous.font_scale == 1.0 and look.font_scale != 1.0:
        _fonts_at_scale_one = FontSnapshot()
    app.setPalette(palette)
    _dark = palette_is_dark(palette)
    app.setStyleSheet(saved.style_sheet)
    _scale_app_font(app, look.font_scale)
    for widget in QApplication.allWidgets():  # fonts set in code, also before the style sheet: see above
        refont(widget, look.font_scale)
    app.setStyleSheet(sheet)

    _configure_pyqtgraph()
    refresh(previous_scale=previous.font_scale)
    if look.font_scale == 1.0 and _fonts_at_scale_one is not None:  # after the style sheets' sizes came back
        _fonts_at_scale_one.restore(previous.font_scale)
        _fonts_at_scale_one = None
    notifier().look_changed.emit()
    return previous


_fonts_at_scale_one: Optional[FontSnapshot] = None  # every widget's font before the type grew


def set_theme(theme: str) -> Look:
    return apply_look(replace(_look, theme=theme))


def _scale_app_font(app: QApplication, scale: float) -> None:
    global _app_font_base
    if scale == 1.0:
        if _app_font_base is None:
            return
        font, _app_font_base = _app_font_base, None
    else:
        if _app_font_base is None:
            _app_font_base = QFont(app.font())
        font = scaled_font(_app_font_base, scale)
    app.setFont(font)
    # Qt tells the windows only once its event loop runs: tell them now, so the change is there at once
    # (and in tests); each window passes it on to its children.
    for window in app.topLevelWidgets():
        QApplication.sendEvent(window, QEvent(QEvent.Type.ApplicationFontChange))


def _configure_pyqtgraph() -> None:
    pg = sys.modules.get("pyqtgraph")  # never imported here: the window opens before pyqtgraph loads
    if pg is not None:
        background, foreground = plot_colours()
        pg.setConfigOptions(background=background, foreground=foreground)


# ---------------------------------------------------------------------------------------------- style sheets

_FONT_SIZE = re.compile(r"(font-size\s*:\s*)([0-9]*\.?[0-9]+)(\s*)(pt|px)", re.IGNORECASE)


def adjust_style_sheet(sheet: str, font_scale: float = 1.0) -> str:
    """`sheet` with its font sizes scaled by `font_scale` (its colours are the templates' business)."""
    if not sheet or font_scale == 1.0:
        return sheet
    return _FONT_SIZE.sub(
        lambda m: f"{m.group(1)}{scaled_number(m.group(2), font_scale, m.group(4))}{m.group(3)}{m.group(4)}", sheet
    )


def _restyle_sheet(widget: QWidget, look: Look) -> None:
    current = widget.styleSheet()
    template = widget.property(STYLE_TEMPLATE)
    base, applied = widget.property(BASE_STYLE), widget.property(APPLIED_STYLE)
    if applied is not None and current != applied:
        base = template = None  # the code set a new style sheet since: that is the base now
        widget.setProperty(STYLE_TEMPLATE, None)
    if template is not None:
        base = render(template)
    elif base is None:
        base = current
    if not base:
        return
    wanted = adjust_style_sheet(base, look.font_scale)
    if wanted == base and template is None:
        if widget.property(BASE_STYLE) is not None:
            widget.setProperty(BASE_STYLE, None)
            widget.setProperty(APPLIED_STYLE, None)
        if current != base:
            widget.setStyleSheet(base)
        return
    widget.setProperty(BASE_STYLE, base)
    widget.setProperty(APPLIED_STYLE, wanted)
    if current != wanted:
        widget.setStyleSheet(wanted)


# ---------------------------------------------------------------------------------------------- plots


def _style_plots(look: Look, previous_scale: float, widgets: list) -> None:
    pg = sys.modules.get("pyqtgraph")
    if pg is None:
        return
    background, foreground = plot_colours(look)
    app_font = _unscaled_app_font()  # the application's font at scale 1
    for widget in widgets:
        if not isinstance(widget, pg.GraphicsView):
            continue
        items = widget.scene().items() if widget.scene() is not None else []
        axes = [item for item in items if isinstance(item, pg.AxisItem)]
        if isinstance(widget, pg.PlotWidget):
            themed = getattr(widget, "_pg_follows_theme", None)
            if themed is None:  # decided once: plots that chose their own colours keep them
                themed = all(axis.textPen().color().name() in _THEME_FOREGROUNDS for axis in axes)
                widget._pg_follows_theme = themed
            if themed:
                widget.setBackground(background)
                for axis in axes:
                    axis.setPen(foreground)
                    axis.setTextPen(foreground)
                plot_item = widget.getPlotItem()
                title = plot_item.titleLabel
                title.setText(title.text, color=foreground)
                legend = plot_item.legend
                if legend is not None:
                    legend.setLabelTextColor(foreground)
                    for _sample, label in legend.items:
                        label.setText(label.text)
        for axis in axes:
            scale_axis(axis, look.font_scale, previous_scale, app_font)
        for item in items:
            if isinstance(item, pg.LabelItem):  # titles, legends, a layout's own labels
                scale_title(item, look.font_scale, app_font)
            elif isinstance(item, pg.TextItem) and not getattr(item, OWNER_SCALES, False):
                scale_text_item(item, look.font_scale, previous_scale, app_font)


def font_scale() -> float:
    """The look's font scale (1.5 in presentation mode): widgets that paint text in fonts of their own
    multiply their sizes by it, and redraw on :func:`follow_look`."""
    return _look.font_scale


def _unscaled_app_font() -> QFont:
    return QFont(_app_font_base) if _app_font_base is not None else QApplication.font()


# ---------------------------------------------------------------------------------------------- the walk


def refresh(root: Optional[QWidget] = None, previous_scale: Optional[float] = None) -> None:
    """Apply the current look to every widget (or to `root` and its children): style sheets and texts
    from templates, explicit fonts, plots. Cheap when nothing needs changing; call it after a panel
    builds widgets lazily."""
    if QApplication.instance() is None:
        return
    look = _look
    if root is None:
        widgets = QApplication.allWidgets()
    else:
        widgets = [root, *root.findChildren(QWidget)]
    for widget in widgets:
        _restyle_sheet(widget, look)
        _retext(widget)
        refont(widget, look.font_scale)
    _configure_pyqtgraph()
    _style_plots(look, look.font_scale if previous_scale is None else previous_scale, widgets)
