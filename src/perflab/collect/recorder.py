"""The recording loop: collectors -> rates -> series in the store, once per interval.

Every recording in perflab goes through ``Recorder``: ``perflab record``, the hub's background
recording and the demo. One ``tick()`` reads /proc once, derives rates against the previous tick
and buffers one sample per series; ``run()`` repeats it on interval boundaries (no drift) and
commits every tick, so a ``kill -9`` loses at most the tick in flight.

Series names follow the one timeline (``system.*``, ``net.*``, ``process.*``); the full list is in
docs/record.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.collect._match import cmdline_of, command_matches, stat_of
from perflab.collect.processes import ProcessCollector, ProcessRow, list_pids, parse_proc_stat
from perflab.collect.system import SystemCollector, SystemSnapshot, system_rates
from perflab.store import BatchWriter

if TYPE_CHECKING:
    import threading

    from perflab.store import Store

# Rates need two readings; a process seen for the first time has only gauges (rss, threads, fds).
_PROCESS_SERIES: tuple[tuple[str, str], ...] = (
    ("process.cpu.pct", "%"),
    ("process.rss_bytes", "bytes"),
    ("process.threads", ""),
    ("process.fds", ""),
    ("process.read_bytes_per_s", "bytes/s"),
    ("process.write_bytes_per_s", "bytes/s"),
)

_DISK_SERIES: tuple[tuple[str, str, str, float], ...] = (
    # (series, unit, DiskRates attribute, scale to the series unit)
    ("system.disk.reads_per_s", "/s", "r_s", 1.0),
    ("system.disk.writes_per_s", "/s", "w_s", 1.0),
    ("system.disk.read_bytes_per_s", "bytes/s", "rkb_s", 1024.0),
    ("system.disk.write_bytes_per_s", "bytes/s", "wkb_s", 1024.0),
    ("system.disk.read_await_s", "s", "r_await_ms", 1e-3),
    ("system.disk.write_await_s", "s", "w_await_ms", 1e-3),
    ("system.disk.queue_size", "", "aqu_sz", 1.0),
    ("system.disk.util_pct", "%", "util_pct", 1.0),
)

_NET_SERIES: tuple[tuple[str, str, str], ...] = (
    ("net.if.rx_bytes_per_s", "bytes/s", "rx_bytes_s"),
    ("net.if.tx_bytes_per_s", "bytes/s", "tx_bytes_s"),
    ("net.if.rx_packets_per_s", "/s", "rx_packets_s"),
    ("net.if.tx_packets_per_s", "/s", "tx_packets_s"),
    ("net.if.rx_errs_per_s", "/s", "rx_errs_s"),
    ("net.if.tx_errs_per_s", "/s", "tx_errs_s"),
    ("net.if.rx_drops_per_s", "/s", "rx_drop_s"),
    ("net.if.tx_drops_per_s", "/s", "tx_drop_s"),
)

# A process whose /proc/PID/stat did not change since the last tick (idle) has its io and fd
# files re-read at most this often; I/O it did meanwhile is carried into the next real reading.
IDLE_RECHECK_S = 10.0

_EXITED_STATES = frozenset({"Z", "X"})  # zombie, dead: /proc/PID lingers after exit

_Labels = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class _Tracked:
    """A selected process incarnation and the ids of its series."""

    pid: int
    starttime: int
    name: str
    # in _PROCESS_SERIES order; None until the first value: a kernel thread has no readable
    # I/O, a process seen once has no rate, and neither should leave an empty series behind
    series_ids: list[int | None]
    labels: dict[str, str]
    announce: bool  # chosen by --pid or --match: its exit becomes an event


class Recorder:
    """Collects system, network and process figures into one run of a store.

    Args:
        store: the open store; the run must exist (``store.create_run``).
        run_id: the run the samples belong to.
        interval_s: seconds between ticks in ``run()``.
        pids: processes to record by PID; one that exits ends with a "process exited" event.
        matches: substrings of a process name or command line; matching processes are picked
            up whenever they appear (the recorder itself is never matched).
        all_processes: record every process.
        follow_children: record the descendants of ``pids`` too, as they appear (``perflab
            run``: a service's workers).
        system: record system-wide and network series.
        proc_root: the /proc to read (a fake tree in tests).
    """

    def __init__(self, store: Store, run_id: int, interval_s: float = 1.0, *,
                 pids: Iterable[int] = (), matches: Iterable[str] = (),
                 all_processes: bool = False, system: bool = True,
                 follow_children: bool = False,
                 proc_root: str | Path = "/proc",
                 wall_clock: Callable[[], int] = time.time_ns,
                 mono_clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.store = store
        self.run_id = run_id
        self.interval_s = interval_s
        self.proc_root = Path(proc_root)
        self.system = system
        self.all_processes = all_processes
        self.matches = tuple(m for m in matches if m)
        self._explicit: set[int] = set(pids)
        self._roots = frozenset(pids) if follow_children else frozenset()
        self._wall = wall_clock
        self._mono = mono_clock
        self._sleep = sleep
        self._writer = BatchWriter(store, run_id, flush_interval_s=0.0, clock=mono_clock)
        self._system = SystemCollector(proc_root, wall_clock=wall_clock, mono_clock=mono_clock,
                                       tcp_states=False)
        self._processes = ProcessCollector(proc_root, mono_clock=mono_clock,
                                           idle_recheck_s=IDLE_RECHECK_S)
        self._prev_system: SystemSnapshot | None = None
        self._ids: dict[tuple[str, _Labels], int] = {}
        self._tracked: dict[int, _Tracked] = {}  # pid -> the incarnation recorded last tick
        # --match decisions per pid, keyed with the start time so a reused PID is judged anew
        self._match_cache: dict[int, tuple[int, bool]] = {}
        self._own_pid = os.getpid()
        self._rows: list[tuple[int, int, float]] = []
        self._errors_seen: set[str] = set()
        self._series_cache: dict[tuple[int, int, str], _Tracked] = {}
        self._process_series = 0  # process series created so far (they outlive their process)
        self.ticks = 0

    # -- figures for progress lines and summaries ---------------------------------------------

    @property
    def samples_written(self) -> int:
        return self._writer.samples_written

    @property
    def series_count(self) -> int:
        return len(self._ids) + self._process_series

    @property
    def tracked_pids(self) -> list[int]:
        return sorted(self._tracked)

    # -- the loop ------------------------------------------------------------------------------

    def tick(self) -> int:
        """One collection: read, derive rates, buffer and commit. Returns samples added."""
        self._rows = []
        if self.system:
            snap = self._system.snapshot()
            ts = snap.ts_ns
            self._system_samples(snap, ts)
            self._prev_system = snap
        else:
            ts = self._wall()
        if self._explicit or self.matches or self.all_processes:
            self._process_samples(ts)
        added = len(self._rows)
        self._writer.extend(self._rows)
        self._writer.flush()
        self._rows = []
        self.ticks += 1
        return added

    def run(self, stop: threading.Event | None = None, duration_s: float | None = None, *,
            on_tick: Callable[[Recorder], object] | None = None) -> None:
        """Tick on interval boundaries until ``stop`` is set or ``duration_s`` has passed.

        The first tick is at once (it gives the baseline for rates); the next ones fall on
        ``start + k * interval`` whatever a tick costs, skipping boundaries already past.
        """
        start = self._mono()
        k = 0
        while stop is None or not stop.is_set():
            self._guarded_tick()
            if on_tick is not None:
                on_tick(self)
            now = self._mono()
            k = max(k + 1, int((now - start) / self.interval_s) + 1)
            due = start + k * self.interval_s
            if duration_s is not None and due - start > duration_s + 1e-6:
                break
            delay = max(0.0, due - now)
            if stop is not None:
                if stop.wait(delay):
                    break
            else:
                self._sleep(delay)

    def close(self, *, flush: bool = True) -> None:
        """Commit whatever is still buffered (``flush``; not after the store failed: a full
        disk or a damaged file would only fail again); release the collector's descriptors."""
        try:
            if flush:
                self._writer.flush()
        finally:
            self._processes.close()

    def _guarded_tick(self) -> None:
        """A tick whose /proc reads fail (a file vanished, permission, a format this parser
        does not know) becomes an event, once per distinct cause; store errors propagate."""
        try:
            self.tick()
        except (OSError, ValueError, IndexError, KeyError) as exc:
            self._rows = []
            text = f"collection failed: {exc}"
            if text not in self._errors_seen:
                self._errors_seen.add(text)
                self._writer.event("error", text)

    # -- system --------------------------------------------------------------------------------

    def _sid(self, name: str, labels: _Labels, unit: str) -> int:
        key = (name, labels)
        sid = self._ids.get(key)
        if sid is None:
            sid = self._writer.series(name, dict(labels), unit)
            self._ids[key] = sid
        return sid

    def _put(self, name: str, labels: _Labels, unit: str, ts: int, value: float) -> None:
        self._rows.append((self._sid(name, labels, unit), ts, float(value)))

    def _system_samples(self, snap: SystemSnapshot, ts: int) -> None:
        put = self._put
        la = snap.loadavg
        put("system.load1", (), "", ts, la.load1)
        put("system.load5", (), "", ts, la.load5)
        put("system.load15", (), "", ts, la.load15)
        put("system.procs.running", (), "", ts, snap.stat.procs_running)
        put("system.procs.blocked", (), "", ts, snap.stat.procs_blocked)

        mem = snap.meminfo
        total = mem.get("MemTotal", 0)
        available = snap.mem_available_bytes
        put("system.mem.total_bytes", (), "bytes", ts, total)
        put("system.mem.available_bytes", (), "bytes", ts, available)
        # `free` (procps-ng 4) counts used as total - available
        put("system.mem.used_bytes", (), "bytes", ts, total - available)
        put("system.mem.cached_bytes", (), "bytes", ts, mem.get("Cached", 0))
        put("system.mem.dirty_bytes", (), "bytes", ts, mem.get("Dirty", 0))
        put("system.mem.swap_used_bytes", (), "bytes", ts, snap.swap_used_bytes)

        for resource, lines in snap.pressure.items():
            for kind, p in lines.items():
                put(f"system.psi.{kind}_pct", (("resource", resource),), "%", ts, p.avg10)

        # the kernel's counters, not a count of /proc/net/tcp lines (milliseconds per thousand
        # sockets): CurrEstab counts ESTABLISHED and CLOSE-WAIT, as netstat -s reports it
        put("net.tcp.established", (), "", ts, snap.snmp.get("Tcp", {}).get("CurrEstab", 0))
        put("net.tcp.time_wait", (), "", ts, snap.sockstat.get("TCP", {}).get("tw", 0))

        prev = self._prev_system
        if prev is None:
            return
        rates = system_rates(prev, snap)
        for mode, pct in rates.cpu_pct.items():
            put("system.cpu.pct", (("cpu", "all"), ("mode", mode)), "%", ts, pct)
        for core, modes in rates.cpu_pct_per_core.items():
            for mode, pct in modes.items():
                put("system.cpu.pct", (("cpu", core), ("mode", mode)), "%", ts, pct)
        put("system.context_switches_per_s", (), "/s", ts, rates.context_switches_s)
        put("system.forks_per_s", (), "/s", ts, rates.forks_s)
        put("system.mem.swap_in_bytes_per_s", (), "bytes/s", ts, rates.swap_in_bytes_s)
        put("system.mem.swap_out_bytes_per_s", (), "bytes/s", ts, rates.swap_out_bytes_s)
        put("system.mem.major_faults_per_s", (), "/s", ts, rates.major_faults_s)

        # PSI totals are stall microseconds: their rate is the share of the interval stalled
        for resource, lines in snap.pressure.items():
            before = prev.pressure.get(resource, {})
            for kind, p in lines.items():
                old = before.get(kind)
                if old is not None:
                    share = 100.0 * max(0.0, p.total_s - old.total_s) / rates.interval_s
                    put(f"system.psi.{kind}_stall_pct", (("resource", resource),), "%", ts,
                        share)

        for device, d in rates.disks.items():
            labels = (("device", device),)
            for name, unit, attr, scale in _DISK_SERIES:
                put(name, labels, unit, ts, getattr(d, attr) * scale)
        for device, n in rates.nets.items():
            labels = (("device", device),)
            for name, unit, attr in _NET_SERIES:
                put(name, labels, unit, ts, getattr(n, attr))

        put("net.tcp.retrans_per_s", (), "/s", ts, rates.tcp_retrans_s)
        put("net.tcp.resets_per_s", (), "/s", ts, rates.tcp_resets_s)
        put("net.tcp.listen_overflows_per_s", (), "/s", ts, rates.listen_overflows_s)
        put("net.tcp.listen_drops_per_s", (), "/s", ts, rates.listen_drops_s)

    # -- processes -----------------------------------------------------------------------------

    def _selected_pids(self) -> list[int] | None:
        """PIDs to read this tick; None means every process (--all-processes)."""
        if self.all_processes:
            return None
        selected = set(self._explicit)
        if self._roots:
            selected |= self._descendants()
        if self.matches:
            present = list_pids(self.proc_root)
            alive = set(present)
            for pid in list(self._match_cache):
                if pid not in alive:
                    del self._match_cache[pid]
            for pid in present:
                if pid != self._own_pid and self._matches(pid):
                    selected.add(pid)
        return sorted(selected)

    def _descendants(self) -> set[int]:
        """Every live descendant of the ``follow_children`` roots (one stat read per process;
        a process that exits meanwhile is skipped)."""
        parent: dict[int, int] = {}
        for pid in list_pids(self.proc_root):
            try:
                with open(f"{self.proc_root}/{pid}/stat", encoding="utf-8",  # noqa: PTH123
                          errors="replace") as f:
                    parent[pid] = parse_proc_stat(f.read()).ppid
            except (OSError, ValueError):
                continue
        found: set[int] = set()
        frontier = set(self._roots)
        while frontier:
            frontier = {pid for pid, pp in parent.items() if pp in frontier} - found
            found |= frontier
        return found

    def _matches(self, pid: int) -> bool:
        stat = stat_of(pid, str(self.proc_root))
        if stat is None:
            return False
        cached = self._match_cache.get(pid)
        if cached is not None and cached[0] == stat.starttime:
            return cached[1]
        hit = command_matches(stat.comm, cmdline_of(pid, str(self.proc_root)), self.matches)
        self._match_cache[pid] = (stat.starttime, hit)
        return hit

    def _process_samples(self, ts: int) -> None:
        rows = self._processes.refresh(self._selected_pids())
        seen: dict[int, _Tracked] = {}
        for row in rows:
            if row.state in _EXITED_STATES:
                continue  # a zombie has exited; only its parent has not reaped it yet
            tracked = self._track(row)
            seen[row.pid] = tracked
            previous = self._tracked.get(row.pid)
            first = previous is None or previous.starttime != row.starttime
            self._process_row(tracked, row, ts, first=first)
        self._note_exits(seen, ts)
        self._tracked = seen

    def _track(self, row: ProcessRow) -> _Tracked:
        key = (row.pid, row.starttime, row.name)
        tracked = self._series_cache.get(key)
        if tracked is None:
            labels = {"pid": str(row.pid), "name": row.name}
            announce = row.pid in self._explicit or any(
                m in row.name or m in row.cmdline for m in self.matches)
            tracked = self._series_cache[key] = _Tracked(
                row.pid, row.starttime, row.name, [None] * len(_PROCESS_SERIES), labels,
                announce)
        return tracked

    def _process_row(self, t: _Tracked, row: ProcessRow, ts: int, *, first: bool) -> None:
        values: list[float | None] = [
            None if first else row.cpu_pct,  # rates need a previous reading of this incarnation
            float(row.rss_bytes),
            float(row.threads),
            None if row.fds is None else float(row.fds),
            None if first else row.read_bytes_s,
            None if first else row.write_bytes_s,
        ]
        ids = t.series_ids
        out = self._rows
        for i, value in enumerate(values):
            if value is None:
                continue
            sid = ids[i]
            if sid is None:
                name, unit = _PROCESS_SERIES[i]
                sid = ids[i] = self._writer.series(name, t.labels, unit)
                self._process_series += 1
            out.append((sid, ts, value))

    def _note_exits(self, seen: dict[int, _Tracked], ts: int) -> None:
        """A process recorded last tick and gone now (or replaced under its PID) has exited."""
        for pid, old in self._tracked.items():
            new = seen.get(pid)
            if new is not None and new.starttime == old.starttime:
                continue
            self._series_cache.pop((old.pid, old.starttime, old.name), None)
            self._explicit.discard(pid)
            if not old.announce:
                continue  # under --all-processes short-lived processes would flood the events
            self._writer.event("process", "process exited", ts_ns=ts,
                               attrs={"pid": pid, "name": old.name})
