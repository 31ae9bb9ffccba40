"""Running bpftrace programs that perflab generates, and reading their JSON output.

bpftrace runs with ``-f json``: one JSON document per line, maps as ``{"@name": {key: value}}``
(a multi-key map joins its keys with ","; a stack key is its frames, one per line), histograms
as lists of ``{"min", "max", "count"}`` buckets. Everything that can go wrong before a probe
fires is turned into one perflab error naming the cause: bpftrace missing, not root, tracefs
not mounted (mounted for you when root), a probe the kernel lacks, the kernel refusing BPF.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.children import interrupt_then_kill
from perflab.errors import AccessDenied, PerflabError, TargetError, ToolMissing

TRACEFS = Path("/sys/kernel/tracing")
INSTALL_HINT = "apt-get install bpftrace"


@dataclass
class BpftraceOutput:
    maps: dict[str, Any] = field(default_factory=dict)
    hists: dict[str, Any] = field(default_factory=dict)
    printed: list[str] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)  # ("printf"|"join", text)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False


def bpftrace_path() -> str:
    path = shutil.which("bpftrace")
    if path is None:
        raise ToolMissing("bpftrace", install=INSTALL_HINT)
    return path


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise AccessDenied(
            f"{what} needs root: loading BPF programs requires CAP_BPF and CAP_PERFMON "
            "(and CAP_SYS_ADMIN for some probes)",
            hint="run perflab with sudo, or grant the capabilities to bpftrace: "
                 "setcap cap_bpf,cap_perfmon,cap_sys_admin+ep $(which bpftrace)")


def ensure_tracefs(tracefs: Path = TRACEFS) -> str | None:
    """Make sure tracepoints are visible; mount tracefs when missing and we are root.

    Returns a note when it mounted something, None when nothing was needed.
    """
    if (tracefs / "events").is_dir():
        return None
    if os.geteuid() != 0:
        raise AccessDenied(f"tracefs is not mounted at {tracefs}, and mounting it needs root",
                           hint=f"run as root, or: sudo mount -t tracefs nodev {tracefs}")
    try:
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(tracefs)], check=True,
                       capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise TargetError(f"tracefs is not mounted at {tracefs} and mounting it failed: "
                          f"{detail.strip()}",
                          hint="the kernel may lack CONFIG_TRACING, or /sys is read-only "
                               "(containers: mount it on the host or run privileged)") from exc
    if not (tracefs / "events").is_dir():
        raise TargetError(f"tracefs mounted at {tracefs} but has no events/",
                          hint="the kernel was built without tracepoints (CONFIG_TRACEPOINTS)")
    return f"mounted tracefs at {tracefs}"


_NOISE = ("couldn't set RLIMIT_MEMLOCK", "Attaching ", "WARNING: Addrspace is not set")


def explain_failure(stderr: str, program_kind: str) -> PerflabError:
    """The perflab error for a bpftrace that exited with an error before tracing."""
    lines = [ln.strip() for ln in stderr.splitlines()
             if ln.strip() and not any(n in ln for n in _NOISE)]
    first = next((ln for ln in lines if "ERROR" in ln), lines[0] if lines else "no message")
    low = stderr.lower()
    if "tracepoint not found" in low or "no probes to attach" in low or ("could not" in low \
            and "probe" in low):
        return TargetError(f"{program_kind}: the kernel lacks a probe it needs: {first}",
                           hint="check `bpftrace -l 'tracepoint:*'`; older or trimmed kernels "
                                "lack some tracepoints")
    if "operation not permitted" in low or "permission denied" in low:
        return AccessDenied(f"{program_kind}: the kernel refused to load the BPF program: {first}",
                            hint="needs root with CAP_BPF/CAP_PERFMON; in a container, also "
                                 "an unconfined seccomp profile; kernel.unprivileged_bpf_disabled"
                                 " does not apply to root")
    if "kernel lockdown" in low or "lockdown" in low:
        return AccessDenied(f"{program_kind}: kernel lockdown forbids BPF tracing: {first}",
                            hint="boot without lockdown=confidentiality")
    return TargetError(f"{program_kind}: bpftrace failed: {first}",
                       hint="run with PERFLAB_BPFTRACE_DEBUG=1 to see the generated program")


_READY = "perflab-begun"  # printed from BEGIN, which runs before the probes attach
# from bpftrace's start to its BEGIN: parsing BTF and compiling the program (seconds under load)
START_LIMIT_S = 60.0
# from SIGINT to its exit (it prints its maps first); then it is killed: one still compiling or
# attaching may not answer, and nothing waits on it
STOP_GRACE_S = 30.0


def run_bpftrace(program: str, *, what: str, duration_s: float | None = None,
                 command: list[str] | None = None, grace_s: float = 20.0,
                 on_ready: Callable[[], None] | None = None,
                 on_line: Callable[[str], None] | None = None,
                 stop: threading.Event | None = None) -> BpftraceOutput:
    """Run ``program`` until it exits (its own interval probe or the command's end).

    ``on_ready`` is called when bpftrace runs its BEGIN: its program is compiled, and it
    attaches the probes right after (every bpftrace runs BEGIN first; the interval probe that
    ends a timed run starts once attached). ``on_line`` is called with each line of output as
    it comes (a program that prints its maps periodically is read while it runs). Ctrl-C
    stops bpftrace with SIGINT, which makes it print its maps: what was measured is kept and
    returned with ``interrupted`` set.
    """
    exe = bpftrace_path()
    require_root(what)
    out = BpftraceOutput()
    note = ensure_tracefs()
    if note:
        out.notes.append(note)
    program = f'BEGIN {{ printf("{_READY}\\n"); }}\n' + program
    argv = [exe, "-f", "json", "-e", program]
    if command:
        argv += ["-c", " ".join(shlex.quote(a) for a in command)]
    if os.environ.get("PERFLAB_BPFTRACE_DEBUG"):
        sys.stderr.write(program + "\n")  # a debugging aid: the generated program
    env = {**os.environ, "BPFTRACE_STRLEN": "64", "BPFTRACE_MAP_KEYS_MAX": "65536"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", env=env, start_new_session=True)
    lines: list[str] = []
    errs: list[str] = []
    begun = threading.Event()

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line)
            if _READY in line and not begun.is_set():
                begun.set()
                if on_ready is not None:
                    on_ready()

    def read_stderr() -> None:
        assert proc.stderr is not None
        errs.append(proc.stderr.read())

    readers = [threading.Thread(target=read_stdout, daemon=True),
               threading.Thread(target=read_stderr, daemon=True)]
    for t in readers:
        t.start()
    window = None if duration_s is None else duration_s + grace_s
    out.interrupted, never_begun = _wait(proc, window, begun, stop)
    for t in readers:
        t.join(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    stdout = "".join(lines)
    _check_ended(proc.returncode, stdout, "".join(errs), what, never_begun=never_begun)
    _parse_json_lines(stdout, out)
    return out


def _check_ended(returncode: int | None, stdout: str, stderr: str, what: str, *,
                 never_begun: bool) -> None:
    """Raise the error of a bpftrace that ended without measuring anything."""
    if returncode not in (0, -signal.SIGINT) and not _has_output(stdout) and not never_begun:
        raise explain_failure(stderr, what)
    if never_begun:
        # stopped before it traced: an empty result would read as "nothing happened"
        raise TargetError(f"{what}: bpftrace had not begun tracing after {START_LIMIT_S:g} s "
                          "(its program still compiling), so nothing was measured",
                          hint="the machine may be overloaded; try again, or with "
                               "PERFLAB_BPFTRACE_DEBUG=1 to see the program")


def _wait(proc: subprocess.Popen[str], window: float | None, begun: threading.Event,
          stop: threading.Event | None) -> tuple[bool, bool]:
    """Until bpftrace exits: (Ctrl-C stopped it, it was stopped before it began). Past its
    own end (it should have exited), asked to stop, or on Ctrl-C: SIGINT makes bpftrace print
    its maps and exit.

    ``window`` (the run's length and a grace) counts from bpftrace's BEGIN, not from its
    start: on a busy machine compiling the program takes seconds, and a deadline from the start
    could cut the tracing short (or off, silently). Until its BEGIN, bpftrace has
    ``START_LIMIT_S``.
    """
    started = time.monotonic()
    begun_at: float | None = None
    try:
        while proc.poll() is None:
            now = time.monotonic()
            if begun_at is None and begun.is_set():
                begun_at = now
            late = window is not None and (
                now - started > START_LIMIT_S if begun_at is None
                else now - begun_at > window)
            if late or (stop is not None and stop.is_set()):
                interrupt_then_kill(proc, STOP_GRACE_S)
                return False, late and begun_at is None
            time.sleep(0.05)
    except KeyboardInterrupt:
        interrupt_then_kill(proc, STOP_GRACE_S)
        return True, False
    return False, False


def _has_output(stdout: str) -> bool:
    return '"type": "map"' in stdout or '"type": "hist"' in stdout


def _parse_json_lines(stdout: str, out: BpftraceOutput) -> None:
    for raw in stdout.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            # strict=False: a raw control character in a symbol or a comm is still read
            doc = json.loads(line, strict=False)
        except json.JSONDecodeError:
            out.notes.append(f"bpftrace printed a line perflab could not read ({len(line)} "
                             f"characters, starting {line[:60]!r}); what it held is missing")
            continue
        kind = doc.get("type")
        data = doc.get("data")
        if kind == "map" and isinstance(data, dict):
            out.maps.update(data)
        elif kind == "hist" and isinstance(data, dict):
            out.hists.update(data)
        elif kind in ("printf", "join"):
            if _READY in str(data):
                continue
            if kind == "printf":
                out.printed.append(str(data))
            out.events.append((kind, str(data)))


def split_key(key: str) -> list[list[str]]:
    """Split a map key into its parts; a stack part is its frames (leaf first), a scalar part
    a one-item list, an empty stack an empty list.

    bpftrace writes a stack as "\\n\\tframe\\n\\tframe\\n" and joins keys with ",".
    """
    parts: list[list[str]] = []
    i, n = 0, len(key)
    while True:
        if key.startswith(("\n\t", "\n "), i):
            frames = []
            while key.startswith(("\n\t", "\n "), i):
                j = key.find("\n", i + 1)
                j = n if j < 0 else j
                frames.append(key[i + 1:j].strip())
                i = j
            if key.startswith("\n", i):
                i += 1
            parts.append(frames)
            if i >= n:
                break
            if key[i] == ",":
                i += 1
            continue
        j = key.find(",", i)
        if j < 0:
            text = key[i:].strip()
            parts.append([text] if text else [])
            break
        text = key[i:j].strip()
        parts.append([text] if text else [])
        i = j + 1
    return parts
