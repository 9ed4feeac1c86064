"""The Generate step's status line: what the generation is doing, and how it ended.

It sits beside the Generate, Step, Stop and Clear buttons and words each way a
run ends: the last token's stop reason, Stop, a step's token, beam search's
result. It also times the streamed tokens, from the first to the last, so the
rate it reports leaves out reading the prompt.
"""

from __future__ import annotations

import time
from html import escape

from PySide6.QtWidgets import QLabel

from playground.ui.themes import themed_style
from playground.ui.widgets.generated_text import percent, token_label

STOP_LABELS = {
    "max new tokens": "Stopped: max new tokens",
    "the end-of-text token": "Stopped: the end-of-text token",
    "a stop string": "Stopped: a stop string",
}
STOPPED_BY_YOU = "Stopped by you"


class GenerationStatus(QLabel):
    """One wrapped line of text under the prompt, and the times of the first and last streamed token."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        themed_style(self, "color: {body};")
        self.setWordWrap(True)
        self._first_token_at = self._last_token_at = 0.0

    def start_timing(self) -> None:
        """A new run: no token streamed yet."""
        self._first_token_at = self._last_token_at = 0.0

    def token_streamed(self, count: int) -> None:
        """One more token arrived; `count` tokens are in the output now."""
        now = time.monotonic()
        self._first_token_at = self._first_token_at or now
        self._last_token_at = now
        self.setText(f"Generating… {count:,} tokens")

    def stopped_by_you(self) -> None:
        self.setText(STOPPED_BY_YOU)

    def finished(self, tokens: list, cancelled: bool) -> None:
        """A streamed generation ended with `tokens`: why it stopped, how many tokens and how fast."""
        n = len(tokens)
        if cancelled:
            head = f"{STOPPED_BY_YOU} after {n:,} tokens"
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
        self.setText(head + rate)

    def stepped(self, token, specials: dict[int, str]) -> None:
        """Step made `token`: its probability before and after the settings."""
        label = escape(token_label(token.id, token.text, specials))
        self.setText(
            f"Step: token {token.index + 1} <code>{label}</code>: the model gave it {percent(token.prob)}, "
            f"{percent(token.chosen_prob)} after the settings. Step again for the next."
            + (f" ({token.stop_reason})" if token.stop_reason else "")
        )

    def beams_drawn(self, steps: int, live: int) -> None:
        self.setText(f"Beam search, step {steps:,}: the {live} live beams so far…")

    def beams_found(self, result) -> None:
        finished = sum(b.finished for b in result.beams)
        self.setText(
            f"Beam search finished after {result.steps:,} steps: {finished} of "
            f"{len(result.beams)} beams reached the end-of-text token."
        )

    def beams_stopped(self, result) -> None:
        """Stop during beam search: `result` is the beams so far, None before the first step."""
        if result is None:
            self.setText(f"{STOPPED_BY_YOU} before the first step.")
        else:
            self.setText(f"Stopped after {result.steps:,} steps: these are the beams so far.")
