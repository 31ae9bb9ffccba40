"""The JSON API over the store (documented in docs/api.md, schemas in docs/schemas/).

Every response is a JSON object whose first key names its schema (``perflab.<what>/1``).
Unknown ids answer 404 ``{"error": ...}``; malformed parameters 400 ``{"error": ...}``.
Endpoints are synchronous: Starlette runs them in its thread pool, each thread with its own
store connection, so a slow query never stalls the event loop.

Bounded answers (a hub must keep answering whatever one client asks): sample reads take at most
``MAX_BATCH_SERIES`` distinct series and ``MAX_ANSWER_POINTS`` points in all (400 saying what to
narrow), their time range is clamped to the run, ``points`` is always honoured, a batch is
streamed window by window, at most ``HEAVY_ACTIVE`` sample reads run at once (more wait, then
429), and every request's queries stop at a deadline (503).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from perflab.errors import InvalidValue, NotFound, UsageError
from perflab.load import load_view
from perflab.report import series_area
from perflab.serving import TooManyRequests
from perflab.store import MAX_POINTS, events_of_kind, sample_window
from perflab.units import parse_duration_ns
from perflab.web._contracts import (
    ApiErrorDoc,
    ApiEventsDoc,
    ApiRunDoc,
    ApiRunsDoc,
    ApiRunSeries,
    ApiSamplesDoc,
    ApiSummaryDoc,
)
from perflab.web._db import interrupted
from perflab.web._params import BadParam, id_value, int_param, text_param, time_param

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from perflab.store import Event, Run, RunJson, Series, Store
    from perflab.web._state import AppState

MAX_BATCH_SERIES = 256  # distinct series in one request (the Run page asks one per chart)
MAX_ANSWER_POINTS = 1 << 20  # series x points in one answer: about 40 MB of JSON at most
HEAVY_ACTIVE = 4  # sample reads at work at once; the rest of the thread pool stays free
HEAVY_WAITING = 64  # sample reads waiting for a turn; more are answered 429


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse(ApiErrorDoc(error=message, status=status), status_code=status)


def doc(body: Mapping[str, object]) -> JSONResponse:
    """An answer built to its contract (a TypedDict of ``_contracts.py``, ``schema`` first)."""
    return JSONResponse(body)


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.perflab
    return state


def _run(store: Store, raw: str) -> Run:
    run_id = id_value(raw, "run")
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
        except UsageError as exc:  # a value the store refuses (a name too long to look up)
            return error(400, exc.message)
        except Exception as exc:
            if interrupted(exc):
                return too_slow()
            raise
        return result

    endpoint.__name__ = fn.__name__
    return endpoint


def too_slow() -> JSONResponse:
    return error(503, "the query took too long and was stopped: ask for a shorter time range "
                      "(start, end), fewer series or fewer points")


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


class Heavy:
    """An endpoint that reads many samples: it waits for one of ``HEAVY_ACTIVE`` turns (429
    when ``HEAVY_WAITING`` already wait), runs in the thread pool, and keeps its turn until its
    answer is sent, streaming included."""

    def __init__(self, fn: Callable[[Request], Response]) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "heavy")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        limiter = _state(request).heavy
        try:
            async with limiter.slot():
                response = await run_in_threadpool(self.fn, request)
                await response(scope, receive, send)
        except TooManyRequests as exc:
            await JSONResponse(exc.to_json(), status_code=429,
                               headers={"Retry-After": str(exc.retry_after_s)},
                               )(scope, receive, send)


def _clamped_range(p: dict[str, str], run: Run) -> tuple[int | None, int | None]:
    """``start``/``end`` parsed, checked, and clamped to the run: a range from -2^63 to 2^63
    reads what the run holds, downsampled like any other."""
    start, end = time_param(p, "start"), time_param(p, "end")
    if start is not None and end is not None and end < start:
        raise BadParam("end is before start")
    first = run.started_ns
    last = run.ended_ns if run.ended_ns is not None else max(time.time_ns(), first)
    if start is not None:
        start = min(max(start, first), last)
    if end is not None:
        end = max(min(end, last), first)
    return start, end


@_guard
def list_runs(request: Request) -> JSONResponse:
    p = _params(request)
    store = _state(request).stores.get()
    since = time_param(p, "since")
    until = time_param(p, "until")
    limit = int_param(p, "limit", default=200, lo=1, hi=10_000)
    runs = store.runs(kind=text_param(p, "kind"), name=text_param(p, "name"),
                      since_ns=since, until_ns=until, limit=limit)
    return doc(ApiRunsDoc(schema="perflab.api.runs/1", runs=[run_json(store, r) for r in runs]))


def run_json(store: Store, run: Run) -> RunJson:
    """A run as JSON; one still marked running whose recorder is gone reads ``interrupted``."""
    out = run.to_json()
    if run.status == "running" and not store.recorder_alive(run):
        out["status"] = "interrupted"
    return out


def series_json(series: Series) -> ApiRunSeries:
    """A series as the answers show it. The schemas' series may have an ``area``; only
    api-run's series give it (mypy wants the optional key's absence written out, not a
    ``**series.to_json()`` that could not hold it)."""
    return {"id": series.id, "name": series.name, "labels": series.labels, "unit": series.unit}


def run_events(store: Store, run: Run) -> list[Event]:
    """The run's events, and the deploys (of any run) within its time: markers on every
    timeline."""
    own = store.events(run.id)
    end = run.ended_ns if run.ended_ns is not None else time.time_ns()
    deploys = [e for e in events_of_kind(store, "deploy", run.started_ns, end)
               if e.run_id != run.id]
    return sorted(own + deploys, key=lambda e: (e.ts_ns, e.id)) if deploys else own


def run_document(store: Store, run: Run) -> ApiRunDoc:
    series = store.series(run.id)
    return {
        "schema": "perflab.api.run/1",
        "run": run_json(store, run),
        "series": [{**s.to_json(), "area": series_area(s)} for s in series],
        "events": [e.to_json() for e in run_events(store, run)],
    }


@_guard
def get_run(request: Request) -> JSONResponse:
    store = _state(request).stores.get()
    run = _run(store, request.path_params["run_id"])
    return doc(run_document(store, run))


@_guard
def get_events(request: Request) -> JSONResponse:
    p = _params(request)
    store = _state(request).stores.get()
    run = _run(store, request.path_params["run_id"])
    events = store.events(run.id, start_ns=time_param(p, "start"), end_ns=time_param(p, "end"))
    return doc(ApiEventsDoc(schema="perflab.api.events/1", run_id=run.id,
                            events=[e.to_json() for e in events]))


@_guard
def get_samples(request: Request) -> JSONResponse:
    p = _params(request)
    store = _state(request).stores.get()
    run = _run(store, request.path_params["run_id"])
    sid = id_value(request.path_params["series_id"], "series")
    try:
        series = store.series_by_id(sid)
    except NotFound:
        raise NotFound(f"no series {sid}") from None
    if series.run_id != run.id:
        raise NotFound(f"run {run.id} has no series {sid}")
    start, end = _clamped_range(p, run)
    points = int_param(p, "points", default=1000, lo=2, hi=MAX_POINTS)
    assert points is not None
    window = sample_window(store, sid, start_ns=start, end_ns=end, points=points)
    body: ApiSamplesDoc = {"schema": "perflab.api.samples/1", "run_id": run.id,
                           "series": series_json(series), **window.to_json()}
    return doc(body)


def _series_ids(raw: str) -> list[int]:
    """The ``series`` parameter: ids separated by commas, each once, in their first order."""
    if len(raw) > MAX_BATCH_SERIES * 21:
        raise BadParam(f"series must name 1 to {MAX_BATCH_SERIES} series ids")
    ids: dict[int, None] = {}
    for part in raw.split(","):
        if part.strip():
            try:
                ids[id_value(part.strip(), "series")] = None
            except BadParam:
                raise BadParam("series must be ids separated by commas, not "
                               f"{raw[:60]!r}") from None
    if not ids or len(ids) > MAX_BATCH_SERIES:
        raise BadParam(f"series must name 1 to {MAX_BATCH_SERIES} series ids (ask for the "
                       "others in another request)")
    return list(ids)


@_guard
def get_batch(request: Request) -> Response:
    """Several series of one run in one answer: what a chart with several lines needs.

    A series named twice is read once (the answer has one window per distinct id). The answer
    is streamed a window at a time, each read with its own store turn and deadline."""
    p = _params(request)
    state = _state(request)
    store = state.stores.get()
    run = _run(store, request.path_params["run_id"])
    ids = _series_ids(p.get("series", ""))
    known = {s.id for s in store.series(run.id)}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise NotFound(f"run {run.id} has no series {unknown[0]}")
    start, end = _clamped_range(p, run)
    points = int_param(p, "points", default=1000, lo=2, hi=MAX_POINTS)
    assert points is not None
    if len(ids) * points > MAX_ANSWER_POINTS:
        raise BadParam(
            f"this asks for up to {len(ids) * points} points ({len(ids)} series x {points} "
            f"points); one answer holds at most {MAX_ANSWER_POINTS}: ask for fewer points or "
            "fewer series per request")
    head = json.dumps({"schema": "perflab.api.batch/1", "run_id": run.id})[:-1]

    def body() -> Iterator[bytes]:  # each step runs in a worker thread: its own connection
        yield (head + ', "windows": [').encode()
        for i, sid in enumerate(ids):
            try:
                with state.stores.in_use():
                    window = sample_window(state.stores.get(), sid, start_ns=start,
                                           end_ns=end, points=points)
            except Exception as exc:
                if interrupted(exc):  # the status is sent: an unfinished document says so
                    return
                raise
            yield ((", " if i else "") + json.dumps(window.to_json())).encode()
        yield b"]}"

    return StreamingResponse(body(), media_type="application/json")


@_guard
def get_summary(request: Request) -> JSONResponse:
    state = _state(request)
    store = state.stores.get()
    run = _run(store, request.path_params["run_id"])
    return doc(ApiSummaryDoc(schema="perflab.api.summary/1", run_id=run.id,
                             summaries=[s.to_json() for s in state.summaries.run(store, run)]))


@_guard
def get_live(request: Request) -> JSONResponse:
    p = _params(request)
    state = _state(request)
    store = state.stores.get()
    try:
        window_ns = parse_duration_ns(text_param(p, "window") or "5m")
    except (InvalidValue, OverflowError):
        raise BadParam(
            f"window must be a duration (5m, 1h, 24h), not {p.get('window', '')[:40]!r}"
        ) from None
    if window_ns < 10**9 or window_ns > 7 * 86_400 * 10**9:
        raise BadParam("window must be between 1s and 7d (5m, 1h, 24h)")
    points = int_param(p, "points", default=600, lo=2, hi=MAX_POINTS)
    assert points is not None
    return doc(state.live.snapshot(store, window_ns=window_ns, points=points))


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
    Route("/api/runs/{run_id}/series/{series_id}/samples", Heavy(get_samples),
          name="api_samples"),
    Route("/api/runs/{run_id}/samples", Heavy(get_batch), name="api_batch"),
    Route("/api/runs/{run_id}/load", get_load, name="api_load"),
    Route("/api/live", get_live, name="api_live"),
    Route("/api/{rest:path}", not_found, name="api_not_found"),
]
