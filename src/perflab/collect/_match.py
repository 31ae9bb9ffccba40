"""Which processes ``--match TEXT`` selects: the one rule ``record`` and ``chaos inject`` share.

A process matches when TEXT is part of its name (``comm``) or of its command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from perflab.collect.processes import ProcStat, list_pids, parse_proc_stat


def command_matches(comm: str, cmdline: str, needles: Iterable[str]) -> bool:
    """Whether any needle is part of the process name or of its command line."""
    return any(m in comm or m in cmdline for m in needles)


def stat_of(pid: int, proc_root: str = "/proc") -> ProcStat | None:
    """``/proc/PID/stat`` parsed, or None once the process has gone."""
    try:
        with open(f"{proc_root}/{pid}/stat", "rb") as fh:  # noqa: PTH123  # hot path
            return parse_proc_stat(fh.read().decode("utf-8", "replace"))
    except (OSError, ValueError, IndexError):
        return None


def cmdline_of(pid: int, proc_root: str = "/proc") -> str:
    """The command line with its NULs as spaces ("" for a kernel thread or a gone process)."""
    try:
        with open(f"{proc_root}/{pid}/cmdline", "rb") as fh:  # noqa: PTH123
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def read_comm_cmdline(pid: int, proc_root: str = "/proc") -> tuple[str, int, str] | None:
    """(name, start ticks, command line) of a process, or None once it has gone."""
    stat = stat_of(pid, proc_root)
    if stat is None:
        return None
    return stat.comm, stat.starttime, cmdline_of(pid, proc_root).strip()


def pids_matching(needles: Iterable[str], proc_root: str = "/proc") -> list[int]:
    """Every live process that ``--match`` selects, in PID order."""
    wanted = tuple(needles)
    found = []
    for pid in list_pids(Path(proc_root)):
        seen = read_comm_cmdline(pid, proc_root)
        if seen is not None and command_matches(seen[0], seen[2], wanted):
            found.append(pid)
    return sorted(found)
