"""The look of the app: light, dark or the system's theme, high contrast, and a font scale.

One :class:`Look` holds all three; :func:`apply_look` sets the palette, a small
style sheet and pyqtgraph's colours, scales the application font, and walks
every widget once so that what the panels fixed in code follows too:

- style sheets: ``font-size`` values are scaled, and a text ``color`` chosen for
  a light window (in a rule that sets no background of its own) is lightened on
  a dark one;
- fonts a panel set explicitly with a size (monospace editors) are scaled;
- pyqtgraph plots that use the default colours get the theme's background and
  foreground; every axis gets scaled tick and label fonts.

What each pass changed is remembered on the widget, so going back to the
default look restores exactly what the code had set. :func:`refresh` repeats
the walk for widgets made later (plots are built on first show).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, replace
from typing import Optional

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget

THEMES = {"system": "System", "light": "Light", "dark": "Dark"}
SIZE_RESOLVED = 0x2   # QFont::SizeResolved: the font names its own size (PySide6 does not export the enum)

BASE_STYLE = "_pg_base_style"        # dynamic properties: what the code set, and what we set instead
APPLIED_STYLE = "_pg_applied_style"
BASE_FONT = "_pg_base_font"
APPLIED_FONT = "_pg_applied_font"

PLOT_COLOURS = {  # (background, foreground) of pyqtgraph plots
    ("light", False): ("w", "#333"),
    ("dark", False): ("#1f2128", "#c9cdd6"),
    ("light", True): ("w", "#000000"),
    ("dark", True): ("#000000", "#ffffff"),
}

_THEME_FOREGROUNDS = {QColor(fg).name() for _bg, fg in PLOT_COLOURS.values()}


@dataclass(frozen=True)
class Look:
    theme: str = "system"         # "system", "light" or "dark"
    high_contrast: bool = False
    font_scale: float = 1.0


@dataclass
class _Saved:
    """The application as it was before the first change: what "system" and scale 1 go back to."""

    style: str
    palette: QPalette
    style_sheet: str
    font: QFont
    colour_scheme: object


_look = Look()
_saved: Optional[_Saved] = None
_app_font_base: Optional[QFont] = None


def current_look() -> Look:
    return _look


def _app() -> QApplication:
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("themes need a QApplication")
    return app


def _save_original(app: QApplication) -> _Saved:
    global _saved
    if _saved is None:
        hints = QGuiApplication.styleHints()
        _saved = _Saved(style=app.style().name(), palette=QPalette(app.palette()), style_sheet=app.styleSheet(),
                        font=QFont(app.font()),
                        colour_scheme=hints.colorScheme() if hasattr(hints, "colorScheme") else None)
    return _saved


# ---------------------------------------------------------------------------------------------- palettes


def _set(palette: QPalette, role: QPalette.ColorRole, colour: str, disabled: Optional[str] = None) -> None:
    palette.setColor(QPalette.All, role, QColor(colour))
    if disabled is not None:
        palette.setColor(QPalette.Disabled, role, QColor(disabled))


def dark_palette(high_contrast: bool = False) -> QPalette:
    p = QPalette()
    if high_contrast:
        window, base, alt, text, button, muted = "#000000", "#000000", "#141414", "#ffffff", "#1a1a1a", "#b0b0b0"
        highlight, highlighted, link = "#ffd400", "#000000", "#7fd0ff"
    else:
        window, base, alt, text, button, muted = "#2b2e37", "#1f2128", "#272a33", "#e6e8ee", "#363a46", "#7a7f8c"
        highlight, highlighted, link = "#3d7be0", "#ffffff", "#8ab8ff"
    _set(p, QPalette.Window, window)
    _set(p, QPalette.WindowText, text, muted)
    _set(p, QPalette.Base, base)
    _set(p, QPalette.AlternateBase, alt)
    _set(p, QPalette.ToolTipBase, button)
    _set(p, QPalette.ToolTipText, text)
    _set(p, QPalette.PlaceholderText, muted)
    _set(p, QPalette.Text, text, muted)
    _set(p, QPalette.Button, button)
    _set(p, QPalette.ButtonText, text, muted)
    _set(p, QPalette.BrightText, "#ff6b6b")
    _set(p, QPalette.Link, link)
    _set(p, QPalette.LinkVisited, link)
    _set(p, QPalette.Highlight, highlight, "#4a4f5c")
    _set(p, QPalette.HighlightedText, highlighted)
    for role, colour in ((QPalette.Light, "#4a4f5c"), (QPalette.Midlight, "#3d414d"), (QPalette.Mid, "#2a2d36"),
                         (QPalette.Dark, "#16181d"), (QPalette.Shadow, "#000000")):
        _set(p, role, colour)
    return p


def light_palette(high_contrast: bool = False) -> QPalette:
    fusion = QStyleFactory.create("Fusion")
    p = QPalette(fusion.standardPalette()) if fusion is not None else QPalette()
    if high_contrast:
        _set(p, QPalette.Window, "#ffffff")
        _set(p, QPalette.WindowText, "#000000", "#6b6b6b")
        _set(p, QPalette.Base, "#ffffff")
        _set(p, QPalette.AlternateBase, "#f0f0f0")
        _set(p, QPalette.Text, "#000000", "#6b6b6b")
        _set(p, QPalette.Button, "#eeeeee")
        _set(p, QPalette.ButtonText, "#000000", "#6b6b6b")
        _set(p, QPalette.PlaceholderText, "#4a4a4a")
        _set(p, QPalette.Highlight, "#0033cc")
        _set(p, QPalette.HighlightedText, "#ffffff")
        _set(p, QPalette.Link, "#0033cc")
        _set(p, QPalette.ToolTipBase, "#ffffdc")
        _set(p, QPalette.ToolTipText, "#000000")
    return p


def palette_is_dark(palette: Optional[QPalette] = None) -> bool:
    palette = palette if palette is not None else _app().palette()
    return palette.color(QPalette.Window).lightnessF() < 0.5


def is_dark() -> bool:
    """True when the window is dark now (the dark theme, or a dark system theme)."""
    return palette_is_dark()


def _style_sheet(dark: bool, high_contrast: bool) -> str:
    if dark:
        tip = "#ffffff; background-color: #000000; border: 1px solid #ffd400" if high_contrast else \
              "#e6e8ee; background-color: #363a46; border: 1px solid #555a66"
    else:
        tip = "#000000; background-color: #ffffdc; border: 1px solid #000000" if high_contrast else \
              "#1a1a1a; background-color: #ffffe8; border: 1px solid #b8b8a0"
    sheet = f"QToolTip {{ color: {tip}; padding: 2px; }}"
    if high_contrast:
        sheet += " QGroupBox { font-weight: 600; }"
    return sheet


def plot_colours(look: Optional[Look] = None) -> tuple[str, str]:
    """(background, foreground) for pyqtgraph plots in `look` (now: the current one)."""
    look = look or _look
    return PLOT_COLOURS[("dark" if is_dark() else "light", look.high_contrast)]


# ---------------------------------------------------------------------------------------------- applying


def apply_look(look: Look) -> Look:
    """Make `look` the app's look, and re-style every widget. Returns the previous look."""
    global _look
    if look.theme not in THEMES:
        raise ValueError(f"unknown theme {look.theme!r}: choose one of {', '.join(THEMES)}")
    app = _app()
    saved = _save_original(app)
    previous, _look = _look, look
    hints = QGuiApplication.styleHints()

    if look.theme == "system" and not look.high_contrast:
        if hasattr(hints, "setColorScheme"):
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
    app.setPalette(palette)
    app.setStyleSheet(saved.style_sheet)
    _scale_app_font(app, look.font_scale)
    for widget in QApplication.allWidgets():   # fonts set in code, also before the style sheet: see above
        _refont(widget, look.font_scale)
    app.setStyleSheet(sheet)

    _configure_pyqtgraph()
    refresh()
    return previous


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
        QApplication.sendEvent(window, QEvent(QEvent.ApplicationFontChange))


def scaled_font(font: QFont, scale: float) -> QFont:
    scaled = QFont(font)
    if font.pointSizeF() > 0:
        scaled.setPointSizeF(round(font.pointSizeF() * scale, 1))
    elif font.pixelSize() > 0:
        scaled.setPixelSize(max(1, round(font.pixelSize() * scale)))
    return scaled


def _configure_pyqtgraph() -> None:
    pg = sys.modules.get("pyqtgraph")  # never imported here: the window opens before pyqtgraph loads
    if pg is not None:
        background, foreground = plot_colours()
        pg.setConfigOptions(background=background, foreground=foreground)


# ---------------------------------------------------------------------------------------------- style sheets

_RULE = re.compile(r"([^{}]*)\{([^{}]*)\}")
_TEXT_COLOUR = re.compile(r"(?<![\w-])(color\s*:\s*)(#[0-9a-fA-F]{3,8}\b|white\b|black\b)", re.IGNORECASE)
_BACKGROUND = re.compile(r"background(?:-color)?\s*:\s*(#[0-9a-fA-F]{3,8}\b|white\b|black\b)", re.IGNORECASE)
_ANY_TEXT_COLOUR = re.compile(r"(?<![\w-])color\s*:", re.IGNORECASE)
_FONT_SIZE = re.compile(r"(font-size\s*:\s*)([0-9]*\.?[0-9]+)(\s*)(pt|px)", re.IGNORECASE)


def text_colour(colour: QColor, dark: bool, high_contrast: bool) -> QColor:
    """A text colour picked for a light window, made readable on the current one."""
    h, s, lightness, a = colour.getHslF()
    h = max(0.0, h)
    if dark:
        if lightness < 0.55:
            lightness = max(1.0 - lightness, 0.62)
        if high_contrast:
            lightness = max(lightness, 0.85)
    elif high_contrast:
        lightness = min(lightness, 0.22)
    return QColor.fromHslF(h, s, lightness, a)


def readable(colour: str) -> str:
    """A colour picked for a light window, as a name readable on the current look (for rich text)."""
    return text_colour(QColor(colour), is_dark(), current_look().high_contrast).name()


def adjust_style_sheet(sheet: str, font_scale: float = 1.0, dark: bool = False, high_contrast: bool = False) -> str:
    """`sheet` with its font sizes scaled and its text readable on the window (see the module's note).

    On a dark window, text colours in rules without a background of their own are lightened, unless the
    sheet paints a light background (a message bar): its text stays dark. A light background whose sheet
    names no text colour at all gets dark text, for it and its labels."""
    if not sheet:
        return sheet
    light_sheet = _paints_light(sheet)
    on_dark = dark and not light_sheet
    chose_colours = bool(_ANY_TEXT_COLOUR.search(sheet))

    def declarations(text: str) -> str:
        if (on_dark or high_contrast) and "background" not in text.lower():
            text = _TEXT_COLOUR.sub(
                lambda m: m.group(1) + text_colour(QColor(m.group(2)), on_dark, high_contrast).name(), text)
        elif dark and not chose_colours and _paints_light(text):
            text = text.rstrip().rstrip(";") + "; color: #1a1a1a;"
        if font_scale != 1.0:
            text = _FONT_SIZE.sub(lambda m: f"{m.group(1)}{_scaled_number(m.group(2), font_scale, m.group(4))}"
                                            f"{m.group(3)}{m.group(4)}", text)
        return text

    if "{" not in sheet:
        return declarations(sheet)   # bare declarations: they apply to the widget's children too

    def rule(m: re.Match) -> str:
        selector, body = m.group(1), m.group(2)
        text = f"{selector}{{{declarations(body)}}}"
        if dark and not chose_colours and _paints_light(body):
            # A rule's colour reaches only the widgets it names: its labels need their own.
            labels = ", ".join(f"{part.strip()} QLabel" for part in selector.split(",") if part.strip())
            text += f" {labels} {{ color: #1a1a1a; }}"
        return text

    return _RULE.sub(rule, sheet)


def _scaled_number(number: str, scale: float, unit: str) -> str:
    value = float(number) * scale
    return str(round(value)) if unit.lower() == "px" else f"{value:.1f}".rstrip("0").rstrip(".")


def _paints_light(sheet: str) -> bool:
    match = _BACKGROUND.search(sheet)
    return match is not None and QColor(match.group(1)).lightnessF() > 0.6


def _on_light_background(widget: QWidget) -> bool:
    """True when an ancestor's style sheet paints a light background under `widget` (a white plot page):
    its dark text stays dark there."""
    parent = widget.parentWidget()
    while parent is not None:
        sheet = parent.property(BASE_STYLE) or parent.styleSheet()
        if sheet and _BACKGROUND.search(sheet):
            return _paints_light(sheet)
        parent = parent.parentWidget()
    return False


def _restyle_sheet(widget: QWidget, look: Look, dark: bool) -> None:
    current = widget.styleSheet()
    base, applied = widget.property(BASE_STYLE), widget.property(APPLIED_STYLE)
    if base is not None and current != applied:
        base = None  # the code set a new style sheet since: that is the base now
    if base is None:
        base = current
    if not base:
        return
    if dark and "color" in base and _on_light_background(widget):
        dark = False   # its text sits on a light background an ancestor paints (a white plot page)
    wanted = adjust_style_sheet(base, look.font_scale, dark, look.high_contrast)
    if wanted == base:
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


def _refont(widget: QWidget, scale: float) -> None:
    if not widget.testAttribute(Qt.WA_SetFont):
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


def _style_plots(look: Look) -> None:
    pg = sys.modules.get("pyqtgraph")
    if pg is None:
        return
    background, foreground = plot_colours(look)
    app_font = QApplication.font()
    for widget in QApplication.allWidgets():
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
            _scale_axis(axis, look.font_scale, app_font)
        for item in items:
            if isinstance(item, pg.PlotItem):
                _scale_title(item.titleLabel, look.font_scale)
            elif isinstance(item, pg.LegendItem):
                for _sample, label in item.items:
                    _scale_title(label, look.font_scale)


_UNSET = object()


def _scale_axis(axis, scale: float, app_font: QFont) -> None:
    if axis.label is None:  # closed
        return
    base_tick = getattr(axis, "_pg_base_tick_font", _UNSET)
    if scale == 1.0:
        if base_tick is not _UNSET:
            axis.setTickFont(base_tick)
            axis.label.setFont(axis._pg_base_label_font)
            axis._updateLabel()
            del axis._pg_base_tick_font, axis._pg_base_label_font
        return
    if base_tick is _UNSET:
        axis._pg_base_tick_font = base_tick = axis.style.get("tickFont")
        axis._pg_base_label_font = QFont(axis.label.font())
    axis.setTickFont(scaled_font(base_tick, scale) if base_tick is not None else QFont(app_font))
    axis.label.setFont(scaled_font(axis._pg_base_label_font, scale))
    axis._updateLabel()


def _scale_title(label, scale: float) -> None:
    base = getattr(label, "_pg_base_size", _UNSET)
    if base is _UNSET:
        if scale == 1.0:
            return
        label._pg_base_size = base = label.opts.get("size")
    size = base
    if scale != 1.0 and base:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(pt|px)\s*", str(base))
        if match:
            size = f"{_scaled_number(match.group(1), scale, match.group(2))}{match.group(2)}"
    if size:
        label.setText(label.text, size=size)
    if scale == 1.0:
        del label._pg_base_size


# ---------------------------------------------------------------------------------------------- the walk


def refresh(root: Optional[QWidget] = None) -> None:
    """Apply the current look to every widget (or to `root` and its children): style sheets, explicit
    fonts, plots. Cheap when nothing needs changing; call it after a panel builds widgets lazily."""
    if QApplication.instance() is None:
        return
    look = _look
    dark = is_dark()
    if root is None:
        widgets = QApplication.allWidgets()
    else:
        widgets = [root, *root.findChildren(QWidget)]
    for widget in widgets:
        _restyle_sheet(widget, look, dark)
        _refont(widget, look.font_scale)
    _configure_pyqtgraph()
    _style_plots(look)
