"""py-spy backend: ``py-spy record --format raw`` (folded stacks with file:line frames)."""

from __future__ import annotations

import math
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from perflab.errors import AccessDenied, ToolMissing
from perflab.profile._capture import CaptureRequest, CaptureResult, find_tool
from perflab.profile._capture_perf import command_output, pid_alive, tool_failure
from perflab.profile._model import Profile, Sample, SampleType
from perflab.profile._text_formats import read_folded


def _argv(pyspy: str, req: CaptureRequest, out: Path) -> list[str]:
    t = req.target
    assert t is not None
    argv = [pyspy, "record", "--format", "raw", "-o", str(out), "--rate", str(req.rate_hz)]
    if req.duration_s is not None:
        argv += ["--duration", str(max(1, math.ceil(req.duration_s)))]
    if req.mode == "wall":
        argv.append("--idle")
    if req.native:
        argv.append("--native")
    if req.gil:
        argv.append("--gil")
    if req.subprocesses:
        argv.append("--subprocesses")
    if req.nonblocking:
        argv.append("--nonblocking")
    argv += ["--pid", str(t.pid)] if t.pid is not None else ["--", *t.command]
    return argv


def capture_pyspy(req: CaptureRequest) -> CaptureResult:
    pyspy = find_tool("py-spy")
    if pyspy is None:
        raise ToolMissing("py-spy", install="pip install py-spy")
    t = req.target
    assert t is not None
    with tempfile.TemporaryDirectory(prefix="perflab-pyspy-") as tmp:
        out = Path(tmp) / "pyspy.txt"
        start_ns, start = time.time_ns(), time.monotonic()
        stdout = command_output() if t.pid is None else subprocess.PIPE
        proc = subprocess.Popen(_argv(pyspy, req, out), stdout=stdout,
                                stderr=subprocess.PIPE, text=True,
                                start_new_session=t.pid is not None)
        interrupted = False
        try:
            while True:
                try:
                    _, stderr = proc.communicate(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    if req.stop is not None and req.stop.is_set():
                        proc.send_signal(signal.SIGINT)  # py-spy writes what it has
                        _, stderr = proc.communicate(timeout=60)
                        break
        except KeyboardInterrupt:
            interrupted = True
            proc.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
            _, stderr = proc.communicate(timeout=60)
        seconds = time.monotonic() - start
        if not out.exists():
            raise _explain(stderr, t.pid)
        raw = read_folded(out.read_text(errors="replace"), path="py-spy output")
    interval = round(1e9 / req.rate_hz)
    kind = "wall" if req.mode == "wall" else "cpu"
    prof = Profile(sample_types=[SampleType("samples", "count"), SampleType(kind, "nanoseconds")],
                   frames=raw.frames, period=interval,
                   period_type=SampleType(kind, "nanoseconds"), time_ns=start_ns,
                   duration_ns=round(seconds * 1e9), default_sample_type=kind,
                   main_module=t.exe)
    prof.samples = [Sample(s.stack, [s.values[0], s.values[0] * interval]) for s in raw.samples]
    prof.comments.append(f"perflab: py-spy record --rate {req.rate_hz}")
    notes = []
    exited = t.pid is not None and not pid_alive(t.pid) and (
        req.duration_s is None or seconds < req.duration_s - 0.5)
    if exited:
        notes.append(f"PID {t.pid} exited after {seconds:.1f}s; kept what was sampled")
    return CaptureResult(prof, "py-spy", "", notes, exited_early=exited, interrupted=interrupted)


def _explain(stderr: str, pid: int | None) -> Exception:
    low = stderr.lower()
    if "permission" in low or "not permitted" in low:
        return AccessDenied("py-spy may not read this process's memory (ptrace is restricted)",
                            hint="run as root (CAP_SYS_PTRACE), or set "
                                 "kernel.yama.ptrace_scope=0 for your own processes")
    return tool_failure("py-spy", stderr, pid,
                        hint="is it a Python process? py-spy supports CPython 2.3-3.12")
