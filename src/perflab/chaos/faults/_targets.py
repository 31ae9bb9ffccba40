"""The processes a fault acts on: ``--pid PID`` and ``--match TEXT``, as ``record`` reads them.

``--match`` follows ``record``'s rule (``perflab.collect.pids_matching``: the text is part of the
name or command line), minus perflab itself and the processes that started it: the shell that
ran ``perflab chaos inject --match api`` has "api" in its command line too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from perflab.collect import pids_matching, read_comm_cmdline, stat_of
from perflab.errors import InvalidValue, NoSuchProcess, TargetError
from perflab.units import printable


@dataclass(frozen=True)
class Target:
    pid: int
    start_ticks: int
    name: str
    cmdline: str

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "name": self.name}

    @property
    def label(self) -> str:
        return f"PID {self.pid} ({printable(self.name)})"


def _ancestors(pid: int) -> set[int]:
    """``pid`` and every process above it."""
    seen = {pid}
    while pid > 1 and (stat := stat_of(pid)) is not None:
        pid = stat.ppid
        seen.add(pid)
    return seen


def target_of(pid: int) -> Target:
    if pid <= 0:
        raise InvalidValue(f"invalid PID {pid}", hint="a PID is a positive number")
    seen = read_comm_cmdline(pid)
    if seen is None:
        raise NoSuchProcess(pid)
    return Target(pid, seen[1], seen[0], seen[2])


def resolve_targets(pids: tuple[int, ...], matches: tuple[str, ...], *,
                    required: bool) -> list[Target]:
    """The targets named, checked to exist now; ``required``: at least one is needed."""
    chosen = dict.fromkeys(pids)
    if matches:
        if any(not m for m in matches):
            raise InvalidValue("--match needs a text", hint="e.g. --match my-service")
        ours = _ancestors(os.getpid())
        found = [pid for pid in pids_matching(matches) if pid not in ours]
        if not found:
            raise TargetError(f"no process matches {', '.join(map(repr, matches))}",
                              hint="check the name with `perflab top` or `ps -ef`")
        chosen.update(dict.fromkeys(found))
    if required and not chosen:
        raise InvalidValue("no target: give --pid PID or --match TEXT",
                           hint="e.g. perflab chaos inject stop --pid 1234 --duration 10s")
    return [target_of(pid) for pid in chosen]
