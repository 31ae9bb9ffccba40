"""The SLOs page (``/slos``): for each SLO the hub was given (``perflab serve --slo SPEC``),
the error budget left over its window, the burn rate of each window now, the burn rate over
time as a chart with the workbook's alert thresholds, and the times its burn-rate alerts fired
as bands.

Burn rates are computed from the SLI itself (``SLO.error_ratio`` over the budget), not from the
recording rules, so the chart covers data older than the rules too. The alert bands are the
``alert`` events the rule manager wrote for ``SLOErrorBudgetBurn*`` with this SLO's label.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from perflab._ui import script_json
from perflab.metrics._ast import PromQLError
from perflab.metrics._engine import QueryOptions, range_query
from perflab.metrics._pages import render
from perflab.metrics._slo import BURN_ALERTS, SLO, status
from perflab.metrics._storeq import StoreQueryable

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from perflab.metrics._hub import MetricsHub
    from perflab.store import Event, Store

RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600, "7d": 7 * 24 * 3600}
CHART_WINDOWS = ("5m", "1h", "6h", "3d")   # the short and long windows the alerts pair
POINTS = 240                                # points per line of the chart
QUERY_BUDGET_S = 20.0


def _burn_series(slo: SLO, queryable: StoreQueryable, start_ms: int, end_ms: int,
                 step_ms: int) -> dict[str, list[float | None]]:
    budget = 1 - slo.objective
    out: dict[str, list[float | None]] = {}
    steps = list(range(start_ms, end_ms + 1, step_ms))
    options = QueryOptions(deadline=time.monotonic() + QUERY_BUDGET_S)
    for window in CHART_WINDOWS:
        values: list[float | None] = [None] * len(steps)
        try:
            matrix = range_query(queryable, f"({slo.error_ratio(window)}) / {budget!r}",
                                 start_ms, end_ms, step_ms, options)
        except PromQLError:
            matrix = []
        for _, points in matrix[:1]:  # an SLI is one ratio: one series
            for t, v in points:
                i = (t - start_ms) // step_ms
                if 0 <= i < len(values) and math.isfinite(v):
                    values[i] = v
        out[window] = values
    return out


def _thresholds(highest: float) -> list[float]:
    """The alert thresholds worth a line: 1x always, the others up to twice the highest burn
    rate in view (a 14.4x line over data under 1x would flatten the data to the axis)."""
    factors = sorted({f for _, _, _, f in BURN_ALERTS}, reverse=True)
    return [f for f in factors if f <= max(1.0, 2 * highest)]


def _alert_bands(store: Store, slo: SLO, since_ns: int) -> list[Event]:
    bands: list[Event] = []
    for run in store.runs(since_ns=since_ns):
        bands.extend(e for e in store.events(run.id, start_ns=since_ns)
                     if e.kind == "alert" and e.text.startswith("SLOErrorBudgetBurn")
                     and " firing" in e.text
                     and e.attrs.get("labels", {}).get("slo") == slo.name)
    bands.sort(key=lambda e: e.ts_ns)
    return bands


def _active(hub: MetricsHub, slo: SLO) -> list[dict[str, str]]:
    if hub.rules is None:
        return []
    return [{"alert": name, "state": a.state, "severity": dict(a.labels).get("severity", "")}
            for name, a in hub.rules.active_alerts()
            if name.startswith("SLOErrorBudgetBurn") and dict(a.labels).get("slo") == slo.name]


def slo_page_data(hub: MetricsHub, range_s: int, now_ms: int) -> list[dict[str, Any]]:
    """Everything the page shows, per SLO (off the event loop: it runs PromQL)."""
    out = []
    step_ms = max(1000, range_s * 1000 // POINTS)
    end_ms = now_ms - now_ms % step_ms
    start_ms = end_ms - range_s * 1000
    with hub.store() as store:
        queryable = StoreQueryable(store)
        for slo in hub.slos:
            now = status(slo, queryable, now_ms)
            bands = _alert_bands(store, slo, start_ms * 1_000_000)
            lines = _burn_series(slo, queryable, start_ms, end_ms, step_ms)
            highest = max((v for vs in lines.values() for v in vs if v is not None),
                          default=0.0)
            out.append({
                "slo": slo, "status": now, "active": _active(hub, slo),
                "chart": {"start_s": start_ms // 1000, "step_s": step_ms // 1000,
                          "lines": lines, "thresholds": _thresholds(highest),
                          "bands": [{"ts_ns": e.ts_ns, "end_ns": e.end_ns, "text": e.text}
                                    for e in bands]},
                "bands": bands,
            })
    return out


async def slos_page(request: Request) -> Response:
    hub: MetricsHub = request.app.state.metrics
    rng = request.query_params.get("range", "24h")
    if rng not in RANGES:
        rng = "24h"
    now_ms = time.time_ns() // 1_000_000
    slos = await run_in_threadpool(slo_page_data, hub, RANGES[rng], now_ms)
    page_data = script_json({"now_ns": now_ms * 1_000_000, "slos": [
        {"name": s["slo"].name, **s["chart"]} for s in slos]})
    return render(request, "metrics_slos.html", page="slos", slos=slos, range=rng,
                  ranges=tuple(RANGES), windows=CHART_WINDOWS, page_data=page_data,
                  burn_alerts=BURN_ALERTS)


ROUTES = [Route("/slos", slos_page, name="slos")]
