"""The trained model behind the session's checkpoint: loaded once, in a job, and shared by the panels."""

from __future__ import annotations

import threading
from typing import Optional


class ModelStore:
    """Holds the weights (a `GPT`) of the latest checkpoint asked for.

    `model_for` may take seconds for a big model, so call it from a job, never
    on the GUI thread. One model is kept: a learner looks at one at a time, and
    a second copy of a big model could fill the memory.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()          # guards the key and model: held only to read or swap them
        self._loading = threading.Lock()       # one load at a time (jobs wait here, never the GUI thread)
        self._key: Optional[tuple] = None
        self._model = None

    @staticmethod
    def _key_of(checkpoint) -> tuple:
        return (str(checkpoint.path), checkpoint.step)

    def offer(self, checkpoint, model) -> None:
        """Keep a model that was loaded anyway (with its checkpoint), so nobody loads it again."""
        with self._lock:
            self._key, self._model = self._key_of(checkpoint), model

    def model_for(self, checkpoint, device: str = "auto"):
        """The model of `checkpoint`, in eval mode; loaded from its folder on first use."""
        from playground.core.checkpoints import load_checkpoint
        from playground.core.training import resolve_device

        key = self._key_of(checkpoint)
        with self._loading:
            with self._lock:
                if self._key == key:
                    return self._model
                self._key, self._model = None, None  # free the old weights before loading the new ones
            _, model = load_checkpoint(checkpoint.path, device=resolve_device(device))
            with self._lock:
                if self._key is None:  # keep it, unless `offer` brought another model meanwhile
                    self._key, self._model = key, model
            return model
