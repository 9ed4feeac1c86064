"""The start-up job: what the app does in the background right after its window shows."""

from __future__ import annotations

import logging
from typing import Generator

log = logging.getLogger(__name__)


def start_up() -> Generator[object, None, None]:
    """Warm a tokenizer worker, find the device (imports torch: ~2 s), then prepare training.

    Yields the :class:`~playground.core.devices.DeviceInfo` as soon as it is known, so the
    window shows the device while the warm-up goes on.
    """
    from playground.core.devices import detect_device
    from playground.core.tokenizer_worker import prestart_worker

    prestart_worker()
    yield detect_device()
    try:
        warm_up_training()
    except Exception:  # noqa: BLE001 - only a head start: the first run imports it anyway
        log.warning("Could not prepare the optimizer ahead of training", exc_info=True)


def load_model(folder) -> Generator[object, None, tuple]:
    """Load the checkpoint in ``folder`` (the demo model at start-up): (Checkpoint, model)."""
    from playground.core.checkpoints import load_checkpoint
    from playground.core.progress import Progress

    yield Progress(None, f"Loading the model {folder.name}…")
    return load_checkpoint(folder)


def warm_up_training() -> None:
    """Build and step a throwaway AdamW, in a background job right after torch loads.

    In torch 2.x the first optimizer imports ``torch._dynamo`` (about 900 modules, 1-2 s):
    ``Optimizer.add_param_group`` is wrapped by ``torch._disable_dynamo``, which imports it on first
    call. Paid here, it is not paid when the person starts training, when the window is busiest.
    No lock of the app is held meanwhile: only Python's own per-module import locks.
    """
    import gc

    import torch

    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.AdamW([weight], lr=1e-3)
    weight.sum().backward()
    optimizer.step()
    # What torch and its compiler imported stays for the whole session: out of the collector's way,
    # or every full collection (run by whichever thread allocates, the GUI's too) walks it again.
    gc.freeze()
