"""perf backend: ``perf record -e cpu-clock -F RATE --call-graph fp|dwarf``, then
``perf script`` parsed into the profile model.

Frame pointers first (cheap); when most stacks come back one or two user frames deep the
binary was built without them, and a live target is recorded again with DWARF unwinding.
The recording stops at the duration, when the target exits (what was sampled is kept), or
on Ctrl-C.
"""

from __future__ import annotations

import io
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from perflab.errors import AccessDenied, NoSuchProcess, TargetError, ToolMissing
from perflab.profile._capture import CaptureRequest, CaptureResult
from perflab.profile._model import Frame, Profile, Sample, SampleType
from perflab.profile._text_formats import read_perf_script

DWARF = "dwarf,16384"


def command_output() -> int:
    """Where a profiled command's own output goes: our stderr, seen and never mixed into
    --json (stdout); the null device when stderr is not a file (captured in tests)."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None:
                return stream.fileno()
        except (OSError, ValueError, io.UnsupportedOperation):
            continue
    return subprocess.DEVNULL


def pid_alive(pid: int) -> bool:
    """Whether the process still runs: /proc has it, and not as a zombie (a zombie has nothing
    left to profile). The captures read the target's /proc entries anyway (its maps, its
    executable), so /proc alone decides; a PID beyond any pid_max is simply not there."""
    try:
        with Path(f"/proc/{pid}/stat").open() as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def explain_failure(stderr: str, pid: int | None) -> Exception:
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
    return tool_failure("perf record", stderr, pid,
                        hint="try --backend bpftrace, or check `perf record -e cpu-clock true`")


def tool_failure(tool: str, stderr: str, pid: int | None, *, hint: str) -> Exception:
    """A profiler's failure that is not a matter of privilege: the target gone, else the first
    line the tool printed."""
    if pid is not None and ("no such process" in stderr.lower() or not pid_alive(pid)):
        return NoSuchProcess(pid)
    line = next((ln for ln in stderr.splitlines() if ln.strip()), "no output")
    return TargetError(f"{tool} failed: {line.strip()}", hint=hint)


def _record(perf: str, req: CaptureRequest, data: Path,
            call_graph: str) -> tuple[bool, bool, float]:
    """Run perf record; returns (target exited early, interrupted, seconds recorded)."""
    t = req.target
    assert t is not None
    argv = [perf, "record", "-e", "cpu-clock", "-F", str(req.rate_hz), "--call-graph",
            call_graph, "-o", str(data), "--quiet"]
    argv += ["-p", str(t.pid)] if t.pid is not None else ["--", *t.command]
    start = time.monotonic()
    out = command_output() if t.pid is None else subprocess.DEVNULL
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE,
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
        raise explain_failure(stderr, t.pid)
    if t.pid is None and req.duration_s is not None and seconds < req.duration_s:
        exited = False  # a command that finished is not an early exit
    return exited, interrupted, seconds


def script_text(perf: str, data: Path) -> str:
    out = subprocess.run([perf, "script", "-i", str(data), "-F",
                          "comm,pid,tid,time,period,event,ip,sym,dso"],
                         capture_output=True, text=True, errors="replace", check=False,
                         timeout=600)
    if out.returncode != 0 and not out.stdout:
        raise TargetError(f"perf script failed: {out.stderr.strip()[:200]}",
                          hint="the perf.data file may be damaged")
    return out.stdout


def to_profile(text: str, req: CaptureRequest, seconds: float, start_ns: int) -> Profile:
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
        # user frames in a known module: a frame-pointer walk through code without frame
        # pointers yields the leaf and then garbage addresses that belong to no module
        n = sum(1 for i in s.stack
                if (prof.frames[i].function or prof.frames[i].module)
                and "kernel" not in prof.frames[i].module)
        depths.extend([n] * min(s.values[0], 1000))
    return statistics.median(depths) if depths else 0.0


def read_maps(pid: int) -> list[tuple[int, int, int, str]]:
    """(start, end, file offset, path) of the file-backed mappings of a process."""
    out: list[tuple[int, int, int, str]] = []
    try:
        text = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        f = line.split(None, 5)
        if len(f) == 6 and f[5].startswith("/"):
            start, end = (int(x, 16) for x in f[0].split("-"))
            out.append((start, end, int(f[2], 16), f[5]))
    return out


def to_file_offsets(prof: Profile, maps: list[tuple[int, int, int, str]]) -> int:
    """Unsymbolised frames of a stripped binary: turn their virtual address into the offset in
    their file (what addr2line and objdump take), so they read ``module+0xOFFSET``.
    Returns how many frames were converted."""
    converted = 0
    for i, f in enumerate(prof.frames):
        if f.function or not f.address or "kernel" in f.module:
            continue
        for start, end, off, path in maps:
            # a frame without a module (bpftrace's "[unknown]") takes the mapping's file
            if (path == f.module or not f.module) and start <= f.address < end:
                prof.replace_frame(i, Frame("", file=f.file, line=f.line, module=path,
                                            address=f.address - start + off,
                                            inlined=f.inlined))
                converted += 1
                break
    return converted


def stripped_note(prof: Profile) -> list[str]:
    mods = sorted({f.module.rsplit("/", 1)[-1] for f in prof.frames
                   if not f.function and f.module and "kernel" not in f.module})
    if not mods:
        return []
    return [(f"no symbols for frames in {', '.join(mods[:3])} (stripped?): they show "
            "module+0xOFFSET, the offset in the file (addr2line -f -e MODULE OFFSET)")]


def capture_perf(req: CaptureRequest) -> CaptureResult:
    perf = shutil.which("perf")
    if perf is None:
        raise ToolMissing("perf", install="apt-get install linux-perf")
    t = req.target
    assert t is not None
    notes: list[str] = []
    maps = read_maps(t.pid) if t.pid is not None else []
    with tempfile.TemporaryDirectory(prefix="perflab-perf-") as tmp:
        data = Path(tmp) / "perf.data"
        start_ns = time.time_ns()
        cg = DWARF if req.call_graph == "dwarf" else "fp"
        exited, interrupted, seconds = _record(perf, req, data, cg)
        prof = to_profile(script_text(perf, data), req, seconds, start_ns)
        if (req.call_graph == "auto" and not exited and not interrupted and t.pid is not None
                and prof.total(0) >= 20 and user_depth_median(prof) <= 2
                and pid_alive(t.pid)):
            notes.append("frame-pointer stacks were at most 2 user frames deep (the binary "
                         "omits frame pointers): recorded again with DWARF unwinding")
            data2 = Path(tmp) / "perf-dwarf.data"
            cg = DWARF
            start_ns = time.time_ns()
            exited, interrupted, seconds = _record(perf, req, data2, cg)
            prof = to_profile(script_text(perf, data2), req, seconds, start_ns)
        elif req.call_graph == "auto" and t.pid is None and prof.total(0) >= 20 \
                and user_depth_median(prof) <= 2:
            notes.append("stacks are shallow: the program may omit frame pointers; try "
                         "--call-graph dwarf")
    if exited:
        notes.append(f"PID {t.pid} exited after {seconds:.1f}s; kept what was sampled")
    # perf already prints file offsets for unsymbolised frames; this catches the rest
    to_file_offsets(prof, maps)
    notes += stripped_note(prof)
    return CaptureResult(prof, "perf", "", notes, exited_early=exited, interrupted=interrupted,
                         call_graph="dwarf" if cg == DWARF else "fp")
