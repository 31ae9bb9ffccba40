"""Loki's query API on the hub, so Grafana's Loki data source and logcli work against it::

    GET|POST /loki/api/v1/query_range   query, start, end, limit, step, direction
    GET|POST /loki/api/v1/query         query, time (a metric query; a log query is a 400)
    GET      /loki/api/v1/labels        start, end
    GET      /loki/api/v1/label/{name}/values   start, end
    GET|POST /loki/api/v1/series        match[] (one or more selectors), start, end

Times are Unix nanoseconds, Unix seconds (10 digits or fewer, or with a fraction) or RFC 3339,
as Loki reads them; ``start`` defaults to an hour before ``end``, ``end`` to now. Errors are a
400 with Loki's plain-text message (a LogQL error names its column); past the hub's query
deadline, a 503.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from perflab.errors import PerflabError
from perflab.logs._contracts import LokiListDoc, LokiQueryDoc
from perflab.logs._eval import matching_streams
from perflab.logs._logql import parse_duration_ns, parse_selector
from perflab.logs._query import DEFAULT_LIMIT, MAX_LIMIT, query_instant, query_range
from perflab.serving import Refused, read_body
from perflab.store import INT64_MAX, log_streams, log_streams_in, query_interrupted
from perflab.units import parse_time_ns

if TYPE_CHECKING:
    import contextlib

    from starlette.requests import Request

    from perflab.store import Store

_INT = re.compile(r"[0-9]{1,19}")
_FLOAT = re.compile(r"[0-9]{1,12}\.[0-9]{0,9}")
_HOUR_NS = 3600 * 10**9
MAX_FORM = 64 * 1024  # a POSTed query's form


class BadParam(PerflabError):
    """A parameter Loki would refuse (400)."""


class StoreSource(Protocol):
    """The hub's store connections (one per thread) and the request's query deadline."""

    def get(self) -> Store: ...

    def in_use(self) -> contextlib.AbstractContextManager[None]: ...


def parse_loki_time(text: str, what: str) -> int:
    """A Loki time parameter in ns: Unix ns, Unix s (<= 10 digits or a fraction), RFC 3339."""
    text = text.strip()
    try:
        if _INT.fullmatch(text):
            ns = int(text) * 10**9 if len(text) <= 10 else int(text)  # Loki's
        elif _FLOAT.fullmatch(text):
            whole, _, frac = text.partition(".")
            ns = int(whole) * 10**9 + int((frac + "000000000")[:9])
        else:
            ns = parse_time_ns(text, naive_utc=True)
    except (ValueError, OverflowError):
        ns = -1
    if not 0 <= ns < INT64_MAX:  # an end may have 1 ns added (ranges end before it)
        raise BadParam(f"invalid {what} {text[:100]!r}: give Unix nanoseconds, Unix seconds "
                       "or an RFC 3339 time (from 1970 to 2262)")
    return ns


def _params(request: Request, form: dict[str, str]) -> dict[str, str]:
    out = dict(request.query_params)
    out.update(form)
    return out


def _range(p: dict[str, str]) -> tuple[int, int]:
    end = parse_loki_time(p["end"], "end") if p.get("end") else time.time_ns()
    start = parse_loki_time(p["start"], "start") if p.get("start") else end - _HOUR_NS
    if start > end:
        raise BadParam("the end timestamp must not be before the start time")
    return start, end


def _limit(p: dict[str, str]) -> int:
    text = p.get("limit", "")
    if not text:
        return DEFAULT_LIMIT
    if not _INT.fullmatch(text) or not 0 < int(text) <= MAX_LIMIT:
        raise BadParam(f"invalid limit {text[:50]!r}: a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def _step(p: dict[str, str]) -> int | None:
    text = p.get("step", "")
    if not text:
        return None
    if _FLOAT.fullmatch(text) or _INT.fullmatch(text):
        return parse_loki_time(text, "step")
    try:
        return parse_duration_ns(text)
    except ValueError:
        raise BadParam(f"invalid step {text[:50]!r}: seconds or a duration (15s, 1m)") from None


def _backward(p: dict[str, str]) -> bool:
    d = p.get("direction", "backward").lower()
    if d not in ("backward", "forward"):
        raise BadParam(f"invalid direction {d[:50]!r}: backward or forward")
    return d == "backward"


def plain_error(message: str, status: int) -> Response:
    """Loki's error body: the message as plain text."""
    return PlainTextResponse(message + "\n", status_code=status)


def store_endpoint(error: Callable[[str, int], Response],
                   ) -> Callable[[Callable[[dict[str, str], Store], Any]],
                                 Callable[[Request], Any]]:
    """Endpoints that answer from the store with ``error(message, status)`` for their
    failures: their parameters (query string and form), 400 for bad input, 503 past the
    query deadline."""

    def wrap(fn: Callable[[dict[str, str], Store], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            try:
                if request.method == "POST":
                    # application/x-www-form-urlencoded, read here: starlette's form() needs
                    # python-multipart for it, one dependency for one line
                    body = await read_body(request, MAX_FORM)
                    form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
            except Refused as exc:
                return error(exc.message, exc.status)
            p = _params(request, form)
            if "match[]" in request.query_params:
                p["match[]"] = json.dumps(request.query_params.getlist("match[]"))
            p.update(request.path_params)
            source: StoreSource = request.app.state.perflab.stores

            def run() -> Any:  # the endpoint's document
                with source.in_use():
                    return fn(p, source.get())

            try:
                return JSONResponse(await run_in_threadpool(run))
            except PerflabError as exc:
                return error(exc.message, 400)
            except Exception as exc:
                if query_interrupted(exc):
                    return error("the query took too long and was stopped: narrow the time "
                                 "range", 503)
                raise

        return endpoint

    return wrap


loki_endpoint = store_endpoint(plain_error)  # an endpoint of Loki's API


def _query_param(p: dict[str, str]) -> str:
    q = p.get("query", "")
    if not q:
        raise BadParam("parameter 'query' is required")
    return q


@loki_endpoint
def api_query_range(p: dict[str, str], store: Store) -> LokiQueryDoc:
    start, end = _range(p)
    data = query_range(store, _query_param(p), start, end, limit=_limit(p), step_ns=_step(p),
                       backward=_backward(p))
    return {"status": "success", "data": data}


@loki_endpoint
def api_query(p: dict[str, str], store: Store) -> LokiQueryDoc:
    at = parse_loki_time(p["time"], "time") if p.get("time") else time.time_ns()
    data = query_instant(store, _query_param(p), at)
    return {"status": "success", "data": data}


def _streams_in(p: dict[str, str], store: Store) -> list[dict[str, str]]:
    start, end = _range(p)
    ids = set(log_streams_in(store, start, end))
    return [json.loads(text) for sid, text in log_streams(store) if sid in ids]


@loki_endpoint
def api_labels(p: dict[str, str], store: Store) -> LokiListDoc:
    names = sorted({k for labels in _streams_in(p, store) for k in labels})
    return {"status": "success", "data": names}


@loki_endpoint
def api_label_values(p: dict[str, str], store: Store) -> LokiListDoc:
    name = p["name"]
    values = sorted({labels[name] for labels in _streams_in(p, store) if name in labels})
    return {"status": "success", "data": values}


@loki_endpoint
def api_series(p: dict[str, str], store: Store) -> LokiListDoc:
    selectors = json.loads(p["match[]"]) if "match[]" in p else []
    if not selectors:
        raise BadParam("parameter 'match[]' is required (one or more stream selectors)")
    start, end = _range(p)
    ids = set(log_streams_in(store, start, end))
    found: dict[int, dict[str, str]] = {}
    for text in selectors:
        found.update({sid: labels for sid, labels in
                      matching_streams(store, parse_selector(text)).items() if sid in ids})
    series = sorted(found.values(), key=lambda d: sorted(d.items()))
    return {"status": "success", "data": series}


API_ROUTES = [
    Route("/loki/api/v1/query_range", api_query_range, methods=["GET", "POST"],
          name="loki_query_range"),
    Route("/loki/api/v1/query", api_query, methods=["GET", "POST"], name="loki_query"),
    Route("/loki/api/v1/labels", api_labels, methods=["GET"], name="loki_labels"),
    Route("/loki/api/v1/label", api_labels, methods=["GET"], name="loki_label"),
    Route("/loki/api/v1/label/{name}/values", api_label_values, methods=["GET"],
          name="loki_label_values"),
    Route("/loki/api/v1/series", api_series, methods=["GET", "POST"], name="loki_series"),
]
