"""The Logs page of the hub: a LogQL box over a window, the volume of lines by level over it
(a histogram: a click on a bar or a drag across bars narrows the window to them), the lines a
log query keeps (newest first, coloured by level, each line's fields, trace and span id one
click away, a trace id linking to its trace) or the series of a metric query (a chart of
them above their table), and a live tail
(Loki's tail websocket, with perflab's ``fields=1``). Server-rendered with the hub's templates
(its ``base.html``); every label, field and line goes through jinja2's autoescape and is shown
inert; the page's script is inlined from ``logs/static``."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse
from starlette.routing import Route

from perflab._ui import asset, script_json
from perflab.errors import PerflabError
from perflab.logs._api import parse_loki_time
from perflab.logs._lines import line_json, query_lines, volume
from perflab.logs._logql import LogQuery, parse
from perflab.logs._query import DEFAULT_LIMIT, query_range
from perflab.store import query_interrupted
from perflab.units import parse_duration_ns, printable

if TYPE_CHECKING:
    from starlette.requests import Request

    from perflab.logs._api import StoreSource
    from perflab.logs._contracts import LokiData
    from perflab.logs._lines import Kept
    from perflab.store import Store

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
WINDOWS = ("5m", "15m", "1h", "6h", "24h", "7d")
MAX_QUERY = 4096
VOLUME_POINTS = 120  # bars of the histogram
CHART_SERIES = 20  # lines of a metric query's chart (the table lists every series)
# the hub's session cookie (web._auth.COOKIE): the header offers its logout when a browser
# has one
SESSION_COOKIE = "perflab_session"


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def log_time(ts_ns: int, *, short: bool = False) -> str:
    """A line's time to the millisecond, UTC; ``short``: without the year, as a row shows it
    (perflab.js's logTime writes the same)."""
    when = datetime.fromtimestamp(ts_ns // 10**9, tz=UTC)
    text = when.strftime("%m-%d %H:%M:%S." if short else "%Y-%m-%d %H:%M:%S.")
    return text + f"{ts_ns // 10**6 % 1000:03d}"


def _line_view(kept: Kept) -> dict[str, Any]:
    line = line_json(*kept)
    return {"when": log_time(line["ts_ns"], short=True), "title": log_time(line["ts_ns"]),
            "level": line["level"] or "unknown", "labels": printable(_labels(line["labels"])),
            "line": printable(line["line"]), "trace_id": line["trace_id"],
            "span_id": line["span_id"],
            "fields": [(printable(k), printable(v)) for k, v in line["fields"].items()]}


def _series_view(data: LokiData) -> list[tuple[str, int, Any]]:
    result: Any = data["result"]
    return [(printable(_labels(s["metric"])), len(s["values"]), s["values"][-1][1])
            for s in result]


def _chart_series(data: LokiData) -> list[dict[str, Any]]:
    """The first ``CHART_SERIES`` series of a matrix as chart lines: x in s, y a number or
    None (NaN and the infinities draw as gaps, not as a line off the chart), and the level a
    series counts (None when it is not one level's)."""
    result: Any = data["result"]
    out = []
    for s in result[:CHART_SERIES]:
        ys = [float(v) for _, v in s["values"]]
        metric = s["metric"]
        out.append({"label": printable(_labels(metric)),
                    # a series of one level is drawn in that level's colour, as the histogram
                    "level": metric.get("level", metric.get("detected_level")),
                    "x": [float(t) for t, _ in s["values"]],
                    "y": [y if math.isfinite(y) else None for y in ys]})
    return out


def _window(request: Request) -> tuple[int, int, str, bool]:
    """[start, end), the window's name and whether the page names its own range (start/end
    from a click on the histogram) rather than a window up to now."""
    q = request.query_params
    window = q.get("window", "1h")
    if window not in WINDOWS:
        window = "1h"
    end = time.time_ns() + 1
    start = end - parse_duration_ns(window)
    ranged = bool(q.get("start") or q.get("end"))
    if ranged:
        end = parse_loki_time(q["end"], "end") if q.get("end") else end
        start = parse_loki_time(q["start"], "start") if q.get("start") else end - 3600 * 10**9
    return start, end, window, ranged


def _answer(store: Store, query: str, start: int, end: int) -> dict[str, Any]:
    expr = parse(query)
    if isinstance(expr, LogQuery):
        kept, more = query_lines(store, expr, start, end, limit=DEFAULT_LIMIT)
        return {"lines": [_line_view(k) for k in kept], "more": more, "log_query": True,
                "volume": volume(store, expr, start, end, points=VOLUME_POINTS)}
    data = query_range(store, query, start, end)
    return {"series": _series_view(data), "chart": _chart_series(data)}


async def logs_page(request: Request) -> HTMLResponse:
    query = request.query_params.get("query", "")[:MAX_QUERY]
    values: dict[str, Any] = {"series": None, "chart": None, "lines": [], "more": False,
                              "log_query": False, "volume": None, "error": None}
    status = 200
    window = "1h"
    start = end = 0
    ranged = False
    try:
        start, end, window, ranged = _window(request)
        if start >= end:
            values["error"], status = "the end must be after the start", 400
        elif query:
            source: StoreSource = request.app.state.perflab.stores

            def run() -> dict[str, Any]:
                with source.in_use():
                    return _answer(source.get(), query, start, end)

            values.update(await run_in_threadpool(run))
    except PerflabError as exc:
        values["error"], status = exc.message, 400
    except Exception as exc:
        if not query_interrupted(exc):
            raise
        values["error"], status = "the query took too long and was stopped: narrow it", 503
    state = request.app.state.perflab
    page_data = {"query": query, "start_ns": start, "end_ns": end, "window": window,
                 "volume": values["volume"], "log_query": values["log_query"],
                 "chart": values["chart"]}
    html = state.templates.get_template("logs.html").render(
        host=state.host, page="logs", signed_in=SESSION_COOKIE in request.cookies,
        query=query, window=window, windows=WINDOWS, ranged=ranged,
        range_text=f"{log_time(start)} to {log_time(end)} UTC" if ranged else "",
        limit=DEFAULT_LIMIT, chart_series=CHART_SERIES, page_data=script_json(page_data),
        script=asset("logs.js", STATIC), **values)
    return HTMLResponse(html, status_code=status)


PAGE_ROUTES = [Route("/logs", logs_page, methods=["GET"], name="logs_page")]
