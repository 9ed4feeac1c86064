"""The Generate step's sampling settings: a preset, the strategy, the settings that reshape the
distribution, beam search, length and stopping, and the seed, each with a tooltip saying what it does.

`SamplingControls.settings()` is the `SamplingSettings` the controls describe; `changed` fires on
every edit, after the preset name, the enabled state and the problems line are brought up to date.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.core.sampling_settings import PRESETS, SamplingSettings
from playground.ui.themes import themed_style

# The fields a preset sets; length, stop strings and seed stay as the person chose them.
PRESET_FIELDS = ("strategy", "temperature", "top_k", "top_p", "min_p", "repetition_penalty")
PRESET_ORDER = ("deterministic", "balanced", "creative")
PRESET_TIPS = {
    "deterministic": "Greedy: always the most likely token. The same prompt gives the same text every time.",
    "balanced": "Sampling at temperature 0.8 from the 50 best tokens (top-p 0.95), with a mild repetition "
    "penalty: varied but sensible text.",
    "creative": "Sampling at temperature 1.1 from almost the whole distribution: surprising, sometimes odd.",
    "custom": "Your own mix: the settings below no longer match a preset.",
}
STRATEGIES = [
    ("greedy", "Greedy", "Always take the most likely next token. Repeatable, but often dull and repetitive."),
    (
        "sample",
        "Sample",
        "Draw the next token at random, in proportion to its probability (after the settings "
        "below reshape the distribution). Varied text; the seed makes it repeatable.",
    ),
    (
        "beam",
        "Beam search",
        "Follow several continuations at once and keep the ones whose tokens together are "
        "most likely. Good for short, 'correct' answers; results appear in the Beams tab.",
    ),
]
TIPS = {
    "preset": "Ready-made settings. Choose one, then change anything: the preset turns into 'custom'.",
    "strategy": "How the next token is picked from the model's probabilities.",
    "temperature": "Divides every score before the softmax. Below 1 sharpens the distribution (safer, more "
    "repetitive text); above 1 flattens it (more surprising, more mistakes).",
    "top_k": "Keep only the k most likely tokens and draw among them. Lower it to cut off odd tokens; "
    "'off' keeps every token.",
    "top_p": "Nucleus sampling: keep the smallest set of best tokens whose probabilities add up to p. "
    "Lower it (0.9) to drop the long tail of unlikely tokens; 1 is off.",
    "min_p": "Keep only tokens at least this fraction as likely as the best one. Adapts to the model's "
    "confidence: when it is sure, little else survives. 'off' at 0.",
    "repetition_penalty": "Tokens already in the text lose score, so the model repeats itself less. "
    "Raise it (1.1–1.3) against loops; 1 is off. Works for every strategy.",
    "beams": "How many continuations beam search keeps at each step. More beams search wider but take longer.",
    "length_penalty": "Beams are ranked by log-probability ÷ length^this. Above 1 favours longer texts, "
    "below 1 shorter ones (log-probabilities only fall as a text grows).",
    "early_stopping": "A beam is finished when it writes the end-of-text token, and only finished beams are "
    "shown (unless Max new tokens cuts the search). On: stop as soon as there are as many "
    "finished beams as beams. Off: search on while a live beam could still beat the worst "
    "finished one (a better answer, more steps).",
    "max_new_tokens": "The most tokens the model writes before it is stopped.",
    "stop_strings": "Stop as soon as the text contains one of these. Separate them by commas or new lines; "
    "write \\n for a line break, \\s for a space, \\, for a comma. Spaces around each are ignored.",
    "stop_at_end": "Stop when the model writes the end-of-text token, as it learned to do between documents.",
    "seed": "The random seed: the same seed, prompt and settings give the same text. Change it for another draw.",
    "random_seed": "A fresh random draw every time (no fixed seed).",
}
WHY_OFF = {
    "sample": "Used only when sampling: greedy and beam search just rank tokens, and this setting never changes "
    "which token ranks first.",
    "beam": "Used only by beam search.",
    "seed": "Only sampling is random: greedy and beam search give the same text every time.",
    "stop_strings": "Beam search does not look for stop strings.",
}


def distribution_key(settings: SamplingSettings) -> tuple:
    """What decides the next-token distribution (and so the stages of the step-by-step view)."""
    return tuple(getattr(settings, f) for f in PRESET_FIELDS)


def parse_stop_strings(text: str) -> tuple[str, ...]:
    """Stop strings from a comma- or line-separated list; \\n, \\t, \\s, \\, and \\\\ are escapes."""
    raw_items: list[str] = []
    for line in text.splitlines():
        item, i = [], 0
        while i < len(line):
            if line[i] == "\\" and i + 1 < len(line):
                item.append(line[i : i + 2])
                i += 2
            elif line[i] == ",":
                raw_items.append("".join(item))
                item, i = [], i + 1
            else:
                item.append(line[i])
                i += 1
        raw_items.append("".join(item))
    escapes = {"n": "\n", "t": "\t", "s": " ", ",": ",", "\\": "\\"}
    found = []
    for raw in raw_items:
        raw, out, i = raw.strip(), [], 0
        while i < len(raw):
            if raw[i] == "\\" and i + 1 < len(raw):
                out.append(escapes.get(raw[i + 1], raw[i : i + 2]))
                i += 2
            else:
                out.append(raw[i])
                i += 1
        value = "".join(out)
        if value and value not in found:
            found.append(value)
    return tuple(found)


def format_stop_strings(strings) -> str:
    """The text `parse_stop_strings` reads back as `strings`."""

    def one(s: str) -> str:
        s = s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace(",", "\\,")
        core = s.strip(" ")
        lead, trail = len(s) - len(s.lstrip(" ")), len(s) - len(s.rstrip(" "))
        return "\\s" * lead + core + "\\s" * trail if core else "\\s" * len(s)

    return ", ".join(one(s) for s in strings)


class SamplingControls(QWidget):
    """The sampling settings, in five numbered boxes, and a line listing what cannot work."""

    changed = Signal()  # the settings changed (after the preset, enabled state and problems were updated)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._labels: dict[str, QLabel] = {}
        self._ready = False  # edits count once the presets are in
        self._updating = False  # set_settings moves many controls: one `changed` at the end
        self._template_stop = ""  # the stop string the last prompt template added (its example separator)
        self._build()
        self._fill_presets()

    def advanced_widgets(self) -> list[QWidget]:
        """Controls presentation mode hides: the less common sampling settings."""
        return [self.min_p, self.repetition_penalty, self.beam_box, self.stop_strings, self.stop_at_end, self.seed_box]

    def _build(self) -> None:
        cl = QVBoxLayout(self)

        box = QGroupBox("1 · Strategy")
        form = QFormLayout(box)
        self.preset = QComboBox()
        self.preset.setToolTip(TIPS["preset"])
        self.preset.activated.connect(self._preset_chosen)
        self.strategy = QComboBox()
        for i, (key, label, tip) in enumerate(STRATEGIES):
            self.strategy.addItem(label, key)
            self.strategy.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.strategy.setToolTip(TIPS["strategy"] + " " + " ".join(f"{label}: {tip}" for _, label, tip in STRATEGIES))
        self.strategy.currentIndexChanged.connect(self._edited)
        self._row(form, "Preset", self.preset, "preset")
        self._row(form, "Strategy", self.strategy, "strategy")
        cl.addWidget(box)

        box = QGroupBox("2 · Reshape the distribution")
        form = QFormLayout(box)
        self.temperature = self._dspin(0.0, 5.0, 0.05, 2)
        self.top_k = self._spin(0, 100_000, off_at_min=True)
        self.top_p = self._dspin(0.0, 1.0, 0.05, 2)
        self.min_p = self._dspin(0.0, 0.99, 0.01, 2, off_at_min=True)
        self.repetition_penalty = self._dspin(0.0, 5.0, 0.05, 2)
        self._row(form, "Temperature", self.temperature, "temperature")
        self._row(form, "Top-k", self.top_k, "top_k")
        self._row(form, "Top-p", self.top_p, "top_p")
        self._row(form, "Min-p", self.min_p, "min_p")
        self._row(form, "Repetition penalty", self.repetition_penalty, "repetition_penalty")
        cl.addWidget(box)

        self.beam_box = box = QGroupBox("3 · Beam search")
        form = QFormLayout(box)
        self.beams = self._spin(1, 32)
        self.length_penalty = self._dspin(-3.0, 5.0, 0.1, 2)
        self.early_stopping = QCheckBox("Early stopping")
        self.early_stopping.toggled.connect(self._edited)
        self._row(form, "Beams", self.beams, "beams")
        self._row(form, "Length penalty", self.length_penalty, "length_penalty")
        self._row(form, "", self.early_stopping, "early_stopping")
        cl.addWidget(box)

        box = QGroupBox("4 · Length and stopping")
        form = QFormLayout(box)
        self.max_new_tokens = self._spin(1, 100_000)
        self.stop_strings = QPlainTextEdit()
        self.stop_strings.setPlaceholderText("e.g. \\n\\n, Input:")
        self.stop_strings.setTabChangesFocus(True)
        self.stop_strings.setFixedHeight(48)
        self.stop_strings.textChanged.connect(self._edited)
        self.stop_at_end = QCheckBox("Stop at end-of-text")
        self.stop_at_end.toggled.connect(self._edited)
        self._row(form, "Max new tokens", self.max_new_tokens, "max_new_tokens")
        self._row(form, "Stop strings", self.stop_strings, "stop_strings")
        self._row(form, "", self.stop_at_end, "stop_at_end")
        cl.addWidget(box)

        self.seed_box = box = QGroupBox("5 · Randomness")
        form = QFormLayout(box)
        self.seed = self._spin(0, 2**31 - 1)
        self.seed.setGroupSeparatorShown(False)
        self.random_seed = QCheckBox("random")
        self.random_seed.toggled.connect(self._edited)
        row = QHBoxLayout()
        row.addWidget(self.seed, 1)
        row.addWidget(self.random_seed)
        seed_row = QWidget()
        seed_row.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        self._row(form, "Seed", seed_row, "seed")
        self.random_seed.setToolTip(TIPS["random_seed"])
        cl.addWidget(box)

        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        themed_style(self.problems_label, "color: {error};")
        self.problems_label.hide()
        cl.addWidget(self.problems_label)
        cl.addStretch(1)

    def _row(self, form: QFormLayout, label: str, widget: QWidget, key: str) -> None:
        caption = QLabel(label)
        caption.setToolTip(TIPS[key])
        widget.setToolTip(TIPS[key])
        self._labels[key] = caption
        form.addRow(caption, widget)

    def _spin(self, lo: int, hi: int, off_at_min: bool = False) -> QSpinBox:
        w = QSpinBox()
        w.setRange(lo, hi)
        w.setGroupSeparatorShown(True)
        if off_at_min:
            w.setSpecialValueText("off")
        w.valueChanged.connect(self._edited)
        return w

    def _dspin(self, lo: float, hi: float, step: float, decimals: int, off_at_min: bool = False) -> QDoubleSpinBox:
        w = QDoubleSpinBox()
        w.setRange(lo, hi)
        w.setDecimals(decimals)
        w.setSingleStep(step)
        if off_at_min:
            w.setSpecialValueText("off")
        w.valueChanged.connect(self._edited)
        return w

    def _fill_presets(self) -> None:
        """The preset list, and the balanced preset in the controls."""
        self._ready = True
        for name in PRESET_ORDER:
            self.preset.addItem(name, name)
            self.preset.setItemData(self.preset.count() - 1, PRESET_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self.preset.addItem("custom", "custom")
        self.preset.setItemData(self.preset.count() - 1, PRESET_TIPS["custom"], Qt.ItemDataRole.ToolTipRole)
        self.set_settings(replace(PRESETS["balanced"], max_new_tokens=100))

    # ------------------------------------------------------------------ the settings

    def settings(self) -> SamplingSettings:
        """The SamplingSettings the controls describe."""
        return SamplingSettings(
            strategy=self.strategy.currentData(),
            temperature=round(self.temperature.value(), 4),
            top_k=self.top_k.value(),
            top_p=round(self.top_p.value(), 4),
            min_p=round(self.min_p.value(), 4),
            repetition_penalty=round(self.repetition_penalty.value(), 4),
            beams=self.beams.value(),
            length_penalty=round(self.length_penalty.value(), 4),
            early_stopping=self.early_stopping.isChecked(),
            max_new_tokens=self.max_new_tokens.value(),
            stop_strings=parse_stop_strings(self.stop_strings.toPlainText()),
            seed=None if self.random_seed.isChecked() else self.seed.value(),
            stop_at_end=self.stop_at_end.isChecked(),
        )

    def set_settings(self, s: SamplingSettings) -> None:
        """Show SamplingSettings `s` in the controls."""
        self._updating = True
        try:
            self.strategy.setCurrentIndex(max(0, self.strategy.findData(s.strategy)))
            self.temperature.setValue(s.temperature)
            self.top_k.setValue(s.top_k)
            self.top_p.setValue(s.top_p)
            self.min_p.setValue(s.min_p)
            self.repetition_penalty.setValue(s.repetition_penalty)
            self.beams.setValue(s.beams)
            self.length_penalty.setValue(s.length_penalty)
            self.early_stopping.setChecked(s.early_stopping)
            self.max_new_tokens.setValue(max(1, s.max_new_tokens))
            if parse_stop_strings(self.stop_strings.toPlainText()) != tuple(s.stop_strings):
                self.stop_strings.setPlainText(format_stop_strings(s.stop_strings))
            self.random_seed.setChecked(s.seed is None)
            if s.seed is not None:
                self.seed.setValue(s.seed)
            self.stop_at_end.setChecked(s.stop_at_end)
        finally:
            self._updating = False
        self._edited()

    def use_template_stop(self, separator: str) -> None:
        """Stop at a prompt template's example separator, so a few-shot answer ends where the next
        example would begin instead of inventing one; it replaces the previous template's and is written
        in the Stop strings box, where the learner sees it (and can remove it)."""
        stops = [s for s in parse_stop_strings(self.stop_strings.toPlainText()) if s != self._template_stop]
        added = bool(separator) and separator not in stops
        if added:
            stops.append(separator)
        self._template_stop = separator if added else ""
        self.stop_strings.setPlainText(format_stop_strings(stops))

    def preset_name(self) -> str:
        """The preset the controls match, or "custom"."""
        current = self.settings()
        for name in PRESET_ORDER:
            preset = PRESETS[name]
            if all(getattr(preset, f) == getattr(current, f) for f in PRESET_FIELDS):
                return name
        return "custom"

    def apply_preset(self, name: str) -> None:
        """Set the strategy and distribution controls from preset `name`; length, stops and seed stay."""
        preset = PRESETS[name]
        self.set_settings(replace(self.settings(), **{f: getattr(preset, f) for f in PRESET_FIELDS}))

    def _preset_chosen(self, index: int) -> None:
        name = self.preset.itemData(index)
        if name in PRESET_ORDER:
            self.apply_preset(name)

    def _edited(self, *_) -> None:
        if self._updating or not self._ready:
            return
        s = self.settings()
        name = self.preset_name()
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(self.preset.findData(name))
        self.preset.blockSignals(False)
        self.preset.setToolTip(TIPS["preset"] + " Now: " + PRESET_TIPS[name])
        self._enable_for_strategy(s.strategy)
        problems = s.problems()
        self.problems_label.setText("<br>".join(f"⚠ {p}" for p in problems))
        self.problems_label.setVisible(bool(problems))
        self.changed.emit()

    def _enable_for_strategy(self, strategy: str) -> None:
        groups = {
            "temperature": strategy == "sample",
            "top_k": strategy == "sample",
            "top_p": strategy == "sample",
            "min_p": strategy == "sample",
            "beams": strategy == "beam",
            "length_penalty": strategy == "beam",
            "early_stopping": strategy == "beam",
            "seed": strategy == "sample",
            "stop_strings": strategy != "beam",
        }
        widgets = {
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "min_p": self.min_p,
            "beams": self.beams,
            "length_penalty": self.length_penalty,
            "early_stopping": self.early_stopping,
            "seed": self.seed,
            "stop_strings": self.stop_strings,
        }
        for key, on in groups.items():
            why = WHY_OFF[
                "sample"
                if key in ("temperature", "top_k", "top_p", "min_p")
                else "beam"
                if key in ("beams", "length_penalty", "early_stopping")
                else key
            ]
            tip = TIPS[key] + ("" if on else f"<br><i>Off now: {why}</i>")
            widget = widgets[key]
            widget.setEnabled(on)
            widget.setToolTip(tip)
            self._labels[key].setEnabled(on)
            self._labels[key].setToolTip(tip)
        self.random_seed.setEnabled(strategy == "sample")
        self.seed.setEnabled(strategy == "sample" and not self.random_seed.isChecked())
        self.random_seed.setToolTip(
            TIPS["random_seed"] + ("" if strategy == "sample" else f"<br><i>Off now: {WHY_OFF['seed']}</i>")
        )
