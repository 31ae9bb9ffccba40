"""``perflab goroutines``: where a dump comes from (a URL or a file), what is found in it
(groups, leaks against a base dump, long waits, partial deadlocks) and how it is shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from perflab.debug._deadlock import DeadlockFinding, find_deadlocks
from perflab.debug._goroutines import GoroutineDump, parse_goroutines
from perflab.debug._goroutines_group import (
    Blocked,
    Group,
    GroupChange,
    blocked_over,
    diff_dumps,
    group_goroutines,
    state_counts,
)
from perflab.errors import InvalidFile, NotFound, Unreachable
from perflab.units import printable

if TYPE_CHECKING:
    from perflab.debug._contracts import GoroutineBlockedDoc, GoroutineDiffDoc, GoroutinesBody
    from perflab.profile import Profile

SCHEMA = "perflab.goroutines/2"


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def pprof_url(source: str, endpoint: str) -> str:
    """``/debug/pprof/<endpoint>`` of the server a URL names (a base URL or any pprof URL)."""
    parts = urlsplit(source)
    path = parts.path
    at = path.find("/debug/pprof")
    base = path[:at] if at >= 0 else path.rstrip("/")
    query = "debug=2" if endpoint == "goroutine" else ""
    return urlunsplit((parts.scheme, parts.netloc, f"{base}/debug/pprof/{endpoint}", query, ""))


def load_goroutine_dump(source: str, *, timeout: float = 30.0) -> GoroutineDump:
    """A dump from a file or a Go service's pprof endpoint (``?debug=2`` asked for)."""
    if is_url(source):
        from perflab.profile import fetch  # noqa: PLC0415  # lazy: urllib only when needed

        url = pprof_url(source, "goroutine")
        data = fetch(url, timeout=timeout)
        text = data.decode("utf-8", "replace")
        if "goroutine " not in text:
            raise Unreachable(f"{url} did not answer with a goroutine dump",
                              hint='import _ "net/http/pprof" in the service, or give a file')
        return parse_goroutines(text, source=url)
    try:
        text = Path(source).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise NotFound(f"no such file: {source}", hint="check the path") from exc
    except OSError as exc:
        raise InvalidFile(f"cannot read: {exc.strerror}", path=source) from exc
    return parse_goroutines(text, source=source)


def load_pprof_profile(source: str | None, dump_source: str, endpoint: str,
                 notes: list[str]) -> Profile | None:
    """A mutex or block profile: the file given, else the dump's server's endpoint (best
    effort: a service without it is named in ``notes``, the dump is still read)."""
    from perflab.errors import PerflabError  # noqa: PLC0415
    from perflab.profile import fetch, parse_profile, read_profile  # noqa: PLC0415

    if source is not None:
        return read_profile(source)
    if not is_url(dump_source):
        return None
    url = pprof_url(dump_source, endpoint)
    try:
        prof = parse_profile(fetch(url, timeout=30), path=url)
    except PerflabError as err:
        notes.append(f"no {endpoint} profile ({err}); the finding rests on the dump alone")
        return None
    if not prof.samples:
        notes.append(f"the {endpoint} profile is empty (runtime.Set{endpoint.title()}Profile"
                     f"{'Fraction' if endpoint == 'mutex' else 'Rate'} not called?)")
    return prof


@dataclass(slots=True)
class GoroutineReport:
    dump: GoroutineDump
    groups: list[Group]
    changes: list[GroupChange] | None = None
    blocked: list[Blocked] | None = None
    deadlocks: list[DeadlockFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    base: str | None = None
    blocked_minutes: float | None = None

    @property
    def leaks(self) -> list[GroupChange]:
        return [c for c in self.changes or [] if c.leak]

    @property
    def found(self) -> bool:
        """A fault was found: a leak, a goroutine blocked over the threshold, a deadlock."""
        return bool(self.leaks or self.blocked or self.deadlocks)

    def to_json(self) -> GoroutinesBody:
        return {
            "source": self.dump.source, "goroutines": len(self.dump.goroutines),
            "states": state_counts(self.dump), "preamble": self.dump.preamble[:2000],
            "warnings": self.dump.warnings, "notes": self.notes,
            "groups": [g.to_json() for g in self.groups],
            "diff": self._diff_json(), "blocked": self._blocked_json(),
            "deadlocks": [d.to_json() for d in self.deadlocks],
            "found": self.found,
        }

    def _diff_json(self) -> GoroutineDiffDoc | None:
        if self.changes is None:
            return None
        assert self.base is not None, "a diff has its base (analyze_goroutines sets both)"
        return {"base": self.base, "changes": [c.to_json() for c in self.changes],
                "leaks": len(self.leaks)}

    def _blocked_json(self) -> GoroutineBlockedDoc | None:
        if self.blocked is None:
            return None
        assert self.blocked_minutes is not None, "analyze_goroutines sets both"
        return {"over_minutes": self.blocked_minutes,
                "goroutines": [b.to_json() for b in self.blocked]}


def analyze_goroutines(dump: GoroutineDump, *, base: GoroutineDump | None = None,
            blocked_minutes: float | None = None, mutex: Profile | None = None,
            block: Profile | None = None, min_growth: int = 1) -> GoroutineReport:
    report = GoroutineReport(dump, group_goroutines(dump))
    if base is not None:
        report.base = base.source
        report.changes = diff_dumps(base, dump, min_growth=min_growth)
    if blocked_minutes is not None:
        report.blocked_minutes = blocked_minutes
        report.blocked = blocked_over(dump, blocked_minutes)
    report.deadlocks = find_deadlocks(dump, mutex=mutex, block=block)
    return report


def render_goroutines(report: GoroutineReport, *, max_groups: int = 20) -> str:
    """What a person reads: findings first, then the largest groups."""
    out: list[str] = []
    dump = report.dump
    states = ", ".join(f"{n} {s}" for s, n in sorted(state_counts(dump).items(),
                                                      key=lambda kv: -kv[1]))
    out.append(f"{len(dump.goroutines)} goroutines in {len(report.groups)} groups ({states})")
    out.extend(f"warning: {w}" for w in dump.warnings)
    out.extend(f"note: {n}" for n in report.notes)
    for d in report.deadlocks:
        out.append(f"DEADLOCK ({d.confidence}): " + " <-> ".join(d.functions))
        out.extend(f"  goroutine {m.goroutine} {m.function}: holds {m.holds} "
                   f"(taken at {m.held_since.file}:{m.held_since.line}), wants {m.wants} "
                   f"(at {m.waits_at.file}:{m.waits_at.line})" for m in d.members)
        out.extend(f"  - {e}" for e in d.evidence)
    for c in report.leaks:
        out.append(f"LEAK: {c.name}: {c.before} -> {c.after} goroutines (+{c.after - c.before}),"
                   f" {'/'.join(c.states)}")
        if c.stack.created_by:
            out.append(f"  created by {c.stack.created_by.function}")
    if report.changes is not None and not report.leaks:
        out.append(f"no goroutine leak against {report.base}")
    if report.blocked:
        out.append(f"BLOCKED over {report.blocked_minutes:g} min: {len(report.blocked)}")
        out.extend(f"  goroutine {b.goroutine.id} [{b.goroutine.state}, "
                   f"{b.goroutine.wait_minutes} min] on {b.on} in "
                   f"{b.to_json()['function']}" for b in report.blocked[:max_groups])
    out.append("")
    out.append(f"{'count':>7}  {'state':<22} {'wait':>9}  function (location)  created by")
    for g in report.groups[:max_groups]:
        wait = "" if g.max_wait == 0 else (f"{g.min_wait}-{g.max_wait}m"
                                            if g.min_wait != g.max_wait else f"{g.max_wait}m")
        culprit = g.stack.culprit
        where = f" ({culprit.where()})" if culprit else ""
        created = g.stack.created_by.function if g.stack.created_by else "-"
        out.append(f"{g.count:>7}  {g.state[:22]:<22} {wait:>9}  {g.name}{where}  {created}")
    if len(report.groups) > max_groups:
        out.append(f"... {len(report.groups) - max_groups} more groups (--json lists all)")
    return "\n".join(printable(line) for line in out) + "\n"
