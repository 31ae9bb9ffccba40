"""The report's Capacity section: a capacity search stored on the run (``meta["capacity"]``,
the ``perflab load capacity --json`` document, which ``perflab demo`` also stores on its run):
the knee, the latency-vs-arrival-rate curve as a chart and a table, and the Universal
Scalability Law fit with its error and predictions.

The document is read as stored (any version of ``perflab.load-capacity``): a run written by
an older perflab still gets its section, and a malformed one gets none rather than a failure.
"""

from __future__ import annotations

from typing import Any

from perflab.units import format_duration, format_rate, format_size


def capacity_values(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The section's display values, or None when the run holds no capacity search."""
    doc = meta.get("capacity")
    if not isinstance(doc, dict) or not isinstance(doc.get("curve"), list):
        return None
    curve = [p for p in doc["curve"] if isinstance(p, dict) and _num(p.get("rate"))]
    knee, usl = doc.get("knee"), doc.get("usl")
    return {
        "target": doc.get("scenario") or doc.get("url") or "",
        "thresholds": [str(t) for t in doc.get("thresholds") or []],
        "steps": len(curve),
        "search": format_duration(float(doc.get("search_s") or 0.0)),
        "knee": _knee(knee) if isinstance(knee, dict) else None,
        "rows": [_row(p) for p in curve],
        "chart": {"rate": [p["rate"] for p in curve],
                  "p50_ms": [_opt(p.get("p50_ms")) for p in curve],
                  "p99_ms": [_opt(p.get("p99_ms")) for p in curve],
                  "rps": [_opt(p.get("rps")) for p in curve]},
        "usl": _usl(usl) if isinstance(usl, dict) else None,
        "warnings": [str(w) for w in doc.get("warnings") or []],
    }


def _num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _opt(v: object) -> float | None:
    return float(v) if _num(v) else None  # type: ignore[arg-type]  # _num checked it


def _ms(v: object) -> str:
    return format_duration(float(v) / 1000) if _num(v) else "-"  # type: ignore[arg-type]


def _rate(v: object) -> str:
    return format_rate(float(v)) if _num(v) else "-"  # type: ignore[arg-type]


def _knee(knee: dict[str, Any]) -> dict[str, str] | None:
    if not _num(knee.get("rate")):
        return None
    return {"rate": _rate(knee["rate"]), "rps": _rate(knee.get("rps")),
            "upper": _rate(knee.get("upper_rate")) if _num(knee.get("upper_rate")) else "",
            "resource": str(knee.get("resource") or "unknown")}


def _row(p: dict[str, Any]) -> dict[str, Any]:
    err = p.get("error_rate")
    return {"rate": _rate(p["rate"]), "rps": _rate(p.get("rps")), "p50": _ms(p.get("p50_ms")),
            "p99": _ms(p.get("p99_ms")),
            "errors": f"{err:.2%}" if _num(err) else "-",
            "cpu": f"{p['cpu_pct']:.0f}%" if _num(p.get("cpu_pct")) else "-",
            "rss": format_size(p["rss_bytes"]) if _num(p.get("rss_bytes")) else "-",
            "passed": bool(p.get("passed")),
            "failed": ", ".join(str(f) for f in p.get("failed") or [])}


def _usl(usl: dict[str, Any]) -> dict[str, Any]:
    def with_err(name: str, digits: int = 4) -> str:
        value, err = usl.get(name), usl.get(f"{name}_stderr")
        if not _num(value):
            return "-"
        text = f"{value:.{digits}g}"
        return f"{text} ± {err:.2g}" if _num(err) else text

    r2 = usl.get("r2")
    return {"sigma": with_err("sigma"), "kappa": with_err("kappa"),
            "lambda": with_err("lambda"), "rmse": _rate(usl.get("rmse")),
            "r2": f"{r2:.4f}" if _num(r2) else "-",
            "peak_n": f"{usl['peak_n']:.3g}" if _num(usl.get("peak_n")) else "none (κ = 0)",
            "points": [(f"{n:g}", _rate(x)) for n, x in usl.get("points") or []],
            "predicted": [(f"{n:g}", _rate(x)) for n, x in usl.get("predicted") or []]}
