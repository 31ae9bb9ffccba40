"""The agent's tracemalloc handlers: start tracing and keep a baseline snapshot, totals (traced
bytes, peak, tracemalloc's own memory, objects the collector tracks), and the allocation sites
that grew since the baseline, by traceback, each frame named by its function.

Standard library only (it runs inside the user's process, see ``_agent``).
"""

from __future__ import annotations

import ast
import functools
import gc
import threading
import tracemalloc
from pathlib import Path
from typing import Any

from perflab.debug import _agent

DEFAULT_FRAMES = 16
MAX_FRAMES = 128
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000

_BASELINE: dict[str, tracemalloc.Snapshot | None] = {"snapshot": None}
_SNAP_LOCK = threading.Lock()  # one snapshot at a time: each costs a walk of every trace


def install() -> None:
    """Register the ``/tracemalloc/...`` handlers."""
    _agent.register("/tracemalloc/start", start)
    _agent.register("/tracemalloc/totals", totals)
    _agent.register("/tracemalloc/diff", diff)
    _agent.register("/tracemalloc/stop", stop)


def _int(query: dict[str, str], name: str, default: int, upper: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= upper:
        msg = f"{name} must be an integer from 1 to {upper}, not {raw[:20]!r}"
        raise ValueError(msg)
    return int(raw)


def _filtered(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    """Leave out tracemalloc's own allocations, the agent's, and the import machinery's."""
    here = str(Path(__file__).parent / "*")
    return snapshot.filter_traces([
        tracemalloc.Filter(inclusive=False, filename_pattern=tracemalloc.__file__),
        tracemalloc.Filter(inclusive=False, filename_pattern=here, all_frames=True),
        tracemalloc.Filter(inclusive=False, filename_pattern="<frozen importlib._bootstrap*>"),
        tracemalloc.Filter(inclusive=False, filename_pattern="<unknown>"),
    ])


def start(query: dict[str, str]) -> dict[str, Any]:
    """Start tracing (``frames`` deep) if it is not on, and take the baseline snapshot.
    ``reset=1`` takes a new baseline while tracing."""
    frames = _int(query, "frames", DEFAULT_FRAMES, MAX_FRAMES)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(frames)
    with _SNAP_LOCK:
        if started or _BASELINE["snapshot"] is None or query.get("reset") == "1":
            _BASELINE["snapshot"] = _filtered(tracemalloc.take_snapshot())
    return {"tracing": True, "started": started, "frames": tracemalloc.get_traceback_limit()}


def stop(_query: dict[str, str]) -> dict[str, Any]:
    """Stop tracing and drop the baseline (tracing costs memory and time in the user's process)."""
    was = tracemalloc.is_tracing()
    tracemalloc.stop()
    with _SNAP_LOCK:
        _BASELINE["snapshot"] = None
    return {"tracing": False, "was_tracing": was}


def totals(_query: dict[str, str]) -> dict[str, Any]:
    """Traced bytes now and at peak, tracemalloc's own memory, and the collector's object count."""
    current, peak = tracemalloc.get_traced_memory()
    return {"tracing": tracemalloc.is_tracing(), "traced_bytes": current, "peak_bytes": peak,
            "overhead_bytes": tracemalloc.get_tracemalloc_memory(),
            "gc_objects": len(gc.get_objects())}


def diff(query: dict[str, str]) -> dict[str, Any]:
    """Allocation sites by traceback that grew since the baseline, biggest growth first
    (``limit`` of them). Each frame carries its function's name."""
    limit = _int(query, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    if not tracemalloc.is_tracing() or _BASELINE["snapshot"] is None:
        msg = "tracemalloc is not tracing: GET /tracemalloc/start first"
        raise ValueError(msg)
    with _SNAP_LOCK:
        baseline = _BASELINE["snapshot"]
        assert baseline is not None
        now = _filtered(tracemalloc.take_snapshot())
        stats = now.compare_to(baseline, "traceback")
    grown = [s for s in stats if s.size_diff > 0]
    grown.sort(key=lambda s: s.size_diff, reverse=True)
    return {
        "traced_bytes": tracemalloc.get_traced_memory()[0],
        "sites": [{
            "size_bytes": s.size, "size_diff_bytes": s.size_diff,
            "count": s.count, "count_diff": s.count_diff,
            # most recent call first, as a stack is read
            "frames": [{"file": f.filename, "line": f.lineno,
                        "function": function_at(f.filename, f.lineno)}
                       for f in _newest_first(s.traceback)],
        } for s in grown[:limit]],
    }


def _newest_first(traceback: tracemalloc.Traceback) -> list[tracemalloc.Frame]:
    # tracemalloc orders a traceback oldest call first since 3.7 (``most_recent_first`` off)
    return list(reversed(list(traceback)))


def function_at(filename: str, lineno: int) -> str:
    """The qualified name of the innermost function (or class body) around ``lineno``, or
    ``<module>``; ``?`` when the source cannot be read."""
    spans = _spans(filename)
    if spans is None:
        return "?"
    best = "<module>"
    best_size = None
    for first, last, name in spans:
        if first <= lineno <= last and (best_size is None or last - first < best_size):
            best, best_size = name, last - first
    return best


@functools.lru_cache(maxsize=512)
def _spans(filename: str) -> tuple[tuple[int, int, str], ...] | None:
    try:
        tree = ast.parse(Path(filename).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    spans: list[tuple[int, int, str]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                spans.append((child.lineno, child.end_lineno or child.lineno, name))
                walk(child, f"{name}.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return tuple(spans)
