"""What the Generate step tells the Attention Lab: the text the model has read and written so far.

A generation announces the prompt's ids first, then each token it adds, as a
`GeneratedText` on `session.text_generated`. While the Lab follows generation
live (`session.live_attention_wanted`), the generation hands over each token's
attention from its own forward passes, and the feed gathers it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from playground.engine.session import GeneratedText, Session

if TYPE_CHECKING:
    from playground.core.attention_records import AttentionSoFar


def _gather_attention(so_far, token):
    """The text's attention so far with `token`'s rows added; None when generation handed none over."""
    if token.attention is None:
        return None
    from playground.core.attention_records import AttentionSoFar

    return (so_far or AttentionSoFar()).add(token.attention)


class GenerationFeed:
    """The ids, texts and attention announced so far, for one Generate panel."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.ids: list[int] = []  # prompt + tokens, as told to the Attention Lab
        self.texts: list[str] = []
        self.attention: Optional[AttentionSoFar] = None  # their attention, when generation hands it over
        self.attention_wanted = False  # the running generation hands its attention over

    def want_attention(self, possible: bool = True) -> bool:
        """Whether the next generation hands its attention over (the Attention Lab follows it live);
        never when it is not `possible` (its model's rows are not a decoder's)."""
        self.attention_wanted = possible and bool(self.session.live_attention_wanted)
        return self.attention_wanted

    def announce(self, prompt_ids: list[int], token=None) -> None:
        """Tell the session what the model has read and written so far: the prompt's ids when `token`
        is None, else one more token (with its attention, when asked for)."""
        checkpoint = self.session.checkpoint
        if checkpoint is None:
            return
        decode = checkpoint.tokenizer.decode
        if token is None:
            self.ids = list(prompt_ids)
            self.texts = [decode([i]) for i in self.ids]
            self.attention = None
        else:
            self.ids.append(token.id)
            self.texts.append(decode([token.id]))
            self.attention = _gather_attention(self.attention, token)
        self.session.text_generated.emit(
            GeneratedText(
                checkpoint=checkpoint,
                ids=list(self.ids),
                tokens=list(self.texts),
                prompt_tokens=len(prompt_ids),
                attention=self.attention,
                attention_follows=self.attention_wanted,
            )
        )
