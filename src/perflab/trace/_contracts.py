"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (api-trace, api-trace_diff, api-trace_search, api-trace_services, api-trace_stats,
jaeger-dependencies, jaeger-services, jaeger-traces, trace-coverage, trace-critical-path, trace-
diff, trace-ls, trace-show).

tests/unit/test_contracts.py checks each against its schema. The builders of the documents'
bodies (trace/_views.py, the models' to_json, the diff, the Jaeger API's envelopes and UI
model) return these (the ``...Json`` bases without the schema their caller puts first), so
mypy checks what they build.
"""

from typing import Any, Literal, NotRequired, TypedDict


class TraceSummaryJson(TypedDict):
    """A trace as lists show it: when, how long, how many spans and errors, its root."""

    trace_id: str
    start_ns: int
    duration_ns: int
    spans: int
    errors: int
    services: list[str]
    root_service: str
    root_name: str
    broken: bool


class ApiTraceTrace(TraceSummaryJson):
    truncated: bool


ApiTraceSpanKind = Literal[
    "unspecified", "internal", "server", "client", "producer", "consumer",
]


class ApiTraceSpanEvent(TypedDict):
    ts_ns: int
    name: str
    attrs: dict[str, Any]


class SpanJson(TypedDict):
    """A span as ``Span.to_json`` gives it (the documents add its critical-path time)."""

    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    name: str
    kind: ApiTraceSpanKind
    start_ns: int
    duration_ns: int
    status: Literal["unset", "ok", "error"]
    status_message: str
    attrs: dict[str, Any]
    events: list[ApiTraceSpanEvent]
    links: list[dict[str, Any]]
    warnings: list[str]


class ApiTraceSpan(SpanJson):
    critical_ns: int


class ApiTraceSection(TypedDict):
    span_id: str
    start_ns: int
    end_ns: int


class TraceJson(TypedDict):
    """One trace (``trace_document``): the body of trace show and of GET /api/trace/traces/{id}."""

    trace: ApiTraceTrace
    spans: list[ApiTraceSpan]
    critical_path: list[ApiTraceSection]
    warnings: list[str]


class ApiTraceDoc(TraceJson):
    """GET /api/trace/traces/{id}: the same document as perflab trace show --json."""

    schema: Literal["perflab.api.trace/1"]


class ApiTraceDiffLabels(TypedDict):
    a: str
    b: str


class ApiTraceDiffGroup(TypedDict):
    traces: int
    latency_ns: float


class ApiTraceDiffOp(TypedDict):
    service: str
    operation: str
    a_ns: float
    b_ns: float
    delta_ns: float
    a_spans: float
    b_spans: float
    share: float | None


class ApiTraceDiffRow(TypedDict):
    path: str
    depth: int
    service: str
    operation: str
    a_offset_ns: float | None
    a_duration_ns: float | None
    b_offset_ns: float | None
    b_duration_ns: float | None
    a_critical_ns: float
    b_critical_ns: float


class TraceDiffFigures(TypedDict):
    """What ``TraceDiff.to_json`` gives: the groups, their difference, by operation and path."""

    a: ApiTraceDiffGroup
    b: ApiTraceDiffGroup
    delta_ns: float
    operations: list[ApiTraceDiffOp]
    waterfall: list[ApiTraceDiffRow]


class TraceDiffJson(TraceDiffFigures):
    mode: Literal["traces", "runs", "slowest"]
    labels: ApiTraceDiffLabels
    a_traces: list[str]
    b_traces: list[str]


class ApiTraceDiffDoc(TraceDiffJson):
    """GET /api/trace/diff: the same document as perflab trace diff --json."""

    schema: Literal["perflab.api.trace_diff/1"]


class ApiTraceSearchQuery(TypedDict):
    service: str | None
    operation: str | None
    tags: dict[str, str]
    start_ns: int | None
    end_ns: int | None
    min_duration_ns: int | None
    max_duration_ns: int | None
    limit: int


class TraceLsJson(TypedDict):
    query: ApiTraceSearchQuery
    traces: list[TraceSummaryJson]


class ApiTraceSearchDoc(TraceLsJson):
    """GET /api/trace/search: the same document as perflab trace ls --json."""

    schema: Literal["perflab.api.trace_search/1"]


class ApiTraceServicesBucket(TypedDict):
    start_ns: int
    calls: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class ApiTraceServicesRedop(TypedDict):
    service: str
    operation: str
    kind: str
    calls: int
    errors: int
    rate_per_s: float
    error_pct: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    buckets: list[ApiTraceServicesBucket]


class ApiTraceServicesRed(TypedDict):
    step_ns: int
    sampled: bool
    operations: list[ApiTraceServicesRedop]


class TraceCoverageJson(TypedDict):
    """``coverage_document``: the coverage of a window, without the window."""

    traces: int
    spans_read: int
    sampled: bool
    complete_traces: int
    complete_pct: float | None
    operations: list[dict[str, Any]]
    uninstrumented_calls: list[dict[str, Any]]
    broken_traces: list[dict[str, Any]]
    broken_count: int


class ApiTraceServicesJson(TypedDict):
    start_ns: int
    end_ns: int
    edges: list[dict[str, Any]]
    red: ApiTraceServicesRed
    coverage: TraceCoverageJson


class ApiTraceServicesDoc(ApiTraceServicesJson):
    """GET /api/trace/services: dependency edges, RED per operation over the window, coverage."""

    schema: Literal["perflab.api.trace_services/1"]


class ApiTraceStatsDoc(TypedDict):
    """GET /api/trace/stats: what the receivers took and refused, the ingest queue, forwarding."""

    schema: Literal["perflab.api.trace_stats/1"]
    receivers: dict[str, Any]
    ingest: NotRequired[dict[str, Any]]
    forward: NotRequired[dict[str, Any]]
    red_overflowed: int


class JaegerDependenciesData(TypedDict):
    parent: str
    child: str
    callCount: int


class JaegerError(TypedDict):
    code: NotRequired[int]
    msg: str
    traceID: NotRequired[str]


class JaegerDependenciesDoc(TypedDict):
    """GET /api/dependencies?endTs=&lookback=: calls from one service to another."""

    data: list[JaegerDependenciesData]
    total: int
    limit: int
    offset: int
    errors: list[JaegerError] | None


class JaegerServicesData(TypedDict):
    name: str
    spanKind: str


class JaegerServicesDoc(TypedDict):
    """GET /api/services, /api/services/{service}/operations (names) and /api/operations ({name,
    spanKind}).
    """

    data: list[str | JaegerServicesData]
    total: int
    limit: int
    offset: int
    errors: list[JaegerError] | None


class JaegerTracesSpanReference(TypedDict):
    refType: Literal["CHILD_OF", "FOLLOWS_FROM"]
    traceID: str
    spanID: str


class JaegerTracesKeyValue(TypedDict):
    key: str
    type: Literal["string", "bool", "int64", "float64", "binary"]
    value: Any


class JaegerTracesSpanLog(TypedDict):
    timestamp: int
    fields: list[JaegerTracesKeyValue]


class JaegerTracesSpan(TypedDict):
    traceID: str
    spanID: str
    flags: NotRequired[int]
    operationName: str
    references: list[JaegerTracesSpanReference]
    startTime: int
    duration: int
    tags: list[JaegerTracesKeyValue]
    logs: list[JaegerTracesSpanLog]
    processID: str
    warnings: list[str] | None


class JaegerTracesTraceProcessesValue(TypedDict):
    serviceName: str
    tags: list[JaegerTracesKeyValue]


class JaegerTracesTrace(TypedDict):
    traceID: str
    spans: list[JaegerTracesSpan]
    processes: dict[str, JaegerTracesTraceProcessesValue]
    warnings: list[str] | None


class JaegerTracesDoc(TypedDict):
    """GET /api/traces and /api/traces/{id}: Jaeger's structuredResponse holding traces in its UI
    model (jaeger internal/uimodel).
    """

    data: list[JaegerTracesTrace] | None
    total: int
    limit: int
    offset: int
    errors: list[JaegerError] | None


class TraceCoverageDoc(TraceCoverageJson):
    """perflab trace coverage --json: entry operations' complete traces, uninstrumented calls,
    broken traces.
    """

    schema: Literal["perflab.trace-coverage/1"]
    start_ns: int
    end_ns: int


class TraceCriticalPathOperation(TypedDict):
    service: str
    operation: str
    critical_ns: int
    share: float


class TraceCriticalPathDoc(TypedDict):
    """perflab trace critical-path --json: sections and each operation's share."""

    schema: Literal["perflab.trace-critical-path/1"]
    trace_id: str
    duration_ns: int
    sections: list[ApiTraceSection]
    operations: list[TraceCriticalPathOperation]


class TraceDiffDoc(TraceDiffJson):
    """perflab trace diff --json: which operations account for the latency difference of two traces
    or groups.
    """

    schema: Literal["perflab.trace-diff/1"]


class TraceLsDoc(TraceLsJson):
    """perflab trace ls --json: traces matching a search, newest matching span first."""

    schema: Literal["perflab.trace-ls/1"]


class TraceShowDoc(TraceJson):
    """perflab trace show --json: one trace, each span with its time on the critical path."""

    schema: Literal["perflab.trace-show/1"]
