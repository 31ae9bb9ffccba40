"""Load testing: a wrk-fast, wrk2-correct, k6-friendly HTTP load generator.

Public names: ``RunOptions``/``execute`` (one test, stored), ``LoadConfig``, ``RequestSpec``,
``Target``, ``parse_target``, ``LoadRunner``, ``LoadResult``, ``Interval``, ``Histogram``,
``format_hgrm``, ``Schedule``, ``Stage``, ``parse_stages``, ``Threshold``,
``parse_threshold``, ``junit_xml``, ``render_summary``, ``LoadRecorder``, ``load_view`` (a
stored test read back for the dashboard and reports), and for scenario files ``Scenario``,
``Session``, ``Response``, ``csv_feeder``.
"""

from perflab.load._compare import compare_runs, render_compare
from perflab.load._config import LoadConfig, RequestSpec, Target, parse_target
from perflab.load._hdr import Histogram
from perflab.load._hgrm import format_hgrm
from perflab.load._junit import junit_xml
from perflab.load._record import LoadRecorder
from perflab.load._result import Interval, LoadResult
from perflab.load._run import Outcome, RunOptions, execute
from perflab.load._runner import LoadRunner
from perflab.load._scenario import Feeder, Response, Scenario, Session, csv_feeder
from perflab.load._schedule import Schedule, Stage, parse_stages
from perflab.load._summary import render_summary
from perflab.load._thresholds import Threshold, parse_threshold
from perflab.load._view import load_view

__all__ = [
    "Feeder",
    "Histogram",
    "Interval",
    "LoadConfig",
    "LoadRecorder",
    "LoadResult",
    "LoadRunner",
    "Outcome",
    "RequestSpec",
    "Response",
    "RunOptions",
    "Scenario",
    "Schedule",
    "Session",
    "Stage",
    "Target",
    "Threshold",
    "compare_runs",
    "csv_feeder",
    "execute",
    "format_hgrm",
    "junit_xml",
    "load_view",
    "parse_stages",
    "parse_target",
    "parse_threshold",
    "render_compare",
    "render_summary",
]
