"""Load testing: a wrk-fast, wrk2-correct, k6-friendly HTTP load generator.

Public names: ``RunOptions``/``execute`` (one test, stored), ``LoadConfig``, ``RequestSpec``,
``Target``, ``parse_target``, ``LoadRunner``, ``LoadResult``, ``Interval``, ``Histogram``,
``format_hgrm``, ``Schedule``, ``Stage``, ``parse_stages``, ``Threshold``,
``parse_threshold``, ``junit_xml``, ``render_summary``, ``LoadRecorder``,
``search_capacity``/``CapacityOptions`` (the capacity search), ``fit_usl``/``UslFit`` (the
Universal Scalability Law), ``load_view`` (a
stored test read back for the dashboard and reports), and for scenario files ``Scenario``,
``Session``, ``Response``, ``csv_feeder``. Contracts (``_contracts.py``): ``LoadDoc``,
``LoadTracingDoc`` (what perflab.trace's coverage of a load test gives), ``LoadCompareDoc``,
``ApiLoadDoc`` and its ``ApiLoadThreshold``.

Scenarios from production traffic (``perflab load import``, ``perflab load coverage``):
``read_traffic`` (an access log, a HAR file, a JMeter plan) and ``read_traces`` (the server
spans in the store) give a ``Traffic``; ``render_scenario`` writes it as a scenario file,
``import_document``/``render_import``/``render_unmapped`` describe it; ``coverage_document``
(a scenario against production, ``scenario_endpoints`` for the first half),
``run_coverage`` (a load run's: ``--coverage-against``) and ``render_coverage``; their
contracts ``LoadImportDoc`` and ``LoadCoverageDoc``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perflab.load._capacity import CapacityOptions, CapacityResult, search_capacity
    from perflab.load._compare import compare_runs, render_compare
    from perflab.load._config import LoadConfig, RequestSpec, Target, parse_target
    from perflab.load._contracts import (
        ApiLoadDoc,
        ApiLoadThreshold,
        CapacityPoint,
        LoadCapacityDoc,
        LoadCompareDoc,
        LoadCoverageDoc,
        LoadDoc,
        LoadImportDoc,
        LoadTracingDoc,
    )
    from perflab.load._hdr import Histogram
    from perflab.load._hgrm import format_hgrm
    from perflab.load._import import read_traffic
    from perflab.load._import_coverage import (
        coverage_document,
        render_coverage,
        run_coverage,
        scenario_endpoints,
    )
    from perflab.load._import_doc import import_document, render_import, render_unmapped
    from perflab.load._import_model import Traffic
    from perflab.load._import_traces import read_traces
    from perflab.load._import_write import render_scenario
    from perflab.load._junit import junit_xml
    from perflab.load._record import LoadRecorder
    from perflab.load._result import Interval, LoadResult
    from perflab.load._run import Outcome, RunOptions, execute
    from perflab.load._runner import LoadRunner
    from perflab.load._scenario import Feeder, Response, Scenario, Session, csv_feeder
    from perflab.load._schedule import Schedule, Stage, parse_stages
    from perflab.load._summary import render_summary
    from perflab.load._thresholds import Threshold, parse_threshold
    from perflab.load._usl import UslFit, fit_usl
    from perflab.load._view import load_view
    from perflab.load._workers import WorkerPool, workers_needed

# Each public name and the module that defines it, imported on first use: a worker process
# (``python -m perflab.load._worker``) imports this package first, and it needs the engine
# only, not the store, the collectors, scenarios or the summary (a third of its start-up).
_WHERE = {
    "ApiLoadDoc": "perflab.load._contracts",
    "ApiLoadThreshold": "perflab.load._contracts",
    "LoadCompareDoc": "perflab.load._contracts",
    "LoadDoc": "perflab.load._contracts",
    "LoadCoverageDoc": "perflab.load._contracts",
    "LoadImportDoc": "perflab.load._contracts",
    "read_traffic": "perflab.load._import",
    "read_traces": "perflab.load._import_traces",
    "coverage_document": "perflab.load._import_coverage",
    "render_coverage": "perflab.load._import_coverage",
    "scenario_endpoints": "perflab.load._import_coverage",
    "run_coverage": "perflab.load._import_coverage",
    "import_document": "perflab.load._import_doc",
    "render_import": "perflab.load._import_doc",
    "render_unmapped": "perflab.load._import_doc",
    "Traffic": "perflab.load._import_model",
    "render_scenario": "perflab.load._import_write",
    "LoadTracingDoc": "perflab.load._contracts",
    "compare_runs": "perflab.load._compare",
    "LoadCapacityDoc": "perflab.load._contracts",
    "CapacityOptions": "perflab.load._capacity",
    "CapacityPoint": "perflab.load._contracts",
    "CapacityResult": "perflab.load._capacity",
    "search_capacity": "perflab.load._capacity",
    "UslFit": "perflab.load._usl",
    "fit_usl": "perflab.load._usl",
    "WorkerPool": "perflab.load._workers",
    "workers_needed": "perflab.load._workers",
    "render_compare": "perflab.load._compare",
    "csv_feeder": "perflab.load._scenario",
    "execute": "perflab.load._run",
    "Feeder": "perflab.load._scenario",
    "format_hgrm": "perflab.load._hgrm",
    "Histogram": "perflab.load._hdr",
    "Interval": "perflab.load._result",
    "junit_xml": "perflab.load._junit",
    "load_view": "perflab.load._view",
    "LoadConfig": "perflab.load._config",
    "LoadRecorder": "perflab.load._record",
    "LoadResult": "perflab.load._result",
    "LoadRunner": "perflab.load._runner",
    "Outcome": "perflab.load._run",
    "parse_stages": "perflab.load._schedule",
    "parse_target": "perflab.load._config",
    "parse_threshold": "perflab.load._thresholds",
    "render_summary": "perflab.load._summary",
    "RequestSpec": "perflab.load._config",
    "Response": "perflab.load._scenario",
    "RunOptions": "perflab.load._run",
    "Scenario": "perflab.load._scenario",
    "Schedule": "perflab.load._schedule",
    "Session": "perflab.load._scenario",
    "Stage": "perflab.load._schedule",
    "Target": "perflab.load._config",
    "Threshold": "perflab.load._thresholds",
}

__all__ = [
    "ApiLoadDoc",
    "ApiLoadThreshold",
    "CapacityOptions",
    "CapacityPoint",
    "CapacityResult",
    "Feeder",
    "Histogram",
    "Interval",
    "LoadCapacityDoc",
    "LoadCompareDoc",
    "LoadConfig",
    "LoadCoverageDoc",
    "LoadDoc",
    "LoadImportDoc",
    "LoadRecorder",
    "LoadResult",
    "LoadRunner",
    "LoadTracingDoc",
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
    "Traffic",
    "UslFit",
    "WorkerPool",
    "compare_runs",
    "coverage_document",
    "csv_feeder",
    "execute",
    "fit_usl",
    "format_hgrm",
    "import_document",
    "junit_xml",
    "load_view",
    "parse_stages",
    "parse_target",
    "parse_threshold",
    "read_traces",
    "read_traffic",
    "render_compare",
    "render_coverage",
    "render_import",
    "render_scenario",
    "render_summary",
    "render_unmapped",
    "run_coverage",
    "scenario_endpoints",
    "search_capacity",
    "workers_needed",
]


def __getattr__(name: str) -> Any:  # one of the public names above
    where = _WHERE.get(name)
    if where is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value  # the next lookup is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
