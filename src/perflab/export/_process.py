"""Metric families of the selected processes, under prometheus_client's ``process_*`` names.

Why these names and not process-exporter's ``namedprocess_namegroup_*``: every Prometheus client
library already exports ``process_cpu_seconds_total``, ``process_resident_memory_bytes``,
``process_open_fds`` ... for the process it runs in, so the queries and dashboards users have for
their instrumented services work on a process perflab watches from outside, with a ``pid`` and a
``name`` label to tell the processes apart. process-exporter sums processes into name groups; we
export processes one by one (``--pid`` names one process), so its group model would not fit.
The few figures client libraries do not have (threads, storage I/O, page faults) get names in
the same style.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from perflab.collect.processes import ProcessSample

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
LABELS = ["pid", "name"]


def read_max_fds(proc_root: Path, pid: int) -> int | None:
    """The soft ``Max open files`` limit of a process (/proc/PID/limits), None if unreadable."""
    try:
        with open(f"{proc_root}/{pid}/limits", encoding="ascii") as fh:  # noqa: PTH123
            for line in fh:
                if line.startswith("Max open files"):
                    soft = line[len("Max open files"):].split()[0]
                    return None if soft == "unlimited" else int(soft)
    except (OSError, ValueError, IndexError):
        return None
    return None


def process_families(samples: Iterable[ProcessSample], *, boot_time: int,
                     max_fds: dict[int, int | None] | None = None) -> Iterator[Metric]:
    """Families for the given processes; ``boot_time`` (epoch s) dates their start times."""
    rows = sorted(samples, key=lambda s: s.stat.pid)
    max_fds = max_fds or {}

    cpu = CounterMetricFamily("process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.", labels=LABELS)
    rss = GaugeMetricFamily("process_resident_memory_bytes", "Resident memory size in bytes.",
                            labels=LABELS)
    vsz = GaugeMetricFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                            labels=LABELS)
    start = GaugeMetricFamily("process_start_time_seconds",
                              "Start time of the process since unix epoch in seconds.",
                              labels=LABELS)
    fds = GaugeMetricFamily("process_open_fds", "Number of open file descriptors.",
                            labels=LABELS)
    fd_limit = GaugeMetricFamily("process_max_fds", "Maximum number of open file descriptors.",
                                 labels=LABELS)
    threads = GaugeMetricFamily("process_threads", "Number of OS threads in the process.",
                                labels=LABELS)
    io_read = CounterMetricFamily("process_io_read_bytes_total",
                                  "Bytes the process caused to be read from storage.",
                                  labels=LABELS)
    io_write = CounterMetricFamily("process_io_write_bytes_total",
                                   "Bytes the process caused to be written to storage.",
                                   labels=LABELS)
    majflt = CounterMetricFamily("process_major_page_faults_total",
                                 "Page faults of the process that needed a disk read.",
                                 labels=LABELS)
    minflt = CounterMetricFamily("process_minor_page_faults_total",
                                 "Page faults of the process served without a disk read.",
                                 labels=LABELS)
    for s in rows:
        st = s.stat
        labels = [str(st.pid), st.comm]
        cpu.add_metric(labels, st.utime_s + st.stime_s)
        rss.add_metric(labels, st.rss_bytes)
        vsz.add_metric(labels, st.vsize)
        start.add_metric(labels, boot_time + st.starttime / CLK_TCK)
        threads.add_metric(labels, st.num_threads)
        majflt.add_metric(labels, st.majflt)
        minflt.add_metric(labels, st.minflt)
        if s.fds is not None:
            fds.add_metric(labels, s.fds)
        limit = max_fds.get(st.pid)
        if limit is not None:
            fd_limit.add_metric(labels, limit)
        # /proc/PID/io is readable only by the owner (or root): absent rather than a false 0
        if s.read_bytes is not None:
            io_read.add_metric(labels, s.read_bytes)
        if s.write_bytes is not None:
            io_write.add_metric(labels, s.write_bytes)
    for family in (cpu, rss, vsz, start, fds, fd_limit, threads, io_read, io_write, majflt,
                   minflt):
        if family.samples:
            yield family
