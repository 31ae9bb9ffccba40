"""What the Overview page shows: the latest window of this machine's recording, and top processes.

The recording is the serve run this process writes (or, with ``--no-record``, the newest
``serve``/``record`` run in the store). Only the series the Overview draws are read, and the
process table is read at most once a second however many browsers poll.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perflab.collect import ProcessCollector, ProcessRow
from perflab.store import sample_window
from perflab.web._api import series_json
from perflab.web._contracts import ApiLiveDoc, ApiLivePanel, ApiLivePanelLine

if TYPE_CHECKING:
    from perflab.store import Run, Series, Store


@dataclass(frozen=True, slots=True)
class Panel:
    key: str
    title: str
    unit: str
    matches: Callable[[Series], bool]


def _cpu(s: Series) -> bool:
    # busy modes only, as htop's CPU bars: idle would pin the axis at 100 % and flatten the rest
    return (s.name == "system.cpu.pct" and s.labels.get("cpu", "all") == "all"
            and s.labels.get("mode") != "idle")


PANELS: tuple[Panel, ...] = (
    Panel("cpu", "CPU by mode", "%", _cpu),
    Panel("memory", "Memory", "bytes",
          lambda s: s.name.startswith("system.mem.") and s.unit == "bytes"),
    Panel("psi", "Pressure stall (PSI avg10)", "%",
          lambda s: s.name in ("system.psi.some_pct", "system.psi.full_pct")),
    Panel("disk", "Disk utilisation", "%", lambda s: s.name.startswith("system.disk.util")),
    Panel("net", "Network", "bytes/s",
          lambda s: s.name.startswith("net.if.") and s.name.endswith("bytes_per_s")),
    Panel("tcp", "TCP events", "/s", lambda s: s.name.startswith("net.tcp.") and s.unit == "/s"),
    Panel("tcpconn", "TCP connections", "",
          lambda s: s.name in ("net.tcp.established", "net.tcp.time_wait")),
)

TOP_N = 15


class LiveView:
    def __init__(self, *, run_id: int | None = None, proc_root: str = "/proc",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.run_id = run_id  # the serve run being recorded, when there is one
        self._procs = ProcessCollector(proc_root, with_io=False, with_fds=False)
        self._clock = clock
        self._lock = threading.Lock()
        self._top: list[ProcessRow] = []
        self._top_at = -1e9

    def source_run(self, store: Store) -> Run | None:
        if self.run_id is not None:
            return store.run(self.run_id)
        for kind in ("serve", "record"):
            runs = store.runs(kind=kind, limit=1)
            if runs:
                return runs[0]
        return None

    def top_processes(self) -> list[ProcessRow]:
        with self._lock:
            now = self._clock()
            if now - self._top_at >= 1.0:
                if self._top_at < 0:
                    # the first reading has no rate: take two, a short moment apart
                    self._procs.refresh()
                    time.sleep(0.2)
                rows = self._procs.refresh()
                rows.sort(key=lambda r: (r.cpu_pct, r.rss_bytes), reverse=True)
                self._top, self._top_at = rows[:TOP_N], self._clock()
            return self._top

    def snapshot(self, store: Store, *, window_ns: int, points: int) -> ApiLiveDoc:
        now = time.time_ns()
        run = self.source_run(store)
        panels: list[ApiLivePanel] = []
        if run is not None:
            start = now - window_ns
            all_series = store.series(run.id)
            for panel in PANELS:
                lines: list[ApiLivePanelLine] = []
                for s in all_series:
                    if panel.matches(s):
                        w = sample_window(store, s.id, start_ns=start, end_ns=now, points=points)
                        lines.append({**series_json(s), "ts_ns": w.ts_ns, "values": w.values})
                panels.append({"key": panel.key, "title": panel.title, "unit": panel.unit,
                               "series": lines})
        return {
            "schema": "perflab.api.live/1",
            "now_ns": now,
            "window_ns": window_ns,
            "run": None if run is None else run.to_json(),
            "panels": panels,
            "top": [p.to_json() for p in self.top_processes()],
        }
