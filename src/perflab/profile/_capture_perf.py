"""perf backend: ``perf record -e cpu-clock -F RATE --call-graph fp|dwarf``, then
``perf script`` parsed into the profile model.

Frame pointers first (cheap); when most stacks come back one or two user frames deep the
binary was built without them, and a live target is recorded again with DWARF unwinding.
The recording stops at the duration, when the target exits (what was sampled is kept), or
on Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from perflab.errors import AccessDenied, NoSuchProcess, TargetError, ToolMissing
from perflab.profile._capture import CaptureRequest, CaptureResult
from perflab.profile._model import Profile, Sample, SampleType
from perflab.profile._text_formats import read_perf_script

DWARF = "dwarf,16384"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for profiling purposes
    try:
        with Path(f"/proc/{pid}/stat").open() as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _explain(stderr: str, pid: int | None) -> Exception:
    low = stderr.lower()
    if "perf_event_paranoid" in low or "permission" in low or "not permitted" in low:
        try:
            paranoid = Path("/proc/sys/kernel/perf_event_paranoid").read_text().strip()
        except OSError:
            paranoid = "?"
        return AccessDenied(
            f"perf may not sample this process (kernel.perf_event_paranoid={paranoid}, "
            f"not root)",
            hint="run as root, or grant CAP_PERFMON to perf, or "
                 "sudo sysctl kernel.perf_event_paranoid=1 (own processes only)")
    if pid is not None and ("no such process" in low or not pid_alive(pid)):
        return NoSuchProcess(pid)
    line = next((ln for ln in stderr.splitlines() if ln.strip()), "no output")
    return TargetError(f"perf record failed: {line.strip()}",
                       hint="try --backend bpftrace, or check `perf record -e cpu-clock true`")


def _record(perf: str, req: CaptureRequest, data: Path,
            call_graph: str) -> tuple[bool, bool, float]:
    """Run perf record; returns (target exited early, interrupted, seconds recorded)."""
    t = req.target
    assert t is not None
    argv = [perf, "record", "-e", "cpu-clock", "-F", str(req.rate_hz), "--call-graph",
            call_graph, "-o", str(data), "--quiet"]
    argv += ["-p", str(t.pid)] if t.pid is not None else ["--", *t.command]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=t.pid is not None)
    exited = interrupted = False
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - start
            if req.duration_s is not None and elapsed >= req.duration_s:
                break
            if t.pid is not None and not pid_alive(t.pid):
                exited = True
                break
            if req.stop is not None and req.stop.is_set():
                break
            time.sleep(0.05)
    except KeyboardInterrupt:
        interrupted = True
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # perf writes what it has and exits
    elif t.pid is not None and not interrupted and not pid_alive(t.pid):
        exited = True  # perf stopped by itself because its target went away
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    seconds = time.monotonic() - start
    if not data.exists() or data.stat().st_size == 0:
        raise _explain(stderr, t.pid)
    if t.pid is None and req.duration_s is not None and seconds < req.duration_s:
        exited = False  # a command that finished is not an early exit
    return exited, interrupted, seconds


def _script(perf: str, data: Path) -> str:
    out = subprocess.run([perf, "script", "-i", str(data), "-F",
                          "comm,pid,tid,time,period,event,ip,sym,dso"],
                         capture_output=True, text=True, errors="replace", check=False,
                         timeout=600)
    if out.returncode != 0 and not out.stdout:
        raise TargetError(f"perf script failed: {out.stderr.strip()[:200]}",
                          hint="the perf.data file may be damaged")
    return out.stdout


def _to_profile(text: str, req: CaptureRequest, seconds: float, start_ns: int) -> Profile:
    raw = read_perf_script(text, path="perf script") if text.strip() else Profile(
        sample_types=[SampleType("samples", "count")])
    period = raw.period or round(1e9 / req.rate_hz)
    prof = Profile(sample_types=[SampleType("samples", "count"), SampleType("cpu", "nanoseconds")],
                   frames=raw.frames, period=period,
                   period_type=SampleType("cpu", "nanoseconds"), time_ns=start_ns,
                   duration_ns=round(seconds * 1e9), default_sample_type="cpu",
                   main_module=req.target.exe if req.target else "")
    prof.samples = [Sample(s.stack, [s.values[0], s.values[0] * period], s.labels)
                    for s in raw.samples]
    prof.comments.append(f"perflab: perf record -e cpu-clock -F {req.rate_hz}")
    return prof


def user_depth_median(prof: Profile) -> float:
    depths = []
    for s in prof.samples:
        # symbolised user frames: a frame-pointer walk through code without frame pointers
        # yields the leaf and then garbage addresses
        n = sum(1 for i in s.stack
                if prof.frames[i].function and "kernel" not in prof.frames[i].module)
        depths.extend([n] * min(s.values[0], 1000))
    return statistics.median(depths) if depths else 0.0


def capture_perf(req: CaptureRequest) -> CaptureResult:
    perf = shutil.which("perf")
    if perf is None:
        raise ToolMissing("perf", install="apt-get install linux-perf")
    t = req.target
    assert t is not None
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="perflab-perf-") as tmp:
        data = Path(tmp) / "perf.data"
        start_ns = time.time_ns()
        cg = DWARF if req.call_graph == "dwarf" else "fp"
        exited, interrupted, seconds = _record(perf, req, data, cg)
        prof = _to_profile(_script(perf, data), req, seconds, start_ns)
        if (req.call_graph == "auto" and not exited and not interrupted and t.pid is not None
                and prof.total(0) >= 20 and user_depth_median(prof) <= 2
                and pid_alive(t.pid)):
            notes.append("frame-pointer stacks were at most 2 user frames deep (the binary "
                         "omits frame pointers): recorded again with DWARF unwinding")
            data2 = Path(tmp) / "perf-dwarf.data"
            start_ns = time.time_ns()
            exited, interrupted, seconds = _record(perf, req, data2, DWARF)
            prof = _to_profile(_script(perf, data2), req, seconds, start_ns)
        elif req.call_graph == "auto" and t.pid is None and prof.total(0) >= 20 \
                and user_depth_median(prof) <= 2:
            notes.append("stacks are shallow: the program may omit frame pointers; try "
                         "--call-graph dwarf")
    if exited:
        notes.append(f"PID {t.pid} exited after {seconds:.1f}s; kept what was sampled")
    return CaptureResult(prof, "perf", "", notes, exited_early=exited, interrupted=interrupted)
