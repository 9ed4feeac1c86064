"""The Train step's live samples: what the model makes of text every few steps.

A decoder writes a short continuation (`SampleRecord`); an encoder guesses the hidden
words of a fixed validation sentence (`FillMaskSample`): the sentence with its [MASK]s,
then for each hidden word what it was and the model's top guesses with their
probabilities, so the learner watches the guesses turn from noise into the words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QPlainTextEdit

if TYPE_CHECKING:
    from playground.core.encoder_training import FillMaskSample
    from playground.core.training import SampleRecord

DECODER_PLACEHOLDER = "Every few steps the model writes a short sample here: watch it go from noise to words."
ENCODER_PLACEHOLDER = (
    "Every few steps the model guesses the hidden words of a fixed sentence here, with how sure it is "
    "of each guess: watch the guesses turn from noise into the words."
)


def fill_mask_lines(sample: FillMaskSample) -> list[str]:
    """The sentence with its masks, then one line per hidden word: what it was, and the top guesses."""
    lines = [sample.text]
    for n, mask in enumerate(sample.masks, 1):
        guesses = " · ".join(f"{g.text.strip() or repr(g.text)} {g.probability:.0%}" for g in mask.guesses)
        lines.append(f"  [MASK] {n} (was {mask.answer.strip() or repr(mask.answer)}): {guesses}")
    return lines


class TrainingSamples(QPlainTextEdit):
    """The samples of the run under way, newest last."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setPlaceholderText(DECODER_PLACEHOLDER)
        self.setStyleSheet("font-family: 'DejaVu Sans Mono', monospace;")

    def set_encoder(self, encoder: bool) -> None:
        """Say what will appear: generated text (a decoder) or guesses for hidden words (an encoder)."""
        self.setPlaceholderText(ENCODER_PLACEHOLDER if encoder else DECODER_PLACEHOLDER)

    def show_text(self, record: SampleRecord) -> None:
        self.appendPlainText(f"── step {record.step:,} ──\n{record.prompt}{record.text}\n")

    def show_fill_mask(self, sample: FillMaskSample) -> None:
        self.appendPlainText(f"── step {sample.step:,} ──\n" + "\n".join(fill_mask_lines(sample)) + "\n")
