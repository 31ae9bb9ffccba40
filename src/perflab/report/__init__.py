"""Self-contained HTML reports of a run, and the run data both the report and the dashboard draw.

Public names: ``write_report(store, run_id, path)``, ``render_report``, ``SECTIONS`` (the
pluggable list of section functions), ``Section``, ``ReportContext`` (the templates and
scripts the dashboard shows too are ``perflab._ui``'s; the series windows and summaries both
draw are the store's); ``run_summaries``, ``series_area``, ``series_key``, ``format_value`` (a
value in its unit, as the charts print it), ``load_section_values`` (the load section's values,
for the dashboard's Run page).
"""

from perflab.report._contracts import (
    ReportDoc,
)
from perflab.report._data import run_summaries, series_area, series_key
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
    "SECTIONS",
    "ReportContext",
    "ReportDoc",
    "Section",
    "format_value",
    "load_section_values",
    "render_report",
    "run_summaries",
    "series_area",
    "series_key",
    "write_report",
]
