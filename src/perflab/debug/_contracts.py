"""The ``--json`` documents of the debug commands as TypedDicts, one per schema in docs/schemas/
(``leak.schema.json``: ``LeakReport``; ``memcheck.schema.json``: ``MemcheckReport``;
``goroutines.schema.json``: ``GoroutinesReport``; ``race.schema.json``: ``RaceReportDoc``;
``stacks.schema.json``: ``StacksReportDoc``; ``gotrace.schema.json``: ``GotraceReport``)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

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
    function: str
    file: str
    line: int


class WaitMinutesDoc(TypedDict):
    min: int
    max: int


class GoroutineGroupDoc(TypedDict):
    count: int
    state: str
    function: str
    location: str | None
    wait_minutes: WaitMinutesDoc
    blocked_on: str | None
    ids: list[int]
    locked_to_thread: int
    frames: list[GoFrameDoc]
    created_by: GoFrameDoc | None


class GoroutineDiffDoc(TypedDict):
    base: str
    changes: list[dict[str, Any]]
    leaks: int


class GoroutineBlockedDoc(TypedDict):
    over_minutes: float
    goroutines: list[dict[str, Any]]


class GoroutinesReport(TypedDict):
    schema: Literal["perflab.goroutines/1"]
    run: int
    source: str
    goroutines: int
    states: dict[str, int]
    preamble: str
    warnings: list[str]
    notes: list[str]
    groups: list[GoroutineGroupDoc]
    diff: GoroutineDiffDoc | None
    blocked: GoroutineBlockedDoc | None
    deadlocks: list[dict[str, Any]]
    found: bool


class RaceGroupDoc(TypedDict):
    count: int
    functions: list[str]
    sites: list[str]
    accesses: list[dict[str, Any]]
    created: list[dict[str, Any]]
    goroutines: list[int]


class RaceReportDoc(TypedDict):
    schema: Literal["perflab.race/1"]
    run: int
    source: str
    exit_status: int | None
    reports: int
    summary: str | None
    warnings: list[str]
    groups: list[RaceGroupDoc]
    found: bool


class StacksReportDoc(TypedDict):
    schema: Literal["perflab.stacks/1"]
    run: int
    pid: int
    source: str
    threads: list[dict[str, Any]]
    wait_for: list[dict[str, Any]]
    deadlocks: list[dict[str, Any]]
    inversions: list[dict[str, Any]]
    long_holds: list[dict[str, Any]]
    notes: list[str]
    found: bool


class GotraceReport(TypedDict):
    schema: Literal["perflab.gotrace/1"]
    run: int
    source: str
    profiles: list[dict[str, Any]]
    graphs: dict[str, str]
