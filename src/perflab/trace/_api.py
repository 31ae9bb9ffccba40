"""The query APIs: Jaeger's (for Jaeger's UI and Grafana's Jaeger data source) and perflab's own
(for the pages and scripts; schemas in docs/schemas/api-trace_*.schema.json).

Jaeger's, with its envelope and parameters (see ``_jaeger.py``)::

    GET /api/services                          service names
    GET /api/services/{service}/operations     operation names of a service
    GET /api/operations?service=&spanKind=     [{"name", "spanKind"}]
    GET /api/traces?service=&operation=&tags=&minDuration=&maxDuration=&start=&end=&limit=
    GET /api/traces/{traceID}                  one trace (404 when unknown)
    GET /api/dependencies?endTs=&lookback=     service-to-service call counts
    GET /api/sampling?service=                 the remote sampling strategy

perflab's (times: ns since the epoch, an ISO time, or a duration ago such as ``15m``)::

    GET /api/trace/search?...                  trace summaries (the Traces page)
    GET /api/trace/traces/{id}                 a trace with its critical path
    GET /api/trace/diff?a=&b=  or  ?service=&operation=&...   the diff of two traces/groups
    GET /api/trace/services?start=&end=        dependency graph, RED per operation, coverage
    GET /api/trace/stats                       what the receivers took and refused

Every read is bounded: at most ``MAX_RESULTS`` traces, ``MAX_TRACE_SPANS`` spans of one trace
(the answer says when it was cut), and the hub's per-request query deadline (503).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from starlette.responses import JSONResponse
from starlette.routing import Route

from perflab.errors import InvalidValue
from perflab.store import query_interrupted, service_edges, span_operations, span_services
from perflab.trace._jaeger import (
    DEFAULT_LIMIT,
    JaegerParamError,
    dependencies_envelope,
    dependencies_json,
    error_envelope,
    go_duration_ns,
    int_param,
    parse_tags,
    services_envelope,
    trace_json,
    traces_envelope,
)
from perflab.trace._model import KIND_NAMES, parse_hex_id
from perflab.trace._query import (
    MAX_RESULTS,
    MAX_TRACE_SPANS,
    TraceQuery,
    find_traces,
    get_trace,
)
from perflab.trace._views import (
    ViewError,
    diff_document,
    search_document,
    services_document,
    trace_document,
)
from perflab.units import parse_duration_ns, parse_time_ns

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Mapping

    from starlette.requests import Request

    from perflab.store import Store
    from perflab.trace._contracts import (
        ApiTraceServicesJson,
        JaegerDependenciesDoc,
        JaegerError,
        JaegerServicesData,
        JaegerServicesDoc,
        JaegerTracesDoc,
        JaegerTracesTrace,
        TraceDiffJson,
        TraceJson,
        TraceLsJson,
    )


_INT = re.compile(r"-?[0-9]{1,20}")


class StoreSource(Protocol):
    """What the hub's app state offers every capability: a store connection per thread, and a
    marker (with the request's query deadline) around its use."""

    def get(self) -> Store: ...

    def in_use(self) -> contextlib.AbstractContextManager[None]: ...


def stores(request: Request) -> StoreSource:
    source: StoreSource = request.app.state.perflab.stores
    return source


def jaeger_endpoint(fn: Callable[[Request, Store], Mapping[str, object] | JSONResponse]
                    ) -> Callable[[Request], JSONResponse]:
    """A Jaeger endpoint: its envelope, 400 for a parameter Jaeger refuses, 503 past the
    query deadline."""

    @functools.wraps(fn)
    def endpoint(request: Request) -> JSONResponse:
        source = stores(request)
        try:
            with source.in_use():
                result = fn(request, source.get())
        except JaegerParamError as exc:
            return JSONResponse(error_envelope(400, str(exc)), status_code=400)
        except Exception as exc:
            if query_interrupted(exc):
                return JSONResponse(error_envelope(503, "the query took too long and was "
                                                        "stopped: narrow the time range"),
                                    status_code=503)
            raise
        if isinstance(result, JSONResponse):
            return result
        return JSONResponse(result)

    return endpoint


def perflab_endpoint(schema: str) -> Callable[[Callable[[Request, Store], Mapping[str, object]]],
                                              Callable[[Request], JSONResponse]]:
    """An API answer: the body a view builds (its contract's ``...Json``), its schema first."""
    def wrap(fn: Callable[[Request, Store], Mapping[str, object]]) -> Callable[[Request],
                                                                              JSONResponse]:
        @functools.wraps(fn)
        def endpoint(request: Request) -> JSONResponse:
            source = stores(request)
            try:
                with source.in_use():
                    payload = fn(request, source.get())
            except ViewError as exc:
                return JSONResponse({"error": exc.message, "status": exc.status},
                                    status_code=exc.status)
            except Exception as exc:
                if query_interrupted(exc):
                    return JSONResponse({"error": "the query took too long and was stopped: "
                                                  "narrow the time range", "status": 503},
                                        status_code=503)
                raise
            return JSONResponse({"schema": f"perflab.api.{schema}/1", **payload})

        return endpoint

    return wrap


# -- Jaeger ------------------------------------------------------------------------------------

@jaeger_endpoint
def jaeger_services(request: Request, store: Store) -> JaegerServicesDoc:  # noqa: ARG001
    return services_envelope(list(span_services(store)))


@jaeger_endpoint
def jaeger_service_operations(request: Request, store: Store) -> JaegerServicesDoc:
    service = request.path_params["service"]
    names: list[str | JaegerServicesData] = []
    names.extend(sorted({op for _, op, _, _ in span_operations(store, service)}))
    return services_envelope(names)


@jaeger_endpoint
def jaeger_operations(request: Request, store: Store) -> JaegerServicesDoc | JSONResponse:
    q = request.query_params
    service = q.get("service", "")
    if not service:
        return JSONResponse(error_envelope(400, "parameter 'service' is required"),
                            status_code=400)
    kind = q.get("spanKind", "")
    ops: list[str | JaegerServicesData] = [
        {"name": op, "spanKind": KIND_NAMES[k] if k else ""}
        for _, op, k, _ in span_operations(store, service) if not kind or KIND_NAMES[k] == kind]
    return services_envelope(ops)


def jaeger_query(request: Request) -> TraceQuery:
    """Jaeger's search parameters (``parseTraceQueryParams``)."""
    q = request.query_params
    start = int_param(q.get("start"), "start", scale=1000)
    end = int_param(q.get("end"), "end", scale=1000)
    min_d = go_duration_ns(q["minDuration"], "minDuration") if q.get("minDuration") else None
    max_d = go_duration_ns(q["maxDuration"], "maxDuration") if q.get("maxDuration") else None
    if min_d and max_d and max_d < min_d:
        raise JaegerParamError("'maxDuration' should be greater than 'minDuration'")
    limit = int_param(q.get("limit"), "limit")
    return TraceQuery(
        service=q.get("service") or None, operation=q.get("operation") or None,
        tags=parse_tags(q.getlist("tag"), q.getlist("tags")), start_ns=start, end_ns=end,
        min_duration_ns=min_d, max_duration_ns=max_d,
        limit=min(max(limit if limit is not None else DEFAULT_LIMIT, 1), MAX_RESULTS))


@jaeger_endpoint
def jaeger_traces(request: Request, store: Store) -> JaegerTracesDoc:
    ids = request.query_params.getlist("traceID")
    if ids:
        traces: list[JaegerTracesTrace] = []
        errors: list[JaegerError] = []
        for raw in ids[:MAX_RESULTS]:
            tid = parse_hex_id(raw, 16)
            if tid is None:
                raise JaegerParamError(f"cannot parse traceID param: {raw[:40]!r}")
            trace = get_trace(store, tid)
            if trace is None:
                errors.append({"msg": "trace not found", "traceID": raw})
            else:
                traces.append(trace_json(trace))
        return traces_envelope(traces, errors=errors or None)
    query = jaeger_query(request)
    return traces_envelope([trace_json(t) for t in find_traces(store, query)])


@jaeger_endpoint
def jaeger_trace(request: Request, store: Store) -> JaegerTracesDoc | JSONResponse:
    raw = request.path_params["trace_id"]
    tid = parse_hex_id(raw, 16)
    if tid is None:
        raise JaegerParamError(f"cannot parse traceID {raw[:40]!r}: it is 1 to 32 hex digits")
    trace = get_trace(store, tid)
    if trace is None:
        return JSONResponse(error_envelope(404, "trace not found"), status_code=404)
    return traces_envelope([trace_json(trace)])


@jaeger_endpoint
def jaeger_dependencies(request: Request, store: Store) -> JaegerDependenciesDoc:
    q = request.query_params
    end = int_param(q.get("endTs"), "endTs", scale=1_000_000)
    lookback = int_param(q.get("lookback"), "lookback", scale=1_000_000)
    end_ns = end if end is not None else time.time_ns()
    start_ns = end_ns - (lookback if lookback is not None else 86_400 * 10**9)
    edges = service_edges(store, start_ns, end_ns)
    service = q.get("service")
    if service:
        edges = [e for e in edges if service in (e[0], e[1])]
    return dependencies_envelope(dependencies_json(edges))


def jaeger_sampling(request: Request) -> JSONResponse:
    from perflab.trace._receivers import hub_of  # noqa: PLC0415

    services = request.query_params.getlist("service")
    if len(services) != 1:
        return JSONResponse({"error": "'service' parameter must be provided once",
                             "status": 400}, status_code=400)
    return JSONResponse(hub_of(request).strategies.for_service(services[0]))


# -- perflab's ---------------------------------------------------------------------------------

def _time(q: Any, key: str, now_ns: int) -> int | None:
    raw = (q.get(key) or "").strip()
    if not raw:
        return None
    if len(raw) > 64:
        raise ViewError(400, f"{key} is too long")
    if _INT.fullmatch(raw):
        value = int(raw)
    else:
        try:
            value = parse_time_ns(raw, naive_utc=True)
        except (ValueError, OverflowError, OSError):
            try:
                value = now_ns - parse_duration_ns(raw)
            except (InvalidValue, OverflowError):
                raise ViewError(400, f"{key} must be ns since the epoch, an ISO-8601 time or "
                                     f"a duration ago (15m), not {raw[:40]!r}") from None
    if not -(2**63) <= value <= 2**63 - 1:
        raise ViewError(400, f"{key} is out of range")
    return value


def _duration(q: Any, key: str) -> int | None:
    raw = (q.get(key) or "").strip()
    if not raw:
        return None
    try:
        return parse_duration_ns(raw[:64])
    except (InvalidValue, OverflowError):
        raise ViewError(400, f"{key} must be a duration (250ms, 1.5s), not {raw[:40]!r}"
                        ) from None


def _text(q: Any, key: str, max_len: int = 1024) -> str | None:
    raw = q.get(key) or ""
    if len(raw) > max_len:
        raise ViewError(400, f"{key} must be at most {max_len} characters")
    return raw or None


def perflab_query(request: Request, *, default_limit: int = 200) -> TraceQuery:
    q = request.query_params
    now = time.time_ns()
    tags: dict[str, str] = {}
    raw_tags = (q.get("tags") or "").strip()
    if raw_tags:
        try:
            tags = parse_tags([], [raw_tags]) if raw_tags.startswith("{") else \
                _logfmt(raw_tags)
        except JaegerParamError as exc:
            raise ViewError(400, str(exc)) from None
    limit_raw = q.get("limit") or str(default_limit)
    if not limit_raw.isascii() or not limit_raw.isdigit() or not 1 <= int(limit_raw) \
            <= MAX_RESULTS:
        raise ViewError(400, f"limit must be 1 to {MAX_RESULTS}")
    query = TraceQuery(service=_text(q, "service"), operation=_text(q, "operation"), tags=tags,
                       start_ns=_time(q, "start", now), end_ns=_time(q, "end", now),
                       min_duration_ns=_duration(q, "minDuration"),
                       max_duration_ns=_duration(q, "maxDuration"), limit=int(limit_raw))
    if query.start_ns is not None and query.end_ns is not None and query.end_ns < query.start_ns:
        raise ViewError(400, "end is before start")
    return query


def _logfmt(text: str) -> dict[str, str]:
    """``key=value key2="a value"`` (what people type, and Grafana's tag field)."""
    import shlex  # noqa: PLC0415

    out: dict[str, str] = {}
    try:
        parts = shlex.split(text)
    except ValueError as exc:
        raise JaegerParamError(f"malformed tags: {exc}") from None
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise JaegerParamError(f"malformed tag {part[:60]!r}: write key=value")
        out[key] = value
    return out


@perflab_endpoint("trace_search")
def api_search(request: Request, store: Store) -> TraceLsJson:
    return search_document(store, perflab_query(request))


@perflab_endpoint("trace")
def api_trace(request: Request, store: Store) -> TraceJson:
    raw = request.path_params["trace_id"]
    tid = parse_hex_id(raw, 16)
    if tid is None:
        raise ViewError(400, f"a trace id is 1 to 32 hex digits, not {raw[:40]!r}")
    limit_raw = request.query_params.get("limit") or str(MAX_TRACE_SPANS)
    if not limit_raw.isascii() or not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 200_000:
        raise ViewError(400, "limit must be 1 to 200000 spans")
    return trace_document(store, tid, limit=int(limit_raw))


@perflab_endpoint("trace_diff")
def api_diff(request: Request, store: Store) -> TraceDiffJson:
    q = request.query_params
    return diff_document(store, q, perflab_query(request, default_limit=1000))


@perflab_endpoint("trace_services")
def api_services(request: Request, store: Store) -> ApiTraceServicesJson:
    q = request.query_params
    now = time.time_ns()
    start = _time(q, "start", now)
    end = _time(q, "end", now)
    return services_document(store, start if start is not None else now - 15 * 60 * 10**9,
                             end if end is not None else now)


def api_stats(request: Request) -> JSONResponse:
    from perflab.trace._receivers import hub_of  # noqa: PLC0415

    hub = hub_of(request)
    doc: dict[str, Any] = {"schema": "perflab.api.trace_stats/1",
                           "receivers": hub.stats.to_json()}
    if hub.queue is not None:
        s = hub.queue.stats()
        doc["ingest"] = {"accepted": s.accepted, "refused": s.refused, "written": s.written,
                         "pending": s.pending, "failures": s.failures,
                         "last_error": s.last_error}
    if hub.forwarder is not None:
        f = hub.forwarder.stats()
        doc["forward"] = {"url": hub.forwarder.url, "queued": f.queued, "sent": f.sent,
                          "dropped": f.dropped, "failures": f.failures,
                          "last_error": f.last_error}
    doc["red_overflowed"] = hub.sink.red.overflowed
    return JSONResponse(doc)


API_ROUTES = [
    Route("/api/services", jaeger_services, name="jaeger_services"),
    Route("/api/services/{service}/operations", jaeger_service_operations,
          name="jaeger_service_operations"),
    Route("/api/operations", jaeger_operations, name="jaeger_operations"),
    Route("/api/traces", jaeger_traces, name="jaeger_traces"),
    Route("/api/traces/{trace_id}", jaeger_trace, name="jaeger_trace"),
    Route("/api/dependencies", jaeger_dependencies, name="jaeger_dependencies"),
    Route("/api/sampling", jaeger_sampling, name="jaeger_sampling"),
    Route("/api/trace/search", api_search, name="api_trace_search"),
    Route("/api/trace/traces/{trace_id}", api_trace, name="api_trace"),
    Route("/api/trace/diff", api_diff, name="api_trace_diff"),
    Route("/api/trace/services", api_services, name="api_trace_services"),
    Route("/api/trace/stats", api_stats, name="api_trace_stats"),
]
