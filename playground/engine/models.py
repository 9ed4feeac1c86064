"""The trained model behind the session's checkpoint: loaded once, in a job, and shared by the panels."""

from __future__ import annotations

import threading
from typing import Optional


class ModelStore:
    """Holds the weights (a `GPT`) of the latest checkpoint asked for, on one device.

    Every model sits on the same device, however it arrived: loaded here,
    loaded by a job and offered, handed over by a training run (which may have
    trained on another device) or imported. `device_name` ("auto" unless told
    otherwise) is read by `resolve_device`, as everywhere in the app; jobs that
    load a model for the session load it there, and `model_for` moves an
    offered model there before anyone uses it.

    `model_for` may take seconds for a big model, so call it from a job, never
    on the GUI thread. One model is kept: a learner looks at one at a time, and
    a second copy of a big model could fill the memory.
    """

    def __init__(self, device_name: str = "auto") -> None:
        self.device_name = device_name
        self._lock = threading.Lock()  # guards the key and model: held only to read or swap them
        self._loading = threading.Lock()  # one load at a time (jobs wait here, never the GUI thread)
        self._key: Optional[tuple] = None
        self._model = None
        self._placed = False  # the kept model is on `device()`, in eval mode

    @staticmethod
    def _key_of(checkpoint) -> tuple:
        return (str(checkpoint.path), checkpoint.step)

    def device(self):
        """The torch device every model goes to (imports PyTorch: call it from a job)."""
        from playground.core.training import resolve_device

        return resolve_device(self.device_name)

    def offer(self, checkpoint, model) -> None:
        """Keep a model that was loaded anyway (with its checkpoint), so nobody loads it again.

        Cheap (the GUI thread calls it): the model moves to the store's device
        on first use, in `model_for`.
        """
        with self._lock:
            self._key, self._model, self._placed = self._key_of(checkpoint), model, False

    def model_for(self, checkpoint):
        """The model of `checkpoint`, on `device()` and in eval mode; loaded from its folder on first use."""
        from playground.core.checkpoints import load_checkpoint

        key = self._key_of(checkpoint)
        with self._loading:
            with self._lock:
                if self._key == key:
                    model, placed = self._model, self._placed
                else:
                    model, placed = None, False
                    self._key, self._model = None, None  # free the old weights before loading the new ones
            if model is not None:
                if not placed:
                    model = self._place(model)
                return model
            _, model = load_checkpoint(checkpoint.path, device=self.device())
            with self._lock:
                if self._key is None:  # keep it, unless `offer` brought another model meanwhile
                    self._key, self._model, self._placed = key, model, True
            return model

    def _place(self, model):
        """Move an offered model to the store's device and into eval mode (a trained one comes in train mode)."""
        device = self.device()
        first = next(model.parameters(), None)
        if first is not None and first.device.type != device.type:
            model.to(device)
        model.eval()
        with self._lock:
            if self._model is model:
                self._placed = True
        return model
