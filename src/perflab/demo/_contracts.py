"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (demo).

tests/unit/test_contracts.py checks each against its schema; the functions that build the
documents are annotated with them, so mypy checks what they build.
"""

from typing import Any, Literal, NotRequired, TypedDict


class DemoService(TypedDict):
    pid: int
    port: int


DemoPhaseName = Literal["normal", "cpu", "lock", "leak"]


class DemoPhase(TypedDict):
    name: DemoPhaseName
    start_ns: int
    end_ns: int
    seconds: float


class DemoCpuServiceCpuPct(TypedDict):
    """Mean CPU of the service, % of one core, in the normal and the CPU phase."""

    normal: float | None
    hot: float | None


class DemoCpu(TypedDict):
    kind: Literal["cpu"]
    service_cpu_pct: DemoCpuServiceCpuPct
    cpu_ms_per_request: DemoCpuServiceCpuPct
    latency_p50_ms: DemoCpuServiceCpuPct
    latency_ratio: float | None
    other_endpoints: dict[str, float]
    detected: bool
    endpoint: str | None
    summary: str


class DemoLockLevel(TypedDict):
    concurrency: int
    latency_p50_ms: float
    rps: float


class DemoLock(TypedDict):
    kind: Literal["lock"]
    levels: list[DemoLockLevel]
    latency_ratio: float | None
    throughput_ratio: float | None
    hold_ms: float | None
    service_cpu_pct: float | None
    detected: bool
    endpoint: str | None
    summary: str


class DemoLeakRssBytes(TypedDict):
    first: float | None
    last: float | None


class DemoLeak(TypedDict):
    kind: Literal["leak"]
    slope_bytes_per_min: float | None
    slope_mib_per_min: float | None
    r2: float | None
    rss_bytes: DemoLeakRssBytes
    baseline_slope_bytes_per_min: float | None
    detected: bool
    endpoint: str | None
    summary: str


class DemoThresholdsCheck(TypedDict):
    test: str
    endpoint: str | None
    threshold: str
    passed: bool
    actual: float | None
    unit: str


class DemoThresholds(TypedDict):
    """The load engine's thresholds on the demo's traffic; detected when one was missed (the demo
    still exits 0 unless --fail-on-threshold).
    """

    kind: Literal["thresholds"]
    checks: list[DemoThresholdsCheck]
    detected: bool
    endpoint: str | None
    summary: str


class DemoSide(TypedDict):
    version: Literal["v1", "v2"]
    commit: str
    run_id: int
    median_s: float
    n: int


class DemoRegression(TypedDict):
    kind: Literal["regression"]
    benchmark: str
    unit: str
    branch: str
    old: DemoSide
    new: DemoSide
    delta_pct: float | None
    ratio: float | None
    pvalue: float
    significant: bool
    alpha: float
    seconds: float
    detected: bool
    endpoint: str | None
    summary: str


class DemoRange(TypedDict):
    label: str
    start_ns: int
    end_ns: int


class DemoProfileRanges(TypedDict):
    """The ranges compared: a = the normal phase, b = the CPU phase."""

    a: DemoRange | None
    b: DemoRange | None


class DemoProfile(TypedDict):
    kind: Literal["profile"]
    function: str | None
    share_pct: DemoCpuServiceCpuPct
    growth_pp: float | None
    top_in_cpu_phase: str | None
    top_share_pct: float | None
    ranges: DemoProfileRanges
    note: str | None
    detected: bool
    endpoint: str | None
    summary: str


class DemoTraceDetails(TypedDict):
    """What a trace finding adds: the slow call's operation and share, or the error path's."""

    operation: NotRequired[str | None]
    share: NotRequired[float | None]
    delta_ns: NotRequired[float]
    slow_traces: NotRequired[list[str]]
    failed: NotRequired[int]
    traces: NotRequired[int]
    example: NotRequired[str]


class DemoTraceFinding(DemoTraceDetails):
    kind: Literal["slow call", "error path"]
    detected: bool
    endpoint: str | None
    summary: str


class DemoResilienceCheck(TypedDict):
    """One check of the resilience step's hypothesis: the checkouts' p99 and error rate."""

    met: bool
    p99_ms: float | None
    error_rate: float | None
    requests: int


class DemoResilience(TypedDict):
    """One toxic of the resilience step, and whether the chain survived it."""

    kind: Literal["resilience"]
    toxic: Literal["latency", "errors"]
    detected: bool
    endpoint: Literal["/checkout"]
    survived: bool | None
    summary: str
    hypothesis: list[str]
    toxic_body: dict[str, Any]
    before: DemoResilienceCheck
    during: DemoResilienceCheck | None


class DemoFindings(TypedDict):
    cpu: DemoCpu
    lock: DemoLock
    leak: DemoLeak
    thresholds: DemoThresholds
    regression: DemoRegression | None
    profile: NotRequired[DemoProfile]
    slow_call: NotRequired[DemoTraceFinding]
    error_path: NotRequired[DemoTraceFinding]
    resilience: NotRequired[list[DemoResilience]]


class DemoDoc(TypedDict):
    """One demo run: where it is, its phases, and what the measurements show. Version history: 1 —
    first version; 1 + `bench_url` and `findings.regression` (the benchmark check), added fields
    only; 1 + `findings.thresholds` (the load engine's thresholds on the demo's traffic), an
    added field only; 1 + `findings.profile` (the hot function from py-spy), an added field
    only; 1 + `findings.resilience` (the latency and error toxics), an added field only.
    """

    schema: Literal["perflab.demo/1"]
    run_id: int
    status: Literal["ok", "aborted"]
    store: str
    service: DemoService
    hub_url: str | None
    url: str | None
    report: str | None
    bench_url: str | None
    phases: list[DemoPhase]
    findings: DemoFindings | None
    notes: list[str]
