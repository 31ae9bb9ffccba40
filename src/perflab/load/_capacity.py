"""``perflab load capacity``: the highest arrival rate a service takes within its SLOs.

The search is a series of short open-model steps (each a real load test, recorded into one
``capacity`` run with ``step``/``rate`` labels): the rate doubles from ``start_rate`` until a
step misses a threshold (or cannot be sent: the target fell behind), then bisects between the
last rate that passed and the first that failed until they are ``precision`` apart. Open model,
because a closed-model client slows down with the server and never shows the overload.

Each failing step stops at its first failing second (``--abort-on-fail``) and the target is
given time to drain its queue before the next (a probe request must come back about as fast
as at the lowest rate), so one overloaded step does not make the next one fail.

The target's processes (``pids``) are sampled over each step: CPU (% of one core) and resident
memory. The knee's ``resource`` is what limited it: ``cpu`` when the target used (nearly) all
the cores its threads can, ``memory`` when its memory grew by half during the search,
``concurrency`` when neither (a pool, a lock, a queue: latency grew, resources did not),
``unknown`` without a process to watch, ``none`` when the highest rate asked for still passed.

With a scenario file (``scenario_file``) the rate is the scenarios' arrivals (iterations) per
second: every scenario of the file is open (``rate=``), and each step scales their rates to
the step's total, in the file's proportions, so the mix stays the one the file describes.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.errors import InvalidValue, NoSuchProcess
from perflab.load._config import parse_target
from perflab.load._preflight import check_reachable
from perflab.load._run import Outcome, RunOptions, execute
from perflab.load._scenario import load_scenario_file, rate_driven
from perflab.load._thresholds import parse_threshold
from perflab.load._tls import tls_context
from perflab.load._usl import UslFit, fit_usl

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.collect import ProcessCollector
    from perflab.load._config import Target
    from perflab.load._contracts import (
        CapacityKnee,
        CapacityPoint,
        CapacityResource,
        CapacityStatus,
        LoadCapacityDoc,
    )
    from perflab.load._workers import WorkerPool
    from perflab.store import Store

CPU_SATURATED = 0.85  # of the cores the target's threads can use
MEMORY_GROWTH = 1.5   # resident memory at the knee over the first step's
SETTLE_LIMIT_S = 30.0  # after a failing step, the most the target is given to drain

@dataclass(frozen=True, slots=True)
class CapacityOptions:
    url: str | None  # None: the scenario file's base_url
    thresholds: tuple[str, ...]
    start_rate: float = 10.0
    max_rate: float | None = None
    step_s: float = 5.0
    precision: float = 0.02
    max_steps: int = 24
    connections: int = 10
    max_connections: int | None = None
    workers: int = 1
    timeout_s: float = 10.0
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    pids: tuple[int, ...] = ()
    scale_param: float | None = None
    name: str | None = None
    allow_remote: bool = False
    scenario_file: str | None = None
    settle_s: float = SETTLE_LIMIT_S  # a short search (the demo's) waits less

    def validate(self) -> None:
        if self.url is None and self.scenario_file is None:
            raise InvalidValue("give a URL or a scenario file (-s)",
                               hint="perflab load capacity http://127.0.0.1:8080/ ... or "
                                    "-s scenario.py")
        # a scenario file may bring its own thresholds: checked once it is read
        if not self.thresholds and self.scenario_file is None:
            raise InvalidValue("the capacity search needs at least one --threshold",
                               hint='the SLOs the rate must meet, e.g. --threshold "p99<200ms" '
                                    '--threshold "error_rate<0.1%"')
        for text in self.thresholds:
            parse_threshold(text)
        if self.start_rate <= 0:
            raise InvalidValue("--start-rate must be positive", hint="e.g. --start-rate 10")
        if self.max_rate is not None and self.max_rate < self.start_rate:
            raise InvalidValue("--max-rate is below --start-rate",
                               hint="raise --max-rate or lower --start-rate")
        if not 0 < self.precision < 1:
            raise InvalidValue("--precision must be between 0 and 100 %",
                               hint="e.g. --precision 2%")
        if self.max_steps < 2:  # one to pass, one to fail
            raise InvalidValue("--max-steps must be at least 2")
        if self.scale_param is not None and self.scale_param < 1:
            raise InvalidValue("--scale-param must be 1 or more",
                               hint="the size the service runs at, e.g. its worker count")


@dataclass(frozen=True, slots=True)
class _Target:
    """What the search drives: a URL, or a scenario file and the URL it probes."""

    target: Target
    scenario: str | None  # the scenario file's absolute path
    thresholds: tuple[str, ...]  # --threshold and the scenario file's own


def _resolve(o: CapacityOptions) -> _Target:
    if o.scenario_file is None:
        assert o.url is not None  # validate() saw to it
        return _Target(parse_target(o.url, allow_remote=o.allow_remote), None, o.thresholds)
    spec = load_scenario_file(o.scenario_file)
    rate_driven(spec)
    thresholds = (*o.thresholds, *spec.thresholds)
    if not thresholds:
        raise InvalidValue("the capacity search needs at least one threshold",
                           hint='--threshold "p99<200ms", or thresholds = [...] in the '
                                "scenario file")
    for text in spec.thresholds:
        parse_threshold(text)
    url = o.url or spec.base_url
    if url is None:
        raise InvalidValue("no target URL",
                           hint="give a URL, or set base_url in the scenario")
    return _Target(parse_target(url, allow_remote=o.allow_remote), spec.path, thresholds)


@dataclass(slots=True)
class CapacityResult:
    run_id: int
    url: str
    status: CapacityStatus
    options: CapacityOptions
    scenario: str | None = None
    thresholds: tuple[str, ...] = ()  # every SLO judged (default: the options')
    curve: list[CapacityPoint] = field(default_factory=list)
    knee: CapacityKnee | None = None
    usl: UslFit | None = None
    search_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> LoadCapacityDoc:
        o = self.options
        knee = self.knee or {"rate": None, "rps": None, "resource": "unknown",
                             "upper_rate": None}
        return {"schema": "perflab.load-capacity/2", "run_id": self.run_id, "url": self.url,
                "scenario": self.scenario, "status": self.status,
                "thresholds": list(self.thresholds or o.thresholds), "pids": list(o.pids),
                "scale_param": o.scale_param, "search_s": round(self.search_s, 3),
                "knee": knee, "curve": sorted(self.curve, key=lambda p: p["rate"]),
                "usl": None if self.usl is None else self.usl.to_json(),
                "warnings": self.warnings}


class _Bisection:
    """Which rate to try next: doubling until a failure, then halving the gap."""

    def __init__(self, start: float, max_rate: float | None, precision: float) -> None:
        self.next: float | None = start
        self.max_rate = max_rate
        self.precision = precision
        self.passed: float | None = None  # highest rate that passed
        self.failed: float | None = None  # lowest rate that failed

    def record(self, rate: float, *, ok: bool) -> None:
        if ok:
            self.passed = rate if self.passed is None else max(self.passed, rate)
        else:
            self.failed = rate if self.failed is None else min(self.failed, rate)
        lo, hi = self.passed, self.failed
        if hi is None:  # still ramping up
            assert lo is not None  # a step passed: nothing failed yet
            cap = self.max_rate
            self.next = None if cap is not None and lo >= cap else (
                lo * 2 if cap is None else min(lo * 2, cap))
        elif lo is None:  # even the lowest rate failed: look lower, down to 1/s
            self.next = hi / 4 if hi / 4 >= 1 else None
        elif (hi - lo) / lo <= self.precision:
            self.next = None
        else:
            self.next = (lo + hi) / 2


def search_capacity(o: CapacityOptions, *, store: Store, workers: WorkerPool,
           stop: threading.Event | None = None,
           on_step: Callable[[CapacityPoint], None] | None = None) -> CapacityResult:
    """Run the search, recorded as one ``capacity`` run; Ctrl-C (``stop``) ends it with
    what was measured."""
    o.validate()
    resolved = _resolve(o)
    target = resolved.target
    # checked before a run exists: a typo must not leave an empty run behind
    for pid in o.pids:
        if not Path(f"/proc/{pid}").is_dir():
            raise NoSuchProcess(pid)
    check_reachable(target, timeout_s=min(o.timeout_s, 5.0))
    collector = _collector(o.pids)
    meta = {"url": target.url, "scenario": resolved.scenario,
            "thresholds": list(resolved.thresholds), "pids": list(o.pids),
            "scale_param": o.scale_param, "start_rate": o.start_rate, "max_rate": o.max_rate,
            "step_s": o.step_s, "precision": o.precision}
    what = target.url if resolved.scenario is None else Path(resolved.scenario).name
    run = store.create_run("capacity", o.name or f"capacity {what}", meta=meta)
    result = CapacityResult(run.id, target.url, "ok", o, resolved.scenario,
                            resolved.thresholds)
    t0 = time.monotonic()
    plan = _Bisection(o.start_rate, o.max_rate, o.precision)
    baseline_s: float | None = None
    try:
        # a first, short step that is not judged: workers, connections and the target's
        # caches warm up, and a cold start does not pass for the knee
        execute(_step_options(o, o.start_rate, run.id, 0, warmup=True), store=store,
                stop=stop, workers=workers)
        while plan.next is not None and len(result.curve) < o.max_steps:
            rate = round(plan.next, 3)
            _sample(collector, o.pids)  # starts the CPU interval of this step
            outcome = execute(_step_options(o, rate, run.id, len(result.curve) + 1),
                              store=store, stop=stop, workers=workers)
            point = _point(outcome, rate, len(result.curve) + 1, _sample(collector, o.pids))
            result.curve.append(point)
            if on_step is not None:
                on_step(point)
            if outcome.interrupted or (stop is not None and stop.is_set()):
                result.status = "aborted"
                break
            plan.record(rate, ok=point["passed"])
            if baseline_s is None and point["passed"] and point["p50_ms"] is not None:
                baseline_s = point["p50_ms"] / 1000
            if not point["passed"] and plan.next is not None:
                _settle(target, o, baseline_s, stop)
    except KeyboardInterrupt:
        result.status = "aborted"
    except BaseException:  # the steps so far are kept; the run says it did not finish
        result.status = "failed"
        raise
    finally:
        result.search_s = time.monotonic() - t0
        result.knee = _knee(result.curve, o.max_rate)
        result.usl = _fit(store, o, result, run.id)
        if result.knee["rate"] is None and result.status == "ok":
            result.status = "failed"
            result.warnings.append(f"even {min(p['rate'] for p in result.curve):g}/s missed "
                                   "the thresholds" if result.curve else "no step ran")
        if plan.next is not None and result.status == "ok":
            result.warnings.append(f"stopped after --max-steps {o.max_steps} before the "
                                   f"search converged to {o.precision:.0%}")
        store.finish_run(run.id, result.status, meta_update={"capacity": result.to_json()})
    return result


def _step_options(o: CapacityOptions, rate: float, run_id: int, step: int, *,
                  warmup: bool = False) -> RunOptions:
    scenario = o.scenario_file is not None  # its open scenarios' rates are scaled to ``rate``
    return RunOptions(
        url=o.url, scenario_file=o.scenario_file, connections=o.connections,
        duration_s=min(o.step_s, 1.0) if warmup else o.step_s, method=o.method,
        headers=o.headers, body=o.body, timeout_s=o.timeout_s, workers=o.workers,
        rate=None if scenario else f"{rate:g}", scenario_rate=rate if scenario else None,
        max_connections=o.max_connections, thresholds=o.thresholds,
        abort_on_fail=True, watch=o.pids,
        name="warm-up" if warmup else f"step {step}: {rate:g}/s", live=False,
        into_run=run_id, labels=(("step", str(step)), ("rate", f"{rate:g}")),
        allow_remote=o.allow_remote, drain_s=min(1.0, o.timeout_s))


def _point(outcome: Outcome, rate: float, step: int,
           target: tuple[float, int, int] | None) -> CapacityPoint:
    res = outcome.result
    if res is None:  # execute returns a result whenever it ran at all
        msg = "a capacity step ended without a result"
        raise InvalidValue(msg)
    failed = [t["threshold"] for t in res.thresholds if not t["passed"]]
    if res.target_reached is False:
        failed.append("target rate not reached")
    lat = res.latency
    return {"step": step, "rate": rate, "rps": round(res.rps, 3),
            "p50_ms": lat.value_at_percentile(50) / 1000 if lat.total else None,
            "p99_ms": lat.value_at_percentile(99) / 1000 if lat.total else None,
            "error_rate": res.error_rate, "passed": not failed, "failed": failed,
            "cpu_pct": None if target is None else round(target[0], 2),
            "rss_bytes": None if target is None else target[1],
            "threads": None if target is None else target[2],
            "duration_s": round(res.duration_s, 3)}


def _knee(curve: list[CapacityPoint], max_rate: float | None) -> CapacityKnee:
    passed = [p for p in curve if p["passed"]]
    failed = [p for p in curve if not p["passed"]]
    best = max(passed, key=lambda p: p["rate"]) if passed else None
    upper = min(failed, key=lambda p: p["rate"]) if failed else None
    resource: CapacityResource
    if upper is None and best is not None and max_rate is not None:
        resource = "none"
    else:
        resource = _saturated(curve, best, upper)
    return {"rate": None if best is None else best["rate"],
            "rps": None if best is None else best["rps"],
            "resource": resource, "upper_rate": None if upper is None else upper["rate"]}


def _saturated(curve: list[CapacityPoint], best: CapacityPoint | None,
               upper: CapacityPoint | None) -> CapacityResource:
    at = upper or best
    if at is None or at["cpu_pct"] is None:
        return "unknown"
    cores = min(at["threads"] or 1, os.cpu_count() or 1)
    if at["cpu_pct"] >= CPU_SATURATED * 100 * cores:
        return "cpu"
    first = min(curve, key=lambda p: p["step"])
    if (first["rss_bytes"] and at["rss_bytes"]
            and at["rss_bytes"] >= MEMORY_GROWTH * first["rss_bytes"]):
        return "memory"
    return "concurrency"


def _collector(pids: tuple[int, ...]) -> ProcessCollector | None:
    if not pids:
        return None
    from perflab.collect import ProcessCollector  # noqa: PLC0415  # only with --pid

    return ProcessCollector(with_fds=False)


def _sample(collector: ProcessCollector | None,
            pids: tuple[int, ...]) -> tuple[float, int, int] | None:
    """CPU (% of one core, over the time since the last sample), resident memory and
    threads of the target's processes, summed."""
    if collector is None:
        return None
    rows = collector.refresh(pids)
    return (sum(r.cpu_pct for r in rows), sum(r.rss_bytes for r in rows),
            sum(r.threads for r in rows))


def _settle(target: Target, o: CapacityOptions, baseline_s: float | None,
            stop: threading.Event | None) -> None:
    """After an overloaded step, wait until the target answers about as fast as it did at
    a low rate (it is still working off its queue until then), at most ``o.settle_s``."""
    deadline = time.monotonic() + o.settle_s
    goal = max(2 * (baseline_s or 0.0), 0.005)
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        took = _probe(target, o)
        if took is not None and took <= goal:
            return
        time.sleep(min(0.2, goal))


def _probe(target: Target, o: CapacityOptions) -> float | None:
    """One request's latency in seconds (None: it failed)."""
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(target.addr, target.port, timeout=o.timeout_s,
                                           context=tls_context())
    else:
        conn = http.client.HTTPConnection(target.addr, target.port, timeout=o.timeout_s)
    start = time.monotonic()
    try:
        conn.request(o.method, target.path, body=o.body or None,
                     headers={"Host": target.host_header, **dict(o.headers)})
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    return time.monotonic() - start


def _fit(store: Store, o: CapacityOptions, result: CapacityResult,
         run_id: int) -> UslFit | None:
    """The USL over this search's knee and the earlier capacity runs of the same URL that
    gave a ``--scale-param`` (the newest per size); None below three sizes."""
    knee = result.knee
    if o.scale_param is None or knee is None or knee["rps"] is None:
        return None
    points = {o.scale_param: knee["rps"]}
    for run in store.runs(kind="capacity"):  # newest first
        doc = run.meta.get("capacity")
        if (run.id == run_id or not isinstance(doc, dict) or doc.get("url") != result.url
                or doc.get("scenario") != result.scenario):  # another mix: another service
            continue
        size, rps = doc.get("scale_param"), (doc.get("knee") or {}).get("rps")
        if isinstance(size, (int, float)) and isinstance(rps, (int, float)) and rps > 0:
            points.setdefault(float(size), float(rps))
    if len(points) < 3:  # three parameters
        result.warnings.append(f"the scalability law needs knees at 3 --scale-param sizes; "
                               f"this URL has {len(points)}")
        return None
    try:
        return fit_usl(sorted(points.items()))
    except InvalidValue as err:
        result.warnings.append(err.message)
        return None
