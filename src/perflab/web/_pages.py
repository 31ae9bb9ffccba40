"""The dashboard's HTML pages: server-rendered (jinja2), charts drawn by static/perflab.js."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from perflab._ui import script_json
from perflab.debug import debug_section_html
from perflab.errors import NotFound
from perflab.report import format_value, load_section_values, render_report, series_key
from perflab.store import run_kinds
from perflab.web._api import run_document, run_events
from perflab.web._auth import COOKIE
from perflab.web._db import interrupted, uses_store
from perflab.web._params import BadParam, ascii_int, int_param, text_param, time_param

if TYPE_CHECKING:
    from starlette.requests import Request

    from perflab.store import Run, Series, Store, Summary
    from perflab.web._state import AppState

WINDOWS = ("5m", "15m", "1h", "6h", "24h")
RUNS_LIMIT = 500


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.perflab
    return state


def _page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    state = _state(request)
    # a session cookie is only set by the token's login page: offer its logout
    signed_in = COOKIE in request.cookies
    html = state.templates.get_template(template).render(host=state.host, signed_in=signed_in,
                                                         **values)
    return HTMLResponse(html, status_code=status)


def _not_found(request: Request, message: str, status: int = 404) -> HTMLResponse:
    return _page(request, "error.html", status=status, page="", message=message)


def overview(request: Request) -> HTMLResponse:
    window = request.query_params.get("window", "5m")
    if window not in WINDOWS:
        window = "5m"
    return _page(request, "overview.html", page="overview", windows=WINDOWS, window=window)


def runs(request: Request) -> HTMLResponse:
    store = _state(request).stores.get()
    q = request.query_params
    f = {k: q.get(k, "").strip() for k in ("kind", "name", "since", "until")}
    error = None
    found: list[Run] = []
    try:
        kind, name = text_param(f, "kind"), text_param(f, "name")
        found = store.runs(kind=kind, name=name,
                           since_ns=time_param(f, "since"), until_ns=time_param(f, "until"),
                           limit=RUNS_LIMIT)
    except BadParam as exc:
        error = str(exc)
        f = {k: v[:200] for k, v in f.items()}  # shown back in the form: bounded
    kinds = run_kinds(store)
    return _page(request, "runs.html", status=400 if error else 200, page="runs", runs=found,
                 kinds=kinds, f=f, error=error, limit=RUNS_LIMIT)


def _lookup(store: Store, raw: str) -> Run | None:
    """The run of a path's id: ASCII digits only (``/runs/%D9%A1``, an Arabic-Indic one, is
    no run), and at most 2^63 - 1."""
    run_id = ascii_int(raw)
    if run_id is None or run_id < 0:
        return None
    try:
        return store.run(run_id)
    except NotFound:
        return None


def _path_run(request: Request) -> tuple[Store, Run] | HTMLResponse:
    """The store and the run the path names, or the page that says there is no such run."""
    store = _state(request).stores.get()
    run = _lookup(store, request.path_params["run_id"])
    if run is None:
        return _not_found(request, f"No run {request.path_params['run_id'][:40]!r} in this "
                                   "store.")
    return store, run


def run_page(request: Request) -> HTMLResponse:
    found = _path_run(request)
    if isinstance(found, HTMLResponse):
        return found
    store, run = found
    doc = run_document(store, run)
    load = load_section_values(store, run)
    return _page(request, "run.html", page="run", run=run, series=doc["series"],
                 events=run_events(store, run), n_series=len(doc["series"]),
                 n_events=len(doc["events"]), doc_json=script_json(doc),
                 load=load is not None, debug_html=debug_section_html(store, run),
                 **(load or {}))


def run_report(request: Request) -> Response:
    found = _path_run(request)
    if isinstance(found, HTMLResponse):
        return found
    store, run = found
    return HTMLResponse(render_report(store, run.id, hub_url=str(request.base_url)), headers={
        "Content-Disposition": f'attachment; filename="perflab-report-{run.id}.html"'})


def _delta(a: float | None, b: float | None) -> tuple[str, str]:
    if a is None or b is None:
        return "-", ""
    if a == 0:
        return ("0%", "") if b == 0 else ("new", "delta-up")
    pct = 100.0 * (b - a) / abs(a)
    css = "" if abs(pct) < 5 else ("delta-up" if pct > 0 else "delta-down")
    return f"{pct:+.1f}%", css


def _promql_copy(series: Series) -> bool:
    """A series written for PromQL that repeats what another one charts: perflab's own
    node_exporter-named copies of the system series (job "perflab") and the spanmetrics
    counters beside trace.*; perflab.js's groupCharts leaves out the same ones."""
    return series.name.startswith("traces_span_metrics_") or (
        series.name.startswith("node_") and series.labels.get("job") == "perflab")


def compare(request: Request) -> HTMLResponse:
    store = _state(request).stores.get()
    q = request.query_params
    choices = store.runs(limit=RUNS_LIMIT)
    try:
        ids = {k: int_param(dict(q), k, lo=1) for k in ("a", "b")}
    except BadParam as exc:
        return _page(request, "compare.html", status=400, page="compare", choices=choices,
                     picked={"a": None, "b": None}, a=None, b=None, error=str(exc))
    a = None if ids["a"] is None else _lookup(store, str(ids["a"]))
    b = None if ids["b"] is None else _lookup(store, str(ids["b"]))
    error = None
    for key, got in (("a", a), ("b", b)):
        if ids[key] is not None and got is None:
            error = f"No run {ids[key]} in this store."
    values: dict[str, Any] = {"page": "compare", "choices": choices, "picked": ids,
                              "a": a, "b": b, "error": error}
    if a is None or b is None:
        return _page(request, "compare.html", status=404 if error else 200, **values)
    sa = {series_key(s): s for s in store.series(a.id) if not _promql_copy(s)}
    sb = {series_key(s): s for s in store.series(b.id) if not _promql_copy(s)}
    cache = _state(request).summaries
    sum_a = {m.series_id: m for m in cache.run(store, a)}
    sum_b = {m.series_id: m for m in cache.run(store, b)}
    rows, same, pairs = [], [], []
    for key in sorted(sa.keys() & sb.keys()):
        ma: Summary = sum_a[sa[key].id]
        mb: Summary = sum_b[sb[key].id]
        unit = sa[key].unit
        if _flat_and_equal(ma, mb):
            # the same constant in both runs (an idle interface's 0/s): a row in a short
            # list, not a chart nor a line of zeros among the deltas
            same.append({"key": key, "value": format_value(ma.min, unit)})
            continue
        mean_delta, mean_class = _delta(ma.mean, mb.mean)
        p95_delta, p95_class = _delta(ma.p95, mb.p95)
        rows.append({"key": key, "mean_delta": mean_delta, "mean_class": mean_class,
                     "p95_delta": p95_delta, "p95_class": p95_class,
                     **{f"{k}_{r}": format_value(getattr(m, k), unit)
                        for k in ("mean", "p95", "max") for r, m in (("a", ma), ("b", mb))}})
        pairs.append({"key": key, "unit": unit, "a": sa[key].id, "b": sb[key].id})
    only = sorted(sa.keys() ^ sb.keys())
    doc = {"a": a.to_json(), "b": b.to_json(), "pairs": pairs}
    return _page(request, "compare.html", rows=rows, same=same, only=only[:200],
                 only_count=len(only), doc_json=script_json(doc), **values)


def _flat_and_equal(ma: Summary, mb: Summary) -> bool:
    """Both runs hold one and the same value throughout (or neither has a sample)."""
    if ma.count == 0 and mb.count == 0:
        return True
    return ma.min is not None and ma.min == ma.max == mb.min == mb.max


def answering(fn: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """A page that reads the store: a bad parameter is a 400 page, a query past its deadline
    a 503 page, never a 500."""

    @functools.wraps(fn)
    def page(request: Request) -> Response:
        try:
            return uses_store(fn)(request)
        except BadParam as exc:
            return _not_found(request, f"Bad request: {exc}.", status=400)
        except Exception as exc:
            if interrupted(exc):
                return _not_found(request, "This page took too long to read and was stopped: "
                                           "try a narrower view.", status=503)
            raise

    return page


ROUTES = [
    Route("/", overview, name="overview"),
    Route("/runs", answering(runs), name="runs"),
    Route("/runs/{run_id}", answering(run_page), name="run"),
    Route("/runs/{run_id}/report", answering(run_report), name="run_report"),
    Route("/compare", answering(compare), name="compare"),
]
