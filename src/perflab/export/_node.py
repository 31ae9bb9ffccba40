"""Metric families of the whole machine, named, typed and labelled as node_exporter does.

Each function turns one part of a raw ``SystemSnapshot`` into Prometheus metric families.
Dashboards and alerts written for node_exporter (Grafana's "Node Exporter Full", the
kube-prometheus rules) then work on perflab's ``/metrics`` unchanged. The names, HELP strings,
types and labels follow node_exporter's collectors (cpu, stat, meminfo, loadavg, pressure,
diskstats, netdev, netstat, vmstat, tcpstat); where node_exporter exposes a field under a
kernel name (``node_memory_MemAvailable_bytes``, ``node_netstat_TcpExt_ListenOverflows``) we keep
the kernel's spelling, camelCase included, because that is the name users query.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    UnknownMetricFamily,
)

from perflab.collect import SystemSnapshot

# node_exporter's default --collector.vmstat.fields and --collector.netstat.fields: the fields
# people alert on, not all ~200 of each file (the cardinality node_exporter users expect).
VMSTAT_FIELDS = re.compile(r"^(oom_kill|pgpg|pswp|pg.*fault).*")
NETSTAT_FIELDS = re.compile(
    r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)"
    r"|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)"
    r"|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)"
    r"|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
)

# ss-style state names (collect.sockets.TCP_STATES) -> node_exporter tcpstat's label values
TCPSTAT_STATES = {
    "ESTAB": "established", "SYN-SENT": "syn_sent", "SYN-RECV": "syn_recv",
    "FIN-WAIT-1": "fin_wait1", "FIN-WAIT-2": "fin_wait2", "TIME-WAIT": "time_wait",
    "UNCONN": "close", "CLOSE-WAIT": "close_wait", "LAST-ACK": "last_ack", "LISTEN": "listen",
    "CLOSING": "closing",
}

_PARENS = re.compile(r"\((.*)\)")
_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def node_families(snap: SystemSnapshot) -> Iterator[Metric]:
    """Every node_* family perflab exposes, from one snapshot."""
    yield from cpu_families(snap)
    yield from stat_families(snap)
    yield from meminfo_families(snap)
    yield from loadavg_families(snap)
    yield from pressure_families(snap)
    yield from diskstats_families(snap)
    yield from netdev_families(snap)
    yield from netstat_families(snap)
    yield from vmstat_families(snap)
    yield from tcpstat_families(snap)


def cpu_families(snap: SystemSnapshot) -> Iterator[Metric]:
    cpu = CounterMetricFamily("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.",
                              labels=["cpu", "mode"])
    for core, times in sorted(snap.stat.cpus.items(), key=lambda kv: int(kv[0])):
        for mode in dataclasses.fields(times):  # user, nice, system, idle, iowait, irq ...
            cpu.add_metric([core, mode.name], getattr(times, mode.name))
    yield cpu


def stat_families(snap: SystemSnapshot) -> Iterator[Metric]:
    st = snap.stat
    yield CounterMetricFamily("node_intr_total", "Total number of interrupts serviced.",
                              value=st.interrupts)
    yield CounterMetricFamily("node_context_switches_total", "Total number of context switches.",
                              value=st.context_switches)
    yield CounterMetricFamily("node_forks_total", "Total number of forks.", value=st.forks)
    yield GaugeMetricFamily("node_boot_time_seconds", "Node boot time, in unixtime.",
                            value=st.boot_time)
    yield GaugeMetricFamily("node_procs_running", "Number of processes in runnable state.",
                            value=st.procs_running)
    yield GaugeMetricFamily("node_procs_blocked",
                            "Number of processes blocked waiting for I/O to complete.",
                            value=st.procs_blocked)


def meminfo_metric_name(field: str) -> str:
    """``Active(anon)`` -> ``node_memory_Active_anon_bytes``, as node_exporter names them.

    Every /proc/meminfo field is in kB (hence ``_bytes``) except the ``HugePages_*`` counts.
    """
    key = _INVALID.sub("_", _PARENS.sub(r"_\1", field))
    if not field.startswith("HugePages_"):
        key += "_bytes"
    return f"node_memory_{key}"


def meminfo_families(snap: SystemSnapshot) -> Iterator[Metric]:
    for field, value in snap.meminfo.items():
        name = meminfo_metric_name(field)
        help_text = f"Memory information field {name.removeprefix('node_memory_')}."
        yield GaugeMetricFamily(name, help_text, value=value)


def loadavg_families(snap: SystemSnapshot) -> Iterator[Metric]:
    la = snap.loadavg
    yield GaugeMetricFamily("node_load1", "1m load average.", value=la.load1)
    yield GaugeMetricFamily("node_load5", "5m load average.", value=la.load5)
    yield GaugeMetricFamily("node_load15", "15m load average.", value=la.load15)


# (resource, line, metric suffix, HELP) as node_exporter's pressure collector has them
_PSI = (
    ("cpu", "some", "cpu_waiting_seconds_total",
     "Total time in seconds that processes have waited for CPU time"),
    ("cpu", "full", "cpu_stalled_seconds_total",
     "Total time in seconds no process could make progress due to CPU congestion"),
    ("io", "some", "io_waiting_seconds_total",
     "Total time in seconds that processes have waited due to IO congestion"),
    ("io", "full", "io_stalled_seconds_total",
     "Total time in seconds no process could make progress due to IO congestion"),
    ("memory", "some", "memory_waiting_seconds_total",
     "Total time in seconds that processes have waited for memory"),
    ("memory", "full", "memory_stalled_seconds_total",
     "Total time in seconds no process could make progress due to memory congestion"),
)


def pressure_families(snap: SystemSnapshot) -> Iterator[Metric]:
    for resource, line, suffix, help_text in _PSI:
        psi = snap.pressure.get(resource, {}).get(line)
        if psi is not None:
            yield CounterMetricFamily(f"node_pressure_{suffix}", help_text, value=psi.total_s)


# (metric, HELP, DiskStats attribute, type) as node_exporter's diskstats collector has them
_DISK = (
    ("node_disk_reads_completed_total", "The total number of reads completed successfully.",
     "reads", "counter"),
    ("node_disk_reads_merged_total", "The total number of reads merged.", "reads_merged",
     "counter"),
    ("node_disk_read_bytes_total", "The total number of bytes read successfully.",
     "read_bytes", "counter"),
    ("node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.",
     "read_time_s", "counter"),
    ("node_disk_writes_completed_total", "The total number of writes completed successfully.",
     "writes", "counter"),
    ("node_disk_writes_merged_total", "The number of writes merged.", "writes_merged",
     "counter"),
    ("node_disk_written_bytes_total", "The total number of bytes written successfully.",
     "written_bytes", "counter"),
    ("node_disk_write_time_seconds_total",
     "This is the total number of seconds spent by all writes.", "write_time_s", "counter"),
    ("node_disk_io_now", "The number of I/Os currently in progress.", "in_progress", "gauge"),
    ("node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", "io_time_s",
     "counter"),
    ("node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.",
     "weighted_io_time_s", "counter"),
    ("node_disk_discards_completed_total",
     "The total number of discards completed successfully.", "discards", "counter"),
    ("node_disk_discard_time_seconds_total",
     "This is the total number of seconds spent by all discards.", "discard_time_s", "counter"),
    ("node_disk_flush_requests_total",
     "The total number of flush requests completed successfully", "flushes", "counter"),
    ("node_disk_flush_requests_time_seconds_total",
     "This is the total number of seconds spent by all flush requests.", "flush_time_s",
     "counter"),
)


def diskstats_families(snap: SystemSnapshot) -> Iterator[Metric]:
    if not snap.disks:
        return
    devices = sorted(snap.disks)
    for name, help_text, attr, kind in _DISK:
        family: CounterMetricFamily | GaugeMetricFamily
        if kind == "counter":
            family = CounterMetricFamily(name, help_text, labels=["device"])
        else:
            family = GaugeMetricFamily(name, help_text, labels=["device"])
        for dev in devices:
            family.add_metric([dev], getattr(snap.disks[dev], attr))
        yield family


_NETDEV = (
    ("receive_bytes", "rx_bytes"), ("receive_packets", "rx_packets"),
    ("receive_errs", "rx_errs"), ("receive_drop", "rx_drop"),
    ("transmit_bytes", "tx_bytes"), ("transmit_packets", "tx_packets"),
    ("transmit_errs", "tx_errs"), ("transmit_drop", "tx_drop"),
)


def netdev_families(snap: SystemSnapshot) -> Iterator[Metric]:
    if not snap.netdev:
        return
    devices = sorted(snap.netdev)
    for stat, attr in _NETDEV:
        family = CounterMetricFamily(f"node_network_{stat}_total",
                                     f"Network device statistic {stat}.", labels=["device"])
        for dev in devices:
            family.add_metric([dev], getattr(snap.netdev[dev], attr))
        yield family


def netstat_families(snap: SystemSnapshot) -> Iterator[Metric]:
    # node_exporter exposes these untyped: the files mix counters (InSegs) and gauges (CurrEstab)
    for proto in sorted(snap.snmp):
        for field, value in sorted(snap.snmp[proto].items()):
            key = f"{proto}_{field}"
            if NETSTAT_FIELDS.match(key):
                yield UnknownMetricFamily(f"node_netstat_{key}", f"Statistic {proto}{field}.",
                                          value=value)


def vmstat_families(snap: SystemSnapshot) -> Iterator[Metric]:
    for field, value in sorted(snap.vmstat.items()):
        if VMSTAT_FIELDS.match(field):
            yield UnknownMetricFamily(f"node_vmstat_{field}",
                                      f"/proc/vmstat information field {field}.", value=value)


def tcpstat_families(snap: SystemSnapshot) -> Iterator[Metric]:
    if not snap.tcp_states:
        return
    family = GaugeMetricFamily("node_tcp_connection_states", "Number of connection states.",
                               labels=["state"])
    for state, count in sorted(snap.tcp_states.items()):
        label = TCPSTAT_STATES.get(state)
        if label is not None:
            family.add_metric([label], count)
    yield family
