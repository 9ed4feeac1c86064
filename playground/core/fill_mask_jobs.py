"""The Fill-the-mask step's work as job generators: the model comes from the session's store, inside the job.

    guess_masks(models, checkpoint, text, top_k)   -> FillMaskResult (every mask's top guesses, one pass)
    fill_every_mask(models, checkpoint, text)      MaskFilled per mask, surest first -> FilledText

``models`` is anything with ``model_for(checkpoint)`` (the session's ``ModelStore``, or
``generation_jobs.OneModel`` for a model already in memory); loading it may take a moment,
so it happens in the job, never on the GUI thread. The work itself is ``core/fill_mask.py``'s.
"""

from __future__ import annotations

from .fill_mask import TOP_K, FilledText, FillMaskResult, fill_all_masks, fill_mask
from .progress import JobGenerator, Progress


def guess_masks(models, checkpoint, text: str, top_k: int = TOP_K) -> JobGenerator[FillMaskResult]:
    """Job: each [MASK] of `text` with its `top_k` guesses, from one forward pass of the checkpoint's model."""
    yield Progress(None, "Reading the text…")
    model = models.model_for(checkpoint)
    return fill_mask(model, checkpoint.tokenizer, text, top_k)


def fill_every_mask(models, checkpoint, text: str) -> JobGenerator[FilledText]:
    """Job: fill every [MASK] of `text`, the surest first (yields a `MaskFilled` per mask)."""
    yield Progress(None, "Reading the text…")
    model = models.model_for(checkpoint)
    return (yield from fill_all_masks(model, checkpoint.tokenizer, text))
