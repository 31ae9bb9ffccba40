"""The eBPF tools: each generates a bpftrace program, runs it for a duration and turns its
maps and events into a result with a terminal rendering and a JSON form.

    syscalls    counts, errors and latency per system call (raw_syscalls tracepoints)
    libcalls    calls and latency of library functions (uprobes; return probes never on Go)
    offcpu      time threads spend blocked, by stack (sched_switch)
    runqlat     how long runnable threads wait for a CPU (sched_wakeup + sched_switch)
    biolatency  block I/O latency (block_rq_issue/complete)
    tcpretrans  TCP retransmissions as they happen (tcp_retransmit_skb)
    execsnoop   new programs as they start (sys_enter/exit_execve)
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from perflab.ebpf._bpftrace import BpftraceOutput, bpftrace_path, run_bpftrace, split_key
from perflab.ebpf._contracts import EbpfLibcallsFunction, EbpfOffcpuStack, EbpfSyscall
from perflab.ebpf._hist import Log2Hist
from perflab.errors import AccessDenied, InvalidValue, NoSuchProcess

Ready = Callable[[], None] | None


def _stop(duration_s: float) -> str:
    return f"interval:ms:{max(1, round(duration_s * 1000))} {{ exit(); }}\n"


def _check_pid(pid: int | None) -> None:
    if pid is not None and not Path(f"/proc/{pid}").is_dir():
        raise NoSuchProcess(pid)


def _hists(out: BpftraceOutput, name: str) -> dict[str, Log2Hist]:
    data = out.hists.get(name) or {}
    if isinstance(data, list):  # a histogram without keys
        return {"": Log2Hist.from_bpftrace(data)}
    return {k: Log2Hist.from_bpftrace(v) for k, v in data.items()}


# -- syscall names ---------------------------------------------------------------------------

@cache
def syscall_names() -> dict[int, str]:
    """Numbers -> names for this machine: the kernel headers when installed, else the x86_64
    table shipped with perflab."""
    arch = platform.machine()
    names: dict[int, str] = {}
    if arch == "x86_64":
        doc = json.loads(resources.files("perflab.ebpf").joinpath("syscalls_x86_64.json")
                         .read_text("utf-8"))
        names = {int(k): v for k, v in doc["names"].items()}
    header = Path(f"/usr/include/{arch}-linux-gnu/asm/unistd_64.h")
    if header.is_file():
        names.update({int(m[2]): m[1] for m in re.finditer(r"#define __NR_(\w+)\s+(\d+)",
                                                           header.read_text())})
    return names


WALL_NOTE = ("time is wall-clock time inside each call, as `strace -c -w` sums it "
             "(plain `strace -c` shows system CPU time)")


@dataclass(frozen=True, slots=True)
class SyscallRow:
    name: str
    number: int
    calls: int
    errors: int
    total_ns: int  # wall-clock time from sys_enter to sys_exit, summed (not CPU time)
    latency_us: Log2Hist

    def to_json(self) -> EbpfSyscall:
        return {"name": self.name, "number": self.number, "calls": self.calls,
                "errors": self.errors, "total_ns": self.total_ns,
                "latency_us": self.latency_us.to_json()}


@dataclass(slots=True)
class SyscallsResult:
    pid: int | None
    duration_s: float
    rows: list[SyscallRow]
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False

    def render(self, top: int = 20, hists: int = 3) -> str:
        total_ns = sum(r.total_ns for r in self.rows) or 1
        # strace -c's layout, but its "seconds" is system CPU time unless -w is given; ours is
        # the wall-clock time from entry to exit (what `strace -c -w` sums), and says so
        lines = [WALL_NOTE,
                 (f"{'% wall':>6} {'wall secs':>11} {'usecs/call':>11} {'calls':>9} "
                  f"{'errors':>9} syscall"),
                 f"{'-' * 6} {'-' * 11} {'-' * 11} {'-' * 9} {'-' * 9} {'-' * 16}"]
        for r in self.rows[:top]:
            per = r.total_ns / r.calls / 1000 if r.calls else 0
            lines.append(f"{100 * r.total_ns / total_ns:6.2f} {r.total_ns / 1e9:11.6f} "
                         f"{per:11.0f} {r.calls:9d} {r.errors or '':>9} {r.name}")
        calls = sum(r.calls for r in self.rows)
        errors = sum(r.errors for r in self.rows)
        lines.append(f"{'-' * 6} {'-' * 11} {'-' * 11} {'-' * 9} {'-' * 9} {'-' * 16}")
        lines.append(f"{100.0:6.2f} {sum(r.total_ns for r in self.rows) / 1e9:11.6f} "
                     f"{'':11} {calls:9d} {errors or '':>9} total")
        slowest = sorted(self.rows, key=lambda r: -r.total_ns)[:hists]
        for r in slowest:
            lines.append("")
            lines.append(f"{r.name}: latency")
            lines.append(r.latency_us.render("usecs").rstrip("\n"))
        return "\n".join(lines) + "\n"


def syscalls(pid: int | None, duration_s: float, on_ready: Ready = None) -> SyscallsResult:
    _check_pid(pid)
    flt = f"pid == {pid}" if pid is not None else 'comm != "bpftrace"'
    # counted on entry, as strace -c counts (exit_group never returns); timed on exit
    program = f"""
tracepoint:raw_syscalls:sys_enter /{flt}/ {{ @start[tid] = nsecs; @calls[args->id] = count(); }}
tracepoint:raw_syscalls:sys_exit /@start[tid]/ {{
  $ns = nsecs - @start[tid];
  @lat[args->id] = hist($ns / 1000);
  @total[args->id] = sum($ns);
  if (args->ret < 0) {{ @errors[args->id] = count(); }}
  delete(@start[tid]);
}}
{_stop(duration_s)}END {{ clear(@start); }}
"""
    out = run_bpftrace(program, what="ebpf syscalls", duration_s=duration_s, on_ready=on_ready)
    names = syscall_names()
    calls = {int(k): int(v) for k, v in (out.maps.get("@calls") or {}).items()}
    totals = {int(k): int(v) for k, v in (out.maps.get("@total") or {}).items()}
    errors = {int(k): int(v) for k, v in (out.maps.get("@errors") or {}).items()}
    hists = {int(k): h for k, h in _hists(out, "@lat").items() if k}
    rows = [SyscallRow(names.get(nr, f"syscall_{nr}"), nr, n, errors.get(nr, 0),
                       totals.get(nr, 0), hists.get(nr, Log2Hist(())))
            for nr, n in calls.items() if nr >= 0]
    rows.sort(key=lambda r: (-r.total_ns, -r.calls, r.name))
    return SyscallsResult(pid, duration_s, rows, out.notes, out.interrupted)


# -- libcalls --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LibcallRow:
    spec: str
    path: str
    calls: int
    total_ns: int | None  # None: latency not measured (no return probes on Go)
    latency_us: Log2Hist | None

    def to_json(self) -> EbpfLibcallsFunction:
        return {"function": self.spec, "path": self.path, "calls": self.calls,
                "total_ns": self.total_ns,
                "latency_us": self.latency_us.to_json() if self.latency_us else None}


@dataclass(slots=True)
class LibcallsResult:
    pid: int
    duration_s: float
    rows: list[LibcallRow]
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False

    def render(self) -> str:
        lines = [f"{'calls':>10} {'total ms':>10} {'avg us':>9}  function"]
        for r in self.rows:
            if r.total_ns is None:
                lines.append(f"{r.calls:>10} {'-':>10} {'-':>9}  {r.spec}")
            else:
                avg = r.total_ns / r.calls / 1000 if r.calls else 0
                lines.append(f"{r.calls:>10} {r.total_ns / 1e6:>10.3f} {avg:>9.1f}  {r.spec}")
        for r in self.rows:
            if r.latency_us is not None and r.latency_us.count:
                lines += ["", f"{r.spec}: latency", r.latency_us.render("usecs").rstrip("\n")]
        return "\n".join(lines) + "\n"


def resolve_library(pid: int, lib: str) -> str:
    """A library named as in ``libc``/``libssl.so.3``/a path, resolved in the process's maps."""
    if "/" in lib:
        return lib
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except PermissionError as exc:
        raise AccessDenied(f"cannot read /proc/{pid}/maps", hint="run as root") from exc
    except FileNotFoundError as exc:
        raise NoSuchProcess(pid) from exc
    paths = {ln.split(None, 5)[5] for ln in maps.splitlines() if len(ln.split(None, 5)) == 6}
    want = lib if lib.startswith("lib") or lib.endswith(".so") else "lib" + lib
    for p in sorted(paths):
        base = p.rsplit("/", 1)[-1]
        if base == lib or base.startswith((want + ".", want + "-")):
            return p
    exe = str(Path(f"/proc/{pid}/exe").readlink())
    if lib in (exe.rsplit("/", 1)[-1], "exe", "main"):
        return exe
    raise InvalidValue(f"PID {pid} has no library {lib!r} mapped",
                       hint=f"see /proc/{pid}/maps; give a path or a name like libc")


_FUNC = re.compile(r"^[A-Za-z_][\w.$]*$")


def _check_symbol(path: str, func: str) -> None:
    """bpftrace skips a uprobe whose symbol does not resolve, silently: ask it first."""
    listed = subprocess.run([bpftrace_path(), "-l", f"uprobe:{path}:{func}"],
                            capture_output=True, text=True, check=False, timeout=60)
    if f":{func}" not in listed.stdout:
        raise InvalidValue(f"no function {func!r} in {path}",
                           hint=f"list them: bpftrace -l 'uprobe:{path}:*'")


def libcalls_program(pid: int, functions: list[tuple[str, str]], timed: list[bool],
                     duration_s: float) -> str:
    """Entry uprobes count calls; a return probe times them only where ``timed`` says so
    (never for Go code: the Go runtime moves stacks, and a uretprobe's trampoline breaks it)."""
    probes = []
    for i, (path, func) in enumerate(functions):
        probes.append(f"uprobe:{path}:{func} /pid == {pid}/ {{ @calls[{i}] = count(); "
                      f"@start[tid, {i}] = nsecs; }}")
        if timed[i]:
            probes.append(f"uretprobe:{path}:{func} /pid == {pid} && @start[tid, {i}]/ {{ "
                          f"$ns = nsecs - @start[tid, {i}]; @lat[{i}] = hist($ns / 1000); "
                          f"@total[{i}] = sum($ns); delete(@start[tid, {i}]); }}")
    return "\n".join(probes) + "\n" + _stop(duration_s) + "END { clear(@start); }\n"


def libcalls(pid: int, specs: list[str], duration_s: float, *, is_go: Callable[[str], bool],
             on_ready: Ready = None) -> LibcallsResult:
    _check_pid(pid)
    if not specs:
        raise InvalidValue("no functions given", hint="e.g. libc:malloc libc:free")
    exe = str(Path(f"/proc/{pid}/exe").readlink())
    go_target = is_go(exe)
    notes = []
    if go_target:
        notes.append("Go program: call counts only; return probes (uretprobes) crash Go "
                     "programs, so no latency is measured")
    resolved = []
    for spec in specs:
        lib, sep, func = spec.rpartition(":")
        if not sep or not lib or not _FUNC.match(func):
            raise InvalidValue(f"invalid function {spec!r}",
                               hint="write LIB:FUNC, e.g. libc:malloc")
        path = resolve_library(pid, lib)
        _check_symbol(path, func)
        resolved.append((path, func))
    timed = [not go_target and not is_go(path) for path, _ in resolved]
    program = libcalls_program(pid, resolved, timed, duration_s)
    out = run_bpftrace(program, what="ebpf libcalls", duration_s=duration_s, on_ready=on_ready)
    calls = {int(k): int(v) for k, v in (out.maps.get("@calls") or {}).items()}
    totals = {int(k): int(v) for k, v in (out.maps.get("@total") or {}).items()}
    hists = {int(k): h for k, h in _hists(out, "@lat").items() if k}
    rows = [LibcallRow(spec, resolved[i][0], calls.get(i, 0),
                       totals.get(i, 0) if timed[i] else None,
                       hists.get(i, Log2Hist(())) if timed[i] else None)
            for i, spec in enumerate(specs)]
    return LibcallsResult(pid, duration_s, rows, notes + out.notes, out.interrupted)


# -- offcpu ----------------------------------------------------------------------------------

def frame_name(line: str) -> str:
    """``ffff8000 do_nanosleep+94 (mod)`` -> ``do_nanosleep``; unknown frames keep the address."""
    parts = line.split()
    if len(parts) < 2:
        return line
    sym = re.sub(r"\+(?:0x[0-9a-f]+|\d+)$", "", parts[1])
    return sym if not sym.startswith("0x") and sym != "[unknown]" else parts[0]


@dataclass(frozen=True, slots=True)
class StackTime:
    comm: str
    frames: tuple[str, ...]  # root first: user frames, then kernel frames
    total_ns: int

    def to_json(self) -> EbpfOffcpuStack:
        return {"comm": self.comm, "frames": list(self.frames), "total_ns": self.total_ns}


@dataclass(slots=True)
class OffcpuResult:
    pid: int | None
    duration_s: float
    total_ns: int
    hist: Log2Hist
    stacks: list[StackTime]
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False

    def render(self, top: int = 10) -> str:
        lines = [f"off-CPU time: {self.total_ns / 1e9:.3f} s over {self.duration_s:g} s",
                 "", "off-CPU intervals:", self.hist.render("usecs").rstrip("\n"), "",
                 f"top {min(top, len(self.stacks))} stacks by off-CPU time:"]
        for st in self.stacks[:top]:
            lines.append(f"  {st.total_ns / 1e6:10.3f} ms  {st.comm}")
            lines += [f"      {f}" for f in reversed(st.frames)]
        return "\n".join(lines) + "\n"


def offcpu(pid: int | None, duration_s: float, on_ready: Ready = None) -> OffcpuResult:
    _check_pid(pid)
    flt = f"pid == {pid}" if pid is not None else 'pid != 0 && comm != "bpftrace"'
    program = f"""
tracepoint:sched:sched_switch
{{
  if ({flt}) {{
    @start[tid] = nsecs;
    @ks[tid] = kstack(perf, 64);
    @us[tid] = ustack(perf, 64);
    @cm[tid] = comm;
  }}
  $n = args->next_pid;
  $t = @start[$n];
  if ($t != 0) {{
    $ns = nsecs - $t;
    @off[@us[$n], @ks[$n], @cm[$n]] = sum($ns);
    @usecs = hist($ns / 1000);
    delete(@start[$n]);
  }}
}}
{_stop(duration_s)}END {{ clear(@start); clear(@ks); clear(@us); clear(@cm); }}
"""
    out = run_bpftrace(program, what="ebpf offcpu", duration_s=duration_s, on_ready=on_ready)
    stacks = []
    for key, ns in (out.maps.get("@off") or {}).items():
        parts = split_key(key)
        user = parts[0] if parts else []
        kern = parts[1] if len(parts) > 1 else []
        comm = parts[2][0] if len(parts) > 2 and parts[2] else ""
        frames = tuple(frame_name(f) for f in reversed(user)) + tuple(
            frame_name(f) for f in reversed(kern))
        stacks.append(StackTime(comm, frames, int(ns)))
    stacks.sort(key=lambda s: -s.total_ns)
    hist = _hists(out, "@usecs").get("", Log2Hist(()))
    return OffcpuResult(pid, duration_s, sum(s.total_ns for s in stacks), hist, stacks,
                        out.notes, out.interrupted)


# -- runqlat, biolatency ---------------------------------------------------------------------

@dataclass(slots=True)
class HistResult:
    what: str
    unit: str
    duration_s: float
    hists: dict[str, Log2Hist]
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False

    def render(self) -> str:
        if not self.hists or all(h.count == 0 for h in self.hists.values()):
            return f"{self.what}: no events in {self.duration_s:g} s\n"
        out = []
        for key, h in sorted(self.hists.items()):
            if key:
                out.append(f"{key}:")
            out.append(h.render(self.unit).rstrip("\n"))
            out.append(f"count {h.count}, p50 <= {h.quantile(0.5)} {self.unit}, "
                       f"p99 <= {h.quantile(0.99)} {self.unit}")
            out.append("")
        return "\n".join(out).rstrip("\n") + "\n"


def runqlat(duration_s: float, on_ready: Ready = None) -> HistResult:
    # a preempted task (prev_state 0, TASK_RUNNING) goes straight back on the run queue
    program = f"""
tracepoint:sched:sched_wakeup, tracepoint:sched:sched_wakeup_new {{ @q[args->pid] = nsecs; }}
tracepoint:sched:sched_switch
{{
  if (args->prev_state == 0 && args->prev_pid != 0) {{ @q[args->prev_pid] = nsecs; }}
  $t = @q[args->next_pid];
  if ($t != 0 && args->next_pid != 0) {{ @usecs = hist((nsecs - $t) / 1000); }}
  delete(@q[args->next_pid]);
}}
{_stop(duration_s)}END {{ clear(@q); }}
"""
    out = run_bpftrace(program, what="ebpf runqlat", duration_s=duration_s, on_ready=on_ready)
    return HistResult("run-queue latency", "usecs", duration_s, _hists(out, "@usecs"),
                      out.notes, out.interrupted)


def _disk_names() -> dict[int, str]:
    """Kernel dev_t (major << 20 | minor) -> disk name, from /sys/dev/block."""
    names = {}
    base = Path("/sys/dev/block")
    if base.is_dir():
        for entry in base.iterdir():
            try:
                major, minor = (int(x) for x in entry.name.split(":"))
                uevent = (entry / "uevent").read_text()
            except (ValueError, OSError):
                continue
            m = re.search(r"^DEVNAME=(\S+)", uevent, re.MULTILINE)
            if m:
                names[(major << 20) | minor] = m[1]
    return names


def biolatency(duration_s: float, *, per_disk: bool, on_ready: Ready = None,
               per_process: bool = False, pid: int | None = None) -> HistResult:
    """Block I/O latency from issue to completion: one histogram, one per disk (``per_disk``),
    or one per process that submitted the I/O (``per_process``, or only ``pid``'s).

    A request's process is the one in whose context its first bio was queued
    (``block_bio_queue``), keyed like the request by (device, first sector); a bio merged onto
    the back of another request belongs to that request. Writes of dirty pages are queued by
    the kernel's flusher threads, so they count as theirs, as in bcc's biosnoop."""
    if per_process or pid is not None:
        return _biolatency_by_process(duration_s, pid, on_ready)
    key = "[args->dev]" if per_disk else ""
    program = f"""
tracepoint:block:block_rq_issue {{ @start[args->dev, args->sector] = nsecs; }}
tracepoint:block:block_rq_complete /@start[args->dev, args->sector]/
{{
  @usecs{key} = hist((nsecs - @start[args->dev, args->sector]) / 1000);
  delete(@start[args->dev, args->sector]);
}}
{_stop(duration_s)}END {{ clear(@start); }}
"""
    out = run_bpftrace(program, what="ebpf biolatency", duration_s=duration_s, on_ready=on_ready)
    hists = _hists(out, "@usecs")
    if per_disk:
        names = _disk_names()
        hists = {names.get(int(k), f"dev {k}"): h for k, h in hists.items() if k}
    return HistResult("block I/O latency", "usecs", duration_s, hists, out.notes,
                      out.interrupted)


def _biolatency_by_process(duration_s: float, pid: int | None, on_ready: Ready) -> HistResult:
    only = f"/pid == {int(pid)}/" if pid is not None else ""
    program = f"""
tracepoint:block:block_bio_queue {only}
{{
  @who[args->dev, args->sector] = pid; @comm[pid] = comm;
}}
tracepoint:block:block_bio_backmerge {{ delete(@who[args->dev, args->sector]); }}
tracepoint:block:block_rq_issue /@who[args->dev, args->sector]/
{{
  @start[args->dev, args->sector] = nsecs;
}}
tracepoint:block:block_rq_complete /@start[args->dev, args->sector]/
{{
  @usecs[@who[args->dev, args->sector]] =
    hist((nsecs - @start[args->dev, args->sector]) / 1000);
  delete(@start[args->dev, args->sector]);
  delete(@who[args->dev, args->sector]);
}}
{_stop(duration_s)}END {{ clear(@start); clear(@who); }}
"""
    out = run_bpftrace(program, what="ebpf biolatency", duration_s=duration_s, on_ready=on_ready)
    comms = out.maps.get("@comm") or {}
    hists = {f"{comms.get(k, '?')} (pid {k})": h for k, h in _hists(out, "@usecs").items()
             if k}
    what = f"block I/O latency of PID {pid}" if pid is not None else \
        "block I/O latency by process"
    return HistResult(what, "usecs", duration_s, hists, out.notes, out.interrupted)


# -- event tools: tcpretrans, execsnoop ------------------------------------------------------

_TCP_STATES = ["", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
               "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"]


@dataclass(slots=True)
class EventsResult:
    what: str
    columns: list[str]
    events: list[dict[str, Any]]
    duration_s: float
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False

    def render(self) -> str:
        if not self.events:
            return f"{self.what}: none in {self.duration_s:g} s\n"
        widths = {c: max(len(c), *(len(str(e.get(c, ""))) for e in self.events))
                  for c in self.columns}
        last = self.columns[-1]
        head = " ".join(f"{c.upper():<{widths[c]}}" if c != last else c.upper()
                        for c in self.columns)
        rows = [" ".join(f"{e.get(c, '')!s:<{widths[c]}}" if c != last else str(e.get(c, ""))
                         for c in self.columns) for e in self.events]
        return "\n".join([head, *rows]) + f"\n{len(self.events)} {self.what}\n"


def tcpretrans(duration_s: float, on_ready: Ready = None) -> EventsResult:
    program = f"""
tracepoint:tcp:tcp_retransmit_skb
{{
  if (args->family == 2) {{
    printf("%d %s %d %s %d %d\\n", pid, ntop(args->saddr), args->sport, ntop(args->daddr),
           args->dport, args->state);
  }} else {{
    printf("%d %s %d %s %d %d\\n", pid, ntop(args->saddr_v6), args->sport,
           ntop(args->daddr_v6), args->dport, args->state);
  }}
}}
{_stop(duration_s)}"""
    out = run_bpftrace(program, what="ebpf tcpretrans", duration_s=duration_s, on_ready=on_ready)
    events = []
    for line in out.printed:
        f = line.split()
        if len(f) != 6:
            continue
        state = int(f[5])
        events.append({"pid": int(f[0]), "local": f"{f[1]}:{f[2]}", "remote": f"{f[3]}:{f[4]}",
                       "state": _TCP_STATES[state] if 0 < state < len(_TCP_STATES) else
                       str(state)})
    return EventsResult("TCP retransmits", ["pid", "local", "remote", "state"], events,
                        duration_s, out.notes, out.interrupted)


def execsnoop(duration_s: float, on_ready: Ready = None) -> EventsResult:
    program = f"""
tracepoint:syscalls:sys_enter_execve
{{
  printf("X %d %d %s\\n", pid, curtask->real_parent->tgid, comm);
  join(args->argv);
}}
tracepoint:syscalls:sys_exit_execve /args->ret < 0/ {{ printf("F %d %d\\n", pid, args->ret); }}
{_stop(duration_s)}"""
    out = run_bpftrace(program, what="ebpf execsnoop", duration_s=duration_s, on_ready=on_ready)
    events: list[dict[str, Any]] = []
    pending: dict[str, Any] | None = None
    for kind, text in out.events:
        if kind == "printf" and text.startswith("X "):
            f = text.split(None, 3)
            pending = {"pid": int(f[1]), "ppid": int(f[2]), "comm": f[3].strip() if len(f) > 3
                       else "", "ret": 0, "args": ""}
            events.append(pending)
        elif kind == "join" and pending is not None:
            pending["args"] = text.strip()
            pending = None
        elif kind == "printf" and text.startswith("F "):
            _, pid_s, ret_s = text.split()
            for e in reversed(events):
                if e["pid"] == int(pid_s):
                    e["ret"] = int(ret_s)
                    break
    return EventsResult("programs started", ["pid", "ppid", "comm", "ret", "args"], events,
                        duration_s, out.notes, out.interrupted)
