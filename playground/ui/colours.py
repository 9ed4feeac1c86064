"""Every colour the window uses, as named roles with a value for each look.

A role names what a colour is for (``muted`` text, an ``amber_bg`` notice, a
``series_blue`` curve), never what it looks like in one theme. Each has four
values, in the order of :data:`LOOKS`: light, dark, light high-contrast, dark
high-contrast. ``themes.colour(role)`` returns the current look's value; this
module is the only place in ``playground/ui`` that spells a colour.

Some surfaces keep their own background in every look, so their roles do not
change either:

- *paper*: heatmaps, the attention lines, the embedding map and the candidate
  bars are drawn on white, because their colour scales are made for white;
- *islands*: notices, the message bar, chips and the guided tour's card carry
  a light background of their own, with dark text on it, in every theme;
- the sidebar is dark navy in every theme.

The light values are the ones the app has always had (the light look is
unchanged); near-duplicates were merged into one role. Text roles meet WCAG
AA (4.5:1) against the background they are drawn on in every look
(:data:`TEXT_ON`, checked by the tests); the *faint* roles are inactive text
(cut, unused, dropped or disabled), which WCAG exempts, and stay faint on
purpose.
"""

from __future__ import annotations

LOOKS = ("light", "dark", "light_hc", "dark_hc")


def _same(value: str) -> tuple[str, str, str, str]:
    """A colour that stays the same in every look (paper, islands, chart series)."""
    return (value, value, value, value)


ROLES: dict[str, tuple[str, str, str, str]] = {
    # ---- the palette (light: Fusion's standard palette, set as it is; listed for the contrast checks)
    "window": ("#efefef", "#2b2e37", "#ffffff", "#000000"),
    "base": ("#ffffff", "#1f2128", "#ffffff", "#000000"),
    "alt_base": ("#f7f7f7", "#272a33", "#f0f0f0", "#141414"),
    "text": ("#000000", "#e6e8ee", "#000000", "#ffffff"),
    "disabled_text": ("#bebebe", "#7a7f8c", "#6b6b6b", "#b0b0b0"),
    "placeholder": ("#808080", "#7a7f8c", "#4a4a4a", "#b0b0b0"),
    "button": ("#efefef", "#363a46", "#eeeeee", "#1a1a1a"),
    "bright_text": ("#ffffff", "#ff6b6b", "#ffffff", "#ff6b6b"),
    "link": ("#0000ff", "#8ab8ff", "#0033cc", "#7fd0ff"),
    "selection_bg": ("#308cc6", "#3470d6", "#0033cc", "#ffd400"),
    "selection_fg": ("#ffffff", "#ffffff", "#ffffff", "#000000"),
    "frame_light": ("#ffffff", "#4a4f5c", "#ffffff", "#4a4f5c"),  # bevels of frames and buttons
    "frame_midlight": ("#cacaca", "#3d414d", "#cacaca", "#3d414d"),
    "frame_mid": ("#b8b8b8", "#2a2d36", "#b8b8b8", "#2a2d36"),
    "frame_dark": ("#9f9f9f", "#16181d", "#9f9f9f", "#16181d"),
    "frame_shadow": ("#767676", "#000000", "#767676", "#000000"),
    "tooltip_bg": ("#ffffe8", "#363a46", "#ffffdc", "#000000"),
    "tooltip_fg": ("#1a1a1a", "#e6e8ee", "#000000", "#ffffff"),
    "tooltip_border": ("#b8b8a0", "#555a66", "#000000", "#ffd400"),
    # ---- text on the window and in editors and tables
    "muted": ("#5f6368", "#bdc1c5", "#36383b", "#d7d9da"),  # notes, captions, hints (dark: AA on tab panes too)
    "body": ("#2b2f3a", "#c5c9d4", "#2b2f3a", "#d3d6de"),  # text a little softer than `text`
    "heading": ("#1d2a4d", "#b2bfe2", "#1d2a4d", "#c7d1ea"),  # big numbers and titles
    "error": ("#b3261e", "#f28b82", "#601410", "#f4c0bd"),
    "warning": ("#8a5a00", "#ffcf75", "#704900", "#ffe4b3"),
    "ok": ("#1e7b34", "#84e19a", "#165a26", "#c2f0cc"),
    "special_token": ("#8e44ad", "#c99ce0", "#422051", "#e0c8e9"),  # special tokens in the vocabulary
    "faint": ("#9a9a9a", "#6e7380", "#6b6b6b", "#8a8a8a"),  # inactive: dropped or unused text, arrows
    "ghost": ("#b5b9c4", "#5d6270", "#8c8c8c", "#6b6b6b"),  # inactive: a prompt cut off, struck through
    "readonly_bg": ("#f4f5f8", "#262932", "#f0f0f0", "#141414"),  # an editor the app fills, not the person
    "card_bg": ("#fafbfd", "#262932", "#ffffff", "#000000"),
    "card_border": ("#d6dae3", "#3d414d", "#767676", "#8a8a8a"),
    # ---- islands: a light background of their own, in every look
    "note_bg": _same("#e8f3ff"),  # the message bar's notices
    "note_fg": ("#0b4f8a", "#0b4f8a", "#083b68", "#083b68"),
    "note_border": _same("#a9c9ea"),
    "amber_bg": _same("#fff6e0"),  # warnings: the bar and notices in panels
    "amber_fg": ("#7a5500", "#7a5500", "#5c4000", "#5c4000"),
    "amber_border": _same("#e6cf8f"),
    "alert_bg": _same("#fdecea"),  # errors in the message bar
    "alert_fg": ("#8a1c12", "#8a1c12", "#63140d", "#63140d"),
    "alert_border": _same("#e0a39c"),
    "chip_bg": ("#eef0f5", "#3a3f4c", "#e6e6e6", "#262626"),  # a token named in running text
    "chip_fg": ("#000000", "#e6e8ee", "#000000", "#ffffff"),
    "picked_bg": _same("#ffedd2"),  # the token that was drawn
    "picked_fg": _same("#7a4300"),
    "picked_edge": _same("#e07b00"),
    "on_pastel": _same("#111111"),  # text on token chips and light shades
    "token_1": _same("#ffd6a5"),  # the token view's chips, cycled
    "token_2": _same("#caffbf"),
    "token_3": _same("#9bf6ff"),
    "token_4": _same("#bdb2ff"),
    "token_5": _same("#ffc6ff"),
    "token_6": _same("#fdffb6"),
    "token_7": _same("#a0c4ff"),
    "token_8": _same("#ffadad"),
    "special_bg": _same("#3a3a4a"),
    "special_fg": _same("#ffffff"),
    "unknown_bg": _same("#b3261e"),
    "unknown_fg": _same("#ffffff"),
    "token_edge": _same("#ffffff"),  # where two generated tokens meet
    "token_outline": _same("#1d3f9e"),  # the selected generated token
    "prob_1": _same("#f3a39b"),  # probability shades, unlikely → sure
    "prob_2": _same("#f8bd8a"),
    "prob_3": _same("#fbe08a"),
    "prob_4": _same("#d8eea0"),
    "prob_5": _same("#a6dea7"),
    "part_instruction": _same("#fbdcae"),  # the parts of a prompt
    "part_example_1": _same("#cfe2fb"),
    "part_example_2": _same("#b5d0f5"),
    "part_query": _same("#c8ebcf"),
    "cut_bg": _same("#ececec"),
    "cut_fg": _same("#8c8c8c"),
    "tour_bg": _same("#fffdf7"),
    "tour_fg": _same("#1d2130"),
    "tour_counter": ("#8a5a00", "#8a5a00", "#704900", "#704900"),
    "tour_button_bg": _same("#f3f1ea"),
    "tour_button_border": _same("#c9c3b3"),
    "tour_disabled": _same("#a7a39a"),
    "marker": _same("#f4a340"),  # orange: the current step, "now" lines
    "marker_edge": _same("#d88a24"),
    # ---- the sidebar: dark navy in every look
    "sidebar_bg": _same("#23283a"),
    "sidebar_fg": _same("#e8eaf2"),
    "sidebar_selected_bg": _same("#3b4466"),
    "sidebar_selected_fg": _same("#ffffff"),
    "sidebar_concept": ("#b9bed0", "#b9bed0", "#ffffff", "#ffffff"),
    "sidebar_scroll": ("#737b9c", "#737b9c", "#9aa1bd", "#9aa1bd"),  # the handle of its scroll bar
    # ---- paper: heatmaps, attention lines, the embedding map, the candidate bars
    "paper": _same("#ffffff"),
    "paper_text": _same("#2b2f3a"),
    "paper_muted": _same("#6b7080"),
    "paper_ghost": _same("#b4b8c2"),  # keys a query cannot look at
    "paper_border": _same("#d6dae3"),
    "paper_select": _same("#1565c0"),  # the selected head, query, hovered cell
    "paper_hover": _same("#ff9800"),
    "paper_mask": _same("#c9ccd4"),  # hatching where a query cannot look
    "paper_point": _same("#6e7891"),  # every token on the embedding map
    "paper_featured": _same("#3c465f"),  # common words named on the map
    "paper_neighbour": _same("#a85a00"),
    "paper_error": _same(
        "#b3261e"
    ),  # "removed", "N tokens left" on paper                            # the chosen token's neighbours' names
    "heat_1": _same("#fffaf0"),  # the attention colour scale, 0 → 1
    "heat_2": _same("#fde9c4"),
    "heat_3": _same("#fdbb6b"),
    "heat_4": _same("#f4743b"),
    "heat_5": _same("#c8262a"),
    "heat_6": _same("#4a0b1f"),
    "weight_high": _same("#ff8232"),  # the head summary's strongest shade
    # ---- charts that follow the theme
    "plot_bg": ("#ffffff", "#1f2128", "#ffffff", "#000000"),
    "plot_fg": ("#333333", "#c9cdd6", "#000000", "#ffffff"),
    "plot_muted": ("#6b7080", "#959aa7", "#33353d", "#d5d7dc"),
    "bar_edge": _same("#ffffff"),
    "bar_before": _same("#aeb7c9"),  # before the sampling filters; a parent run
    "bar_middle": _same("#7c9ad6"),
    "series_blue": _same("#2a6fdb"),  # training loss, after the filters
    "series_red": _same("#e4572e"),  # validation loss
    "series_purple": _same("#6a4c93"),  # the learning rate
    "cat_1": _same("#4e79a7"),  # categories (Tableau 10), in order
    "cat_2": _same("#a0cbe8"),
    "cat_3": _same("#f28e2b"),
    "cat_4": _same("#59a14f"),
    "cat_5": _same("#b07aa1"),
    "cat_6": _same("#e15759"),
    "cat_7": _same("#76b7b2"),
    "cat_8": _same("#edc948"),
    "series_green": _same("#3a9d4f"),  # masked-token accuracy
}

# Text roles and the backgrounds they are drawn on: each pair has a contrast of at least 4.5:1 in every look.
TEXT_ON: list[tuple[str, str]] = [
    ("text", "window"),
    ("text", "base"),
    ("text", "alt_base"),
    ("text", "button"),
    ("selection_fg", "selection_bg"),
    ("tooltip_fg", "tooltip_bg"),
    ("link", "base"),
    *((role, bg) for role in ("muted", "body", "heading", "error", "warning", "ok") for bg in ("window", "base")),
    ("special_token", "base"),
    ("special_token", "alt_base"),
    ("muted", "card_bg"),
    ("text", "readonly_bg"),
    ("note_fg", "note_bg"),
    ("amber_fg", "amber_bg"),
    ("alert_fg", "alert_bg"),
    ("chip_fg", "chip_bg"),
    ("picked_fg", "picked_bg"),
    ("special_fg", "special_bg"),
    ("unknown_fg", "unknown_bg"),
    *(("on_pastel", f"token_{i}") for i in range(1, 9)),
    *(("on_pastel", f"prob_{i}") for i in range(1, 6)),
    *(("on_pastel", part) for part in ("part_instruction", "part_example_1", "part_example_2", "part_query")),
    ("on_pastel", "heat_1"),
    ("on_pastel", "weight_high"),
    ("tour_fg", "tour_bg"),
    ("tour_fg", "tour_button_bg"),
    ("tour_counter", "tour_bg"),
    ("sidebar_fg", "sidebar_bg"),
    ("sidebar_selected_fg", "sidebar_selected_bg"),
    ("sidebar_concept", "sidebar_bg"),
    ("paper_text", "paper"),
    ("paper_muted", "paper"),
    ("paper_neighbour", "paper"),
    ("paper_featured", "paper"),
    ("paper", "paper_select"),
    ("paper_error", "paper"),
    ("error", "plot_bg"),
    ("plot_fg", "plot_bg"),
    ("plot_muted", "plot_bg"),
]


def relative_luminance(colour: str) -> float:
    """WCAG's relative luminance of a ``#rrggbb`` colour."""

    def channel(hex_pair: str) -> float:
        v = int(hex_pair, 16) / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG's contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
