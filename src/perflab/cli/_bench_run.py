"""``perflab bench run | cmd | system``: measure Python functions and commands; name the noise."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from perflab.cli._common import POSITIVE_DURATION, emit_doc, emit_json, json_option
from perflab.errors import CheckFailed, InvalidValue

if TYPE_CHECKING:
    from collections.abc import Mapping

    from perflab.bench import BenchResultsDoc, BenchSystemDoc


def _progress(quiet: bool) -> Any:
    if quiet or not sys.stderr.isatty():
        return None
    return lambda msg: click.echo(f"\r\033[K{msg}", err=True, nl=False)


def _print_table(doc: Mapping[str, object], label: str) -> None:
    from perflab.bench import (  # noqa: PLC0415
        Options,
        ResultSet,
        build_tables,
        read_json,
        to_text,
    )

    rs = ResultSet()
    read_json(doc, label, label, rs)
    sys.stdout.write(to_text(build_tables(rs, Options())))


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-n", "--values", default=5, show_default=True, help="Values per worker process.")
@click.option("-w", "--workers", default=4, show_default=True, help="Worker processes per "
              "benchmark (run one after another, interleaved across benchmarks).")
@click.option("--warmups", default=1, show_default=True, help="Warm-up values per worker.")
@click.option("--min-time", type=POSITIVE_DURATION, default="100ms", show_default=True,
              help="Calibrate loops so one value takes at least this long.")
@click.option("--clock", type=click.Choice(["wall", "cpu"]), default="wall", show_default=True,
              help="wall: perf_counter; cpu: process CPU time (steadier on a shared machine).")
@click.option("--metric", type=click.Choice(["time", "instructions"]), default="time",
              show_default=True, help="instructions: count with valgrind callgrind.")
@click.option("--python", "python", default=None, metavar="PATH",
              help="Interpreter that runs the benchmarks (default: the one running perflab); "
                   "it needs only the standard library.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the results (perflab JSON) here, for compare/record later.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line.")
@json_option
def run(*, paths: tuple[str, ...], values: int, workers: int, warmups: int, min_time: float,
        clock: str, metric: str, python: str | None, output: str | None, quiet: bool,
        as_json: bool) -> None:
    """Run the bench_* functions in Python files: calibrated, warmed up, in worker processes."""
    from perflab.bench import (  # noqa: PLC0415
        RunInterrupted,
        discover,
        metadata,
        results_document,
        run_benchmarks,
        subprocess_runner,
    )

    benches = discover(list(paths))
    progress = _progress(quiet or as_json)
    interpreter = python or sys.executable
    runner = subprocess_runner(interpreter)
    # the results describe the interpreter that ran them, which --python may have changed
    about = runner({"mode": "about"})
    if metric == "instructions":
        results = _run_instructions(benches, values, workers, min_time, progress, interpreter)
    else:
        try:
            results = run_benchmarks(benches, values=values, workers=workers,
                                             warmups=warmups, min_time=min_time, clock=clock,
                                             runner=runner, progress=progress)
        except RunInterrupted as stop:
            if progress:
                click.echo("\r\033[K", err=True, nl=False)
            if stop.partial:
                click.echo("perflab: interrupted; results measured so far:", err=True)
                doc = results_document(stop.partial, {"interrupted": True})
                if output:
                    _write(output, doc)
                _print_table(doc, "results (partial)")
            raise
    if progress:
        click.echo("\r\033[K", err=True, nl=False)
    meta = metadata(Path(paths[0]).resolve().parent, clock=clock)
    meta.update({k: about[k] for k in ("python", "python_implementation", "executable")})
    meta["metric"] = metric
    doc = results_document(results, meta)
    if output:
        _write(output, doc)
    if as_json:
        emit_doc(doc)
    else:
        _print_table(doc, "results")
        for m in results:
            for w in m.warnings:
                click.echo(f"perflab: warning: {m.bench.name}: {w}", err=True)
        click.echo(f"# {meta.get('python_implementation')} {meta.get('python')}, "
                   f"{meta.get('cpu_model', 'cpu ?')}, governor {meta.get('cpu_governor')}, "
                   f"load {meta.get('load_avg_1m', '?')}"
                   + (f", commit {meta['commit'][:12]}" if "commit" in meta else ""), err=True)


def _write(output: str, doc: Mapping[str, object]) -> None:
    try:
        Path(output).write_text(json.dumps(doc, indent=2) + "\n")
    except OSError as exc:
        raise InvalidValue(f"cannot write {output}: {exc.strerror}",
                           hint="choose a writable path for -o") from exc


def _run_instructions(benches: list[Any], values: int, workers: int,  # noqa: PLR0917
                      min_time: float, progress: Any, python: str) -> list[Any]:
    """Instructions per call, counted by callgrind around the measured loop only.

    Each worker process runs under valgrind; it brackets ``values`` stretches of L calls and
    as many empty stretches (see ``_worker._callgrind_marks``): (full - empty) / L per value.
    """
    from perflab.bench import (  # noqa: PLC0415
        Measured,
        callgrind_marked_parts,
        subprocess_runner,
        worker_argv,
    )

    timer = subprocess_runner(python)
    out = []
    for b in benches:
        # valgrind runs ~50x slower: aim for a hundredth of min-time natively
        cal = timer({"mode": "calibrate", "file": b.file, "func": b.func,
                     "min_time": min_time / 100, "clock": "wall"})
        loops = int(cal["loops"])
        m = Measured(b, "instructions/op", loops)
        spec = {"mode": "callgrind", "file": b.file, "func": b.func, "loops": loops,
                "values": values, "clock": "wall"}
        for w in range(workers):
            if progress:
                progress(f"{b.name}: callgrind worker {w + 1}/{workers}")
            counts = callgrind_marked_parts(worker_argv(python, spec))
            if len(counts) < 2 * (values + 1):
                raise CheckFailed(f"{b.name}: callgrind wrote {len(counts)} of "
                                  f"{2 * (values + 1)} expected counts",
                                  hint="is this CPython on glibc? the triggers are libc's "
                                       "getppid/getpgrp, called by os.getppid/os.getpgrp")
            counts = counts[2:]  # the warm-up pair
            m.values.extend(max(full - empty, 0.0) / loops
                            for full, empty in zip(counts[0::2], counts[1::2], strict=False))
        out.append(m)
    return out


@click.command()
@click.argument("commands", nargs=-1, required=True)
@click.option("-r", "--runs", default=10, show_default=True, help="Runs of each command.")
@click.option("--warmup", default=1, show_default=True, help="Untimed runs of each first.")
@click.option("--shell", is_flag=True, help="Run each command with /bin/sh -c.")
@click.option("--metric", type=click.Choice(["time", "instructions"]), default="time",
              show_default=True, help="instructions: count with valgrind callgrind.")
@click.option("--ignore-failure", is_flag=True, help="Keep timing commands that exit non-zero.")
@click.option("--fail-on", "fail_on", default=None, metavar='"regression>5%"',
              help="Exit 1 when a later command is significantly slower than the first.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the results (perflab JSON) here.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line.")
@json_option
def cmd(*, commands: tuple[str, ...], runs: int, warmup: int, shell: bool, metric: str,
        ignore_failure: bool, fail_on: str | None, output: str | None, quiet: bool,
        as_json: bool) -> int:
    """Time whole commands like hyperfine, interleaving them so drift hits all alike."""
    from perflab import bench as b  # noqa: PLC0415
    from perflab.bench import (  # noqa: PLC0415  # noqa: PLC0415
        PERFLAB_RESULTS_SCHEMA,
        CommandsInterrupted,
        bench_name,
        read_json,
        run_commands,
    )

    gate = b.parse_gate(fail_on) if fail_on else None
    progress = _progress(quiet or as_json)
    interrupted: BaseException | None = None
    try:
        results = run_commands(list(commands), runs=runs, warmup=warmup, shell=shell,
                               metric=metric, ignore_failure=ignore_failure, progress=progress)
    except CommandsInterrupted as stop:
        # Ctrl-C: show the rounds completed so far (every command must have at least 2)
        results, interrupted = stop.partial, stop
        if min(len(r.values) for r in results) < 2:
            raise
        click.echo("perflab: interrupted; runs completed so far:", err=True)
    if progress:
        click.echo("\r\033[K", err=True, nl=False)
    unit = "instructions/op" if metric == "instructions" else "sec/op"
    # one input "file" per command, so each command is a column compared with the first
    rs = b.ResultSet()
    for i, r in enumerate(results):
        label = f"#{i + 1}" if len(results) > 1 else "result"
        read_json({"schema": PERFLAB_RESULTS_SCHEMA, "benchmarks": [
            {"name": "cmd", "unit": unit, "values": r.values}]}, label, label, rs)
        rs.files.append(label)
    doc: BenchResultsDoc = {
        "schema": PERFLAB_RESULTS_SCHEMA,
        "metadata": {"metric": metric, "runs": runs, "interleaved": True},
        "benchmarks": [{"name": bench_name(r.command), "unit": unit, "values": r.values,
                        "user_s": r.user_s, "sys_s": r.sys_s, "exit_codes": r.exit_codes}
                       for r in results],
    }
    if output:
        _write(output, doc)
    tables = b.build_tables(rs, b.Options())
    verdicts = b.judge(tables, rs, gate)
    if as_json:
        emit_json(doc["schema"], {k: v for k, v in doc.items() if k != "schema"})
    else:
        for i, r in enumerate(results):
            click.echo(f"#{i + 1}: {r.command}")
        sys.stdout.write(b.to_text(tables))
    if interrupted is not None:
        raise interrupted
    bad = b.tripped(verdicts, gate)
    if bad:
        raise CheckFailed(f"a command is slower than #1 beyond {gate.text if gate else ''}",
                          hint="see the table above")
    return 0


@click.command()
@click.option("--interval", type=POSITIVE_DURATION, default="500ms", show_default=True,
              help="How long to watch for busy processes.")
@json_option
def system(*, interval: float, as_json: bool) -> None:
    """Name the sources of benchmark noise on this machine and how to fix each."""
    from perflab.bench import check_all  # noqa: PLC0415

    findings = check_all(interval=interval)
    if as_json:
        system: BenchSystemDoc = {"schema": "perflab.bench-system/1",
                                  "findings": [f.to_json() for f in findings]}
        emit_doc(system)
        return
    marks = {"ok": "ok  ", "warn": "WARN", "info": "info"}
    for f in findings:
        click.echo(f"{marks[f.level]}  {f.check:16} {f.seen}")
        if f.level != "ok" and f.why:
            click.echo(f"{'':22}why: {f.why}")
        if f.level != "ok" and f.fix:
            click.echo(f"{'':22}fix: {f.fix}")
