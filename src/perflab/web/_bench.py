"""The Benchmarks page and its API: each benchmark's history over commits, change points marked.

The history is what ``perflab bench record`` stored (runs of kind ``bench``); change points are
those ``perflab bench regressions`` reports, with its defaults. Reading every history and
searching each for change points takes a few hundred milliseconds for a large store (hundreds of
commits x tens of benchmarks), so the result is kept until the bench runs change: a new record,
a deleted run. The key is one cheap query.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from perflab._ui import script_json
from perflab.bench import Change, History, find_changes, histories
from perflab.errors import NotFound
from perflab.store import runs_generation
from perflab.web._api import _guard, doc
from perflab.web._contracts import (
    ApiBenchmarkDoc,
    ApiBenchmarkHistory,
    ApiBenchmarksDoc,
    ApiBenchmarksSummary,
)
from perflab.web._pages import _page
from perflab.web._params import BadParam, text_param

if TYPE_CHECKING:
    from starlette.requests import Request

    from perflab.store import Store
    from perflab.web._state import AppState

RUN_KIND = "bench"
MIN_POINTS = 3  # change-point detection needs at least this many commits
MAX_QUERY = 200


@dataclass(frozen=True)
class Entry:
    """One benchmark and unit: its history and the change points found in it."""

    history: History
    changes: list[Change]

    @property
    def status(self) -> Literal["regression", "improvement", "steady", "short"]:
        """The latest change's verdict; ``steady`` without one, ``short`` below 3 commits."""
        if len(self.history.points) < MIN_POINTS:
            return "short"
        return self.changes[-1].verdict if self.changes else "steady"

    def summary_json(self) -> ApiBenchmarksSummary:
        pts = self.history.points
        last, prev = pts[-1], (pts[-2] if len(pts) > 1 else None)
        delta = None
        if prev is not None and prev.median != 0:
            delta = (last.median / prev.median - 1) * 100
        notes = []
        if len(pts) < MIN_POINTS:
            notes.append(f"only {len(pts)} commit(s) recorded; change points need at least "
                         f"{MIN_POINTS}")
        return {
            "name": self.history.bench, "unit": self.history.unit,
            "better": self.history.better, "status": self.status, "commits": len(pts),
            "first_ns": pts[0].time_ns, "last": last.to_json(),
            "previous": None if prev is None else prev.to_json(), "delta_pct": delta,
            "changes": [c.to_json() for c in self.changes],
            "latest_change": self.changes[-1].to_json() if self.changes else None,
            "notes": notes,
        }

    def history_json(self) -> ApiBenchmarkHistory:
        return {**self.summary_json(), "points": [p.to_json() for p in self.history.points]}


@dataclass
class BenchCache:
    """Histories and their change points per branch filter, until the bench runs change."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _key: tuple[int, int, int] | None = None
    _by_branch: dict[str | None, list[Entry]] = field(default_factory=dict)

    def entries(self, store: Store, branch: str | None) -> list[Entry]:
        key = _generation(store)
        with self._lock:  # one computation at a time: concurrent page loads wait for it
            if key != self._key:
                self._key, self._by_branch = key, {}
            found = self._by_branch.get(branch)
            if found is None:
                found = _compute(store, branch)
                self._by_branch[branch] = found
            return found


def _generation(store: Store) -> tuple[int, int, int]:
    """Changes whenever a bench run is added, deleted or finished. A run being recorded is
    'running' until its samples are in (``perflab bench record`` finishes it last), so a
    history read in between is read again once it is finished: its end time alone would not
    tell, as a backfilled commit ends in the past."""
    return runs_generation(store, RUN_KIND)


def _compute(store: Store, branch: str | None) -> list[Entry]:
    out = []
    for h in histories(store, branch=branch):
        changes = find_changes(h) if len(h.points) >= MIN_POINTS else []
        out.append(Entry(h, changes))
    # by name; within a benchmark, time per op first (what most people look for)
    out.sort(key=lambda e: (e.history.bench, e.history.unit != "sec/op", e.history.unit))
    return out


def branches(store: Store) -> list[str]:
    return sorted({str(r.meta.get("branch") or "") for r in store.runs(kind=RUN_KIND)} - {""})


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.perflab
    return state


def _filters(request: Request) -> tuple[str, str | None]:
    q = request.query_params.get("q", "").strip()
    if len(q) > MAX_QUERY:
        raise BadParam(f"q must be at most {MAX_QUERY} characters")
    branch = text_param(dict(request.query_params), "branch")
    return q, branch


def matching(entries: list[Entry], q: str) -> list[Entry]:
    """Entries whose name holds ``q`` (case-insensitive); every entry for an empty ``q``."""
    needle = q.casefold()
    return [e for e in entries if needle in e.history.bench.casefold()]


@_guard
def list_benchmarks(request: Request) -> JSONResponse:
    q, branch = _filters(request)
    state = _state(request)
    store = state.stores.get()
    entries = matching(state.benches.entries(store, branch), q)
    return doc(ApiBenchmarksDoc(schema="perflab.api.benchmarks/1", q=q, branch=branch,
                                branches=branches(store),
                                benchmarks=[e.summary_json() for e in entries]))


@_guard
def get_benchmark(request: Request) -> JSONResponse:
    _, branch = _filters(request)
    name = request.path_params["name"]
    unit = text_param(dict(request.query_params), "unit")
    if len(name) > MAX_QUERY * 5:
        raise BadParam(f"a benchmark name is at most {MAX_QUERY * 5} characters")
    state = _state(request)
    store = state.stores.get()
    entries = [e for e in state.benches.entries(store, branch) if e.history.bench == name]
    where = f" on branch {branch!r}" if branch else ""
    if not entries:
        raise NotFound(f"no benchmark {name!r} in the history{where}")
    if unit is not None:
        entries = [e for e in entries if e.history.unit == unit]
        if not entries:
            raise NotFound(f"benchmark {name!r} has no unit {unit!r}{where}")
    return doc(ApiBenchmarkDoc(schema="perflab.api.benchmark/1", name=name, branch=branch,
                               histories=[e.history_json() for e in entries]))


def page(request: Request) -> HTMLResponse:
    state = _state(request)
    store = state.stores.get()
    error = None
    try:
        q, branch = _filters(request)
    except BadParam as exc:
        q, branch, error = "", None, str(exc)
    everything = state.benches.entries(store, branch)
    shown = matching(everything, q)
    counts = {s: sum(1 for e in shown if e.status == s) for s in ("regression", "improvement")}
    commits = len({p.run_id for e in everything for p in e.history.points})
    charts = [{"name": e.history.bench, "unit": e.history.unit, "id": f"bench-{i}"}
              for i, e in enumerate(shown)]
    return _page(
        request, "benchmarks.html", status=400 if error else 200, page="benchmarks",
        rows=[(e, e.summary_json(), c["id"]) for e, c in zip(shown, charts, strict=True)],
        q=q, branch=branch, branches=branches(store), total=len(everything), commits=commits,
        counts=counts, error=error,
        doc_json=script_json({"branch": branch, "charts": charts}))


ROUTES = [
    Route("/benchmarks", page, name="benchmarks"),
    Route("/api/benchmarks", list_benchmarks, name="api_benchmarks"),
    Route("/api/benchmarks/{name:path}", get_benchmark, name="api_benchmark"),
]
