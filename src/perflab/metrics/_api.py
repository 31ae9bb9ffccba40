"""Prometheus's HTTP API on the hub's port, so Grafana's Prometheus data source, promtool and
scripts written for Prometheus work against perflab.

``/api/v1/query``, ``query_range``, ``series``, ``labels``, ``label/<name>/values``,
``metadata``, ``targets``, ``rules``, ``alerts``, ``status/buildinfo``, ``query_exemplars``;
``/api/v1/write`` (remote-write receiver); ``POST /-/reload``, ``/-/healthy``, ``/-/ready``.
Answers have Prometheus's envelope: ``{"status": "success", "data": ...}`` or
``{"status": "error", "errorType": ..., "error": ...}`` with its status codes (400 bad data,
422 execution, 503 timeout, 429 too many requests).

Every query runs off the event loop, at most ``QUERY_ACTIVE`` at once (``QUERY_WAITING``
more wait, others get 429), with a deadline; answers are bounded in points.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from perflab import __version__
from perflab.errors import InvalidFile, InvalidValue
from perflab.metrics._apitime import format_time, format_value, parse_step_ms, parse_time_ms
from perflab.metrics._ast import PromQLError, VectorSel, parse
from perflab.metrics._engine import QueryOptions, instant_query, range_query
from perflab.metrics._labels import NAME, Labels
from perflab.metrics._storeq import StoreQueryable
from perflab.serving import ConcurrencyLimiter, Refused, TooManyRequests, read_body
from perflab.store import query_interrupted

if TYPE_CHECKING:
    from perflab.metrics._hub import MetricsHub

QUERY_ACTIVE = 4
QUERY_WAITING = 64
QUERY_TIMEOUT_S = 30.0
MAX_ANSWER_POINTS = 2_000_000
MAX_PARAM = 64 * 1024
MAX_SERIES_ANSWER = 100_000
PROMETHEUS_VERSION = "2.42.0"  # the API version perflab answers as (the peer it matches)

_limiter = ConcurrencyLimiter(QUERY_ACTIVE, QUERY_WAITING, what="PromQL queries")


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def success(data: Any, *, warnings: list[str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    return JSONResponse(body)


def failure(status: int, kind: str, message: str, *,
            headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": "error", "errorType": kind, "error": message},
                        status_code=status, headers=headers)


def hub_of(request: Request) -> MetricsHub:
    hub: MetricsHub = request.app.state.metrics
    return hub


async def params_of(request: Request) -> dict[str, list[str]]:
    """Query string and (for POST) form parameters, repeated keys kept, bounded."""
    out: dict[str, list[str]] = {}
    for k, v in request.query_params.multi_items():
        out.setdefault(k, []).append(v)
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        body = await read_body(request, 1024 * 1024)
        from urllib.parse import parse_qsl  # noqa: PLC0415

        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                              max_num_fields=10_000)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "bad_data", f"invalid form body: {exc}") from None
        for k, v in pairs:
            out.setdefault(k, []).append(v)
    for values in out.values():
        for v in values:
            if len(v) > MAX_PARAM:
                raise ApiError(400, "bad_data", f"a parameter of {len(v):,} characters; at "
                                                f"most {MAX_PARAM:,}")
    return out


def _one(params: dict[str, list[str]], key: str) -> str | None:
    values = params.get(key)
    return values[-1] if values else None


def endpoint(fn: Callable[[MetricsHub, dict[str, list[str]], Request], Any],
             *, heavy: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """An API endpoint: parameters read, the work done in a thread (a turn of the query
    limiter when ``heavy``), errors answered in Prometheus's envelope."""
    async def handler(request: Request) -> Response:
        try:
            params = await params_of(request)
            hub = hub_of(request)
            if heavy:
                async with _limiter.slot():
                    result = await run_in_threadpool(fn, hub, params, request)
            else:
                result = await run_in_threadpool(fn, hub, params, request)
        except ApiError as exc:
            return failure(exc.status, exc.kind, exc.message)
        except TooManyRequests as exc:
            return failure(429, "unavailable", exc.message,
                           headers={"Retry-After": str(exc.retry_after_s)})
        except Refused as exc:
            return failure(exc.status, "bad_data", exc.message)
        except PromQLError as exc:
            status = {"bad_data": 400, "execution": 422, "timeout": 503}.get(exc.kind, 400)
            return failure(status, exc.kind, exc.message)
        except (InvalidValue, InvalidFile) as exc:
            return failure(400, "bad_data", exc.message)
        except Exception as exc:
            if query_interrupted(exc):
                return failure(503, "timeout", "query timed out in query execution: ask for "
                                               "a shorter range or fewer series")
            raise
        if isinstance(result, Response):
            return result
        return success(result)
    handler.__name__ = fn.__name__
    return handler


# -- queries -------------------------------------------------------------------------------------

def _options(params: dict[str, list[str]]) -> QueryOptions:
    timeout = QUERY_TIMEOUT_S
    raw = _one(params, "timeout")
    if raw:
        timeout = min(timeout, parse_step_ms(raw, "timeout") / 1000)
    return QueryOptions(deadline=time.monotonic() + timeout)


def _metric(labels: Labels) -> dict[str, str]:
    return dict(labels)


def query(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:
    text = _one(params, "query")
    if not text:
        raise ApiError(400, "bad_data", 'invalid parameter "query": query is empty')
    raw_time = _one(params, "time")
    t = parse_time_ms(raw_time) if raw_time else time.time_ns() // 1_000_000
    opts = _options(params)
    node = parse(text)
    with hub.store() as store:
        result = instant_query(StoreQueryable(store), node, t, opts)
    if result.type == "scalar":
        return {"resultType": "scalar", "result": [format_time(t), format_value(result.scalar)]}
    if result.type == "string":
        return {"resultType": "string", "result": [format_time(t), result.string]}
    if result.type == "matrix":
        _check_points(sum(len(p) for _, p in result.matrix))
        return {"resultType": "matrix", "result": [
            {"metric": _metric(labels),
             "values": [[format_time(ts), format_value(v)] for ts, v in points]}
            for labels, points in result.matrix]}
    _check_points(len(result.vector))
    return {"resultType": "vector", "result": [
        {"metric": _metric(labels), "value": [format_time(t), format_value(v)]}
        for labels, v in result.vector]}


def query_range(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:
    text = _one(params, "query")
    if not text:
        raise ApiError(400, "bad_data", 'invalid parameter "query": query is empty')
    for key in ("start", "end", "step"):
        if not _one(params, key):
            raise ApiError(400, "bad_data", f'invalid parameter "{key}": missing')
    start = parse_time_ms(_one(params, "start") or "", "start")
    end = parse_time_ms(_one(params, "end") or "", "end")
    step = parse_step_ms(_one(params, "step") or "", "step")
    if end < start:
        raise ApiError(400, "bad_data", 'invalid parameter "end": end timestamp must not be '
                                        "before start time")
    opts = _options(params)
    node = parse(text)
    with hub.store() as store:
        matrix = range_query(StoreQueryable(store), node, start, end, step, opts)
    _check_points(sum(len(p) for _, p in matrix))
    return {"resultType": "matrix", "result": [
        {"metric": _metric(labels),
         "values": [[format_time(ts), format_value(v)] for ts, v in points]}
        for labels, points in matrix]}


def _check_points(n: int) -> None:
    if n > MAX_ANSWER_POINTS:
        raise ApiError(422, "execution", f"the answer has {n:,} points; at most "
                       f"{MAX_ANSWER_POINTS:,}: narrow the time range, raise the step or "
                       "select fewer series")


def _matchers(params: dict[str, list[str]]) -> list[VectorSel]:
    out = []
    for text in params.get("match[]", []):
        node = parse(text)
        if not isinstance(node, VectorSel):
            raise ApiError(400, "bad_data", f'invalid parameter "match[]": {text[:200]!r} is '
                                            "not a series selector")
        out.append(node)
    return out


def _window(params: dict[str, list[str]]) -> tuple[int | None, int | None]:
    start = _one(params, "start")
    end = _one(params, "end")
    return (parse_time_ms(start, "start") if start else None,
            parse_time_ms(end, "end") if end else None)


def _select(hub: MetricsHub, params: dict[str, list[str]]) -> list[Labels]:
    selectors = _matchers(params)
    mint, maxt = _window(params)
    seen: dict[Labels, None] = {}
    with hub.store() as store:
        q = StoreQueryable(store)
        for sel in selectors or [VectorSel(None, ())]:
            for labels, _ in q.find_series(sel.matchers, mint, maxt):
                seen[labels] = None
                if len(seen) > MAX_SERIES_ANSWER:
                    raise ApiError(422, "execution", f"over {MAX_SERIES_ANSWER:,} series: "
                                   "select fewer (match[], start, end)")
    return sorted(seen)


def series(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:
    if not params.get("match[]"):
        raise ApiError(400, "bad_data", "no match[] parameter provided")
    return [_metric(labels) for labels in _select(hub, params)]


def labels(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:
    names: set[str] = set()
    for lab in _select(hub, params):
        names.update(k for k, _ in lab)
    return sorted(names)


def label_values(hub: MetricsHub, params: dict[str, list[str]], request: Request) -> Any:
    name = request.path_params["name"]
    if name == NAME and not params.get("match[]"):
        with hub.store() as store:
            return StoreQueryable(store).names()
    values = {dict(lab).get(name, "") for lab in _select(hub, params)}
    values.discard("")
    return sorted(values)


def metadata(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:
    from perflab.store import metric_meta  # noqa: PLC0415

    wanted = _one(params, "metric")
    limit_raw = _one(params, "limit")
    limit = (int(limit_raw) if limit_raw and limit_raw.isascii() and limit_raw.isdigit()
             and len(limit_raw) < 10 else None)
    out: dict[str, list[dict[str, str]]] = {}
    with hub.store() as store:
        for name, kind, help_text, unit in metric_meta(store, wanted):
            out[name] = [{"type": kind, "help": help_text, "unit": unit}]
        from perflab.metrics._names import prometheus_name  # noqa: PLC0415
        from perflab.store import metric_names  # noqa: PLC0415

        for stored, unit in metric_names(store):
            prom = prometheus_name(stored, unit)
            if prom != stored and (wanted is None or wanted == prom) and prom not in out:
                out[prom] = [{"type": "gauge", "help": f"perflab's {stored} ({unit or 'no unit'})",
                              "unit": ""}]
    names = sorted(out)
    if limit is not None and limit >= 0:
        names = names[:limit]
    return {n: out[n] for n in names}


def targets(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:
    state = _one(params, "state") or "any"
    active, dropped = (hub.scrapes.snapshot() if hub.scrapes is not None else ([], []))
    out_active = []
    for s in active:
        t = s.target
        out_active.append({
            "discoveredLabels": dict(t.discovered), "labels": dict(t.labels),
            "scrapePool": t.job, "scrapeUrl": t.url, "globalUrl": t.url,
            "lastError": s.last_error,
            "lastScrape": _rfc3339(s.last_scrape_ns) if s.last_scrape_ns else
            "0001-01-01T00:00:00Z",
            "lastScrapeDuration": s.last_duration_s, "health": s.health,
            "scrapeInterval": f"{t.config.interval_ms // 1000}s",
            "scrapeTimeout": f"{t.config.timeout_ms // 1000}s",
            "lastSamples": s.last_samples, "duplicateSeries": s.duplicates,
        })
    if hub.node is not None:
        out_active.append({
            "discoveredLabels": dict(hub.node.target), "labels": dict(hub.node.target),
            "scrapePool": "perflab", "scrapeUrl": "internal://node",
            "globalUrl": "internal://node", "lastError": hub.node.error or "",
            "lastScrape": _rfc3339(time.time_ns()), "lastScrapeDuration": 0.0,
            "health": "down" if hub.node.error else "up",
            "scrapeInterval": f"{hub.node.interval_s:g}s", "scrapeTimeout": "5s"})
    data: dict[str, Any] = {"activeTargets": out_active if state in ("any", "active") else [],
                            "droppedTargets": [{"discoveredLabels": dict(t.discovered)}
                                               for t in dropped]
                            if state in ("any", "dropped") else []}
    return data


def _rfc3339(ts_ns: int) -> str:
    import datetime as dt  # noqa: PLC0415

    when = dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}Z"


def rules(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:
    kind = _one(params, "type")
    if hub.rules is None:
        return {"groups": []}
    return {"groups": hub.rules.api_groups(kind)}


def alerts(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:  # noqa: ARG001
    if hub.rules is None:
        return {"alerts": []}
    return {"alerts": hub.rules.api_alerts()}


def buildinfo(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:  # noqa: ARG001
    return {"version": PROMETHEUS_VERSION, "revision": f"perflab-{__version__}",
            "branch": "perflab", "buildUser": "perflab", "buildDate": "",
            "goVersion": "python"}


def exemplars(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:  # noqa: ARG001
    return []


def flags(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:  # noqa: ARG001
    return {"query.lookback-delta": "5m", "query.max-samples": "50000000",
            "evaluation-interval": f"{hub.config.evaluation_interval_ms // 1000}s"}


def runtimeinfo(hub: MetricsHub, params: dict[str, list[str]], _: Request) -> Any:  # noqa: ARG001
    return {"storageRetention": "perflab store", "reloadConfigSuccess": True}


def reload(hub: MetricsHub, params: dict[str, list[str]], request: Request) -> Any:  # noqa: ARG001
    if request.method != "POST":
        return Response("Only POST or PUT requests allowed\n", status_code=405)
    try:
        hub.reload()
    except (InvalidFile, InvalidValue) as exc:
        return Response(f"failed to reload config: {exc.message}\n", status_code=500)
    return Response(status_code=200)


async def healthy(request: Request) -> Response:  # noqa: ARG001
    return Response("perflab is Healthy.\n")


async def ready(request: Request) -> Response:  # noqa: ARG001
    return Response("perflab is Ready.\n")


def json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return format_value(value)
    raise TypeError(type(value).__name__)


def dumps(payload: Any) -> str:
    return json.dumps(payload, default=json_default, separators=(",", ":"))


def api_not_found(request: Request) -> Response:
    return failure(404, "not_found", f"no API endpoint {request.url.path}")


GET_POST = ["GET", "POST"]

ROUTES = [
    Route("/api/v1/query", endpoint(query, heavy=True), methods=GET_POST),
    Route("/api/v1/query_range", endpoint(query_range, heavy=True), methods=GET_POST),
    Route("/api/v1/series", endpoint(series, heavy=True), methods=GET_POST),
    Route("/api/v1/labels", endpoint(labels, heavy=True), methods=GET_POST),
    Route("/api/v1/label/{name}/values", endpoint(label_values, heavy=True)),
    Route("/api/v1/metadata", endpoint(metadata)),
    Route("/api/v1/targets", endpoint(targets)),
    Route("/api/v1/rules", endpoint(rules)),
    Route("/api/v1/alerts", endpoint(alerts)),
    Route("/api/v1/status/buildinfo", endpoint(buildinfo)),
    Route("/api/v1/status/flags", endpoint(flags)),
    Route("/api/v1/status/runtimeinfo", endpoint(runtimeinfo)),
    Route("/api/v1/query_exemplars", endpoint(exemplars), methods=GET_POST),
    Route("/-/reload", endpoint(reload), methods=["POST", "PUT", "GET"]),
    Route("/-/healthy", healthy, methods=["GET", "HEAD"]),
    Route("/-/ready", ready, methods=["GET", "HEAD"]),
]
