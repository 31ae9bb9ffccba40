"""Who owns a running run, and whether that process still exists.

A run is ``running`` while the process that records it lives. When that process dies without
ending the run (``kill -9``, the OOM killer, a power cut), the run must read ``interrupted``
everywhere. A PID alone cannot tell: PIDs are reused, and a container's PID 1 or a busy host
reuses them quickly. So a run records its owner's PID together with that process's start time
(field 22 of ``/proc/PID/stat``, clock ticks since boot) and the boot id: the owner lives only
if a process with that PID exists now *and* started at that very tick of this boot.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True, slots=True)
class Owner:
    host: str
    pid: int
    start_ticks: int | None   # None where /proc is not readable: then the PID alone decides
    boot_id: str | None


def process_start_ticks(pid: int, proc_root: str = "/proc") -> int | None:
    """The start time of a process, in clock ticks since boot, or None when it does not exist
    (or /proc cannot be read)."""
    try:
        with open(f"{proc_root}/{pid}/stat", "rb") as fh:  # noqa: PTH123  # one small read
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces and ')': split after
    # its last ')'; starttime is then the 20th field
    fields = text[text.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def boot_id() -> str | None:
    try:
        return _BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def this_process() -> Owner:
    pid = os.getpid()
    return Owner(socket.gethostname(), pid, process_start_ticks(pid), boot_id())


def owner_alive(host: str, pid: int | None, start_ticks: int | None,
                boot: str | None) -> bool:
    """Whether the recorded owner of a run still runs. Unknowable cases answer True (alive):
    another host's process, or a run without a PID; calling a live run dead would hide it."""
    if pid is None or host != socket.gethostname():
        return True
    if boot is not None and boot != boot_id():
        return False  # the machine rebooted since: every process of that boot is gone
    if start_ticks is not None:
        now = process_start_ticks(pid)
        if now is not None:
            return now == start_ticks
        if Path("/proc/self/stat").exists():
            return False  # /proc works and has no such PID
    return _pid_exists(pid)


def _pid_exists(pid: int) -> bool:
    """The PID alone (runs written by perflab before schema v4, or without /proc)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True
