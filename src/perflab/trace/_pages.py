"""The tracing pages of the hub: Traces (search, scatter, results), Trace (waterfall, critical
path, span details, profile slices), Services (dependency graph, RED, coverage) and Compare (the
trace diff). Server-rendered with the hub's templates (its ``base.html``) and the data each page
draws embedded with ``perflab._ui.script_json``; each page's script is inlined from
``trace/static`` (no extra request, nothing to cache wrongly)."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from perflab._ui import script_json
from perflab.store import query_interrupted, span_operations, span_services
from perflab.trace._api import perflab_query, stores
from perflab.trace._loadcov import load_tests_coverage
from perflab.trace._model import parse_hex_id
from perflab.trace._profiles import process_pid, profile_links
from perflab.trace._query import MAX_TRACE_SPANS, get_trace
from perflab.trace._views import (
    ViewError,
    diff_document,
    search_document,
    services_document,
    trace_json,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from starlette.requests import Request

    from perflab.store import Store

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
WINDOWS = ("5m", "15m", "1h", "6h", "24h")
# the hub's session cookie (web._auth.COOKIE; a test pins them equal): the header offers its
# logout when a browser has one
SESSION_COOKIE = "perflab_session"


def inline(name: str) -> Markup:
    """A script or stylesheet of ``trace/static``, to inline in a page (our own files)."""
    text = (STATIC / name).read_text(encoding="utf-8")
    # our own files; still, no "</script" or "</style" in a string may end the element early
    return Markup(text.replace("</script", "<\\/script").replace("</style", "<\\/style"))  # noqa: S704


def _render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    state = request.app.state.perflab
    html = state.templates.get_template(template).render(
        host=state.host, signed_in=SESSION_COOKIE in request.cookies, inline=inline, **values)
    return HTMLResponse(html, status_code=status)


def page(fn: Callable[[Request, Store], Response]) -> Callable[[Request], Response]:
    """A page reading the store: 400/404 pages for bad requests, 503 past the deadline."""

    @functools.wraps(fn)
    def endpoint(request: Request) -> Response:
        source = stores(request)
        try:
            with source.in_use():
                return fn(request, source.get())
        except ViewError as exc:
            return _render(request, "error.html", status=exc.status, page="",
                           message=exc.message)
        except Exception as exc:
            if query_interrupted(exc):
                return _render(request, "error.html", status=503, page="",
                               message="This page took too long to read and was stopped: try "
                                       "a narrower time range.")
            raise

    return endpoint


def _form(request: Request) -> dict[str, str]:
    keys = ("service", "operation", "tags", "minDuration", "maxDuration", "start", "end",
            "limit")
    return {k: request.query_params.get(k, "")[:300] for k in keys}


@page
def traces_page(request: Request, store: Store) -> Response:
    form = _form(request)
    services = span_services(store)
    operations = sorted({op for _, op, _, _ in span_operations(store, form["service"])}) \
        if form["service"] else []
    error = None
    doc: Mapping[str, Any] = {"traces": []}
    try:
        query = perflab_query(request, default_limit=200)
        if query.start_ns is None and not form["start"]:
            query = _default_window(query)
        doc = search_document(store, query)
    except ViewError as exc:
        error = exc.message
    return _render(request, "traces.html", status=400 if error else 200, page="traces",
                   form=form, services=services, operations=operations, error=error,
                   traces=doc["traces"], data=script_json({"traces": doc["traces"]}))


def _default_window(query: Any) -> Any:
    import dataclasses  # noqa: PLC0415

    return dataclasses.replace(query, start_ns=time.time_ns() - 3600 * 10**9)


@page
def trace_page(request: Request, store: Store) -> Response:
    raw = request.path_params["trace_id"]
    tid = parse_hex_id(raw, 16)
    if tid is None:
        raise ViewError(400, f"A trace id is 1 to 32 hex digits, not {raw[:40]!r}.")
    trace = get_trace(store, tid, limit=MAX_TRACE_SPANS)
    if trace is None:
        raise ViewError(404, f"no trace {tid.hex()} in this store")
    doc = trace_json(trace)
    # the page's data: the document, with what the page links (profiles; each span's process,
    # whose profile is its own)
    data = {**doc, "spans": [{**span_doc, "pid": process_pid(span.process)}
                             for span, span_doc in zip(trace.spans, doc["spans"], strict=True)],
            "profiles": profile_links(store, trace)}
    return _render(request, "trace.html", page="traces", trace=doc["trace"],
                   warnings=doc["warnings"], data=script_json(data))


@page
def services_page(request: Request, store: Store) -> Response:
    window = request.query_params.get("window", "15m")
    if window not in WINDOWS:
        window = "15m"
    from perflab.units import parse_duration_ns  # noqa: PLC0415

    now = time.time_ns()
    start = now - parse_duration_ns(window)
    # the endpoints load tests hit in the window, beside the operations the spans show (the
    # page's own data: the services API answers with what its schema says)
    doc = {**services_document(store, start, now),
           "load_tests": load_tests_coverage(store, start, now)}
    return _render(request, "services.html", page="services", window=window, windows=WINDOWS,
                   doc=doc, data=script_json(doc))


@page
def compare_page(request: Request, store: Store) -> Response:
    q = request.query_params
    form = {k: q.get(k, "")[:300] for k in ("a", "b", "service", "operation", "a_run", "b_run",
                                            "mode", "start", "end")}
    doc = None
    error = None
    if any(form[k] for k in ("a", "b", "service", "a_run", "b_run")):
        params = {k: form[k] for k in ("a", "b", "a_run", "b_run") if form[k]}
        try:
            query = perflab_query(request, default_limit=1000)
            doc = diff_document(store, params, query)
        except ViewError as exc:
            error = exc.message
    return _render(request, "trace_compare.html", status=400 if error else 200,
                   page="traces", form=form, doc=doc,
                   error=error, services=span_services(store),
                   data=script_json(doc or {}))


ROUTES = [
    Route("/traces", traces_page, name="traces"),
    Route("/traces/compare", compare_page, name="trace_compare"),
    Route("/traces/{trace_id}", trace_page, name="trace"),
    Route("/services", services_page, name="services"),
]
