"""The data path: one ``Connection`` per accepted client, two ``Link``s (upstream: client to
server; downstream: server to client), each passing chunks through its direction's toxics in
order, as Toxiproxy's chain of toxic stubs does.

Why a queue and a pump per link: a chunk is stamped when it is read, and a latency toxic holds
it until stamp + latency, so chunks that arrive while an earlier one waits are not delayed twice
(Toxiproxy's pipelining). With no toxic on a direction and nothing queued, the read callback
writes straight through (the fast path: asyncio protocols, no task switch per chunk).

A toxic's ``toxicity`` is drawn once per link when the link first meets the toxic (or its
update), as Toxiproxy does when it starts a stub: that connection gets the toxic or not.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, NoReturn, cast

from perflab.chaos._http import RequestLog, RequestStream, injects, split_requests
from perflab.chaos._http_toxics import RESPONSE_TOXICS, http_corrupt, http_slow_body

if TYPE_CHECKING:
    from perflab.chaos._http_toxics import ResponseState
    from perflab.chaos._toxics import Stream, Toxic

QUEUE_CHUNKS = 64  # bounded: a slow toxic pushes back on the reader, not on memory

Emit = Callable[[bytes], Awaitable[None]]


class LinkClosed(Exception):  # a signal inside the pump, not an error
    """A toxic ended the connection (limit_data, timeout, reset_peer)."""


class Counters:
    """Bytes a proxy received and sent per direction (Toxiproxy's /metrics counters)."""

    def __init__(self) -> None:
        self.received: dict[str, int] = {"upstream": 0, "downstream": 0}
        self.sent: dict[str, int] = {"upstream": 0, "downstream": 0}


class Side(asyncio.Protocol):
    """One socket of a connection (the client's or the upstream's). What it reads goes to the
    link whose source it is; its write buffer filling up pauses that link's source."""

    def __init__(self, *, hold: bool = False) -> None:
        self.hold = hold  # a client: read nothing until its upstream is connected
        self.transport: asyncio.Transport | None = None
        self.reads_for: Link | None = None  # the link this socket feeds
        self.writes_for: Link | None = None  # the link that writes to this socket
        self.early: list[bytes | None] = []  # what came before the links existed
        self.lost = False
        self._writable = asyncio.Event()
        self._writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport has Transport's methods without subclassing it
        self.transport = cast("asyncio.Transport", transport)
        if self.hold:
            self.transport.pause_reading()
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.reads_for is None:
            self.early.append(data)
        else:
            self.reads_for.feed(data)

    def eof_received(self) -> bool:
        # keep the socket open for writing: the other direction may still have data for it
        self._end()
        return True

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002  # asyncio's API
        self.lost = True
        self._writable.set()  # a writer waiting for room stops waiting (and finds it lost)
        self._end()
        # the last callback: the links no longer need to be reached from here, and this side and
        # its links would otherwise refer to each other, a cycle only the collector frees
        self.reads_for = self.writes_for = None

    def _end(self) -> None:
        if self.reads_for is None:
            self.early.append(None)
        else:
            self.reads_for.feed_eof()

    def pause_writing(self) -> None:
        self._writable.clear()
        if self.writes_for is not None:
            self.writes_for.hold_source("dest", held=True)

    def resume_writing(self) -> None:
        self._writable.set()
        if self.writes_for is not None:
            self.writes_for.hold_source("dest", held=False)

    async def drain(self) -> None:
        await self._writable.wait()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0)."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


class Connection:
    """A client connection and its upstream connection, with the two links between them."""

    def __init__(self, client: Side, upstream: Side, chains: dict[Stream, list[Toxic]],
                 counters: Counters, on_close: Callable[[Connection], None]) -> None:
        self.client = client
        self.upstream = upstream
        self.closed = False
        self._on_close = on_close
        self.chains = chains
        self.requests = RequestLog()  # fed while a response toxic needs it (tracks_requests)
        self.links = {
            "upstream": Link(self, "upstream", client, upstream,
                             toxics=chains["upstream"], counters=counters),
            "downstream": Link(self, "downstream", upstream, client,
                               toxics=chains["downstream"], counters=counters),
        }

    def start(self) -> None:
        for link in self.links.values():
            link.start()

    def toxics_changed(self, stream: Stream) -> None:
        link = self.links.get(stream)
        if link is not None:  # None: the connection is over
            link.toxics_changed()

    def tracks_requests(self) -> bool:
        """Whether a response toxic is on the downstream chain (it needs the requests)."""
        return any(t.type in RESPONSE_TOXICS for t in self.chains["downstream"])

    def close(self) -> None:
        """Close both sockets gracefully (what was written is still sent)."""
        if self.closed:
            return
        self.closed = True
        self.client.close()
        self.upstream.close()
        for link in self.links.values():
            link.stop()
        self._on_close(self)

    def pump_ended(self, _task: asyncio.Task[None]) -> None:
        """Once closed and both links' pumps are over, the connection lets go of its links:
        each refers to it, a cycle per connection that only the cyclic collector would free
        (44 objects per closed connection), so a proxy with connections coming and going
        would feed the collector's passes, which stop the API's thread too."""
        if self.closed and all(link.pump_over() for link in self.links.values()):
            self.links.clear()

    def reset(self) -> None:
        """Close both sockets with a TCP RST, as reset_peer does."""
        self.client.reset()
        self.upstream.reset()
        self.close()


class Link:
    """One direction of a connection: read, pass through the toxics, write.

    Fast path: with no toxic on the direction and nothing queued, a chunk is written from the
    read callback itself. Otherwise it is stamped and queued for the pump task, which passes
    it through the toxics. The source is paused while the queue is full or the destination's
    buffer is (asyncio's flow control), so memory stays bounded either way."""

    def __init__(self, conn: Connection, stream: Stream, source: Side, dest: Side, *,
                 toxics: list[Toxic], counters: Counters) -> None:
        self.connection = conn
        self.stream = stream
        self.source = source
        self.dest = dest
        self.toxics = toxics  # the proxy's list for this direction, read at every chunk
        self.counters = counters
        self.queue: collections.deque[tuple[bytes | None, float]] = collections.deque()
        self._wake = asyncio.Event()
        self.busy = False
        self.ended = False
        self._eof_fed = False
        self._holds: set[str] = set()  # why the source is paused: "queue", "dest"
        self._drawn: dict[int, tuple[int, bool]] = {}  # id(toxic) -> (generation, active)
        self._limit_sent: dict[int, int] = {}  # limit_data: bytes passed per toxic
        self._bw_next: dict[int, float] = {}  # bandwidth: when the next byte may leave
        self._timers: dict[int, asyncio.TimerHandle] = {}  # timeout toxics armed on this link
        self._http: dict[int, RequestStream] = {}  # http_error, http_latency: where each is
        self.responses: dict[int, ResponseState] = {}  # the response toxics' states
        # the upstream link feeds the connection's request log while the downstream chain has a
        # response toxic (it matches responses to requests): the downstream chain, else none
        self.watched: list[Toxic] = conn.chains["downstream"] if stream == "upstream" else []
        self._waiters: set[asyncio.Future[None]] = set()  # chunks held by latency, bandwidth
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.source.reads_for = self
        self.dest.writes_for = self
        self._task = asyncio.create_task(self._pump())
        self._task.add_done_callback(self.connection.pump_ended)
        self.toxics_changed()
        early, self.source.early = self.source.early, []
        for data in early:
            if data is None:
                self.feed_eof()
            else:
                self.feed(data)
        if self.source.hold and self.source.transport is not None and not self.source.lost:
            self.source.hold = False
            self.source.transport.resume_reading()

    def pump_over(self) -> bool:
        return self._task is not None and self._task.done()

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    # -- toxics --------------------------------------------------------------------------------

    def _active(self, toxic: Toxic) -> bool:
        drawn = self._drawn.get(id(toxic))
        if drawn is None or drawn[0] != toxic.generation:
            drawn = (toxic.generation, random.random() < toxic.toxicity)  # noqa: S311  # a fault draw
            self._drawn[id(toxic)] = drawn
        return drawn[1]

    def active_toxics(self) -> list[Toxic]:
        return [t for t in self.toxics if self._active(t)]

    async def hold(self, toxic: Toxic, due: float) -> None:
        """Hold a chunk for ``toxic`` until the monotonic time ``due``, never less (the loop's
        timers may fire up to a millisecond early: uvloop rounds to milliseconds), or until
        the toxic is removed: then the chunk goes at once, as Toxiproxy's interrupted toxics
        pass on what they hold (so a removed 10 s latency does not hold data 10 s more)."""
        loop = asyncio.get_running_loop()
        while toxic in self.toxics and (wait := due - time.monotonic()) > 0:
            waiter: asyncio.Future[None] = loop.create_future()
            handle = loop.call_later(wait + 0.0002, _wake, waiter)
            self._waiters.add(waiter)
            try:
                await waiter
            finally:
                handle.cancel()
                self._waiters.discard(waiter)

    def toxics_changed(self) -> None:
        """Release the chunks held by a toxic that went; arm the timeout toxics that came, and
        close the connection when one that held it went (Toxiproxy's timeout toxic closes its
        stub when removed)."""
        for waiter in list(self._waiters):
            _wake(waiter)
        if self.connection.closed:
            return
        present = {id(t): t for t in self.toxics if t.type == "timeout" and self._active(t)}
        for key in list(self._timers):
            if key not in present:
                self._timers.pop(key).cancel()
                self.connection.close()
                return
        for key, toxic in present.items():
            if key not in self._timers:
                self._arm(toxic)

    def _arm(self, toxic: Toxic) -> None:
        timeout_ms = toxic.attributes["timeout"]
        loop = asyncio.get_running_loop()
        old = self._timers.pop(id(toxic), None)
        if old is not None:
            old.cancel()
        # timeout 0 holds the data until the toxic goes; a handle that never fires marks it
        delay = timeout_ms / 1000 if timeout_ms > 0 else 10**9
        self._timers[id(toxic)] = loop.call_later(delay, self.connection.close)

    # -- the two tasks ---------------------------------------------------------------------------

    def hold_source(self, why: str, *, held: bool) -> None:
        """Pause the source while any reason holds (a full queue, a full destination)."""
        before = bool(self._holds)
        if held:
            self._holds.add(why)
        else:
            self._holds.discard(why)
        transport = self.source.transport
        if transport is None or self.source.lost or before == bool(self._holds):
            return
        with contextlib.suppress(RuntimeError):  # a transport closing meanwhile
            if self._holds:
                transport.pause_reading()
            else:
                transport.resume_reading()

    def feed(self, data: bytes) -> None:
        """A chunk read from the source (called from the read callback)."""
        self.counters.received[self.stream] += len(data)
        if self._eof_fed:
            return
        if (not self.busy and not self.queue and not self.toxics and self.dest.transport
                and not (self.watched and self.connection.tracks_requests())):
            self.dest.transport.write(data)
            self.counters.sent[self.stream] += len(data)
            return
        self.queue.append((data, time.monotonic()))
        self._wake.set()
        if len(self.queue) >= QUEUE_CHUNKS:
            self.hold_source("queue", held=True)

    def feed_eof(self) -> None:
        if self._eof_fed:
            return
        self._eof_fed = True
        self.queue.append((None, time.monotonic()))
        self._wake.set()

    async def _pump(self) -> None:
        try:
            while True:
                while not self.queue:
                    self.busy = False
                    self._wake.clear()
                    await self._wake.wait()
                self.busy = True
                data, stamp = self.queue.popleft()
                if len(self.queue) < QUEUE_CHUNKS // 2:
                    self.hold_source("queue", held=False)
                toxics = self.active_toxics()
                if data is not None and self.watched and self.connection.tracks_requests():
                    self.connection.requests.feed(data)
                if data is None:
                    await self._eof(toxics)
                    return
                await self._through(toxics, 0, data, stamp)
        except (LinkClosed, ConnectionError, OSError):
            self.connection.close()

    def end(self) -> NoReturn:
        """End the connection from a toxic (what was written still goes)."""
        raise LinkClosed

    async def _write(self, data: bytes) -> None:
        if self.dest.lost or self.dest.transport is None:
            raise LinkClosed
        self.dest.transport.write(data)
        self.counters.sent[self.stream] += len(data)
        await self.dest.drain()

    async def _through(self, toxics: list[Toxic], i: int, data: bytes, stamp: float) -> None:
        if i == len(toxics):
            await self._write(data)
            return

        async def emit(piece: bytes) -> None:
            await self._through(toxics, i + 1, piece, stamp)

        await _APPLY[toxics[i].type](self, toxics[i], data, stamp, emit)

    async def _eof(self, toxics: list[Toxic]) -> None:
        """The source ended: close the destination (after any slow_close delay). The other
        link then reads the end from that socket and runs its own chain's end, as in
        Toxiproxy; the connection is over when both have ended."""
        for toxic in toxics:
            if toxic.type == "slow_close":
                # never less than the delay: uvloop's timers round to milliseconds and may
                # fire early, so sleep again for whatever is left
                due = time.monotonic() + toxic.attributes["delay"] / 1000
                while (left := due - time.monotonic()) > 0:  # noqa: ASYNC110  # a deadline, not a flag
                    await asyncio.sleep(left + 0.0002)
        self.ended = True
        self.dest.close()
        if all(link.ended for link in self.connection.links.values()):
            self.connection.close()

    # -- what each toxic does to a chunk ---------------------------------------------------------

    async def latency(self, toxic: Toxic, data: bytes, stamp: float, emit: Emit) -> None:
        delay_ms = toxic.attributes["latency"]
        jitter = toxic.attributes["jitter"]
        if jitter > 0:
            delay_ms += random.randrange(-jitter, jitter)  # noqa: S311  # a fault draw
        await self.hold(toxic, stamp + delay_ms / 1000)
        await emit(data)

    async def bandwidth(self, toxic: Toxic, data: bytes, _stamp: float, emit: Emit) -> None:
        rate = toxic.attributes["rate"]  # KB/s, i.e. bytes per millisecond
        if rate <= 0:
            await emit(data)
            return
        step = rate * 100  # at most 100 ms worth of bytes at a time, as Toxiproxy
        for start in range(0, len(data), step):
            piece = data[start:start + step]
            now = time.monotonic()
            due = max(now, self._bw_next.get(id(toxic), now)) + len(piece) / rate / 1000
            self._bw_next[id(toxic)] = due
            await self.hold(toxic, due)
            await emit(piece)

    async def slicer(self, toxic: Toxic, data: bytes, _stamp: float, emit: Emit) -> None:
        bounds = _slices(0, len(data), toxic.attributes["average_size"],
                         toxic.attributes["size_variation"])
        delay_s = toxic.attributes["delay"] / 1_000_000  # microseconds, as Toxiproxy
        for start, end in zip(bounds[::2], bounds[1::2], strict=True):
            await emit(data[start:end])
            await asyncio.sleep(delay_s)

    async def limit_data(self, toxic: Toxic, data: bytes, _stamp: float, emit: Emit) -> None:
        limit = toxic.attributes["bytes"]
        passed = self._limit_sent.get(id(toxic), 0)
        piece = data[:max(0, limit - passed)]
        if piece:
            await emit(piece)
            passed += len(piece)
            self._limit_sent[id(toxic)] = passed
        if limit - passed <= 0:
            raise LinkClosed

    async def timeout(self, toxic: Toxic, _data: bytes, _stamp: float, _emit: Emit) -> None:
        # the data is dropped; each chunk restarts the clock (Toxiproxy's select loop does)
        if toxic.attributes["timeout"] > 0:
            self._arm(toxic)

    async def reset_peer(self, toxic: Toxic, _data: bytes, _stamp: float, _emit: Emit) -> None:
        await asyncio.sleep(toxic.attributes["timeout"] / 1000)
        self.connection.reset()
        raise LinkClosed

    async def slow_close(self, _toxic: Toxic, data: bytes, _stamp: float, emit: Emit) -> None:
        await emit(data)  # the delay is at the end of the stream (``_eof``)

    async def http_error(self, toxic: Toxic, data: bytes, _stamp: float, emit: Emit) -> None:
        """Answer a share of the HTTP/1.1 requests with ``status`` (then close, so a keep-alive
        client does not wait for the request's real answer); pass the others on."""

        async def on_request(head: bytes, path: str) -> None:
            if injects(toxic, path):
                client = self.connection.client.transport
                if client is not None:
                    client.write(_http_answer(toxic))
                raise LinkClosed
            await emit(head)

        await self._follow_http(toxic, data, emit, on_request)

    async def http_latency(self, toxic: Toxic, data: bytes, _stamp: float, emit: Emit) -> None:
        """Hold a share of the HTTP/1.1 requests on a route ``latency ± jitter`` ms before they
        go on (per-route latency); the other requests pass at once."""

        async def on_request(head: bytes, path: str) -> None:
            if injects(toxic, path):
                delay_ms = toxic.attributes["latency"]
                jitter = toxic.attributes["jitter"]
                if jitter > 0:
                    delay_ms += random.randrange(-jitter, jitter)  # noqa: S311  # a fault draw
                await self.hold(toxic, time.monotonic() + delay_ms / 1000)
            await emit(head)

        await self._follow_http(toxic, data, emit, on_request)

    async def _follow_http(self, toxic: Toxic, data: bytes, emit: Emit,
                           on_request: Callable[[bytes, str], Awaitable[None]]) -> None:
        """Follow the HTTP/1.1 requests of the stream: each request head goes to
        ``on_request(head, path)``, bodies (``Content-Length``) and what is not HTTP pass."""
        state = self._http.setdefault(id(toxic), RequestStream())
        for piece, head in split_requests(state, data):
            if head is None:
                await emit(piece)
            else:
                await on_request(piece, head.path)


def _http_answer(toxic: Toxic) -> bytes:
    status = toxic.attributes["status"]
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Injected"
    body = f"{status} {reason}: injected by perflab chaos (toxic {toxic.name})\n".encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _slices(start: int, end: int, average: int, variation: int) -> list[int]:
    """Toxiproxy's slicer: halve the range until the pieces are about ``average`` long;
    returns flat [start, end, start, end, ...]."""
    if (end - start) - average <= variation:
        return [start, end]
    mid = start + (end - start) // 2
    if variation > 0:
        mid += random.randrange(-variation, variation)  # noqa: S311  # a fault draw
    mid = min(max(mid, start + 1), end - 1)
    return _slices(start, mid, average, variation) + _slices(mid, end, average, variation)


_APPLY: dict[str, Callable[[Link, Toxic, bytes, float, Emit], Awaitable[None]]] = {
    "latency": Link.latency,
    "bandwidth": Link.bandwidth,
    "slicer": Link.slicer,
    "limit_data": Link.limit_data,
    "timeout": Link.timeout,
    "reset_peer": Link.reset_peer,
    "slow_close": Link.slow_close,
    "http_error": Link.http_error,
    "http_latency": Link.http_latency,
    "http_corrupt": http_corrupt,
    "http_slow_body": http_slow_body,
}
