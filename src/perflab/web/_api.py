"""The JSON API over the store (documented in docs/api.md, schemas in docs/schemas/).

Every response is a JSON object whose first key names its schema (``perflab.<what>/1``).
Unknown ids answer 404 ``{"error": ...}``; malformed parameters 400 ``{"error": ...}``.
Endpoints are synchronous: Starlette runs them in its thread pool, each thread with its own
store connection, so a slow query never stalls the event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.routing import Route

from perflab.errors import InvalidValue, NotFound
from perflab.load import load_view
from perflab.report import MAX_POINTS, sample_window, series_area
from perflab.units import parse_duration_ns
from perflab.web._params import BadParam, int_param, time_param

if TYPE_CHECKING:
    from starlette.requests import Request

    from perflab.store import Run, Store
    from perflab.web._state import AppState


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def doc(schema: str, payload: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"schema": f"perflab.api.{schema}/1", **payload})


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.perflab
    return state


def _run(store: Store, raw: str) -> Run:
    try:
        run_id = int(raw)
    except ValueError:
        raise BadParam(f"a run id is an integer, not {raw!r}") from None
    try:
        return store.run(run_id)
    except NotFound:
        raise NotFound(f"no run {run_id}") from None


def _guard(fn: Any) -> Any:
    """Map our errors to HTTP (BadParam -> 400, NotFound -> 404); mark the store in use."""

    def endpoint(request: Request) -> JSONResponse:
        try:
            with _state(request).stores.in_use():
                result: JSONResponse = fn(request)
        except BadParam as exc:
            return error(400, str(exc))
        except NotFound as exc:
            return error(404, str(exc))
        return result

    endpoint.__name__ = fn.__name__
    return endpoint


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


@_guard
def list_runs(request: Request) -> JSONResponse:
    p = _params(request)
    store = _state(request).stores.get()
    since = time_param(p, "since")
    until = time_param(p, "until")
    limit = int_param(p, "limit", default=200, lo=1, hi=10_000)
    runs = store.runs(kind=p.get("kind") or None, name=p.get("name") or None,
                      since_ns=since, until_ns=until, limit=limit)
    return doc("runs", {"runs": [run_json(store, r) for r in runs]})


def run_json(store: Store, run: Run) -> dict[str, Any]:
    """A run as JSON; one still marked running whose recorder is gone reads ``interrupted``."""
    out = run.to_json()
    if run.status == "running" and not store.recorder_alive(run):
        out["status"] = "interrupted"
    return out


def run_document(store: Store, run: Run) -> dict[str, Any]:
    series = store.series(run.id)
    return {
        "run": run_json(store, run),
        "series": [{**s.to_json(), "area": series_area(s)} for s in series],
        "events": [e.to_json() for e in store.events(run.id)],
    }


@_guard
def get_run(request: Request) -> JSONResponse:
    store = _state(request).stores.get()
    run = _run(store, request.path_params["run_id"])
    return doc("run", run_document(store, run))


@_guard
def get_events(request: Request) -> JSONResponse:
    p = _params(request)
    store = _state(request).stores.get()
    run = _run(store, request.path_params["run_id"])
    events = store.events(run.id, start_ns=time_param(p, "start"), end_ns=time_param(p, "end"))
    return doc("events", {"run_id": run.id, "events": [e.to_json() for e in events]})


@_guard
def get_samples(request: Request) -> JSONResponse:
    p = _params(request)
    store = _state(request).stores.get()
    run = _run(store, request.path_params["run_id"])
    raw_sid = request.path_params["series_id"]
    try:
        sid = int(raw_sid)
    except ValueError:
        raise BadParam(f"a series id is an integer, not {raw_sid!r}") from None
    try:
        series = store.series_by_id(sid)
    except NotFound:
        raise NotFound(f"no series {sid}") from None
    if series.run_id != run.id:
        raise NotFound(f"run {run.id} has no series {sid}")
    start, end = time_param(p, "start"), time_param(p, "end")
    if start is not None and end is not None and end < start:
        raise BadParam("end is before start")
    points = int_param(p, "points", default=1000, lo=2, hi=MAX_POINTS)
    assert points is not None
    window = sample_window(store, sid, start_ns=start, end_ns=end, points=points)
    return doc("samples", {"run_id": run.id, "series": series.to_json(), **window.to_json()})


MAX_BATCH = 200


@_guard
def get_batch(request: Request) -> JSONResponse:
    """Several series of one run in one answer: what a chart with several lines needs."""
    p = _params(request)
    store = _state(request).stores.get()
    run = _run(store, request.path_params["run_id"])
    raw = p.get("series", "")
    try:
        ids = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise BadParam(f"series must be ids separated by commas, not {raw!r}") from None
    if not ids or len(ids) > MAX_BATCH:
        raise BadParam(f"series must name 1 to {MAX_BATCH} series ids")
    known = {s.id for s in store.series(run.id)}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise NotFound(f"run {run.id} has no series {unknown[0]}")
    start, end = time_param(p, "start"), time_param(p, "end")
    if start is not None and end is not None and end < start:
        raise BadParam("end is before start")
    points = int_param(p, "points", default=1000, lo=2, hi=MAX_POINTS)
    assert points is not None
    windows = [sample_window(store, sid, start_ns=start, end_ns=end, points=points).to_json()
               for sid in ids]
    return doc("batch", {"run_id": run.id, "windows": windows})


@_guard
def get_summary(request: Request) -> JSONResponse:
    state = _state(request)
    store = state.stores.get()
    run = _run(store, request.path_params["run_id"])
    return doc("summary", {"run_id": run.id,
                           "summaries": [s.to_json() for s in state.summaries.run(store, run)]})


@_guard
def get_live(request: Request) -> JSONResponse:
    p = _params(request)
    state = _state(request)
    store = state.stores.get()
    try:
        window_ns = parse_duration_ns(p.get("window") or "5m")
    except InvalidValue:
        raise BadParam(
            f"window must be a duration (5m, 1h, 24h), not {p.get('window')!r}"
        ) from None
    if window_ns < 10**9 or window_ns > 7 * 86_400 * 10**9:
        raise BadParam("window must be between 1s and 7d (5m, 1h, 24h)")
    points = int_param(p, "points", default=600, lo=2, hi=MAX_POINTS)
    assert points is not None
    return doc("live", state.live.snapshot(store, window_ns=window_ns, points=points))


@_guard
def get_load(request: Request) -> JSONResponse:
    store = _state(request).stores.get()
    run = _run(store, request.path_params["run_id"])
    view = load_view(store, run)
    if view is None:
        raise NotFound(f"run {run.id} has no load test")
    return JSONResponse(view)


def not_found(request: Request) -> JSONResponse:
    return error(404, f"no API endpoint {request.url.path}")


ROUTES = [
    Route("/api/runs", list_runs, name="api_runs"),
    Route("/api/runs/{run_id}", get_run, name="api_run"),
    Route("/api/runs/{run_id}/events", get_events, name="api_events"),
    Route("/api/runs/{run_id}/summary", get_summary, name="api_summary"),
    Route("/api/runs/{run_id}/series/{series_id}/samples", get_samples, name="api_samples"),
    Route("/api/runs/{run_id}/samples", get_batch, name="api_batch"),
    Route("/api/runs/{run_id}/load", get_load, name="api_load"),
    Route("/api/live", get_live, name="api_live"),
    Route("/api/{rest:path}", not_found, name="api_not_found"),
]
