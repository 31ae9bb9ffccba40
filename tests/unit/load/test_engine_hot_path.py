"""The closed model's hot path (``ClosedConn``), fed responses from memory on a fake clock:
every response counted once with its exact times, and each bad case (a late answer to a
timed-out request, an answer after the stop, ``Connection: close``, garbage, a reset) takes
the path it took before the hot path was inlined."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvloop

from perflab.load import _engine
from perflab.load._config import LoadConfig, RequestSpec, parse_target
from perflab.load._engine import ClosedConn, Engine

OK = (b"HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 5\r\nConnection: keep-alive\r\n"
      b"\r\nhello")
UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
CLOSING = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


class Clock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def __call__(self) -> int:
        return self.ns


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(_engine, "_now", c)
    return c


@pytest.fixture
def engine() -> Any:
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    cfg = LoadConfig(target=parse_target("http://127.0.0.1:8080/"),
                     request=RequestSpec("GET", (), b""), connections=1, duration_s=10)
    eng: Any = Engine(cfg, 0, 1)  # given a list of its reopened connections below
    eng.reopened = []
    eng.open_conn = eng.reopened.append  # a replacement connection is asked for, not dialled
    yield eng
    asyncio.set_event_loop(None)
    loop.close()


def connect(eng: Engine) -> tuple[ClosedConn, FakeTransport]:
    assert eng.conn_class is ClosedConn  # the closed model, a duration, no {n}: the hot path
    conn = eng.conn_class(eng)
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    eng.conns.add(conn)
    eng._send_closed(conn)  # the first request of a connection
    return conn, transport


def test_every_response_is_recorded_once_with_its_exact_times(engine, clock):
    conn, transport = connect(engine)
    for i in range(300):
        sent = conn.sent_ns  # the request left when the previous answer completed
        clock.ns += 3_000  # its answer's first bytes come 3 µs later
        if i % 3:
            conn.data_received(UNAVAILABLE if i % 3 == 2 else OK)  # in one chunk
        else:
            conn.data_received(OK[:20])  # headers split: ttfb < latency
            clock.ns += 5_000
            conn.data_received(OK[20:])
        assert conn.sent_ns == clock.ns != sent  # and the next request leaves at once
    tick = engine.take()
    assert len(tick.latency_ns) == len(tick.ttfb_ns) == 300
    assert tick.codes == {200: 200, 503: 100}
    assert sorted(set(tick.latency_ns)) == [3_000, 8_000]  # exact: no rounding on the way
    assert tick.latency_ns.count(8_000) == 100
    assert sorted(set(tick.ttfb_ns)) == [3_000]
    assert tick.errors == {}
    assert transport.written == [engine.payload] * 301  # one request per response, plus the 1st
    assert engine.in_flight == 1
    assert not engine.take().latency_ns  # taken means emptied


def test_an_answer_after_the_stop_is_not_counted_and_nothing_more_is_sent(engine, clock):
    conn, transport = connect(engine)
    conn.data_received(OK)
    engine.stop()  # Ctrl-C or the duration: what completes from now on is not counted
    clock.ns += 1_000
    conn.data_received(OK)
    tick = engine.take()
    assert len(tick.latency_ns) == 1
    assert len(transport.written) == 2
    assert engine.in_flight == 0


def test_a_late_answer_to_a_timed_out_request_is_not_counted(engine, clock):
    conn, transport = connect(engine)
    engine.fail(conn, "timeout", None)  # what the timeout sweep does
    conn.data_received(OK)  # the answer comes after all, on a connection being dropped
    tick = engine.take()
    assert tick.errors == {"timeout": 1}
    assert not tick.latency_ns
    assert transport.aborted
    assert transport.written == [engine.payload]


def test_connection_close_is_counted_then_the_connection_replaced(engine, clock):
    conn, transport = connect(engine)
    conn.data_received(CLOSING)
    assert transport.closed
    assert transport.written == [engine.payload]  # nothing more on a closing connection
    conn.connection_lost(None)  # the server's close
    tick = engine.take()
    assert tick.codes == {200: 1}
    assert tick.errors == {}  # a clean close after a complete answer is no error
    assert engine.reopened == [None]
    assert engine.in_flight == 0


def test_garbage_is_a_protocol_error(engine, clock):
    conn, transport = connect(engine)
    conn.data_received(b"SSH-2.0-OpenSSH_9.2\r\n")
    tick = engine.take()
    assert tick.errors == {"protocol": 1}
    assert not tick.latency_ns
    assert transport.aborted


def test_a_reset_mid_response_is_a_reset_error_and_the_connection_is_replaced(engine, clock):
    conn, _ = connect(engine)
    conn.data_received(OK[:30])
    conn.connection_lost(ConnectionResetError())
    tick = engine.take()
    assert tick.errors == {"reset": 1}
    assert not tick.latency_ns
    assert engine.reopened == [None]
    assert engine.in_flight == 0
