"""Each suspect's memory and CPU time sampled from ``/proc`` while the capture runs: a leak
shows as resident memory growing along a line within seconds, a hot loop as CPU time close to
the wall clock. Cheap (two small files per suspect per sample) and never blocking on the
target: ``/proc`` reads do not wait for the process."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

INTERVAL_S = 0.5
MAX_SAMPLES = 600  # five minutes at the interval: a bound, whatever the capture lasts
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")


def read_sample(proc_root: str, pid: int) -> tuple[int, float, int] | None:
    """(rss bytes, CPU seconds, start ticks) of a process, or None when it is gone."""
    base = Path(proc_root, str(pid))
    try:
        stat = (base / "stat").read_text()
        statm = (base / "statm").read_text().split()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if len(fields) < 20 or len(statm) < 2 or fields[0] in ("Z", "X"):
        return None
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    return int(statm[1]) * _PAGE, cpu, int(fields[19])


class ProcessWatch:
    """Samples the suspects every ``interval_s`` on a daemon thread until ``stop()``."""

    def __init__(self, pids: tuple[int, ...], *, proc_root: str = "/proc",
                 interval_s: float = INTERVAL_S) -> None:
        self.pids = pids
        self.proc_root = proc_root
        self.interval_s = interval_s
        self.samples: dict[int, list[tuple[int, int, float]]] = {p: [] for p in pids}
        self.start_ticks: dict[int, int] = {}
        self.exited: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.pids:
            return
        self.sample_once()
        self._thread = threading.Thread(target=self._loop, name="incident-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        with contextlib.suppress(Exception):
            self.sample_once()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample_once()

    def sample_once(self) -> None:
        now = time.time_ns()
        for pid in self.pids:
            if pid in self.exited or len(self.samples[pid]) >= MAX_SAMPLES:
                continue
            got = read_sample(self.proc_root, pid)
            first = self.start_ticks.setdefault(pid, got[2]) if got is not None else None
            if got is None or got[2] != first:  # gone, or its PID reused by another process
                self.exited.add(pid)
                continue
            self.samples[pid].append((now, got[0], got[1]))

    def document(self) -> dict[str, object]:
        """The samples as evidence: per PID, [ts_ns, rss_bytes, cpu_seconds] rows."""
        return {"interval_s": self.interval_s,
                "processes": {str(pid): {"exited": pid in self.exited,
                                         "start_ticks": self.start_ticks.get(pid),
                                         "samples": [list(s) for s in rows]}
                              for pid, rows in self.samples.items()}}
