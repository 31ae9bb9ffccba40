"""The ``--json`` documents of the debug commands as TypedDicts, one per schema in docs/schemas/
(``leak.schema.json``: ``LeakReport``; ``memcheck.schema.json``: ``MemcheckReport``;
``goroutines.schema.json``: ``GoroutinesReport``; ``race.schema.json``: ``RaceReportDoc``;
``stacks.schema.json``: ``StacksReportDoc``; ``gotrace.schema.json``: ``GotraceReport``)."""

# no ``from __future__ import annotations`` here: TypedDict sees NotRequired only in evaluated
# annotations (test_contracts reads __required_keys__)
from typing import Literal, NotRequired, TypedDict

LeakVerdict = Literal["leak", "no leak", "not enough data"]


class LeakTargetDoc(TypedDict):
    pid: int | None
    url: str | None


class LeakLimitDoc(TypedDict):
    kind: Literal["cgroup", "machine"]
    bytes: int
    headroom_bytes: int
    where: str
    hours: float | None


class LeakSeriesDoc(TypedDict):
    name: Literal["rss", "pss", "heap_inuse", "heap_objects", "traced", "objects"]
    title: str
    unit: Literal["bytes", "objects"]
    verdict: LeakVerdict
    slope_per_s: float
    growth_per_h: float
    p_value: float | None
    points: int
    period_s: float | None
    reason: str
    samples: int
    warmup_samples: int
    first: float
    last: float


class LeakSiteDoc(TypedDict):
    rank: int
    function: str
    file: str
    line: int
    growth_bytes: int
    growth_mb_per_h: float
    objects_growth: int
    bytes: int
    stack: list[str]


class LeakRunDoc(TypedDict):
    id: int


class LeakReport(TypedDict):
    schema: Literal["perflab.leak/1"]
    target: LeakTargetDoc
    duration_s: float
    interval_s: float
    warmup_s: float
    min_growth_bytes: float
    verdict: LeakVerdict
    reason: str
    growth_mb_per_h: float
    limit: LeakLimitDoc | None
    series: list[LeakSeriesDoc]
    site_source: str | None
    snapshots: int
    sites: list[LeakSiteDoc]
    ended_early: str | None
    notes: list[str]
    run: LeakRunDoc


class MemFrameDoc(TypedDict):
    function: str
    file: str
    line: int
    object: str


class MemCrashDoc(TypedDict):
    signal: str
    what: str
    stack: list[MemFrameDoc]


class MemGroupDoc(TypedDict):
    kind: str
    what: str
    count: int
    bytes: int
    blocks: int
    fails: bool
    function: str
    stack: list[MemFrameDoc]


class MassifDoc(TypedDict):
    time_unit: str
    peak_bytes: int
    peak_extra_bytes: int
    peak_snapshot: int
    peak_time: int
    timeline: list[list[int]]


class MemcheckReport(TypedDict):
    schema: Literal["perflab.memcheck/1"]
    source: Literal["valgrind memcheck", "valgrind massif", "asan log"]
    command: list[str] | None
    exit_code: int | None
    crash: MemCrashDoc | None
    errors: int
    groups: list[MemGroupDoc]
    leak_summary: dict[str, int]
    failing: bool
    massif: MassifDoc | None
    notes: list[str]
    run: LeakRunDoc


class GoFrameDoc(TypedDict):
    """A Go frame; also a deadlock member's ``held_since``/``waits_at`` site (same shape)."""

    function: str
    file: str
    line: int


class WaitMinutesDoc(TypedDict):
    min: int
    max: int


class GoStackDoc(TypedDict):
    """What every view of a goroutine stack shows (a group, a change)."""

    function: str
    location: str | None
    frames: list[GoFrameDoc]
    created_by: GoFrameDoc | None


class GoroutineGroupDoc(GoStackDoc):
    count: int
    state: str
    wait_minutes: WaitMinutesDoc
    blocked_on: str | None
    ids: list[int]
    locked_to_thread: int


class GoroutineChangeDoc(GoStackDoc):
    states: list[str]
    before: int
    after: int
    growth: int
    new_ids: list[int]
    leak: bool


class GoroutineDiffDoc(TypedDict):
    base: str
    changes: list[GoroutineChangeDoc]
    leaks: int


class GoroutineBlockedOneDoc(TypedDict):
    id: int
    state: str
    blocked_on: str
    wait_minutes: int
    function: str | None
    location: str | None


class GoroutineBlockedDoc(TypedDict):
    over_minutes: float
    goroutines: list[GoroutineBlockedOneDoc]


# A Go finding is never "certain" (only an owner-tracking agent proves who holds a lock): that
# is the Python threads' ThreadDeadlockDoc.
DeadlockConfidence = Literal["likely", "possible"]


class DeadlockMemberDoc(TypedDict):
    goroutine: int
    function: str
    holds: str
    held_since: GoFrameDoc
    wants: str
    waits_at: GoFrameDoc
    wait_minutes: int


class DeadlockDoc(TypedDict):
    confidence: DeadlockConfidence
    members: list[DeadlockMemberDoc]
    evidence: list[str]
    stuck_behind: int
    summary: str


class GoroutinesBody(TypedDict):
    """``GoroutinesReport`` before it is stored: the run and the schema name come after."""

    source: str
    goroutines: int
    states: dict[str, int]
    preamble: str
    warnings: list[str]
    notes: list[str]
    groups: list[GoroutineGroupDoc]
    diff: GoroutineDiffDoc | None
    blocked: GoroutineBlockedDoc | None
    deadlocks: list[DeadlockDoc]
    found: bool


class GoroutinesReport(GoroutinesBody):
    schema: Literal["perflab.goroutines/2"]
    run: int


RaceAccessKind = Literal["read", "write"]


class RaceAccessDoc(TypedDict):
    kind: RaceAccessKind
    previous: bool
    address: str
    goroutine: int | None
    function: str | None
    location: str | None
    frames: list[GoFrameDoc]


class RaceCreatedDoc(TypedDict):
    goroutine: int
    status: str
    frames: list[GoFrameDoc]


class RaceGroupDoc(TypedDict):
    count: int
    functions: list[str]
    sites: list[str]
    accesses: list[RaceAccessDoc]
    created: list[RaceCreatedDoc]
    goroutines: list[int]


class RaceBody(TypedDict):
    """``RaceReportDoc`` before it is stored: the run and the schema name come after."""

    source: str
    exit_status: int | None
    reports: int
    summary: str | None
    warnings: list[str]
    groups: list[RaceGroupDoc]
    found: bool


class RaceReportDoc(RaceBody):
    schema: Literal["perflab.race/1"]
    run: int


StacksSource = Literal["agent", "py-spy"]


class PyFrameDoc(TypedDict):
    function: str
    file: str
    line: int
    locals: NotRequired[dict[str, str]]


class PyThreadDoc(TypedDict):
    thread: int
    name: str
    active: bool | None
    waits_for: str | None
    holds: list[str]
    function: str
    frames: list[PyFrameDoc]


class WaitForDoc(TypedDict):
    waiter: int
    holder: int
    lock: str


class ThreadDeadlockDoc(TypedDict):
    confidence: Literal["certain"]
    threads: list[int]
    functions: list[str]


class LockOrderDoc(TypedDict):
    thread: str
    holds_site: str
    takes_site: str
    stack: list[str]


class LockInversionDoc(TypedDict):
    """lockwatch's inversion, as the agent's ``/locks`` answers it."""

    locks: list[str]
    now: LockOrderDoc
    before: LockOrderDoc
    functions: list[str]


class LongHoldDoc(TypedDict):
    site: str
    lock: str
    count: int
    max_s: float


class StacksBody(TypedDict):
    """``StacksReportDoc`` before it is stored: the run and the schema name come after."""

    pid: int
    source: StacksSource
    threads: list[PyThreadDoc]
    wait_for: list[WaitForDoc]
    deadlocks: list[ThreadDeadlockDoc]
    inversions: list[LockInversionDoc]
    long_holds: list[LongHoldDoc]
    notes: list[str]
    found: bool


class StacksReportDoc(StacksBody):
    schema: Literal["perflab.stacks/1"]
    run: int


GotraceKind = Literal["net", "sync", "syscall", "sched"]


class GotraceTopDoc(TypedDict):
    function: str
    seconds: float


class GotraceProfileDoc(TypedDict):
    kind: GotraceKind
    title: str
    total_seconds: float
    samples: int
    error: str | None
    top: list[GotraceTopDoc]


class GotraceProfilesDoc(TypedDict):
    """What ``go tool trace`` gave (``TraceProfiles.to_json``); the graphs are added after."""

    source: str
    profiles: list[GotraceProfileDoc]


class GotraceBody(GotraceProfilesDoc):
    graphs: dict[str, str]


class GotraceReport(GotraceBody):
    schema: Literal["perflab.gotrace/1"]
    run: int
