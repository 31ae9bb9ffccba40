"""``perflab load``: HTTP load tests. ``perflab load URL`` is short for ``perflab load run URL``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from perflab.cli._common import (
    DURATION,
    POSITIVE_DURATION,
    emit_doc,
    json_option,
    open_store,
    store_option,
)
from perflab.errors import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    InvalidValue,
    PerflabError,
    ThresholdsFailed,
    UsageError,
)

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from perflab.load import LoadDoc, LoadResult

LOAD_SCHEMA: Literal["perflab.load/5"] = "perflab.load/5"


class LoadGroup(click.Group):
    """A group that treats anything but a subcommand name as the arguments of ``run``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("load", cls=LoadGroup)
def load() -> None:
    """HTTP load tests: closed or open model, thresholds, scenarios.

    `perflab load URL [OPTIONS]` is short for `perflab load run URL [OPTIONS]`.
    """


def quiet_blas(environ: MutableMapping[str, str]) -> None:
    """One OpenBLAS thread for this process, unless the user chose otherwise.

    The command's numpy (the histograms: bincount, cumsum) never calls BLAS, but OpenBLAS
    starts a thread per core when numpy is imported (during the test's first second), which
    spins a while and is joined at exit: on a 2-core machine that was ~0.1 s of wall time
    and ~30 ms of CPU taken from the test (median of 15 imports each, loaded machine)."""
    environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _headers(items: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise InvalidValue(f"invalid header {item!r}", hint='write it as -H "Name: value"')
        out.append((name.strip(), value.strip()))
    return tuple(out)


@load.command("run")
@click.argument("url", required=False)
@click.option("-s", "--scenario", "scenario_file", type=click.Path(dir_okay=False),
              help="A Python scenario file (weighted requests, feeders, checks).")
@click.option("-c", "--connections", type=int, default=10, show_default=True,
              help="Connections (closed model), or the initial pool (open model).")
@click.option("-d", "--duration", type=POSITIVE_DURATION, default=None,
              help="Test duration (default 10s unless -n is given).")
@click.option("-n", "--requests", type=int, default=None, help="Stop after this many requests.")
@click.option("-m", "--method", default="GET", show_default=True)
@click.option("-H", "--header", "headers", multiple=True, help='"Name: value" (repeatable).')
@click.option("--body", default=None, help="Request body.")
@click.option("--body-file", type=click.Path(dir_okay=False), default=None,
              help="Read the request body from a file.")
@click.option("--timeout", type=POSITIVE_DURATION, default="10s", show_default=True,
              help="Per-request timeout.")
@click.option("--key-space", type=click.IntRange(min=1), default=None, metavar="N",
              help="{n} in the URL counts modulo N: a working set of N keys (default: every "
                   "request a new key).")
@click.option("--workers", type=int, default=None, help="Processes (default: the CPU count).")
@click.option("--traceparent", type=click.FloatRange(0.0, 1.0), default=None, metavar="RATIO",
              help="Send a W3C traceparent with each request (a new trace id), this share of "
                   "them sampled: the service's traces join the load's requests.")
@click.option("--rate", default=None, help="Open model: requests per second (e.g. 1000, 2k).")
@click.option("--stages", default=None,
              help='Open model, ramping: "30s:100,1m:2000,30s:0" (DURATION:RATE, ...).')
@click.option("--max-connections", type=int, default=None,
              help="Open model: most connections to open (default 10x -c).")
@click.option("--drain", type=DURATION, default="1s", show_default=True,
              help="Open model: how long requests in flight may finish after the duration "
                   "(arrivals still due may start in it; what has not is dropped).")
@click.option("--think-time", type=DURATION, default="0s", help="Closed model: pause between "
              "a response and the next request on a connection.")
@click.option("--threshold", "thresholds", multiple=True,
              help='Pass/fail: "p99<200ms", "error_rate<1%", "rps>1000" (exit 99 on failure).')
@click.option("--abort-on-fail", is_flag=True, help="Stop as soon as a threshold fails.")
@click.option("--junit", type=click.Path(dir_okay=False), default=None,
              help="Write the thresholds as JUnit XML.")
@click.option("--hgrm", type=click.Path(dir_okay=False), default=None,
              help="Write the latency distribution in HdrHistogram's .hgrm format.")
@click.option("--watch", type=int, multiple=True,
              help="Record this target process (PID) alongside (repeatable).")
@click.option("--name", default=None, help="Name of the run in the store.")
@click.option("--trace-wait", type=DURATION, default="6s", show_default=True,
              help="When spans of the target reached the store during the test: how long "
                   "after it to wait at most for its last spans before counting the share "
                   "of requests traced (the count stops earlier once spans stop arriving).")
@click.option("--allow-remote", is_flag=True,
              help="Allow a target that is not this machine (default: loopback only).")
@click.option("--coverage-against", default=None, metavar="FILE",
              help="Production traffic (an access log or a HAR file): report the share of "
                   "its requests the test exercises (perflab load coverage).")
@click.option("--cluster", default=None, metavar="ADDRESS|local:N",
              help="Run on a Dask cluster: its scheduler (tcp://host:8786), or local:N for a "
                   "local one of N workers. --workers is then per Dask worker (default 1).")
@store_option
@json_option
def run(  # noqa: PLR0917  # click passes every option as an argument
        url: str | None, scenario_file: str | None, connections: int, duration: float | None,
        requests: int | None, method: str, headers: tuple[str, ...], body: str | None,
        body_file: str | None, timeout: float, key_space: int | None, workers: int | None,
        traceparent: float | None, rate: str | None, stages: str | None,
        max_connections: int | None, drain: float, think_time: float,
        thresholds: tuple[str, ...], abort_on_fail: bool, junit: str | None,
        hgrm: str | None, watch: tuple[int, ...], name: str | None, trace_wait: float,
        allow_remote: bool, coverage_against: str | None, cluster: str | None,
        store_path: str | None, as_json: bool) -> int:
    """Run a load test against URL (or the targets of a scenario file)."""
    from perflab.load import WorkerPool, workers_needed  # noqa: PLC0415  # fast --help

    # The workers start first, so that their interpreters import the engine while this one
    # imports the rest and checks the input; click closes the pool when the command ends,
    # whatever way (unused workers terminated, the others reaped after the run is stored).
    if cluster is not None:  # the load processes run on the Dask workers: none here
        workers = workers or 1
        pool = click.get_current_context().with_resource(WorkerPool.prestart(0))
    else:
        workers = workers or os.cpu_count() or 1
        pool = click.get_current_context().with_resource(WorkerPool.prestart(workers_needed(
            workers, connections=connections, requests=requests,
            closed_model=not (rate or stages or scenario_file))))
    quiet_blas(os.environ)  # after the workers' start: they inherit none of it
    from perflab.load import RunOptions, execute  # noqa: PLC0415  # lazy: fast --help

    if url is None and scenario_file is None:
        raise UsageError("give a URL or a scenario file",
                         hint="perflab load http://127.0.0.1:8080/  or  perflab load run -s s.py")
    if body is not None and body_file is not None:
        raise UsageError("--body and --body-file are exclusive", hint="give one of them")
    payload = body.encode() if body is not None else b""
    if body_file is not None:
        try:
            payload = Path(body_file).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --body-file {body_file}: {exc.strerror}") from exc
    coverage = None
    if coverage_against is not None:  # before any traffic: a bad log stops here
        from perflab.load import read_traffic, run_coverage  # noqa: PLC0415

        coverage = run_coverage(read_traffic(coverage_against), scenario_file=scenario_file,
                                method=method.upper(), url=url)
    opts = RunOptions(
        url=url, scenario_file=scenario_file, connections=connections, duration_s=duration,
        requests=requests, method=method.upper(), headers=_headers(headers), body=payload,
        timeout_s=timeout, key_space=key_space, workers=workers, traceparent=traceparent,
        rate=rate, stages=stages,
        max_connections=max_connections, drain_s=drain, think_time_s=think_time,
        thresholds=thresholds,
        abort_on_fail=abort_on_fail, junit=junit, hgrm=hgrm, watch=watch, name=name,
        store_path=store_path, as_json=as_json, allow_remote=allow_remote, coverage=coverage,
        cluster=cluster,
    )
    outcome = execute(opts, workers=pool)
    # spans that arrived at the hub during the test: what share of its requests were traced
    from perflab.cli.trace import load_tracing  # noqa: PLC0415

    tracing = (load_tracing(outcome.result, store_path, wait_s=trace_wait)
               if outcome.result is not None else None)
    if outcome.result is not None and as_json:
        doc: LoadDoc = {"schema": LOAD_SCHEMA, **outcome.result.to_json(), "tracing": tracing,
                        "coverage": coverage}
        emit_doc(doc)
    elif outcome.result is not None:
        from perflab.load import render_summary  # noqa: PLC0415
        from perflab.trace import render_load_coverage  # noqa: PLC0415

        click.echo(render_summary(outcome.result), nl=False)
        if tracing is not None:
            click.echo(render_load_coverage(tracing), nl=False)
        if coverage is not None:
            from perflab.load import render_coverage  # noqa: PLC0415

            click.echo(render_coverage(coverage), nl=False)
    if outcome.scenario_error is not None:
        click.echo(outcome.scenario_error.rstrip("\n"), err=True)
        click.echo("perflab: error: the scenario raised (traceback above); the run so far was "
                   "kept", err=True)
        return EXIT_USAGE
    if outcome.write_error is not None:
        raise outcome.write_error
    result = outcome.result
    if result is None:
        return 0
    if result.status == "aborted" and outcome.interrupted:
        return EXIT_INTERRUPTED
    _raise_verdict(result)
    return 0


def _raise_verdict(result: LoadResult) -> None:
    """Missed thresholds exit 99; a failed run (target rate not reached, a worker died) exits
    99 too when thresholds were set (the CI gate failed), else 1."""
    failed = [t for t in result.thresholds if not t["passed"]]
    problems = "; ".join(result.warnings)
    if failed:
        raise ThresholdsFailed(
            f"{len(failed)} of {len(result.thresholds)} thresholds failed: "
            + ", ".join(t["threshold"] for t in failed) + (f"; {problems}" if problems else ""),
            hint="see the thresholds in the summary above")
    if result.status == "failed" or result.warnings:
        message = "the load test failed: " + (problems or "see the summary above")
        hint = "the figures above cover what was measured; the run is stored"
        if result.thresholds:
            raise ThresholdsFailed(message, hint=hint)
        raise PerflabError(message, hint=hint)


@load.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@store_option
@json_option
def compare(run_a: str, run_b: str, store_path: str | None, as_json: bool) -> None:
    """Two load runs side by side: percentiles and rates with deltas (B relative to A)."""
    from perflab.load import compare_runs, render_compare  # noqa: PLC0415

    with open_store(store_path, create=False) as store:
        doc = compare_runs(store, run_a, run_b)
    if as_json:
        emit_doc(doc)
    else:
        sys.stdout.write(render_compare(doc))

from perflab.cli._load_capacity import capacity  # noqa: E402  # a command of its own module

load.add_command(capacity)

from perflab.cli._load_import import coverage, import_  # noqa: E402  # commands of their own module

load.add_command(import_)
load.add_command(coverage)
