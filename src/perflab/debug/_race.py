"""Go race detector reports (``WARNING: DATA RACE``) read and grouped by the pair of access
sites, the way a person triages them: one race in a loop prints a report per pair of goroutines,
and they are all the same bug.

A report, as the race runtime (ThreadSanitizer) prints it between ``==================`` lines::

    WARNING: DATA RACE
    Read at 0x0000005dd680 by goroutine 8:
      main.recordHit()
          /src/race/main.go:22 +0x87
    Previous write at 0x0000005dd680 by goroutine 7:
      ...
    Goroutine 8 (running) created at:
      main.main()
          /src/race/main.go:29 +0x64

Other lines (a test's output, ``--- FAIL``) are outside reports and ignored; a report cut short
(the log ends inside it) is kept as far as it goes and named in ``warnings``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from perflab.debug._goroutines import GoFrame

if TYPE_CHECKING:
    from perflab.debug._contracts import (
        RaceAccessDoc,
        RaceAccessKind,
        RaceCreatedDoc,
        RaceGroupDoc,
    )

_ACCESS = re.compile(r"^(Previous )?(read|write|Read|Write)(?: at (0x[0-9a-f]+))? by "
                     r"(main goroutine|goroutine (\d+)|thread T\d+)(?: \(mutexes: [^)]*\))?:$")
_CREATED = re.compile(r"^Goroutine (\d+) \(([^)]*)\) created at:$")
_FILE = re.compile(r"^\s+(.+):(\d+)(?: \+0x[0-9a-f]+)?$")
_SEP = "=================="


@dataclass(frozen=True, slots=True)
class Access:
    kind: RaceAccessKind
    previous: bool
    address: str
    goroutine: int | None        # None: the main goroutine
    frames: tuple[GoFrame, ...]

    @property
    def site(self) -> GoFrame | None:
        for frame in self.frames:
            if not frame.is_std:
                return frame
        return self.frames[0] if self.frames else None

    def to_json(self) -> RaceAccessDoc:
        site = self.site
        return {"kind": self.kind, "previous": self.previous, "address": self.address,
                "goroutine": self.goroutine,
                "function": site.function if site else None,
                "location": site.where() if site else None,
                "frames": [f.to_json() for f in self.frames]}


@dataclass(slots=True)
class RaceReport:
    accesses: list[Access]
    created: dict[int, tuple[str, tuple[GoFrame, ...]]]  # goroutine -> (status, creation stack)

    def pair_key(self) -> tuple[str, ...]:
        return tuple(sorted(f"{a.kind} {a.site.function}:{a.site.line}" if a.site else a.kind
                            for a in self.accesses[:2]))


@dataclass(slots=True)
class RaceGroup:
    """The reports of one pair of access sites; the first report's stacks stand for them."""

    first: RaceReport
    count: int = 1
    goroutines: set[int] = field(default_factory=set)

    @property
    def functions(self) -> list[str]:
        out = []
        for a in self.first.accesses[:2]:
            if a.site and a.site.function not in out:
                out.append(a.site.function)
        return out

    def to_json(self) -> RaceGroupDoc:
        created: list[RaceCreatedDoc] = [
            {"goroutine": gid, "status": status, "frames": [f.to_json() for f in frames]}
            for gid, (status, frames) in sorted(self.first.created.items())]
        return {"count": self.count, "functions": self.functions,
                "sites": list(self.first.pair_key()),
                "accesses": [a.to_json() for a in self.first.accesses],
                "created": created, "goroutines": sorted(self.goroutines)[:50]}


@dataclass(slots=True)
class RaceLog:
    reports: list[RaceReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: str | None = None    # "Found 1 data race(s)"

    def groups(self) -> list[RaceGroup]:
        """Reports grouped by their pair of access sites, the most frequent first."""
        groups: dict[tuple[str, ...], RaceGroup] = {}
        for r in self.reports:
            key = r.pair_key()
            group = groups.get(key)
            if group is None:
                group = groups[key] = RaceGroup(r, 0)
            group.count += 1
            group.goroutines.update(a.goroutine for a in r.accesses if a.goroutine is not None)
        return sorted(groups.values(), key=lambda g: (-g.count, g.functions))


def parse_race_log(text: str) -> RaceLog:
    log = RaceLog()
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "WARNING: DATA RACE":
            report, i, complete = _report(lines, i + 1)
            if report.accesses:
                log.reports.append(report)
            if not complete:
                log.warnings.append(f"line {i}: the log ends inside a race report (truncated?);"
                                    " it is kept as far as it goes")
            continue
        if line.startswith("Found ") and "data race" in line:
            log.summary = line.strip()
        i += 1
    return log


def _report(lines: list[str], i: int) -> tuple[RaceReport, int, bool]:
    report = RaceReport([], {})
    while i < len(lines):
        line = lines[i].rstrip()
        if line == _SEP:
            return report, i + 1, True
        if line.strip() == "WARNING: DATA RACE":  # the next report began: this one was cut
            return report, i, False
        m = _ACCESS.match(line)
        c = _CREATED.match(line)
        if m:
            frames, i = _frames(lines, i + 1)
            gid = int(m.group(5)) if m.group(5) else None
            kind: RaceAccessKind = "write" if m.group(2).lower() == "write" else "read"
            report.accesses.append(Access(kind, bool(m.group(1)),
                                          m.group(3) or "", gid, frames))
            continue
        if c:
            frames, i = _frames(lines, i + 1)
            report.created[int(c.group(1))] = (c.group(2), frames)
            continue
        i += 1
    return report, i, False


def _frames(lines: list[str], i: int) -> tuple[tuple[GoFrame, ...], int]:
    frames = []
    while i + 1 < len(lines):
        fn = lines[i]
        if not fn.startswith("  ") or fn.startswith("      "):
            break
        m = _FILE.match(lines[i + 1])
        if m is None:
            break
        name = fn.strip()
        name = name[:name.rfind("(")] if name.endswith(")") else name
        frames.append(GoFrame(name, m.group(1), int(m.group(2))))
        i += 2
    return tuple(frames), i
