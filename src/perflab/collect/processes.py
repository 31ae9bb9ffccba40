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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from perflab.collect._procfs import USER_HZ

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


_IO_ORDER = ("rchar:", "wchar:", "syscr:", "syscw:", "read_bytes:", "write_bytes:")


def parse_proc_io(text: str) -> dict[str, int]:
    """``name: value`` lines of /proc/PID/io."""
    words = text.split()
    return {k.rstrip(":"): int(v) for k, v in zip(words[::2], words[1::2], strict=False)}


def _io_counters(text: str) -> tuple[int, int, int, int] | None:
    """(read_bytes, write_bytes, rchar, wchar) from /proc/PID/io. The kernel has printed these
    lines in one order since 2.6.20; anything else goes through the general parser."""
    w = text.split()
    if len(w) >= 12 and tuple(w[0:12:2]) == _IO_ORDER:
        return int(w[9]), int(w[11]), int(w[1]), int(w[3])
    io = parse_proc_io(text)
    if "read_bytes" not in io:
        return None
    return io["read_bytes"], io.get("write_bytes", 0), io.get("rchar", 0), io.get("wchar", 0)


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

    def to_json(self) -> dict[str, object]:
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
                 user_name: Callable[[int], str] | None = None) -> None:
        self.root = Path(proc_root)
        self._root_s = str(self.root)
        self.with_io = with_io
        self.with_fds = with_fds
        self._mono = mono_clock
        self._prev: dict[tuple[int, int], ProcessSample] = {}
        self._prev_t: float | None = None
        self._cmdlines: dict[tuple[int, int], str] = {}
        self._users: dict[int, str] = {}
        # uid -> name; injectable so tests of a checked-in /proc do not depend on who owns it
        self._user_name = user_name or _passwd_name
        self._fd_count_in_size = with_fds and _fd_count_in_size(self._root_s)

    def sample(self, pid: int) -> ProcessSample | None:
        """Raw counters of one process, or None when it is gone (or a kernel thread race).

        Plain ``os.open``/``os.read`` (no file objects) and ``fstat`` of the open stat file for
        the owner: this runs for every process at every refresh.
        """
        base = f"{self._root_s}/{pid}"
        try:
            fd = os.open(f"{base}/stat", os.O_RDONLY)
            try:
                raw = os.read(fd, 4096)
                uid = os.fstat(fd).st_uid
            finally:
                os.close(fd)
            stat = parse_proc_stat(raw.decode("utf-8", "replace"))
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            return None
        read_b = write_b = rchar = wchar = fds = None
        if self.with_io:
            try:
                fd = os.open(f"{base}/io", os.O_RDONLY)
                try:
                    io = _io_counters(os.read(fd, 1024).decode())
                finally:
                    os.close(fd)
                if io is not None:
                    read_b, write_b, rchar, wchar = io
            except (OSError, ValueError):
                pass
        if self.with_fds:
            with contextlib.suppress(OSError):
                fds = (os.stat(f"{base}/fd").st_size if self._fd_count_in_size
                       else len(os.listdir(f"{base}/fd")))
        return ProcessSample(stat, uid, read_b, write_b, rchar, wchar, fds)

    def snapshot(self, pids: Iterable[int] | None = None) -> dict[tuple[int, int], ProcessSample]:
        out = {}
        for pid in list_pids(self.root) if pids is None else pids:
            s = self.sample(pid)
            if s is not None:
                out[(pid, s.stat.starttime)] = s
        return out

    def refresh(self, pids: Iterable[int] | None = None) -> list[ProcessRow]:
        now = self._mono()
        cur = self.snapshot(pids)
        dt = None if self._prev_t is None else max(now - self._prev_t, 1e-9)
        rows = [self._row(key, s, self._prev.get(key), dt) for key, s in cur.items()]
        for key in self._cmdlines.keys() - cur.keys():
            del self._cmdlines[key]
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
                cached = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
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


def _fd_count_in_size(root: str) -> bool:
    """Whether ``stat("/proc/PID/fd").st_size`` is the number of open fds (Linux >= 6.2): one
    stat instead of listing the directory. Probed on our own process; older kernels say 0."""
    try:
        size = os.stat(f"{root}/self/fd").st_size
        listed = len(os.listdir(f"{root}/self/fd"))  # includes the fd listdir itself opened
    except OSError:
        return False  # not a live procfs (a test fixture): count by listing
    return size > 0 and abs(size - listed) <= 1


def _passwd_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)  # a uid with no passwd entry (containers): shown as the number, as ps does
