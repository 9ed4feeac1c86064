"""Which compute device this machine offers: a CUDA GPU, Apple MPS, or the CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cuda", "mps" or "cpu"
    name: str
    total_memory: Optional[int] = None  # bytes
    free_memory: Optional[int] = None  # bytes
    threads: Optional[int] = None

    def describe(self) -> str:
        if self.kind == "cuda":
            assert self.total_memory is not None, "detect_device always measures a GPU"
            free = f"{self.free_memory / 2**30:.1f} of " if self.free_memory is not None else ""
            return f"GPU: {self.name} ({free}{self.total_memory / 2**30:.1f} GiB free)"
        if self.kind == "mps":
            return f"Apple GPU (MPS): {self.name}"
        return f"CPU: {self.name}, {self.threads} threads (no GPU found)"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "CPU"


def detect_device() -> DeviceInfo:
    """The best device torch can use here (imports torch: call it off the GUI thread)."""
    import torch

    if torch.cuda.is_available():
        index = torch.cuda.current_device()
        free, total = torch.cuda.mem_get_info(index)
        return DeviceInfo("cuda", torch.cuda.get_device_name(index), total, free)
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        import platform

        return DeviceInfo("mps", platform.machine())
    return DeviceInfo("cpu", cpu_name(), threads=torch.get_num_threads() or os.cpu_count())


def device_memory(device) -> tuple[Optional[int], str]:
    """(all the memory of a torch device in bytes, a name for it); None when unknown.

    All of it, not what is free now: a model refused against this could never fit there.
    """
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        import torch

        index = device.index if getattr(device, "index", None) is not None else torch.cuda.current_device()
        return torch.cuda.get_device_properties(index).total_memory, "the GPU"
    if kind in ("cpu", "mps"):  # Apple's GPU shares the computer's memory
        return physical_memory(), "this computer"
    return None, "the device"


def physical_memory() -> Optional[int]:
    """The computer's RAM in bytes, from `os.sysconf` (Linux, macOS); None where that is unavailable."""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
    return pages * page_size if pages > 0 and page_size > 0 else None
