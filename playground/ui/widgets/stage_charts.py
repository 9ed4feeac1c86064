"""Step by step: the next-token distribution after each setting, as a row of small bar charts.

One chart per stage of the sampling chain ("the model", "repetition penalty
1.1", "temperature 0.8", "top-k 50", ...), left to right in the order they
are applied, each titled with how many tokens are still possible, all on one
scale, so a learner sees the distribution being sharpened and cut.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from playground.ui.themes import colour, themed_style
from playground.ui.widgets.candidate_chart import BarRow, BarRows
from playground.ui.widgets.even_rows import even_columns
from playground.ui.widgets.generated_text import token_label

STAGE_HELP = {
    "the model": "The model's own probabilities: the softmax of its score for every token of the vocabulary.",
    "repetition penalty": "Tokens already in the text lose score, so the model repeats itself less.",
    "temperature": "Every score is divided by the temperature: below 1 the likely tokens get likelier "
    "(sharper), above 1 the distribution flattens.",
    "top-k": "Only the k most likely tokens stay; every other token is removed.",
    "top-p": "Only the smallest set of best tokens whose probabilities add up to p stays (the nucleus).",
    "min-p": "Only tokens at least min-p times as likely as the best one stay.",
}


def stage_help(name: str) -> str:
    for prefix, text in STAGE_HELP.items():
        if name.startswith(prefix):
            return text
    return ""


class StageChart(QFrame):
    """One stage: its name, how many tokens are still possible, and its best tokens."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("stage")
        themed_style(
            self,
            "#stage { background: {paper}; border: 1px solid {paper_border}; border-radius: 5px; }"
            "#stage QLabel { color: {paper_text}; }",
        )  # paper: a white card in every look
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.bars = BarRows(["bar_before"], bar_height=9, gap=4, label_points=8.5)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.bars)
        layout.addStretch(1)
        self.setMinimumWidth(128)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.name = ""

    def set_stage(
        self,
        number: int,
        stage,
        previous_kept: Optional[int],
        chosen_id: Optional[int],
        role: str,
        scale: float,
        chosen_text: str = "",
        specials: Optional[dict] = None,
    ) -> None:
        self.name = stage.name
        if previous_kept is None:
            kept = f"all {stage.kept:,} tokens"
        elif stage.kept < previous_kept:
            kept = f"<span style='color:{colour('paper_error')}'><b>{stage.kept:,}</b> tokens left</span>"
        else:
            kept = f"{stage.kept:,} tokens left"
        muted = colour("paper_muted")
        self.title.setText(f"<b>{number} · {stage.name}</b><br><span style='color:{muted}'>{kept}</span>")
        self.setToolTip(stage_help(stage.name))
        self.bars.roles = [role]
        rows = [
            BarRow(token_label(c.id, c.text, specials), [c.prob], chosen=c.id == chosen_id) for c in stage.candidates
        ]
        if chosen_id is not None and all(c.id != chosen_id for c in stage.candidates):
            listed_all = stage.kept <= len(stage.candidates)  # every token left is listed: the chosen one is gone
            lowest = min((c.prob for c in stage.candidates), default=0.0)
            rows.append(
                BarRow(
                    token_label(chosen_id, chosen_text, specials),
                    [0.0 if listed_all else None],
                    chosen=True,
                    below=[lowest],
                )
            )
        self.bars.set_rows(rows, scale)


class StagesView(QWidget):
    """The chain of stages for one token position, left to right, wrapping onto more rows when the
    cards do not fit side by side (rows of equal length, so six stages read as 3 + 3, never 5 + 1)."""

    ARROW_WIDTH = 10

    HINT = (
        "Press <b>Step</b> to generate one token at a time: here you will see the distribution after "
        "each setting on the left, in the order they are applied. Clicking any token shows its steps too."
    )

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.placeholder = QLabel(self.HINT)
        self.placeholder.setWordWrap(True)
        themed_style(self.placeholder, "color: {muted}; padding: 6px 2px;")
        self.row = QWidget()
        self.row_layout = QGridLayout(self.row)
        self.row_layout.setContentsMargins(0, 0, 0, 0)
        self.row_layout.setHorizontalSpacing(2)
        self.row_layout.setVerticalSpacing(6)
        self.columns = 0  # cards per row, as last laid out
        self.charts: list[StageChart] = []
        self.arrows: list[QLabel] = []
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(self.row)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll_area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.heading)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.scroll_area, 1)
        self.stages: list = []
        self.specials: dict[int, str] = {}
        self.set_stages([], None, "")

    def set_stages(
        self, stages: list, chosen_id: Optional[int], heading: str, chosen_text: str = "", placeholder: str = ""
    ) -> None:
        """Show `stages` (a list of sampling.Stage), highlighting the token `chosen_id`; with no stages,
        `placeholder` (or the hint to press Step)."""
        self.stages = list(stages)
        self.placeholder.setText(placeholder or self.HINT)
        self.heading.setText(heading)
        self.heading.setVisible(bool(heading))
        self.placeholder.setVisible(not stages)
        self.scroll_area.setVisible(bool(stages))
        while len(self.charts) < len(stages):
            if self.charts:
                arrow = QLabel("›", self.row)
                themed_style(arrow, "color: {faint}; font-size: 15pt; font-weight: bold;")
                arrow.setFixedWidth(self.ARROW_WIDTH)
                arrow.setAlignment(Qt.AlignmentFlag.AlignCenter)
                self.arrows.append(arrow)
            self.charts.append(StageChart(self.row))
        scale = max((c.prob for s in stages for c in s.candidates), default=1.0)
        previous = None
        for i, chart in enumerate(self.charts):
            shown = i < len(stages)
            chart.setVisible(shown)
            if i > 0:
                self.arrows[i - 1].setVisible(shown)
            if not shown:
                continue
            last = i == len(stages) - 1
            role = "series_blue" if last and i > 0 else ("bar_before" if i == 0 else "bar_middle")
            chart.set_stage(i + 1, stages[i], previous, chosen_id, role, scale, chosen_text, self.specials)
            previous = stages[i].kept
        self._lay_out(force=True)

    def columns_for(self, width: int) -> int:
        """How many cards go on one row at `width`: as many as fit, then evened out over the rows."""
        first = self.charts[0] if self.charts else None
        card = (max(first.minimumWidth(), first.minimumSizeHint().width()) if first else 128) + self.ARROW_WIDTH + 4
        return even_columns(len(self.stages), (width + self.ARROW_WIDTH + 4) // card)

    def _lay_out(self, force: bool = False) -> None:
        columns = self.columns_for(self.scroll_area.viewport().width())
        if columns == self.columns and not force:
            return
        self.columns = columns
        while self.row_layout.count():
            self.row_layout.takeAt(0)
        for c in range(self.row_layout.columnCount()):
            self.row_layout.setColumnStretch(c, 0)
        for i, chart in enumerate(self.charts[: len(self.stages)]):
            row, col = divmod(i, columns)
            if i > 0:  # an arrow before each card but a row's first: the chain reads on from the row above
                self.arrows[i - 1].setVisible(col > 0)
            if col > 0:
                self.row_layout.addWidget(self.arrows[i - 1], row, 2 * col - 1)
            self.row_layout.addWidget(chart, row, 2 * col)
            self.row_layout.setColumnStretch(2 * col, 1)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._lay_out()

    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]
