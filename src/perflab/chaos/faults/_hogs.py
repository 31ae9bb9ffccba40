"""Resource hogs: CPU, memory and I/O stress processes, and a disk fill file.

A hog is stress-ng when it is installed (the tool users know, with its methods), else a small
built-in Python worker doing the same. Each hog starts in a process group of its own, inside
its target's cgroup when the target has one (the hog joins it before it execs), and carries its
own time limit (the fault's duration + ``SAFETY_S``), so it ends even if perflab and its
watchdog were both killed. The journal holds the group to SIGKILL and the files to remove.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from perflab.chaos.faults._cgroups import CgroupJoin, cgroup_join, join_self
from perflab.chaos.faults._undo import start_ticks
from perflab.errors import InvalidValue, TargetError, ToolMissing
from perflab.units import format_size

if TYPE_CHECKING:
    from perflab.chaos.faults._session import FaultSession

HogKind = Literal["cpu", "memory", "io"]
Engine = Literal["auto", "stress-ng", "builtin"]
SAFETY_S = 5  # a hog's own limit beyond the fault's duration
IO_FILE_BYTES = 64 << 20  # each I/O worker rewrites a file of this size
MEMORY_RESERVE = 256 << 20  # a memory hog leaves at least this much available

# the built-in workers: argv[1] workers (forked, one process group), argv[2] seconds, argv[3]
# bytes (memory) or a directory (io)
_BUILTIN = {
    "cpu": """
import os, sys, time
end = time.monotonic() + float(sys.argv[2])
for _ in range(int(sys.argv[1]) - 1):
    if os.fork() == 0:
        break
while time.monotonic() < end:
    pass
""",
    "memory": """
import sys, time
end = time.monotonic() + float(sys.argv[2])
block = bytearray(int(sys.argv[3]))
block[::4096] = b"\\1" * len(range(0, len(block), 4096))  # every page resident
while time.monotonic() < end:
    time.sleep(0.2)
""",
    "io": f"""
import os, sys, time
end = time.monotonic() + float(sys.argv[2])
for _ in range(int(sys.argv[1]) - 1):
    if os.fork() == 0:
        break
path = os.path.join(sys.argv[3], f"w{{os.getpid()}}")
chunk = os.urandom(1 << 20)
with open(path, "wb") as fh:
    while time.monotonic() < end:
        if fh.tell() >= {IO_FILE_BYTES}:
            fh.seek(0)
        fh.write(chunk)
        fh.flush()
        os.fsync(fh.fileno())
""",
}


@dataclass(frozen=True)
class HogPlan:
    kind: HogKind
    workers: int
    duration_s: float
    size: int | None = None        # memory: bytes held
    directory: Path | None = None  # io: where the workers write


def choose_engine(engine: Engine) -> str:
    if engine == "builtin":
        return "builtin"
    if shutil.which("stress-ng") is not None:
        return "stress-ng"
    if engine == "stress-ng":
        raise ToolMissing("stress-ng", install="apt install stress-ng (or --engine builtin)")
    return "builtin"


def _argv(plan: HogPlan, engine: str) -> list[str]:
    limit = str(math.ceil(plan.duration_s) + SAFETY_S)
    if engine == "stress-ng":
        base = ["stress-ng", "--quiet", "--timeout", f"{limit}s"]
        if plan.kind == "cpu":
            return [*base, "--cpu", str(plan.workers)]
        if plan.kind == "memory":
            return [*base, "--vm", "1", "--vm-bytes", str(plan.size), "--vm-keep"]
        return [*base, "--hdd", str(plan.workers), "--hdd-bytes", str(IO_FILE_BYTES),
                "--temp-path", str(plan.directory)]
    extra = str(plan.size) if plan.kind == "memory" else str(plan.directory or "")
    return [sys.executable, "-c", _BUILTIN[plan.kind], str(plan.workers), limit, extra]


def check_memory(size: int, meminfo: str) -> None:
    """Refuse a memory hog that would leave less than MEMORY_RESERVE available."""
    from perflab.collect import parse_meminfo  # noqa: PLC0415

    available = parse_meminfo(meminfo).get("MemAvailable", 0)
    if size > available - MEMORY_RESERVE:
        raise InvalidValue(f"--size {format_size(size)} is more than this machine can spare "
                           f"({format_size(max(available - MEMORY_RESERVE, 0))} available "
                           f"beyond a {format_size(MEMORY_RESERVE)} reserve)",
                           hint="give a smaller --size")


def start_hog(fault: FaultSession, plan: HogPlan, engine: str,
              target_pid: int | None) -> tuple[subprocess.Popen[bytes], str]:
    """Start the hog (in the target's cgroup where it has one); returns it and where it runs."""
    join = (cgroup_join(target_pid, plan.kind) if target_pid is not None
            else CgroupJoin((), "no target: the hog runs beside perflab"))
    if plan.kind == "io" and plan.directory is not None:
        fault.journal.add({"op": "rmtree", "path": str(plan.directory)})
        plan.directory.mkdir(mode=0o700)
    argv = _argv(plan, engine)
    try:
        proc = subprocess.Popen(  # noqa: S603  # our own argv
            argv, start_new_session=True, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # the hog joins the cgroups before it execs, so every worker it forks is inside
            preexec_fn=(lambda: join_self(join)) if join.procs_files else None,  # noqa: PLW1509
        )
    except subprocess.SubprocessError as exc:
        raise TargetError(f"cannot start the hog in the target's cgroup: {exc}",
                          hint="perflab needs root to move a process into another cgroup"
                          ) from exc
    # noted at once: its group is SIGKILLed at the end; the hog ends by itself (its limit)
    # should the controller die before this line
    fault.journal.add({"op": "kill_group", "pid": proc.pid,
                       "start_ticks": start_ticks(proc.pid)})
    how = " ".join(argv) if engine == "stress-ng" else f"built-in worker x{plan.workers}"
    return proc, f"{how}; {join.description}"


def check_fill(directory: Path, size: int) -> None:
    """Refuse a fill of a path that is no directory, or larger than its free space."""
    if not directory.is_dir():
        raise InvalidValue(f"--path {directory} is not a directory",
                           hint="give the directory whose filesystem to fill")
    st = os.statvfs(directory)
    free = st.f_bavail * st.f_frsize
    if size > free:
        raise InvalidValue(f"--size {format_size(size)} is more than the {format_size(free)} "
                           f"free on {directory}'s filesystem",
                           hint=f"give at most --size {free}")


def fill_disk(fault: FaultSession, directory: Path, size: int) -> str:
    """Reserve ``size`` bytes of ``directory``'s filesystem in one file (fallocate)."""
    path = directory / f".perflab-chaos-{fault.journal.fault_id}.fill"
    fault.journal.add({"op": "unlink", "path": str(path)})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        raise TargetError(f"cannot fill {directory}: {exc.strerror}",
                          hint="a filesystem without fallocate, or a quota") from exc
    finally:
        os.close(fd)
    left = os.statvfs(directory)
    return (f"filled {format_size(size)} of {directory}'s filesystem ({path.name}); "
            f"{format_size(left.f_bavail * left.f_frsize)} left free")
