"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (api-load, load, load-compare).

tests/unit/test_contracts.py checks each against its schema; the builders (LoadResult.to_json,
Threshold.check, load_view, compare_runs, and perflab.trace's load_coverage) return them, so
mypy checks what they build.
"""

from typing import Any, Literal, NotRequired, TypedDict


class ApiLoadFigures(TypedDict):
    count: int
    min: float | None
    mean: float | None
    p50: float | None
    p90: float | None
    p99: float | None
    p999: float | None
    max: float | None


class ApiLoadThreshold(TypedDict):
    threshold: str
    metric: NotRequired[str]
    op: NotRequired[str]
    passed: bool
    actual: float | None
    limit: NotRequired[float]
    unit: str
    test: NotRequired[str | None]


class ApiLoadSpectrum(TypedDict):
    """HdrHistogram's percentile ladder (the .hgrm lines without the 100 % one): percentile 0-100,
    x = 1/(1-p) for a log axis, the value in ms.
    """

    percentile: list[float]
    x: list[float]
    ms: list[float]


class ApiLoadGroupSpectrum(TypedDict):
    latency: ApiLoadSpectrum
    service_time: ApiLoadSpectrum | None


class ApiLoadGroupHistogram(TypedDict):
    """Log-spaced bars between the fastest and the slowest request."""

    lower_ms: list[float]
    upper_ms: list[float]
    count: list[int]


class ApiLoadGroup(TypedDict):
    labels: dict[str, str]
    tests: int
    requests: int
    duration_s: float
    rps: float | None
    latency_ms: ApiLoadFigures
    service_time_ms: ApiLoadFigures | None
    status_codes: dict[str, int]
    errors: dict[str, int]
    error_rate: float
    dropped: int
    thresholds: list[ApiLoadThreshold]
    spectrum: ApiLoadGroupSpectrum
    histogram: ApiLoadGroupHistogram


class ApiLoadDoc(TypedDict):
    """The load tests of a run read back (GET /api/runs/{id}/load): per group of tests with the
    same labels, the summary, the thresholds, the percentile spectrum and the latency histogram.
    Latencies in milliseconds.
    """

    schema: Literal["perflab.api.load/1"]
    run_id: int
    groups: list[ApiLoadGroup]


class LoadLatency(ApiLoadFigures):
    """A latency distribution; null figures when nothing was measured."""

    stdev: float | None


LoadStatus = Literal["ok", "aborted", "failed"]
PhaseName = Literal["connect", "tls", "ttfb"]


class LoadPhasesMs(TypedDict):
    connect: NotRequired[LoadLatency]
    tls: NotRequired[LoadLatency]
    ttfb: NotRequired[LoadLatency]


ThresholdOp = Literal["<", "<=", ">", ">=", "=="]
ThresholdUnit = Literal["ms", "ratio", "/s", "count"]


class LoadThreshold(TypedDict):
    threshold: str
    metric: str
    op: ThresholdOp
    limit: float
    actual: float | None
    unit: ThresholdUnit
    passed: bool


class LoadChecksValue(TypedDict):
    passed: int
    failed: int


class LoadRequestsByNameValue(TypedDict):
    requests: int
    failed: int
    latency_ms: LoadLatency


class LoadTracingRouteDoc(TypedDict):
    path: str
    requests: int
    traces: int
    traced_pct: float | None


class LoadSlowTraceDoc(TypedDict):
    trace_id: str
    duration_ms: float
    path: str


class LoadTracingDoc(TypedDict):
    """What share of a load test's requests produced a trace (perflab.trace's coverage scan)."""

    requests: int
    traces: int
    traced_pct: float | None
    routes: list[LoadTracingRouteDoc]
    untraced_routes: list[str]
    complete_pct: float | None
    uninstrumented_calls: list[dict[str, Any]]
    slowest_traces: list[LoadSlowTraceDoc]


class LoadMissingShare(TypedDict):
    """A distributed test's share that was not measured: its Dask worker, which of the
    test's worker shares it held (``first`` .. ``first + count - 1``), and why."""

    worker: str
    first: int
    count: int
    reason: str


class LoadClusterJson(TypedDict):
    """A test run on a Dask cluster (``--cluster``): ``shares`` load processes over
    ``dask_workers`` tasks; ``partial`` when some of them were not measured (``missing``)."""

    address: str
    dask_workers: int
    shares: int
    partial: bool
    missing: list[LoadMissingShare]


class LoadSummaryJson(TypedDict):
    """A load test's figures (``LoadResult.to_json``): the document below without its schema
    and tracing, as the store keeps it (a load run's ``summary`` meta)."""

    run_id: int | None
    status: LoadStatus
    url: str
    model: Literal["closed", "open"]
    workers: int
    connections: int
    target_rate: float | None
    requests: int
    duration_s: float
    rps: float
    latency_ms: LoadLatency
    service_time_ms: LoadLatency
    phases_ms: LoadPhasesMs
    status_codes: dict[str, int]
    errors: dict[str, int]
    error_rate: float
    dropped: int
    thresholds: list[LoadThreshold]
    warnings: list[str]
    worker_max_rss_bytes: int
    checks: NotRequired[dict[str, LoadChecksValue]]
    requests_by_name: NotRequired[dict[str, LoadRequestsByNameValue]]
    target_reached: bool | None
    lateness_ms: LoadLatency | None
    scheduled: int
    late: int
    unfinished: int
    drain_s: float
    cluster: NotRequired[LoadClusterJson]


class LoadCoverageAgainst(TypedDict):
    source: Literal["access-log", "har", "jmx", "traces"]
    path: str
    format: str
    requests: int
    endpoints: int


class LoadCoverageEndpoint(TypedDict):
    endpoint: str
    requests: int
    share_pct: float
    covered_by: str | None  # the scenario's endpoint that covers it


class LoadCoverageDoc(TypedDict):
    """``perflab load coverage --json`` (docs/schemas/load-coverage.schema.json); also the
    ``coverage`` of a load run given ``--coverage-against``."""

    schema: Literal["perflab.load-coverage/1"]
    scenario: str
    against: LoadCoverageAgainst
    coverage_pct: float | None
    target_pct: float
    meets_target: bool
    endpoints: list[LoadCoverageEndpoint]
    missed: list[LoadCoverageEndpoint]
    not_in_production: list[str]
    notes: list[str]


class LoadDoc(LoadSummaryJson):
    """The result of one load test (perflab.load/5). Latencies in milliseconds. History: 5 -
    coverage added (--coverage-against: the share of production requests exercised), and
    cluster (a test run on a Dask cluster: its shares, partial, the missing ones). 4 -
    tracing.slowest_traces added. 3 - tracing added (the share of requests traced). 2 -
    dropped counts arrivals never sent (was: late starts); late, scheduled, unfinished,
    target_reached, lateness_ms and drain_s added; unsent removed (now dropped); rps is requests
    / duration_s; requests_by_name gives requests, failed and latency_ms. 1 - first version.
    """

    schema: Literal["perflab.load/5"]
    tracing: LoadTracingDoc | None
    coverage: LoadCoverageDoc | None


class LoadCompareRun(TypedDict):
    id: int
    name: str
    status: str
    url: str | None


CompareUnit = Literal["", "ms", "/s", "ratio"]
Verdict = Literal["better", "worse", "same"]


class LoadCompareRow(TypedDict):
    metric: str
    label: str
    unit: CompareUnit
    a: float | None
    b: float | None
    delta: float | None
    delta_pct: float | None
    verdict: Verdict | None


class LoadCompareDoc(TypedDict):
    """Two load runs side by side (perflab.load-compare/2); deltas are B - A. History: 2 -
    same_experiment and differences added; no verdict between different experiments, none ever
    on the request count; late row added. 1 - first version.
    """

    schema: Literal["perflab.load-compare/2"]
    a: LoadCompareRun
    b: LoadCompareRun
    rows: list[LoadCompareRow]
    same_experiment: bool
    differences: list[str]


# ``usl`` of ``perflab load capacity --json`` (null when there was nothing to fit); the
# functional form because "lambda" is a keyword
LoadCapacityUsl = TypedDict("LoadCapacityUsl", {
    "sigma": float,
    "kappa": float,
    "lambda": float,
    "sigma_stderr": float | None,
    "kappa_stderr": float | None,
    "lambda_stderr": float | None,
    "rmse": float,  # of the fitted throughput against the measured, in /s
    "r2": float | None,
    "peak_n": float | None,  # where throughput is highest (None: no coherency cost)
    "points": list[list[float]],  # the measured [n, throughput] pairs
    "predicted": list[list[float]],  # [n, throughput] at 1, 2, 4 ... to 4x the largest n
})


CapacityStatus = Literal["ok", "failed", "aborted"]
CapacityResource = Literal["cpu", "memory", "concurrency", "unknown", "none"]


class CapacityPoint(TypedDict):
    """One step of the search: a point of the latency-vs-throughput curve."""

    step: int
    rate: float            # the arrival rate asked for, /s
    rps: float             # achieved responses per second
    p50_ms: float | None
    p99_ms: float | None
    error_rate: float
    passed: bool
    failed: list[str]      # the thresholds it missed (and "target rate not reached")
    cpu_pct: float | None  # the target's processes, summed, % of one core
    rss_bytes: int | None
    threads: int | None    # the target's threads: how many cores its CPU can use
    duration_s: float


class CapacityKnee(TypedDict):
    rate: float | None     # the highest rate that met every threshold (None: not even the first)
    rps: float | None      # what was achieved at it
    resource: CapacityResource
    upper_rate: float | None  # the lowest rate that failed (None: none failed)


class LoadCapacityDoc(TypedDict):
    """``perflab load capacity --json`` (docs/schemas/load-capacity.schema.json)."""

    schema: Literal["perflab.load-capacity/2"]
    run_id: int
    url: str
    scenario: str | None   # the scenario file driven (its rates scaled), None for a URL
    status: CapacityStatus
    thresholds: list[str]
    pids: list[int]
    scale_param: float | None
    search_s: float
    knee: CapacityKnee
    curve: list[CapacityPoint]
    usl: LoadCapacityUsl | None
    warnings: list[str]


class LoadImportEndpoint(TypedDict):
    """One endpoint of the imported mix (method + path template)."""

    endpoint: str
    method: str
    template: str
    requests: int
    share_pct: float
    body_bytes_mean: float
    body_bytes_max: int
    response_bytes_mean: float | None
    statuses: dict[str, int]


class LoadImportFlow(TypedDict):
    """A JMeter thread group as a closed scenario."""

    name: str
    users: int
    steps: int


class LoadImportUnmapped(TypedDict):
    where: str
    element: str
    reason: str


class LoadImportDoc(TypedDict):
    """``perflab load import --json`` (docs/schemas/load-import.schema.json)."""

    schema: Literal["perflab.load-import/1"]
    source: Literal["access-log", "har", "jmx", "traces"]
    path: str
    format: str
    output: str | None
    replay: bool
    requests: int
    span_s: float | None
    rate_per_s: float | None
    base_url: str | None
    endpoints: list[LoadImportEndpoint]
    flows: list[LoadImportFlow]
    run_args: list[str]
    unmapped: list[LoadImportUnmapped]
