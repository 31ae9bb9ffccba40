"""The JSON the log pages read (perflab's own API, beside Loki's; schemas in docs/schemas/)::

    GET /api/logs/lines    query, start, end, limit, run, direction   perflab.api.log_lines/1
    GET /api/logs/volume   query, start, end, points, run             perflab.api.log_volume/1
    GET /api/logs/trace/{trace_id}                                    perflab.api.trace_logs/1

``query`` is a LogQL log query; without one, every line (of ``run``, when given). ``run`` (an
id) keeps that run's lines and makes its start and end the default window; otherwise the
window defaults to the hour up to now. Times as Loki's API reads them. Each line comes with
what ingest read from it: level, fields, trace and span id. Errors are perflab's API errors,
``{"error": ..., "status": ...}`` (400, or 503 past the query deadline).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from perflab.errors import NotFound
from perflab.logs._api import BadParam, _backward, _limit, parse_loki_time, store_endpoint
from perflab.logs._eval import matching_streams
from perflab.logs._lines import line_json, log_query, query_lines, run_lines, volume
from perflab.store import log_lines_of_trace

if TYPE_CHECKING:
    from perflab.logs._contracts import LogLinesDoc, LogVolumeDoc, TraceLogsDoc
    from perflab.logs._logql import LogQuery
    from perflab.store import Store

_HOUR_NS = 3600 * 10**9
_TRACE_ID = re.compile(r"[0-9a-fA-F]{1,32}")
MAX_POINTS = 2000  # bars of a volume histogram
TRACE_LINES = 2000  # lines shown with one trace


def json_error(message: str, status: int) -> Response:
    return JSONResponse({"error": message, "status": status}, status_code=status)


api_endpoint = store_endpoint(json_error)


def _run_id(p: dict[str, str]) -> int | None:
    text = p.get("run", "")
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise BadParam(f"invalid run {text[:30]!r}: a run id")
    return int(text)


def _window(p: dict[str, str], store: Store, run_id: int | None) -> tuple[int, int]:
    """[start, end): the parameters, else the run's span, else the hour up to now."""
    end = start = None
    if run_id is not None:
        try:
            run = store.run(run_id)
        except NotFound:
            raise BadParam(f"no run {run_id} in this store") from None
        start, end = run.started_ns, (run.ended_ns or time.time_ns()) + 1
    end = parse_loki_time(p["end"], "end") if p.get("end") else end or time.time_ns() + 1
    start = parse_loki_time(p["start"], "start") if p.get("start") else start or end - _HOUR_NS
    if start >= end:
        raise BadParam("the end must be after the start")
    return start, end


def _log_query(p: dict[str, str]) -> LogQuery | None:
    text = p.get("query", "")
    return log_query(text) if text else None


@api_endpoint
def api_log_lines(p: dict[str, str], store: Store) -> LogLinesDoc:
    run_id = _run_id(p)
    start, end = _window(p, store, run_id)
    query = _log_query(p)
    limit = _limit(p)
    if query is None:
        if run_id is None:
            raise BadParam("give a LogQL 'query', or a 'run' for every line of that run")
        kept, more = run_lines(store, run_id, start, end, limit=limit)
    else:
        kept, more = query_lines(store, query, start, end, limit=limit, run_id=run_id,
                                 backward=_backward(p))
    return {"schema": "perflab.api.log_lines/1", "start_ns": start, "end_ns": end,
            "lines": [line_json(*k) for k in kept], "truncated": more}


@api_endpoint
def api_log_volume(p: dict[str, str], store: Store) -> LogVolumeDoc:
    run_id = _run_id(p)
    start, end = _window(p, store, run_id)
    text = p.get("points", "120")
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_POINTS:
        raise BadParam(f"invalid points {text[:20]!r}: 1 to {MAX_POINTS}")
    return volume(store, _log_query(p), start, end, points=int(text), run_id=run_id)


@api_endpoint
def api_trace_logs(p: dict[str, str], store: Store) -> TraceLogsDoc:
    text = p["trace_id"]
    if not _TRACE_ID.fullmatch(text):
        raise BadParam(f"invalid trace id {text[:40]!r}: up to 32 hex digits")
    trace_id = text.lower().rjust(32, "0")
    rows = log_lines_of_trace(store, bytes.fromhex(trace_id), limit=TRACE_LINES + 1)
    labels = _stream_labels(store, {r.stream_id for r in rows})
    return {"schema": "perflab.api.trace_logs/1", "trace_id": trace_id,
            "lines": [line_json(r, labels[r.stream_id], r.line) for r in rows[:TRACE_LINES]],
            "truncated": len(rows) > TRACE_LINES}


def _stream_labels(store: Store, ids: set[int]) -> dict[int, dict[str, str]]:
    return {sid: labels for sid, labels in matching_streams(store, ()).items() if sid in ids}


PAGE_API_ROUTES = [
    Route("/api/logs/lines", api_log_lines, methods=["GET"], name="api_log_lines"),
    Route("/api/logs/volume", api_log_volume, methods=["GET"], name="api_log_volume"),
    Route("/api/logs/trace/{trace_id}", api_trace_logs, methods=["GET"], name="api_trace_logs"),
]
