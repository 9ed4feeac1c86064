"""The note under the Tokenizer Lab's kind chooser: a warning before a long training, not after."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QLabel

from playground.core.corpus import CorpusStats
from playground.core.units import human_bytes, human_duration
from playground.ui.themes import themed_style

# Unigram (the library's EM pruning) trains at about 40 KB of text a second on a laptop core,
# against megabytes a second for BPE: 2 MiB of Python docs take about a minute.
UNIGRAM_BYTES_PER_SECOND = 40_000
SLOW_FROM_SECONDS = 10  # below this the progress bar says enough


def training_time_note(kind: str, stats: Optional[CorpusStats]) -> str:
    """What to expect before training `kind` on the scanned corpus; "" when it is quick."""
    if kind != "unigram" or stats is None:
        return ""
    seconds = stats.size_bytes / UNIGRAM_BYTES_PER_SECOND
    if seconds < SLOW_FROM_SECONDS:
        return ""
    return (
        f"Unigram trains much more slowly than the other kinds: on this {human_bytes(stats.size_bytes)} "
        f"corpus expect about {human_duration(seconds)} (BPE takes seconds). A smaller corpus is quicker."
    )


class KindNote(QLabel):
    """Says how long the chosen kind will take on the corpus, when that is long; hidden otherwise."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        themed_style(self, "color: {muted};")
        self.hide()

    def show_for(self, kind: str, stats: Optional[CorpusStats]) -> None:
        text = training_time_note(kind, stats)
        self.setText(text)
        self.setVisible(bool(text))
