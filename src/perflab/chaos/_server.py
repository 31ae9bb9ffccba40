"""Two event loops (uvloop): one for every proxy's connections, and the API's own, in a thread
of its own, so the API answers while thousands of connections keep the proxies' loop busy
(``ChaosApi`` hands each request's step to the proxies' loop). ``ChaosServer`` serves the API on
a socket bound beforehand; ``running_server`` runs one in a thread (tests, benchmarks,
embedding).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

import uvicorn

from perflab.chaos._api import create_api
from perflab.chaos._proxy import ProxyCollection
from perflab.errors import InvalidFile, InvalidValue
from perflab.serving import settle_heap

# Each API request wakes the API's thread, and a change the bands' writer too, several times;
# while the proxies' loop is busy, each wake-up waits for the GIL up to the switch interval.
# At Python's 5 ms, under 1,000 connections: changes p50 4.9-20 ms, p90 24-44 ms; at 1 ms,
# alternated in the same session: p50 2.4-12.9 ms, p90 7-25 ms (benchmarks/bench_chaos_proxy.py)
SWITCH_INTERVAL_S = 0.001
# The cyclic collector runs in whichever thread allocates, holding the GIL: the API waits out
# every pass. With 1,000 connections' objects alive, its full (gen2) passes took 89-366 ms on the
# loaded machine; settled (serving.settle_heap) they summed 2.6 ms against 31 ms.

if TYPE_CHECKING:
    import socket
    from collections.abc import Iterator
    from pathlib import Path

    from perflab.chaos._bands import FaultBands
    from perflab.chaos._toxics import ApiError


class ChaosServer:
    """The fault proxy's API and its proxies."""

    def __init__(self, sock: socket.socket, *, token: str | None = None,
                 allowed_hosts: tuple[str, ...] = (), populate: object = None,
                 server_class: type[uvicorn.Server] = uvicorn.Server,
                 bands: FaultBands | None = None) -> None:
        """``server_class``: the CLI passes its uvicorn server that takes Ctrl-C and SIGTERM
        as a clean stop (exit 0). ``bands``: where toxics become bands on a run."""
        self.sock = sock
        self.proxies = ProxyCollection(bands)
        self.populate = populate
        self._api_options: dict[str, Any] = {"listen_host": str(sock.getsockname()[0]),
                                             "allowed_hosts": allowed_hosts, "token": token}
        self._app: Any = None  # the API, made once the proxies' loop runs
        config = uvicorn.Config(self._asgi, log_level="warning", access_log=False,
                                lifespan="off", loop="none", http="auto", interface="asgi3")
        self.server = server_class(config)
        self.started = threading.Event()
        self.failure: ApiError | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    async def _asgi(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)

    async def serve(self) -> None:
        """The proxies' loop: populate, then serve the API from its thread until it stops."""
        loop = asyncio.get_running_loop()
        self._app = create_api(self.proxies, proxies_loop=loop, **self._api_options)
        api_done = asyncio.Event()
        try:
            if self.populate is not None:
                _, self.failure = await self.proxies.populate(self.populate)
                if self.failure is not None:
                    return
            if self.proxies.bands is not None:
                self.proxies.bands.follow()  # --follow-load, for chaos proxy and serve --chaos
            api = threading.Thread(target=self._run_api, args=(loop, api_done), daemon=True,
                                   name="perflab-chaos-api")
            api.start()
            with self._stop_on_signals(loop):
                await api_done.wait()
        finally:
            self.proxies.close()
            self.started.set()

    def _run_api(self, proxies_loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> None:
        import uvloop  # noqa: PLC0415  # lazy: only a running proxy needs it

        try:
            uvloop.run(self._serve_api())
        finally:
            with contextlib.suppress(RuntimeError):  # the proxies' loop ended first
                proxies_loop.call_soon_threadsafe(done.set)

    async def _serve_api(self) -> None:
        serving = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        # uvicorn tells that it listens only through a flag
        while not self.server.started and not serving.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        self.started.set()
        await serving

    @contextlib.contextmanager
    def _stop_on_signals(self, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        """In the main thread, Ctrl-C and SIGTERM stop the server cleanly (uvicorn catches
        them only in the main thread, where its API no longer runs)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop)
        try:
            yield
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    def run(self) -> None:
        import uvloop  # noqa: PLC0415  # lazy: only a running proxy needs it

        if threading.current_thread() is threading.main_thread():
            # the process is the proxy's own (perflab chaos proxy), so its GIL and its collector
            # are ours to tune; no connection exists yet, so none is frozen
            sys.setswitchinterval(SWITCH_INTERVAL_S)
            settle_heap()
        uvloop.run(self.serve())

    def stop(self) -> None:
        self.server.should_exit = True


def read_config(path: Path) -> object:
    """A Toxiproxy ``-config`` file: a JSON array of proxies, as for ``POST /populate``."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {exc.strerror or exc}",
                           hint="give a JSON file listing proxies") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidFile(f"not JSON: {exc}", path=str(path),
                          hint='a list like [{"name": "db", "listen": "127.0.0.1:26379", '
                               '"upstream": "127.0.0.1:6379"}]') from exc
    if not isinstance(doc, list):
        raise InvalidFile("expected a JSON array of proxies", path=str(path))
    return doc


@contextlib.contextmanager
def running_server(sock: socket.socket, **options: object) -> Iterator[ChaosServer]:
    """A ``ChaosServer`` serving in a thread until the block ends."""
    server = ChaosServer(sock, **options)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, name="perflab-chaos", daemon=True)
    thread.start()
    server.started.wait(30)
    try:
        yield server
    finally:
        server.stop()
        thread.join(30)
