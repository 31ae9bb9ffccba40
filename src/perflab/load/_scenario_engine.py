"""The engine for scenario files: tasks (user coroutines) on the same raw connections.

Closed scenarios run ``connections`` virtual users, each looping over weighted tasks on its own
keep-alive connection. Open scenarios start one iteration per arrival of their schedule, with
the plain open model's scheduler (``_arrivals.OpenScheduler``); an iteration borrows an idle
connection (or opens one); beyond ``max_connections`` iterations at once the arrival stays due
until one ends (it starts late). The first request of an open iteration is timed from the
arrival's intended time, as in the plain open model.
"""

from __future__ import annotations

import asyncio
import functools
import json as jsonlib
import random
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from perflab.load._arrivals import Arrivals, OpenScheduler
from perflab.load._config import Target, parse_target
from perflab.load._engine import BodyConn, Conn, Engine, _share, classify
from perflab.load._messages import CheckCounts, Tick, WorkerEnd, failed_status, ns_array
from perflab.load._scenario import (
    RequestFailed,
    Response,
    Scenario,
    Session,
    load_scenario_file,
    open_rate_scale,
    user_traceback,
)
from perflab.load._schedule import Schedule, parse_stages
from perflab.units import parse_duration

if TYPE_CHECKING:

    from perflab.load._config import LoadConfig

_now = time.monotonic_ns
_MAX_NAMES = 100  # request names kept apart; beyond, "other" (ids in paths must not explode)


class _ScenarioRun:
    """One scenario's share of the test in this worker."""

    def __init__(self, sc: Scenario, eng: ScenarioEngine, index: int, nworkers: int,
                 rate_scale: float = 1.0) -> None:
        self.sc = sc
        self.target: Target = parse_target(sc.base_url) if sc.base_url else eng.cfg.target
        self.tasks = sc.tasks
        self.weights = [t.weight for t in sc.tasks]
        self.think_s = sc.think_time_s
        self.schedule: Schedule | None = None
        if sc.stages:
            self.schedule = Schedule(parse_stages(sc.stages), start_rate=sc.rate_per_s or 0.0)
        elif sc.rate_per_s is not None:
            self.schedule = Schedule.constant(sc.rate_per_s * rate_scale, eng.duration_s)
        conns = sc.connections or eng.cfg.connections
        self.users = _share(conns, index, nworkers)
        self.max_connections = max(1, _share(sc.max_connections or conns * 10, index, nworkers))
        self.idle: list[Conn] = []
        self.active = 0
        self.scheduler: OpenScheduler | None = None  # set when the test starts
        self.index, self.nworkers = index, nworkers
        host = self.target.host_header
        self.base_headers = {"Host": host, "User-Agent": "perflab", **sc.headers}


class _SessionImpl(Session):
    def __init__(self, eng: ScenarioEngine, sr: _ScenarioRun, intended_ns: int | None) -> None:
        self.eng = eng
        self.sr = sr
        self.conn: Conn | None = None
        self.intended_ns = intended_ns

    async def _connection(self) -> Conn:
        c = self.conn
        if c is not None and c.transport is not None and not c.transport.is_closing():
            return c
        while self.sr.idle:
            c = self.sr.idle.pop()
            if c.transport is not None and not c.transport.is_closing():
                self.conn = c
                return c
        self.conn = await self.eng.open_scenario_conn(self.sr.target)
        return self.conn

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                      body: bytes | str | None = None, json: Any = None,
                      name: str | None = None) -> Response:
        method = method.upper()
        hdrs = dict(self.sr.base_headers)
        payload = b""
        if json is not None:
            payload = jsonlib.dumps(json).encode()
            hdrs["Content-Type"] = "application/json"
        elif body is not None:
            payload = body.encode() if isinstance(body, str) else body
        if headers:
            hdrs.update(headers)
        if payload or method in ("POST", "PUT", "PATCH"):
            hdrs["Content-Length"] = str(len(payload))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        data = (head + "\r\n").encode("latin-1") + payload
        conn = await self._connection()
        fut: asyncio.Future[Response] = self.eng.loop.create_future()
        conn.waiter = fut
        conn.body = []
        if isinstance(conn, BodyConn):
            conn.headers = []
            conn.name = name or path.split("?", 1)[0]
            conn.head = method == "HEAD"
        intended = self.intended_ns if self.intended_ns is not None else _now()
        self.intended_ns = None
        conn.send(data, intended)
        try:
            return await fut
        except (OSError, TimeoutError) as exc:
            raise RequestFailed(str(exc)) from exc
        finally:
            conn.waiter = None

    def check(self, name: str, condition: bool) -> bool:  # k6's check()
        slot = self.eng.checks.get(name)
        if slot is None:
            slot = self.eng.checks[name] = CheckCounts()
        if condition:
            slot.passed += 1
        else:
            slot.failed += 1
        return bool(condition)

    async def sleep(self, seconds: float | str) -> None:
        await asyncio.sleep(parse_duration(seconds) if isinstance(seconds, str) else seconds)

    def release(self) -> None:
        c = self.conn
        self.conn = None
        if c is not None and c.transport is not None and not c.transport.is_closing():
            self.sr.idle.append(c)


class ScenarioEngine(Engine):
    def __init__(self, cfg: LoadConfig, index: int, nworkers: int) -> None:
        super().__init__(cfg, index, nworkers)
        assert cfg.scenario_file is not None
        self.path = cfg.scenario_file
        # a file that raises here raises ScenarioError, whose user_traceback the worker sends
        spec = load_scenario_file(cfg.scenario_file, worker=(index, nworkers))
        self.schedule = None  # the base class's own arrivals are not used
        self.conn_class = BodyConn
        self.duration_s = cfg.effective_duration_s or 10.0
        scale = open_rate_scale(spec.scenarios, cfg.scenario_rate)
        self.runs = [_ScenarioRun(sc, self, index, nworkers, scale) for sc in spec.scenarios]
        self.failure: str | None = None
        self.checks: dict[str, CheckCounts] = {}
        self.by_name_ns: dict[str, list[int]] = {}  # this second's latencies per name
        self.names: set[str] = set()  # every name seen (at most _MAX_NAMES, then "other")
        self.failed_by_name: Counter[str] = Counter()

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self, start_ns: int, duration_s: float | None) -> None:
        self.start_ns = self.end_ns = start_ns
        delay = (start_ns - _now()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        sweep = self.spawn(self._sweep_timeouts())
        longest = self.duration_s
        for sr in self.runs:
            if sr.schedule is None:
                for _ in range(sr.users):
                    self.spawn(self._user(sr))
            else:
                longest = max(longest, sr.schedule.duration_s) if sr.sc.stages else longest
                arrivals = Arrivals(sr.schedule, start_ns, sr.index, sr.nworkers)
                sr.scheduler = OpenScheduler(self.loop, arrivals,
                                             functools.partial(self._start_iteration, sr))
                sr.scheduler.pump()
        self.loop.call_later(duration_s if duration_s is not None else longest, self.stop)
        try:
            await self.done
        finally:
            sweep.cancel()
            for sr in self.runs:
                if sr.scheduler is not None:
                    sr.scheduler.stop()
            self._abort_all()

    # stop() is the base class's: with no schedule of its own it finishes at once

    def _user_failed(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = user_traceback(exc, self.path)
        self.stop()

    async def _run_task(self, sr: _ScenarioRun, session: _SessionImpl) -> bool:
        """One iteration; False when it ended on a network failure."""
        task = random.choices(sr.tasks, sr.weights)[0]  # noqa: S311  # not cryptography
        try:
            await task.fn(session)
        except RequestFailed:
            return False
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._user_failed(exc)
        return True

    async def _user(self, sr: _ScenarioRun) -> None:
        """A virtual user of a closed scenario: iterations back to back on one connection."""
        session = _SessionImpl(self, sr, None)
        fails = 0
        while not self.stopping:
            if await self._run_task(sr, session):
                fails = 0
                if sr.think_s:
                    await asyncio.sleep(sr.think_s)
            else:
                fails += 1
                await asyncio.sleep(min(1.0, 0.01 * 2 ** min(fails, 10)))

    # -- open scenarios ------------------------------------------------------------------------

    def _start_iteration(self, sr: _ScenarioRun, intended_ns: int) -> bool:
        """The scheduler's ``start_one``: False when ``max_connections`` iterations run."""
        if self.stopping or sr.active >= sr.max_connections:
            return False
        sr.active += 1
        self.spawn(self._iteration(sr, intended_ns))
        return True

    async def _iteration(self, sr: _ScenarioRun, intended_ns: int) -> None:
        session = _SessionImpl(self, sr, intended_ns)
        try:
            await self._run_task(sr, session)
        finally:
            session.release()
            sr.active -= 1
            if sr.scheduler is not None and not self.stopping:
                sr.scheduler.pump()  # an arrival that waited for room starts now

    # -- connections and responses -------------------------------------------------------------

    async def open_scenario_conn(self, target: Target) -> Conn:
        try:
            conn = await self.dial(target, BodyConn)
        except OSError as exc:
            self.errors[classify(exc)] += 1
            raise RequestFailed(str(exc)) from exc
        self.conns.add(conn)
        return conn

    def lost(self, conn: Conn, exc: Exception | None) -> None:
        self.forget(conn, exc)  # a user's next request opens the replacement

    def complete(self, conn: Conn) -> None:
        now = conn.last_ns
        if not self.answered(conn):
            return
        lat, status = self.record(conn, now, service=True)
        name = self._name_of(conn)
        self.by_name_ns.setdefault(name, []).append(lat)
        if failed_status(status):
            self.failed_by_name[name] += 1
        self._request_ended()
        headers = {}
        if isinstance(conn, BodyConn):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in conn.headers}
        resp = Response(status, headers, b"".join(conn.body or ()), (now - conn.sent_ns) / 1e6)
        if not conn.parser.should_keep_alive() and conn.transport is not None:
            conn.transport.close()
        if conn.waiter is not None and not conn.waiter.done():
            conn.waiter.set_result(resp)

    def _name_of(self, conn: Conn) -> str:
        name = conn.name if isinstance(conn, BodyConn) else "?"
        if name not in self.names:
            if len(self.names) >= _MAX_NAMES:
                return "other"
            self.names.add(name)
        return name

    def forget(self, conn: Conn, exc: Exception | None) -> None:
        if conn.busy and not conn.failed and not self.done.done():
            self.failed_by_name[self._name_of(conn)] += 1  # the base counts it as an error
        super().forget(conn, exc)

    def fail(self, conn: Conn, kind: str, exc: BaseException | None) -> None:
        if conn.busy and not conn.failed:
            self.failed_by_name[self._name_of(conn)] += 1
        super().fail(conn, kind, exc)

    def _request_ended(self) -> None:
        self.finished += 1
        if self.budget is not None and self.finished >= self.budget:
            self.stop()

    def take(self) -> Tick:
        tick = super().take()
        for sr in self.runs:
            if sr.scheduler is not None:
                lateness, late = sr.scheduler.take()
                if tick.lateness_ns is None:
                    tick.lateness_ns = ns_array()
                tick.lateness_ns.extend(lateness)
                tick.late += late
        tick.by_name = {name: ns_array(values) for name, values in self.by_name_ns.items()}
        self.by_name_ns = {}
        return tick

    def end(self) -> WorkerEnd:
        out = super().end()
        scheds = [sr.scheduler for sr in self.runs if sr.scheduler is not None]
        if scheds:
            out.scheduled = sum(s.arrivals.total for s in scheds)
            out.dropped = sum(s.arrivals.unstarted for s in scheds)
        out.checks = self.checks
        out.failed_by_name = dict(self.failed_by_name)
        return out

