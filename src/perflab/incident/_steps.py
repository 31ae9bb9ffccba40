"""Running capture steps: each a command in its own process group, with its own timeout.

What touches a target (``/proc`` of a suspect, py-spy, perf, a pprof endpoint) runs as a
``perflab`` subcommand in a child process: a hung target or a hung tool costs that step its
timeout and nothing else, because the whole process group is killed then (py-spy and perf are
grandchildren). Output is kept up to a bound; what a step printed before it failed is kept.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# What one step's output may take in the store: a bounded evidence bundle.
MAX_OUTPUT_BYTES = 8 * 1024 * 1024
_KILL_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class Step:
    """One command to run: ``argv`` (a ``perflab`` subcommand when ``perflab`` is True, a
    shell command line otherwise), within ``timeout_s``; ``files`` it writes are kept too."""

    name: str
    argv: tuple[str, ...]
    timeout_s: float
    perflab: bool = True
    files: tuple[str, ...] = ()
    ok_codes: tuple[int, ...] = (0,)  # a check that found something exits 1 and is still ok
    env: tuple[tuple[str, str], ...] = ()  # set for the step (a runbook's: the store)
    nice: int = 0  # run at this niceness (with the tools it starts): the target keeps the CPU


@dataclass(slots=True)
class StepResult:
    step: Step
    status: str  # ok, failed, timeout, skipped
    exit_code: int | None
    duration_s: float
    stdout: bytes
    stderr: bytes
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The step's last line on stderr (its one-line error), or why it did not finish."""
        if self.status == "timeout":
            return f"no answer within {self.step.timeout_s:g} s: stopped"
        if self.status == "skipped":
            return self.stderr.decode(errors="replace")
        lines = [ln for ln in self.stderr.decode(errors="replace").splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("perflab: error:")]
        return (errors or lines or [""])[-1][:500]


def command_line(step: Step) -> list[str]:
    argv = ([sys.executable, "-m", "perflab", *step.argv] if step.perflab
            else ["/bin/sh", "-c", " ".join(step.argv)])
    if not step.nice:
        return argv
    # A step is a session of its own, and under autogroup scheduling (CONFIG_SCHED_AUTOGROUP,
    # on by default in most distributions' kernels) the CPU is shared between sessions first: a
    # process's nice value only ranks it inside its session. So the session's nice is set
    # (/proc/self/autogroup; best effort, an unprivileged write can be refused), then the
    # step's own with coreutils' nice (not a preexec_fn: steps start from threads), before the
    # step runs, so every tool it starts (py-spy, bpftrace) has both.
    # coreutils' nice adds to the niceness the step inherits (`incident open` runs niced
    # itself): the step gets step.nice, not the sum
    nice = shutil.which("nice")
    more = max(0, step.nice - os.getpriority(os.PRIO_PROCESS, 0))
    run = f'exec {shlex.quote(nice)} -n {more} "$@"' if nice else 'exec "$@"'
    return ["/bin/sh", "-c", f'echo "$0" > /proc/self/autogroup 2>/dev/null; {run}',
            str(step.nice), *argv]


def run_step(step: Step, *, cancelled: threading.Event | None = None) -> StepResult:
    """Run one step to its end, its timeout, or ``cancelled`` (then it counts as skipped)."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(  # noqa: S603  # our own interpreter, or the runbook's shell
            command_line(step), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
            env={**os.environ, **dict(step.env)} if step.env else None)
    except OSError as exc:
        return StepResult(step, "failed", None, 0.0, b"", str(exc).encode())
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)]
    for r in readers:
        r.start()
    deadline = started + step.timeout_s
    status = ""
    while proc.poll() is None:
        if time.monotonic() >= deadline:
            status = "timeout"
            break
        if cancelled is not None and cancelled.is_set():
            status = "skipped"
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)
    if proc.returncode is None:
        _kill_group(proc)
    for r in readers:
        r.join(timeout=_KILL_GRACE_S)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    code = proc.returncode
    if not status:
        status = "ok" if code in step.ok_codes else "failed"
    files = {p: _read_bounded(p) for p in step.files if Path(p).exists()}
    stderr = b"".join(err) if status != "skipped" else b"stopped: the capture was cancelled"
    return StepResult(step, status, code, time.monotonic() - started, b"".join(out), stderr,
                      files)


def run_steps(steps: Sequence[Step], *, parallel: int,
              on_done: Callable[[StepResult], bool]) -> None:
    """Run steps, ``parallel`` at a time; ``on_done`` gets each result as it comes (in the
    calling thread) and returns False to cancel the rest (a full disk)."""
    cancelled = threading.Event()
    pending = list(steps)
    running: dict[threading.Thread, list[StepResult]] = {}
    while pending or running:
        while pending and len(running) < parallel and not cancelled.is_set():
            step = pending.pop(0)
            box: list[StepResult] = []
            t = threading.Thread(target=lambda s=step, b=box: b.append(
                run_step(s, cancelled=cancelled)), daemon=True)
            t.start()
            running[t] = box
        if cancelled.is_set():
            for step in pending:
                on_done(StepResult(step, "skipped", None, 0.0, b"",
                                   b"not run: the capture was cancelled"))
            pending = []
        for t in [t for t in running if not t.is_alive()]:
            box = running.pop(t)
            t.join()
            if box and not on_done(box[0]):
                cancelled.set()
        if running:
            next(iter(running)).join(timeout=0.05)


def _drain(pipe: object, sink: list[bytes]) -> None:
    """Read a pipe to its end, keeping at most MAX_OUTPUT_BYTES (the rest is read and
    dropped, so the child never blocks on a full pipe)."""
    kept = 0
    read = getattr(pipe, "read", None)
    if read is None:
        return
    try:
        while chunk := read(65536):
            if kept < MAX_OUTPUT_BYTES:
                sink.append(chunk[:MAX_OUTPUT_BYTES - kept])
                kept += len(sink[-1])
    except (OSError, ValueError):
        return  # closed under us: a grandchild kept the pipe open past the step's end


def _read_bounded(path: str) -> bytes:
    with Path(path).open("rb") as f:
        return f.read(MAX_OUTPUT_BYTES)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """TERM the step's process group, then KILL it; reap the child."""
    for sig, wait_s in ((signal.SIGTERM, _KILL_GRACE_S), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
            return
