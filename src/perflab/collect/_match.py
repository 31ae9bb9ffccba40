"""Which processes ``--match TEXT`` selects: the one rule ``record`` and ``chaos inject`` share.

A process matches when TEXT is part of its name (``comm``) or of its command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from perflab.collect.processes import list_pids, parse_proc_stat


def command_matches(comm: str, cmdline: str, needles: Iterable[str]) -> bool:
    """Whether any needle is part of the process name or of its command line."""
    return any(m in comm or m in cmdline for m in needles)


def read_comm_cmdline(pid: int, proc_root: str = "/proc") -> tuple[str, int, str] | None:
    """(name, start ticks, command line with spaces) of a process, or None once it has gone."""
    base = f"{proc_root}/{pid}"
    try:
        with open(f"{base}/stat", "rb") as fh:  # noqa: PTH123  # hot path: plain open
            stat = parse_proc_stat(fh.read().decode("utf-8", "replace"))
    except (OSError, ValueError, IndexError):
        return None
    try:
        with open(f"{base}/cmdline", "rb") as fh:  # noqa: PTH123
            cmdline = fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        cmdline = ""
    return stat.comm, stat.starttime, cmdline


def pids_matching(needles: Iterable[str], proc_root: str = "/proc") -> list[int]:
    """Every live process that ``--match`` selects, in PID order."""
    wanted = tuple(needles)
    found = []
    for pid in list_pids(Path(proc_root)):
        seen = read_comm_cmdline(pid, proc_root)
        if seen is not None and command_matches(seen[0], seen[2], wanted):
            found.append(pid)
    return found
