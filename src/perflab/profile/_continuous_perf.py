"""Continuous perf without gaps: one ``perf record --switch-output`` for the whole recording.

Restarting ``perf record`` for every slice loses the 0.1-0.3 s it takes to stop, write and
attach again. Instead perf runs once, and at every slice boundary perflab sends it SIGUSR2:
perf closes the current ``perf.data`` (renamed ``perf.data.<timestamp>``) and goes on
sampling into a fresh one. The time of each signal is a slice boundary, so consecutive slices
share their edges and every sample lands in exactly one of them.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from perflab.errors import ToolMissing
from perflab.profile._capture import CaptureRequest
from perflab.profile._capture_perf import (
    DWARF,
    explain_failure,
    pid_alive,
    script_text,
    to_profile,
)
from perflab.profile._model import Profile

SliceHandler = Callable[[int, int, Profile], None]  # (start_ns, end_ns, profile)
_POLL_S = 0.05


@dataclass
class RotationEnd:
    """How a rotating recording ended."""

    slices: int = 0
    exited: bool = False  # the target exited (what it sampled was kept)
    notes: list[str] = field(default_factory=list)


def record_rotating(req: CaptureRequest, *, slice_s: float, on_slice: SliceHandler,
                    stop: threading.Event) -> RotationEnd:
    """Sample ``req.target`` with perf until ``stop`` is set or the target exits, handing
    ``on_slice`` one profile per ``slice_s`` as each closes. ``req.call_graph`` is ``fp`` or
    ``dwarf`` (the choice the first, classic capture made)."""
    perf = shutil.which("perf")
    if perf is None:
        raise ToolMissing("perf", install="apt-get install linux-perf")
    pid = req.target.pid if req.target is not None else None
    assert pid is not None, "continuous profiling is of a running process"
    call_graph = DWARF if req.call_graph == "dwarf" else "fp"
    with tempfile.TemporaryDirectory(prefix="perflab-perf-") as tmp, _Control() as control:
        rot = _Rotation(perf, req, Path(tmp), on_slice)
        argv = [perf, "record", "-e", "cpu-clock", "-F", str(req.rate_hz), "--call-graph",
                call_graph, "-o", str(rot.directory / "perf.data"), "--quiet",
                "--switch-output", *control.argv, "-p", str(pid)]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True, pass_fds=control.perf_fds)
        control.close_perf_ends()
        control.enable(proc, stop)
        rot.bounds.append(time.time_ns())
        # closed files are read on a thread of their own: `perf script` of a DWARF slice can
        # take seconds, and the boundaries must keep their time
        reading = threading.Thread(target=rot.hand_over_until, args=(proc,),
                                   name=f"perf-slices-{pid}", daemon=True)
        reading.start()
        next_switch = time.monotonic() + slice_s
        while proc.poll() is None:
            if stop.is_set():
                break
            if not pid_alive(pid):
                rot.end.exited = True
                break
            if time.monotonic() >= next_switch:
                rot.bounds.append(time.time_ns())
                proc.send_signal(signal.SIGUSR2)
                next_switch += slice_s
            time.sleep(_POLL_S)
        rot.bounds.append(time.time_ns())
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # perf closes the last file and exits
        elif not stop.is_set() and not pid_alive(pid):
            rot.end.exited = True
        try:
            _, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
        reading.join()  # it reads what perf closed last, then ends with perf
        if rot.error is not None:
            raise rot.error
        if not rot.end.slices:
            raise explain_failure(stderr, pid)
    return rot.end


class _Control:
    """perf's control pipes. perf starts with its events off (``-D -1``) and turns them on
    when told: its acknowledgement is the moment sampling begins, the first window's start.
    Starting perf (symbols, the target's maps) takes up to seconds on a busy machine; a
    window opened at its launch would hold that time without a sample. The pipes stay open
    while perf runs: it reads the end of its command pipe as a command to stop."""

    def __init__(self) -> None:
        self._ctl_r, self._ctl_w = os.pipe()
        self._ack_r, self._ack_w = os.pipe()
        self._open = {self._ctl_r, self._ctl_w, self._ack_r, self._ack_w}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self._open:
            os.close(fd)
        self._open.clear()

    @property
    def argv(self) -> list[str]:
        return ["-D", "-1", "--control", f"fd:{self._ctl_r},{self._ack_w}"]

    @property
    def perf_fds(self) -> tuple[int, int]:
        return self._ctl_r, self._ack_w

    def close_perf_ends(self) -> None:
        """perf holds its own copies now; ours would keep its acknowledgements from ending."""
        for fd in self.perf_fds:
            os.close(fd)
            self._open.discard(fd)

    def enable(self, proc: subprocess.Popen[str], stop: threading.Event) -> None:
        """Turn sampling on and wait for perf's acknowledgement. Returns early when perf
        exits (the caller reports why) or ``stop`` is set."""
        os.write(self._ctl_w, b"enable\n")
        answer = b""
        while b"ack" not in answer and proc.poll() is None and not stop.is_set():
            ready, _, _ = select.select([self._ack_r], [], [], _POLL_S)
            if ready:
                chunk = os.read(self._ack_r, 64)
                if not chunk:  # perf closed its end: it is exiting
                    return
                answer += chunk


@dataclass
class _Rotation:
    """The files of one rotating recording and the windows they cover."""

    perf: str
    req: CaptureRequest
    directory: Path
    on_slice: SliceHandler
    bounds: list[int] = field(default_factory=list)  # bounds[i], bounds[i + 1]: file i's window
    end: RotationEnd = field(default_factory=RotationEnd)
    error: Exception | None = None

    def hand_over_until(self, proc: subprocess.Popen[str]) -> None:
        """Hand over closed files while perf runs, then the last ones it closed. A failure
        (a slice that cannot be read or stored) ends the handing over and is kept for the
        caller, who raises it."""
        try:
            while proc.poll() is None:
                self.hand_over()
                time.sleep(_POLL_S)
            self.hand_over()
        except Exception as err:  # re-raised on the caller's thread
            self.error = err

    def hand_over(self) -> None:
        """Each file perf has closed since the last call, as a profile of its window. Files
        are named by the time they closed, so their order is the order of the windows."""
        # a file is removed once read, so what the directory holds is what is new
        for path in sorted(self.directory.glob("perf.data.*")):
            index = self.end.slices
            if index + 1 >= len(self.bounds):  # closed by perf ahead of a boundary we know
                start_ns, end_ns = self.bounds[-1], time.time_ns()
            else:
                start_ns, end_ns = self.bounds[index], self.bounds[index + 1]
            text = script_text(self.perf, path)
            path.unlink()  # a long recording must not fill /tmp
            seconds = (end_ns - start_ns) / 1e9
            self.on_slice(start_ns, end_ns, to_profile(text, self.req, seconds, start_ns))
            self.end.slices += 1
