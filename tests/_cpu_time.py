"""The CPU time a process really got, read from /proc while a test runs.

On a busy machine a "busy" child may get a small share of a core (beside `stress-ng --cpu 2`
on 2 cores, 10 % of one). Tests that check perflab's CPU figures or a profiler's sample count
therefore compare them with what the kernel charged the process over the same wall-clock
window, not with a share of a core guessed in advance.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from types import TracebackType
from typing import Self

import psutil


class CpuTimeline:
    """Reads a process's CPU time (user + system, all its threads) every ``every_s`` on a
    thread of its own, each reading with its wall-clock time, until the block ends or the
    process is gone. ``between()`` bounds the CPU time it got between two wall-clock times.
    """

    def __init__(self, pid: int, every_s: float = 0.02) -> None:
        self._proc = psutil.Process(pid)
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name=f"cpu-timeline-{pid}",
                                        daemon=True)
        self.times_ns: list[int] = []
        self.cpu_s: list[float] = []

    def __enter__(self) -> Self:
        self._read()  # one reading before the caller goes on: the timeline starts now
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _read(self) -> bool:
        try:
            user, system = self._proc.cpu_times()[:2]
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return False
        # the counter is read after the clock: the reading holds at least what ran until then
        self.times_ns.append(time.time_ns())
        self.cpu_s.append(user + system)
        return True

    def _poll(self) -> None:
        while not self._stop.wait(self._every_s) and self._read():
            pass

    def between(self, start_ns: int, end_ns: int) -> tuple[float, float]:
        """(at least, at most) the CPU seconds the process got between ``start_ns`` and
        ``end_ns``, from the readings that bracket the two times. The counter only grows, so
        whatever another reader of /proc saw between the two times lies in this range. Past
        the last reading (the process exited) the last one stands for its final total."""
        times, cpu = self.times_ns, self.cpu_s
        assert times, "no reading: the process was gone before the timeline started"
        # at least: from the first reading at or after the start to the last at or before the end
        first_after_start = bisect.bisect_left(times, start_ns)
        last_before_end = bisect.bisect_right(times, end_ns) - 1
        least = 0.0
        if first_after_start < len(times) and last_before_end >= 0:
            least = max(0.0, cpu[last_before_end] - cpu[first_after_start])
        # at most: from the last reading at or before the start to the first at or after the end
        last_before_start = bisect.bisect_right(times, start_ns) - 1
        first_after_end = min(bisect.bisect_left(times, end_ns), len(times) - 1)
        most = cpu[first_after_end] - (cpu[last_before_start] if last_before_start >= 0 else 0.0)
        return least, most


# a tick's timestamp is taken before its reads: the process's /proc is read up to this later
READ_LAG_NS = 300_000_000


def recorded_cpu_s(samples: list[tuple[int, float]]) -> float:
    """The CPU seconds a process.cpu.pct series says the process got, from its first sample to
    its last: each value is the % of a core since the sample before."""
    return sum(pct / 100 * (ts - prev) / 1e9
               for (prev, _), (ts, pct) in itertools.pairwise(samples))


def recorded_cpu_bounds(timeline: CpuTimeline,
                        samples: list[tuple[int, float]]) -> tuple[float, float]:
    """What the kernel charged the process over the window ``recorded_cpu_s`` covers: from the
    first sample's reads to the last one's, each within READ_LAG_NS after its timestamp."""
    first, last = samples[0][0], samples[-1][0]
    least, _ = timeline.between(first + READ_LAG_NS, last)
    _, most = timeline.between(first, last + READ_LAG_NS)
    return least, most


def check_recorded_cpu(timeline: CpuTimeline, samples: list[tuple[int, float]]) -> float:
    """Asserts that a process.cpu.pct series adds up to the CPU time the kernel charged the
    process over the same window; returns the recorded CPU seconds. The slack (10 % + 50 ms)
    is for each share being of its tick's monotonic interval, summed here over timestamps."""
    least, most = recorded_cpu_bounds(timeline, samples)
    recorded = recorded_cpu_s(samples)
    assert least * 0.9 - 0.05 <= recorded <= most * 1.1 + 0.05, (least, recorded, most)
    return recorded
