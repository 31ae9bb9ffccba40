"""Collectors: read this machine (/proc, /sys) into plain data. ``proc_root`` is injectable.

Public names: ``SystemCollector``, ``SystemSnapshot``, ``SystemRates``, ``system_rates``,
``ProcessCollector``, ``ProcessRow``.
"""

from perflab.collect.processes import ProcessCollector, ProcessRow
from perflab.collect.system import SystemCollector, SystemRates, SystemSnapshot, system_rates

__all__ = [
    "ProcessCollector",
    "ProcessRow",
    "SystemCollector",
    "SystemRates",
    "SystemSnapshot",
    "system_rates",
]
