"""``perflab load compare A B``: two load runs side by side, with deltas of B against A.

Only outcomes get a verdict, and only between like experiments. The request count follows
from the duration, and an open model's rate is its input (a lower target is not "worse"):
neither is judged. Two runs that differ in what was asked (URL, model, target rate or
stages, connections of a closed test, method) are *different experiments*: the figures are
shown side by side, the differences named, and nothing is called better or worse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from perflab.errors import NotFound

if TYPE_CHECKING:
    from perflab.load._contracts import CompareUnit, LoadCompareDoc, LoadCompareRow, Verdict
    from perflab.store import Store

SCHEMA: Literal["perflab.load-compare/2"] = "perflab.load-compare/2"

# (key in the document, label, path in the stored summary, unit, better when lower; None: no
# verdict, the figure is not an outcome to judge)
_ROWS: tuple[tuple[str, str, tuple[str, ...], CompareUnit, bool | None], ...] = (
    ("rps", "requests/s", ("rps",), "/s", False),
    ("requests", "requests", ("requests",), "", None),
    ("error_rate", "error rate", ("error_rate",), "ratio", True),
    ("late", "late", ("late",), "", True),
    ("dropped", "dropped", ("dropped",), "", True),
    ("latency_p50", "latency p50", ("latency_ms", "p50"), "ms", True),
    ("latency_p90", "latency p90", ("latency_ms", "p90"), "ms", True),
    ("latency_p99", "latency p99", ("latency_ms", "p99"), "ms", True),
    ("latency_p999", "latency p99.9", ("latency_ms", "p999"), "ms", True),
    ("latency_max", "latency max", ("latency_ms", "max"), "ms", True),
    ("latency_mean", "latency mean", ("latency_ms", "mean"), "ms", True),
    ("service_p50", "service p50", ("service_time_ms", "p50"), "ms", True),
    ("service_p99", "service p99", ("service_time_ms", "p99"), "ms", True),
)


def _dig(d: dict[str, Any], path: tuple[str, ...]) -> float | None:
    cur: Any = d
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return float(cur) if isinstance(cur, (int, float)) else None


def compare_runs(store: Store, ref_a: str, ref_b: str) -> LoadCompareDoc:
    runs = []
    for ref in (ref_a, ref_b):
        run = store.run(ref)
        if run.kind != "load" or "summary" not in run.meta:
            raise NotFound(f"run {ref!r} is not a finished load test (kind {run.kind})",
                           hint="list load runs with `perflab runs` and pick two of kind load")
        runs.append(run)
    a, b = runs
    sa, sb = a.meta["summary"], b.meta["summary"]
    differences = experiment_differences(a.meta, b.meta)
    rows: list[LoadCompareRow] = []
    for key, label, path, unit, lower_better in _ROWS:
        va, vb = _dig(sa, path), _dig(sb, path)
        delta = None if va is None or vb is None else vb - va
        pct = None if delta is None or not va else delta / va
        verdict: Verdict | None = None
        if pct is not None and delta is not None and lower_better is not None \
                and not differences:
            better = (delta < 0) if lower_better else (delta > 0)
            verdict = "same" if abs(pct) < 0.02 else ("better" if better else "worse")
        rows.append({"metric": key, "label": label, "unit": unit, "a": va, "b": vb,
                     "delta": delta, "delta_pct": pct, "verdict": verdict})
    return {"schema": SCHEMA,
            "a": {"id": a.id, "name": a.name, "status": a.status, "url": sa.get("url")},
            "b": {"id": b.id, "name": b.name, "status": b.status, "url": sb.get("url")},
            "same_experiment": not differences, "differences": differences,
            "rows": rows}


# what a load run was asked to do (its meta): runs that differ here measure different things
_EXPERIMENT: tuple[tuple[str, str], ...] = (
    ("url", "URL"), ("model", "model"), ("rate", "target rate"), ("stages", "stages"),
    ("method", "method"), ("scenario", "scenario"),
)


def experiment_differences(meta_a: dict[str, Any], meta_b: dict[str, Any]) -> list[str]:
    """What differs between two load runs' set-ups, as "target rate: 1000 vs 500"."""
    out = [f"{label}: {_shown(meta_a.get(key))} vs {_shown(meta_b.get(key))}"
           for key, label in _EXPERIMENT if meta_a.get(key) != meta_b.get(key)]
    closed = meta_a.get("model") == meta_b.get("model") == "closed"
    if closed and meta_a.get("connections") != meta_b.get("connections"):
        out.append(f"connections: {meta_a.get('connections')} vs {meta_b.get('connections')}")
    return out


def _shown(v: Any) -> str:
    if v is None or v == []:
        return "-"
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "ratio":
        return f"{v:.2%}"
    if unit == "ms":
        return f"{v:.3f}ms"
    if unit == "/s":
        return f"{v:,.1f}/s"
    return f"{v:,.0f}"


def render_compare(doc: LoadCompareDoc) -> str:
    a, b = doc["a"], doc["b"]
    out = [f"A: run {a['id']} {a['name']} ({a['status']})",
           f"B: run {b['id']} {b['name']} ({b['status']})", ""]
    if doc["differences"]:
        out.append("different experiments (deltas shown, not judged):")
        out.extend(f"  {d}" for d in doc["differences"])
        out.append("")
    out.append(f"{'metric':<15} {'A':>14} {'B':>14} {'delta':>10}")
    for r in doc["rows"]:
        if r["a"] is None and r["b"] is None:
            continue
        pct = "-" if r["delta_pct"] is None else f"{r['delta_pct']:+.1%}"
        mark = {"better": "  better", "worse": "  worse", "same": "", None: ""}[r["verdict"]]
        out.append(f"{r['label']:<15} {_fmt(r['a'], r['unit']):>14} "
                   f"{_fmt(r['b'], r['unit']):>14} {pct:>10}{mark}")
    return "\n".join(out) + "\n"
