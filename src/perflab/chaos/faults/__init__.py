"""Process, resource and network faults, each bounded in time and always rolled back.

Public names: ``inject`` / ``InjectSpec`` / ``FAULT_KINDS`` (``perflab chaos inject``),
``net_fault`` / ``NetSpec`` (``perflab chaos net``), the namespaces of ``perflab chaos netns``
(``create_netns``, ``delete_netns``, ``list_netns``, ``netns_exec_argv``), ``rollback_orphans``
(``perflab chaos rollback``: journals whose controller and watchdog both died), and the
TypedDicts of their --json documents. See docs/chaos.md, "Process and resource faults".
"""

from perflab.chaos.faults._contracts import (
    FaultDoc,
    NetFaultDoc,
    NetnsDoc,
    NetnsListDoc,
    RollbackDoc,
)
from perflab.chaos.faults._inject import FAULT_KINDS, InjectSpec, inject

__all__ = [
    "FAULT_KINDS",
    "FaultDoc",
    "InjectSpec",
    "NetFaultDoc",
    "NetnsDoc",
    "NetnsListDoc",
    "RollbackDoc",
    "inject",
]
