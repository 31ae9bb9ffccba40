"""Self-contained HTML reports of a run, and the run data both the report and the dashboard draw.

Public names: ``write_report(store, run_id, path)``, ``render_report``, ``SECTIONS`` (the
pluggable list of section functions), ``Section``, ``ReportContext``, ``TEMPLATES`` and
``template_filters`` (the dashboard renders the same section templates); data helpers shared with
the dashboard: ``sample_window``, ``summarize``, ``run_summaries``, ``series_area``,
``series_key``, ``SampleWindow``, ``Summary``, ``MAX_POINTS``, ``has_rollup`` and
``missing_rollups`` (per-minute rollups of finished runs), ``format_value`` (a value in its
unit, as the charts print it), ``load_section_values`` (the load section's values, for the
dashboard's Run page).
"""

from perflab.report._data import run_summaries, series_area, series_key
from perflab.report._load import load_section_values
from perflab.report._render import (
    SECTIONS,
    TEMPLATES,
    ReportContext,
    Section,
    render_report,
    template_filters,
    write_report,
)
from perflab.store import (  # re-exported for the dashboard until it reads them from the store
    DEFAULT_POINTS,
    MAX_POINTS,
    SampleWindow,
    Summary,
    has_rollup,
    missing_rollups,
    sample_window,
    summarize,
)
from perflab.units import format_value  # re-exported: the web pages format as reports do

__all__ = [
    "DEFAULT_POINTS",
    "MAX_POINTS",
    "SECTIONS",
    "TEMPLATES",
    "ReportContext",
    "SampleWindow",
    "Section",
    "Summary",
    "format_value",
    "has_rollup",
    "load_section_values",
    "missing_rollups",
    "render_report",
    "run_summaries",
    "sample_window",
    "series_area",
    "series_key",
    "summarize",
    "template_filters",
    "write_report",
]
