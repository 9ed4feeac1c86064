"""Where and how precisely a run trains: the device a name means, the precision that works there,
and whether an error means the memory ran out. Split from `training.py` (which re-exports them)."""

from __future__ import annotations

from typing import Optional

import torch

from playground.core.progress import UserError
from playground.core.train_config import DEVICES


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for a name; "auto" picks CUDA, then Apple's MPS, then the CPU."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise UserError(
            "No CUDA GPU is available: PyTorch finds none (or was installed without CUDA). Choose “auto” or “cpu”."
        )
    if name == "mps" and not mps:
        raise UserError("Apple's GPU (MPS) is not available on this machine. Choose “auto” or “cpu”.")
    if name not in DEVICES:
        raise UserError(f"Unknown device {name!r}: choose one of {', '.join(DEVICES)}.")
    return torch.device(name)


def resolve_precision(precision: str, device: torch.device) -> tuple[str, Optional[str]]:
    """The precision actually used on `device`, and a note when it differs from the one asked for.

    Mixed precision (autocast) pays off on CUDA GPUs only; elsewhere it is slower or unsupported.
    """
    if precision == "fp32":
        return "fp32", None
    if device.type != "cuda":
        return "fp32", f"{precision} needs a CUDA GPU; training on the {device.type.upper()} uses fp32."
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        return "fp16", "This GPU has no bf16 support; training uses fp16 with loss scaling instead."
    return precision, None


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    if isinstance(error, getattr(torch.cuda, "OutOfMemoryError", ())):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)
