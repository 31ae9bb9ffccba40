"""Self-contained HTML reports of a run, and the run data both the report and the dashboard draw.

Public names: ``write_report(store, run_id, path)``, ``render_report``, ``SECTIONS`` (the
pluggable list of section functions), ``Section``, ``ReportContext`` (the templates and
scripts the dashboard shows too are ``perflab._ui``'s); data helpers shared with the dashboard:
``sample_window``, ``summarize``, ``run_summaries``, ``series_area``, ``series_key``,
``SampleWindow``, ``Summary``, ``MAX_POINTS``, ``has_rollup`` and ``missing_rollups``
(per-minute rollups of finished runs), ``format_value`` (a value in its unit, as the charts
print it), ``load_section_values`` (the load section's values, for the
dashboard's Run page).
"""

from perflab.report._data import (
    DEFAULT_POINTS,
    MAX_POINTS,
    SampleWindow,
    Summary,
    has_rollup,
    missing_rollups,
    run_summaries,
    sample_window,
    series_area,
    series_key,
    summarize,
)
from perflab.report._load import load_section_values
from perflab.report._render import (
    SECTIONS,
    ReportContext,
    Section,
    render_report,
    write_report,
)
from perflab.units import format_value  # re-exported: the web pages format as reports do

__all__ = [
    "DEFAULT_POINTS",
    "MAX_POINTS",
    "SECTIONS",
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
    "write_report",
]
