"""One process in depth: identity, threads, scheduling, memory maps, open files, I/O.

``inspect_process(pid)`` reads ``/proc/PID`` twice, ``interval`` seconds apart (for CPU % and
run-queue rates), and returns an immutable ``ProcessReport`` (its classes live in
``_procreport`` and are re-exported here). Everything is read from /proc with
plain file reads so a checked-in fake tree (``proc_root``) drives the tests; the clock and the
sleep are injectable for the same reason.

What it does when things go wrong, as a user would want it:

- no such PID: ``NoSuchProcess`` (exit 3);
- the process exits while being read: what was read, with a note; ``NoSuchProcess`` when that
  is not even its identity;
- a file the kernel refuses (another user's process: smaps, io, fd, exe, cwd, wchan): the value
  is None, its name lands in ``report.unavailable`` with the reason, and the rest is shown.

Counters worth knowing the source of: RSS is the kernel's resident-set counter (status VmRSS,
the figure ps and top show); PSS and USS walk the page tables (smaps_rollup). ``schedstat`` and
context switches are per thread in /proc, so the process figures are sums over its threads
(threads that already exited are not counted; their CPU time is, in the ``stat`` totals).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import stat as stat_mod
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perflab.collect._fdsockets import SocketEntry, read_socket_tables
from perflab.collect._pidfiles import (
    ZERO_SCHEDSTAT,
    FdInfo,
    Limit,
    Mapping,
    SchedStat,
    fd_access_mode,
    fd_flag_names,
    parse_cgroup,
    parse_fdinfo,
    parse_limits,
    parse_schedstat,
    parse_smaps,
    parse_smaps_rollup,
    parse_status,
    status_ids,
    status_kb,
)
from perflab.collect._procfs import USER_HZ
from perflab.collect._procreport import (
    FileEntry,
    Identity,
    IoCounters,
    MapsSummary,
    Memory,
    ProcessReport,
    Scheduling,
    ThreadInfo,
)
from perflab.collect.processes import ProcStat, parse_proc_io, parse_proc_stat
from perflab.errors import AccessDenied, NoSuchProcess, TargetError
from perflab.units import redact_args

PERMISSION_DENIED = "permission denied"
NS_PER_S = 1_000_000_000

__all__ = [
    "FileEntry",
    "Identity",
    "IoCounters",
    "Limit",
    "Mapping",
    "MapsSummary",
    "Memory",
    "ProcessReport",
    "Scheduling",
    "SocketEntry",
    "ThreadInfo",
    "inspect_process",
]


_PARSE_ERRORS = (ValueError, IndexError, KeyError)
_MALFORMED_HINT = ("the kernel's /proc format was not what perflab expects; please report it "
                   "with the output of `uname -r`")


class _Gone(Exception):
    """The process exited while it was being read."""


@dataclass(frozen=True, slots=True)
class _TaskSample:
    stat: ProcStat
    sched: SchedStat | None
    ctxt: tuple[int, int] | None    # voluntary, involuntary


@dataclass(frozen=True, slots=True)
class _Sample:
    t: float
    stat: ProcStat
    tasks: dict[int, _TaskSample]
    io: dict[str, int] | None


def inspect_process(
    pid: int,
    *,
    proc_root: str | Path = "/proc",
    interval: float = 0.5,
    top_maps: int = 20,
    sleep: Callable[[float], None] = time.sleep,
    mono_clock: Callable[[], float] = time.monotonic,
) -> ProcessReport:
    """Read one process in depth. Raises ``NoSuchProcess`` or ``AccessDenied`` (exit 3).

    Given the ID of a thread other than the main one (``/proc/TID`` exists though ``ls /proc``
    does not list it), the report is of the process the thread belongs to, with a note.
    """
    root = Path(proc_root)
    tgid = _thread_group(root, pid)
    reader = _Reader(tgid, root, sleep, mono_clock)
    if tgid != pid:
        reader.notes.append(f"{pid} is a thread of process {tgid}: showing the process")
    return reader.read(interval, top_maps)


def _hidepid_hint(root: Path) -> str | None:
    """When /proc hides other users' processes (hidepid), "no such process" may be untrue."""
    if os.geteuid() == 0:
        return None
    try:
        with open(root / "self" / "mounts", encoding="utf-8") as fh:  # noqa: PTH123
            for line in fh:
                f = line.split()
                if len(f) > 3 and f[1] == str(root) and f[2] == "proc" and "hidepid=" in f[3]:
                    return (f"{root} is mounted with hidepid, which hides other users' "
                            "processes: check the PID as root (sudo perflab proc PID)")
    except OSError:
        pass
    return None


def _thread_group(root: Path, pid: int) -> int:
    path = root / str(pid) / "status"
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:  # noqa: PTH123
            for line in fh:
                if line.startswith("Tgid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass  # no such process, or unreadable: the reader reports it properly
    return pid


class _Reader:
    def __init__(self, pid: int, root: Path, sleep: Callable[[float], None],
                 mono: Callable[[], float]) -> None:
        self.pid = pid
        self.root = root
        self.base = root / str(pid)
        self.sleep = sleep
        self.mono = mono
        self.unavailable: dict[str, str] = {}
        self.notes: list[str] = []

    # -- the plan: identity first (without it there is nothing to show), then each section
    def read(self, interval: float, top_maps: int) -> ProcessReport:
        try:
            first = self._sample()
            identity = self._identity(first.stat)
        except _Gone:
            raise NoSuchProcess(self.pid, hint=_hidepid_hint(self.root)) from None
        except PermissionError as exc:
            raise AccessDenied(
                f"cannot read process {self.pid}: permission denied",
                hint="/proc may be mounted with hidepid; run perflab as root or as the "
                     "process's user",
            ) from exc
        except OSError as exc:
            raise TargetError(f"cannot read process {self.pid}: {exc.strerror or exc}",
                              hint=f"check that {self.base} is readable") from exc
        except _PARSE_ERRORS as exc:
            raise TargetError(f"cannot parse {self.base}: {exc!r}", hint=_MALFORMED_HINT) from exc
        interrupted = False
        scheduling: Scheduling | None = None
        threads: list[ThreadInfo] = []
        memory = None
        files = None
        io = None
        try:
            second = first  # no interval: one read, totals only, no rates
            if interval > 0:
                interrupted = self._wait(interval)
                second = self._sample()
                self._check_same(first.stat.starttime, second.stat)
            scheduling = _scheduling(first, second)
            self._probe_ptrace_access()
            threads = self._threads(first, second)
            memory = self._memory(top_maps)
            files = self._files()
            io = _io(first, second)
            if io is None:
                self._deny("io", "io")
            self._check_still_there(first.stat.starttime)
        except _Gone:
            self.notes.append(
                f"process {self.pid} exited while being read; showing what was read before")
            self._mark_missing({"scheduling": scheduling, "threads": threads or None,
                                "memory": memory, "files": files, "io": io}, "process exited")
        except (OSError, *_PARSE_ERRORS) as exc:
            # a kernel answer we did not expect: keep what was read, say what stopped us
            self.notes.append(f"reading stopped at an unexpected error: {exc!r}")
            self._mark_missing({"scheduling": scheduling, "threads": threads or None,
                                "memory": memory, "files": files, "io": io}, "not read (error)")
        if identity.kernel_thread:
            self.notes.append("a kernel thread: it has no user memory, executable or files")
        elif identity.state.startswith("Z"):
            self.notes.append("the process is a zombie: it exited and its parent has not yet "
                              "reaped it, so it has no memory, files or threads left to show")
        return ProcessReport(identity, scheduling, threads, memory, files, io,
                             dict(self.unavailable), list(self.notes), interrupted)

    def _mark_missing(self, sections: dict[str, object], why: str) -> None:
        for item, value in sections.items():
            if value is None:
                self.unavailable.setdefault(item, why)

    def _wait(self, interval: float) -> bool:
        """Sleep the interval; on Ctrl-C stop waiting and measure over the time that passed."""
        start = self.mono()
        try:
            self.sleep(interval)
        except KeyboardInterrupt:
            elapsed = self.mono() - start
            self.notes.append(f"interrupted: rates cover the {elapsed:.2f}s measured before "
                              "Ctrl-C, not the whole interval")
            return True
        return False

    # -- low-level reads: translate the kernel's answers once
    def _text(self, rel: str) -> str:
        """Read a file of the process; ``_Gone`` if the process is gone."""
        try:
            with open(self.base / rel, "rb") as fh:  # noqa: PTH123  # plain open, like top
                return fh.read().decode("utf-8", "replace")
        except (FileNotFoundError, ProcessLookupError) as exc:
            raise _Gone from exc
        except OSError as exc:
            if exc.errno == errno.ESRCH:
                raise _Gone from exc
            raise

    def _optional(self, rel: str, item: str) -> str | None:
        """Read a file that the kernel may refuse (ptrace-protected); None and noted if so."""
        try:
            return self._text(rel)
        except PermissionError:
            self._deny(item, rel)
            return None
        except _Gone:
            if self.base.exists():
                return None  # absent for this process (kernel thread, old kernel): not an error
            raise

    def _link(self, rel: str, item: str) -> str | None:
        try:
            return str((self.base / rel).readlink())
        except PermissionError:
            self._deny(item, rel)
            return None
        except OSError:
            if not self.base.exists():
                raise _Gone from None
            return None  # kernel threads have no exe/cwd; zombies neither

    def _probe_ptrace_access(self) -> None:
        """Note whether the kernel lets us inspect this process (its ptrace access check).

        wchan reads "0" both when a thread is running and when the reader may not see it, so
        the answer cannot come from wchan itself; the fd directory is guarded by the same check.
        """
        try:
            os.listdir(self.base / "fd")
        except PermissionError:
            self._deny("threads.wchan", "task/*/wchan")
        except FileNotFoundError:
            if not self.base.exists():
                raise _Gone from None

    def _deny(self, item: str, what: str) -> None:
        self.unavailable[item] = f"{PERMISSION_DENIED} (/proc/{self.pid}/{what})"

    def _check_still_there(self, starttime: int) -> None:
        self._check_same(starttime, parse_proc_stat(self._text("stat")))

    @staticmethod
    def _check_same(starttime: int, now: ProcStat) -> None:
        """Same PID, other start time: the process exited and its PID was reused."""
        if now.starttime != starttime:
            raise _Gone

    # -- sections
    def _sample(self) -> _Sample:
        t = self.mono()
        st = parse_proc_stat(self._text("stat"))
        tasks: dict[int, _TaskSample] = {}
        try:
            tids = sorted(int(n) for n in os.listdir(self.base / "task") if n.isdigit())
        except FileNotFoundError:
            raise _Gone from None
        for tid in tids:
            task = self._task(tid)
            if task is not None:
                tasks[tid] = task
        io_text = self._optional("io", "io")
        io = parse_proc_io(io_text) if io_text else None
        return _Sample(t, st, tasks, io)

    def _task(self, tid: int) -> _TaskSample | None:
        rel = f"task/{tid}"
        try:
            st = parse_proc_stat(self._text(f"{rel}/stat"))
        except _Gone:
            return None  # the thread exited: the process may well be alive
        sched = ctxt = None
        with contextlib.suppress(_Gone, PermissionError, ValueError):
            sched = parse_schedstat(self._text(f"{rel}/schedstat"))
        try:
            status = parse_status(self._text(f"{rel}/status"))
            ctxt = (int(status["voluntary_ctxt_switches"]),
                    int(status["nonvoluntary_ctxt_switches"]))
        except (_Gone, PermissionError, KeyError, ValueError):
            pass
        return _TaskSample(st, sched, ctxt)

    def _identity(self, st: ProcStat) -> Identity:
        status = parse_status(self._text("status"))
        raw_cmd = self._text("cmdline")
        cmdline = raw_cmd.split("\0") if raw_cmd else []
        if cmdline and cmdline[-1] == "":
            cmdline.pop()
        cmdline = redact_args(cmdline)  # no secret of a command line is shown, nor in --json
        cgroup_text = self._optional("cgroup", "cgroup")
        cg2, cg1 = parse_cgroup(cgroup_text) if cgroup_text else (None, {})
        limits_text = self._optional("limits", "limits")
        uid, gid = status_ids(status, "Uid"), status_ids(status, "Gid")
        return Identity(
            pid=self.pid, ppid=st.ppid, name=status.get("Name", st.comm), cmdline=cmdline,
            exe=self._link("exe", "exe"), cwd=self._link("cwd", "cwd"),
            state=status.get("State", st.state), uid=uid, gid=gid,
            user=_user_name(uid[0]), effective_user=_user_name(uid[1]),
            start_time_ns=self._boot_time_ns() + round(st.starttime * NS_PER_S / USER_HZ),
            cgroup=cg2, cgroup_v1=cg1,
            limits=parse_limits(limits_text) if limits_text else [],
            kernel_thread=_is_kernel_thread(status, cmdline),
        )

    def _boot_time_ns(self) -> int:
        with open(self.root / "stat", encoding="ascii") as fh:  # noqa: PTH123
            for line in fh:
                if line.startswith("btime "):
                    return int(line.split()[1]) * NS_PER_S
        return 0

    def _threads(self, first: _Sample, second: _Sample) -> list[ThreadInfo]:
        dt = second.t - first.t
        out = []
        for tid, cur in second.tasks.items():
            prev = first.tasks.get(tid) if dt > 0 else None  # no interval: no rates
            wchan = None
            if "threads.wchan" not in self.unavailable:
                wchan = self._optional(f"task/{tid}/wchan", "threads.wchan")
            if wchan is not None:
                # "0" means running, or that the kernel hides it from this reader
                wchan = "" if wchan.strip() == "0" else wchan.strip()
            out.append(_thread(tid, prev, cur, dt, wchan))
        out.sort(key=lambda t: (-(t.cpu_pct or 0.0), -t.cpu_s, t.tid))
        return out

    def _memory(self, top_maps: int) -> Memory:
        status = parse_status(self._text("status"))
        rollup_text = self._optional("smaps_rollup", "memory.pss")
        rollup = parse_smaps_rollup(rollup_text) if rollup_text else None
        smaps_text = self._optional("smaps", "memory.maps")
        maps = _maps_summary(parse_smaps(smaps_text), top_maps) if smaps_text is not None else None
        if rollup is None and smaps_text and "memory.pss" not in self.unavailable:
            # kernels before 4.14 have no smaps_rollup: the sum of smaps is the same figure
            rollup = parse_smaps_rollup(smaps_text)

        def roll(key: str) -> int | None:
            return rollup.get(key) if rollup is not None else None

        uss = None
        if rollup is not None:
            uss = rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)
        return Memory(
            rss=status_kb(status, "VmRSS"), rss_anon=status_kb(status, "RssAnon"),
            rss_file=status_kb(status, "RssFile"), rss_shmem=status_kb(status, "RssShmem"),
            rss_peak=status_kb(status, "VmHWM"), vsize=status_kb(status, "VmSize"),
            swap=status_kb(status, "VmSwap"), pss=roll("Pss"), pss_anon=roll("Pss_Anon"),
            pss_file=roll("Pss_File"), uss=uss, swap_pss=roll("SwapPss"), maps=maps,
        )

    def _files(self) -> list[FileEntry] | None:
        try:
            names = os.listdir(self.base / "fd")
        except PermissionError:
            self._deny("files", "fd")
            return None
        except FileNotFoundError:
            raise _Gone from None
        targets: dict[int, str] = {}
        for fd in sorted(int(n) for n in names if n.isdigit()):
            try:
                targets[fd] = str((self.base / "fd" / str(fd)).readlink())
            except PermissionError:
                self._deny("files", "fd")
                return None
            except OSError:
                continue  # closed since the listing
        socket_inodes = {int(t[8:-1]) for t in targets.values() if t.startswith("socket:[")}
        sockets = read_socket_tables(self.base, socket_inodes) if socket_inodes else {}
        out = []
        for fd, target in targets.items():
            info = None
            info_text = self._optional(f"fdinfo/{fd}", "files.fdinfo")
            if info_text:
                info = parse_fdinfo(info_text)
            out.append(self._file_entry(fd, target, info, sockets))
        return out

    def _file_entry(self, fd: int, target: str, info: FdInfo | None,
                    sockets: dict[int, SocketEntry]) -> FileEntry:
        sock = None
        deleted = False
        name = target
        if target.startswith("socket:["):
            sock = sockets.get(int(target[8:-1]))
            kind = sock.proto if sock is not None else "sock"
            if sock is not None:
                name = sock.describe()
        elif target.startswith("pipe:["):
            kind = "FIFO"
        elif target.startswith("anon_inode:"):
            kind = "a_inode"
        elif target.startswith("/"):
            deleted = target.endswith(" (deleted)")
            kind = self._file_type(fd)
        else:
            kind = "unknown"  # net:[...], mnt:[...] namespace handles and the like
        return FileEntry(
            fd=fd, type=kind, name=name,
            mode=fd_access_mode(info.flags) if info else None,
            flags=fd_flag_names(info.flags) if info else [],
            pos=info.pos if info else None, deleted=deleted, socket=sock,
            extra=info.extra if info else {},
        )

    def _file_type(self, fd: int) -> str:
        try:
            mode = os.stat(self.base / "fd" / str(fd)).st_mode  # follows to the open file
        except OSError:
            return "unknown"
        for test, name in ((stat_mod.S_ISREG, "REG"), (stat_mod.S_ISDIR, "DIR"),
                           (stat_mod.S_ISCHR, "CHR"), (stat_mod.S_ISBLK, "BLK"),
                           (stat_mod.S_ISFIFO, "FIFO"), (stat_mod.S_ISSOCK, "sock"),
                           (stat_mod.S_ISLNK, "LINK")):
            if test(mode):
                return name
        return "unknown"


# --------------------------------------------------------------------------------------------
# pure computations over two samples


def _thread(tid: int, prev: _TaskSample | None, cur: _TaskSample, dt: float,
            wchan: str | None) -> ThreadInfo:
    st = cur.stat
    cpu_pct = wait_pct = None
    if prev is not None:
        if cur.sched is not None and prev.sched is not None:
            # schedstat counts nanoseconds: far finer than stat's 10 ms ticks over 0.5 s
            cpu_pct = 100.0 * (cur.sched.on_cpu_s - prev.sched.on_cpu_s) / dt
            wait_pct = 100.0 * (cur.sched.runqueue_wait_s - prev.sched.runqueue_wait_s) / dt
        else:
            cpu_pct = 100.0 * ((st.utime_s + st.stime_s)
                               - (prev.stat.utime_s + prev.stat.stime_s)) / dt
    return ThreadInfo(
        tid=tid, name=st.comm, state=st.state, cpu_pct=_clamp(cpu_pct),
        cpu_user_s=st.utime_s, cpu_system_s=st.stime_s,
        runqueue_wait_s=cur.sched.runqueue_wait_s if cur.sched else None,
        runqueue_wait_pct=_clamp(wait_pct),
        voluntary_ctxt_switches=cur.ctxt[0] if cur.ctxt else None,
        involuntary_ctxt_switches=cur.ctxt[1] if cur.ctxt else None,
        last_cpu=st.processor, wchan=wchan,
    )


def _is_kernel_thread(status: dict[str, str], cmdline: list[str]) -> bool:
    """status has "Kthread: 1" since Linux 6.0; before, a kernel thread is a process with
    neither a command line nor memory (a zombie has no command line either, but is state Z)."""
    if "Kthread" in status:
        return status["Kthread"] == "1"
    return not cmdline and "VmRSS" not in status and not status.get("State", "").startswith("Z")


def _clamp(value: float | None) -> float | None:
    return None if value is None else max(0.0, value)


def _sum_sched(tasks: dict[int, _TaskSample], tids: set[int]) -> SchedStat | None:
    scheds = [tasks[t].sched for t in tids]
    if not scheds or any(s is None for s in scheds):
        return None
    total = ZERO_SCHEDSTAT
    for s in scheds:
        assert s is not None
        total = total + s
    return total


def _sum_ctxt(tasks: dict[int, _TaskSample], tids: set[int]) -> tuple[int, int] | None:
    pairs = [tasks[t].ctxt for t in tids]
    if not pairs or any(p is None for p in pairs):
        return None
    return (sum(p[0] for p in pairs if p), sum(p[1] for p in pairs if p))


def _scheduling(first: _Sample, second: _Sample) -> Scheduling:
    dt = second.t - first.t
    measured = dt > 0
    s1, s2 = first.stat, second.stat
    cpu_pct = None
    if measured:
        cpu_pct = max(0.0, 100.0 * ((s2.utime_s + s2.stime_s) - (s1.utime_s + s1.stime_s)) / dt)
    # totals over the threads alive now; rates over the threads alive at both ends
    now_tids = set(second.tasks)
    both = now_tids & set(first.tasks)
    total = _sum_sched(second.tasks, now_tids)
    ctxt = _sum_ctxt(second.tasks, now_tids)
    wait_pct = slices_s = wait_per_slice = vol_s = invol_s = None
    if measured:
        a, b = _sum_sched(first.tasks, both), _sum_sched(second.tasks, both)
        if a is not None and b is not None:
            d_wait = max(0.0, b.runqueue_wait_s - a.runqueue_wait_s)
            d_slices = max(0, b.timeslices - a.timeslices)
            wait_pct = 100.0 * d_wait / dt
            slices_s = d_slices / dt
            wait_per_slice = d_wait / d_slices if d_slices else 0.0
        c1, c2 = _sum_ctxt(first.tasks, both), _sum_ctxt(second.tasks, both)
        if c1 is not None and c2 is not None:
            vol_s = max(0, c2[0] - c1[0]) / dt
            invol_s = max(0, c2[1] - c1[1]) / dt
    return Scheduling(
        interval_s=dt, cpu_pct=cpu_pct, cpu_user_s=s2.utime_s, cpu_system_s=s2.stime_s,
        threads=s2.num_threads,
        on_cpu_s=total.on_cpu_s if total else None,
        runqueue_wait_s=total.runqueue_wait_s if total else None,
        timeslices=total.timeslices if total else None,
        runqueue_wait_pct=wait_pct, timeslices_per_s=slices_s,
        wait_per_timeslice_s=wait_per_slice,
        voluntary_ctxt_switches=ctxt[0] if ctxt else None,
        involuntary_ctxt_switches=ctxt[1] if ctxt else None,
        voluntary_ctxt_switches_per_s=vol_s, involuntary_ctxt_switches_per_s=invol_s,
        minor_faults=s2.minflt, major_faults=s2.majflt,
        minor_faults_per_s=max(0, s2.minflt - s1.minflt) / dt if measured else None,
        major_faults_per_s=max(0, s2.majflt - s1.majflt) / dt if measured else None,
    )


def _io(first: _Sample, second: _Sample) -> IoCounters | None:
    io = second.io
    if io is None:
        return None
    dt = second.t - first.t
    rb_s = wb_s = None
    if dt > 0 and first.io is not None:
        rb_s = max(0, io.get("read_bytes", 0) - first.io.get("read_bytes", 0)) / dt
        wb_s = max(0, io.get("write_bytes", 0) - first.io.get("write_bytes", 0)) / dt
    return IoCounters(
        rchar=io.get("rchar"), wchar=io.get("wchar"), syscr=io.get("syscr"),
        syscw=io.get("syscw"), read_bytes=io.get("read_bytes"),
        write_bytes=io.get("write_bytes"),
        cancelled_write_bytes=io.get("cancelled_write_bytes"),
        read_bytes_per_s=rb_s, write_bytes_per_s=wb_s,
    )


def _maps_summary(maps: list[Mapping], top: int) -> MapsSummary:
    ranked = sorted(maps, key=lambda m: (-m.rss, -m.size, m.start))
    return MapsSummary(
        count=len(maps), top=ranked[:top],
        total_size=sum(m.size for m in maps), total_rss=sum(m.rss for m in maps),
        total_pss=sum(m.pss for m in maps), total_dirty=sum(m.dirty for m in maps),
        total_swap=sum(m.swap for m in maps),
    )


_USER_CACHE: dict[int, str] = {}


def _user_name(uid: int) -> str:
    name = _USER_CACHE.get(uid)
    if name is None:
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        _USER_CACHE[uid] = name
    return name
