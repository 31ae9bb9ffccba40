"""Process, resource and network faults, each bounded in time and always rolled back.

Public names: ``inject`` / ``InjectSpec`` / ``FAULT_KINDS`` (``perflab chaos inject``),
``net_fault`` / ``NetSpec`` (``perflab chaos net``), the namespaces of ``perflab chaos netns``
(``create_netns``, ``delete_netns``, ``list_netns``, ``netns_exec_argv``), ``rollback_orphans``
(``perflab chaos rollback``: journals whose controller and watchdog both died), ``monkey`` /
``MonkeySpec`` (``perflab chaos monkey``), ``ClockSkew`` / ``skew_warnings`` (``perflab run
--clock-skew``: libfaketime for a program perflab starts), ``BandWatch`` (a band the watchdog
ends when its process is killed: the clock skew's), and the
TypedDicts of their --json documents. See docs/chaos.md, "Process and resource faults".
"""

from perflab.chaos.faults._clock import ClockSkew, skew_warnings
from perflab.chaos.faults._contracts import (
    FaultDoc,
    MonkeyDoc,
    NetFaultDoc,
    NetnsDoc,
    NetnsListDoc,
    RollbackDoc,
)
from perflab.chaos.faults._inject import FAULT_KINDS, InjectSpec, inject
from perflab.chaos.faults._monkey import MonkeySpec, monkey
from perflab.chaos.faults._net import NetSpec, net_fault
from perflab.chaos.faults._netns import create_netns, delete_netns, list_netns, netns_exec_argv
from perflab.chaos.faults._recover import rollback_orphans
from perflab.chaos.faults._session import BandWatch

__all__ = [
    "FAULT_KINDS",
    "BandWatch",
    "ClockSkew",
    "FaultDoc",
    "InjectSpec",
    "MonkeyDoc",
    "MonkeySpec",
    "NetFaultDoc",
    "NetSpec",
    "NetnsDoc",
    "NetnsListDoc",
    "RollbackDoc",
    "create_netns",
    "delete_netns",
    "inject",
    "list_netns",
    "monkey",
    "net_fault",
    "netns_exec_argv",
    "rollback_orphans",
    "skew_warnings",
]
