"""``perflab load compare A B``: two load runs side by side, with deltas of B against A."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perflab.errors import NotFound

if TYPE_CHECKING:
    from perflab.store import Store

# (key in the document, label, path in the stored summary, unit, better when lower)
_ROWS: tuple[tuple[str, str, tuple[str, ...], str, bool], ...] = (
    ("rps", "requests/s", ("rps",), "/s", False),
    ("requests", "requests", ("requests",), "", False),
    ("error_rate", "error rate", ("error_rate",), "ratio", True),
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


def compare_runs(store: Store, ref_a: str, ref_b: str) -> dict[str, Any]:
    runs = []
    for ref in (ref_a, ref_b):
        run = store.run(ref)
        if run.kind != "load" or "summary" not in run.meta:
            raise NotFound(f"run {ref!r} is not a finished load test (kind {run.kind})",
                           hint="list load runs with `perflab runs` and pick two of kind load")
        runs.append(run)
    a, b = runs
    sa, sb = a.meta["summary"], b.meta["summary"]
    rows = []
    for key, label, path, unit, lower_better in _ROWS:
        va, vb = _dig(sa, path), _dig(sb, path)
        delta = None if va is None or vb is None else vb - va
        pct = None if delta is None or not va else delta / va
        verdict = None
        if pct is not None and delta is not None:
            better = (delta < 0) if lower_better else (delta > 0)
            verdict = "same" if abs(pct) < 0.02 else ("better" if better else "worse")
        rows.append({"metric": key, "label": label, "unit": unit, "a": va, "b": vb,
                     "delta": delta, "delta_pct": pct, "verdict": verdict})
    return {"a": {"id": a.id, "name": a.name, "status": a.status, "url": sa.get("url")},
            "b": {"id": b.id, "name": b.name, "status": b.status, "url": sb.get("url")},
            "rows": rows}


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


def render_compare(doc: dict[str, Any]) -> str:
    a, b = doc["a"], doc["b"]
    out = [f"A: run {a['id']} {a['name']} ({a['status']})",
           f"B: run {b['id']} {b['name']} ({b['status']})", "",
           f"{'metric':<15} {'A':>14} {'B':>14} {'delta':>10}"]
    for r in doc["rows"]:
        if r["a"] is None and r["b"] is None:
            continue
        pct = "-" if r["delta_pct"] is None else f"{r['delta_pct']:+.1%}"
        mark = {"better": "  better", "worse": "  worse", "same": "", None: ""}[r["verdict"]]
        out.append(f"{r['label']:<15} {_fmt(r['a'], r['unit']):>14} "
                   f"{_fmt(r['b'], r['unit']):>14} {pct:>10}{mark}")
    return "\n".join(out) + "\n"
