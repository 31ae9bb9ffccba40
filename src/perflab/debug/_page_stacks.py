"""The goroutines, stacks, races and go-trace parts of the Run page's (and the report's) Debug
section, from what ``goroutines``, ``stacks``, ``race``, ``gotrace`` and ``record
--watch-goroutines/--watch-threads`` stored on the run:

- goroutine and thread counts by state over time (inline SVG, one line per state);
- each goroutine dump: deadlock findings (who holds and wants what), leaking groups, the largest
  groups, each with its stack;
- each Python stacks capture: the wait-for graph (inline SVG), deadlock cycles and lock-order
  inversions with both stacks;
- race groups with both accesses' stacks and the goroutines' creation sites;
- go trace blocking totals and the functions that waited most.

Stacks are in ``<details>`` with ids (``#gr-<artifact>-<n>``, ``#th-<artifact>-<thread>``), so
findings link to the stacks they name. Inline SVG, no script: it renders the same in the report.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from perflab.debug._page_leak import CHART_H, CHART_W, _env, _polyline

if TYPE_CHECKING:
    from perflab.store import Run, Store

_KINDS = ("goroutines", "stacks", "race", "gotrace")
_COUNTS = ("go_goroutines", "process_threads")
_COLORS = ("#2c7fb8", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#7f8c8d", "#16a085",
           "#f1c40f")
_GRAPH = 320  # the wait-for graph's square size (a cycle), its least width (rows)
_COLUMN = 120  # room for one thread's label in a row of the wait-for graph
_ROW = 80  # a row of the wait-for graph


def _documents(store: Store, run: Run, kind: str) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for art in store.artifacts(run.id, kind):
        try:
            out.append((art.id, json.loads(store.artifact_data(art.id))))
        except ValueError:
            continue
    return out


def _count_charts(store: Store, run: Run) -> list[dict[str, Any]]:
    """One chart per watched target: its counts by state over the run."""
    by_target: dict[tuple[str, str], list[Any]] = {}
    for series in store.series(run.id):
        if series.name not in _COUNTS:
            continue
        target = series.labels.get("target") or f"PID {series.labels.get('pid', '?')}"
        by_target.setdefault((series.name, target), []).append(series)
    charts = []
    for (name, target), members in sorted(by_target.items()):
        lines, lo, hi, t0, t1 = [], 0.0, 1.0, None, None
        data = []
        for series in sorted(members, key=lambda s: s.labels.get("state", "")):
            points = store.samples(series.id)
            if points:
                data.append((series.labels.get("state", "?"), points))
                hi = max(hi, *(v for _, v in points))
                t0 = points[0][0] if t0 is None else min(t0, points[0][0])
                t1 = points[-1][0] if t1 is None else max(t1, points[-1][0])
        if not data or t0 is None or t1 is None:
            continue
        for i, (state, points) in enumerate(data):
            lines.append({"state": state, "last": points[-1][1],
                          "color": _COLORS[i % len(_COLORS)],
                          "points": _polyline(points, lo, hi, t0, t1)})
        charts.append({"title": f"{'goroutines' if name == 'go_goroutines' else 'threads'} "
                                f"of {target} by state", "lines": lines, "hi": hi,
                       "width": CHART_W, "height": CHART_H})
    return charts


def _graph_positions(ids: list[int], edges: list[dict[str, Any]],
                     in_cycle: set[int]) -> tuple[dict[int, tuple[float, float]], float, float]:
    """Where each thread sits, and the drawing's width and height. A cycle is drawn on a circle;
    otherwise in rows, holders on top and each waiter one row below what it waits for, so that
    many threads waiting on one (the common pile-up) read as a fan, not a tangle of labels."""
    if in_cycle:
        r = _GRAPH / 2 - 40
        return ({tid: (_GRAPH / 2 + r * math.cos(2 * math.pi * i / len(ids)),
                       _GRAPH / 2 + r * math.sin(2 * math.pi * i / len(ids)))
                 for i, tid in enumerate(ids)}, _GRAPH, _GRAPH)
    waits = {e["waiter"]: e["holder"] for e in edges}

    def depth(tid: int) -> int:  # how many waits lead from this thread to a running one
        seen = {tid}
        while tid in waits and waits[tid] not in seen:
            tid = waits[tid]
            seen.add(tid)
        return len(seen) - 1

    level = {tid: depth(tid) for tid in ids}
    rows: dict[int, list[int]] = {}
    for tid in ids:
        rows.setdefault(level[tid], []).append(tid)
    width = float(max(_GRAPH, _COLUMN * max(len(r) for r in rows.values())))
    height = float(_ROW * len(rows) + 20)
    pos = {tid: (width * (i + 0.5) / len(row), 30.0 + _ROW * lvl)
           for lvl, row in rows.items() for i, tid in enumerate(row)}
    return pos, width, height


def _wait_graph(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The wait-for graph's nodes and its edges as lines (threads in a cycle red)."""
    edges = doc.get("wait_for", [])
    if not edges:
        return None
    names = {t["thread"]: t["name"] for t in doc.get("threads", [])}
    ids = sorted({e["waiter"] for e in edges} | {e["holder"] for e in edges})
    in_cycle = {t for d in doc.get("deadlocks", []) for t in d["threads"]}
    pos, width, height = _graph_positions(ids, edges, in_cycle)
    waits = {e["waiter"] for e in edges}
    # the label is the thread's name up to its target ("Thread-3 (worker)" -> "Thread-3"); the
    # whole name is the node's tooltip
    nodes = [{"id": tid, "name": names.get(tid, str(tid)),
              "label": names.get(tid, str(tid)).split(" (")[0] or str(tid),
              "x": round(pos[tid][0], 1), "y": round(pos[tid][1], 1), "cycle": tid in in_cycle,
              # a holder's label above it, clear of the arrows coming in from below
              "label_y": round(pos[tid][1] + (26 if in_cycle or tid in waits else -18), 1)}
             for tid in ids]
    lines = []
    for e in edges:
        (x1, y1), (x2, y2) = pos[e["waiter"]], pos[e["holder"]]
        # stop short of the holder's circle so the arrow head shows
        d = math.hypot(x2 - x1, y2 - y1) or 1.0
        lines.append({"x1": round(x1, 1), "y1": round(y1, 1),
                      "x2": round(x2 - (x2 - x1) * 14 / d, 1),
                      "y2": round(y2 - (y2 - y1) * 14 / d, 1), "lock": e["lock"],
                      "cycle": e["waiter"] in in_cycle and e["holder"] in in_cycle})
    return {"width": round(width), "height": round(height), "nodes": nodes, "lines": lines}


def stacks_part(store: Store, run: Run) -> str | None:
    """The goroutines, stacks, races and go-trace findings stored on the run."""
    docs = {kind: _documents(store, run, kind) for kind in _KINDS}
    charts = _count_charts(store, run)
    if not charts and not any(docs.values()):
        return None
    stacks = [(aid, doc, _wait_graph(doc)) for aid, doc in docs["stacks"]]
    return _env().get_template("section_stacks.html").render(
        charts=charts, goroutines=docs["goroutines"], stacks=stacks, races=docs["race"],
        gotraces=docs["gotrace"], max_groups=10)
