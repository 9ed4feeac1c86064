"""The Generate step: prompt the trained model and watch it write, token by token.

Sampling settings on the left (with presets); on the right the prompt, the
text streaming in with every token shaded by its probability, the candidates
of a clicked token, a step-by-step view of how each setting reshapes the
distribution, beam search's beams, and two comparisons: several samples side
by side, and a template's zero-shot and few-shot prompts side by side.

All model work runs in jobs (`engine.jobs.Job`), one generation at a time.
PyTorch is imported lazily (the window opens before it is loaded): this
module and its widgets import `core.sampling` only when they first need it.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from typing import Callable, Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout,
                               QFrame, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit, QPushButton,
                               QScrollArea, QSizePolicy, QSpinBox, QSplitter, QStackedWidget, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from playground.core.sampling_settings import PRESETS, SamplingSettings
from playground.engine.jobs import Job
from playground.engine.session import GeneratedText, Session
from playground.ui.widgets.candidate_chart import CandidateChart
from playground.ui.widgets.generated_text import GeneratedTextView, ProbabilityLegend, percent, token_label
from playground.ui.widgets.no_model import NoModelPage
from playground.ui.widgets.stage_charts import StagesView

ERROR_COLOUR = "#b3261e"
AMBER_BG, AMBER_FG = "#fff4db", "#7a5200"
MUTED_COLOUR = "#5f6368"

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
    ("sample", "Sample", "Draw the next token at random, in proportion to its probability (after the settings "
                         "below reshape the distribution). Varied text; the seed makes it repeatable."),
    ("beam", "Beam search", "Follow several continuations at once and keep the ones whose tokens together are "
                            "most likely. Good for short, 'correct' answers; results appear in the Beams tab."),
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
MODE_LABELS = {"zero-shot": "Zero-shot", "one-shot": "One-shot", "few-shot": "Few-shot",
               "chain-of-thought": "Chain of thought", "instruction": "Plain instruction"}
STOP_LABELS = {
    "max new tokens": "Stopped: max new tokens",
    "the end-of-text token": "Stopped: the end-of-text token",
    "a stop string": "Stopped: a stop string",
}


def parse_stop_strings(text: str) -> tuple[str, ...]:
    """Stop strings from a comma- or line-separated list; \\n, \\t, \\s, \\, and \\\\ are escapes."""
    raw_items: list[str] = []
    for line in text.splitlines():
        item, i = [], 0
        while i < len(line):
            if line[i] == "\\" and i + 1 < len(line):
                item.append(line[i:i + 2])
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
                out.append(escapes.get(raw[i + 1], raw[i:i + 2]))
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


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _gather_attention(so_far, token):
    """The text's attention so far with `token`'s rows added; None when generation handed none over."""
    if token.attention is None:
        return None
    from playground.core.attention_records import AttentionSoFar

    return (so_far or AttentionSoFar()).add(token.attention)


def _sampling():
    from playground.core import sampling  # imports torch: only once a model is about
    return sampling


class OutputColumn(QFrame):
    """One column of a side-by-side comparison: a title, a notice and a generated-text view."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("column")
        self.setStyleSheet("#column { border: 1px solid #d6dae3; border-radius: 5px; background: #fafbfd; }")
        self.title = QLabel()
        self.title.setTextFormat(Qt.RichText)
        self.title.setWordWrap(True)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet(f"background: {AMBER_BG}; color: {AMBER_FG}; padding: 3px; border-radius: 3px;")
        self.notice.hide()
        self.view = GeneratedTextView()
        self.view.setMinimumWidth(120)
        self.caption = ""
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
        if getattr(self, "prompt_tokens", None) is not None:
            parts.append(f"{self.prompt_tokens:,} prompt tokens")
        n = self.view.token_count()
        if n:
            parts.append(f"{n:,} new tokens")
        self.title.setText(" · ".join(parts))


class GeneratePanel(QWidget):
    """Prompt box, sampling controls, the streaming output and the views that explain it."""

    title = "Generate"
    concept = (
        "<b>Generation</b><br>For every next token the model gives a probability to each token of its "
        "vocabulary. A <i>decoding strategy</i> picks one: greedy takes the most likely, sampling draws at "
        "random, beam search follows several continuations at once.<br><br><i>Temperature</i>, <i>top-k</i> "
        "and <i>top-p</i> reshape the distribution before the draw: sharper for safe text, flatter for "
        "surprises.")

    EXPLAIN_DELAY_MS = 150

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.job: Optional[Job] = None          # the generation job: one at a time
        self.job_kind = ""
        self.explain_job: Optional[Job] = None  # recomputing the stages of the selected token
        self._explain_pending = False
        self._run = 0                           # bumped per job and per model change: stale partials are dropped
        self._stopped_because = ""
        self._generator = None                  # torch.Generator kept across Generate and Step
        self._generator_seed: object = None
        self._prompt_ids: list[int] = []        # what the model read before the tokens in `output`
        self._seen_ids: list[int] = []          # prompt + tokens, as told to the Attention Lab
        self._seen_attention = None             # their attention, when generation hands it over (AttentionSoFar)
        self._attention_wanted = False          # the running generation hands its attention over
        self._seen_texts: list[str] = []
        self._output_prompt: Optional[str] = None  # the prompt text those ids came from
        self._first_token_at = self._last_token_at = 0.0
        self._run_key: Optional[tuple] = None    # the distribution settings of the Generate run in `output`
        self._step_keys: dict[int, tuple] = {}   # ... and of each token made by Step
        self._shown_key: Optional[tuple] = None  # ... and of the stages on show
        self._template = session.prompt
        self._specials: dict[int, str] = {}     # special token ids -> a readable name
        self._cancelled = False
        self._settings_ready = False            # the controls react to edits once the presets are in
        self._updating = False
        self._build()
        self._fill_presets()
        self._explain_timer = QTimer(self, singleShot=True, interval=self.EXPLAIN_DELAY_MS,
                                     timeout=self._explain_selected)
        self._count_timer = QTimer(self, singleShot=True, interval=250, timeout=self._count_prompt)
        session.checkpoint_changed.connect(self._checkpoint_changed)
        session.prompt_sent.connect(self.set_template)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop_and_wait)
        if self._template is not None:
            self.set_template(self._template)
        self._update_template_label()
        self._checkpoint_changed(session.checkpoint)

    def advanced_widgets(self) -> list[QWidget]:
        """Controls presentation mode hides: the less common sampling settings."""
        return [self.min_p, self.repetition_penalty, self.beams.parentWidget(),   # the beam search box
                self.stop_strings, self.stop_at_end, self.seed.parentWidget().parentWidget()]  # the seed box

    # ================================================================== layout

    def _build(self) -> None:
        scroll = QScrollArea()
        scroll.setWidget(self._controls())
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(300)
        scroll.setMaximumWidth(330)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)

        self.header = QLabel()
        self.header.setTextFormat(Qt.RichText)
        self.header.setStyleSheet("font-size: 10.5pt; padding: 2px 0;")
        self.pages = QStackedWidget()
        self.pages.addWidget(self._empty_state())
        self.pages.addWidget(self._work_area())
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.header)
        rl.addWidget(self.pages, 1)

        layout = QHBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(right, 1)

        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.generate)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self.generate)
        QShortcut(QKeySequence("Ctrl+Shift+Return"), self, activated=self.step)
        QShortcut(QKeySequence(Qt.Key_Escape), self, activated=self.stop)

    def _controls(self) -> QWidget:
        controls = QWidget()
        cl = QVBoxLayout(controls)
        self._labels: dict[str, QLabel] = {}

        box = QGroupBox("1 · Strategy")
        form = QFormLayout(box)
        self.preset = QComboBox()
        self.preset.setToolTip(TIPS["preset"])
        self.preset.activated.connect(self._preset_chosen)
        self.strategy = QComboBox()
        for i, (key, label, tip) in enumerate(STRATEGIES):
            self.strategy.addItem(label, key)
            self.strategy.setItemData(i, tip, Qt.ToolTipRole)
        self.strategy.setToolTip(TIPS["strategy"] + " " + " ".join(f"{label}: {tip}" for _, label, tip in STRATEGIES))
        self.strategy.currentIndexChanged.connect(self._settings_changed)
        self._row(form, "Preset", self.preset, "preset")
        self._row(form, "Strategy", self.strategy, "strategy")
        cl.addWidget(box)

        box = QGroupBox("2 · Reshape the distribution")
        form = QFormLayout(box)
        self.temperature = self._dspin(0.0, 5.0, 0.05, 2, "temperature")
        self.top_k = self._spin(0, 100_000, "top_k", off_at_min=True)
        self.top_p = self._dspin(0.0, 1.0, 0.05, 2, "top_p")
        self.min_p = self._dspin(0.0, 0.99, 0.01, 2, "min_p", off_at_min=True)
        self.repetition_penalty = self._dspin(0.0, 5.0, 0.05, 2, "repetition_penalty")
        self._row(form, "Temperature", self.temperature, "temperature")
        self._row(form, "Top-k", self.top_k, "top_k")
        self._row(form, "Top-p", self.top_p, "top_p")
        self._row(form, "Min-p", self.min_p, "min_p")
        self._row(form, "Repetition penalty", self.repetition_penalty, "repetition_penalty")
        cl.addWidget(box)

        box = QGroupBox("3 · Beam search")
        form = QFormLayout(box)
        self.beams = self._spin(1, 32, "beams")
        self.length_penalty = self._dspin(-3.0, 5.0, 0.1, 2, "length_penalty")
        self.early_stopping = QCheckBox("Early stopping")
        self.early_stopping.toggled.connect(self._settings_changed)
        self._row(form, "Beams", self.beams, "beams")
        self._row(form, "Length penalty", self.length_penalty, "length_penalty")
        self._row(form, "", self.early_stopping, "early_stopping")
        cl.addWidget(box)

        box = QGroupBox("4 · Length and stopping")
        form = QFormLayout(box)
        self.max_new_tokens = self._spin(1, 100_000, "max_new_tokens")
        self.stop_strings = QPlainTextEdit()
        self.stop_strings.setPlaceholderText("e.g. \\n\\n, Input:")
        self.stop_strings.setTabChangesFocus(True)
        self.stop_strings.setFixedHeight(48)
        self.stop_strings.textChanged.connect(self._settings_changed)
        self.stop_at_end = QCheckBox("Stop at end-of-text")
        self.stop_at_end.toggled.connect(self._settings_changed)
        self._row(form, "Max new tokens", self.max_new_tokens, "max_new_tokens")
        self._row(form, "Stop strings", self.stop_strings, "stop_strings")
        self._row(form, "", self.stop_at_end, "stop_at_end")
        cl.addWidget(box)

        box = QGroupBox("5 · Randomness")
        form = QFormLayout(box)
        self.seed = self._spin(0, 2**31 - 1, "seed")
        self.seed.setGroupSeparatorShown(False)
        self.random_seed = QCheckBox("random")
        self.random_seed.toggled.connect(self._settings_changed)
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
        self.problems_label.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.problems_label.hide()
        cl.addWidget(self.problems_label)
        cl.addStretch(1)
        return controls

    def _row(self, form: QFormLayout, label: str, widget: QWidget, key: str) -> None:
        caption = QLabel(label)
        caption.setToolTip(TIPS[key])
        widget.setToolTip(TIPS[key])
        self._labels[key] = caption
        form.addRow(caption, widget)

    def _spin(self, lo: int, hi: int, key: str, off_at_min: bool = False) -> QSpinBox:
        w = QSpinBox()
        w.setRange(lo, hi)
        w.setGroupSeparatorShown(True)
        if off_at_min:
            w.setSpecialValueText("off")
        w.valueChanged.connect(self._settings_changed)
        return w

    def _dspin(self, lo: float, hi: float, step: float, decimals: int, key: str,
               off_at_min: bool = False) -> QDoubleSpinBox:
        w = QDoubleSpinBox()
        w.setRange(lo, hi)
        w.setDecimals(decimals)
        w.setSingleStep(step)
        if off_at_min:
            w.setSpecialValueText("off")
        w.valueChanged.connect(self._settings_changed)
        return w

    def _empty_state(self) -> NoModelPage:
        page = NoModelPage(
            self.session, "No model to generate with yet",
            "Generation needs a trained model. Load the small demo model that ships with the playground to "
            "try it now, or train your own in the Train step: it becomes the model here as soon as training "
            "saves a checkpoint.")
        self.empty_state = page
        self.demo_button, self.train_button = page.demo_button, page.train_button
        return page

    def _work_area(self) -> QWidget:
        page = QWidget()
        self.work_area = page
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("Type the start of a text for the model to continue, or send a "
                                            "prompt from the Prompt step.")
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.Monospace)
        mono.setPointSize(10)
        self.prompt_edit.setFont(mono)
        self.prompt_edit.setFixedHeight(66)
        self.prompt_edit.setToolTip("The prompt: the model continues this text. Ctrl+Enter generates.")
        self.prompt_edit.textChanged.connect(self._prompt_edited)
        self.prompt_count = QLabel()
        self.prompt_count.setStyleSheet(f"color: {MUTED_COLOUR};")
        self.prompt_count.setToolTip("How many tokens the prompt is, against how many the model can read at once.")
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet(f"background: {AMBER_BG}; color: {AMBER_FG}; padding: 4px 6px; "
                                  "border: 1px solid #e6cf8f; border-radius: 4px;")
        self.notice.hide()
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Prompt</b>"))
        top.addStretch(1)
        top.addWidget(self.prompt_count)

        self.generate_button = QPushButton("▶  Generate")
        self.generate_button.setToolTip("Continue the prompt with the settings on the left (Ctrl+Enter).")
        self.generate_button.clicked.connect(self.generate)
        self.step_button = QPushButton("+1  Step")
        self.step_button.clicked.connect(self.step)
        self.stop_button = QPushButton("■  Stop")
        self.stop_button.setToolTip("Stop generating now and keep what is there (Esc).")
        self.stop_button.clicked.connect(self.stop)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Clear the output, so that Step starts again from the prompt.")
        self.clear_button.clicked.connect(self.clear_output)
        self.status = QLabel()
        self.status.setStyleSheet("color: #2b2f3a;")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.generate_button, self.step_button, self.stop_button, self.clear_button):
            b.setMinimumHeight(30)
            buttons.addWidget(b)
        buttons.addSpacing(8)
        buttons.addWidget(self.status, 1)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.output_tab = self._output_tab()
        self.beams_tab = self._beams_tab()
        self.samples_tab = self._samples_tab()
        self.compare_tab = self._compare_tab()
        self.tabs.addTab(self.output_tab, "Output")
        self.tabs.addTab(self.beams_tab, "Beams")
        self.tabs.addTab(self.samples_tab, "Samples side by side")
        self.tabs.addTab(self.compare_tab, "Zero-shot vs few-shot")
        self.tabs.setTabToolTip(0, "The generated text; click a token to see its candidates and how it was chosen.")
        self.tabs.setTabToolTip(1, "Beam search's best continuations (choose the strategy 'Beam search').")
        self.tabs.setTabToolTip(2, "Several samples of the same prompt with different seeds.")
        self.tabs.setTabToolTip(3, "The template from the Prompt step with and without its examples.")

        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.prompt_edit)
        layout.addWidget(self.notice)
        layout.addLayout(buttons)
        layout.addWidget(self.tabs, 1)
        return page

    def _output_tab(self) -> QWidget:
        self.output = GeneratedTextView()
        self.output.token_selected.connect(self._token_selected)
        self.legend = ProbabilityLegend()
        text_side = QWidget()
        tl = QVBoxLayout(text_side)
        tl.setContentsMargins(0, 4, 0, 0)
        tl.setSpacing(2)
        tl.addWidget(self.legend)
        tl.addWidget(self.output, 1)
        self.candidate_chart = CandidateChart()
        chart_scroll = QScrollArea()
        chart_scroll.setWidget(self.candidate_chart)
        chart_scroll.setWidgetResizable(True)
        chart_scroll.setFrameShape(QScrollArea.NoFrame)
        chart_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        chart_scroll.setMinimumWidth(280)
        top = QSplitter(Qt.Horizontal)
        top.addWidget(text_side)
        top.addWidget(chart_scroll)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setSizes([470, 340])

        self.stages = StagesView()
        stages_box = QGroupBox("Step by step: how the settings reshape the next-token distribution")
        stages_box.setToolTip("Each chart is the distribution after one more setting, in the order they are "
                              "applied; the title says how many tokens are still possible.")
        sl = QVBoxLayout(stages_box)
        sl.setContentsMargins(6, 4, 6, 4)
        sl.addWidget(self.stages)
        split = QSplitter(Qt.Vertical)
        split.addWidget(top)
        split.addWidget(stages_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([330, 250])
        split.setChildrenCollapsible(False)
        return split

    def _beams_tab(self) -> QWidget:
        page = QWidget()
        about = QLabel("Beam search keeps the most likely continuations at every step and ranks them by "
                       "<b>score</b> = log-probability ÷ length<sup>length penalty</sup>. A log-probability is "
                       "the sum of the log of each token's probability: closer to 0 is likelier. "
                       "Choose the strategy <i>Beam search</i> on the left and press Generate.")
        about.setWordWrap(True)
        about.setStyleSheet(f"color: {MUTED_COLOUR};")
        self.beams_table = QTableWidget(0, 5)
        headers = [("#", "Rank: best score first."),
                   ("Continuation", "What the beam adds after the prompt (↵ is a line break)."),
                   ("log-prob", "Sum of the log-probabilities of its tokens: 0 would be certain, lower is "
                                "less likely."),
                   ("score", "log-prob ÷ length^length penalty: what finished beams are ranked by (beams still "
                              "searching are ranked by their log-prob)."),
                   ("finished", "Whether the beam ended with the end-of-text token (else it hit the length "
                                "limit, was cut by Stop, or is still being searched).")]
        for c, (name, tip) in enumerate(headers):
            item = QTableWidgetItem(name)
            item.setToolTip(tip)
            self.beams_table.setHorizontalHeaderItem(c, item)
        self.beams_table.verticalHeader().hide()
        self.beams_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.beams_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.beams_table.setWordWrap(True)
        self.beams_table.setAlternatingRowColors(True)
        header = self.beams_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        for c in (2, 3, 4):
            header.setSectionResizeMode(c, QHeaderView.ResizeToContents)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.Monospace)
        mono.setPointSize(10)
        self._mono = mono
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 6, 4, 4)
        layout.addWidget(about)
        layout.addWidget(self.beams_table, 1)
        return page

    def _samples_tab(self) -> QWidget:
        page = QWidget()
        self.samples_count = QSpinBox()
        self.samples_count.setRange(2, 6)
        self.samples_count.setValue(3)
        self.samples_count.setToolTip("How many samples to draw, each with the next seed (seed, seed + 1, …).")
        self.samples_button = QPushButton("Generate samples")
        self.samples_button.setToolTip("Continue the prompt several times with the same settings and different "
                                       "seeds, and show the texts side by side.")
        self.samples_button.clicked.connect(self.generate_samples)
        self.samples_note = QLabel()
        self.samples_note.setWordWrap(True)
        self.samples_note.setStyleSheet(f"color: {MUTED_COLOUR};")
        row = QHBoxLayout()
        row.addWidget(QLabel("Samples"))
        row.addWidget(self.samples_count)
        row.addWidget(self.samples_button)
        row.addWidget(self.samples_note, 1)
        self.sample_columns: list[OutputColumn] = []
        self.samples_area = QHBoxLayout()
        self.samples_area.setSpacing(6)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 6, 4, 4)
        layout.addLayout(row)
        layout.addLayout(self.samples_area, 1)
        return page

    def _compare_tab(self) -> QWidget:
        page = QWidget()
        self.template_label = QLabel()
        self.template_label.setWordWrap(True)
        self.template_label.setTextFormat(Qt.RichText)
        self.compare_button = QPushButton("Generate both")
        self.compare_button.setToolTip("Generate from the template without its examples (zero-shot) and with "
                                       "them, with the same settings and seed, side by side.")
        self.compare_button.clicked.connect(self.compare_prompts)
        row = QHBoxLayout()
        row.addWidget(self.template_label, 1)
        row.addWidget(self.compare_button, 0, Qt.AlignTop)
        self.compare_columns: list[OutputColumn] = []
        self.compare_area = QHBoxLayout()
        self.compare_area.setSpacing(6)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 6, 4, 4)
        layout.addLayout(row)
        layout.addLayout(self.compare_area, 1)
        return page

    # ================================================================== settings

    def _fill_presets(self) -> None:
        """The preset list, and the balanced preset in the controls."""
        self._settings_ready = True
        for name in PRESET_ORDER:
            self.preset.addItem(name, name)
            self.preset.setItemData(self.preset.count() - 1, PRESET_TIPS[name], Qt.ToolTipRole)
        self.preset.addItem("custom", "custom")
        self.preset.setItemData(self.preset.count() - 1, PRESET_TIPS["custom"], Qt.ToolTipRole)
        self.set_settings(replace(PRESETS["balanced"], max_new_tokens=100))

    def settings(self):
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

    def set_settings(self, s) -> None:
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
        self._settings_changed()

    def preset_name(self) -> str:
        """The preset the sampling controls match, or "custom"."""
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

    def _settings_changed(self, *_) -> None:
        if self._updating or not self._settings_ready:
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
        self._update_buttons()
        if self.output.selected_token() is not None and self._dist_key(s) != self._shown_key:
            self._explain_timer.start(self.EXPLAIN_DELAY_MS)

    @staticmethod
    def _dist_key(settings) -> tuple:
        """What decides the next-token distribution (and so the stages)."""
        return tuple(getattr(settings, f) for f in PRESET_FIELDS)

    def _enable_for_strategy(self, strategy: str) -> None:
        groups = {
            "temperature": strategy == "sample", "top_k": strategy == "sample", "top_p": strategy == "sample",
            "min_p": strategy == "sample", "beams": strategy == "beam", "length_penalty": strategy == "beam",
            "early_stopping": strategy == "beam", "seed": strategy == "sample",
            "stop_strings": strategy != "beam",
        }
        widgets = {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p,
                   "min_p": self.min_p, "beams": self.beams, "length_penalty": self.length_penalty,
                   "early_stopping": self.early_stopping, "seed": self.seed, "stop_strings": self.stop_strings}
        for key, on in groups.items():
            why = WHY_OFF["sample" if key in ("temperature", "top_k", "top_p", "min_p") else
                          "beam" if key in ("beams", "length_penalty", "early_stopping") else key]
            tip = TIPS[key] + ("" if on else f"<br><i>Off now: {why}</i>")
            widget = widgets[key]
            widget.setEnabled(on)
            widget.setToolTip(tip)
            self._labels[key].setEnabled(on)
            self._labels[key].setToolTip(tip)
        self.random_seed.setEnabled(strategy == "sample")
        self.seed.setEnabled(strategy == "sample" and not self.random_seed.isChecked())
        self.random_seed.setToolTip(TIPS["random_seed"] + ("" if strategy == "sample" else
                                                           f"<br><i>Off now: {WHY_OFF['seed']}</i>"))

    # ================================================================== model and prompt

    def _checkpoint_changed(self, checkpoint) -> None:
        if self.job is not None:
            self._stopped_because = "the model changed"
            self.job.cancel()
        if self.explain_job is not None:
            self.explain_job.cancel()
        self._run += 1
        self._reset_outputs()
        specials = {}
        if checkpoint is not None:
            name = checkpoint.name
            loss = f" · val loss {checkpoint.val_loss:.2f}" if checkpoint.val_loss is not None else ""
            cfg = checkpoint.model_config
            self.header.setText(
                f"<b>Model:</b> {name} · step {checkpoint.step:,}{loss} · reads up to "
                f"{cfg.context_length:,} tokens · vocabulary {checkpoint.tokenizer.vocab_size:,}")
            self.header.setToolTip(f"The model the Generate step uses (the latest you trained or loaded).\n"
                                   f"{checkpoint.path}")
            for token in checkpoint.tokenizer.special_tokens:
                token_id = checkpoint.tokenizer.tokenizer.token_to_id(token)
                if token_id is not None:
                    specials[token_id] = "⟨end of text⟩" if token == "<|endoftext|>" else token
            self.pages.setCurrentWidget(self.work_area)
        else:
            self.header.setText("<b>Model:</b> none loaded yet")
            self.header.setToolTip("")
            self.pages.setCurrentWidget(self.empty_state)
        for view in (self.output, self.candidate_chart, self.stages):
            view.specials = specials
        self._specials = specials
        self._count_prompt()
        self._update_buttons()

    def clear_output(self) -> None:
        """Empty the Output tab (and forget the random state), so Step starts from the prompt again."""
        if self.job is None:
            self._reset_outputs()
            self._update_buttons()

    def _reset_outputs(self) -> None:
        self.output.clear_all()
        self.candidate_chart.set_token(None)
        self.stages.set_stages([], None, "")
        self.beams_table.setRowCount(0)
        for column in self.sample_columns + self.compare_columns:
            column.view.clear_all()
            column.update_title()
        self._prompt_ids, self._output_prompt = [], None
        self._generator, self._generator_seed = None, None
        self._run_key, self._step_keys, self._shown_key = None, {}, None
        self.status.setText("")
        self.notice.hide()

    def set_template(self, template) -> None:
        """A prompt template from the Prompt step: its text goes in the prompt box, and it is kept for the
        zero-shot vs few-shot comparison."""
        self._template = template
        try:
            text = template.render().text
        except Exception as e:  # a template the Prompt step could not render: say so, keep the old prompt
            self.session.error(f"The prompt template could not be rendered: {e}")
            text = None
        if text is not None:
            self.prompt_edit.setPlainText(text)
        self._update_template_label()
        self._update_buttons()

    def _other_mode(self) -> str:
        mode = getattr(self._template, "mode", "few-shot") or "few-shot"
        return "few-shot" if mode == "zero-shot" else mode

    def _update_template_label(self) -> None:
        t = self._template
        if t is None:
            self.template_label.setText(
                "<b>Send a few-shot prompt from the Prompt panel first.</b><br>"
                f"<span style='color:{MUTED_COLOUR}'>Then this tab generates from the same template twice, side "
                "by side: once with no examples (zero-shot) and once with its examples, so you can see what "
                "the examples change.</span>")
            return
        name = getattr(t, "name", "") or "the template"
        self.template_label.setText(
            f"<b>Template:</b> {name}<br><span style='color:{MUTED_COLOUR}'>Left: zero-shot (no examples). "
            f"Right: {self._other_mode()} (its own mode). Same settings and seed for both.</span>")

    def _prompt_edited(self) -> None:
        self.notice.hide()
        self._count_timer.start()

    def _count_prompt(self) -> None:
        checkpoint = self.session.checkpoint
        if checkpoint is None:
            self.prompt_count.setText("")
            return
        text = self.prompt_edit.toPlainText()
        context = checkpoint.model_config.context_length
        if len(text) > 200_000:  # counting would hold up typing; the model reads only the end anyway
            self.prompt_count.setText(f"<span style='color:{AMBER_FG}'><b>{len(text):,} characters</b>: the "
                                      f"model reads the last {context:,} tokens</span>")
            return
        n = len(checkpoint.tokenizer.encode_ids([text])[0]) if text else 0
        if n > context:
            self.prompt_count.setText(f"<span style='color:{AMBER_FG}'><b>{n:,} tokens</b>: the model reads the "
                                      f"last {context:,}</span>")
        else:
            self.prompt_count.setText(f"{n:,} of {context:,} tokens")

    # ================================================================== state

    def readiness_problem(self) -> Optional[str]:
        if self.session.checkpoint is None:
            return "Load the demo model or train a model first."
        problems = self.settings().problems()
        return " ".join(problems) if problems else None

    def _update_buttons(self) -> None:
        if not hasattr(self, "generate_button"):
            return
        idle = self.job is None
        ok = self.readiness_problem() is None
        strategy = self.strategy.currentData()
        self.generate_button.setEnabled(idle and ok)
        self.step_button.setEnabled(idle and ok and strategy != "beam")
        self.step_button.setToolTip(
            "Generate exactly one token and show, step by step, how each setting reshaped the distribution "
            "it was drawn from (Ctrl+Shift+Enter)." +
            ("<br><i>Off now: beam search keeps several continuations at once; Step works for greedy and "
             "sample.</i>" if strategy == "beam" else ""))
        self.stop_button.setEnabled(not idle)
        self.clear_button.setEnabled(idle)
        self.samples_button.setEnabled(idle and ok and strategy != "beam")
        self.samples_button.setText(f"Generate {self.samples_count.value()} samples")
        self.compare_button.setEnabled(idle and ok and strategy != "beam" and self._template is not None)
        if strategy == "beam":
            note = "Side by side works with greedy and sample: choose one of them on the left."
        elif strategy == "greedy":
            note = ("Greedy ignores the seed, so every sample is the same text: choose the strategy "
                    "'Sample' to see the draws differ.")
        else:
            note = "Each sample uses the next seed: seed, seed + 1, …"
        self.samples_note.setText(note)

    def _next_run(self) -> int:
        self._run += 1
        return self._run

    def _start(self, kind: str, fn: Callable, doing: str) -> Job:
        job = Job(fn, doing)
        self.job, self.job_kind = job, kind
        self._stopped_because = ""
        self._first_token_at = self._last_token_at = 0.0
        job.partial.connect(self._on_partial)
        job.error.connect(self._on_error)
        job.cancelled.connect(self._on_cancelled)
        job.done.connect(self._on_done)
        self._update_buttons()
        job.start()
        return job

    def _ready_settings(self):
        """The settings to generate with, or None (and a message) when generation cannot start."""
        if self.job is not None:
            return None
        problem = self.readiness_problem()
        if problem is not None:
            self.session.error(problem)
            return None
        return self.settings()

    def _new_generator(self, seed):
        import torch
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        self._generator, self._generator_seed = generator, seed
        return generator

    # ================================================================== actions

    def generate(self) -> Optional[Job]:
        """Continue the prompt (or run beam search), streaming into the Output tab."""
        settings = self._ready_settings()
        if settings is None:
            return None
        if settings.strategy == "beam":
            return self._start_beam(settings)
        text = self.prompt_edit.toPlainText()
        self._reset_outputs()
        self.tabs.setCurrentWidget(self.output_tab)
        generator = self._new_generator(settings.seed)
        self._run_key = self._dist_key(settings)
        checkpoint, store, run = self.session.checkpoint, self.session.models, self._next_run()
        self.status.setText("Generating…")
        attention = self._want_attention()

        def work(report, cancel):
            sampling = _sampling()
            model = store.model_for(checkpoint)
            tokenizer = checkpoint.tokenizer
            prepared = sampling.prepare_prompt(tokenizer, text, checkpoint.model_config.context_length)
            report((run, "prompt", (text, prepared, tokenizer.decode(prepared.ids))))
            for token in sampling.generate_tokens(model, prepared.ids, settings, tokenizer=tokenizer, cancel=cancel,
                                                  generator=generator, attention=attention):
                report((run, "token", token))

        return self._start("generate", work, "generating text")

    def step(self) -> Optional[Job]:
        """Generate exactly one more token and show how each setting shaped its distribution."""
        settings = self._ready_settings()
        if settings is None or settings.strategy == "beam":
            return None
        settings = replace(settings, max_new_tokens=1)
        text = self.prompt_edit.toPlainText()
        continuing = self._output_prompt == text and bool(self._prompt_ids)
        if not continuing:
            self._reset_outputs()
        self.tabs.setCurrentWidget(self.output_tab)
        if self._generator is None or self._generator_seed != settings.seed or not continuing:
            self._new_generator(settings.seed)
        generator = self._generator
        prompt_ids = list(self._prompt_ids)
        generated = self.output.generated_ids()
        offset = len(generated)
        key = self._dist_key(settings)
        checkpoint, store, run = self.session.checkpoint, self.session.models, self._next_run()
        attention = self._want_attention()

        def work(report, cancel):
            sampling = _sampling()
            model = store.model_for(checkpoint)
            tokenizer = checkpoint.tokenizer
            ids = prompt_ids
            if not continuing:
                prepared = sampling.prepare_prompt(tokenizer, text, checkpoint.model_config.context_length)
                report((run, "prompt", (text, prepared, tokenizer.decode(prepared.ids))))
                ids = prepared.ids
            for token in sampling.generate_tokens(model, ids + generated, settings, tokenizer=tokenizer,
                                                  cancel=cancel, generator=generator, explain=True,
                                                  attention=attention):
                token.index += offset
                if token.stop_reason == "max new tokens":
                    token.stop_reason = ""  # one token was asked for: that is no reason to report
                before = tokenizer.decode(generated)
                after = tokenizer.decode(generated + [token.id])
                if after.startswith(before):  # the piece this token adds to the text so far
                    token.text = after[len(before):]
                report((run, "step", (token, key)))

        return self._start("step", work, "generating one token")

    def _start_beam(self, settings) -> Job:
        text = self.prompt_edit.toPlainText()
        self.tabs.setCurrentWidget(self.beams_tab)
        self.beams_table.setRowCount(0)
        self.status.setText("Beam search…")
        checkpoint, store, run = self.session.checkpoint, self.session.models, self._next_run()

        def work(report, cancel):
            sampling = _sampling()
            model = store.model_for(checkpoint)
            tokenizer = checkpoint.tokenizer
            prepared = sampling.prepare_prompt(tokenizer, text, checkpoint.model_config.context_length)
            report((run, "beam-prompt", prepared))
            last = [0.0]

            def on_step(steps, beams):
                now = time.monotonic()
                if now - last[0] >= 0.05:  # the table needs no more than 20 updates a second
                    last[0] = now
                    report((run, "beams", (steps, beams)))

            result = sampling.beam_search(model, prepared.ids, settings, tokenizer, cancel=cancel, on_step=on_step)
            report((run, "beam-result", result))  # also when stopped: the job then reports no result
            return result

        return self._start("beam", work, "searching beams")

    def generate_samples(self) -> Optional[Job]:
        """N samples of the prompt with seeds seed, seed + 1, …, side by side."""
        settings = self._ready_settings()
        if settings is None or settings.strategy == "beam":
            return None
        n = self.samples_count.value()
        base = settings.seed if settings.seed is not None else random.randrange(2**31 - 8)
        seeds = [base + i for i in range(n)]
        self._set_columns(self.sample_columns, self.samples_area, n)
        for column, seed in zip(self.sample_columns, seeds):
            column.view.clear_all()
            column.notice.hide()
            column.set_caption(f"seed {seed}" if settings.strategy == "sample" else "greedy")
        self.tabs.setCurrentWidget(self.samples_tab)
        self.status.setText(f"Generating {n} samples…")
        text = self.prompt_edit.toPlainText()
        checkpoint, store, run = self.session.checkpoint, self.session.models, self._next_run()

        def work(report, cancel):
            sampling = _sampling()
            model = store.model_for(checkpoint)
            tokenizer = checkpoint.tokenizer
            prepared = sampling.prepare_prompt(tokenizer, text, checkpoint.model_config.context_length)
            kept = tokenizer.decode(prepared.ids)
            for column, seed in enumerate(seeds):
                if cancel.cancelled:
                    return
                report((run, "column-prompt", ("samples", column, text, prepared, kept)))
                for token in sampling.generate_tokens(model, prepared.ids, replace(settings, seed=seed),
                                                      tokenizer=tokenizer, cancel=cancel):
                    report((run, "column-token", ("samples", column, token)))

        return self._start("samples", work, "generating samples")

    def compare_prompts(self) -> Optional[Job]:
        """The template zero-shot and in its own mode, generated with the same settings, side by side."""
        if self._template is None:
            self.session.warn("Send a few-shot prompt from the Prompt panel first.")
            return None
        settings = self._ready_settings()
        if settings is None or settings.strategy == "beam":
            return None
        modes = ["zero-shot", self._other_mode()]
        try:
            texts = [self._template.render(mode=modes[0]).text, self._template.render(mode=modes[1]).text]
        except Exception as e:
            self.session.error(f"The prompt template could not be rendered: {e}")
            return None
        self._set_columns(self.compare_columns, self.compare_area, 2)
        for column, mode in zip(self.compare_columns, modes):
            column.view.clear_all()
            column.notice.hide()
            column.set_caption(MODE_LABELS.get(mode, mode))
        self.tabs.setCurrentWidget(self.compare_tab)
        self.status.setText("Generating zero-shot and " + modes[1] + "…")
        checkpoint, store, run = self.session.checkpoint, self.session.models, self._next_run()

        def work(report, cancel):
            sampling = _sampling()
            model = store.model_for(checkpoint)
            tokenizer = checkpoint.tokenizer
            for column, text in enumerate(texts):
                if cancel.cancelled:
                    return
                prepared = sampling.prepare_prompt(tokenizer, text, checkpoint.model_config.context_length)
                report((run, "column-prompt", ("compare", column, text, prepared, tokenizer.decode(prepared.ids))))
                for token in sampling.generate_tokens(model, prepared.ids, settings, tokenizer=tokenizer,
                                                      cancel=cancel):
                    report((run, "column-token", ("compare", column, token)))

        return self._start("compare", work, "comparing prompts")

    def stop(self) -> None:
        """Stop the running generation; what it made so far stays."""
        if self.job is not None:
            self._stopped_because = self._stopped_because or "you"
            self.job.cancel()
            self.status.setText("Stopping…")

    @property
    def load_job(self) -> Optional[Job]:
        """The job loading the demo model, while it runs."""
        return self.empty_state.load_job

    def load_demo(self) -> Optional[Job]:
        """Load the demo model that ships with the app (in a job) and make it the session's model."""
        return self.empty_state.load_demo()

    def is_busy(self) -> bool:
        """True while any job of this panel runs or is about to start (tests and screenshots wait on it)."""
        return (self.job is not None or self.explain_job is not None or self.load_job is not None
                or self._explain_timer.isActive())

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every job of this panel and wait for them (on close, quit and in tests)."""
        self._explain_timer.stop()
        jobs = [j for j in (self.job, self.explain_job, self.load_job) if j is not None]
        for job in jobs:
            job.cancel()
        return all(job.wait(timeout_ms) for job in jobs)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.stop_and_wait()
        super().closeEvent(event)

    # ================================================================== what jobs report

    def _on_partial(self, item) -> None:
        run, what, payload = item
        if run != self._run:
            return  # from a job stopped because the model changed
        if what == "prompt":
            text, prepared, kept = payload
            self._show_notice(prepared)
            cut = ""
            if prepared.cut_tokens and text.endswith(kept):
                cut = text[:len(text) - len(kept)]
            self.output.set_prompt(kept if prepared.cut_tokens else text, cut)
            self._prompt_ids, self._output_prompt = list(prepared.ids), text
            self._announce_text()
        elif what == "token":
            self._count_token()
            self.output.append_token(payload)
            self.status.setText(f"Generating… {self.output.token_count():,} tokens")
            self._announce_text(payload)
        elif what == "step":
            p, key = payload
            self._step_keys[p.index] = key
            self.output.append_token(p)
            self._announce_text(p)
            self.output.select(-1)
            label = _html(token_label(p.id, p.text, self._specials))
            self.status.setText(
                f"Step: token {p.index + 1} <code>{label}</code>: the model gave it {percent(p.prob)}, "
                f"{percent(p.chosen_prob)} after the settings. Step again for the next."
                + (f" ({p.stop_reason})" if p.stop_reason else ""))
        elif what == "beam-prompt":
            self._show_notice(payload)
        elif what == "beams":
            steps, beams = payload
            self._show_beams(beams, live=True)
            self.status.setText(f"Beam search, step {steps:,}: the {len(beams)} live beams so far…")
        elif what == "beam-result":
            self._show_beams(payload.beams, live=False, stopped=payload.stopped)
            finished = sum(b.finished for b in payload.beams)
            if payload.stopped:
                message = f"Stopped after {payload.steps:,} steps: these are the beams so far."
            else:
                message = (f"Beam search finished after {payload.steps:,} steps: {finished} of "
                           f"{len(payload.beams)} beams reached the end-of-text token.")
            self.status.setText(message)
        elif what == "column-prompt":
            which, column, text, prepared, kept = payload
            col = (self.sample_columns if which == "samples" else self.compare_columns)[column]
            cut = text[:len(text) - len(kept)] if prepared.cut_tokens and text.endswith(kept) else ""
            col.view.set_prompt(kept if prepared.cut_tokens else text, cut)
            col.notice.setText(prepared.notice)
            col.notice.setVisible(bool(prepared.notice))
            col.set_caption(col.caption, len(prepared.ids))
        elif what == "column-token":
            which, column, token = payload
            col = (self.sample_columns if which == "samples" else self.compare_columns)[column]
            col.view.append_token(token)
            col.update_title()

    def _announce_text(self, token=None) -> None:
        """Tell the session (and so the Attention Lab) what the model has read and written so far:
        the prompt's ids when `token` is None, else one more token (with its attention, when asked for)."""
        checkpoint = self.session.checkpoint
        if checkpoint is None:
            return
        decode = checkpoint.tokenizer.decode
        if token is None:
            self._seen_ids = list(self._prompt_ids)
            self._seen_texts = [decode([i]) for i in self._seen_ids]
            self._seen_attention = None
        else:
            self._seen_ids.append(token.id)
            self._seen_texts.append(decode([token.id]))
            self._seen_attention = _gather_attention(self._seen_attention, token)
        self.session.text_generated.emit(GeneratedText(
            checkpoint=checkpoint, ids=list(self._seen_ids), tokens=list(self._seen_texts),
            prompt_tokens=len(self._prompt_ids), attention=self._seen_attention,
            attention_follows=self._attention_wanted))

    # -- live attention (issue 13): the Attention Lab draws what generation hands over ----------------

    def _want_attention(self) -> bool:
        """Whether the next generation hands its attention over (the Attention Lab follows it live)."""
        self._attention_wanted = bool(self.session.live_attention_wanted)
        return self._attention_wanted

    def _count_token(self) -> None:
        now = time.monotonic()
        if not self._first_token_at:
            self._first_token_at = now
        self._last_token_at = now

    def _show_notice(self, prepared) -> None:
        self.notice.setText("⚠ " + prepared.notice if prepared.notice else "")
        self.notice.setVisible(bool(prepared.notice))

    def _show_beams(self, beams, live: bool, stopped: bool = False) -> None:
        table = self.beams_table
        table.setRowCount(len(beams))
        for r, beam in enumerate(beams):
            text = beam.text.replace("\n", "↵") if beam.text else "(nothing yet)"
            if live:
                ended = "searching"
            else:
                ended = "✓ end of text" if beam.finished else "stopped" if stopped else "length limit"
            values = [str(r + 1), text, f"{beam.logprob:.2f}", f"{beam.score:.3f}", ended]
            for c, value in enumerate(values):
                item = table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    if c == 1:
                        item.setFont(self._mono)
                    if c in (0, 2, 3):
                        item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                    table.setItem(r, c, item)
                item.setText(value)
                if c == 1:
                    item.setToolTip(f"{len(beam.ids)} tokens: {beam.text}")
        table.resizeRowsToContents()

    def _on_error(self, message: str) -> None:
        self.session.error(message)
        self.status.setText("Generation failed: see the message above.")
        self._failed = True  # `done` follows `error`: keep this line rather than a "Done"

    def _on_cancelled(self) -> None:
        self._cancelled = True

    def _on_done(self) -> None:
        job_kind = self.job_kind
        self.job, self.job_kind = None, ""
        cancelled = getattr(self, "_cancelled", False)
        failed = getattr(self, "_failed", False)
        self._cancelled = self._failed = False
        if failed:
            pass
        elif job_kind == "generate":
            self._final_status(cancelled)
        elif cancelled and job_kind in ("samples", "compare"):
            self.status.setText(self._stop_text())
        elif job_kind in ("samples", "compare"):
            self.status.setText("Done: the columns are ready to compare.")
        elif cancelled and job_kind == "step":
            self.status.setText(self._stop_text())
        self._update_buttons()
        if self._explain_pending:
            self._explain_pending = False
            self._explain_timer.start(self.EXPLAIN_DELAY_MS)

    def _stop_text(self) -> str:
        return "Stopped: the model changed" if self._stopped_because == "the model changed" else "Stopped by you"

    def _final_status(self, cancelled: bool) -> None:
        if cancelled and self._stopped_because == "the model changed":
            self.status.setText("Stopped: the model changed.")
            return
        tokens = self.output.tokens()
        n = len(tokens)
        if cancelled:
            head = f"{self._stop_text()} after {n:,} tokens"
        elif tokens and tokens[-1].stop_reason:
            head = STOP_LABELS.get(tokens[-1].stop_reason, f"Stopped: {tokens[-1].stop_reason}")
        else:
            head = "Done"
        rate = ""
        elapsed = self._last_token_at - self._first_token_at
        if n > 1 and elapsed > 0:
            rate = f" · {n:,} tokens, {(n - 1) / elapsed:,.0f} tokens/s"
        elif n:
            rate = f" · {n:,} tokens"
        self.status.setText(head + rate)

    # ================================================================== the selected token

    def _token_selected(self, token) -> None:
        self.candidate_chart.set_token(token)
        if token is None:
            self.stages.set_stages([], None, "")
            return
        if token.stages:
            self._shown_key = self._token_key(token)
            self.stages.set_stages(token.stages, token.id, self._stages_heading(token, recomputed=False),
                                   token.text)
        else:
            self._explain_timer.start(0)

    def _token_key(self, token) -> Optional[tuple]:
        return self._step_keys.get(token.index, self._run_key)

    def _stages_heading(self, token, recomputed: bool) -> str:
        label = _html(token_label(token.id, token.text, self._specials))
        if recomputed:
            return (f"Token {token.index + 1} <code>{label}</code>, recomputed with the settings now on the left "
                    f"(it was chosen with the settings of its run):")
        return f"How token {token.index + 1} <code>{label}</code> was chosen, setting by setting:"

    def _explain_selected(self) -> None:
        """Recompute the stages of the selected token's position with the current settings (in a job)."""
        token = self.output.selected_token()
        checkpoint = self.session.checkpoint
        if token is None or checkpoint is None or not self._prompt_ids:
            return
        settings = self.settings()
        if settings.strategy == "beam" or settings.problems():
            self._shown_key = None
            self.stages.set_stages([], None, "", placeholder=(
                "Step by step works for greedy and sample: beam search follows several continuations at once "
                "(see the Beams tab)." if settings.strategy == "beam" else
                "Fix the settings on the left to see the distribution step by step."))
            return
        if self.job is not None or self.explain_job is not None:
            self._explain_pending = True
            return
        index = token.index
        prefix = self._prompt_ids + self.output.generated_ids()[:index]
        key = self._dist_key(settings)
        settings = replace(settings, max_new_tokens=1, stop_strings=(), stop_at_end=False, seed=0)
        store, run = self.session.models, self._run

        def work(report, cancel):
            sampling = _sampling()
            model = store.model_for(checkpoint)
            tokens = sampling.generate_tokens(model, prefix, settings, tokenizer=checkpoint.tokenizer,
                                              cancel=cancel, explain=True)
            first = next(tokens, None)
            tokens.close()
            return None if first is None else (run, index, key, first.stages)

        job = Job(work, "explaining a token")
        self.explain_job = job
        job.result.connect(self._explained)
        job.error.connect(self._on_error)
        job.done.connect(self._explain_done)
        job.start()

    def _explained(self, found) -> None:
        if found is None:
            return
        run, index, key, stages = found
        token = self.output.selected_token()
        if run != self._run or token is None or token.index != index:
            return
        self._shown_key = key
        recomputed = key != self._token_key(token)
        self.stages.set_stages(stages, token.id, self._stages_heading(token, recomputed), token.text)
        if self._dist_key(self.settings()) != key:  # the settings moved on while this was computed
            self._explain_timer.start(self.EXPLAIN_DELAY_MS)

    def _explain_done(self) -> None:
        self.explain_job = None
        if self._explain_pending and self.job is None:
            self._explain_pending = False
            self._explain_timer.start(self.EXPLAIN_DELAY_MS)

    # ================================================================== columns

    def _set_columns(self, columns: list[OutputColumn], layout: QHBoxLayout, n: int) -> None:
        while len(columns) > n:
            column = columns.pop()
            layout.removeWidget(column)
            column.deleteLater()
        while len(columns) < n:
            column = OutputColumn()
            column.view.specials = self._specials
            column.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
            layout.addWidget(column, 1)
            columns.append(column)

    # ================================================================== workspace

    def state(self) -> dict:
        """The prompt text and the sampling settings, for a workspace."""
        state = {"prompt": self.prompt_edit.toPlainText(), "samples": self.samples_count.value(),
                 "tab": self.tabs.currentIndex()}
        settings = self.settings()
        state["settings"] = {name: getattr(settings, name) for name in settings.__dataclass_fields__}
        state["settings"]["stop_strings"] = list(settings.stop_strings)
        return state

    def restore_state(self, state: dict) -> None:
        """Set the controls from a `state()` dict; a missing or wrong value leaves its control as it is."""
        values = state.get("settings")
        if isinstance(values, dict):
            known = SamplingSettings.__dataclass_fields__
            values = {k: v for k, v in values.items() if k in known}
            if isinstance(values.get("stop_strings"), list):
                values["stop_strings"] = tuple(str(s) for s in values["stop_strings"])
            try:
                self.set_settings(replace(SamplingSettings(), **values))
            except (TypeError, ValueError, OverflowError):
                self._updating = False
                self.session.warn("The workspace's sampling settings could not be read; the current ones stay.")
        if isinstance(state.get("prompt"), str):
            self.prompt_edit.setPlainText(state["prompt"])
        samples = state.get("samples")
        if isinstance(samples, int) and not isinstance(samples, bool):
            self.samples_count.setValue(samples)
        tab = state.get("tab")
        if isinstance(tab, int) and not isinstance(tab, bool) and 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)
