"""The public surface of perflab.bench is exactly this list; private modules may change."""

from __future__ import annotations

import perflab.bench
from perflab.cli import COMMANDS

EXPECTED = {
    "ChangePoint", "Comparison", "Gate", "Options", "Problem", "Result", "ResultSet", "Summary",
    "Table", "Value", "Verdict", "build_tables", "compare_nothing", "detect_change_points",
    "geomean", "holm_adjust", "judge", "load", "mann_whitney_u", "parse_gate",
    "summarize_median", "to_csv", "to_json_payload", "to_junit", "to_markdown", "to_text",
    "tripped",
    # why a gate compared nothing (it exits 2 then)
    "Unpaired", "why_nothing_compared",
    # the history and the runner, for the hub, the report and the demo
    "Benchmark", "Change", "History", "Measured", "Point", "find_changes", "histories",
    "previous_run", "record_results", "run_benchmarks", "run_results", "subprocess_runner",
    # what the command line uses
    "PERFLAB_RESULTS_SCHEMA", "CommandsInterrupted", "RunInterrupted", "bench_name",
    "callgrind_marked_parts", "check_all", "common_scale", "discover", "is_binary", "metadata",
    "parse_filter", "read_json", "results_document", "run_commands", "worker_argv",
    # perflab bench disk
    "DISK_MODES", "DiskJob", "run_disk", "BenchDiskDoc",
    # the contracts of its JSON documents (docs/schemas/bench-*.schema.json)
    "BenchChangeJson", "BenchCompareDoc", "BenchHistoryBenchmark", "BenchHistoryDoc",
    "BenchPointJson", "BenchRecordDoc", "BenchRegressionsChange", "BenchRegressionsDoc",
    "BenchResultsDoc", "BenchSystemDoc", "BenchSystemFinding", "BenchCompareGate", "Correction",
}


def test_exported_names_are_pinned():
    assert set(perflab.bench.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(perflab.bench, name) is not None


def test_bench_is_a_registered_command():
    assert COMMANDS["bench"][0] == "perflab.cli.bench:bench"
