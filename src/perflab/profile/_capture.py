"""Capturing a profile: the request, the backend ``auto`` picks (and why), the result.

    backend    modes            targets                     how
    perf       cpu              any process or command      perf record -e cpu-clock -g
    bpftrace   cpu wall offcpu  any process or command      profile:hz + sched_switch probes
    py-spy     cpu wall         Python                      py-spy record --format raw
    pprof      cpu (+ heap ...) Go service with pprof URL   GET /debug/pprof/profile?seconds=

``auto``: a pprof URL -> pprof; Python -> py-spy (it sees Python frames, perf sees only the
interpreter); off-CPU -> bpftrace; wall-clock -> py-spy for Python, else bpftrace; otherwise
perf, or bpftrace when perf is absent. Return probes are never used, so Go binaries are safe.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from perflab.errors import InvalidValue, ToolMissing
from perflab.profile._model import Profile
from perflab.profile._target import Target

BACKENDS = ("auto", "perf", "bpftrace", "py-spy", "pprof")
MODES = ("cpu", "wall", "offcpu")


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    target: Target | None  # None for --pprof URL
    duration_s: float | None
    rate_hz: int = 99
    mode: str = "cpu"
    backend: str = "auto"
    pprof_url: str | None = None
    call_graph: str = "auto"  # perf: auto (frame pointers, DWARF if they fail), fp, dwarf
    native: bool = False  # py-spy: native frames
    gil: bool = False  # py-spy: only samples holding the GIL
    subprocesses: bool = False  # py-spy: follow children
    nonblocking: bool = False  # py-spy: never pause the target
    # bpftrace off-CPU (offcpu, wall): stacks at 1 in N of the target's switch-outs, their
    # time counted N times (an estimate, cheaper for the target); 1: every switch, exact
    offcpu_sample: int = 1
    # set from another thread to end the capture early, keeping what was sampled
    stop: threading.Event | None = field(default=None, compare=False)


@dataclass(slots=True)
class CaptureResult:
    profile: Profile
    backend: str
    reason: str
    notes: list[str] = field(default_factory=list)
    extra_files: dict[str, Path] = field(default_factory=dict)  # pprof: heap, allocs ...
    extra_profiles: dict[str, Profile] = field(default_factory=dict)
    exited_early: bool = False
    interrupted: bool = False
    call_graph: str = ""  # perf: the unwinding it used in the end ("fp" or "dwarf")


def find_tool(name: str) -> str | None:
    """A tool on PATH, or installed beside this Python (py-spy comes from pip into a venv)."""
    found = shutil.which(name)
    if found is None:
        beside = Path(sys.executable).parent / name
        if beside.is_file() and os.access(beside, os.X_OK):
            found = str(beside)
    return found


def choose_backend(req: CaptureRequest) -> tuple[str, str]:
    """(backend, reason) for ``auto``; checks an explicit choice fits the mode."""
    t = req.target
    lang = t.language if t is not None else "go"
    if req.backend != "auto":
        _check_fits(req.backend, req.mode, lang, req)
        return req.backend, "chosen with --backend"
    if req.pprof_url:
        return "pprof", "a pprof URL was given: Go's own profiler, over HTTP"
    if req.mode == "offcpu":
        return "bpftrace", "off-CPU time comes from the scheduler's sched_switch tracepoint"
    if lang == "python" and find_tool("py-spy"):
        why = "a Python process: py-spy reads the interpreter's Python frames"
        if req.mode == "wall":
            why += " (--idle for wall-clock time)"
        return "py-spy", why
    if req.mode == "wall":
        return "bpftrace", "wall-clock time = on-CPU samples + off-CPU time, from bpftrace"
    if find_tool("perf"):
        why = "perf's cpu-clock sampling with call graphs"
        if lang == "go":
            why += " (Go keeps frame pointers; use --pprof URL for Go's own view)"
        elif lang == "python":
            why += " (py-spy is not installed: only interpreter frames will show)"
        return "perf", why
    if find_tool("bpftrace"):
        return "bpftrace", "perf is not installed; bpftrace's profile probe samples stacks"
    raise ToolMissing("perf", install="apt-get install linux-perf (or bpftrace)")


def check_backend_mode(backend: str, mode: str) -> None:
    """Combinations no target can make work (checked before looking at the target)."""
    if backend not in BACKENDS:
        raise InvalidValue(f"unknown backend {backend!r}", hint="one of: " + ", ".join(BACKENDS))
    if mode not in MODES:
        raise InvalidValue(f"unknown mode {mode!r}", hint="one of: " + ", ".join(MODES))
    if backend == "perf" and mode != "cpu":
        raise InvalidValue(f"perf samples on-CPU time only; --mode {mode} needs bpftrace",
                           hint=f"--backend bpftrace --mode {mode}")
    if backend == "py-spy" and mode == "offcpu":
        raise InvalidValue("py-spy has no off-CPU mode", hint="use --mode wall (py-spy --idle) "
                                                              "or --backend bpftrace")
    if backend == "pprof" and mode != "cpu":
        raise InvalidValue("Go's pprof endpoint profiles CPU time only",
                           hint="heap, goroutine, mutex and block come with every --pprof capture")


def _check_fits(backend: str, mode: str, lang: str, req: CaptureRequest) -> None:
    check_backend_mode(backend, mode)
    if backend == "py-spy" and lang != "python":
        raise InvalidValue("py-spy profiles Python processes only",
                           hint="use --backend perf for native code")
    if backend == "pprof" and not req.pprof_url:
        raise InvalidValue("--backend pprof needs --pprof URL",
                           hint="--pprof http://host:port (the server imports net/http/pprof)")


def capture(req: CaptureRequest) -> CaptureResult:
    backend, reason = choose_backend(req)
    if backend == "pprof":
        from perflab.profile._capture_go import capture_pprof  # noqa: PLC0415

        result = capture_pprof(req)
    elif backend == "perf":
        from perflab.profile._capture_perf import capture_perf  # noqa: PLC0415

        result = capture_perf(req)
    elif backend == "py-spy":
        from perflab.profile._capture_pyspy import capture_pyspy  # noqa: PLC0415

        result = capture_pyspy(req)
    else:
        from perflab.profile._capture_bpf import capture_bpftrace  # noqa: PLC0415

        result = capture_bpftrace(req)
    result.backend, result.reason = backend, reason
    return result
