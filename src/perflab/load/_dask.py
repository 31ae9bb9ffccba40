"""A load test run as tasks on a Dask cluster: ``perflab load ... --cluster ADDRESS``.

The client side, on a ``Cluster`` (``_dask_cluster``). ``DaskLoadRunner`` splits the test
into one task per Dask worker (``_dask_task``: each runs ``--workers`` load processes there),
starts them together, stops them together, and merges what they send and return into one
``LoadResult`` (``_merge``), whose thresholds the caller evaluates on the whole.

A task whose worker leaves the cluster mid-test (killed, out of memory), or that fails, is a
*missing share*: the others are merged, the result's ``cluster`` names the missing shares and
marks the run partial, and its status follows the thresholds like any run's.

Dask's packages are imported by these modules only, and only with ``--cluster``: a local test
never loads them.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from perflab.errors import PerflabError, TargetError, UsageError
from perflab.load._bundle import pack_scenario
from perflab.load._dask_cluster import loopback
from perflab.load._dask_task import DaskShare, ShareResult, names, run_share
from perflab.load._merge import LiveSeconds, merge_intervals, merge_results
from perflab.load._runner import ScenarioFailedDuring
from perflab.load._workers import workers_needed

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from distributed import Future

    from perflab.load._config import LoadConfig
    from perflab.load._contracts import LoadClusterJson, LoadMissingShare, LoadStatus
    from perflab.load._dask_cluster import Cluster
    from perflab.load._result import Interval, LoadResult

_POLL_S = 0.5
_READY_POLL_S = 0.1
_READY_TIMEOUT_S = 120.0  # a cold worker imports numpy and starts its load processes
_STOP_MARGIN_S = 15.0  # past the planned end and drain: tasks are asked to stop
_GIVE_UP_S = 15.0  # after the stop: tasks still running are reported missing


class DaskLoadRunner:
    """Runs one test as tasks on a cluster; ``run`` returns the merged result, and calls
    ``on_interval`` with each merged second once every running task has sent it (the seconds
    never merged live, at the end, from the tasks' results); when it returns True
    (``--abort-on-fail``), or ``stop`` is set from another thread, or on Ctrl-C, every task
    is stopped."""

    def __init__(self, cfg: LoadConfig, cluster: Cluster, *,
                 on_interval: Callable[[Interval], bool | None] | None = None,
                 on_start: Callable[[int], None] | None = None,
                 stop: threading.Event | None = None) -> None:
        self.cfg, self.cluster = cfg, cluster
        self.on_interval, self.on_start, self.stop = on_interval, on_start, stop
        self.status: LoadStatus = "ok"
        self.key = uuid.uuid4().hex
        self.missing: list[LoadMissingShare] = []
        self._aborted = False
        self._live = LiveSeconds([])
        self._seconds: Any = None  # the test's distributed.Queue of seconds, made by run

    def shares(self, workers: list[str]) -> list[DaskShare]:
        """The test split over ``workers``: ``--workers`` load processes on each (fewer when
        the closed model has fewer connections), the open model's arrivals split exactly."""
        cfg = self.cfg
        total = workers_needed(cfg.workers * len(workers), connections=cfg.connections,
                               requests=cfg.requests,
                               closed_model=not cfg.open_model)
        bundle = pack_scenario(cfg.scenario_file) if cfg.scenario_file else None
        out, first = [], 0
        for k in range(len(workers)):
            count = total // len(workers) + (1 if k < total % len(workers) else 0)
            if count:
                out.append(DaskShare(cfg, first, count, total, self.key, bundle,
                                     resolve_here=not loopback(cfg.target.addr)))
            first += count
        return out

    def run(self) -> LoadResult:
        from distributed import Event, Queue, Variable  # noqa: PLC0415  # only with --cluster

        client = self.cluster.client
        workers = self.cluster.require_workers()
        ready_name, start_name, stop_name, seconds_name = names(self.key)
        start, stop = Variable(start_name, client=client), Event(stop_name, client=client)
        self._seconds = Queue(seconds_name, client=client)
        shares = self.shares(workers)
        self._live = LiveSeconds([s.first for s in shares])
        ready = {s.first: Event(f"{ready_name}-{s.first}", client=client) for s in shares}
        futures = {client.submit(run_share, s, key=f"perflab-load-{self.key}-{s.first}",
                                 workers=[w], allow_other_workers=False, pure=False): (s, w)
                   for s, w in zip(shares, workers, strict=False)}
        start_wall = 0
        try:
            self._await_ready(futures, ready)
            start_wall = time.time_ns() + 500_000_000  # every task hears of it before
            start.set(start_wall)
            if self.on_start is not None:
                self.on_start(start_wall)
            done = self._await_end(futures, stop)
            start.delete()  # every task has had it
        finally:
            stop.set()  # any task still running stops within a second
            if not start_wall:
                start.set(0)  # Ctrl-C or an error before the start: tasks waiting give up
            for f in futures:
                if not f.done():
                    f.cancel()
            self._seconds.close()
        return self._merge(done, futures, start_wall)

    def _await_ready(self, futures: dict[Future[Any], tuple[DaskShare, str]],
                     ready: dict[int, Any]) -> None:  # distributed.Event, untyped
        """Until every task still running has said it is ready (set its ``ready`` event; a
        Queue's timed-out ``get`` would log an error on the scheduler at every look)."""
        waiting = set(ready)
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while waiting:
            time.sleep(_READY_POLL_S)
            waiting -= {first for first in waiting if ready[first].is_set()}
            for f, (s, _) in futures.items():
                if s.first in waiting and f.done():
                    _raise_task_error(f)  # a task that ended before starting: its error
                    waiting.discard(s.first)
            self._drop_lost(futures, waiting)
            if time.monotonic() > deadline:
                msg = f"the Dask workers did not get ready within {_READY_TIMEOUT_S:g}s"
                raise UsageError(msg, hint="check the workers' logs (dask worker ...)")

    def _drop_lost(self, futures: dict[Future[Any], tuple[DaskShare, str]],
                   waiting: set[int] | None = None) -> None:
        """Tasks whose worker left the cluster: their shares are missing."""
        alive = set(self.cluster.workers())
        for f, (s, w) in futures.items():
            if not f.done() and w not in alive and not self._is_missing(s):
                self._miss(s, w, "the Dask worker left the cluster during the test")
                f.cancel()
                if waiting is not None:
                    waiting.discard(s.first)

    def _await_end(self, futures: dict[Future[Any], tuple[DaskShare, str]],
                   stop: Any) -> list[ShareResult]:  # distributed.Event
        from distributed import wait  # noqa: PLC0415

        planned = self.cfg.effective_duration_s
        sched = self.cfg.schedule()
        if sched is not None and self.cfg.scenario_file is None:
            planned = sched.duration_s
        stop_at = (None if planned is None
                   else time.monotonic() + 0.5 + planned + self.cfg.drain_s + _STOP_MARGIN_S)
        give_up: float | None = None
        while True:
            running = [f for f, (s, _) in futures.items()
                       if not f.done() and not self._is_missing(s)]
            if not running:
                break
            try:
                wait(running, timeout=_POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass
            except KeyboardInterrupt:
                if give_up is not None:
                    break  # a second Ctrl-C: stop waiting
                self._aborted = True
                give_up = self._stop(stop)
            asked = self._take_seconds(futures)  # --abort-on-fail, or the caller's stop
            if (asked or (self.stop is not None and self.stop.is_set())) and give_up is None:
                self._aborted = True
                give_up = self._stop(stop)
            if stop_at is not None and time.monotonic() > stop_at and give_up is None:
                give_up = self._stop(stop)
            if give_up is not None and time.monotonic() > give_up:
                break
            self._drop_lost(futures)
        out = []
        for f, (s, w) in futures.items():
            if self._is_missing(s):
                continue
            if not f.done():
                self._miss(s, w, "the task did not report in time after the stop")
            elif f.status != "finished":
                self._miss(s, w, f"the task failed: {f.exception()!r}")
            else:
                out.append(f.result())
        return out

    def _take_seconds(self, futures: dict[Future[Any], tuple[DaskShare, str]]) -> bool:
        """The seconds the tasks sent since the last look; those every running task has
        sent go to ``on_interval``. True when it asks to stop."""
        running = {s.first for f, (s, _) in futures.items()
                   if not f.done() and not self._is_missing(s)}  # before the queue: see below
        n = self._seconds.qsize()
        # a task that is done had sent all its seconds before it ended: they are in the queue
        for first, iv in self._seconds.get(batch=n) if n else []:
            self._live.add(first, iv)
        asked = False
        for iv in self._live.ready(running):
            if self.on_interval is not None and self.on_interval(iv):
                asked = True
        return asked

    def _stop(self, stop: Any) -> float:  # distributed.Event
        stop.set()
        return time.monotonic() + self.cfg.drain_s + _GIVE_UP_S

    def _is_missing(self, share: DaskShare) -> bool:
        return any(m["first"] == share.first for m in self.missing)

    def _miss(self, share: DaskShare, worker: str, reason: str) -> None:
        self.missing.append({"worker": worker, "first": share.first, "count": share.count,
                             "reason": reason})

    def _merge(self, done: list[ShareResult],
               futures: dict[Future[Any], tuple[DaskShare, str]], start_wall: int
               ) -> LoadResult:
        measured = []
        failure = None
        for r in done:
            if r.error is not None:
                message, _, _ = r.error
                self.missing.append({"worker": r.worker, "first": r.first, "count": r.count,
                                     "reason": message})
            elif r.result is not None:
                measured.append(r)
                failure = failure or r.failure
        if not measured:
            reasons = "; ".join(f"{m['worker']}: {m['reason']}" for m in self.missing)
            raise PerflabError(f"no Dask worker's share of the test was measured ({reasons})",
                               hint="check the workers' logs; nothing was recorded")
        result = merge_results([r.result for r in measured if r.result is not None],
                               started_ns=start_wall)
        if self._aborted and result.status == "ok":
            result.status = "aborted"
        shares = [s for s, _ in futures.values()]
        result.cluster = self._describe(shares)
        for iv in self._live.rest(merge_intervals(r.intervals for r in measured)):
            if self.on_interval is not None:
                self.on_interval(iv)
        if failure is not None:
            raise ScenarioFailedDuring(failure, result)
        return result

    def _describe(self, shares: list[DaskShare]) -> LoadClusterJson:
        missing = sorted(self.missing, key=lambda m: m["first"])
        return {"address": self.cluster.spec.label, "dask_workers": len(shares),
                "shares": shares[0].total if shares else 0, "partial": bool(missing),
                "missing": missing}


def _raise_task_error(f: Future[Any]) -> None:
    """A task that ended before the test started: the error it returned, raised here."""
    if f.status != "finished":
        msg = f"a Dask task failed before the test started: {f.exception()!r}"
        raise TargetError(msg, hint="check that perflab is installed on the Dask workers")
    r: ShareResult = f.result()
    if r.error is not None:
        message, hint, code = r.error
        err = PerflabError(message, hint=hint)
        err.exit_code = code
        raise err
    if r.failure is not None and r.result is not None:
        raise ScenarioFailedDuring(r.failure, r.result)
