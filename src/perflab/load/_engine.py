"""The load engine of one worker process: raw asyncio protocols on uvloop, httptools' parser.

No client library sits in the hot path. A request is one ``transport.write`` of bytes built
once; a response is fed to httptools (C) and ends in ``on_message_complete``, which appends its
times (nanoseconds) and status to lists and sends the next request on the same keep-alive
connection. The values go to the parent once a second (``take``), packed but not summarised:
the parent makes the HDR histograms. So a response costs this process one clock read, a few
attribute reads, three appends and one write, and the worker never imports numpy.

Closed model: ``connections`` connections, each sending back to back (after ``think_time``).
Open model: requests start at the schedule's intended times (``_arrivals.OpenScheduler``, the
one scheduler, which wakes on a timerfd to the microsecond); an idle connection takes each;
when none is idle a new one is opened up to ``max_connections``; beyond that the arrival stays
due until a connection frees up (it starts *late*). Latency is measured from the intended start,
service time from the actual send (wrk2's correction for coordinated omission). The test ends
at its duration: arrivals still due may start during the drain that follows (``--drain``, 1 s),
and whatever has not started by the end of the drain is *dropped* (never sent).
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import time
from array import array
from collections import Counter
from typing import TYPE_CHECKING, Any

import httptools

from perflab.load._arrivals import Arrivals, OpenScheduler
from perflab.load._messages import Tick, WorkerEnd, count_codes, ns_array
from perflab.load._tls import tls_context

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from perflab.load._config import LoadConfig, Target
    from perflab.load._schedule import Schedule

ERROR_KINDS = ("refused", "reset", "timeout", "dns", "tls", "protocol", "other")
_now = time.monotonic_ns
_RECONNECT_BACKOFF_MAX_S = 1.0


def classify(exc: BaseException | None) -> str:
    """The error kind of an exception met while connecting or on an open connection."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        return "tls"
    if exc is None or isinstance(exc, (ConnectionResetError, BrokenPipeError,
                                       ConnectionAbortedError, EOFError)):
        return "reset"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, httptools.HttpParserError):
        return "protocol"
    return "other"


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection. The engine drives it; it only parses and times."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.busy = False
        self.failed = False     # an error was already counted for the request in flight
        self.intended_ns = 0
        self.sent_ns = 0
        self.first_ns = 0       # the response's first bytes arrived (0: none yet)
        self.last_ns = 0        # its latest bytes arrived: when it completes, its end
        self.body: list[bytes] | None = None  # collected only when a scenario reads bodies
        self.waiter: asyncio.Future[Any] | None = None
        # the engine's lists live as long as it does (take() packs and empties them in place).
        # `self.lat.append(v)` is what CPython 3.11 specializes (an attribute of the instance,
        # then list.append's own fast call); a bound `append` kept as an attribute is not: its
        # call looks the name up through the class's MRO and the instance dict each time
        self.lat = engine.lat
        self.ttfb = engine.ttfb
        self.codes = engine.codes

    # asyncio protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is duck-typed

    def data_received(self, data: bytes) -> None:
        # one clock read per chunk: a response that completes in this chunk ends at its
        # arrival (our own parsing is not the server's latency)
        now = self.last_ns = _now()
        if not self.first_ns:
            self.first_ns = now
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.engine.fail(self, "protocol", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.engine.lost(self, exc)

    # httptools callbacks ------------------------------------------------------------------
    def on_message_complete(self) -> None:
        self.engine.complete(self)

    # sending ------------------------------------------------------------------------------
    def send(self, data: bytes, intended_ns: int) -> None:
        self.engine.in_flight += 1
        self.busy = True
        self.failed = False
        self.first_ns = 0
        self.intended_ns = intended_ns
        self.sent_ns = _now()
        assert self.transport is not None
        self.transport.write(data)


class ClosedConn(Conn):
    """The closed model's hot path (no think time, no request count, no ``{n}``), inlined:
    record, then at once write the next request on the same connection. Same effect as
    ``Engine.complete``; no call, no counter, no division (the parent makes microseconds)."""

    def on_message_complete(self) -> None:
        if not self.busy or self.failed:
            return  # a timeout or an error already counted this request
        now = self.last_ns
        eng = self.engine
        if now > eng.count_until_ns:
            # the closed model counts only what completed within the duration (or before a
            # stop, which moves count_until_ns to the stop)
            self.busy = False
            eng.in_flight -= 1
            return
        sent = self.sent_ns
        self.lat.append(now - sent)
        self.ttfb.append(self.first_ns - sent)
        parser = self.parser
        self.codes.append(parser.get_status_code())
        if not parser.should_keep_alive():
            self.busy = False
            eng.in_flight -= 1
            assert self.transport is not None
            self.transport.close()  # connection_lost opens the replacement
            return
        # still busy, still one in flight: the next request leaves on this connection now
        self.first_ns = 0
        self.sent_ns = now
        assert self.transport is not None
        self.transport.write(eng.payload)


class HeadConn(Conn):
    """HEAD: the response has headers only, whatever Content-Length says (RFC 9110 9.3.2);
    the parser cannot know that, so the message ends with its headers and a fresh parser
    takes the next response."""

    def on_headers_complete(self) -> None:
        self.engine.complete(self)
        self.parser = httptools.HttpResponseParser(self)

    def on_message_complete(self) -> None:
        pass


class BodyConn(Conn):
    """A connection that also keeps response headers and bodies (scenarios read them)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.headers: list[tuple[bytes, bytes]] = []
        self.name = ""  # the scenario's name for the request in flight
        self.head = False  # the request in flight is HEAD: its response ends with its headers

    def on_headers_complete(self) -> None:
        if self.head:  # as HeadConn: the parser would wait for a Content-Length body
            self.engine.complete(self)
            self.parser = httptools.HttpResponseParser(self)

    def on_message_complete(self) -> None:
        if not self.head:  # a HEAD response was complete with its headers
            self.engine.complete(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        if self.body is not None:
            self.body.append(body)


NUMBER_MARK = "{n}"


class Engine:
    """One worker's share of a load test. ``run()`` returns when the share is done or stopped."""

    def __init__(self, cfg: LoadConfig, index: int, nworkers: int) -> None:
        self.cfg = cfg
        self.loop = asyncio.get_event_loop()
        self.target = cfg.target
        self.payload = cfg.request.encode(cfg.target)
        # "{n}" in the URL: a sequence number per request (unique keys, or a working set of
        # cfg.key_space keys); the request is then built per send, off the inlined hot path
        self._numbered = NUMBER_MARK in cfg.target.path
        self._parts = self.payload.split(NUMBER_MARK.encode(), 1)
        self._seq = 0
        # --traceparent RATIO: each request a W3C traceparent of its own (off the hot path too)
        self._traceparent = cfg.traceparent
        self._ids = random.Random()  # noqa: S311  # trace ids, not secrets; seeded per worker
        self._per_send = self._numbered or cfg.traceparent is not None
        self.tls = tls_context() if cfg.target.tls else None
        self.connections = _share(cfg.connections, index, nworkers)
        self.max_connections = max(self.connections,
                                   _share(cfg.limit_max_connections(), index, nworkers))
        self.index, self.nworkers = index, nworkers
        self.timeout_ns = int(cfg.timeout_s * 1e9)
        self.think_s = cfg.think_time_s
        self.drain_s = cfg.drain_s
        self.schedule: Schedule | None = cfg.schedule()
        self.scheduler: OpenScheduler | None = None
        self.budget: int | None = None
        if cfg.requests is not None:
            self.budget = _share(cfg.requests, index, nworkers)
        self.conn_class: type[Conn] = Conn
        if cfg.request.method == "HEAD":
            self.conn_class = HeadConn
        elif (self.schedule is None and not self.think_s and not self._per_send
              and self.budget is None):
            self.conn_class = ClosedConn
        self.record_service = cfg.open_model
        # state
        self.conns: set[Conn] = set()
        self.idle: list[Conn] = []
        self.connecting = 0
        self.pending_connects = 0  # open model: connections on their way with an arrival
        self._conns_peak = 0  # the most connections open since the last take()
        self.in_flight = 0         # requests sent and not yet answered or failed
        # sent, and completed or failed: counted only when a request count (-n) bounds the test
        self.issued = 0
        self.finished = 0
        self.stopping = False
        self.stopped_ns: int | None = None  # when stop() came (Ctrl-C, --abort-on-fail, ...)
        self.issuing_done = False
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.start_ns = 0
        self.end_ns = 0            # when this worker stopped counting (monotonic)
        self.unfinished = 0        # open model: sent, unanswered when the drain ended
        self.deadline_ns: int | None = None
        # closed model: responses after this are not counted (the duration's end, or the stop)
        self.count_until_ns = 1 << 62
        self._fails_in_a_row = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # this second's values (ns, and statuses), packed and emptied by take(); the lists live
        # as long as the engine, so the connections bind their appends (see _messages)
        self.lat: list[int] = []
        self.svc: list[int] = []
        self.ttfb: list[int] = []
        self.codes: list[int] = []
        self.connect_ns: list[int] = []
        self.tls_ns: list[int] = []
        self.errors: Counter[str] = Counter()
        self.late = 0

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self, start_ns: int, duration_s: float | None) -> None:
        self.start_ns = self.end_ns = start_ns
        if duration_s is not None:
            self.deadline_ns = start_ns + int(duration_s * 1e9)
        if self.schedule is None and self.deadline_ns is not None:
            self.count_until_ns = self.deadline_ns
        if self.schedule is not None:
            arrivals = Arrivals(self.schedule, start_ns, self.index, self.nworkers,
                                self.cfg.requests)
            self.scheduler = OpenScheduler(self.loop, arrivals, self._start_arrival,
                                           self._maybe_done)
            # the schedule's own length when only a count (-n with --rate) bounds the test
            self.deadline_ns = start_ns + int(self.schedule.duration_s * 1e9)
            if arrivals.total == 0:
                self.scheduler.stop()
                return
            for _ in range(min(self.connections, self.max_connections)):
                self.open_conn(None)  # the pool is ready before the first arrival
        if self.budget == 0:
            return
        delay = (start_ns - _now()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        sweep = self.spawn(self._sweep_timeouts())
        if self.scheduler is None:
            for _ in range(self.connections):
                self.open_conn(None)
            if self.deadline_ns is not None:
                self.loop.call_later((self.deadline_ns - _now()) / 1e9, self.stop)
        else:
            assert self.deadline_ns is not None
            # nothing runs past the duration plus the drain, whatever the rate asked
            self.loop.call_later((self.deadline_ns + self.drain_s * 1e9 - _now()) / 1e9,
                                 self._finish)
            self.scheduler.pump()
        try:
            await self.done
        finally:
            sweep.cancel()
            if self.scheduler is not None:
                self.scheduler.stop()
            self._abort_all()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A task the engine keeps until it ends (``cancel_tasks`` ends the rest)."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def cancel_tasks(self) -> None:
        """Cancel and await every task still running (connections being opened, user code):
        a task left pending when the loop closes is what asyncio warns about."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _abort_all(self) -> None:
        """Drop every connection at once: the test is over, nothing more is counted."""
        for c in list(self.conns):
            if c.transport is not None:
                c.transport.abort()

    def stop(self) -> None:
        """Stop issuing; finish at once (closed model) or once in-flight requests are done,
        within the drain (open)."""
        if self.stopping:
            return
        self.stopping = True
        self.stopped_ns = _now()
        self.issuing_done = True
        if self.schedule is None:  # nothing that completes from now on is counted
            self.count_until_ns = min(self.count_until_ns, _now())
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.schedule is None or not self.in_flight:
            self._finish()
        else:
            self.loop.call_later(self.drain_s, self._finish)

    def _finish(self) -> None:
        if self.done.done():
            return
        now = _now()
        self.end_ns = min(now, self.count_until_ns)
        if self.scheduler is not None:
            self.scheduler.stop()
            self.unfinished = self.in_flight + self.pending_connects
            if not self.stopping and self.deadline_ns is not None:
                self.end_ns = max(now, self.deadline_ns)  # the window, when done early
        self.done.set_result(None)

    def _maybe_done(self) -> None:
        """Open model: done once every arrival has started and none is outstanding."""
        assert self.scheduler is not None
        if self.scheduler.stopped and not self.in_flight and not self.pending_connects:
            self._finish()

    # -- connections ---------------------------------------------------------------------------

    def open_conn(self, pending_ns: int | None) -> None:
        self.connecting += 1
        if pending_ns is not None:
            self.pending_connects += 1
        self.spawn(self._connect(pending_ns))

    async def dial(self, target: Target, conn_class: type[Conn]) -> Conn:
        """A new connection to ``target`` (TLS when its scheme says so), its connect and TLS
        handshake times recorded; on failure the half-open connection is aborted and the
        error raised."""
        t0 = _now()
        conn: Conn | None = None
        try:
            transport, conn = await self.loop.create_connection(
                lambda: conn_class(self), target.addr, target.port)
            t1 = _now()
            self.connect_ns.append(t1 - t0)
            if target.tls:
                if self.tls is None:  # a scenario's base_url may be https on a plain target
                    self.tls = tls_context()
                conn.transport = await self.loop.start_tls(
                    transport, conn, self.tls, server_hostname=target.host)
                self.tls_ns.append(_now() - t1)
        except (OSError, ssl.SSLError):
            if conn is not None and conn.transport is not None:
                conn.transport.abort()
            raise
        return conn

    async def _connect(self, pending_ns: int | None) -> None:
        try:
            conn = await self.dial(self.target, self.conn_class)
        except (OSError, ssl.SSLError) as exc:
            self.connecting -= 1
            if pending_ns is not None:
                self.pending_connects -= 1
            self._connect_failed(classify(exc), pending_ns)
            return
        self.connecting -= 1
        if pending_ns is not None:
            self.pending_connects -= 1
        self._fails_in_a_row = 0
        self.conns.add(conn)
        self._conns_peak = max(self._conns_peak, len(self.conns))
        if self.done.done() or (self.stopping and pending_ns is None):
            conn.transport.abort() if conn.transport else None
            return
        if self.scheduler is None:
            self._send_closed(conn)
        elif pending_ns is not None:
            self._send(conn, pending_ns)
        else:
            self._idle(conn)

    def _connect_failed(self, kind: str, pending_ns: int | None) -> None:
        if self.done.done():
            return
        self.errors[kind] += 1
        if self.scheduler is not None:
            if pending_ns is not None:
                self._request_ended()
            return
        # closed model: the connection slot retries with a growing pause (a refused port must
        # not become a busy loop); a request was counted against the budget only when sent
        self._fails_in_a_row += 1
        if not self.stopping:
            pause = min(_RECONNECT_BACKOFF_MAX_S, 0.01 * 2 ** min(self._fails_in_a_row, 10))
            self.connecting += 1
            self.loop.call_later(pause, self._reconnect_now)

    def _reconnect_now(self) -> None:
        self.connecting -= 1
        if not self.stopping:
            self.open_conn(None)

    def forget(self, conn: Conn, exc: Exception | None) -> None:
        """A closed connection leaves the pool; a request it carried counts as an error (until
        the test has ended: then the engine's own aborts are not the server's errors)."""
        self.conns.discard(conn)
        if self.done.done():
            return
        if conn.busy:
            conn.busy = False
            self.in_flight -= 1
            if not conn.failed:
                self.errors[classify(exc)] += 1
                self._request_ended()
        if conn.waiter is not None and not conn.waiter.done():
            conn.waiter.set_exception(ConnectionResetError("connection lost"))

    def lost(self, conn: Conn, exc: Exception | None) -> None:
        if conn in self.idle:
            self.idle.remove(conn)
        self.forget(conn, exc)
        if self.stopping or self.done.done():
            return
        if self.scheduler is None:
            if not self._budget_spent():
                self.open_conn(None)
        else:
            self.scheduler.pump()  # room for an arrival that is due

    def fail(self, conn: Conn, kind: str, exc: BaseException | None) -> None:
        """An error on a connection (parser error, timeout): count it once, drop the connection."""
        if conn.busy and not conn.failed:
            conn.failed = True
            self.errors[kind] += 1
            self._request_ended()
        if conn.waiter is not None and not conn.waiter.done():
            conn.waiter.set_exception(exc or TimeoutError(kind))
        if conn.transport is not None:
            conn.transport.abort()

    async def _sweep_timeouts(self) -> None:
        """Time out requests without a timer per request: one sweep a tenth of the timeout."""
        period = min(self.cfg.timeout_s / 10, 0.25)
        while True:
            await asyncio.sleep(period)
            limit = _now() - self.timeout_ns
            for c in list(self.conns):
                if c.busy and not c.failed and c.sent_ns < limit:
                    self.fail(c, "timeout", None)

    # -- responses -----------------------------------------------------------------------------

    def complete(self, conn: Conn) -> None:
        now = conn.last_ns
        if not self.answered(conn):
            return
        if now > self.count_until_ns:
            return  # the closed model counts only what completed within the duration
        self.record(conn, now, service=self.schedule is not None)
        self._request_ended()
        if not conn.parser.should_keep_alive():
            assert conn.transport is not None
            conn.transport.close()  # connection_lost opens the replacement
            return
        if self.scheduler is None:
            if self.think_s:
                self.loop.call_later(self.think_s, self._send_closed, conn)
            else:
                self._send_closed(conn)
        else:
            self._idle(conn)

    def answered(self, conn: Conn) -> bool:
        """The request in flight on ``conn`` got its response: it is no longer in flight.
        False when there was none to count (a timeout or error already counted it)."""
        if not conn.busy or conn.failed:
            return False
        conn.busy = False
        self.in_flight -= 1
        return True

    def record(self, conn: Conn, now: int, *, service: bool) -> tuple[int, int]:
        """Record the answered request's latency (from its intended start), service time when
        asked, time to first byte and status; (latency in ns, status). ``ClosedConn`` inlines
        the same for the closed model's hot path."""
        sent = conn.sent_ns
        lat = now - conn.intended_ns
        self.lat.append(lat)
        if service:
            self.svc.append(now - sent)
        self.ttfb.append(conn.first_ns - sent)
        status: int = conn.parser.get_status_code()
        self.codes.append(status)
        return lat, status

    def _request_ended(self) -> None:
        self.finished += 1
        if self.scheduler is not None:
            self._maybe_done()
        elif self.budget is not None and self.finished >= self.budget:
            self.issuing_done = True
            self._finish()

    def _budget_spent(self) -> bool:
        return self.budget is not None and self.issued >= self.budget

    def _send_closed(self, conn: Conn) -> None:
        if self.stopping or conn.transport is None or conn.transport.is_closing():
            return
        if self._budget_spent():
            return
        self.issued += 1
        conn.send(self._next_payload() if self._per_send else self.payload, _now())

    def _send(self, conn: Conn, intended_ns: int) -> None:
        self.issued += 1
        conn.send(self._next_payload() if self._per_send else self.payload, intended_ns)

    def _next_payload(self) -> bytes:
        data = self.payload
        if self._numbered:
            # workers take interleaved numbers (index, index + n, ...): unique across the test
            n = self._seq * self.nworkers + self.index
            self._seq += 1
            if self.cfg.key_space:
                n %= self.cfg.key_space
            head, tail = self._parts
            data = head + str(n).encode() + tail
        if self._traceparent is not None:
            data = self._with_traceparent(data, self._traceparent)
        return data

    def _with_traceparent(self, data: bytes, ratio: float) -> bytes:
        """The request with a W3C ``traceparent``: a new trace id and parent id, sampled with
        probability ``ratio``, so the service's spans of this request form a trace of its own,
        recorded when the flag says so (a parent-based sampler follows it)."""
        ids = self._ids
        trace_id = ids.getrandbits(128) or 1  # all zeros is invalid
        parent_id = ids.getrandbits(64) or 1
        flags = b"01" if ids.random() < ratio else b"00"
        end = data.index(b"\r\n\r\n")  # the end of the head the request spec built
        return b"%s\r\ntraceparent: 00-%032x-%016x-%s%s" % (
            data[:end], trace_id, parent_id, flags, data[end:])

    def _idle(self, conn: Conn) -> None:
        """Open model: a connection with nothing in flight takes the oldest due arrival."""
        assert self.scheduler is not None
        self.idle.append(conn)
        self.scheduler.pump()
        self._maybe_done()

    def _start_arrival(self, intended_ns: int) -> bool:
        """Start an arrival on an idle connection or a new one; False when there is no room."""
        idle = self.idle
        while idle:
            conn = idle.pop()
            transport = conn.transport
            if transport is not None and not transport.is_closing():
                self._send(conn, intended_ns)
                return True
        if len(self.conns) + self.connecting < self.max_connections:
            self.open_conn(intended_ns)
            return True
        return False

    # -- reporting -----------------------------------------------------------------------------

    def take(self) -> Tick:
        """This second's values (and empty the arrays for the next): the parent histograms
        them."""
        lateness = None
        late, self.late = self.late, 0
        if self.scheduler is not None:
            lateness, sched_late = self.scheduler.take()
            late += sched_late
        errors, self.errors = self.errors, Counter()
        codes = count_codes(self.codes)
        self.codes.clear()
        # the most connections open during the second: the last second's are closed by now
        conns, self._conns_peak = max(self._conns_peak, len(self.conns)), len(self.conns)
        return Tick(_take(self.lat), _take(self.svc) if self.record_service else None,
                    _take(self.ttfb), codes, dict(errors), late, conns,
                    connect_ns=_take(self.connect_ns), tls_ns=_take(self.tls_ns),
                    lateness_ns=lateness)

    def end(self) -> WorkerEnd:
        """The whole test's counts of this worker (after the last ``take``)."""
        scheduled = dropped = 0
        if self.scheduler is not None:
            arrivals = self.scheduler.arrivals
            scheduled = arrivals.total
            if self.stopped_ns is not None:  # stopped early: only what was due by then is owed
                scheduled = arrivals.due_by(self.stopped_ns)
            dropped = scheduled - arrivals.started
        return WorkerEnd(self.end_ns, scheduled=scheduled, dropped=dropped,
                         unfinished=self.unfinished)


def _take(values: list[int]) -> array[int]:
    """``values`` packed, and the list emptied in place (its appends stay bound)."""
    out = ns_array(values)
    values.clear()
    return out


def _share(total: int, index: int, n: int) -> int:
    """Worker ``index``'s share of ``total`` split over ``n`` workers (differs by at most 1)."""
    return total // n + (1 if index < total % n else 0)
