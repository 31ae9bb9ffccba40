"""Two snapshots an interval apart -> the inputs of the model. The only part of ``top`` that
reads /proc; collectors are passed in so tests point them at a fixed fake tree."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perflab.collect import (
    ProcessCollector,
    ProcessRow,
    SystemCollector,
    SystemRates,
    SystemSnapshot,
    system_rates,
)


@dataclass(frozen=True, slots=True)
class Sample:
    snapshot: SystemSnapshot  # the later of the two
    rates: SystemRates
    rows: list[ProcessRow]


class Sampler:
    """Keeps the previous system snapshot; each ``sample()`` gives rates since the last one."""

    def __init__(self, proc_root: str | Path = "/proc", *,
                 system: SystemCollector | None = None,
                 processes: ProcessCollector | None = None,
                 mono_clock: Callable[[], float] = time.monotonic) -> None:
        """``mono_clock`` is the system collector's clock (the one it stamps snapshots with)."""
        # top reads the TCP counts from snmp and sockstat, not by walking every socket
        self.system = system or SystemCollector(proc_root, tcp_states=False,
                                                mono_clock=mono_clock)
        self.processes = processes or ProcessCollector(proc_root)
        self._mono = mono_clock
        self._prev: SystemSnapshot | None = None

    def prime(self) -> None:
        """Take the first snapshot: rates need two."""
        self._prev = self.system.snapshot()
        self.processes.refresh()

    def remaining(self, interval_s: float) -> float:
        """Seconds left until ``interval_s`` after the last system snapshot: what to wait
        before ``sample()`` for rates over ``interval_s``. The process walk that follows a
        snapshot (tens of ms on a busy machine) is part of the interval, not added to it."""
        if self._prev is None:
            return interval_s
        return max(0.0, self._prev.mono_s + interval_s - self._mono())

    def sample(self) -> Sample:
        if self._prev is None:
            self.prime()
        prev = self._prev
        assert prev is not None
        cur = self.system.snapshot()
        rows = self.processes.refresh()
        self._prev = cur
        return Sample(cur, system_rates(prev, cur), rows)
