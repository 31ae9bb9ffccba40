"""The exporter's collector (prometheus_client's ``Collector`` protocol) and its cached rendering.

Each scrape reads /proc afresh through ``SystemCollector`` and ``ProcessCollector``; the rendered
page is reused for at most ``max_age_s`` (1 s) so that two Prometheus servers, or a browser
refreshing beside one, do not double the cost on the target machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from prometheus_client.core import CollectorRegistry, Metric
from prometheus_client.exposition import generate_latest

from perflab.collect import ProcessCollector, SystemCollector
from perflab.collect.processes import ProcessSample
from perflab.collect.sockets import count_tcp_states_diag
from perflab.errors import NoSuchProcess
from perflab.export._node import node_families
from perflab.export._process import process_families, read_max_fds


class PerflabCollector:
    """Yields node_* families for this machine and process_* families for selected processes.

    ``pids`` are exported while they live; ``names`` select every process whose name (comm, as
    ``pgrep -x`` matches it) is one of them, re-evaluated at each scrape so that restarted or
    new processes appear by themselves.
    """

    def __init__(self, proc_root: str | Path = "/proc", *, pids: Sequence[int] = (),
                 names: Sequence[str] = ()) -> None:
        self.root = Path(proc_root)
        self.pids = tuple(pids)
        self.names = frozenset(names)
        # TCP states: from sock_diag on the live machine (a /proc/net/tcp read makes the
        # kernel format every socket as text: 5x the CPU with thousands of sockets)
        self._live = str(self.root) == "/proc"
        self._system = SystemCollector(self.root, tcp_states=not self._live)
        self._processes = ProcessCollector(self.root)
        # name matching reads only /proc/PID/stat of every process: no io, no fd listing
        self._finder = ProcessCollector(self.root, with_io=False, with_fds=False)

    def check_pids(self) -> None:
        """Raise ``NoSuchProcess`` for a ``--pid`` that does not exist now."""
        for pid in self.pids:
            if self._processes.sample(pid) is None:
                raise NoSuchProcess(pid)

    def selected(self) -> list[ProcessSample]:
        samples: dict[int, ProcessSample] = {}
        if self.names:
            for s in self._finder.snapshot().values():
                if s.stat.comm in self.names:
                    samples[s.stat.pid] = s
        wanted = set(self.pids) | set(samples)
        return list(self._processes.snapshot(sorted(wanted)).values())

    def collect(self) -> Iterator[Metric]:
        snap = self._system.snapshot()
        if self._live:
            with contextlib.suppress(OSError):  # no sock_diag: no tcpstat family
                snap = dataclasses.replace(snap, tcp_states=count_tcp_states_diag())
        yield from node_families(snap)
        if self.pids or self.names:
            samples = self.selected()
            limits = {s.stat.pid: read_max_fds(self.root, s.stat.pid) for s in samples}
            yield from process_families(samples, boot_time=snap.stat.boot_time, max_fds=limits)


class Exposition:
    """The text a scrape returns, rendered at most once per ``max_age_s``."""

    def __init__(self, collector: PerflabCollector, *, max_age_s: float = 1.0,
                 mono_clock: Callable[[], float] = time.monotonic) -> None:
        # a private registry: no prometheus_client default collectors (their process_* series
        # would describe the exporter itself and clash with the targets' process_* series)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self.max_age_s = max_age_s
        self._mono = mono_clock
        self._lock = threading.Lock()
        self._cached: bytes | None = None
        self._rendered_at = 0.0
        self.renders = 0

    def render(self) -> bytes:
        with self._lock:  # concurrent scrapes wait for one rendering instead of doing their own
            now = self._mono()
            if self._cached is None or now - self._rendered_at > self.max_age_s:
                self._cached = generate_latest(self.registry)
                self._rendered_at = now
                self.renders += 1
            return self._cached
