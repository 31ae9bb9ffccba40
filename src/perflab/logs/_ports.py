"""The log receivers that are not HTTP: Fluentd's forward protocol (TCP) and syslog (TCP and
UDP), served by one asyncio loop in a thread of ``perflab serve``, on sockets bound before
the hub starts (``perflab.serving``: a taken port is decided before anything runs).

Back-pressure: a connection's lines are handed whole to the ingest queue; when it is full the
connection is not read further until they are taken (the sender's TCP window fills, as with
Fluentd's own buffers), and a chunk is acknowledged only once its lines are in the queue, so
nothing acknowledged is lost. After ``SUBMIT_WAIT_S`` the connection is closed unacknowledged
(the sender retries). UDP has no back-pressure: a datagram that finds the queue full is
dropped and counted, as a full socket buffer would drop it.

At most ``MAX_CONNECTIONS`` connections at once (``serving.ConcurrencyLimiter``; more are
closed at once); a
connection idle for ``IDLE_S`` is closed. Bad input (not msgpack, a wrong handshake, an
oversize frame) is one warning line on the hub's log and, for the forward protocol, the end of
that connection; what was taken before stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from perflab.logs import _forward, _syslog
from perflab.logs._push import MAX_LINE
from perflab.logs._sink import LogEntry
from perflab.serving import ConcurrencyLimiter, TooManyRequests

log = logging.getLogger("perflab.logs")

SUBMIT_WAIT_S = 30.0
IDLE_S = 300.0
MAX_CONNECTIONS = 256
_READ = 256 * 1024


@dataclass
class PortStats:
    lines: int = 0
    rejected: int = 0          # lines refused (over the size limit) inside accepted messages
    dropped: int = 0           # UDP datagrams that found the queue full
    bad_connections: int = 0   # connections closed for bad input or a failed handshake

    def to_json(self) -> dict[str, int]:
        return {"lines": self.lines, "rejected": self.rejected, "dropped": self.dropped,
                "bad_connections": self.bad_connections}


@dataclass
class LogPorts:
    """The sockets to serve (any may be None) and where their lines go (``submit``: True
    when the queue took them whole)."""

    forward: socket.socket | None = None
    syslog_tcp: socket.socket | None = None
    syslog_udp: socket.socket | None = None
    shared_key: bytes | None = None
    submit: Callable[[list[LogEntry]], bool] = lambda _entries: False
    stats: PortStats = field(default_factory=PortStats)
    hostname: str = field(default_factory=socket.gethostname)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _servers: list[Any] = field(default_factory=list)
    _ready: threading.Event = field(default_factory=threading.Event)
    _connections: ConcurrencyLimiter = field(default_factory=lambda: ConcurrencyLimiter(
        MAX_CONNECTIONS, 0, what="log connections"))

    def sockets(self) -> list[socket.socket]:
        return [s for s in (self.forward, self.syslog_tcp, self.syslog_udp) if s is not None]

    def start(self) -> None:
        if not self.sockets():
            return
        self._thread = threading.Thread(target=self._run, name="perflab-log-ports", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        """Close the ports; lines already handed to the queue are the queue's to write."""
        loop = self._loop
        if loop is not None and self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(10)
        for sock in self.sockets():
            sock.close()

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
            self._ready.set()
            loop.run_forever()
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                loop.run_until_complete(self._close())
            loop.close()

    async def _close(self) -> None:
        """Close the ports and the connections still open, and let their transports go."""
        for server in self._servers:
            server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # transports close on the next turn of the loop

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        if self.forward is not None:
            self._servers.append(await asyncio.start_server(
                self._limited(self._forward_conn), sock=self.forward, limit=_READ))
        if self.syslog_tcp is not None:
            self._servers.append(await asyncio.start_server(
                self._limited(self._syslog_conn), sock=self.syslog_tcp, limit=_READ))
        if self.syslog_udp is not None:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _SyslogDatagrams(self), sock=self.syslog_udp)
            self._servers.append(transport)

    def _limited(self, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
                 ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                async with self._connections.slot():
                    await handler(reader, writer)
            except TooManyRequests:
                log.warning("perflab serve: over %d log connections at once; one refused",
                            MAX_CONNECTIONS)
            except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                pass
            except asyncio.CancelledError:
                # the ports are closing; ending the task quietly: Python 3.11's start_server
                # callback would log a cancelled handler's task with a traceback
                pass
            finally:
                writer.close()
        return serve

    async def _hand_over(self, entries: list[LogEntry]) -> bool:
        """Submit, waiting while the queue is full (back-pressure); False after
        ``SUBMIT_WAIT_S``."""
        if not entries:
            return True
        deadline = time.monotonic() + SUBMIT_WAIT_S
        delay = 0.01
        while not self.submit(entries):
            if time.monotonic() > deadline:
                log.warning("perflab serve: the ingest queue stayed full for %s s; a log "
                            "sender's connection is closed unacknowledged", SUBMIT_WAIT_S)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        self.stats.lines += len(entries)
        return True

    def _bad(self, what: str, peer: object, why: str) -> None:
        self.stats.bad_connections += 1
        log.warning("perflab serve: %s from %s: %s; connection closed", what, peer, why[:300])

    # -- Fluentd forward ---------------------------------------------------------------------

    async def _forward_conn(self, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        unpacker = _forward.unpacker()
        if self.shared_key is not None and not await self._handshake(reader, writer, unpacker,
                                                                     peer):
            return
        while True:
            data = await asyncio.wait_for(reader.read(_READ), IDLE_S)
            if not data:
                return
            try:
                unpacker.feed(data)
                messages = list(unpacker)
            except (msgpack.UnpackException, ValueError) as exc:  # BufferFull, bad bytes
                self._bad("a forward-protocol message", peer, f"not msgpack ({exc!r})")
                return
            for msg in messages:
                try:
                    batch = _forward.decode_message(msg, time.time_ns())
                except _forward.ForwardError as exc:
                    self._bad("a forward-protocol message", peer, str(exc))
                    return
                if batch.rejected:
                    self.stats.rejected += batch.rejected
                    log.warning("perflab serve: %d forward-protocol record(s) from %s over "
                                "%s bytes refused", batch.rejected, peer, f"{MAX_LINE:,}")
                if not await self._hand_over(batch.entries):
                    return
                if batch.chunk is not None:
                    writer.write(_forward.ack(batch.chunk))
                    await writer.drain()

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         unpacker: Any, peer: object) -> bool:
        assert self.shared_key is not None
        nonce = os.urandom(16)
        writer.write(_forward.helo(nonce))
        await writer.drain()
        while True:
            data = await asyncio.wait_for(reader.read(4096), 30)
            if not data:
                return False
            try:
                unpacker.feed(data)
                ping = next(unpacker, None)
                if ping is None:
                    continue
                answer, ok = _forward.pong(ping, nonce=nonce, key=self.shared_key,
                                           server_hostname=self.hostname)
            except (msgpack.UnpackException, ValueError) as exc:
                self._bad("a forward-protocol handshake", peer, str(exc))
                return False
            writer.write(answer)
            await writer.drain()
            if not ok:
                self._bad("a forward-protocol handshake", peer, "shared_key mismatch")
            return ok

    # -- syslog ------------------------------------------------------------------------------

    async def _syslog_conn(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        framer = _syslog.Framer()
        while True:
            data = await asyncio.wait_for(reader.read(_READ), IDLE_S)
            frames = framer.feed(data) if data else []
            if not data and (last := framer.rest()) is not None:
                frames.append(last)
            if framer.oversize:
                self.stats.rejected += framer.oversize
                log.warning("perflab serve: %d syslog message(s) from %s over %s bytes "
                            "skipped", framer.oversize, peer, f"{_syslog.MAX_FRAME:,}")
                framer.oversize = 0
            now = time.time_ns()
            if not await self._hand_over([_syslog.parse(f, now) for f in frames]) or not data:
                return


class _SyslogDatagrams(asyncio.DatagramProtocol):
    def __init__(self, ports: LogPorts) -> None:
        self.ports = ports

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        del addr
        entry = _syslog.parse(data, time.time_ns())
        if self.ports.submit([entry]):
            self.ports.stats.lines += 1
        else:
            self.ports.stats.dropped += 1
