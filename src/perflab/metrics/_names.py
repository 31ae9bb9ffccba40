"""The Prometheus name of every stored series.

Collected metrics (scraped, pushed, imported) are stored under their own names and keep them.
perflab's own series are named for people (``system.cpu.pct``, ``net.if.rx_bytes_per_s``);
PromQL sees them as ``perflab_`` plus the name with dots as underscores, its unit spelled as
Prometheus spells units at the end: ``perflab_system_cpu_percent``,
``perflab_net_if_rx_bytes_per_second``, ``perflab_system_disk_read_await_seconds``.
(The hub also stores node_exporter's families themselves, ``node_cpu_seconds_total`` ...,
counters included: see ``_node.py``.)

Every series also carries ``perflab_run``: the id of the run it was recorded in.
"""

from __future__ import annotations

import re

from perflab.metrics._labels import METRIC_NAME

RUN_LABEL = "perflab_run"

# the unit of a stored series -> Prometheus's suffix, and the endings of perflab's names that
# already say it (dropped before the suffix is put on)
_UNIT_SUFFIX = {
    "%": ("percent", ("_pct", "_percent")),
    "bytes": ("bytes", ("_bytes",)),
    "bytes/s": ("bytes_per_second", ("_bytes_per_s", "_per_s")),
    "/s": ("per_second", ("_per_s",)),
    "s": ("seconds", ("_s", "_seconds")),
    "ms": ("milliseconds", ("_ms",)),
    "ns": ("nanoseconds", ("_ns",)),
}
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")


def prometheus_name(name: str, unit: str = "") -> str:
    """The name PromQL selects a stored series by."""
    if METRIC_NAME.match(name):
        return name
    base = _INVALID.sub("_", name.replace(".", "_"))
    suffix, endings = _UNIT_SUFFIX.get(unit, ("", ()))
    for ending in sorted(endings, key=len, reverse=True):
        if base.endswith(ending):
            base = base[: -len(ending)]
            break
    base = f"perflab_{base}"
    if suffix and not base.endswith("_" + suffix):
        base = f"{base}_{suffix}"
    return base
