"""The Logs page of the hub: a LogQL box over a window, the lines a log query keeps (newest
first) or the series of a metric query. Server-rendered with the hub's templates (its
``base.html``); every label and line goes through jinja2's autoescape and is shown inert."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse
from starlette.routing import Route

from perflab.errors import PerflabError
from perflab.logs._query import DEFAULT_LIMIT, query_range
from perflab.store import query_interrupted
from perflab.units import format_timestamp, parse_duration_ns, printable

if TYPE_CHECKING:
    from starlette.requests import Request

    from perflab.logs._api import StoreSource
    from perflab.logs._contracts import LokiData

TEMPLATES = Path(__file__).resolve().parent / "templates"
WINDOWS = ("5m", "15m", "1h", "6h", "24h", "7d")
MAX_QUERY = 4096


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _view(data: LokiData) -> dict[str, Any]:
    result: Any = data["result"]
    if data["resultType"] == "streams":
        lines = sorted(((int(ts), _labels(s["stream"]), line) for s in result
                        for ts, line in s["values"]), key=lambda e: e[0], reverse=True)
        return {"lines": [(format_timestamp(ts), printable(lab), printable(line))
                          for ts, lab, line in lines], "streams": result, "series": None}
    return {"series": [(printable(_labels(s["metric"])), len(s["values"]), s["values"][-1][1])
                       for s in result], "streams": None, "lines": []}


async def logs_page(request: Request) -> HTMLResponse:
    query = request.query_params.get("query", "")[:MAX_QUERY]
    window = request.query_params.get("window", "1h")
    if window not in WINDOWS:
        window = "1h"
    values: dict[str, Any] = {"streams": None, "series": None, "lines": [], "error": None}
    status = 200
    if query:
        source: StoreSource = request.app.state.perflab.stores
        end = time.time_ns()
        start = end - parse_duration_ns(window)

        def run() -> LokiData:
            with source.in_use():
                return query_range(source.get(), query, start, end + 1, limit=DEFAULT_LIMIT)

        try:
            values.update(_view(await run_in_threadpool(run)))
        except PerflabError as exc:
            values["error"], status = exc.message, 400
        except Exception as exc:
            if not query_interrupted(exc):
                raise
            values["error"], status = "the query took too long and was stopped: narrow it", 503
    state = request.app.state.perflab
    html = state.templates.get_template("logs.html").render(
        host=state.host, page="logs", query=query, window=window, windows=WINDOWS,
        limit=DEFAULT_LIMIT, **values)
    return HTMLResponse(html, status_code=status)


PAGE_ROUTES = [Route("/logs", logs_page, methods=["GET"], name="logs_page")]
