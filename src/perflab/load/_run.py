"""One load test from options to stored result: what ``perflab load run`` and the demo call.

Order matters for the user: every input is checked (thresholds, stages, URL, PIDs) before any
traffic; the target is tried once so a refused port is one clear error; the run is created in
the store before the first request and finished whatever happens, so Ctrl-C, a failing
threshold or a raising scenario never lose what was measured.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perflab.errors import InvalidValue
from perflab.load._config import DEFAULT_DRAIN_S, LoadConfig, RequestSpec, parse_target
from perflab.load._preflight import check_reachable
from perflab.load._record import LoadRecorder
from perflab.load._result import Interval, LoadResult, RunningTotals
from perflab.load._runner import LoadRunner, ScenarioFailedDuring
from perflab.load._schedule import parse_stages
from perflab.load._summary import status_line
from perflab.load._thresholds import Threshold, evaluate, parse_threshold
from perflab.load._workers import WorkerPool, workers_needed
from perflab.units import format_rate, parse_rate

if TYPE_CHECKING:
    from perflab.load._contracts import LoadCoverageDoc
    from perflab.load._dask import DaskLoadRunner
    from perflab.load._dask_cluster import Cluster
    from perflab.load._scenario import Scenario
    from perflab.store import Store


@dataclass(frozen=True, slots=True)
class RunOptions:
    url: str | None = None
    scenario_file: str | None = None
    connections: int = 10
    duration_s: float | None = None
    requests: int | None = None
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    timeout_s: float = 10.0
    workers: int = 1
    rate: str | None = None
    stages: str | None = None
    max_connections: int | None = None
    think_time_s: float = 0.0
    thresholds: tuple[str, ...] = ()
    abort_on_fail: bool = False
    junit: str | None = None
    hgrm: str | None = None
    watch: tuple[int, ...] = ()
    name: str | None = None
    store_path: str | None = None
    as_json: bool = False
    live: bool | None = None  # None: a status line when stderr is a terminal
    # Recording into another run (``perflab demo``): the test's series, histograms and summary
    # go into run ``into_run`` with ``labels`` on each; that run is neither created nor ended.
    into_run: int | None = None
    labels: tuple[tuple[str, str], ...] = ()
    allow_remote: bool = False  # targets other than loopback need the user's explicit word
    key_space: int | None = None  # "{n}" in the URL: numbers modulo this (default: unique)
    drain_s: float = DEFAULT_DRAIN_S  # open model: in-flight requests may finish this long
    traceparent: float | None = None  # a W3C traceparent on each request, this share sampled
    # --coverage-against: the share of production traffic the test exercises, kept in the
    # run's metadata (the report's load section shows it)
    coverage: LoadCoverageDoc | None = None
    scenario_rate: float | None = None  # a scenario file's open rates scaled to this total
    # run on a Dask cluster: its scheduler's address, or "local:N" (``workers`` is then the
    # load processes on each Dask worker)
    cluster: str | None = None


@dataclass(slots=True)
class Outcome:
    result: LoadResult | None
    interrupted: bool = False
    scenario_error: str | None = None
    write_error: InvalidValue | None = None  # --hgrm/--junit could not be written (after all)


def build_config(o: RunOptions) -> tuple[LoadConfig, list[Threshold]]:
    thresholds = [parse_threshold(t) for t in o.thresholds]
    stages = parse_stages(o.stages) if o.stages else ()
    rate = parse_rate(o.rate) if o.rate is not None else None
    scenario_file = None
    open_scenarios = False
    scenario_models: tuple[str, ...] = ()
    duration_s = o.duration_s
    if o.scenario_file is not None:
        from perflab.load._scenario import load_scenario_file  # noqa: PLC0415  # optional

        spec = load_scenario_file(o.scenario_file)
        scenario_file = str(Path(o.scenario_file).resolve())
        thresholds += [parse_threshold(t) for t in spec.thresholds]
        url = o.url or spec.base_url
        open_scenarios = any(sc.open_model for sc in spec.scenarios)
        scenario_models = tuple(_describe(sc, o.connections) for sc in spec.scenarios)
        staged = [sum(st.duration_s for st in parse_stages(sc.stages))
                  for sc in spec.scenarios if sc.stages]
        if duration_s is None and o.requests is None:
            duration_s = max([10.0, *staged]) if staged else 10.0
        for sc in spec.scenarios:  # every target is checked before any traffic
            if sc.base_url:
                check_reachable(parse_target(sc.base_url, allow_remote=o.allow_remote),
                                timeout_s=min(o.timeout_s, 5.0))
        if o.traceparent is not None:
            raise InvalidValue("--traceparent is for a load test of a URL",
                               hint="a scenario sets its requests' headers itself")
    else:
        url = o.url
    if url is None:
        raise InvalidValue("no target URL", hint="give a URL, or set base_url in the scenario")
    target = parse_target(url, allow_remote=o.allow_remote)
    workers = workers_needed(o.workers, connections=o.connections, requests=o.requests,
                             closed_model=not (rate or stages) and scenario_file is None)
    cfg = LoadConfig(
        target=target, request=RequestSpec(o.method, o.headers, o.body),
        connections=o.connections, max_connections=o.max_connections, duration_s=duration_s,
        requests=o.requests, rate=rate, stages=stages, think_time_s=o.think_time_s,
        timeout_s=o.timeout_s, workers=workers, scenario_file=scenario_file,
        open_scenarios=open_scenarios, scenario_models=scenario_models,
        key_space=o.key_space, drain_s=o.drain_s, traceparent=o.traceparent,
        scenario_rate=o.scenario_rate,
    )
    cfg.validate()
    return cfg, thresholds


def _describe(sc: Scenario, default_connections: int) -> str:
    if sc.stages:
        return f"{sc.name}: open, stages {sc.stages}"
    if sc.rate is not None:
        return f"{sc.name}: open, {sc.rate_per_s:g}/s"
    return f"{sc.name}: closed, {sc.connections or default_connections} connections"


def execute(o: RunOptions, *, store: Store | None = None,
            stop: threading.Event | None = None, workers: WorkerPool | None = None) -> Outcome:
    """Run one test and store it. Setting ``stop`` (from another thread) ends the test within
    about a second, as Ctrl-C does: what was measured is kept, the result marked aborted.
    ``workers``: processes started ahead (``WorkerPool.prestart``; the caller closes the
    pool); by default they are started here, and reaped once the result is stored."""
    if workers is None:
        with WorkerPool() as pool:
            return execute(o, store=store, stop=stop, workers=pool)
    cfg, thresholds = build_config(o)
    for label, path in (("--hgrm", o.hgrm), ("--junit", o.junit)):
        if path is not None and not Path(path).resolve().parent.is_dir():
            raise InvalidValue(f"{label} {path}: the directory does not exist",
                               hint="create it, or choose another path")
    check_reachable(cfg.target, timeout_s=min(cfg.timeout_s, 5.0))
    if o.cluster is not None:
        from perflab.load._dask_cluster import (  # noqa: PLC0415  # only with --cluster
            check_placement,
            connect,
            parse_cluster,
        )

        with connect(parse_cluster(o.cluster)) as cluster:
            check_placement(cfg.target, cluster.scheduler_address, cluster.require_workers())
            return _open_store_and_run(o, cfg, thresholds, store, stop=stop, workers=workers,
                                       cluster=cluster)
    return _open_store_and_run(o, cfg, thresholds, store, stop=stop, workers=workers)


def _open_store_and_run(o: RunOptions, cfg: LoadConfig, thresholds: list[Threshold],
                        store: Store | None, *, stop: threading.Event | None,
                        workers: WorkerPool, cluster: Cluster | None = None) -> Outcome:
    own_store = store is None
    if store is None:
        from perflab.store import Store  # noqa: PLC0415  # lazy, as the CLI's other stores

        store = Store.open(o.store_path)
    try:
        return _execute(o, cfg, thresholds, store, stop=stop, workers=workers, cluster=cluster)
    finally:
        if own_store:
            store.close()


def _run_meta(o: RunOptions, cfg: LoadConfig, thresholds: list[Threshold],
              cluster: Cluster | None) -> dict[str, Any]:
    """What the run's metadata says of the test (the Run page and the report read it)."""
    meta: dict[str, Any] = {
        "url": cfg.target.url, "model": "open" if cfg.open_model else "closed",
        "connections": cfg.connections, "workers": cfg.workers, "rate": cfg.rate,
        "stages": [s.label() for s in cfg.stages], "duration_s": cfg.effective_duration_s,
        "requests": cfg.requests, "method": cfg.request.method,
        "thresholds": [t.text for t in thresholds], "scenario": cfg.scenario_file,
        "watch": list(o.watch)}
    if o.coverage is not None:
        meta["coverage"] = o.coverage
    if cluster is not None:
        meta["cluster"] = cluster.spec.label
    return meta


def _execute(o: RunOptions, cfg: LoadConfig, thresholds: list[Threshold], store: Store, *,
             stop: threading.Event | None, workers: WorkerPool,
             cluster: Cluster | None = None) -> Outcome:
    name = o.name or (Path(cfg.scenario_file).name if cfg.scenario_file else cfg.target.url)
    meta = _run_meta(o, cfg, thresholds, cluster)
    recorder = LoadRecorder(store, cfg, name, watch=o.watch, meta=meta, into_run=o.into_run,
                            labels=dict(o.labels))
    totals: list[RunningTotals] = []  # made with the first second (numpy: see _totals)
    live = sys.stderr.isatty() and not o.as_json if o.live is None else o.live
    total_s = cfg.effective_duration_s
    interrupted = False

    def on_interval(iv: Interval) -> bool:
        recorder.interval(iv)
        if not totals:
            totals.append(RunningTotals(cfg.open_model))
        totals[0].add(iv)
        if live:
            sys.stderr.write("\r" + status_line(totals[0], total_s, iv.connections) + "\x1b[K")
            sys.stderr.flush()
        if stop is not None and stop.is_set():
            return True
        if o.abort_on_fail and thresholds and iv.second >= 1:
            return not all(t.passes(totals[0]) for t in thresholds)
        return False

    runner: LoadRunner | DaskLoadRunner
    if cluster is not None:
        from perflab.load._dask import DaskLoadRunner  # noqa: PLC0415  # only with --cluster

        runner = DaskLoadRunner(cfg, cluster, on_interval=on_interval,
                                on_start=recorder.started, stop=stop)
    else:
        runner = LoadRunner(cfg, on_interval=on_interval, on_start=recorder.started,
                            workers=workers)
    scenario_error = None
    try:
        result = runner.run()
    except ScenarioFailedDuring as err:
        result = err.result
        scenario_error = err.message
    except KeyboardInterrupt:  # before the workers were ready: nothing measured yet
        if not recorder.attached:
            store.finish_run(recorder.run.id, "aborted")
        raise
    except BaseException:
        if not recorder.attached:
            store.finish_run(recorder.run.id, "failed")
        raise
    finally:
        if live:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
    interrupted = result.status == "aborted" and not o.abort_on_fail
    if stop is not None and stop.is_set():
        interrupted = True
    result.thresholds = evaluate(thresholds, result)
    _verdict(result, stopped_early=o.abort_on_fail and result.status == "aborted",
             interrupted=interrupted)
    recorder.finish(result)
    return Outcome(result, interrupted=interrupted, scenario_error=scenario_error,
                   write_error=_write_files(o, result, name))


def _write_files(o: RunOptions, result: LoadResult, name: str) -> InvalidValue | None:
    """The --hgrm and --junit files; an error is returned (the result is stored and will be
    printed; then this error), not raised."""
    try:
        if o.hgrm:
            from perflab.load._hgrm import format_hgrm  # noqa: PLC0415

            _write(o.hgrm, format_hgrm(result.latency))
        if o.junit:
            # xml.etree: imported only for --junit, not before every test starts
            from perflab.load._junit import junit_xml  # noqa: PLC0415

            _write(o.junit, junit_xml(result.thresholds, name=name,
                                      duration_s=result.duration_s))
    except InvalidValue as err:
        return err
    return None


def _verdict(result: LoadResult, *, stopped_early: bool, interrupted: bool) -> None:
    """A run that missed a threshold, or whose open model fell short of its target rate, is
    stored ``failed``: the test did not show what it was asked to show.

    A run the user stopped (``interrupted``) stays ``aborted`` whatever its rate: the arrivals
    due in the last moments before the stop may not have started yet on a busy machine (the
    scheduler wakes a little late), and a stop is not a failure of the target. The shortfall is
    still said."""
    if result.target_reached is False:
        result.warnings.append(
            f"target rate not reached: achieved {format_rate(result.rps, '/s')} of "
            f"{format_rate(result.target_rate or 0, '/s')}; {result.dropped:,} of "
            f"{result.scheduled:,} arrivals never sent")
    missed = any(not t["passed"] for t in result.thresholds)
    if stopped_early:
        result.warnings.append("stopped early: a threshold failed (--abort-on-fail)")
    if missed or (result.target_reached is False and not interrupted):
        result.status = "failed"


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidValue(f"cannot write {path}: {exc.strerror}",
                           hint="choose a writable path; the run itself is stored") from exc
