"""How busy the rest of the machine was while a benchmark measured (Linux /proc).

Both benchmarks print this beside their tables: a ratio taken while another
process held a core is not the same measurement as one on a quiet machine.
"""

from __future__ import annotations

import os
from typing import Optional


def machine_jiffies() -> tuple[int, int, int]:
    """(busy, steal, total) CPU ticks of the whole machine, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    return busy, steal, busy + idle + iowait + steal


def own_jiffies() -> int:
    """CPU ticks used by this process and its live children (e.g. the tokenizer worker)."""
    me = os.getpid()
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        rest = raw[raw.rindex(")") + 2 :].split()  # fields after "pid (comm)"
        if int(entry) == me or int(rest[1]) == me:
            total += int(rest[11]) + int(rest[12])  # utime + stime
    return total


class OtherLoad:
    """CPU time other processes took between construction and `share()`/`report()`."""

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            return machine_jiffies(), own_jiffies()
        except (OSError, ValueError, IndexError):
            return None

    def _shares(self) -> Optional[tuple[float, float]]:
        end = self._sample()
        if self.start is None or end is None:
            return None
        (b0, s0, t0), o0 = self.start
        (b1, s1, t1), o1 = end
        total = max(1, t1 - t0)
        return max(0, (b1 - b0) - (o1 - o0)) / total, (s1 - s0) / total

    def share(self) -> Optional[float]:
        """Other processes' share of the machine's CPU time (None without /proc)."""
        shares = self._shares()
        return None if shares is None else shares[0]

    def report(self) -> str:
        shares = self._shares()
        if shares is None:
            return "other load: unknown (no /proc)"
        other, steal = shares
        return (
            f"other load while measuring: other processes used {100 * other:.0f}% of the machine's "
            f"CPU time, hypervisor steal {100 * steal:.0f}% (0% means a quiet machine)"
        )
