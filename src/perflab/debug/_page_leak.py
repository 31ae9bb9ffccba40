"""The Run page's (and the report's) Debug section: one HTML fragment built from the parts
registered in ``DEBUG_PARTS``, each ``(store, run) -> HTML or None``. The leak part shows each
leak watch stored on the run (verdict, growth, limit, a trend chart of its decisive series as
inline SVG, so it needs no script and renders the same in the report) and its growing sites with
their stacks; and each memcheck report's groups. Other parts (goroutines, stacks) register theirs
with ``add_debug_part``."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from perflab.debug._leak_store import SERIES_PREFIX, leak_reports
from perflab.debug._memcheck import KIND as MEMCHECK_KIND
from perflab.units import format_size

if TYPE_CHECKING:
    from perflab.store import Run, Store

DebugPart = Callable[["Store", "Run"], "str | None"]
CHART_W, CHART_H, CHART_POINTS = 640, 150, 600
CHARTED = ("heap_inuse", "traced", "rss")


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["size"] = format_size
    return env


def _polyline(points: list[tuple[int, float]], lo: float, hi: float, t0: int,
              t1: int) -> str:
    if len(points) > CHART_POINTS:
        step = len(points) / CHART_POINTS
        points = [points[int(i * step)] for i in range(CHART_POINTS)]
    span_t = max(1, t1 - t0)
    span_v = (hi - lo) or 1.0
    return " ".join(f"{(t - t0) / span_t * CHART_W:.1f},"
                    f"{CHART_H - (v - lo) / span_v * (CHART_H - 10) - 5:.1f}" for t, v in points)


def _charts(store: Store, run: Run, report: dict[str, Any]) -> list[dict[str, Any]]:
    """One small chart per decisive series of this watch: its samples on the run."""
    target = report["target"]
    labels = {"pid": str(target["pid"])} if target["pid"] is not None else \
        {"url": target["url"] or ""}
    charts = []
    for series in store.series(run.id):
        name = series.name.removeprefix(SERIES_PREFIX)
        if not series.name.startswith(SERIES_PREFIX) or name not in CHARTED or \
                series.labels != labels:
            continue
        points = store.samples(series.id)
        if len(points) < 2:
            continue
        values = [v for _, v in points]
        lo, hi = min(values), max(values)
        verdict = next((s for s in report["series"] if s["name"] == name), None)
        charts.append({"name": name, "title": verdict["title"] if verdict else name,
                       "verdict": verdict["verdict"] if verdict else "",
                       "lo": lo, "hi": hi, "width": CHART_W, "height": CHART_H,
                       "points": _polyline(points, lo, hi, points[0][0], points[-1][0])})
    charts.sort(key=lambda c: CHARTED.index(c["name"]))
    return charts


def leak_part(store: Store, run: Run) -> str | None:
    """Each leak watch and memcheck report stored on the run."""
    leaks = [{"r": r, "charts": _charts(store, run, r)} for r in leak_reports(store, run.id)]
    memchecks = []
    for art in store.artifacts(run.id, MEMCHECK_KIND):
        try:
            memchecks.append(json.loads(store.artifact_data(art.id)))
        except ValueError:
            continue
    flames = [a.id for a in store.artifacts(run.id, "debug.massif.flame")]
    if not leaks and not memchecks:
        return None
    return _env().get_template("section_leak.html").render(
        leaks=leaks, memchecks=memchecks, has_flame=bool(flames), run=run)


DEBUG_PARTS: list[DebugPart] = [leak_part]


def add_debug_part(part: DebugPart) -> None:
    """Add a part to the Debug section (after the leak part, in the order added)."""
    if part not in DEBUG_PARTS:
        DEBUG_PARTS.append(part)


def debug_section_html(store: Store, run: Run) -> Markup | None:
    """The Debug section's body for a run, or None when no part has anything to show."""
    from perflab.debug._page_stacks import stacks_part  # noqa: PLC0415  # imports this module

    add_debug_part(stacks_part)
    parts = [html for part in DEBUG_PARTS if (html := part(store, run))]
    if not parts:
        return None
    return Markup("\n".join(parts))  # noqa: S704  # each part is an autoescaped template

