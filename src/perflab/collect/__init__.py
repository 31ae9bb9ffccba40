"""Collectors: read this machine (/proc, /sys) into plain data. ``proc_root`` is injectable.

Public names: ``SystemCollector``, ``SystemSnapshot``, ``SystemRates``, ``DiskRates``,
``system_rates``, ``ProcessCollector``, ``ProcessRow``.
"""

from perflab.collect._procfs import read_snmp
from perflab.collect.processes import ProcessCollector, ProcessRow
from perflab.collect.system import (
    DiskRates,
    SystemCollector,
    SystemRates,
    SystemSnapshot,
    system_rates,
)

__all__ = [
    "DiskRates",
    "ProcessCollector",
    "ProcessRow",
    "SystemCollector",
    "SystemRates",
    "SystemSnapshot",
    "read_snmp",
    "system_rates",
]
