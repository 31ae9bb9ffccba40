"""Readers of the JSON result files of pyperf, pytest-benchmark, hyperfine and perflab itself.

Each becomes the same ``Result`` rows as Go benchmark lines: one row per measured value, so a
benchmark with 20 values is 20 rows, as ``go test -count 20`` would print. Times are in seconds
(unit ``sec/op``) in every one of these formats. Their metadata (commit, interpreter, machine)
is not turned into configuration keys: those differ between the files one compares, and
configuration keys split tables, so old and new would never meet in one row.

    pyperf          {"version": "1.0", "metadata": {"name", "unit"}, "benchmarks": [{"metadata":
                    {"name"}, "runs": [{"values": [...], "warmups": [[loops, v] ...]}]}]}
    pytest-benchmark {"machine_info", "commit_info", "benchmarks": [{"name", "fullname",
                    "stats": {"data": [...], "median", ...}}]}  (raw data: --benchmark-save-data)
    hyperfine       {"results": [{"command", "times": [...], "mean", ...}]}  (--export-json)
    perflab         {"schema": "perflab.bench-results/1", "benchmarks": [{"name", "unit",
                    "values": [...]}], "metadata": {...}}
"""

from __future__ import annotations

import re
from typing import Any, Final

from perflab.bench._model import Problem, Result, ResultSet, Value
from perflab.bench._units import tidy

PERFLAB_RESULTS_SCHEMA: Final = "perflab.bench-results/1"

_PYPERF_UNITS = {"second": "sec/op", "byte": "B", "integer": "count"}


def detect(doc: Any) -> str | None:
    """Which JSON format ``doc`` is, or None."""
    if not isinstance(doc, dict):
        return None
    schema = doc.get("schema")
    if isinstance(schema, str) and schema.startswith("perflab.bench-results/"):
        return "perflab"
    if "results" in doc and isinstance(doc["results"], list):
        return "hyperfine"
    if "machine_info" in doc or ("benchmarks" in doc and "commit_info" in doc):
        return "pytest-benchmark"
    if "benchmarks" in doc and ("version" in doc or "metadata" in doc):
        return "pyperf"
    return None


def read_json(doc: Any, path: str, label: str, into: ResultSet) -> int:
    kind = detect(doc)
    if kind == "perflab":
        return _read_perflab(doc, path, label, into)
    if kind == "hyperfine":
        return _read_hyperfine(doc, path, label, into)
    if kind == "pytest-benchmark":
        return _read_pytest_benchmark(doc, path, label, into)
    if kind == "pyperf":
        return _read_pyperf(doc, path, label, into)
    into.problems.append(Problem(
        path, 0, "JSON of an unknown kind (expected pyperf, pytest-benchmark, hyperfine "
                 "or perflab results)"))
    return 0


def _list(value: Any) -> list[Any]:
    """A JSON value that should be a list, else empty: a file of the wrong shape (found by
    fuzzing: ``"benchmarks": true``) reports its problem instead of raising TypeError."""
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def bench_name(text: str) -> str:
    """A benchmark name usable in the Go format: no spaces (they separate fields there)."""
    cleaned = re.sub(r"\s+", "_", text.strip())
    return cleaned or "unnamed"


def _add_values(name: str, *, values: list[Any], unit: str, path: str, label: str,
                config: tuple[tuple[str, str], ...], where: str, into: ResultSet) -> int:
    count = 0
    for i, raw in enumerate(values):
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            into.problems.append(Problem(path, 0, f"{where}: value {i} is not a number: {raw!r}"))
            continue
        value, tidied = tidy(float(raw), unit)
        into.results.append(Result(name, (Value(value, tidied),), label, config))
        count += 1
    return count


def _read_perflab(doc: dict[str, Any], path: str, label: str, into: ResultSet) -> int:
    count = 0
    for i, bench in enumerate(_list(doc.get("benchmarks"))):
        if not isinstance(bench, dict) or "name" not in bench:
            into.problems.append(Problem(path, 0, f"benchmarks[{i}]: missing name"))
            continue
        count += _add_values(bench_name(str(bench["name"])),
                             values=_list(bench.get("values")),
                             unit=str(bench.get("unit") or "sec/op"), path=path, label=label,
                             config=(), where=f"benchmarks[{i}]", into=into)
    return count


def _read_hyperfine(doc: dict[str, Any], path: str, label: str, into: ResultSet) -> int:
    count = 0
    for i, res in enumerate(doc["results"]):
        if not isinstance(res, dict) or not isinstance(res.get("times"), list):
            into.problems.append(Problem(path, 0, f"results[{i}]: no 'times' list"))
            continue
        name = bench_name(str(res.get("command") or f"command{i}"))
        count += _add_values(name, values=res["times"], unit="sec/op", path=path, label=label,
                             config=(), where=f"results[{i}]", into=into)
    return count


def _read_pytest_benchmark(doc: dict[str, Any], path: str, label: str, into: ResultSet) -> int:
    count = 0
    for i, bench in enumerate(_list(doc.get("benchmarks"))):
        stats = bench.get("stats") if isinstance(bench, dict) else None
        if not isinstance(stats, dict):
            into.problems.append(Problem(path, 0, f"benchmarks[{i}]: missing stats"))
            continue
        name = bench_name(str(bench.get("name") or bench.get("fullname") or f"bench{i}"))
        data = stats.get("data")
        if not isinstance(data, list):
            into.problems.append(Problem(
                path, 0, f"benchmarks[{i}] ({name}): no raw timings; run pytest with "
                         "--benchmark-save-data so each round's time is kept"))
            continue
        count += _add_values(name, values=data, unit="sec/op", path=path, label=label,
                             config=(), where=f"benchmarks[{i}]", into=into)
    return count


def _read_pyperf(doc: dict[str, Any], path: str, label: str, into: ResultSet) -> int:
    top = _dict(doc.get("metadata"))
    count = 0
    for i, bench in enumerate(_list(doc.get("benchmarks"))):
        if not isinstance(bench, dict):
            continue
        meta = {**top, **_dict(bench.get("metadata"))}
        name = bench_name(str(meta.get("name") or f"bench{i}"))
        unit = _PYPERF_UNITS.get(str(meta.get("unit") or "second"), "sec/op")
        # calibration runs have warmups only; their values are not measurements
        values: list[Any] = [v for run in _list(bench.get("runs")) if isinstance(run, dict)
                             for v in _list(run.get("values"))]
        if not values:
            into.problems.append(Problem(path, 0, f"benchmarks[{i}] ({name}): no values"))
            continue
        count += _add_values(name, values=values, unit=unit, path=path, label=label, config=(),
                             where=f"benchmarks[{i}]", into=into)
    return count
