"""bpftrace backend: on-CPU stacks from a ``profile:hz`` probe, off-CPU time from the
``sched:sched_switch`` tracepoint, wall-clock time as both together.

The off-CPU probe runs in the target's own context switch path, so the target pays for the
stacks it takes there (a kernel and a user stack, a few microseconds). With
``offcpu_sample`` N > 1 it takes them at one switch-out in N, chosen at random, and charges
each sampled interval N times: an estimate, like a sampling profiler's, said in the profile's
comments and the capture's notes; the other switch-outs cost a random number and a branch.

Only the profile probe and a tracepoint are used, never uprobes or uretprobes, so any binary
(Go included) is safe. User frames are symbolised by bpftrace when it prints its maps; a
target that has exited by then keeps its addresses (module+offset where known).
"""

from __future__ import annotations

import time

from perflab.ebpf import run_bpftrace, split_key
from perflab.errors import InvalidValue
from perflab.profile._capture import CaptureRequest, CaptureResult
from perflab.profile._capture_perf import pid_alive, read_maps, stripped_note, to_file_offsets
from perflab.profile._model import Frame, Profile, Sample, SampleType
from perflab.profile._stackline import parse_frame

MAX_OFFCPU_SAMPLE = 1000  # sparser, a capture of seconds would keep too few stacks to say much

_ON_CPU = """
profile:hz:{rate} /pid == {target}/ {{ @on[ustack(perf, 127), kstack(perf, 127)] = count(); }}
"""
# on switch-out remember when and where a thread of the target stopped; on switch-in charge
# the time it was off-CPU to those stacks ({sampled}: only some switch-outs, see above)
_OFF_CPU = """
tracepoint:sched:sched_switch
{{
  if (pid == {target}{sampled}) {{
    @start[tid] = nsecs;
    @ks[tid] = kstack(perf, 127);
    @us[tid] = ustack(perf, 127);
  }}
  $n = args->next_pid;
  $t = @start[$n];
  if ($t != 0) {{
    @off[@us[$n], @ks[$n]] = sum(nsecs - $t);
    delete(@start[$n]);
  }}
}}
"""
# the bookkeeping maps are not results: clear them so bpftrace does not print them
_END_OFF_CPU = "END { clear(@start); clear(@ks); clear(@us); }"


def program(req: CaptureRequest) -> str:
    t = req.target
    assert t is not None
    target = str(t.pid) if t.pid is not None else "cpid"
    parts = []
    if req.mode in ("cpu", "wall"):
        if not 1 <= req.rate_hz <= 10_000:
            raise InvalidValue(f"--rate {req.rate_hz} is out of range", hint="1 to 10000 Hz")
        parts.append(_ON_CPU.format(rate=req.rate_hz, target=target))
    if req.mode in ("offcpu", "wall"):
        if not 1 <= req.offcpu_sample <= MAX_OFFCPU_SAMPLE:
            raise InvalidValue(f"--offcpu-sample {req.offcpu_sample} is out of range",
                               hint=f"1 (every switch) to {MAX_OFFCPU_SAMPLE}")
        # rand: a random share, so no periodic pattern of switches is always missed
        sampled = f" && rand % {req.offcpu_sample} == 0" if req.offcpu_sample > 1 else ""
        parts.append(_OFF_CPU.format(target=target, sampled=sampled))
    stops = []
    if req.duration_s is not None:
        ms = max(1, round(req.duration_s * 1000))
        stops.append(f"interval:ms:{ms} {{ exit(); }}")
    if t.pid is not None:
        # the target's main thread exiting ends the capture early, keeping what was sampled
        stops.append(f'tracepoint:sched:sched_process_exit /pid == {t.pid} && tid == {t.pid}/ '
                     '{ printf("target-exited\\n"); exit(); }')
    parts += stops
    if req.mode in ("offcpu", "wall"):
        parts.append(_END_OFF_CPU)
    return "\n".join(parts) + "\n"


def sampled_note(n: int) -> str:
    """What a profile whose off-CPU stacks were sampled at 1 in ``n`` switch-outs holds."""
    return (f"off-CPU time is an estimate: stacks were taken at 1 in {n} of the target's "
            f"switch-outs (chosen at random) and each sampled interval counted {n} times")


def _stack(key: str, cache: dict[str, Frame]) -> list[Frame]:
    parts = split_key(key)
    user = parts[0] if parts else []
    kernel = parts[1] if len(parts) > 1 else []
    frames = []
    for line in kernel:
        f = cache.get("k" + line)
        if f is None:
            parsed = parse_frame(line)
            if parsed is None:
                continue
            f = cache["k" + line] = Frame(parsed.function, module="[kernel.kallsyms]",
                                          address=parsed.address)
        frames.append(f)
    for line in user:
        f = cache.get(line)
        if f is None:
            parsed = parse_frame(line)
            if parsed is None:
                continue
            f = cache[line] = parsed
        frames.append(f)
    return frames


def capture_bpftrace(req: CaptureRequest) -> CaptureResult:
    t = req.target
    assert t is not None
    kind = {"cpu": "cpu", "wall": "wall", "offcpu": "offcpu"}[req.mode]
    maps = read_maps(t.pid) if t.pid is not None else []
    start_ns, start = time.time_ns(), time.monotonic()
    out = run_bpftrace(program(req), what=f"{kind} profile (bpftrace)",
                       duration_s=req.duration_s,
                       command=list(t.command) if t.pid is None else None, stop=req.stop)
    seconds = time.monotonic() - start
    interval = round(1e9 / req.rate_hz)
    prof = Profile(sample_types=[SampleType("samples", "count"), SampleType(kind, "nanoseconds")],
                   period=interval, period_type=SampleType(kind, "nanoseconds"),
                   time_ns=start_ns, duration_ns=round(seconds * 1e9), default_sample_type=kind,
                   main_module=t.exe)
    cache: dict[str, Frame] = {}
    for key, count in (out.maps.get("@on") or {}).items():
        stack = [prof.intern(f) for f in _stack(key, cache)]
        prof.samples.append(Sample(tuple(stack), [int(count), int(count) * interval],
                                   {"state": "on-cpu"} if req.mode == "wall" else {}))
    scale = req.offcpu_sample if req.mode in ("offcpu", "wall") else 1
    for key, ns in (out.maps.get("@off") or {}).items():
        stack = [prof.intern(f) for f in _stack(key, cache)]
        prof.samples.append(Sample(tuple(stack), [0, int(ns) * scale], {"state": "off-cpu"}))
    prof.comments.append(f"perflab: bpftrace {kind} profile")
    notes = list(out.notes)
    if scale > 1:
        estimate = sampled_note(scale)
        prof.comments.append(f"perflab: {estimate}")
        notes.append(estimate)
    to_file_offsets(prof, maps)  # bpftrace prints virtual addresses
    notes += stripped_note(prof)
    exited = "target-exited" in "".join(out.printed) or (
        t.pid is not None and not pid_alive(t.pid))
    if exited and t.pid is not None:
        notes.append(f"PID {t.pid} exited after {seconds:.1f}s; kept what was sampled "
                     "(user frames of an exited process cannot be symbolised)")
    return CaptureResult(prof, "bpftrace", "", notes, exited_early=exited and t.pid is not None,
                         interrupted=out.interrupted)
