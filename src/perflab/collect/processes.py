"""The process table: every process's CPU, memory, threads, fds and I/O, read fast from /proc.

One refresh reads ``/proc/PID/stat`` (and ``io`` and the ``fd`` directory when asked) per process
with plain ``os`` calls; command lines and users are cached per process incarnation
(pid + start time), so the steady-state cost is a few small reads per process. Processes that
exit mid-read are skipped, never reported as errors.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import resource
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from perflab.collect._contracts import ProcessRowJson
from perflab.collect._procfs import USER_HZ
from perflab.units import redact_args

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The fields of /proc/PID/stat that perflab uses (proc(5) numbering in comments)."""

    pid: int
    comm: str
    state: str        # (3)
    ppid: int         # (4)
    minflt: int       # (10)
    majflt: int       # (12)
    utime_s: float    # (14)
    stime_s: float    # (15)
    num_threads: int  # (20)
    starttime: int    # (22) clock ticks after boot: with pid, identifies one incarnation
    vsize: int        # (23) bytes
    rss_bytes: int    # (24) pages -> bytes
    processor: int    # (39)
    delayacct_blkio_s: float  # (42)


def parse_proc_stat(text: str) -> ProcStat:
    """Parse /proc/PID/stat; comm may hold spaces and parentheses, so split at the last ')'.

    Positional construction and no intermediate lists: this runs for every process at every
    refresh.
    """
    head, _, rest = text.rpartition(")")
    pid_s, sep, comm = head.partition(" (")
    if not sep:
        raise ValueError(f"malformed /proc/PID/stat: {text[:40]!r}")
    f = rest.split()  # f[0] is field (3)
    n = len(f)
    return ProcStat(
        int(pid_s), comm, f[0], int(f[1]), int(f[7]), int(f[9]), int(f[11]) / USER_HZ,
        int(f[12]) / USER_HZ, int(f[17]), int(f[19]), int(f[20]), int(f[21]) * PAGE_SIZE,
        int(f[36]) if n > 36 else 0, int(f[39]) / USER_HZ if n > 39 else 0.0,
    )


def parse_proc_io(text: str) -> dict[str, int]:
    """``name: value`` lines of /proc/PID/io (split once: this runs for every process)."""
    words = text.split()
    return {k.rstrip(":"): int(v) for k, v in zip(words[::2], words[1::2], strict=False)}


def _read(path: str) -> bytes:
    """A whole small /proc file with raw os calls (no buffered file object per read)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def _close_fds(fds: dict[int, int]) -> None:
    for fd in fds.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


def _read_optional(path: str) -> bytes:
    try:
        return _read(path)
    except OSError:
        return b""


def _fd_dir_size_counts(root: str) -> bool:
    """Whether stat() of /proc/PID/fd reports the number of open descriptors (Linux >= 6.2).

    Checked on our own process; a fake /proc tree (tests) has no ``self`` and says no.
    """
    own = f"{root}/self/fd"
    try:
        size = os.stat(own).st_size
        listed = len(os.listdir(own))  # the listing itself holds one descriptor open
    except OSError:
        return False
    return size > 0 and listed - 1 <= size <= listed


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """Raw counters of one process at one moment."""

    stat: ProcStat
    uid: int
    read_bytes: int | None    # storage I/O (/proc/PID/io read_bytes); None when not permitted
    write_bytes: int | None
    rchar: int | None         # all read()s, cache hits included
    wchar: int | None
    fds: int | None           # open file descriptors; None when not permitted
    raw_stat: bytes = b""     # the /proc/PID/stat line read: unchanged means the process idled
    full_read_s: float = 0.0  # monotonic time io and fds were last read (not carried over)
    raw_sched: bytes = b""    # /proc/PID/schedstat (run time in ns): unchanged means it never ran


@dataclass(frozen=True, slots=True)
class ProcessRow:
    """One line of the process table: raw sample plus rates over the last interval."""

    pid: int
    ppid: int
    user: str
    name: str
    cmdline: str
    state: str
    cpu_pct: float           # % of one core, like top/htop (can exceed 100 for threads)
    rss_bytes: int
    vsize: int
    threads: int
    fds: int | None
    read_bytes_s: float | None
    write_bytes_s: float | None
    utime_s: float
    stime_s: float
    majflt: int
    minflt: int
    starttime: int

    def to_json(self) -> ProcessRowJson:
        return {
            "pid": self.pid, "ppid": self.ppid, "user": self.user, "name": self.name,
            "cmdline": self.cmdline, "state": self.state, "cpu_pct": round(self.cpu_pct, 2),
            "rss_bytes": self.rss_bytes, "vsize_bytes": self.vsize, "threads": self.threads,
            "fds": self.fds, "read_bytes_per_s": self.read_bytes_s,
            "write_bytes_per_s": self.write_bytes_s, "cpu_user_s": self.utime_s,
            "cpu_system_s": self.stime_s,
        }


def list_pids(root: Path) -> list[int]:
    return [int(n) for n in os.listdir(root) if n.isdigit()]


class ProcessCollector:
    """Reads the process table; ``refresh()`` returns rows with rates since the last call."""

    def __init__(self, proc_root: str | Path = "/proc", *, with_io: bool = True,
                 with_fds: bool = True, mono_clock: Callable[[], float] = time.monotonic,
                 idle_recheck_s: float = 0.0,
                 user_name: Callable[[int], str] | None = None) -> None:
        """``idle_recheck_s`` > 0: a process that has not run since the last refresh (same
        /proc/PID/schedstat run time; without schedstat, the same stat line) keeps its sample
        for up to that long instead of re-reading stat, io and fd. Counters are carried, not
        guessed: anything it did meanwhile shows in full at the next real read. For recorders
        of many processes, which should ``close()`` the collector when done.
        """
        self.root = Path(proc_root)
        self._root_s = str(self.root)
        self.with_io = with_io
        self.with_fds = with_fds
        self.idle_recheck_s = idle_recheck_s
        self._mono = mono_clock
        self._prev: dict[tuple[int, int], ProcessSample] = {}
        self._prev_t: float | None = None
        self._cmdlines: dict[tuple[int, int], str] = {}
        self._users: dict[int, str] = {}
        # uid -> name; injectable so tests of a checked-in /proc do not depend on who owns it
        self._user_name = user_name or _passwd_name
        self._fd_dir_size_counts = _fd_dir_size_counts(self._root_s)
        self._idle_rows: dict[tuple[int, int], ProcessRow] = {}
        # schedstat is read every tick for every process: keeping it open saves the open() and
        # close() (pread at 0 regenerates it). Bounded to half the descriptor limit.
        self._sched_fds: dict[int, int] = {}
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        # only on procfs, where reading a kept descriptor of an exited process fails (ESRCH);
        # a deleted file of a fake tree would still read
        real_proc = (self.root / "self" / "schedstat").exists()
        self._max_sched_fds = 0 if idle_recheck_s <= 0 or not real_proc else (
            4096 if soft == resource.RLIM_INFINITY else min(4096, soft // 2))
        self._finalizer = weakref.finalize(self, _close_fds, self._sched_fds)

    def close(self) -> None:
        """Close the descriptors kept open between refreshes (reopened if used again)."""
        _close_fds(self._sched_fds)

    def sample(self, pid: int, prev: ProcessSample | None = None,
               now: float = 0.0) -> ProcessSample | None:
        """Raw counters of one process, or None when it is gone (or a kernel thread race).

        ``prev`` (the last sample of this PID) lets an unchanged stat line skip parsing and,
        with ``idle_recheck_s``, lets a process that has not run since skip every other read.
        """
        base = f"{self._root_s}/{pid}"
        sched = raw = b""
        try:
            if self.idle_recheck_s > 0:
                fresh = prev is not None and now - prev.full_read_s < self.idle_recheck_s
                # schedstat is the cheapest proof of idleness: its run time (ns) moves with any
                # CPU use at all, where stat counts whole clock ticks. Without it (no
                # CONFIG_SCHED_INFO) an identical stat line is the proof.
                sched = self._read_schedstat(pid, f"{base}/schedstat")
                if fresh and prev is not None and sched and sched == prev.raw_sched:
                    return prev
                raw = _read(f"{base}/stat")
                if fresh and prev is not None and not sched and raw == prev.raw_stat:
                    return prev
            else:
                raw = _read(f"{base}/stat")
            if prev is not None and raw == prev.raw_stat:
                stat = prev.stat
            else:
                stat = parse_proc_stat(raw.decode("utf-8", "replace"))
            fds: int | None = None
            if self.with_fds and self._fd_dir_size_counts:
                # one stat() gives both: the owner of /proc/PID/fd is the process's (as for
                # /proc/PID), and since Linux 6.2 its size is the number of open descriptors
                st = os.stat(f"{base}/fd")
                uid, fds = st.st_uid, st.st_size
            else:
                uid = os.stat(base).st_uid
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            return None
        read_b = write_b = rchar = wchar = None
        if self.with_io:
            try:
                io = parse_proc_io(_read(f"{base}/io").decode())
                read_b, write_b = io.get("read_bytes"), io.get("write_bytes")
                rchar, wchar = io.get("rchar"), io.get("wchar")
            except OSError:
                pass
        if self.with_fds and fds is None:
            with contextlib.suppress(OSError):
                fds = len(os.listdir(f"{base}/fd"))
        return ProcessSample(stat, uid, read_b, write_b, rchar, wchar, fds, raw, now, sched)

    def snapshot(self, pids: Iterable[int] | None = None,
                 now: float | None = None) -> dict[tuple[int, int], ProcessSample]:
        now = self._mono() if now is None else now
        prev_by_pid = {key[0]: s for key, s in self._prev.items()}
        out = {}
        for pid in list_pids(self.root) if pids is None else pids:
            s = self.sample(pid, prev_by_pid.get(pid), now)
            if s is not None:
                out[(pid, s.stat.starttime)] = s
        if self._sched_fds:
            seen = {key[0] for key in out}
            for pid in [p for p in self._sched_fds if p not in seen]:
                os.close(self._sched_fds.pop(pid))
        return out

    def _read_schedstat(self, pid: int, path: str) -> bytes:
        """/proc/PID/schedstat through a kept descriptor; b"" when absent or gone."""
        fd = self._sched_fds.get(pid)
        if fd is not None:
            try:
                return os.pread(fd, 4096, 0)
            except OSError:  # ESRCH: that process exited (its PID may be someone else's now)
                os.close(self._sched_fds.pop(pid))
        if len(self._sched_fds) >= self._max_sched_fds:
            return _read_optional(path)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return b""
        try:
            data = os.pread(fd, 4096, 0)
        except OSError:
            os.close(fd)
            return b""
        self._sched_fds[pid] = fd
        return data

    def refresh(self, pids: Iterable[int] | None = None) -> list[ProcessRow]:
        now = self._mono()
        cur = self.snapshot(pids, now)
        dt = None if self._prev_t is None else max(now - self._prev_t, 1e-9)
        prev = self._prev
        idle_rows = self._idle_rows
        rows = []
        for key, s in cur.items():
            before = prev.get(key)
            if s is before:  # idle and not re-read (idle_recheck_s): the same row as before
                row = idle_rows.get(key)
                if row is None:
                    row = idle_rows[key] = self._row(key, s, before, dt)
            else:
                idle_rows.pop(key, None)
                row = self._row(key, s, before, dt)
            rows.append(row)
        for key in self._cmdlines.keys() - cur.keys():
            del self._cmdlines[key]
            idle_rows.pop(key, None)
        self._prev, self._prev_t = cur, now
        return rows

    def _row(self, key: tuple[int, int], s: ProcessSample, prev: ProcessSample | None,
             dt: float | None) -> ProcessRow:
        st = s.stat
        cpu = rb = wb = None
        if prev is not None and dt is not None:
            cpu = 100.0 * ((st.utime_s + st.stime_s) - (prev.stat.utime_s + prev.stat.stime_s)) / dt
            if s.read_bytes is not None and prev.read_bytes is not None:
                rb = max(0, s.read_bytes - prev.read_bytes) / dt
            if s.write_bytes is not None and prev.write_bytes is not None:
                wb = max(0, s.write_bytes - prev.write_bytes) / dt
        return ProcessRow(
            pid=st.pid, ppid=st.ppid, user=self._user(s.uid), name=st.comm,
            cmdline=self._cmdline(key, st.comm), state=st.state, cpu_pct=max(0.0, cpu or 0.0),
            rss_bytes=st.rss_bytes, vsize=st.vsize, threads=st.num_threads, fds=s.fds,
            read_bytes_s=rb, write_bytes_s=wb, utime_s=st.utime_s, stime_s=st.stime_s,
            majflt=st.majflt, minflt=st.minflt, starttime=st.starttime,
        )

    def _cmdline(self, key: tuple[int, int], comm: str) -> str:
        cached = self._cmdlines.get(key)
        if cached is None:
            try:
                with open(f"{self._root_s}/{key[0]}/cmdline", "rb") as fh:  # noqa: PTH123
                    raw = fh.read()
                args = raw.rstrip(b"\0").decode("utf-8", "replace").split("\0")
                cached = " ".join(redact_args(args))  # no secret of a command line is shown
            except OSError:
                cached = ""
            cached = cached or f"[{comm}]"  # kernel threads have no command line, as ps shows
            self._cmdlines[key] = cached
        return cached

    def _user(self, uid: int) -> str:
        name = self._users.get(uid)
        if name is None:
            name = self._users[uid] = self._user_name(uid)
        return name


def _passwd_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)  # a uid with no passwd entry (containers): shown as the number, as ps does
