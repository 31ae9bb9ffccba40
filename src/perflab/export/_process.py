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


# (counter or gauge, name, help), in the order they are exposed
FAMILIES: tuple[tuple[type[CounterMetricFamily | GaugeMetricFamily], str, str], ...] = (
    (CounterMetricFamily, "process_cpu_seconds_total",
     "Total user and system CPU time spent in seconds."),
    (GaugeMetricFamily, "process_resident_memory_bytes", "Resident memory size in bytes."),
    (GaugeMetricFamily, "process_virtual_memory_bytes", "Virtual memory size in bytes."),
    (GaugeMetricFamily, "process_start_time_seconds",
     "Start time of the process since unix epoch in seconds."),
    (GaugeMetricFamily, "process_open_fds", "Number of open file descriptors."),
    (GaugeMetricFamily, "process_max_fds", "Maximum number of open file descriptors."),
    (GaugeMetricFamily, "process_threads", "Number of OS threads in the process."),
    (CounterMetricFamily, "process_io_read_bytes_total",
     "Bytes the process caused to be read from storage."),
    (CounterMetricFamily, "process_io_write_bytes_total",
     "Bytes the process caused to be written to storage."),
    (CounterMetricFamily, "process_major_page_faults_total",
     "Page faults of the process that needed a disk read."),
    (CounterMetricFamily, "process_minor_page_faults_total",
     "Page faults of the process served without a disk read."),
)


def _values(s: ProcessSample, boot_time: int, max_fds: int | None) -> dict[str, float | None]:
    """One process's value of each family; None where it is not known (left out, not 0)."""
    st = s.stat
    return {
        "process_cpu_seconds_total": st.utime_s + st.stime_s,
        "process_resident_memory_bytes": st.rss_bytes,
        "process_virtual_memory_bytes": st.vsize,
        "process_start_time_seconds": boot_time + st.starttime / CLK_TCK,
        "process_open_fds": s.fds,
        "process_max_fds": max_fds,
        "process_threads": st.num_threads,
        # /proc/PID/io is readable only by the owner (or root): absent rather than a false 0
        "process_io_read_bytes_total": s.read_bytes,
        "process_io_write_bytes_total": s.write_bytes,
        "process_major_page_faults_total": st.majflt,
        "process_minor_page_faults_total": st.minflt,
    }


def process_families(samples: Iterable[ProcessSample], *, boot_time: int,
                     max_fds: dict[int, int | None] | None = None) -> Iterator[Metric]:
    """Families for the given processes; ``boot_time`` (epoch s) dates their start times."""
    max_fds = max_fds or {}
    families = {name: kind(name, help_text, labels=LABELS)
                for kind, name, help_text in FAMILIES}
    for s in sorted(samples, key=lambda s: s.stat.pid):
        labels = [str(s.stat.pid), s.stat.comm]
        for name, value in _values(s, boot_time, max_fds.get(s.stat.pid)).items():
            if value is not None:
                families[name].add_metric(labels, value)
    for family in families.values():
        if family.samples:
            yield family
