"""Benchmarks: input formats, benchstat-exact statistics, comparison tables, the CI gate,
change-point detection over a history of results.

Public names are listed in ``__all__``; everything else lives in private modules.
"""

from perflab.bench._changepoint import ChangePoint, detect_change_points
from perflab.bench._gate import Gate, Verdict, judge, parse_gate, tripped
from perflab.bench._history import (
    Change,
    History,
    Point,
    find_changes,
    histories,
    previous_run,
    run_results,
)
from perflab.bench._history import record as record_results
from perflab.bench._inputs import load
from perflab.bench._model import Problem, Result, ResultSet, Value
from perflab.bench._render import to_csv, to_json_payload, to_junit, to_markdown, to_text
from perflab.bench._runner import Benchmark, Measured, run_benchmarks, subprocess_runner
from perflab.bench._stats import (
    Comparison,
    Summary,
    compare_nothing,
    geomean,
    holm_adjust,
    mann_whitney_u,
    summarize_median,
)
from perflab.bench._table import Options, Table, build_tables
from perflab.bench._unpaired import Unpaired, why_nothing_compared

__all__ = [
    "Benchmark",
    "Change",
    "ChangePoint",
    "Comparison",
    "Gate",
    "History",
    "Measured",
    "Options",
    "Point",
    "Problem",
    "Result",
    "ResultSet",
    "Summary",
    "Table",
    "Unpaired",
    "Value",
    "Verdict",
    "build_tables",
    "compare_nothing",
    "detect_change_points",
    "find_changes",
    "geomean",
    "histories",
    "holm_adjust",
    "judge",
    "load",
    "mann_whitney_u",
    "parse_gate",
    "previous_run",
    "record_results",
    "run_benchmarks",
    "run_results",
    "subprocess_runner",
    "summarize_median",
    "to_csv",
    "to_json_payload",
    "to_junit",
    "to_markdown",
    "to_text",
    "tripped",
    "why_nothing_compared",
]
