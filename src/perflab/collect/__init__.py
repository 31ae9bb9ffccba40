"""Collectors: read this machine (/proc, /sys) into plain data. ``proc_root`` is injectable.

Public names: ``SystemCollector``, ``SystemSnapshot``, ``SystemRates``, ``DiskRates``,
``system_rates``, ``ProcessCollector``, ``ProcessRow``, ``read_snmp``, ``RecordingThread`` (a
recording in a background thread, for the hub and the demo), and the parsers ``parse_meminfo``
and ``parse_smaps_rollup`` (debug's leak watch reads one process's memory with them);
``pids_matching`` (``--match``'s rule), ``read_comm_cmdline``, ``stat_of`` (one process's
``/proc/PID/stat``) and ``parse_cgroup`` (chaos's targets and their cgroups).
Contracts (``_contracts.py``): the TypedDicts of ``net`` (with its parts ``NetCounter``,
``NetFilter``, ``NetState``), ``proc`` and ``record --json`` and of a
listed process (``ProcessRowJson``).
"""

from typing import TYPE_CHECKING

from perflab.collect._contracts import (
    NetCounter,
    NetDoc,
    NetFilter,
    NetState,
    ProcDoc,
    ProcessRowJson,
    ProfilersSummary,
    RecordDoc,
)
from perflab.collect._match import pids_matching, read_comm_cmdline, stat_of
from perflab.collect._pidfiles import parse_cgroup, parse_smaps_rollup
from perflab.collect._procfs import parse_meminfo, read_snmp
from perflab.collect.processes import ProcessCollector, ProcessRow
from perflab.collect.system import (
    DiskRates,
    SystemCollector,
    SystemRates,
    SystemSnapshot,
    system_rates,
)

if TYPE_CHECKING:
    from perflab.collect._background import RecordingThread

__all__ = [
    "DiskRates",
    "NetCounter",
    "NetDoc",
    "NetFilter",
    "NetState",
    "ProcDoc",
    "ProcessCollector",
    "ProcessRow",
    "ProcessRowJson",
    "ProfilersSummary",
    "RecordDoc",
    "RecordingThread",
    "SystemCollector",
    "SystemRates",
    "SystemSnapshot",
    "parse_cgroup",
    "parse_meminfo",
    "parse_smaps_rollup",
    "pids_matching",
    "read_comm_cmdline",
    "read_snmp",
    "stat_of",
    "system_rates",
]


def __getattr__(name: str) -> object:
    """``RecordingThread`` on first use: it brings the recorder and the store, 0.07 CPU-s of
    imports that the one-shot readers (``top --once``, ``net``, ``proc``, each an incident
    capture's step) do not need."""
    if name == "RecordingThread":
        from perflab.collect._background import RecordingThread  # noqa: PLC0415  # lazy

        return RecordingThread
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
