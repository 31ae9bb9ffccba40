"""Parsers of the per-process files under /proc/PID: text in, plain values out.

status, limits, schedstat, smaps, smaps_rollup, fdinfo and cgroup. Sizes are converted to bytes
and times to seconds here, once. ``/proc/PID/stat`` and ``io`` are parsed in ``processes``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from perflab.collect._contracts import FdMode, ProcLimit, ProcMapping

_KB = 1024


def parse_status(text: str) -> dict[str, str]:
    """/proc/PID/status as raw ``key -> value`` strings (the value is stripped)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key] = value.strip()
    return out


def status_kb(status: dict[str, str], key: str) -> int | None:
    """A ``NNN kB`` field of status in bytes, or None when absent (kernel threads have none)."""
    value = status.get(key)
    if not value:
        return None
    return int(value.split()[0]) * _KB


def status_ids(status: dict[str, str], key: str) -> tuple[int, int, int, int]:
    """``Uid``/``Gid`` of status: real, effective, saved, filesystem."""
    a, b, c, d = (int(v) for v in status[key].split()[:4])
    return a, b, c, d


# --------------------------------------------------------------------------------------------
# limits


@dataclass(frozen=True, slots=True)
class Limit:
    """One row of /proc/PID/limits. ``None`` means unlimited."""

    name: str          # "Max open files"
    soft: int | None
    hard: int | None
    unit: str          # "files", "bytes", "seconds", "" ...

    def to_json(self) -> ProcLimit:
        return {"name": self.name, "soft": self.soft, "hard": self.hard, "unit": self.unit}


# The file is a fixed-width table whose first column holds spaces ("Max open files"), so split
# each row at the first number or "unlimited" rather than on whitespace.
_LIMIT_ROW = re.compile(r"^(?P<name>.+?)\s+(?P<soft>unlimited|\d+)\s+(?P<hard>unlimited|\d+)"
                        r"\s*(?P<unit>\S*)\s*$")


def parse_limits(text: str) -> list[Limit]:
    out = []
    for line in text.splitlines()[1:]:  # the first line is the header
        m = _LIMIT_ROW.match(line)
        if m is None:
            continue
        soft, hard = (None if v == "unlimited" else int(v) for v in (m["soft"], m["hard"]))
        out.append(Limit(m["name"], soft, hard, m["unit"]))
    return out


# --------------------------------------------------------------------------------------------
# schedstat


@dataclass(frozen=True, slots=True)
class SchedStat:
    """/proc/PID/task/TID/schedstat: three counters of one task since it started."""

    on_cpu_s: float         # time spent running
    runqueue_wait_s: float  # time spent runnable but waiting for a CPU
    timeslices: int         # times it was put on a CPU

    def __add__(self, other: SchedStat) -> SchedStat:
        return SchedStat(self.on_cpu_s + other.on_cpu_s,
                         self.runqueue_wait_s + other.runqueue_wait_s,
                         self.timeslices + other.timeslices)


ZERO_SCHEDSTAT = SchedStat(0.0, 0.0, 0)


def parse_schedstat(text: str) -> SchedStat:
    """Three numbers: ns on CPU, ns waiting on a run queue, number of timeslices."""
    run_ns, wait_ns, slices = (int(v) for v in text.split()[:3])
    return SchedStat(run_ns / 1e9, wait_ns / 1e9, slices)


# --------------------------------------------------------------------------------------------
# smaps and smaps_rollup


def parse_smaps_rollup(text: str) -> dict[str, int]:
    """smaps_rollup: ``Field -> bytes`` for every ``NNN kB`` line.

    Repeated fields are summed, so given a whole smaps file it returns the same rollup the
    kernel computes (kernels before 4.14 have no smaps_rollup).
    """
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        parts = value.split()
        if sep and len(parts) == 2 and parts[1] == "kB":
            out[key] = out.get(key, 0) + int(parts[0]) * _KB
    return out


@dataclass(frozen=True, slots=True)
class Mapping:
    """One mapping of /proc/PID/smaps, with the columns of ``pmap -x`` plus PSS and swap."""

    start: int
    end: int
    mode: str           # "r-xp": read, write, execute, private (p) or shared (s)
    offset: int
    inode: int
    name: str           # file path, [heap], [stack], [vdso] ... or [anon]
    size: int           # bytes (virtual)
    rss: int
    pss: int
    dirty: int          # Shared_Dirty + Private_Dirty
    swap: int

    @property
    def address(self) -> str:
        return f"{self.start:016x}"

    def to_json(self) -> ProcMapping:
        return {
            "address": self.address, "end": f"{self.end:016x}", "mode": self.mode,
            "offset": self.offset, "inode": self.inode, "mapping": self.name,
            "size_bytes": self.size, "rss_bytes": self.rss, "pss_bytes": self.pss,
            "dirty_bytes": self.dirty, "swap_bytes": self.swap,
        }


# "start-end perms offset dev inode [path]"; the path may hold spaces and " (deleted)"
_MAP_HEADER = re.compile(
    r"^(?P<start>[0-9a-f]+)-(?P<end>[0-9a-f]+) (?P<mode>\S{4}) (?P<offset>[0-9a-f]+) "
    r"(?P<dev>\S+) (?P<inode>\d+)\s*(?P<name>.*)$"
)


def parse_smaps(text: str) -> list[Mapping]:
    """All mappings of /proc/PID/smaps, in address order."""
    out: list[Mapping] = []
    header: re.Match[str] | None = None
    fields: dict[str, int] = {}

    def flush() -> None:
        if header is None:
            return
        out.append(Mapping(
            start=int(header["start"], 16), end=int(header["end"], 16), mode=header["mode"],
            offset=int(header["offset"], 16), inode=int(header["inode"]),
            name=header["name"] or "[anon]",
            size=fields.get("Size", int(header["end"], 16) - int(header["start"], 16)),
            rss=fields.get("Rss", 0), pss=fields.get("Pss", 0),
            dirty=fields.get("Shared_Dirty", 0) + fields.get("Private_Dirty", 0),
            swap=fields.get("Swap", 0),
        ))

    for line in text.splitlines():
        m = _MAP_HEADER.match(line)
        if m is not None:
            flush()
            header, fields = m, {}
            continue
        key, sep, value = line.partition(":")
        parts = value.split()
        if sep and len(parts) == 2 and parts[1] == "kB":
            fields[key] = int(parts[0]) * _KB
    flush()
    return out


# --------------------------------------------------------------------------------------------
# fdinfo


@dataclass(frozen=True, slots=True)
class FdInfo:
    pos: int
    flags: int          # open(2) flags, octal in the file
    mnt_id: int | None
    extra: dict[str, str]  # type-specific first-level lines (eventfd-count, tfd, inotify ...)


def parse_fdinfo(text: str) -> FdInfo:
    pos = flags = 0
    mnt_id = None
    extra: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        if key == "pos":
            pos = int(value)
        elif key == "flags":
            flags = int(value, 8)
        elif key == "mnt_id":
            mnt_id = int(value)
        elif key not in extra:  # epoll/inotify repeat keys per watched item: keep the first
            extra[key] = value
    return FdInfo(pos, flags, mnt_id, extra)


_FLAG_NAMES = (
    (os.O_APPEND, "APPEND"), (os.O_NONBLOCK, "NONBLOCK"), (os.O_SYNC, "SYNC"),
    (os.O_DSYNC, "DSYNC"), (getattr(os, "O_DIRECT", 0), "DIRECT"),
    (getattr(os, "O_NOATIME", 0), "NOATIME"), (getattr(os, "O_PATH", 0), "PATH"),
    (getattr(os, "O_TMPFILE", 0) & ~os.O_DIRECTORY, "TMPFILE"), (os.O_CLOEXEC, "CLOEXEC"),
)


def fd_access_mode(flags: int) -> FdMode:
    """lsof's mode letter: r (read), w (write), u (read and write)."""
    acc = flags & os.O_ACCMODE
    modes: dict[int, FdMode] = {os.O_RDONLY: "r", os.O_WRONLY: "w", os.O_RDWR: "u"}
    return modes.get(acc, "?")


def fd_flag_names(flags: int) -> list[str]:
    """The access mode and the notable status flags, as names (``O_RDWR``, ``NONBLOCK`` ...)."""
    acc = flags & os.O_ACCMODE
    names = [{os.O_RDONLY: "RDONLY", os.O_WRONLY: "WRONLY", os.O_RDWR: "RDWR"}.get(acc, "?")]
    names += [name for bit, name in _FLAG_NAMES if bit and flags & bit == bit]
    return names


# --------------------------------------------------------------------------------------------
# cgroup


def parse_cgroup(text: str) -> tuple[str | None, dict[str, str]]:
    """The cgroup v2 path (the ``0::`` line) and the v1 hierarchies (controllers -> path)."""
    v2 = None
    v1: dict[str, str] = {}
    for line in text.splitlines():
        hier, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hier == "0" and controllers == "":
            v2 = path
        elif controllers:
            v1[controllers] = path
    return v2, v1
