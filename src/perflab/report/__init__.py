"""Self-contained HTML reports of a run, and the run data both the report and the dashboard draw.

Public names: ``write_report(store, run_id, path)``, ``render_report``, ``SECTIONS`` (the
pluggable list of section functions), ``Section``, ``ReportContext``; data helpers shared with
the dashboard: ``sample_window``, ``summarize``, ``run_summaries``, ``series_area``,
``series_key``, ``SampleWindow``, ``Summary``, ``MAX_POINTS``.
"""

from perflab.report._data import (
    DEFAULT_POINTS,
    MAX_POINTS,
    SampleWindow,
    Summary,
    run_summaries,
    sample_window,
    series_area,
    series_key,
    summarize,
)
from perflab.report._render import SECTIONS, ReportContext, Section, render_report, write_report

__all__ = [
    "DEFAULT_POINTS",
    "MAX_POINTS",
    "SECTIONS",
    "ReportContext",
    "SampleWindow",
    "Section",
    "Summary",
    "render_report",
    "run_summaries",
    "sample_window",
    "series_area",
    "series_key",
    "summarize",
    "write_report",
]
