"""One HTML file per run: styles, scripts and data inline, so it opens offline from file://.

A report is a list of sections. Each section is a function ``(ReportContext) -> Section | None``
in ``SECTIONS``; later capabilities (load, bench, profile) append theirs, and a function that
has nothing to say for a run returns None. The charts are the dashboard's own (the same script
and the same uPlot), fed from data embedded in the page instead of the API.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from perflab import __version__
from perflab._ui import TEMPLATES as SHARED_TEMPLATES
from perflab._ui import asset, script_json, template_filters
from perflab.errors import UsageError
from perflab.report._data import series_area
from perflab.store import SampleWindow, Summary, sample_window, summarize
from perflab.units import format_timestamp

if TYPE_CHECKING:
    from perflab.store import Event, Run, Series, Store

# the report's own templates; the ones the dashboard renders too are perflab._ui's
TEMPLATES = Path(__file__).resolve().parent / "templates"
REPORT_POINTS = 1_500  # per series: a wide screen's worth, peaks kept


@dataclass
class ReportContext:
    """Everything a section may draw from; windows and summaries are read once, lazily."""

    store: Store
    run: Run
    series: list[Series]
    events: list[Event]
    hub_url: str | None = None  # served by this hub: links to its pages are written
    _windows: dict[int, SampleWindow] = field(default_factory=dict)
    _summaries: dict[int, Summary] = field(default_factory=dict)

    def window(self, series_id: int) -> SampleWindow:
        if series_id not in self._windows:
            self._windows[series_id] = sample_window(self.store, series_id, points=REPORT_POINTS)
        return self._windows[series_id]

    def summary(self, series_id: int) -> Summary:
        if series_id not in self._summaries:
            self._summaries[series_id] = summarize(self.store, series_id)
        return self._summaries[series_id]


@dataclass(frozen=True, slots=True)
class Section:
    """A titled block of the report; ``html`` is trusted markup built from templates."""

    key: str
    title: str
    html: Markup


SectionFn = Callable[[ReportContext], Section | None]


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.ChoiceLoader([
                                 jinja2.FileSystemLoader(str(TEMPLATES)),
                                 jinja2.FileSystemLoader(str(SHARED_TEMPLATES))]),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(template_filters())
    return env


def _render(template: str, **values: Any) -> Markup:
    return Markup(_env().get_template(template).render(**values))  # noqa: S704  # autoescaped


def section_overview(ctx: ReportContext) -> Section:
    return Section("overview", "Run", _render("section_overview.html", run=ctx.run,
                                               n_series=len(ctx.series),
                                               n_events=len(ctx.events)))


def section_findings(ctx: ReportContext) -> Section | None:
    """What a run concluded: ``meta["findings"]``, a list of objects with ``kind``, ``detected``,
    ``endpoint`` and ``summary`` (``perflab demo`` writes them)."""
    raw = ctx.run.meta.get("findings")
    if not isinstance(raw, list) or not raw:
        return None
    findings = [
        {"kind": str(f.get("kind", "")), "detected": bool(f.get("detected")),
         "endpoint": f.get("endpoint"), "summary": str(f.get("summary", ""))}
        for f in raw if isinstance(f, dict)
    ]
    return Section("findings", "Findings", _render("section_findings.html", findings=findings))


def section_alerts(ctx: ReportContext) -> Section | None:
    """Alerts that fired during the run (``alert`` events: perflab's rules, live or
    replayed), with how long each fired."""
    alerts = []
    for e in ctx.events:
        if e.kind != "alert" or not e.text.endswith(" firing"):
            continue
        raw = e.attrs.get("labels")
        labels: dict[str, object] = raw if isinstance(raw, dict) else {}
        annotations = e.attrs.get("annotations")
        summary = annotations.get("summary", "") if isinstance(annotations, dict) else ""
        alerts.append({"name": e.text.removesuffix(" firing"), "ts_ns": e.ts_ns,
                       "duration_ns": None if e.end_ns is None else e.end_ns - e.ts_ns,
                       "labels": sorted((str(k), str(v)) for k, v in labels.items()
                                        if k not in ("alertname", "perflab_run")),
                       "summary": str(summary)})
    if not alerts:
        return None
    return Section("alerts", "Alerts", _render("section_alerts.html", alerts=alerts))


def section_load(ctx: ReportContext) -> Section | None:
    """Load tests (``perflab load``, the demo's traffic): summary, thresholds, spectrum,
    histogram. Its charts are load.js, inlined after the data it draws."""
    from perflab.report._load import load_section_values  # noqa: PLC0415  # load runs only

    values = load_section_values(ctx.store, ctx.run)
    if values is None:
        return None
    html = _render("section_load.html", **values)
    script = Markup("<script>\n") + asset("load.js") + Markup("\n</script>")
    return Section("load", "Load test", html + script)


def section_resilience(ctx: ReportContext) -> Section | None:
    """Each fault band with the load before, during and after it, and the time to recover."""
    from perflab.report._resilience import resilience_rows  # noqa: PLC0415  # chaos runs only

    end = ctx.run.ended_ns if ctx.run.ended_ns is not None else ctx.store.last_sample_ns(ctx.run)
    faults = resilience_rows(ctx.store, ctx.events, end)
    if not faults:
        return None
    return Section("resilience", "Resilience", _render("section_resilience.html", faults=faults))


def section_capacity(ctx: ReportContext) -> Section | None:
    """A capacity search stored on the run: the knee, the curve, the scalability fit."""
    from perflab.report._capacity import capacity_values  # noqa: PLC0415  # capacity runs only

    values = capacity_values(ctx.run.meta)
    if values is None:
        return None
    return Section("capacity", "Capacity", _render("section_capacity.html", c=values,
                                                   chart_json=script_json(values["chart"])))


def section_bench(ctx: ReportContext) -> Section | None:
    """A bench run (``perflab bench record``): values, the comparison with the previous commit,
    the change points of the history."""
    if ctx.run.kind != "bench":
        return None
    from perflab.report._bench import bench_report  # noqa: PLC0415  # loads perflab.bench

    report = bench_report(ctx.store, ctx.run)
    if report is None:
        return None
    return Section("bench", "Benchmarks", _render("section_bench.html", r=report, run=ctx.run))


def section_profile(ctx: ReportContext) -> Section | None:
    """Runs with profile slices: the whole run's flame graph, top functions, a phase diff."""
    from perflab.report._profile import profile_report  # noqa: PLC0415  # loads perflab.profile

    report = profile_report(ctx.store, ctx.run)
    if report is None:
        return None
    return Section("profile", "Profile", _render("section_profile.html", p=report))


def section_trace(ctx: ReportContext) -> Section | None:
    """Spans received during the run: RED, slowest traces, critical path, coverage."""
    from perflab.report._trace import trace_report  # noqa: PLC0415  # loads perflab.trace

    if _is_bench(ctx):
        return None
    report = trace_report(ctx.store, ctx.run)
    if report is None:
        return None
    return Section("trace", "Tracing", _render("section_trace.html", t=report))


def section_debug(ctx: ReportContext) -> Section | None:
    """Debug findings stored on the run: leak watches, memcheck reports (perflab.debug)."""
    from perflab.debug import debug_section_html  # noqa: PLC0415  # loads perflab.debug

    html = debug_section_html(ctx.store, ctx.run)
    return None if html is None else Section("debug", "Debug", html)


def section_logs(ctx: ReportContext) -> Section | None:
    """The run's log lines: lines/s and error-level lines/s, the most frequent error lines."""
    from perflab.report._logs import logs_report  # noqa: PLC0415  # loads perflab.logs

    values = logs_report(ctx.store, ctx.run, hub_url=ctx.hub_url)
    if values is None:
        return None
    return Section("logs", "Logs", _render("section_logs.html", **values,
                                           volume_json=script_json(values["volume"])))


def _is_bench(ctx: ReportContext) -> bool:
    # a bench run's values sit 1 ns apart: as time series they say nothing the bench section
    # does not say better
    return ctx.run.kind == "bench"


def section_charts(ctx: ReportContext) -> Section | None:
    if not ctx.series or _is_bench(ctx):
        return None
    return Section("charts", "Charts", Markup('<div id="charts" class="charts"></div>'))


def section_events(ctx: ReportContext) -> Section | None:
    if not ctx.events:
        return None
    return Section("events", "Events", _render("section_events.html", events=ctx.events))


def section_summary(ctx: ReportContext) -> Section | None:
    if not ctx.series or _is_bench(ctx):
        return None
    rows = [(s, ctx.summary(s.id)) for s in ctx.series]
    return Section("summary", "Summary per series", _render("section_summary.html", rows=rows))


# The report, top to bottom. Capabilities add their sections here (load, bench, profile ...).
SECTIONS: list[SectionFn] = [section_overview, section_findings, section_alerts, section_load,
                             section_resilience, section_capacity, section_bench, section_charts,
                             section_logs, section_debug, section_profile, section_trace,
                             section_events, section_summary]


def _chart_data(ctx: ReportContext) -> dict[str, Any]:
    """The Run page's document, with every series' window inline instead of behind the API."""
    return {
        "run": ctx.run.to_json(),
        "series": [{**s.to_json(), "area": series_area(s)} for s in ctx.series],
        "events": [e.to_json() for e in ctx.events],
        "samples": {str(s.id): {"ts_ns": ctx.window(s.id).ts_ns,
                                "values": ctx.window(s.id).values} for s in ctx.series},
    }


def render_report(store: Store, run_id: int | str,
                  sections: list[SectionFn] | None = None, *, hub_url: str | None = None) -> str:
    """The report's HTML; ``hub_url``: the hub that serves it (its links to the hub's pages,
    the Logs page's queries, are written: absolute, as the report is downloaded)."""
    run = store.run(run_id)
    ctx = ReportContext(store, run, store.series(run.id), store.events(run.id),
                        hub_url=hub_url)
    built = [s for fn in (SECTIONS if sections is None else sections)
             if (s := fn(ctx)) is not None]
    return _env().get_template("report.html").render(
        run=run,
        sections=built,
        data=script_json(_chart_data(ctx)),
        css=Markup(asset("vendor/uPlot.min.css") + "\n" + asset("app.css")),  # noqa: S704
        scripts=[asset("vendor/uPlot.iife.min.js"), asset("perflab.js")],
        generated=format_timestamp(time.time_ns()),
        version=__version__,
    )


def write_report(store: Store, run_id: int | str, path: str | Path) -> Path:
    """Write the report of a run to ``path`` atomically (a reader never sees half a file)."""
    html = render_report(store, run_id)
    target = Path(path)
    # not mkstemp: it creates the file 0600, and a report is an output like any other, whose
    # mode follows the umask (0644 under the usual 022); O_EXCL still makes the name ours
    tmp = target.with_name(f".perflab-report-{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(html)
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(
            f"cannot write the report {target}: {exc.strerror}",
            hint="pass -o with a path in a writable directory",
        ) from exc
    return target
