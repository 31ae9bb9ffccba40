"""Faults on the target processes themselves: kill, stop, restart, file-descriptor exhaustion.

File-descriptor exhaustion lowers the target's own soft ``RLIMIT_NOFILE`` (``prlimit``) to the
number of descriptors it has open (plus ``headroom``): its next ``open``/``accept``/``socket``
fails with EMFILE, exactly what a leak that reached the limit does to it (a program that raises
its own soft limit when it meets EMFILE escapes it). A separate process holding descriptors
would exhaust nothing: the limit is per process, and the system-wide ``file-max`` is in the
millions. The limit is restored at the end (the journal keeps the old
soft and hard values).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.chaos.faults._undo import start_ticks
from perflab.collect import stat_of
from perflab.errors import AccessDenied, NoSuchProcess

if TYPE_CHECKING:
    from perflab.chaos.faults._session import FaultSession
    from perflab.chaos.faults._targets import Target

EXIT_GRACE_S = 10.0  # how long a process may take to exit on --signal before SIGKILL


def send(target: Target, sig: signal.Signals) -> None:
    """Signal a target that is still the process we resolved (its PID was not reused)."""
    if start_ticks(target.pid) != target.start_ticks:
        raise NoSuchProcess(target.pid, hint="it exited before the fault")
    try:
        os.kill(target.pid, sig)
    except ProcessLookupError as exc:
        raise NoSuchProcess(target.pid) from exc
    except PermissionError as exc:
        raise AccessDenied(f"not allowed to signal PID {target.pid}",
                           hint="run perflab as the target's user or as root") from exc


def kill(targets: list[Target], sig: signal.Signals) -> str:
    for t in targets:
        send(t, sig)
    return f"sent {sig.name} to {', '.join(t.label for t in targets)}"


def stop(fault: FaultSession, targets: list[Target]) -> str:
    """SIGSTOP now; the rollback sends SIGCONT."""
    for t in targets:
        fault.journal.add({"op": "cont", "pid": t.pid, "start_ticks": t.start_ticks})
        send(t, signal.SIGSTOP)
    return f"stopped {', '.join(t.label for t in targets)} (SIGSTOP; SIGCONT at the end)"


def wait_exit(targets: list[Target], timeout_s: float = EXIT_GRACE_S) -> list[Target]:
    """Wait for the targets to exit; returns those still there after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    left = list(targets)
    while left and time.monotonic() < deadline:
        left = [t for t in left if start_ticks(t.pid) == t.start_ticks
                and not _zombie(t.pid)]
        if left:
            time.sleep(0.05)
    return left


def _zombie(pid: int) -> bool:
    stat = stat_of(pid)
    return stat is None or stat.state in ("Z", "X")


def restart_kill(fault: FaultSession, targets: list[Target], argv: list[str],
                 sig: signal.Signals) -> str:
    """Stop the targets (``sig``, SIGKILL after a grace time); the restart command runs at the
    end of the fault, and the watchdog runs it when the controller dies before."""
    cwd = _cwd(targets[0].pid)
    fault.journal.add({"op": "spawn", "argv": argv, "cwd": cwd})
    for t in targets:
        send(t, sig)
    for t in wait_exit(targets):
        send(t, signal.SIGKILL)
    wait_exit(targets)
    return (f"sent {sig.name} to {', '.join(t.label for t in targets)}; "
            f"then restarts: {' '.join(argv)}")


def restart_now(fault: FaultSession) -> int:
    """Run the restart command at the fault's end; returns its PID."""
    step = next(s for s in fault.journal.undo if s["op"] == "spawn")
    proc = subprocess.Popen(step["argv"], cwd=step["cwd"], start_new_session=True,  # noqa: S603
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    fault.journal.drop(step)
    return proc.pid


def _cwd(pid: int) -> str | None:
    try:
        return str(Path(f"/proc/{pid}/cwd").readlink())
    except OSError:
        return None


def exhaust_fds(fault: FaultSession, targets: list[Target], headroom: int) -> str:
    """Lower each target's RLIMIT_NOFILE to what it has open (+ headroom)."""
    said = []
    for t in targets:
        try:
            in_use = sum(1 for _ in Path(f"/proc/{t.pid}/fd").iterdir())
            soft, hard = resource.prlimit(t.pid, resource.RLIMIT_NOFILE)
        except ProcessLookupError as exc:
            raise NoSuchProcess(t.pid) from exc
        except PermissionError as exc:
            raise AccessDenied(f"not allowed to change PID {t.pid}'s limits",
                               hint="run perflab as root (CAP_SYS_RESOURCE)") from exc
        limit = min(in_use + headroom, soft)
        fault.journal.add({"op": "rlimit", "pid": t.pid, "start_ticks": t.start_ticks,
                           "resource": "NOFILE", "soft": soft, "hard": hard})
        # the soft limit only: it is what open() meets, and raising it back needs no privilege
        # (a hard limit lowered cannot be raised again without CAP_SYS_RESOURCE)
        resource.prlimit(t.pid, resource.RLIMIT_NOFILE, (limit, hard))
        said.append(f"{t.label}: {in_use} open, soft limit {soft} -> {limit}")
    return "RLIMIT_NOFILE lowered (prlimit): " + "; ".join(said)
