"""``perflab bench run``: find ``bench_*`` functions, calibrate, warm up, measure in workers.

1. Discovery reads each file's syntax tree (nothing is imported in the parent): every
   top-level ``def bench_*()`` without required arguments is a benchmark.
2. Calibration (in a worker) doubles the loop count until one value takes >= ``min_time``
   (100 ms by default), so timer resolution and call overhead vanish into the total.
3. Measurement spreads the values over ``workers`` fresh processes run one after another,
   interleaving benchmarks (worker 1 of A, of B, then worker 2 of A ...) so that drift of the
   machine hits every benchmark alike. Each worker warms up before it records.
   With ``slices=N`` each worker measures every benchmark instead, each value in N short
   stretches taken in turn (ABBA...): load that comes and goes within a second then hits
   every benchmark alike too (what a comparison on a busy machine needs).
4. Each result is checked for instability: a spread (std dev) of >= 10 % of the median,
   outliers beyond 1.5 IQR, or values shorter than asked (the calibration did not hold).
"""

from __future__ import annotations

import ast
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.bench._contracts import BenchResultsDoc
from perflab.bench._jsonfmt import PERFLAB_RESULTS_SCHEMA
from perflab.errors import InvalidFile, InvalidValue, NotFound, UsageError


@dataclass(frozen=True)
class Benchmark:
    file: str
    func: str

    @property
    def name(self) -> str:
        stem = Path(self.file).stem
        return f"{stem}.{self.func}"


@dataclass
class Measured:
    bench: Benchmark
    unit: str
    loops: int
    values: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def discover(paths: list[str]) -> list[Benchmark]:
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend(sorted(f for f in path.rglob("*.py") if f.name.startswith("bench")))
        elif path.exists():
            files.append(path)
        else:
            raise NotFound(f"no such file or directory: {p}", hint="check the path")
    found: list[Benchmark] = []
    for f in files:
        try:
            tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        except SyntaxError as exc:
            raise InvalidFile(f"syntax error: {exc.msg}", path=str(f), line=exc.lineno,
                              hint="fix the file; benchmarks are found by reading it") from exc
        except UnicodeDecodeError as exc:
            raise InvalidFile("not UTF-8 text", path=str(f)) from exc
        found.extend(Benchmark(str(f.resolve()), node.name) for node in tree.body
                     if isinstance(node, ast.FunctionDef) and node.name.startswith("bench_")
                     and _callable_without_args(node))
    if not found:
        raise UsageError(f"no benchmarks found in {', '.join(paths)}",
                         hint="define top-level functions named bench_* that take no arguments")
    return found


def _callable_without_args(node: ast.FunctionDef) -> bool:
    a = node.args
    required = len(a.posonlyargs) + len(a.args) - len(a.defaults)
    kw_required = sum(1 for d in a.kw_defaults if d is None)
    return required == 0 and kw_required == 0


Runner = Callable[[dict[str, Any]], dict[str, Any]]

WORKER = Path(__file__).resolve().with_name("_worker.py")


def worker_argv(python: str, spec: dict[str, Any]) -> list[str]:
    """The worker run by path: the interpreter needs neither perflab nor its dependencies."""
    return [python, str(WORKER), json.dumps(spec)]


def subprocess_runner(python: str = sys.executable, *, timeout: float = 600.0,
                      wrapper: list[str] | None = None) -> Runner:
    """Run one worker spec in a fresh interpreter (optionally under a wrapper like valgrind)."""

    def run(spec: dict[str, Any]) -> dict[str, Any]:
        argv = [*(wrapper or []), *worker_argv(python, spec)]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except OSError as exc:
            raise UsageError(f"cannot run the interpreter {python}: {exc.strerror}",
                             hint="give --python the path of a Python executable") from exc
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            raise UsageError(f"benchmark worker failed: {proc.stderr.strip()[-500:]}",
                             hint="run the benchmark function directly to see the error")
        out: dict[str, Any] = json.loads(lines[-1])
        out["_stderr"] = proc.stderr
        if "error" in out:
            raise UsageError(f"{spec['func']} in {spec['file']}: {out['error']}",
                             hint="the benchmark raised; fix it and run again")
        return out

    return run


def run_benchmarks(benches: list[Benchmark], *, values: int = 5, workers: int = 4,
                   warmups: int = 1, min_time: float = 0.1, clock: str = "wall",
                   slices: int = 0, runner: Runner | None = None,
                   progress: Callable[[str], None] | None = None) -> list[Measured]:
    """``slices=0``: one worker process per benchmark and batch; ``slices=N``: see above."""
    if workers < 1 or values < 1:
        raise InvalidValue("--workers and --values must be at least 1", hint="e.g. -w 4 -n 5")
    if min_time <= 0:
        raise InvalidValue("--min-time must be positive", hint="the default is 100ms")
    run = runner or subprocess_runner()
    results: list[Measured] = []
    try:
        for b in benches:
            if progress:
                progress(f"calibrating {b.name}")
            # a slice is calibrated alone, so that a value (all its slices) lasts min_time
            cal = run({"mode": "calibrate", "file": b.file, "func": b.func,
                       "min_time": min_time / max(slices, 1), "clock": clock})
            results.append(Measured(b, "sec/op", int(cal["loops"]) * max(slices, 1)))
        for w in range(workers):
            if slices:
                if progress:
                    progress(f"{len(results)} benchmarks in turn: worker {w + 1}/{workers}")
                _measure_alternating(run, results, values=values, slices=slices,
                                     warmups=warmups, clock=clock)
                continue
            for m in results:
                if progress:
                    progress(f"{m.bench.name}: worker {w + 1}/{workers}")
                out = run({"mode": "measure", "file": m.bench.file, "func": m.bench.func,
                           "loops": m.loops, "values": values, "warmups": warmups,
                           "clock": clock})
                m.values.extend(float(v) for v in out["values"])
    except KeyboardInterrupt as exc:
        # Ctrl-C: hand back what was measured so far; the caller prints it, then exits 130
        raise Interrupted([m for m in results if m.values]) from exc
    for m in results:
        m.warnings = stability_warnings(m.values, m.loops, min_time)
    return results


def _measure_alternating(run: Runner, results: list[Measured], *, values: int, slices: int,
                         warmups: int, clock: str) -> None:
    """One worker that measures every benchmark, their slices in turn."""
    out = run({"mode": "alternate", "benches": [[m.bench.file, m.bench.func] for m in results],
               "loops": [m.loops // slices for m in results], "values": values,
               "slices": slices, "warmups": warmups, "clock": clock,
               "func": ", ".join(m.bench.func for m in results),  # names them in an error
               "file": results[0].bench.file})
    for m, measured in zip(results, out["values"], strict=True):
        m.values.extend(float(v) for v in measured)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run, carrying the results measured before it."""

    def __init__(self, partial: list[Measured]) -> None:
        super().__init__("interrupted")
        self.partial = partial


def stability_warnings(values: list[float], loops: int, min_time: float) -> list[str]:
    """Why a result should not be trusted, in words (empty when it looks stable)."""
    out: list[str] = []
    if len(values) < 2:
        return out
    med = statistics.median(values)
    if med > 0:
        spread = statistics.stdev(values) / med
        if spread >= 0.10:
            out.append(f"unstable: std dev is {spread * 100:.0f}% of the median (>= 10%)")
    if len(values) >= 4:
        q = statistics.quantiles(values, n=4)
        iqr = q[2] - q[0]
        lo, hi = q[0] - 1.5 * iqr, q[2] + 1.5 * iqr
        outliers = sum(1 for v in values if v < lo or v > hi)
        if outliers:
            out.append(f"{outliers} outlier(s) of {len(values)} values beyond 1.5 IQR")
    shortest = min(values) * loops
    if shortest < min_time / 2:
        out.append(f"values too short: the fastest took {shortest * 1e3:.1f} ms "
                   f"(< half of min-time {min_time * 1e3:.0f} ms); timing is unreliable")
    return out


def metadata(cwd: Path | None = None, *, clock: str = "wall", proc_root: Path = Path("/proc"),
             sys_root: Path = Path("/sys")) -> dict[str, Any]:
    """Where and how the values were measured (printed with the results, kept in the store)."""
    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "clock": clock,
        "cpu_count": os.cpu_count(),
    }
    commit = _git_commit(cwd or Path.cwd())
    if commit:
        meta["commit"] = commit
    model = _cpu_model(proc_root)
    if model:
        meta["cpu_model"] = model
    gov = _read(sys_root / "devices/system/cpu/cpu0/cpufreq/scaling_governor")
    meta["cpu_governor"] = gov or "unknown (no cpufreq)"
    load = _read(proc_root / "loadavg")
    if load:
        meta["load_avg_1m"] = float(load.split()[0])
    return meta


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _cpu_model(proc_root: Path) -> str:
    for line in _read(proc_root / "cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return ""


def _git_commit(cwd: Path) -> str:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def results_document(results: list[Measured], meta: dict[str, Any]) -> BenchResultsDoc:
    return {
        "schema": PERFLAB_RESULTS_SCHEMA,
        "metadata": meta,
        "benchmarks": [
            {"name": m.bench.name, "unit": m.unit, "values": m.values, "loops": m.loops,
             "warnings": m.warnings}
            for m in results
        ],
    }
