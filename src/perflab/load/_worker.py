"""A worker process: one uvloop, one ``Engine``, figures sent to the parent once a second.

The messages are ``_messages``' dataclasses: ``Ready``, a ``Tick`` a second, ``Failed`` (a
scenario could not be loaded or raised), ``WorkerEnd``; from the parent ``Share``, ``Start``
and, at any time, ``Stop``. Workers ignore SIGINT: the parent catches Ctrl-C and stops them,
so what they measured still reaches the summary.

The socket to the parent carries ``multiprocessing.connection``'s framing (a 4-byte length,
then a pickle), which the parent reads with a ``Connection``. Until the test starts the worker
reads and writes it blocking; from then on it is a transport of the event loop, so that a tick
(a second's raw values: megabytes at a high rate) is written without ever stalling the loop,
and the parent's ``stop`` arrives as data.

A worker can be started before its parent knows the test (``perflab load`` starts it first
thing, so that its imports overlap the parent's): it waits for the configuration. It imports
the engine only (no numpy, no store): see ``_messages``.
"""

from __future__ import annotations

import asyncio
import gc
import pickle
import resource
import signal
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

import uvloop

# _config: what a test's configuration (the Share) is made of, imported while the worker
# waits for it rather than by unpickling it once it has come, after the parent is ready
# (urllib.parse, ipaddress, datetime, units: 10-60 ms of the critical path)
import perflab.load._config  # noqa: F401
from perflab.load._engine import Engine
from perflab.load._messages import Failed, Ready, Share, Start, Stop, Tick

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.load._config import LoadConfig

_HEADER = struct.Struct("!i")  # multiprocessing.connection's frame header (bytes that follow)


def worker_main(fd: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    try:
        first = recv_blocking(sock)
    except EOFError:  # a pre-started worker that was not needed: the parent closed its end
        sock.close()
        return
    if not isinstance(first, Share):
        sock.close()
        return
    cfg, index, nworkers = first.config, first.index, first.nworkers
    # what the worker has made so far (its modules, the configuration) lives until it exits:
    # neither the collector's passes during the test nor the interpreter's exit walk it
    gc.freeze()
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_serve(sock, cfg, index, nworkers))
    finally:
        loop.close()
        sock.close()


def make_engine(cfg: LoadConfig, index: int, nworkers: int) -> Engine:
    if cfg.scenario_file:
        from perflab.load._scenario_engine import ScenarioEngine  # noqa: PLC0415  # optional

        return ScenarioEngine(cfg, index, nworkers)
    return Engine(cfg, index, nworkers)


def send_blocking(sock: socket.socket, obj: object) -> None:
    data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(data)) + data)


def recv_blocking(sock: socket.socket) -> Any:  # whatever the parent sent
    (size,) = _HEADER.unpack(_recv_exactly(sock, _HEADER.size))
    return pickle.loads(_recv_exactly(sock, size))  # noqa: S301  # our own parent's message


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


class Uplink(asyncio.Protocol):
    """The worker's end of the socket, on the event loop: frames written without blocking,
    frames read as they come (``on_message``); the parent's end closing counts as ``stop``."""

    def __init__(self, on_message: Callable[[Any], None]) -> None:
        self._on_message = on_message
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is duck-typed

    def send(self, obj: object) -> None:
        data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_HEADER.pack(len(data)) + data)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while len(self._buf) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buf)
            if len(self._buf) < _HEADER.size + size:
                break
            frame = bytes(self._buf[_HEADER.size:_HEADER.size + size])
            del self._buf[:_HEADER.size + size]
            self._on_message(pickle.loads(frame))  # noqa: S301  # our own parent's message

    def eof_received(self) -> bool:
        self._on_message(Stop())  # the parent is gone: stop, nobody is listening
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:  # the parent's end broke: as its leaving, a stop
            self._on_message(Stop())
        if not self.closed.done():
            self.closed.set_result(None)

    async def flush_and_close(self) -> None:
        """Close once everything written has left (the parent reads the rest)."""
        if self._transport is not None:
            self._transport.close()
            await self.closed


async def _serve(sock: socket.socket, cfg: LoadConfig, index: int, nworkers: int) -> None:
    loop = asyncio.get_running_loop()
    try:
        engine = make_engine(cfg, index, nworkers)
    except Exception as exc:  # a scenario that fails to load: the parent shows its traceback
        send_blocking(sock, Failed(getattr(exc, "user_traceback", None) or repr(exc)))
        return
    send_blocking(sock, Ready())
    try:
        msg = recv_blocking(sock)
    except EOFError:
        return
    if not isinstance(msg, Start):
        return
    start_ns, duration_s = msg.start_ns, msg.duration_s

    def on_parent(m: object) -> None:  # a message of the parent
        if isinstance(m, Stop):
            engine.stop()

    _, uplink = await loop.connect_accepted_socket(lambda: Uplink(on_parent), sock)
    second = 1

    def tick() -> None:
        nonlocal second
        uplink.send(_numbered(engine.take(), second))
        second += 1
        handle_holder[0] = loop.call_later(
            max(0.0, (start_ns + second * 1_000_000_000 - time.monotonic_ns()) / 1e9), tick)

    handle_holder = [loop.call_later(max(0.0, (start_ns + 1_000_000_000 - time.monotonic_ns())
                                         / 1e9), tick)]
    try:
        await engine.run(start_ns, duration_s)
    finally:
        handle_holder[0].cancel()
        # nothing may be left pending when the loop closes (asyncio would warn the user)
        await engine.cancel_tasks()
        failure = getattr(engine, "failure", None)
        uplink.send(_numbered(engine.take(), second))
        if failure:
            uplink.send(Failed(failure))
        end = engine.end()
        # ru_maxrss is in KiB on Linux: the peak memory of this worker (bounded, by design)
        end.max_rss_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        uplink.send(end)
        await uplink.flush_and_close()


def _numbered(tick: Tick, second: int) -> Tick:
    tick.second = second
    return tick

if __name__ == "__main__":
    import sys

    worker_main(int(sys.argv[1]))
