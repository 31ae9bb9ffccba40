"""The machine's own metrics under node_exporter's names, stored like a scrape of it.

Every scrape interval the hub reads this machine through ``perflab.export``'s collector (the
node_* families ``perflab export`` serves: ``node_cpu_seconds_total`` and the other counters
as counters) and the filesystems (``node_filesystem_avail_bytes``, ``_size_bytes``,
``_free_bytes``, ``_files``, ``_files_free``, ``_readonly``, as node_exporter's filesystem
collector names them), and writes them into its run with ``job="perflab"`` and
``instance=<host>``, plus ``up``. Rules written for node_exporter (CPU saturation, disk full
prediction with ``predict_linear``) then work on the hub's own data. ``perflab record`` writes
the same families into its run through ``node_metrics_into`` (the same scraper, with an ingest
queue of its own), so ``perflab promql`` answers the same on a recording as on the hub's run.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from perflab.metrics._sink import MetricSink, Row, register_kinds
from perflab.store import IngestQueue, canonical_labels, stale_nan

log = logging.getLogger("perflab.metrics")

# node_exporter's default --collector.filesystem.fs-types-exclude and mount-points-exclude
_FS_EXCLUDE = frozenset({
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "devtmpfs", "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs", "overlay", "proc",
    "procfs", "pstore", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs",
    "tracefs", "fuse.lxcfs", "fuse.portal", "ramfs", "efivarfs",
})
_MOUNT_EXCLUDE = ("/dev", "/proc", "/run/credentials", "/sys", "/var/lib/docker",
                  "/var/lib/containers/storage")


def _unescape_mount(text: str) -> str:
    return (text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
            .replace("\\134", "\\"))


def filesystem_samples(proc_root: Path = Path("/proc"),
                       statvfs: Callable[[str], os.statvfs_result] = os.statvfs,
                       ) -> Iterator[tuple[str, dict[str, str], float]]:
    """node_filesystem_* of every real mounted filesystem, as node_exporter reports them."""
    try:
        mounts = (proc_root / "self" / "mounts").read_text()
    except OSError:
        mounts = (proc_root / "mounts").read_text() if (proc_root / "mounts").exists() else ""
    seen: set[str] = set()
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        device, point, fstype, options = (parts[0], _unescape_mount(parts[1]), parts[2],
                                          parts[3])
        if fstype in _FS_EXCLUDE or point.startswith(_MOUNT_EXCLUDE) or point in seen:
            continue
        seen.add(point)
        try:
            st = statvfs(point)
        except OSError:
            continue
        labels = {"device": device, "fstype": fstype, "mountpoint": point}
        size = st.f_frsize
        yield "node_filesystem_size_bytes", labels, float(st.f_blocks * size)
        yield "node_filesystem_free_bytes", labels, float(st.f_bfree * size)
        yield "node_filesystem_avail_bytes", labels, float(st.f_bavail * size)
        yield "node_filesystem_files", labels, float(st.f_files)
        yield "node_filesystem_files_free", labels, float(st.f_ffree)
        yield "node_filesystem_readonly", labels, 1.0 if "ro" in options.split(",") else 0.0


class NodeScraper:
    """Writes the node_* families into the sink every ``interval_s``, in its own thread."""

    def __init__(self, sink: MetricSink, interval_s: float, *, proc_root: str = "/proc",
                 instance: str | None = None) -> None:
        self.sink = sink
        self.interval_s = interval_s
        self.proc_root = Path(proc_root)
        self.target = {"job": "perflab", "instance": instance or socket.gethostname()}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous: set[tuple[str, str]] = set()
        self._collector: object | None = None
        self.error: str | None = None
        self.samples = 0  # values handed to the sink and taken (markers left out)
        self.series: set[tuple[str, str]] = set()  # every series written so far

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="perflab-node", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        next_at = time.time()
        while not self._stop.is_set():
            try:
                self.scrape_once()
                self.error = None
            except Exception as exc:  # the hub outlives a bad /proc read
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("node metrics: %s", self.error)
            next_at += self.interval_s
            while next_at < time.time():
                next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.time()))

    def scrape_once(self) -> int:
        from perflab.export import PerflabCollector  # noqa: PLC0415  # prometheus_client

        if self._collector is None:
            self._collector = PerflabCollector(self.proc_root)
        assert isinstance(self._collector, PerflabCollector)
        t0 = time.perf_counter()
        ts = time.time_ns()
        ts -= ts % 1_000_000
        rows: list[Row] = []
        target = self.target

        def add(name: str, labels: dict[str, str], value: float) -> None:
            rows.append((name, canonical_labels({**labels, **target}), ts, value))

        for family in self._collector.collect():
            for sample in family.samples:
                add(sample.name, dict(sample.labels), float(sample.value))
        for name, labels, value in filesystem_samples(self.proc_root):
            add(name, labels, value)
        current = {(n, lab) for n, lab, _, _ in rows}
        stale = stale_nan()
        rows.extend((n, lab, ts, stale) for n, lab in self._previous - current)
        base = canonical_labels(target)
        rows.append(("up", base, ts, 1.0))
        rows.append(("scrape_duration_seconds", base, ts, time.perf_counter() - t0))
        rows.append(("scrape_samples_scraped", base, ts, float(len(current))))
        if self.sink.submit(rows):
            self._previous = current
            # staleness markers are stored as marks, not samples: count what a reader counts
            self.samples += sum(1 for row in rows if not math.isnan(row[3]))
            self.series.update((n, lab) for n, lab, _, _ in rows)
        return len(rows)


_STOP_S = 10.0


@contextlib.contextmanager
def node_metrics_into(store_path: Path | str, run_id: int, interval_s: float, *,
                      proc_root: str = "/proc") -> Iterator[NodeScraper]:
    """The node_* families written into ``run_id`` every ``interval_s`` while the block runs
    (``perflab record``): the hub's scraper, through an ingest queue of its own whose writer
    thread commits beside the recorder's. On exit the scraper stops, then what it handed
    over is written (at most ``_STOP_S`` of retries on a full disk)."""
    queue = IngestQueue(store_path, log_failures=False)  # the recorder reports the store
    register_kinds(queue)
    scraper = NodeScraper(MetricSink(queue, lambda: run_id), interval_s, proc_root=proc_root)
    queue.start()
    scraper.start()
    try:
        yield scraper
    finally:
        scraper.stop()
        queue.stop(_STOP_S)


