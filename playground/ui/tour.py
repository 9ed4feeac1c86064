"""The guided tour: a card over the window that walks a room through the workflow, one panel at a time.

Each step shows its panel and explains the idea behind it in plain words:
tokens and subwords, embeddings and heads, causal vs masked language
modelling, zero- and few-shot prompting, sampling, self-attention, perplexity.
The card is not modal: the panel under it keeps working, so the presenter can
try what the card describes before pressing Next.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from playground.ui.themes import themed_style

# One card per workflow step, found by the panel's title. A panel with no card here gets its own
# `concept` text, so a step added later still appears in the tour.
CARDS: dict[str, tuple[str, str]] = {
    "tokenize": (
        "Tokens and subwords",
        "A language model never sees letters or words. A <b>tokenizer</b> first cuts the text into pieces "
        "called <b>tokens</b> and gives each one a number; the model only ever sees those numbers."
        "<p>Common words get a token of their own. Rare words are built from <b>subwords</b>, smaller pieces "
        "seen often, like <i>token</i> + <i>izer</i>. So any text at all can be written with a fixed "
        "vocabulary of a few thousand pieces.</p>"
        "<p><b>BPE</b> (byte-pair encoding) learns its pieces from a corpus: it starts from single bytes and "
        "keeps gluing together the pair that occurs most often.</p>"
        "<p><i>Try it:</i> train a tokenizer, then type on the right and watch where the cuts fall.</p>",
    ),
    "build": (
        "Embeddings, layers and heads",
        "The model first turns each token number into a list of numbers, its <b>embedding</b>: a point in a "
        "space where tokens that are used alike end up close together. Nobody writes these numbers: they "
        "are learned."
        "<p>The vectors then pass through a stack of <b>layers</b>. In each, <b>self-attention</b> lets every "
        "token gather information from the tokens before it, and a small network (the MLP) reworks what it "
        "gathered.</p>"
        "<p>Attention is split into <b>heads</b>: each head can look for something different, such as the "
        "previous word or the start of the sentence.</p>"
        "<p><i>Try it:</i> pick a preset and change the sizes: parameters, memory and time follow.</p>",
    ),
    "train": (
        "Learning to predict the next token",
        "Training shows the model a window of text and asks it, at every position, to guess the <b>next "
        "token</b>. The <b>loss</b> says how surprised it was by the real one; each step nudges every "
        "parameter to be a little less surprised next time."
        "<p>This is <b>causal</b> language modelling, the way GPT models learn: a token may only look at the "
        "tokens before it, never ahead, so the model can later write text one token at a time. "
        "BERT-style models learn by <b>masked</b> language modelling instead: words in the middle are hidden "
        "and guessed from both sides. Good for understanding text, but it cannot write left to right.</p>"
        "<p>Watch the <b>validation loss</b>, measured on text the model never trains on: when it stops "
        "falling while the training loss keeps falling, the model is memorising. "
        "e<sup>loss</sup> is the <b>perplexity</b>: roughly how many tokens the model is torn between.</p>",
    ),
    "prompt": (
        "Zero-shot and few-shot prompting",
        "A language model only continues text. To give it a task, write the start of a document whose "
        "natural continuation is the answer."
        "<p><b>Zero-shot</b>: just the request, e.g. <tt>Review: The food was cold. Sentiment:</tt> "
        "<b>Few-shot</b>: first a few worked examples in the same format, then the question. The model copies "
        "the pattern: the format, the labels, how long an answer is.</p>"
        "<p>No weights change: the examples are simply part of the text the model reads (<i>in-context "
        "learning</i>). They cost context, though: watch the token count.</p>"
        "<p>Small models like ours follow a pattern only roughly; very large ones do it remarkably well.</p>",
    ),
    "generate": (
        "Sampling: choosing the next token",
        "For every next token the model gives a probability to each token of its vocabulary. Something has "
        "to pick one, and then the whole thing repeats, one token at a time."
        "<p><b>Greedy</b> always takes the most likely token: repeatable, but dull, and it loops. "
        "<b>Sampling</b> draws at random, in proportion to the probabilities: varied text.</p>"
        "<p><b>Temperature</b> reshapes the probabilities first: below 1 the favourites get even likelier "
        "(safer text), above 1 the odds even out (more surprises, more mistakes). <b>Top-k</b> and "
        "<b>top-p</b> cut off the long tail of unlikely tokens before the draw.</p>"
        "<p><i>Try it:</i> click a generated token to see the candidates it was drawn from.</p>",
    ),
    "attention": (
        "Self-attention and heads: causal vs masked",
        "For every token, each head gives a weight to each token so far: how much to take from it. "
        "The weights in a row add up to 1."
        "<p>In the heatmap a row is the token doing the reading, a column the token being read. The top-right "
        "triangle stays empty: that is the <b>causal mask</b>, no token may look ahead. A <b>masked</b> language "
        "model (BERT) has no such mask: below, the demo GPT and the demo BERT read the same sentence.</p>"
        "<p>Look for habits: a bright line just below the diagonal is a head that reads the <i>previous "
        "token</i>; a bright first column is a head parking its attention on the first token when it has "
        "nothing better to do.</p>"
        "<p>The <b>Token embeddings</b> tab draws each token's vector on a map: tokens the model uses alike "
        "sit close together.</p>",
    ),
    "evaluate": (
        "Perplexity: how surprised is the model?",
        "To judge a model, show it text it has never seen and measure how surprised it is by each real next "
        "token. The average surprise is the <b>loss</b> (cross-entropy)."
        "<p><b>Perplexity</b> = e<sup>loss</sup> turns that into a count: a perplexity of 20 means the model "
        "is as unsure as if it were choosing among 20 equally likely tokens. Lower is better; guessing at "
        "random scores the size of the vocabulary.</p>"
        "<p>Perplexities compare fairly only with the same tokenizer (longer tokens mean fewer, harder "
        "guesses); <i>bits per byte</i> does not have that problem. Task scores, like exact match or BLEU, "
        "measure something else: whether a prompt's answers are right.</p>",
    ),
}


def _causal_vs_masked() -> QWidget:
    from playground.ui.widgets.tour_causal_masked import TourCausalVsMasked

    return TourCausalVsMasked()


# Cards that show something live under their text: made when the card is first shown.
LIVE: dict[str, Callable[[], QWidget]] = {"attention": _causal_vs_masked}
LIVE_WIDTH_CHARS = 100  # a card with two heatmaps side by side is wider than a text card


@dataclass
class TourStep:
    row: int  # the step's row in the window's workflow
    title: str
    heading: str
    text: str  # rich text
    get_panel: Callable[[], QWidget]  # the panel, built only when its step is shown
    live: Optional[Callable[[], QWidget]] = None  # what the card shows under its text, if anything

    @property
    def panel(self) -> QWidget:
        return self.get_panel()


def tour_steps(panels: list[QWidget]) -> list[TourStep]:
    """One step per panel, in the window's order."""
    return [_step(row, str(getattr(panel, "title", "")), _already_built(panel)) for row, panel in enumerate(panels)]


def _already_built(panel: QWidget) -> Callable[[], QWidget]:
    return lambda: panel


def window_tour_steps(window) -> list[TourStep]:
    """One step per step of `window`'s workflow, without building the panels not shown yet."""
    return [_step(row, title, partial(window.panel, row)) for row, title in enumerate(window.step_titles)]


def _step(row: int, title: str, get_panel: Callable[[], QWidget]) -> TourStep:
    card = CARDS.get(title.lower())
    if card is None:  # a step added later: its panel's own concept text
        card = (title, str(getattr(get_panel(), "concept", "")))
    return TourStep(row, title, *card, get_panel=get_panel, live=LIVE.get(title.lower()))


class Tour(QFrame):
    """The tour's card. `window` needs `step_titles` and `panel(row)` (in order), `steps` (the sidebar list) and `stack`."""

    step_changed = Signal(int)  # the index of the step now shown
    closed = Signal()

    MARGIN = 18

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window_ = window
        self.steps: list[TourStep] = []
        self.index = -1
        self.setObjectName("tour")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAutoFillBackground(True)
        themed_style(  # a light card in every look
            self,
            "#tour { background: {tour_bg}; border: 2px solid {marker}; border-radius: 10px; }"
            "#tour QLabel { color: {tour_fg}; background: transparent; }"
            "#tour QLabel#tourCounter { color: {tour_counter}; font-size: 8.5pt; letter-spacing: 1px; }"
            "#tour QLabel#tourHeading { font-size: 14pt; font-weight: 600; }"
            "#tour QPushButton { color: {tour_fg}; background: {tour_button_bg}; border: 1px solid "
            "{tour_button_border}; border-radius: 4px; padding: 4px 14px; }"
            "#tour QPushButton:disabled { color: {tour_disabled}; }"
            "#tour QPushButton#tourNext { background: {marker}; border-color: {marker_edge}; font-weight: 600; }",
        )
        self.counter = QLabel()
        self.counter.setObjectName("tourCounter")
        self.heading = QLabel()
        self.heading.setObjectName("tourHeading")
        self.heading.setWordWrap(True)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.back_button = QPushButton("◀ &Back")
        self.back_button.setToolTip("The previous step of the tour.")
        self.back_button.clicked.connect(self.back)
        self.next_button = QPushButton("&Next ▶")
        self.next_button.setObjectName("tourNext")
        self.next_button.setToolTip("The next step of the tour.")
        self.next_button.clicked.connect(self.next)
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("End the tour; Help ▸ Guided tour starts it again.")
        self.close_button.clicked.connect(self.close_tour)
        top = QHBoxLayout()
        top.addWidget(self.counter, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.close_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 12, 18, 14)
        layout.addLayout(top)
        layout.addWidget(self.heading)
        layout.addWidget(self.text)
        self.live_box = QVBoxLayout()
        self.live_box.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.live_box)
        layout.addLayout(buttons)
        self.live: Optional[QWidget] = None  # what the current card shows under its text
        self._lives: dict[int, QWidget] = {}  # by step row: made once, kept while the tour lives
        self.hide()
        self._watcher = _ResizeWatcher(self)
        window.installEventFilter(self._watcher)

    # ------------------------------------------------------------------ moving

    def start(self, index: int = 0) -> None:
        """Begin (or restart) at step `index`, with the window's panels as they are now."""
        self.steps = window_tour_steps(self.window_)
        self.show()
        self.raise_()
        self.go(index)

    def go(self, index: int) -> None:
        if not self.steps:
            return
        self.index = max(0, min(index, len(self.steps) - 1))
        step = self.steps[self.index]
        self.window_.steps.setCurrentRow(step.row)
        n = len(self.steps)
        self.counter.setText(f"Guided tour · step {self.index + 1} of {n} · {step.title}")
        self.heading.setText(step.heading)
        self.text.setText(step.text)
        self._show_live(step)
        self.back_button.setEnabled(self.index > 0)
        self.next_button.setText("&Finish" if self.index == n - 1 else "&Next ▶")
        self.place()
        self.raise_()
        self.next_button.setFocus()
        self.step_changed.emit(self.index)

    def _show_live(self, step: TourStep) -> None:
        """Put the step's live view under the text (made and first run when first shown); hide the last one."""
        live = None
        if step.live is not None:
            live = self._lives.get(step.row)
            if live is None:
                live = self._lives[step.row] = step.live()
                self.live_box.addWidget(live)
                start = getattr(live, "read", None)
                if start is not None:
                    start()
        if self.live is not None and self.live is not live:
            self.live.hide()
        self.live = live
        if live is not None:
            live.show()

    def next(self) -> None:
        if self.index >= len(self.steps) - 1:
            self.close_tour()
        else:
            self.go(self.index + 1)

    def back(self) -> None:
        if self.index > 0:
            self.go(self.index - 1)

    def close_tour(self) -> None:
        was_open = self.isVisible()
        self.hide()
        if was_open:
            self.closed.emit()

    @property
    def active(self) -> bool:
        return self.isVisible()

    @property
    def current_panel(self):
        return self.steps[self.index].panel if 0 <= self.index < len(self.steps) else None

    # ------------------------------------------------------------------ placing

    def place(self) -> None:
        """Bottom right of the panel area, as wide as about 46 characters of the current font
        (a card with a live view: `LIVE_WIDTH_CHARS`)."""
        if not self.isVisible():
            return
        window = self.window_
        area = QRect(window.stack.mapTo(window, QPoint(0, 0)), window.stack.size())
        chars = LIVE_WIDTH_CHARS if self.live is not None else 46
        width = min(max(360, chars * self.fontMetrics().averageCharWidth()), max(300, area.width() - 2 * self.MARGIN))
        self.setFixedWidth(width)
        height = (self.heightForWidth(width) if self.hasHeightForWidth() else self.sizeHint().height()) + 6
        height = min(height, max(200, area.height() - 2 * self.MARGIN))
        self.setFixedHeight(height)
        self.move(area.right() - width - self.MARGIN, area.bottom() - height - self.MARGIN)

    def changeEvent(self, event) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self.place()


class _ResizeWatcher(QObject):
    """Keeps the card in its corner when the window is resized."""

    def __init__(self, tour: Tour) -> None:
        super().__init__(tour)
        self.tour = tour

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if event.type() in (QEvent.Type.Resize, QEvent.Type.LayoutRequest):
            self.tour.place()
        return False
