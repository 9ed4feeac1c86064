"""The Train step's live samples: what the model makes of text every few steps.

A decoder writes a short continuation (`SampleRecord`); an encoder guesses the hidden
words of a fixed validation sentence (`FillMaskSample`): the sentence with its [MASK]s,
then for each hidden word what it was and the model's top guesses with their
probabilities, so the learner watches the guesses turn from noise into the words. An
encoder-decoder answers a fixed input (`Seq2SeqSample`): span corruption's sentence with its
sentinels, the spans it should write and what it wrote; text to text's input, its reference,
the answer and whether it is right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QPlainTextEdit

if TYPE_CHECKING:
    from playground.core.encoder_training import FillMaskSample
    from playground.core.seq2seq_training import Seq2SeqSample
    from playground.core.training import SampleRecord

DECODER_PLACEHOLDER = "Every few steps the model writes a short sample here: watch it go from noise to words."
ENCODER_PLACEHOLDER = (
    "Every few steps the model guesses the hidden words of a fixed sentence here, with how sure it is "
    "of each guess: watch the guesses turn from noise into the words."
)
SEQ2SEQ_PLACEHOLDER = (
    "Every few steps the model answers a fixed input here, beside what it should write: watch its "
    "answer turn from noise into the target."
)
PLACEHOLDERS = {"decoder": DECODER_PLACEHOLDER, "encoder": ENCODER_PLACEHOLDER, "encoder-decoder": SEQ2SEQ_PLACEHOLDER}


def fill_mask_lines(sample: FillMaskSample) -> list[str]:
    """The sentence with its masks, then one line per hidden word: what it was, and the top guesses."""
    lines = [sample.text]
    for n, mask in enumerate(sample.masks, 1):
        guesses = " · ".join(f"{g.text.strip() or repr(g.text)} {g.probability:.0%}" for g in mask.guesses)
        lines.append(f"  [MASK] {n} (was {mask.answer.strip() or repr(mask.answer)}): {guesses}")
    return lines


def seq2seq_lines(sample: Seq2SeqSample) -> list[str]:
    """Span corruption: the corrupted input, the target spans, the answer and the input filled in with it.
    Text to text: the input, the reference and the answer, marked right or wrong."""
    if sample.objective == "text-to-text":
        verdict = "right" if sample.correct else "wrong"
        return [
            f"  input:     {sample.input}",
            f"  reference: {sample.target}",
            f"  answer:    {sample.answer}  ({verdict})",
        ]
    lines = [f"  corrupted: {sample.input}", f"  target:    {sample.target}", f"  answer:    {sample.answer}"]
    if sample.filled:
        lines.append(f"  filled in: {sample.filled}")
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
        self.set_family("encoder" if encoder else "decoder")

    def set_family(self, family: str) -> None:
        """Say what will appear for a run of this family ("decoder", "encoder", "encoder-decoder")."""
        self.setPlaceholderText(PLACEHOLDERS[family])

    def show_text(self, record: SampleRecord) -> None:
        self.appendPlainText(f"── step {record.step:,} ──\n{record.prompt}{record.text}\n")

    def show_fill_mask(self, sample: FillMaskSample) -> None:
        self.appendPlainText(f"── step {sample.step:,} ──\n" + "\n".join(fill_mask_lines(sample)) + "\n")

    def show_seq2seq(self, sample: Seq2SeqSample) -> None:
        self.appendPlainText(f"── step {sample.step:,} ──\n" + "\n".join(seq2seq_lines(sample)) + "\n")
