"""Benchmarks: input formats, benchstat-exact statistics, comparison tables, the CI gate,
change-point detection over a history of results.

Public names are listed in ``__all__``; everything else lives in private modules.
"""

from perflab.bench._changepoint import ChangePoint, detect_change_points
from perflab.bench._cmd import CommandsInterrupted, callgrind_marked_parts, run_commands
from perflab.bench._contracts import (
    BenchChangeJson,
    BenchCompareDoc,
    BenchCompareGate,
    BenchDiskDoc,
    BenchHistoryBenchmark,
    BenchHistoryDoc,
    BenchPointJson,
    BenchRecordDoc,
    BenchRegressionsChange,
    BenchRegressionsDoc,
    BenchResultsDoc,
    BenchSystemDoc,
    BenchSystemFinding,
    Correction,
)
from perflab.bench._disk import MODES as DISK_MODES
from perflab.bench._disk import DiskJob, run_disk
from perflab.bench._filter import parse_filter
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
from perflab.bench._jsonfmt import PERFLAB_RESULTS_SCHEMA, bench_name, read_json
from perflab.bench._model import Problem, Result, ResultSet, Value
from perflab.bench._render import to_csv, to_json_payload, to_junit, to_markdown, to_text
from perflab.bench._runner import (
    Benchmark,
    Measured,
    discover,
    metadata,
    results_document,
    run_benchmarks,
    subprocess_runner,
    worker_argv,
)
from perflab.bench._runner import Interrupted as RunInterrupted
from perflab.bench._stats import (
    Comparison,
    Summary,
    compare_nothing,
    geomean,
    holm_adjust,
    mann_whitney_u,
    summarize_median,
)
from perflab.bench._system import check_all
from perflab.bench._table import Options, Table, build_tables
from perflab.bench._units import common_scale, is_binary
from perflab.bench._unpaired import Unpaired, why_nothing_compared

__all__ = [
    "DISK_MODES",
    "PERFLAB_RESULTS_SCHEMA",
    "BenchChangeJson",
    "BenchCompareDoc",
    "BenchCompareGate",
    "BenchDiskDoc",
    "BenchHistoryBenchmark",
    "BenchHistoryDoc",
    "BenchPointJson",
    "BenchRecordDoc",
    "BenchRegressionsChange",
    "BenchRegressionsDoc",
    "BenchResultsDoc",
    "BenchSystemDoc",
    "BenchSystemFinding",
    "Benchmark",
    "Change",
    "ChangePoint",
    "CommandsInterrupted",
    "Comparison",
    "Correction",
    "DiskJob",
    "Gate",
    "History",
    "Measured",
    "Options",
    "Point",
    "Problem",
    "Result",
    "ResultSet",
    "RunInterrupted",
    "Summary",
    "Table",
    "Unpaired",
    "Value",
    "Verdict",
    "bench_name",
    "build_tables",
    "callgrind_marked_parts",
    "check_all",
    "common_scale",
    "compare_nothing",
    "detect_change_points",
    "discover",
    "find_changes",
    "geomean",
    "histories",
    "holm_adjust",
    "is_binary",
    "judge",
    "load",
    "mann_whitney_u",
    "metadata",
    "parse_filter",
    "parse_gate",
    "previous_run",
    "read_json",
    "record_results",
    "results_document",
    "run_benchmarks",
    "run_commands",
    "run_disk",
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
    "worker_argv",
]
