"""The profile of any time range of a run, and the diff of two ranges (the Run page's Profile
panel; documented in docs/api.md).

    GET /api/runs/{id}/profile/slices         where profiles exist on the timeline
    GET /api/runs/{id}/profile?start=&end=    the range's merged profile: totals, top functions
    GET /api/runs/{id}/profile/diff?a_start=&a_end=&b_start=&b_end=
                                              functions whose share changed most from A to B
    GET /runs/{id}/flame?start=&end=          the range's interactive flame graph (HTML page)
    GET /runs/{id}/flame/diff?a_start=...     the differential flame graph of A -> B (HTML)

A range merges every slice overlapping it, so its resolution is one slice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from perflab.errors import NotFound, PerflabError
from perflab.profile import (
    diff_flame_html,
    flame_html,
    profile_slices,
    range_changes,
    range_profile,
)
from perflab.units import format_timestamp
from perflab.web._api import _run, doc, error
from perflab.web._contracts import ApiProfileDiffDoc, ApiProfileDoc, ApiProfileSlicesDoc
from perflab.web._params import BadParam, int_param, text_param, time_param

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from perflab.profile import RangeProfile
    from perflab.store import Store
    from perflab.web._state import AppState

MAX_FUNCTIONS = 200


def _store(request: Request) -> Store:
    state: AppState = request.app.state.perflab
    return state.stores.get()


def _range(p: dict[str, str], start_key: str, end_key: str) -> tuple[int | None, int | None]:
    start, end = time_param(p, start_key), time_param(p, end_key)
    if start is not None and end is not None and end <= start:
        raise BadParam(f"{end_key} must be after {start_key}")
    return start, end


def _read(store: Store, request: Request, start_key: str = "start",
          end_key: str = "end") -> tuple[int, RangeProfile]:
    p = dict(request.query_params)
    run = _run(store, request.path_params["run_id"])
    start, end = _range(p, start_key, end_key)
    return run.id, range_profile(store, run.id, start, end, name=text_param(p, "name"),
                                 pid=int_param(p, "pid", lo=1))


def _limit(request: Request) -> int:
    value = int_param(dict(request.query_params), "limit", default=20, lo=1, hi=MAX_FUNCTIONS)
    assert value is not None
    return value


def _answering_errors(
    render: Callable[[int, str], Response],
) -> Callable[[Callable[[Request], Response]], Callable[[Request], Response]]:
    """An endpoint decorator: 400 for a bad parameter, 404 for no run / no slices in the
    range, 500 for a slice that does not decode (the store holds something perflab did not
    write), each answered by ``render(status, message)``."""

    def wrap(fn: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                return fn(request)
            except BadParam as exc:
                return render(400, str(exc))
            except NotFound as exc:
                return render(404, str(exc))
            except PerflabError as exc:
                return render(500, exc.message)

        endpoint.__name__ = fn.__name__
        return endpoint

    return wrap


def _message(status: int, text: str) -> HTMLResponse:
    from html import escape  # noqa: PLC0415

    return HTMLResponse(
        '<!DOCTYPE html><meta charset="utf-8"><title>No profile</title>'
        '<body style="font:13px system-ui,sans-serif;color:#5b6270;padding:12px">'
        f'<p class="flame-error">{escape(text)}</p>', status_code=status)


_json = _answering_errors(error)  # the APIs: a JSON error document
_html = _answering_errors(_message)  # pages in an iframe: a short page saying why


def _window_text(r: RangeProfile) -> str:
    if r.start_ns is None and r.end_ns is None:
        return "the whole run"
    a = "start" if r.start_ns is None else format_timestamp(r.start_ns)
    b = "end" if r.end_ns is None else format_timestamp(r.end_ns)
    return f"{a} to {b}"


@_json
def get_slices(request: Request) -> JSONResponse:
    store = _store(request)
    run = _run(store, request.path_params["run_id"])
    return doc(ApiProfileSlicesDoc(
        schema="perflab.api.profile_slices/1", run_id=run.id,
        slices=[s.to_json() for s in profile_slices(store, run.id)]))


@_json
def get_profile(request: Request) -> JSONResponse:
    store = _store(request)
    run_id, r = _read(store, request)
    body: ApiProfileDoc = {"schema": "perflab.api.profile/1", "run_id": run_id,
                           **r.summary_json(_limit(request))}
    return doc(body)


@_json
def get_diff(request: Request) -> JSONResponse:
    store = _store(request)
    limit = _limit(request)
    run_id, a = _read(store, request, "a_start", "a_end")
    _, b = _read(store, request, "b_start", "b_end")
    changes = range_changes(a.profile, b.profile, limit)
    return doc(ApiProfileDiffDoc(schema="perflab.api.profile_diff/1", run_id=run_id,
                                 a=a.summary_json(limit), b=b.summary_json(limit),
                                 changes=[c.to_json() for c in changes]))


@_html
def flame_page(request: Request) -> Response:
    store = _store(request)
    run_id, r = _read(store, request)
    return HTMLResponse(flame_html(r.profile, title=f"run {run_id} · {_window_text(r)}"))


@_html
def diff_page(request: Request) -> Response:
    store = _store(request)
    run_id, a = _read(store, request, "a_start", "a_end")
    _, b = _read(store, request, "b_start", "b_end")
    title = f"run {run_id} · A {_window_text(a)} → B {_window_text(b)}"
    return HTMLResponse(diff_flame_html(a.profile, b.profile, title=title))


ROUTES = [
    Route("/api/runs/{run_id}/profile/slices", get_slices, name="api_profile_slices"),
    Route("/api/runs/{run_id}/profile/diff", get_diff, name="api_profile_diff"),
    Route("/api/runs/{run_id}/profile", get_profile, name="api_profile"),
    Route("/runs/{run_id}/flame/diff", diff_page, name="profile_diff_flame"),
    Route("/runs/{run_id}/flame", flame_page, name="profile_flame"),
]
