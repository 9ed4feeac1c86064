"""The Tasks tab's results: the scores of one or two modes side by side, the prompt preview, every answer."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core.prompts import MODE_HELP, MODE_LABELS
from playground.ui.themes import follow_item_colours, themed_item
from playground.ui.widgets.evaluate_parts import BAD, GOOD, MUTED, elide, note, set_header, whole_text_tip
from playground.ui.widgets.table_cells import cell

METRICS = [
    (
        "bleu",
        "BLEU (0–100)",
        "BLEU: how many of the reference's words and word sequences (up to 4 words) the answers contain, over "
        "all answers, with a penalty for answers shorter than the references. 0–100, higher is better; "
        "often 0 for short answers that are not quite right.",
    ),
    (
        "chrf",
        "chrF (0–100)",
        "chrF: the overlap of character sequences (up to 6 characters) between answer and reference, over all "
        "answers. 0–100, higher is better; kind to near misses (‘chien’ for ‘chiens’) and to short answers.",
    ),
    (
        "rouge1",
        "ROUGE-1 (0–1)",
        "ROUGE-1: the share of single words answer and reference have in common (F-measure), averaged over the "
        "answers. 0–1, higher is better. Only a–z and 0–9 count: accents and punctuation are dropped.",
    ),
    (
        "rouge2",
        "ROUGE-2 (0–1)",
        "ROUGE-2: like ROUGE-1 for pairs of neighbouring words, so word order starts to matter. 0–1, higher is "
        "better; 0 when answer or reference has a single word.",
    ),
    (
        "rouge_l",
        "ROUGE-L (0–1)",
        "ROUGE-L: the longest run of words the answer has in the reference's order, gaps allowed (F-measure), "
        "averaged over the answers. 0–1, higher is better.",
    ),
    (
        "exact_match",
        "Exact match",
        "Exact match: the share of answers equal to their reference, ignoring case and extra spaces. 0–1 "
        "(shown as a percentage): strict, so a single wrong letter counts as wrong.",
    ),
]
CAVEAT = (
    "Small models score low on tasks, and that is expected: compare modes, templates and checkpoints with "
    "each other rather than reading the numbers on their own."
)
ROW_HEIGHT = 24


def mode_label(mode: str) -> str:
    return MODE_LABELS.get(mode, mode)


class ScoresTable(QTableWidget):
    """One row per metric; a column per mode, and their difference when there are two."""

    def __init__(self, parent=None) -> None:
        super().__init__(len(METRICS), 3, parent)
        follow_item_colours(self)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for r, (_, label, tip) in enumerate(METRICS):
            item = QTableWidgetItem(label)
            item.setToolTip(tip)
            self.setVerticalHeaderItem(r, item)
        self.set_modes(["zero-shot", "few-shot"])
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.setFixedHeight(ROW_HEIGHT * len(METRICS) + self.horizontalHeader().sizeHint().height() + 4)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def set_modes(self, modes: list[str]) -> None:
        labels = [mode_label(m) for m in modes]
        tips = [f"{mode_label(m)}: {MODE_HELP.get(m, '')}" for m in modes]
        if len(modes) == 2:
            labels.append("Difference")
            tips.append(
                f"{labels[1]} minus {labels[0]}: how much {labels[1].lower()} gains (green: better, red: worse)."
            )
        while len(labels) < 3:
            labels.append("")
            tips.append("")
        set_header(self, labels, tips)
        for c in range(3):
            self.setColumnHidden(c, c >= len(modes) + (1 if len(modes) == 2 else 0))

    def show_results(self, results: Optional[list], stopped: bool = False) -> None:
        """The scores of each `TaskResult` (dashes while there are none), the better of two in bold."""
        for r, (attr, _, tip) in enumerate(METRICS):
            for c in range(3):
                item = self.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.setItem(r, c, item)
                item.setText("—")
                item.setToolTip(tip)
                themed_item(item, None)
                font = item.font()
                font.setBold(False)
                item.setFont(font)
            if results:
                self._show_metric(r, attr, results)
        self.setToolTip("The run was stopped before every answer was in: no scores." if stopped else "")

    def _show_metric(self, r: int, attr: str, results: list) -> None:
        values = [getattr(res.scores, attr) for res in results]
        for c, (res, value) in enumerate(zip(results, values)):
            item = cell(self, r, c)  # show_results made it
            if attr == "exact_match":
                right = sum(row.exact for row in res.rows)
                item.setText(f"{value:.0%} ({right} of {len(res.rows)})")
            elif attr in ("bleu", "chrf"):
                item.setText(f"{value:.1f}")
            else:
                item.setText(f"{value:.2f}")
            if len(values) == 2 and value > min(values):
                font = item.font()
                font.setBold(True)
                item.setFont(font)
        if len(values) == 2:
            diff = values[1] - values[0]
            item = cell(self, r, 2)
            if attr == "exact_match":
                item.setText(f"{diff * 100:+.0f} points")
            elif attr in ("bleu", "chrf"):
                item.setText(f"{diff:+.1f}")
            else:
                item.setText(f"{diff:+.2f}")
            if abs(diff) > 1e-9:
                themed_item(item, GOOD if diff > 0 else BAD)


class AnswersTable(QTableWidget):
    """Each example's input and reference, then per mode: the answer, ✓ for an exact match, its chrF."""

    COLUMNS = 9

    def __init__(self, parent=None) -> None:
        super().__init__(0, self.COLUMNS, parent)
        follow_item_colours(self)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.set_modes(["zero-shot", "few-shot"])
        head = self.horizontalHeader()
        for c in range(self.COLUMNS):
            head.setSectionResizeMode(
                c, QHeaderView.ResizeMode.Stretch if c in (1, 2, 3, 6) else QHeaderView.ResizeMode.ResizeToContents
            )

    def set_modes(self, modes: list[str]) -> None:
        labels, tips = (
            ["#", "Input", "Reference"],
            [
                "The example's number in the task.",
                "The question, put into the template's query.",
                "The answer the task expects.",
            ],
        )
        for i in range(2):
            name = mode_label(modes[i] if i < len(modes) else "")
            labels += [f"{name} answer", "✓", "chrF"]
            tips += [
                f"What the model answered, {name.lower()}: the first line it wrote, trimmed. Hover for all it wrote.",
                f"Exact match, {name.lower()}: ✓ when the answer equals the reference (case and spaces aside).",
                f"chrF of this answer, {name.lower()} (0–100): its character overlap with the reference.",
            ]
        set_header(self, labels, tips)
        for c in range(6, 9):
            self.setColumnHidden(c, len(modes) < 2)

    def show_examples(self, examples: list) -> None:
        """The examples with empty answers."""
        self.setRowCount(len(examples))
        for r, example in enumerate(examples):
            self._cell(r, 0, str(r + 1), align=Qt.AlignmentFlag.AlignRight)
            self._cell(r, 1, elide(example.input), whole_text_tip(example.input))
            self._cell(r, 2, elide(example.reference), whole_text_tip(example.reference))
            for c in range(3, self.COLUMNS):
                self._cell(r, c, "")

    def show_answer(self, modes: list[str], row) -> None:
        """A `TaskRow` in the columns of its mode."""
        if row.mode not in modes or row.index >= self.rowCount():
            return
        base = 3 + 3 * modes.index(row.mode)
        raw_note = f"\n\nAll it wrote: {row.raw!r}" if row.raw.strip() != row.output else ""
        cut = (
            f"\n\nThe prompt ({row.prompt_tokens:,} tokens) was longer than the context: its first "
            f"{row.cut_tokens:,} tokens were cut."
            if row.cut_tokens
            else ""
        )
        shown = row.output if row.output else "(nothing)"
        self._cell(
            row.index,
            base,
            elide(shown),
            whole_text_tip(f"{row.output}{raw_note}{cut}"),
            colour=MUTED if not row.output else None,
        )
        self._cell(
            row.index,
            base + 1,
            "✓" if row.exact else "✗",
            "Exactly the reference." if row.exact else "Not exactly the reference.",
            align=Qt.AlignmentFlag.AlignCenter,
            colour=GOOD if row.exact else BAD,
        )
        self._cell(
            row.index,
            base + 2,
            f"{row.chrf:.0f}",
            f"chrF {row.chrf:.1f} (0–100) · ROUGE-L {row.rouge_l:.2f} (0–1)",
            align=Qt.AlignmentFlag.AlignRight,
        )

    def selected_index(self) -> int:
        rows = self.selectionModel().selectedRows() if self.selectionModel() else []
        return rows[0].row() if rows else 0

    def _cell(self, r: int, c: int, text: str, tip: str = "", align=None, colour: Optional[str] = None) -> None:
        """`colour`: a colour role for the text (None: the table's own)."""
        item = self.item(r, c)
        if item is None:
            item = QTableWidgetItem()
            self.setItem(r, c, item)
        item.setText(text)
        item.setToolTip(tip)
        if align is not None:
            item.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)
        themed_item(item, colour)


class TaskResultsPane(QWidget):
    """The Tasks tab's right side: a caption, the scores and the prompt preview side by side, the answers below."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.caption = QLabel()
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setWordWrap(True)
        self.scores = ScoresTable()
        self.caveat = note(CAVEAT)

        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(8.5)
        self.preview.setFont(mono)
        self.preview.setToolTip(
            "What the model reads for the selected example, in each mode: it writes "
            "its answer right after the last line."
        )
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.preview_caption = QLabel("<b>What the model reads</b>")
        self.preview_caption.setTextFormat(Qt.TextFormat.RichText)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.scores)
        ll.addWidget(self.caveat)
        ll.addStretch(1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.preview_caption)
        rl.addWidget(self.preview, 1)
        # The scores and their caveat scroll in their column: squeezed (big type, a short splitter pane),
        # the wrapped caveat needs more lines than its minimum says and would be drawn over the table.
        left_scroll = QScrollArea()
        left_scroll.setWidget(left)
        left_scroll.setWidgetResizable(True)
        left_scroll.setFrameShape(QFrame.Shape.NoFrame)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(left_scroll)
        top.addWidget(right)
        top.setSizes([440, 340])
        top.setChildrenCollapsible(False)

        self.answers = AnswersTable()
        self.answers_caption = QLabel("<b>Answers</b>")
        self.answers_caption.setToolTip("Hover an answer for everything the model wrote.")
        self.answers_caption.setTextFormat(Qt.TextFormat.RichText)
        bottom = QWidget()
        bol = QVBoxLayout(bottom)
        bol.setContentsMargins(0, 0, 0, 0)
        bol.addWidget(self.answers_caption)
        bol.addWidget(self.answers, 1)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setSizes([260, 440])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(splitter, 1)
