"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (api-load, load, load-compare).

tests/unit/test_contracts.py checks each against its schema. The builders (LoadResult.to_json,
load_view, compare_runs) still return plain dicts: the load engine is being rewritten, and
annotating them comes with it (then mypy checks what they build).
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


class LoadPhasesMs(TypedDict):
    connect: NotRequired[LoadLatency]
    tls: NotRequired[LoadLatency]
    ttfb: NotRequired[LoadLatency]


class LoadThreshold(TypedDict):
    threshold: str
    metric: str
    op: Literal["<", "<=", ">", ">=", "=="]
    limit: float
    actual: float | None
    unit: Literal["ms", "ratio", "/s", "count"]
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


class LoadDoc(TypedDict):
    """The result of one load test (perflab.load/4). Latencies in milliseconds. History: 4 -
    tracing.slowest_traces added. 3 - tracing added (the share of requests traced). 2 -
    dropped counts arrivals never sent (was: late starts); late, scheduled, unfinished,
    target_reached, lateness_ms and drain_s added; unsent removed (now dropped); rps is requests
    / duration_s; requests_by_name gives requests, failed and latency_ms. 1 - first version.
    """

    schema: Literal["perflab.load/4"]
    run_id: int | None
    status: Literal["ok", "aborted", "failed"]
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
    tracing: LoadTracingDoc | None


class LoadCompareRun(TypedDict):
    id: int
    name: str
    status: str
    url: str | None


class LoadCompareRow(TypedDict):
    metric: str
    label: str
    unit: Literal["", "ms", "/s", "ratio"]
    a: float | None
    b: float | None
    delta: float | None
    delta_pct: float | None
    verdict: Literal["better", "worse", "same"] | None


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
