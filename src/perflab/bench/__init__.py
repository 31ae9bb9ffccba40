"""Benchmarks: input formats, benchstat-exact statistics, comparison tables, the CI gate,
change-point detection over a history of results.

Public names are listed in ``__all__``; everything else lives in private modules.
"""

from perflab.bench._changepoint import ChangePoint, detect_change_points
from perflab.bench._gate import Gate, Verdict, judge, parse_gate, tripped
from perflab.bench._inputs import load
from perflab.bench._model import Problem, Result, ResultSet, Value
from perflab.bench._render import to_csv, to_json_payload, to_junit, to_markdown, to_text
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

__all__ = [
    "ChangePoint",
    "Comparison",
    "Gate",
    "Options",
    "Problem",
    "Result",
    "ResultSet",
    "Summary",
    "Table",
    "Value",
    "Verdict",
    "build_tables",
    "compare_nothing",
    "detect_change_points",
    "geomean",
    "holm_adjust",
    "judge",
    "load",
    "mann_whitney_u",
    "parse_gate",
    "summarize_median",
    "to_csv",
    "to_json_payload",
    "to_junit",
    "to_markdown",
    "to_text",
    "tripped",
]
