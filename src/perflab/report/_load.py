"""The load section of a report (and of the dashboard's Run page, which renders the same
template): the summary of the run's load tests, their thresholds, the percentile spectrum and
the latency histogram. The data is ``perflab.load.load_view``; the charts are ``load.js``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, cast

from perflab._ui import script_json
from perflab.units import format_duration, format_rate

if TYPE_CHECKING:
    from perflab.load import ApiLoadDoc, ApiLoadThreshold, LoadCoverageDoc
    from perflab.store import Run, Store

LATENCY_KEYS: tuple[Literal["p50", "p90", "p99", "p999", "max"], ...] = (
    "p50", "p90", "p99", "p999", "max")


def _ms(v: float | None) -> str:
    return "-" if v is None else format_duration(v / 1000)


def _group_name(labels: dict[str, str]) -> str:
    if not labels:
        return "all requests"
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _actual(t: ApiLoadThreshold) -> str:
    actual, unit = t.get("actual"), t.get("unit")
    if actual is None:
        return "no data"
    if unit == "ms":
        return _ms(float(actual))
    if unit == "ratio":
        return f"{float(actual):.2%}"
    if unit == "/s":
        return format_rate(float(actual), "/s")
    return f"{actual:g}"


def load_section_values(store: Store, run: Run) -> dict[str, Any] | None:
    """What section_load.html renders for a run, or None when it holds no load test."""
    from perflab.load import load_view  # noqa: PLC0415  # numpy only for runs that need it

    view = load_view(store, run)
    if view is None:
        return None
    values = render_values(view)
    values["tracing"] = _tracing_lines(store, run, view)
    values["coverage"] = _coverage_lines(run)
    return values


def _coverage_lines(run: Run) -> list[str]:
    """The share of production traffic the test exercised (``--coverage-against``, kept in
    the run's metadata), as the summary prints it."""
    from perflab.load import render_coverage  # noqa: PLC0415

    doc = run.meta.get("coverage")
    if not isinstance(doc, dict):
        return []
    try:
        return render_coverage(cast("LoadCoverageDoc", doc)).splitlines()
    except (KeyError, TypeError, ValueError):  # metadata another version wrote: not shown
        return []


def _tracing_lines(store: Store, run: Run, view: ApiLoadDoc) -> list[str]:
    """What share of the run's load requests produced a trace (``trace.run_load_coverage``),
    as the summary's lines; none when no span arrived during the run."""
    from perflab.trace import render_load_coverage, run_load_coverage  # noqa: PLC0415

    doc = run_load_coverage(store, run, view)
    return [] if doc is None else render_load_coverage(doc).splitlines()


def render_values(view: ApiLoadDoc) -> dict[str, Any]:
    """What section_load.html shows: display strings, computed here, not in the template."""
    rows: list[dict[str, Any]] = []
    thresholds: list[dict[str, Any]] = []
    for g in view["groups"]:
        name = _group_name(g["labels"])
        svc = g["service_time_ms"]
        rows.append({
            "name": name, "requests": f"{g['requests']:,}",
            "rps": "-" if g["rps"] is None else f"{g['rps']:,.1f}",
            "latency": [_ms(g["latency_ms"][k]) for k in LATENCY_KEYS],
            "service": None if svc is None else [_ms(svc[k]) for k in LATENCY_KEYS],
            "dropped": f"{g['dropped']:,}",
            "codes": ", ".join(f"{c}: {n:,}" for c, n in g["status_codes"].items()) or "-",
            "errors": ", ".join(f"{k}: {n:,}" for k, n in g["errors"].items()) or "none",
            "has_errors": bool(g["errors"]),
        })
        # which test judged it: the group (an endpoint) and the test's name (a demo phase)
        thresholds.extend({"text": t.get("threshold", ""), "passed": bool(t.get("passed")),
                           "actual": _actual(t),
                           "test": " · ".join(x for x in (name if g["labels"] else "",
                                                          t.get("test") or "") if x)}
                          for t in g["thresholds"])
    return {"rows": rows, "thresholds": thresholds,
            "any_service": any(g["service_time_ms"] for g in view["groups"]),
            "load_json": script_json(view)}
