"""Proxies and their collection: listen, accept, connect upstream, keep the toxic chains.

The proxies' methods run on their event loop and never block it: binding is a non-blocking
socket call and names resolve through the loop's resolver. Toxics are the exception: adding,
changing or removing one is made on the API's thread, under the collection's lock, without
waiting for the proxies' loop (behind a thousand connections' callbacks, one turn of it took
100-300 ms on a loaded machine). A toxic change only edits a list the links read at their next
chunk; what must act on the links (release held chunks, arm a timeout, a duration's timer) is
handed to the loop without waiting for it (Toxiproxy waits for every link to take the change,
which is how its API hangs under load).

Reads are answered from ``ProxyCollection.snapshot``: the proxies as their API documents,
rebuilt after every change (under the lock) and swapped in whole, never edited, so a reader on
any thread sees one consistent state without the lock, and a GET after a change's answer sees
the change.

Fault traffic stays on this machine: a proxy listens on and connects to loopback addresses
only (127.0.0.0/8, ::1), checked when it is created and again at every upstream connection
(a name could resolve elsewhere later).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import socket
import threading
import time
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from perflab.chaos._link import Connection, Counters, Side
from perflab.chaos._toxics import (
    MISSING_FIELD,
    PROXY_ALREADY_EXISTS,
    PROXY_NOT_FOUND,
    TOXIC_ALREADY_EXISTS,
    TOXIC_NOT_FOUND,
    ApiError,
    Toxic,
    duration_seconds,
    finish_toxic,
    new_toxic,
    read_attributes,
    read_duration,
    read_toxicity,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from perflab.chaos._bands import FaultBands
    from perflab.chaos._contracts import ProxyDoc, ToxicDoc
    from perflab.chaos._toxics import Stream

LOOPBACK_HINT = ("perflab sends fault traffic to this machine only: listen on and connect to "
                 "127.0.0.1, ::1 or localhost")


def split_address(text: str, what: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6); an empty host is 127.0.0.1 (Toxiproxy would
    listen on every address, which perflab does not)."""
    host, sep, port_s = text.rpartition(":")
    if not sep or not port_s.isdigit() or int(port_s) > 65535:  # the port range
        raise ApiError(f"{what} {text!r}: address must be host:port", 400,
                       hint="like 127.0.0.1:8080 or [::1]:8080")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port_s)


async def loopback_addresses(host: str, port: int, what: str) -> list[tuple[Any, ...]]:
    """The addresses ``host`` resolves to, all loopback, or an ApiError (400)."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if not literal.is_loopback:
            raise ApiError(f"{what} {host}:{port} is not a loopback address", 400,
                           hint=LOOPBACK_HINT)
        family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
        return [(family, (host, port))]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ApiError(f"{what} {host}:{port}: lookup {host}: no such host", 400,
                       hint=LOOPBACK_HINT) from exc
    addresses = [(info[0], info[4]) for info in infos]
    if not addresses or not all(ipaddress.ip_address(str(a[1][0]).split("%")[0]).is_loopback
                                for a in addresses):
        raise ApiError(f"{what} {host}:{port} resolves to a non-loopback address", 400,
                       hint=LOOPBACK_HINT)
    return addresses


def _format_address(sockname: tuple[Any, ...]) -> str:
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Proxy:
    """One proxy: a listening socket, its connections and its two toxic chains.

    Made on the proxies' ``loop``. Its toxic methods may be called from any thread: they hold
    ``lock`` (the collection's) and call ``published`` (the collection's ``publish``) once the
    change is made."""

    def __init__(self, name: str, listen: str, upstream: str, *,
                 loop: asyncio.AbstractEventLoop, lock: threading.RLock | None = None,
                 published: Callable[[], None] = lambda: None) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.chains: dict[Stream, list[Toxic]] = {"upstream": [], "downstream": []}
        self.counters = Counters()
        self.connections: set[Connection] = set()
        self.loop = loop
        self.lock = lock or threading.RLock()
        self.published = published
        self._server: asyncio.Server | None = None
        # a toxic's duration: its current deadline (under the lock; a timer whose deadline is
        # no longer there does nothing) and its timer (on the loop only)
        self._expiry_token: dict[int, _Deadline] = {}
        self._expiry: dict[int, asyncio.TimerHandle] = {}
        self._connecting: set[asyncio.Task[None]] = set()
        self.bands: FaultBands | None = None  # the toxics' bands on a run, when there's a store

    def to_json(self) -> ProxyDoc:
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": self.enabled, "toxics": [t.to_json() for t in self.toxics()]}

    def toxics(self) -> list[Toxic]:
        return [*self.chains["upstream"], *self.chains["downstream"]]

    # -- listening -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.enabled:
            return
        host, port = split_address(self.listen, "listen")
        family, addr = (await loopback_addresses(host, port, "listen"))[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setblocking(False)  # noqa: FBT003  # socket's API
        try:
            sock.bind(addr)
            sock.listen(1024)
        except OSError as exc:
            sock.close()
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            if exc.errno == errno.EADDRINUSE:
                reason = "address already in use"
            # Toxiproxy's words (Go's net.Listen error), a 500 as it answers
            raise ApiError(f"listen tcp {_format_address(addr)}: bind: {reason.lower()}", 500,
                           hint="choose another port, or port 0 for any free one") from exc
        self.listen = _format_address(sock.getsockname())
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accepted, sock=sock)
        self.enabled = True

    def stop(self) -> None:
        if not self.enabled:
            return
        self.enabled = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.close()

    def _accepted(self) -> Side:
        client = Side(hold=True)
        task = asyncio.get_running_loop().create_task(self._connect(client))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)
        return client

    async def _connect(self, client: Side) -> None:
        """Connect the accepted client to the upstream; the client is not read meanwhile."""
        await asyncio.sleep(0)  # let the client's connection_made run first
        try:
            host, port = split_address(self.upstream, "upstream")
            family, addr = (await loopback_addresses(host, port, "upstream"))[0]
            _, upstream = await asyncio.get_running_loop().create_connection(
                Side, addr[0], addr[1], family=family)
        except (ApiError, OSError):
            client.close()  # Toxiproxy closes the client when the upstream cannot be had
            return
        if not self.enabled or client.lost:
            client.close()
            upstream.close()
            return
        conn = Connection(client, upstream, self.chains, self.counters,
                          self.connections.discard)
        self.connections.add(conn)
        conn.start()

    # -- toxics ----------------------------------------------------------------------------------

    def find(self, name: str) -> Toxic | None:
        return next((t for t in self.toxics() if t.name == name), None)

    def add_toxic(self, body: object, *, banded: bool = True) -> ToxicDoc:
        """Add a toxic from the API's body; ``banded`` False: its caller records the fault on
        the timeline itself (``chaos net --delay``), so it gets no band here, then or later."""
        toxic = new_toxic(body)
        toxic.banded = banded
        assert isinstance(body, dict)  # new_toxic checked it
        with self.lock:
            if self.find(toxic.name) is not None:
                raise TOXIC_ALREADY_EXISTS
            finish_toxic(toxic, body)
            self.chains[toxic.stream].append(toxic)
            self._changed(toxic.stream)
            if self.bands is not None and toxic.banded:
                self.bands.added(self.name, toxic)
            if toxic.duration is not None:  # after the band's start: it lasts the whole duration
                self._expire_after(toxic)
            self.published()
            return toxic.to_json()

    def update_toxic(self, name: str, body: object) -> ToxicDoc:
        with self.lock:
            toxic = self.find(name)
            if toxic is None:
                raise TOXIC_NOT_FOUND
            if not isinstance(body, dict):
                raise ApiError("bad request body: the body must be a JSON object", 400)
            attributes, texts = read_attributes(toxic.type, body.get("attributes"),
                                                toxic.attributes, toxic.texts)
            toxicity = read_toxicity(body.get("toxicity", toxic.toxicity))
            duration = read_duration(body.get("duration", toxic.duration))
            toxic.attributes, toxic.texts, toxic.toxicity = attributes, texts, toxicity
            toxic.generation += 1
            new_clock = duration != toxic.duration or "duration" in body
            if new_clock:
                toxic.duration = duration
                self._cancel_expiry(toxic)
            self._changed(toxic.stream)
            if self.bands is not None and toxic.banded:
                self.bands.changed(self.name, toxic)
            if new_clock and duration is not None:  # after the new band's start
                self._expire_after(toxic)
            self.published()
            return toxic.to_json()

    def remove_toxic(self, name: str) -> None:
        with self.lock:
            toxic = self.find(name)
            if toxic is None:
                raise TOXIC_NOT_FOUND
            self._cancel_expiry(toxic)
            self.chains[toxic.stream].remove(toxic)
            self._changed(toxic.stream)
            if self.bands is not None:
                self.bands.removed(self.name, toxic)
            self.published()

    def reset_toxics(self) -> None:
        with self.lock:
            for toxic in self.toxics():
                self.remove_toxic(toxic.name)

    def _on_loop(self, callback: Callable[..., object], *args: object) -> None:
        """``callback`` on the proxies' loop, from any thread, without waiting for it."""
        with contextlib.suppress(RuntimeError):  # the loop has stopped: nothing to act on
            self.loop.call_soon_threadsafe(callback, *args)

    def _changed(self, stream: Stream) -> None:
        self._on_loop(self._tell_links, stream)

    def _tell_links(self, stream: Stream) -> None:
        for conn in list(self.connections):
            conn.toxics_changed(stream)

    def _expire_after(self, toxic: Toxic) -> None:
        """Under the lock: a new clock for ``toxic``'s duration, from now."""
        assert toxic.duration is not None  # the callers' condition
        token = _Deadline(time.monotonic() + duration_seconds(toxic.duration))
        self._expiry_token[id(toxic)] = token
        self._on_loop(self._set_timer, toxic, token)

    def _cancel_expiry(self, toxic: Toxic) -> None:
        """Under the lock: no clock for ``toxic`` (a timer already set finds its token gone)."""
        self._expiry_token.pop(id(toxic), None)
        self._on_loop(self._set_timer, toxic, None)

    def _set_timer(self, toxic: Toxic, token: _Deadline | None) -> None:
        """On the loop: the timer of ``toxic``'s clock ``token`` (None: no timer)."""
        handle = self._expiry.pop(id(toxic), None)
        if handle is not None:
            handle.cancel()
        if token is not None:
            self._expiry[id(toxic)] = self.loop.call_later(
                max(0.0, token.at - time.monotonic()), self._expire, toxic, token)

    def _expire(self, toxic: Toxic, token: _Deadline) -> None:
        with self.lock:
            if self._expiry_token.get(id(toxic)) is not token:  # changed since the timer
                return
            # a loop's timers may fire a little early (uvloop's keep milliseconds, asyncio's
            # its clock's resolution): a toxic lasts at least its duration
            left = token.at - time.monotonic()
            if left > 0:
                self._expiry[id(toxic)] = self.loop.call_later(left, self._expire, toxic, token)
                return
            self._expiry.pop(id(toxic), None)
            if toxic in self.chains[toxic.stream]:
                self.remove_toxic(toxic.name)


class _Deadline:
    """When a toxic's duration ends (time.monotonic()); also the identity of that clock."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class ProxyCollection:
    """The named proxies of one server.

    ``lock`` covers the proxies and their toxic chains: toxic changes come from the API's
    thread, the rest (and a duration's end) from the proxies' loop. ``snapshot`` is what the
    reads answer; every change ends with ``publish``."""

    def __init__(self, bands: FaultBands | None = None) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.bands = bands
        self.lock = threading.RLock()
        self.snapshot: Mapping[str, ProxyDoc] = MappingProxyType({})

    def publish(self) -> None:
        """A new ``snapshot`` of the proxies as they are now (any thread)."""
        with self.lock:
            self.snapshot = MappingProxyType(
                {name: proxy.to_json() for name, proxy in self.proxies.items()})

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise PROXY_NOT_FOUND
        return proxy

    # -- toxics, from the API's thread ------------------------------------------------------------

    def add_toxic(self, proxy: str, body: object, *, banded: bool = True) -> ToxicDoc:
        with self.lock:
            return self.get(proxy).add_toxic(body, banded=banded)

    def update_toxic(self, proxy: str, toxic: str, body: object) -> ToxicDoc:
        with self.lock:
            return self.get(proxy).update_toxic(toxic, body)

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        with self.lock:
            self.get(proxy).remove_toxic(toxic)

    # -- proxies, on the proxies' loop -------------------------------------------------------------

    async def add(self, body: object) -> Proxy:
        """``POST /proxies``: 201 with the proxy, started unless ``enabled`` is false."""
        name, listen, upstream, enabled = read_proxy(body, "")
        if name in self.proxies:
            raise PROXY_ALREADY_EXISTS
        proxy = await self._new(name, listen, upstream)
        if enabled:
            await proxy.start()
        with self.lock:
            self.proxies[name] = proxy
            self.publish()
        return proxy

    async def _new(self, name: str, listen: str, upstream: str) -> Proxy:
        host, port = split_address(upstream, "upstream")
        await loopback_addresses(host, port, "upstream")
        split_address(listen, "listen")
        proxy = Proxy(name, listen, upstream, loop=asyncio.get_running_loop(), lock=self.lock,
                      published=self.publish)
        proxy.bands = self.bands
        return proxy

    async def populate(self, body: object) -> tuple[list[Proxy], ApiError | None]:
        """``POST /populate``: add or replace each proxy; stops at the first error and says
        which proxies were done, as Toxiproxy does."""
        if not isinstance(body, list):
            raise ApiError("bad request body: expected a JSON array of proxies", 400)
        wanted = []
        for i, item in enumerate(body):
            wanted.append(read_proxy(item, f" at proxy {i + 1}"))
        done: list[Proxy] = []
        try:
            for name, listen, upstream, enabled in wanted:
                try:
                    done.append(await self._add_or_replace(name, listen, upstream,
                                                           enabled=enabled))
                except ApiError as exc:
                    return done, exc
            return done, None
        finally:
            self.publish()

    async def _add_or_replace(self, name: str, listen: str, upstream: str, *,
                              enabled: bool) -> Proxy:
        existing = self.proxies.get(name)
        if existing is not None:
            if not await _differs(existing, listen, upstream):
                return existing
            existing.reset_toxics()  # the replacement starts without them: their bands end
            existing.stop()
        proxy = await self._new(name, listen, upstream)
        if enabled:
            await proxy.start()
        with self.lock:
            self.proxies[name] = proxy
        return proxy

    async def update(self, name: str, body: object) -> Proxy:
        """``POST``/``PATCH /proxies/{name}``: new listen/upstream restart it; ``enabled``."""
        try:
            return await self._update(name, body)
        finally:
            self.publish()

    async def _update(self, name: str, body: object) -> Proxy:
        proxy = self.get(name)
        if not isinstance(body, dict):
            raise ApiError("bad request body: the body must be a JSON object", 400)
        listen = body.get("listen", proxy.listen)
        upstream = body.get("upstream", proxy.upstream)
        enabled = body.get("enabled", proxy.enabled)
        if not isinstance(listen, str) or not isinstance(upstream, str) or not isinstance(
                enabled, bool):
            raise ApiError("bad request body: listen and upstream are strings, enabled a bool",
                           400)
        if await _differs(proxy, listen, upstream):
            host, port = split_address(upstream, "upstream")
            await loopback_addresses(host, port, "upstream")
            was = proxy.enabled
            proxy.stop()
            proxy.listen, proxy.upstream = listen, upstream
            if was and enabled:
                await proxy.start()
        if enabled and not proxy.enabled:
            await proxy.start()
        elif not enabled:
            proxy.stop()
        return proxy

    def remove(self, name: str) -> None:
        with self.lock:
            proxy = self.get(name)
            proxy.stop()
            proxy.reset_toxics()
            del self.proxies[name]
            self.publish()

    async def reset(self) -> None:
        """``POST /reset``: every proxy enabled again, every toxic removed."""
        try:
            for proxy in list(self.proxies.values()):
                await proxy.start()
                proxy.reset_toxics()
        finally:
            self.publish()

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()
        if self.bands is not None:
            self.bands.close()


async def _differs(proxy: Proxy, listen: str, upstream: str) -> bool:
    if upstream != proxy.upstream:
        return True
    host, port = split_address(listen, "listen")
    family, addr = (await loopback_addresses(host, port, "listen"))[0]
    del family
    return _format_address(addr) != proxy.listen


def read_proxy(body: object, where: str) -> tuple[str, str, str, bool]:
    """(name, listen, upstream, enabled) of a proxy in a request, Toxiproxy's checks."""
    if not isinstance(body, dict):
        raise ApiError("bad request body: a proxy must be a JSON object", 400)
    name = body.get("name", "")
    listen = body.get("listen", "") or "127.0.0.1:0"
    upstream = body.get("upstream", "")
    enabled = body.get("enabled", True)
    if enabled is None:
        enabled = True
    if not all(isinstance(v, str) for v in (name, listen, upstream)) or not isinstance(
            enabled, bool):
        raise ApiError("bad request body: name, listen and upstream are strings, enabled a "
                       "bool", 400)
    if not name:
        raise MISSING_FIELD.joined(f"name{where}")
    if not upstream:
        raise MISSING_FIELD.joined(f"upstream{where}")
    return name, listen, upstream, enabled
