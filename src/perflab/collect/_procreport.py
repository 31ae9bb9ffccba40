"""The report of ``perflab proc``: immutable results of reading one process, with ``to_json``.

Sizes are bytes, times seconds, rates per second; None means "not read" (the report's
``unavailable`` says why). The JSON shape is documented in docs/schemas/proc.schema.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perflab.collect._contracts import (
    FdMode,
    ProcDoc,
    ProcFile,
    ProcIo,
    ProcMemory,
    ProcMemoryMaps,
    ProcProcess,
    ProcScheduling,
    ProcThread,
)
from perflab.collect._fdsockets import SocketEntry
from perflab.collect._pidfiles import Limit, Mapping

# --------------------------------------------------------------------------------------------
# the report


@dataclass(frozen=True, slots=True)
class Identity:
    pid: int
    ppid: int
    name: str
    cmdline: list[str]          # empty for kernel threads
    exe: str | None             # None when not permitted or a kernel thread
    cwd: str | None
    state: str                  # "S (sleeping)"
    uid: tuple[int, int, int, int]  # real, effective, saved, filesystem
    gid: tuple[int, int, int, int]
    user: str                   # name of the real uid
    effective_user: str
    start_time_ns: int          # wall clock, ns since the epoch
    cgroup: str | None          # cgroup v2 path (the "0::" line)
    cgroup_v1: dict[str, str]
    limits: list[Limit]
    kernel_thread: bool

    def to_json(self) -> ProcProcess:
        return {
            "pid": self.pid, "kernel_thread": self.kernel_thread, "ppid": self.ppid,
            "name": self.name, "cmdline": self.cmdline,
            "exe": self.exe, "cwd": self.cwd, "state": self.state,
            "uid": {"real": self.uid[0], "effective": self.uid[1], "saved": self.uid[2],
                    "fs": self.uid[3]},
            "gid": {"real": self.gid[0], "effective": self.gid[1], "saved": self.gid[2],
                    "fs": self.gid[3]},
            "user": self.user, "effective_user": self.effective_user,
            "start_time_ns": self.start_time_ns, "cgroup": self.cgroup,
            "cgroup_v1": self.cgroup_v1, "limits": [lim.to_json() for lim in self.limits],
        }


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    tid: int
    name: str
    state: str                  # one letter, as ps shows it
    cpu_pct: float | None       # % of one core over the interval; None when not measured
    cpu_user_s: float
    cpu_system_s: float
    runqueue_wait_s: float | None  # total time runnable but not running
    runqueue_wait_pct: float | None  # of the interval
    voluntary_ctxt_switches: int | None
    involuntary_ctxt_switches: int | None
    last_cpu: int
    wchan: str | None           # kernel function it sleeps in; None when not permitted

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_system_s

    def to_json(self) -> ProcThread:
        return {
            "tid": self.tid, "name": self.name, "state": self.state,
            "cpu_pct": _r(self.cpu_pct), "cpu_user_s": round(self.cpu_user_s, 3),
            "cpu_system_s": round(self.cpu_system_s, 3),
            "runqueue_wait_s": _r(self.runqueue_wait_s, 6),
            "runqueue_wait_pct": _r(self.runqueue_wait_pct),
            "voluntary_ctxt_switches": self.voluntary_ctxt_switches,
            "involuntary_ctxt_switches": self.involuntary_ctxt_switches,
            "last_cpu": self.last_cpu, "wchan": self.wchan,
        }


@dataclass(frozen=True, slots=True)
class Scheduling:
    """CPU time and run-queue figures of the whole process, totals and rates over the interval."""

    interval_s: float
    cpu_pct: float | None       # % of one core (top's %CPU), from /proc/PID/stat
    cpu_user_s: float
    cpu_system_s: float
    threads: int
    on_cpu_s: float | None      # sums of the threads' schedstat
    runqueue_wait_s: float | None
    timeslices: int | None
    runqueue_wait_pct: float | None     # wait time / interval: 100 = one thread always waiting
    timeslices_per_s: float | None
    wait_per_timeslice_s: float | None  # mean wait before each run, over the interval
    voluntary_ctxt_switches: int | None
    involuntary_ctxt_switches: int | None
    voluntary_ctxt_switches_per_s: float | None
    involuntary_ctxt_switches_per_s: float | None
    minor_faults: int
    major_faults: int
    minor_faults_per_s: float | None
    major_faults_per_s: float | None

    def to_json(self) -> ProcScheduling:
        return {
            "interval_s": round(self.interval_s, 6), "cpu_pct": _r(self.cpu_pct, 6),
            "cpu_user_s": round(self.cpu_user_s, 6), "cpu_system_s": round(self.cpu_system_s, 6),
            "threads": self.threads, "on_cpu_s": _r(self.on_cpu_s, 6),
            "runqueue_wait_s": _r(self.runqueue_wait_s, 6), "timeslices": self.timeslices,
            "runqueue_wait_pct": _r(self.runqueue_wait_pct, 6),
            "timeslices_per_s": _r(self.timeslices_per_s, 6),
            "wait_per_timeslice_s": _r(self.wait_per_timeslice_s, 6),
            "voluntary_ctxt_switches": self.voluntary_ctxt_switches,
            "involuntary_ctxt_switches": self.involuntary_ctxt_switches,
            "voluntary_ctxt_switches_per_s": _r(self.voluntary_ctxt_switches_per_s, 6),
            "involuntary_ctxt_switches_per_s": _r(self.involuntary_ctxt_switches_per_s, 6),
            "minor_faults": self.minor_faults, "major_faults": self.major_faults,
            "minor_faults_per_s": _r(self.minor_faults_per_s, 6),
            "major_faults_per_s": _r(self.major_faults_per_s, 6),
        }


@dataclass(frozen=True, slots=True)
class MapsSummary:
    """The ``pmap -x`` view: the largest mappings by RSS and a total over all of them."""

    count: int
    top: list[Mapping]
    total_size: int
    total_rss: int
    total_pss: int
    total_dirty: int
    total_swap: int

    def to_json(self) -> ProcMemoryMaps:
        return {
            "count": self.count, "top": [m.to_json() for m in self.top],
            "total": {"size_bytes": self.total_size, "rss_bytes": self.total_rss,
                      "pss_bytes": self.total_pss, "dirty_bytes": self.total_dirty,
                      "swap_bytes": self.total_swap},
        }


@dataclass(frozen=True, slots=True)
class Memory:
    rss: int | None             # status VmRSS: the counter ps and top show
    rss_anon: int | None
    rss_file: int | None
    rss_shmem: int | None
    rss_peak: int | None        # VmHWM
    vsize: int | None           # VmSize
    swap: int | None            # VmSwap
    pss: int | None             # smaps_rollup; None when not permitted
    pss_anon: int | None
    pss_file: int | None
    uss: int | None             # Private_Clean + Private_Dirty
    swap_pss: int | None
    maps: MapsSummary | None

    def to_json(self) -> ProcMemory:
        return {
            "rss_bytes": self.rss, "rss_anon_bytes": self.rss_anon,
            "rss_file_bytes": self.rss_file, "rss_shmem_bytes": self.rss_shmem,
            "rss_peak_bytes": self.rss_peak, "vsize_bytes": self.vsize,
            "swap_bytes": self.swap, "pss_bytes": self.pss, "pss_anon_bytes": self.pss_anon,
            "pss_file_bytes": self.pss_file, "uss_bytes": self.uss,
            "swap_pss_bytes": self.swap_pss,
            "maps": self.maps.to_json() if self.maps is not None else None,
        }


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One open file descriptor, as a line of ``lsof -p``."""

    fd: int
    type: str                   # REG DIR CHR BLK FIFO LINK TCP UDP unix netlink sock a_inode ...
    name: str                   # path, socket endpoints, pipe:[ino], anon_inode:[eventfd] ...
    mode: FdMode | None         # r, w, u (read+write); None when fdinfo is not readable
    flags: list[str]
    pos: int | None
    deleted: bool
    socket: SocketEntry | None
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> ProcFile:
        return {
            "fd": self.fd, "type": self.type, "name": self.name, "mode": self.mode,
            "flags": self.flags, "pos": self.pos, "deleted": self.deleted,
            "socket": self.socket.to_json() if self.socket is not None else None,
            "fdinfo": self.extra,
        }


@dataclass(frozen=True, slots=True)
class IoCounters:
    rchar: int | None
    wchar: int | None
    syscr: int | None
    syscw: int | None
    read_bytes: int | None
    write_bytes: int | None
    cancelled_write_bytes: int | None
    read_bytes_per_s: float | None
    write_bytes_per_s: float | None

    def to_json(self) -> ProcIo:
        return {
            "rchar": self.rchar, "wchar": self.wchar, "syscr": self.syscr, "syscw": self.syscw,
            "read_bytes": self.read_bytes, "write_bytes": self.write_bytes,
            "cancelled_write_bytes": self.cancelled_write_bytes,
            "read_bytes_per_s": _r(self.read_bytes_per_s),
            "write_bytes_per_s": _r(self.write_bytes_per_s),
        }


@dataclass(frozen=True, slots=True)
class ProcessReport:
    identity: Identity
    scheduling: Scheduling | None
    threads: list[ThreadInfo]       # all threads, busiest first
    memory: Memory | None
    files: list[FileEntry] | None   # None when the fd table is not readable
    io: IoCounters | None
    unavailable: dict[str, str]     # item -> why ("permission denied", "process exited")
    notes: list[str]
    interrupted: bool = False       # Ctrl-C cut the measuring interval short

    @property
    def complete(self) -> bool:
        return not self.unavailable

    def to_json(self) -> ProcDoc:
        return {
            "schema": "perflab.proc/1",
            "process": self.identity.to_json(),
            "scheduling": self.scheduling.to_json() if self.scheduling else None,
            "threads": [t.to_json() for t in self.threads],
            "memory": self.memory.to_json() if self.memory else None,
            "files": [f.to_json() for f in self.files] if self.files is not None else None,
            "io": self.io.to_json() if self.io else None,
            "unavailable": self.unavailable, "notes": self.notes,
            "interrupted": self.interrupted,
        }


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)
