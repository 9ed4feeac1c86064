"""The Generate step's comparisons: texts generated side by side in columns.

`SamplesTab`: several samples of one prompt with different seeds. `CompareTab`:
a template's zero-shot and few-shot prompts. Both show their columns in a `ColumnsArea`,
and say what each column generates from (`start_runs`); the panel runs them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout, QWidget

from playground.core.prompts import MODE_LABELS, PromptTemplate
from playground.core.sampling_settings import SamplingSettings
from playground.ui.themes import themed_style, themed_text
from playground.ui.widgets.generated_text import GeneratedTextView

INPUT_TIP = "The input its encoder read; the output its decoder wrote follows the arrow."


class OutputColumn(QFrame):
    """One column of a side-by-side comparison: a title, a notice and a generated-text view."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("column")
        themed_style(self, "#column { border: 1px solid {card_border}; border-radius: 5px; background: {card_bg}; }")
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        themed_style(self.notice, "background: {amber_bg}; color: {amber_fg}; padding: 3px; border-radius: 3px;")
        self.notice.hide()
        self.view = GeneratedTextView()
        self.view.setMinimumWidth(120)
        self.caption = ""
        self.prompt_tokens: Optional[int] = None
        self.read_what = "prompt"  # "input" for an encoder-decoder
        layout = QVBoxLayout(self)
        layout.setContentsMargins(5, 5, 5, 5)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.notice)
        layout.addWidget(self.view, 1)

    def set_caption(self, caption: str, prompt_tokens: Optional[int] = None) -> None:
        self.caption = caption
        self.prompt_tokens = prompt_tokens
        self.update_title()

    def update_title(self) -> None:
        parts = [f"<b>{self.caption}</b>"]
        if self.prompt_tokens is not None:
            parts.append(f"{self.prompt_tokens:,} {self.read_what} tokens")
        n = self.view.token_count()
        if n:
            parts.append(f"{n:,} new tokens")
        self.title.setText(" · ".join(parts))

    def show_prompt(self, prompt) -> None:
        """A `PromptPrepared`: the prompt as the model reads it, and a notice when it was cut. An
        encoder-decoder's input (an `InputPrepared`) shows what its encoder reads, and its output below."""
        from playground.core.generation_jobs import InputPrepared  # a job is running: PyTorch is loaded

        if isinstance(prompt, InputPrepared):
            self.read_what = "input"
            self.view.set_prompt(prompt.shown + "\n→ ", tooltip=INPUT_TIP)
        else:
            self.read_what = "prompt"
            self.view.set_prompt(prompt.shown, prompt.cut)
        self.notice.setText(prompt.prepared.notice)
        self.notice.setVisible(bool(prompt.prepared.notice))
        self.set_caption(self.caption, len(prompt.prepared.ids))


class ColumnsArea(QWidget):
    """A row of `columns`, filled from a job's ColumnPrompt and ColumnToken records."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.columns: list[OutputColumn] = []
        self.specials: dict[int, str] = {}
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)

    def start(self, captions: list[str]) -> None:
        """One empty column per caption (reusing the columns there are)."""
        while len(self.columns) > len(captions):
            column = self.columns.pop()
            self._layout.removeWidget(column)
            column.deleteLater()
        while len(self.columns) < len(captions):
            column = OutputColumn()
            column.view.specials = self.specials
            column.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            self._layout.addWidget(column, 1)
            self.columns.append(column)
        for column, caption in zip(self.columns, captions):
            column.view.clear_all()
            column.notice.hide()
            column.set_caption(caption)

    def clear(self) -> None:
        for column in self.columns:
            column.view.clear_all()
            column.update_title()

    def set_specials(self, specials: dict[int, str]) -> None:
        self.specials = specials
        for column in self.columns:
            column.view.specials = specials

    def show_prompt(self, column: int, prompt) -> None:
        self.columns[column].show_prompt(prompt)

    def add_token(self, column: int, token) -> None:
        self.columns[column].view.append_token(token)
        self.columns[column].update_title()


class SamplesTab(QWidget):
    """How many samples, a button, a note on what the strategy makes of them, and the columns."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.count = QSpinBox()
        self.count.setRange(2, 6)
        self.count.setValue(3)
        self.count.setToolTip("How many samples to draw, each with the next seed (seed, seed + 1, …).")
        self.button = QPushButton("Generate samples")
        self.button.setToolTip(
            "Continue the prompt several times with the same settings and different "
            "seeds, and show the texts side by side."
        )
        self.note = QLabel()
        self.note.setWordWrap(True)
        themed_style(self.note, "color: {muted};")
        row = QHBoxLayout()
        row.addWidget(QLabel("Samples"))
        row.addWidget(self.count)
        row.addWidget(self.button)
        row.addWidget(self.note, 1)
        self.area = ColumnsArea()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.area, 1)

    def update_for(self, strategy: str, can_start: bool) -> None:
        """The button's state and text, and the note, for the strategy on the left."""
        self.button.setEnabled(can_start and strategy != "beam")
        self.button.setText(f"Generate {self.count.value()} samples")
        if strategy == "beam":
            note = "Side by side works with greedy and sample: choose one of them on the left."
        elif strategy == "greedy":
            note = (
                "Greedy ignores the seed, so every sample is the same text: choose the strategy "
                "'Sample' to see the draws differ."
            )
        else:
            note = "Each sample uses the next seed: seed, seed + 1, …"
        self.note.setText(note)

    def start_runs(self, text: str, settings: SamplingSettings, seeds: list[int]) -> list[tuple[str, SamplingSettings]]:
        """Empty columns for samples of `text` with `seeds`, and each sample's (prompt, settings)."""
        self.area.start([f"seed {seed}" if settings.strategy == "sample" else "greedy" for seed in seeds])
        return [(text, replace(settings, seed=seed)) for seed in seeds]


class CompareTab(QWidget):
    """Which template is compared, a button, and the two columns."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.template_label = QLabel()
        self.template_label.setWordWrap(True)
        self.template_label.setTextFormat(Qt.TextFormat.RichText)
        self.button = QPushButton("Generate both")
        self.button.setToolTip(
            "Generate from the template without its examples (zero-shot) and with "
            "them, with the same settings and seed, side by side."
        )
        row = QHBoxLayout()
        row.addWidget(self.template_label, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)
        self.area = ColumnsArea()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.area, 1)
        self.template: Optional[PromptTemplate] = None  # from the Prompt step: compared with itself zero-shot
        self.set_template(None)

    def set_template(self, template: Optional[PromptTemplate]) -> None:
        """Keep `template` to compare, and say which it is (or how to send one)."""
        self.template = template
        if template is None:
            themed_text(
                self.template_label,
                "<b>Send a few-shot prompt from the Prompt panel first.</b><br>"
                "<span style='color:{muted}'>Then this tab generates from the same template twice, side "
                "by side: once with no examples (zero-shot) and once with its examples, so you can see what "
                "the examples change.</span>",
            )
            return
        name = getattr(template, "name", "") or "the template"
        themed_text(
            self.template_label,
            "<b>Template:</b> {name}<br><span style='color:{muted}'>Left: zero-shot (no examples). "
            "Right: {other_mode} (its own mode). Same settings and seed for both.</span>",
            name=name,
            other_mode=self.other_mode(),
        )

    def other_mode(self) -> str:
        """The mode the right column renders the template in: its own, few-shot when that is zero-shot."""
        mode = getattr(self.template, "mode", "few-shot") or "few-shot"
        return "few-shot" if mode == "zero-shot" else mode

    def start_runs(self, settings: SamplingSettings) -> list[tuple[str, SamplingSettings]]:
        """Empty columns for the template zero-shot and in its own mode, and each one's (prompt, settings).
        Raises what rendering the template raises, before the columns change."""
        assert self.template is not None  # the panel asks for one first
        modes = ["zero-shot", self.other_mode()]
        texts = [self.template.render(mode=mode).text for mode in modes]
        self.area.start([MODE_LABELS.get(mode, mode) for mode in modes])
        return [(text, settings) for text in texts]
