"""The Query and Alerts pages of the dashboard, and their scripts (and the SLOs page's:
``_slo_page``).

Rendered by the web app's template environment (these templates extend its ``base.html``);
data is embedded with ``_ui.script_json``; the charts are perflab's shared ones.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from perflab._ui import script_json
from perflab.metrics._functions import INSTANT_FUNCTIONS, RANGE_FUNCTIONS
from perflab.store import Store, silences

if TYPE_CHECKING:
    from starlette.requests import Request

    from perflab.metrics._hub import MetricsHub

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
ASSETS = {"query.js": "text/javascript", "alerts.js": "text/javascript",
          "slos.js": "text/javascript"}
RANGES = ("5m", "15m", "1h", "6h", "24h", "7d")
AGGREGATIONS = ("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk",
                "bottomk", "quantile", "count_values", "without", "by", "on", "ignoring",
                "group_left", "group_right", "offset", "bool", "and", "or", "unless")
HISTORY_NS = 24 * 3600 * 10**9


def render(request: Request, template: str, **values: Any) -> HTMLResponse:
    state = request.app.state.perflab
    html = state.templates.get_template(template).render(host=state.host, **values)
    return HTMLResponse(html)


async def query_page(request: Request) -> Response:
    q = request.query_params
    expr = q.get("expr", "")[:20_000]
    rng = q.get("range", "1h")
    if rng not in RANGES:
        rng = "1h"
    functions = sorted({*INSTANT_FUNCTIONS, *RANGE_FUNCTIONS, "absent_over_time",
                        *AGGREGATIONS})
    return render(request, "metrics_query.html", page="query", expr=expr, range=rng,
                   ranges=RANGES, step=q.get("step", "")[:20],
                   page_data=script_json({"functions": functions}))


def _alerts_data(hub: MetricsHub) -> dict[str, Any]:
    now = time.time_ns()
    with hub.store() as store:
        history = _history(store, now)
        active_silences = [s for s in silences(store)
                           if s.starts_ns <= now < (s.expired_ns or s.ends_ns)]
    groups = hub.rules.api_groups() if hub.rules is not None else []
    active = hub.rules.active_alerts() if hub.rules is not None else []
    active.sort(key=lambda na: (na[1].state != "firing", na[0], na[1].labels))
    destinations = hub.notifier.status() if hub.notifier is not None else []
    return {"history": history, "silences": active_silences, "groups": groups,
            "active": active, "destinations": destinations, "now": now}


def _history(store: Store, now: int) -> list[Any]:
    out: list[Any] = []
    for run in store.runs(since_ns=now - HISTORY_NS):
        out.extend(e for e in store.events(run.id, start_ns=now - HISTORY_NS)
                   if e.kind == "alert" and " firing" in e.text)
    out.sort(key=lambda e: e.ts_ns, reverse=True)
    return out[:500]


async def alerts_page(request: Request) -> Response:
    hub: MetricsHub = request.app.state.metrics
    data = await run_in_threadpool(_alerts_data, hub)
    page_data = script_json({"now_ns": data["now"], "history": [
        {"ts_ns": e.ts_ns, "end_ns": e.end_ns, "text": e.text,
         "attrs": {"labels": e.attrs.get("labels", {})}} for e in data["history"]]})
    return render(request, "metrics_alerts.html", page="alerts", page_data=page_data,
                   history=data["history"], silences=data["silences"],
                   groups=data["groups"], active=data["active"],
                   destinations=data["destinations"])


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        return PlainTextResponse("not found", status_code=404)
    return FileResponse(STATIC / name, media_type=ASSETS[name],
                        headers={"Cache-Control": "no-cache"})


ROUTES = [
    Route("/metrics/query", query_page, name="metrics_query"),
    Route("/alerts", alerts_page, name="alerts"),
    Route("/metrics-assets/{name}", asset, name="metrics_asset"),
]
