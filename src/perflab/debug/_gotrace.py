"""``perflab gotrace``: a Go execution trace (``runtime/trace``, ``/debug/pprof/trace``) read by
``go tool trace -pprof=TYPE`` into its four blocking profiles, each shown as a flame graph:

- ``net``: time goroutines waited on the network;
- ``sync``: time they waited on mutexes, channels, WaitGroups (the blocking half of a deadlock
  or a convoy);
- ``syscall``: time in blocking system calls;
- ``sched``: scheduler latency, time goroutines were runnable but not running.

Each profile's total is stored as a series at the end of the traced window (and the window as an
event band), so scheduler latency and blocking show on the run's timeline. go tool trace is the
reference: perflab does not read the trace format itself (it changes between Go versions), only
checks its header first: go tool's stderr cannot tell a file that is not a trace from a real
trace it fails to parse (go 1.19 says "failed to parse trace" for both).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.debug._goroutines import GoFrame
from perflab.errors import InvalidFile, TargetError, ToolMissing

if TYPE_CHECKING:
    from perflab.debug._contracts import GotraceKind, GotraceProfilesDoc
    from perflab.profile import Profile

KINDS: tuple[GotraceKind, ...] = ("net", "sync", "syscall", "sched")
# Every Go execution trace starts with "go 1.N trace" padded with NULs to 16 bytes (Go's
# internal/trace: headerFmt "go 1.%d trace\x00\x00\x00" since 1.22, the same 16 bytes before).
_HEADER = re.compile(rb"go 1\.[0-9]+ trace\x00\x00\x00")
_HEADER_HINT = "take one with /debug/pprof/trace?seconds=5 or runtime/trace.Start"
_TITLES = {"net": "network blocking", "sync": "synchronization blocking",
           "syscall": "syscall blocking", "sched": "scheduler latency"}


@dataclass(slots=True)
class BlockingProfile:
    kind: GotraceKind
    profile: Profile | None
    raw: bytes = b""
    error: str | None = None

    @property
    def title(self) -> str:
        return _TITLES[self.kind]

    @property
    def total_seconds(self) -> float:
        if self.profile is None or not self.profile.samples:
            return 0.0
        index = self.profile.sample_index(None)
        unit = self.profile.sample_types[index].unit
        scale = 1e-9 if unit == "nanoseconds" else 1.0
        return self.profile.total(index) * scale

    def top(self, n: int = 5) -> list[tuple[str, float]]:
        """The program's functions that waited most (leaf first, skipping the runtime)."""
        if self.profile is None or not self.profile.samples:
            return []
        prof = self.profile
        index = prof.sample_index(None)
        scale = 1e-9 if prof.sample_types[index].unit == "nanoseconds" else 1.0
        by_fn: dict[str, float] = {}
        for s in prof.samples:
            name = _first_own(prof, s.stack)
            by_fn[name] = by_fn.get(name, 0.0) + s.values[index] * scale
        return sorted(by_fn.items(), key=lambda kv: -kv[1])[:n]


def _first_own(prof: Profile, stack: tuple[int, ...]) -> str:
    """The innermost frame of the program itself (the rule goroutine groups use)."""
    frames = [prof.frames[i] for i in stack]
    for f in frames:
        if not GoFrame(f.name, f.file, f.line).is_std:
            return f.name
    return frames[0].name if frames else "?"


@dataclass(slots=True)
class TraceProfiles:
    source: str
    profiles: list[BlockingProfile] = field(default_factory=list)

    def to_json(self) -> GotraceProfilesDoc:
        return {"source": self.source, "profiles": [
            {"kind": p.kind, "title": p.title, "total_seconds": round(p.total_seconds, 9),
             "samples": len(p.profile.samples) if p.profile else 0, "error": p.error,
             "top": [{"function": fn, "seconds": round(sec, 9)} for fn, sec in p.top()]}
            for p in self.profiles]}


def blocking_profiles(trace_path: str, *, binary: str | None = None,
                      kinds: tuple[GotraceKind, ...] = KINDS) -> TraceProfiles:
    """Run ``go tool trace -pprof=KIND`` for each kind; a kind that fails is kept with its
    error (the others still count). A file without a trace's header is refused first."""
    from perflab.profile import find_tool, parse_profile  # noqa: PLC0415

    check_trace_header(trace_path)
    go = find_tool("go")
    if go is None:
        raise ToolMissing("go", install="apt-get install golang-go")
    out = TraceProfiles(trace_path)
    for kind in kinds:
        args = [go, "tool", "trace", f"-pprof={kind}", *([binary] if binary else []), trace_path]
        try:
            done = subprocess.run(args, capture_output=True, timeout=300, check=False)  # noqa: S603  # go, by its path
        except subprocess.TimeoutExpired as exc:
            raise TargetError(f"go tool trace -pprof={kind} did not finish within 300 s") from exc
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            text = message[-1] if message else f"exit status {done.returncode}"
            out.profiles.append(BlockingProfile(kind, None, error=text))
            continue
        if not done.stdout:
            out.profiles.append(BlockingProfile(kind, None, error="no samples"))
            continue
        out.profiles.append(BlockingProfile(kind, parse_profile(done.stdout, path=trace_path),
                                            done.stdout))
    return out


def check_trace_header(trace_path: str) -> None:
    """Raise ``InvalidFile`` unless the file starts with a Go execution trace's header."""
    try:
        with Path(trace_path).open("rb") as f:
            head = f.read(17)
    except OSError as exc:
        raise InvalidFile(f"cannot read: {exc.strerror}", path=trace_path) from exc
    if _HEADER.match(head):
        return
    why = "the file is empty" if not head else f"no 'go 1.N trace' header, it starts {head[:8]!r}"
    raise InvalidFile(f"not a Go execution trace ({why})", path=trace_path, hint=_HEADER_HINT)


def merge_traces(results: list[TraceProfiles], source: str) -> TraceProfiles:
    """The profiles of consecutive traces added up per kind (an error only when every slice
    failed for that kind)."""
    from perflab.profile import merge  # noqa: PLC0415

    out = TraceProfiles(source)
    for kind in KINDS:
        got = [p for r in results for p in r.profiles if p.kind == kind]
        profiles = [p.profile for p in got if p.profile is not None]
        if profiles:
            out.profiles.append(BlockingProfile(kind, merge(profiles)))
        elif got:
            out.profiles.append(BlockingProfile(kind, None, error=got[0].error))
    return out
