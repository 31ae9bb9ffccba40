"""The end summary and the live status line, as text a wrk or k6 user reads at a glance."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from perflab.units import format_duration, format_rate

if TYPE_CHECKING:
    from perflab.load._contracts import LoadThreshold
    from perflab.load._hdr import Histogram
    from perflab.load._result import LoadResult, RunningTotals


def _ms(v: float) -> str:
    return "-" if math.isnan(v) else format_duration(v / 1000)


def _n(v: int) -> str:
    return f"{v:,}"


def latency_line(label: str, h: Histogram) -> str:
    s = h.summary()
    return (f"  {label:<10} p50 {_ms(s.p50_ms):>8}  p90 {_ms(s.p90_ms):>8}  "
            f"p99 {_ms(s.p99_ms):>8}  p99.9 {_ms(s.p999_ms):>8}  max {_ms(s.max_ms):>8}  "
            f"mean {_ms(s.mean_ms):>8}")


def render_summary(r: LoadResult) -> str:
    cfg = r.config
    head = cfg.scenario_file or cfg.target.url
    workers = f"{cfg.workers} worker{'s' if cfg.workers > 1 else ''}"
    if r.cluster is not None:
        workers = (f"{r.cluster['shares']} load processes on {r.cluster['dask_workers']} "
                   f"Dask workers of {r.cluster['address']}")
    lines = [f"perflab load  {head}  ({_model(r)}, {workers})"]
    if r.status == "aborted":
        lines.append("  ** run aborted: figures cover what was measured until then **")
    elif r.status == "failed":
        missed = sum(1 for t in r.thresholds if not t["passed"])
        why = f": {missed} of {len(r.thresholds)} thresholds missed" if missed else ""
        lines.append(f"  ** run failed{why} **")
    lines.extend(f"  ** {w} **" for w in r.warnings)
    if r.cluster is not None and r.cluster["partial"]:
        lines.append("  ** partial: these shares were not measured; the figures are the "
                     "others' **")
        lines.extend(f"     processes {m['first']}-{m['first'] + m['count'] - 1} on "
                     f"{m['worker']}: {m['reason']}" for m in r.cluster["missing"])
    lines.append("")
    lines.extend(_figures(r))
    lines.extend(_by_name(r))
    if r.checks:
        lines.append("")
        lines.append("  checks")
        for name, c in sorted(r.checks.items()):
            mark = "✓" if c.failed == 0 else "✗"
            lines.append(f"    {mark} {name:<40} {c.passed}/{c.passed + c.failed}")
    if r.thresholds:
        lines.append("")
        lines.append("  thresholds")
        lines.extend(f"    {_threshold_line(t)}" for t in r.thresholds)
    if r.run_id is not None:
        lines.append("")
        lines.append(f"  stored as run {r.run_id} (perflab show {r.run_id})")
    return "\n".join(lines) + "\n"


def _model(r: LoadResult) -> str:
    cfg = r.config
    if cfg.scenario_file:
        return "; ".join(cfg.scenario_models) or "scenarios"
    if cfg.open_model:
        return (f"open model, target {format_rate(r.target_rate or 0, '/s')}"
                f"{' in stages' if cfg.stages else ''}, up to "
                f"{cfg.limit_max_connections()} connections")
    model = f"closed model, {cfg.connections} connections"
    if cfg.think_time_s:
        model += f", think {format_duration(cfg.think_time_s)}"
    return model


def _figures(r: LoadResult) -> list[str]:
    """Requests, latency, phases, statuses, errors and the open model's schedule."""
    lines = [(f"  {'requests':<10} {_n(r.requests)} in {r.duration_s:.2f}s   "
              f"{format_rate(r.rps, ' req/s')}   "
              f"{_n(r.failed_requests)} failed ({r.error_rate:.2%})")]
    if r.service is not None:
        lines.append(latency_line("latency", r.latency) + "   (from intended start)")
        lines.append(latency_line("service", r.service) + "   (from actual send)")
    else:
        lines.append(latency_line("latency", r.latency))
    phases = []
    for name in ("connect", "tls", "ttfb"):
        h = r.phases.get(name)
        if h is not None and h.total:
            s = h.summary()
            phases.append(f"{name} p50 {_ms(s.p50_ms)} p99 {_ms(s.p99_ms)}")
    if phases:
        lines.append(f"  {'phases':<10} " + " · ".join(phases))
    if r.codes:
        lines.append(f"  {'status':<10} " + "  ".join(f"{c}: {_n(n)}"
                                                       for c, n in sorted(r.codes.items())))
    errs = {k: v for k, v in r.errors.items() if v}
    if errs:
        lines.append(f"  {'errors':<10} " + "  ".join(f"{k}: {_n(v)}"
                                                       for k, v in sorted(errs.items())))
    if r.lateness is not None:
        lines.append(_schedule_line(r))
        lines.append(latency_line("lateness", r.lateness)
                     + "   (scheduler: started minus intended time)")
    return lines


def _by_name(r: LoadResult) -> list[str]:
    if not r.by_name:
        return []
    lines = ["", (f"  {'requests by name':<30} {'requests':>9} {'failed':>8}  "
                  f"{'p50':>8}  {'p99':>8}")]
    for nm, st in sorted(r.by_name.items()):
        s = st.latency.summary()
        lines.append(f"    {nm:<28} {st.latency.total:>9,} {st.failed:>8,}  "
                     f"{_ms(s.p50_ms):>8}  {_ms(s.p99_ms):>8}")
    return lines


def _schedule_line(r: LoadResult) -> str:
    """Open model: arrivals asked for, started (late ones among them), never sent."""
    started = r.scheduled - r.dropped
    line = (f"  {'schedule':<10} {_n(r.scheduled)} arrivals: {_n(started)} started "
            f"({_n(r.late)} late by > 1ms), {_n(r.dropped)} never sent (dropped)")
    if r.unfinished:
        line += f", {_n(r.unfinished)} unanswered at the end"
    return line


def _threshold_line(t: LoadThreshold) -> str:
    mark = "✓" if t["passed"] else "✗"
    actual = t["actual"]
    if actual is None:
        shown = "no data"
    elif t["unit"] == "ms":
        shown = _ms(actual)
    elif t["unit"] == "ratio":
        shown = f"{actual:.2%}"
    elif t["unit"] == "/s":
        shown = format_rate(actual, "/s")
    else:
        shown = f"{actual:g}"
    return f"{mark} {t['threshold']:<24} {shown}"


def status_line(t: RunningTotals, total_s: float | None, connections: int) -> str:
    """One line, rewritten each second on a terminal: rate, percentiles, errors, progress."""
    s = t.latency.summary()
    progress = (f"{t.elapsed_s:4.0f}s/{total_s:.0f}s" if total_s is not None
                else f"{t.elapsed_s:4.0f}s")
    failed = sum(t.errors.values()) + sum(n for c, n in t.codes.items() if c >= 400)
    return (f"{progress}  {format_rate(t.rps, ' req/s'):>12}  p50 {_ms(s.p50_ms):>8}  "
            f"p99 {_ms(s.p99_ms):>8}  errors {failed:,}  conns {connections}")
