"""What runs on a Dask worker: its part of a distributed load test, as a local test runs.

A task is given its ``DaskShare``: the test, which of the test's worker shares are its own
(``first .. first + count - 1`` of ``total``: the open model's arrivals ``i, i + total, ...``
of each, the closed model's connections split the same way) and the scenario's files as bytes.
It starts ``count`` load worker processes on its machine (``_workers``, as ``--workers``
does locally), drives them with the same ``LoadRunner`` and returns what a local test's
parent holds at the end: the seconds (HDR histograms and counts) and the ``LoadResult``.

The tasks of a test start together: each says it is ready with its Dask ``Event`` and
waits for the start time the client sets in a Dask ``Variable`` (wall clock: the machines'
clocks are assumed synchronised, as for any distributed measurement). The client stops them
all by setting the test's Dask ``Event``, which each task reads once a second; past the
planned end the runner stops its workers by itself, so a task never outlives a lost client
by more than its drain. Each second, as it ends, also goes to the client on the test's Dask
``Queue``: the live line, the store and ``--abort-on-fail`` see the test while it runs.

Nothing here may raise a perflab error through Dask (its exceptions are rebuilt from their
arguments on the client, and ours carry more than that): they travel in ``ShareResult``.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.errors import PerflabError, UsageError
from perflab.load._config import parse_target
from perflab.load._runner import LoadRunner, ScenarioFailedDuring

if TYPE_CHECKING:
    from perflab.load._bundle import Bundle
    from perflab.load._config import LoadConfig
    from perflab.load._result import Interval, LoadResult

READY_TIMEOUT_S = 120.0  # the client gives the start time once every task is ready


@dataclass(frozen=True, slots=True)
class DaskShare:
    """One task's part of a test."""

    config: LoadConfig
    first: int
    count: int
    total: int
    key: str  # names the test's Events and Variable
    bundle: Bundle | None = None  # the scenario file and its data
    resolve_here: bool = False  # a remote target: resolved by the worker's own DNS


@dataclass(slots=True)
class ShareResult:
    """What a task measured (``result`` None when it failed before starting)."""

    first: int
    count: int
    worker: str
    intervals: list[Interval] = field(default_factory=list)
    result: LoadResult | None = None
    failure: str | None = None  # the scenario raised mid-test (its traceback)
    error: tuple[str, str | None, int] | None = None  # a perflab error: message, hint, code


def names(key: str) -> tuple[str, str, str, str]:
    """The test's Dask Events (ready: one a share, this name and ``-FIRST``), Variable
    (start time), Event (stop) and Queue (each second of each share, as it ends)."""
    return (f"perflab-ready-{key}", f"perflab-start-{key}", f"perflab-stop-{key}",
            f"perflab-seconds-{key}")


def run_share(share: DaskShare) -> ShareResult:
    """The Dask task: run this share of the test on this machine."""
    from distributed import Event, Queue, Variable, get_worker  # noqa: PLC0415  # on workers

    ready_name, start_name, stop_name, seconds_name = names(share.key)
    out = ShareResult(share.first, share.count, get_worker().address)
    stop = Event(stop_name)

    def start_at() -> int:
        Event(f"{ready_name}-{share.first}").set()
        try:
            start_ns = int(Variable(start_name).get(timeout=READY_TIMEOUT_S))
        except TimeoutError:
            msg = "the client did not start the test within two minutes"
            raise UsageError(msg) from None
        if not start_ns:  # the client gave up before the start (Ctrl-C, another error)
            msg = "the client stopped the test before it started"
            raise UsageError(msg)
        return start_ns

    seconds = Queue(seconds_name)

    def on_interval(iv: Interval) -> bool:
        out.intervals.append(iv)
        seconds.put((share.first, iv))  # to the client, live
        return bool(stop.is_set())

    with tempfile.TemporaryDirectory(prefix="perflab-load-") as tmp:
        try:
            cfg = _local_config(share, Path(tmp))
            runner = LoadRunner(cfg, on_interval=on_interval, start_at=start_at,
                                shares=(share.first, share.total))
            out.result = runner.run()
        except ScenarioFailedDuring as err:
            out.result, out.failure = err.result, err.message
        except PerflabError as err:
            out.error = (err.message, err.hint, err.exit_code)
    return out


def _local_config(share: DaskShare, tmp: Path) -> LoadConfig:
    """The test as this machine runs it: its worker count, its copy of the scenario, the
    target resolved here when it is remote."""
    cfg = dataclasses.replace(share.config, workers=share.count)
    if share.bundle is not None:
        cfg = dataclasses.replace(cfg, scenario_file=str(share.bundle.unpack(tmp)))
    if share.resolve_here:
        cfg = dataclasses.replace(cfg, target=parse_target(cfg.target.url))
    return cfg
