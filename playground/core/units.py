"""Readable numbers, in one place: counts, sizes, operations and durations.

Sizes are in binary (IEC) units — bytes, KiB, MiB, GiB — everywhere in the app
and the command line, because memory (what every size here is compared with)
comes in powers of two.
"""

from __future__ import annotations


def human_count(n: float) -> str:
    """A count with a unit: 950, 12.3K, 124.4M, 1.5B."""
    n = float(n)
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def human_bytes(n: float) -> str:
    """Bytes in binary units: 512 bytes, 3.2 KiB, 1.5 MiB, 2.3 GiB."""
    n = float(n)
    if abs(n) < 1024:
        return f"{n:.0f} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
    return f"{n:.1f} TiB"


def human_flops(n: float) -> str:
    """Floating-point operations: 7.4 MFLOP, 1.2 GFLOP (add "/s" for a speed)."""
    n = float(n)
    for unit, size in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} FLOP"


def human_duration(seconds: float) -> str:
    """A duration a person reads at a glance: 45 s, 3.2 min, 2.5 h, 4.1 days."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
