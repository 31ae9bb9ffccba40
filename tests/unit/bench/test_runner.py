"""`perflab bench run | cmd | system`: discovery, calibration, workers, interleaving, noise."""

from __future__ import annotations

import ast
import json
import sys
import textwrap
from pathlib import Path

import pytest
from tests._schemas import validate

from perflab.bench import _runner
from perflab.bench._cmd import run_commands
from perflab.bench._system import check_all, check_governor, check_load, check_turbo
from perflab.cli import main
from perflab.errors import CheckFailed, InvalidFile, UsageError

BENCH_FILE = textwrap.dedent("""
    import time

    def bench_spin():
        total = 0
        for i in range(200):
            total += i

    def bench_with_default(n=3):
        return n

    def bench_needs_arg(n):
        return n

    def helper():
        return 1
""")


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    (tmp_path / "bench_x.py").write_text(BENCH_FILE)
    (tmp_path / "other.py").write_text("def bench_ignored(): pass\n")
    return tmp_path


def test_discovery_finds_argument_free_bench_functions_without_importing(bench_dir):
    (bench_dir / "bench_boom.py").write_text("raise SystemExit('imported!')\n"
                                             "def bench_ok(): pass\n")
    found = _runner.discover([str(bench_dir)])
    assert sorted(b.name for b in found) == ["bench_boom.bench_ok", "bench_x.bench_spin",
                                             "bench_x.bench_with_default"]


def test_discovery_errors(tmp_path):
    bad = tmp_path / "bench_bad.py"
    bad.write_text("def bench_a(:\n")
    with pytest.raises(InvalidFile, match=r"bench_bad.py:1: syntax error"):
        _runner.discover([str(bad)])
    empty = tmp_path / "bench_none.py"
    empty.write_text("x = 1\n")
    with pytest.raises(UsageError, match="no benchmarks found"):
        _runner.discover([str(empty)])


def test_values_come_from_calibrated_loops_in_worker_processes(bench_dir):
    benches = [b for b in _runner.discover([str(bench_dir / "bench_x.py")])
               if b.func == "bench_spin"]
    (m,) = _runner.run_benchmarks(benches, values=2, workers=2, min_time=0.01, clock="cpu")
    assert len(m.values) == 4
    assert m.loops >= 2  # one call is far below 10 ms: the loop count grew
    assert all(0 < v < 0.01 for v in m.values)
    assert m.loops * min(m.values) > 0.002  # each value spans a real stretch of time


def test_a_raising_benchmark_is_named_in_the_error(tmp_path):
    f = tmp_path / "bench_err.py"
    f.write_text("def bench_fail():\n    raise ValueError('nope')\n")
    with pytest.raises(UsageError, match=r"bench_fail in .*bench_err.py: ValueError: nope"):
        _runner.run_benchmarks(_runner.discover([str(f)]), values=1, workers=1, min_time=0.001)


def test_stability_warnings():
    assert _runner.stability_warnings([1.0, 1.01, 0.99, 1.0], loops=1000, min_time=0.1) == []
    noisy = _runner.stability_warnings([1.0, 1.5, 0.7, 1.2], loops=1000, min_time=0.1)
    assert any(w.startswith("unstable: std dev is") for w in noisy)
    outlier = _runner.stability_warnings([1.0, 1.0, 1.01, 0.99, 1.0, 3.0], loops=1000,
                                         min_time=0.1)
    assert any("outlier" in w for w in outlier)
    short = _runner.stability_warnings([1e-6, 1e-6], loops=10, min_time=0.1)
    assert any(w.startswith("values too short") for w in short)


def test_metadata_reads_cpu_governor_and_load(tmp_path):
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    (proc).mkdir()
    (proc / "cpuinfo").write_text("processor\t: 0\nmodel name\t: Test CPU 9000\n")
    (proc / "loadavg").write_text("0.42 0.30 0.20 1/100 123\n")
    gov = sys_ / "devices/system/cpu/cpu0/cpufreq"
    gov.mkdir(parents=True)
    (gov / "scaling_governor").write_text("powersave\n")
    meta = _runner.metadata(tmp_path, proc_root=proc, sys_root=sys_)
    assert meta["cpu_model"] == "Test CPU 9000"
    assert meta["cpu_governor"] == "powersave"
    assert meta["load_avg_1m"] == 0.42
    assert meta["python"]


def test_run_cli_writes_results_that_compare_reads(bench_dir, tmp_path, capsys):
    out = tmp_path / "res.json"
    code = main(["bench", "run", str(bench_dir / "bench_x.py"), "-n", "2", "-w", "1",
                 "--min-time", "5ms", "--clock", "cpu", "-o", str(out), "--json"])
    assert code == 0
    doc = validate(capsys.readouterr().out, "bench-results")
    assert {b["name"] for b in doc["benchmarks"]} == {"bench_x.bench_spin",
                                                     "bench_x.bench_with_default"}
    validate(out.read_text(), "bench-results")
    assert main(["bench", "compare", str(out)]) == 0
    assert "bench_x.bench_spin" in capsys.readouterr().out


def test_python_option_runs_the_workers_in_that_interpreter(bench_dir, tmp_path, capsys):
    """--python names the interpreter (one without perflab's dependencies will do: the worker
    runs by path and needs only the standard library); the metadata describes it."""
    probe = tmp_path / "bench_probe.py"
    where = str(tmp_path / "where")
    probe.write_text(f"import sys\n\ndef bench_where():\n"
                     f"    open({where!r}, 'w').write(sys.executable)\n")
    # a wrapper script stands for another interpreter: it is not the one running perflab
    fake = tmp_path / "otherpython"
    fake.write_text(f'#!/bin/sh\nexec {sys.executable} -I "$@"\n')
    fake.chmod(0o755)
    assert main(["bench", "run", str(probe), "-n", "1", "-w", "1", "--min-time", "1ms",
                 "--python", str(fake), "--json"]) == 0
    doc = validate(capsys.readouterr().out, "bench-results")
    assert doc["metadata"]["executable"] == sys.executable  # what the interpreter reports
    assert (tmp_path / "where").read_text() == sys.executable
    code = main(["bench", "run", str(probe), "--python", str(tmp_path / "nope")])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot run the interpreter" in err
    assert "Traceback" not in err


def test_worker_imports_only_the_standard_library():
    """So that `--python` may name an interpreter without perflab's dependencies."""
    tree = ast.parse(_runner.WORKER.read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_commands_are_interleaved_alternating_order(tmp_path):
    log = tmp_path / "order.log"
    results = run_commands([f"echo A >> {log}", f"echo B >> {log}"], runs=4, warmup=0,
                           shell=True)
    assert log.read_text().split() == ["A", "B", "B", "A", "A", "B", "B", "A"]
    assert [len(r.values) for r in results] == [4, 4]
    assert all(v > 0 for r in results for v in r.values)


def test_failing_command_stops_unless_ignored(tmp_path):
    with pytest.raises(CheckFailed, match="exited with 1"):
        run_commands(["true", "false"], runs=2, warmup=0)
    results = run_commands(["false"], runs=2, warmup=0, ignore_failure=True)
    assert results[0].exit_codes == [1, 1]


def test_cmd_cli_json(capsys):
    assert main(["bench", "cmd", "true", "true", "-r", "3", "--json"]) == 0
    doc = validate(capsys.readouterr().out, "bench-results")
    assert [b["name"] for b in doc["benchmarks"]] == ["true", "true"]
    assert doc["metadata"]["interleaved"] is True


def fake_sys(tmp_path: Path, governor: str | None, no_turbo: str | None) -> Path:
    root = tmp_path / "sys"
    cpu = root / "devices/system/cpu"
    for i in range(2):
        d = cpu / f"cpu{i}" / "cpufreq"
        d.mkdir(parents=True)
        if governor:
            (d / "scaling_governor").write_text(governor + "\n")
    if no_turbo is not None:
        (cpu / "intel_pstate").mkdir()
        (cpu / "intel_pstate/no_turbo").write_text(no_turbo + "\n")
    return root


def test_system_checks_name_the_fix(tmp_path):
    root = fake_sys(tmp_path, "powersave", "0")
    gov = check_governor(root)
    assert (gov.level, gov.fix) == ("warn", "sudo cpupower frequency-set -g performance")
    turbo = check_turbo(root)
    assert turbo.level == "warn"
    assert "no_turbo" in turbo.fix
    quiet = fake_sys(tmp_path / "q", "performance", "1")
    assert check_governor(quiet).level == "ok"
    assert check_turbo(quiet).level == "ok"
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "loadavg").write_text("3.50 1.0 1.0 2/300 999\n")
    assert check_load(proc, 2).level == "warn"
    (proc / "loadavg").write_text("0.10 1.0 1.0 2/300 999\n")
    assert check_load(proc, 2).level == "ok"


def test_system_on_this_machine_and_its_json(capsys):
    findings = check_all(interval=0.05)
    assert {f.check for f in findings} >= {"cpu governor", "load", "busy processes", "ASLR"}
    assert main(["bench", "system", "--interval", "50ms", "--json"]) == 0
    doc = validate(capsys.readouterr().out, "bench-system")
    assert json.dumps(doc)
