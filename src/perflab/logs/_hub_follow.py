"""A client of a running hub's live tail (``/loki/api/v1/tail``), for ``perflab logs query
--follow``: the hub pushes each line as its ingest commits it, where polling the store would
look twice a second.

A blocking websocket over one socket, spoken with wsproto (already the hub's websocket
library: no second one). ``HubTail.open`` connects and completes the handshake within
``CONNECT_S``; anything that stops it there (nothing listens, the PID's port now belongs to
something else, a refused token, a full hub) is ``HubUnavailable`` with ``accepted`` false, and
the caller polls the store instead, having printed nothing. ``messages`` then yields each
message of the tail as Loki's JSON; the hub going away (stopped, killed, the socket closed) is
``HubUnavailable`` with ``accepted`` true.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import urllib.parse
from typing import TYPE_CHECKING, cast

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from perflab.errors import InvalidValue
from perflab.serving import read_token_file
from perflab.store import running_hub

if TYPE_CHECKING:
    from collections.abc import Iterator

    from perflab.logs._contracts import LokiTailDoc

CONNECT_S = 5.0      # connect and handshake; a hub that takes longer is treated as absent
_READ = 65536
MAX_MESSAGE = 64 * 2**20  # one tail message holds at most 1,000 lines of at most 1 MiB


class HubUnavailable(Exception):
    """The hub cannot (or can no longer) be followed; ``accepted``: after the handshake."""

    def __init__(self, reason: str, *, accepted: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.accepted = accepted


def tail_target(query: str, *, start_ns: int, limit: int) -> str:
    return "/loki/api/v1/tail?" + urllib.parse.urlencode(
        {"query": query, "start": str(start_ns), "limit": str(limit), "delay_for": "0"})


class HubTail:
    """One live tail of a hub (see the module)."""

    def __init__(self, url: str, token: str | None) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise HubUnavailable(f"not a URL this client follows: {url!r}", accepted=False)
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 80
        self.token = token
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._sock: socket.socket | None = None

    def open(self, target: str) -> None:
        host_header = f"[{self.host}]" if ":" in self.host else self.host
        headers = [(b"authorization", f"Bearer {self.token}".encode())] if self.token else []
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=CONNECT_S)
            self._send(Request(host=f"{host_header}:{self.port}", target=target,
                               extra_headers=headers))
            refused = self._handshake()
        except (OSError, LocalProtocolError, RemoteProtocolError) as exc:
            self.close()
            raise HubUnavailable(_os_reason(exc), accepted=False) from None
        if refused is not None:
            self.close()
            raise HubUnavailable(f"the hub refused the tail (HTTP {refused})", accepted=False)
        assert self._sock is not None
        self._sock.settimeout(None)  # lines may be hours apart

    def _handshake(self) -> int | None:
        """None once the hub accepts the socket, else the HTTP status it answered."""
        while True:
            for event in self._events():
                if isinstance(event, AcceptConnection):
                    return None
                if isinstance(event, RejectConnection):
                    return event.status_code

    def messages(self) -> Iterator[LokiTailDoc]:
        """Each message of the tail as it arrives, until the hub goes (``HubUnavailable``)."""
        parts: list[str] = []
        size = 0
        try:
            while True:
                for event in self._events():
                    if isinstance(event, TextMessage):
                        parts.append(event.data)
                        size += len(event.data)
                        if size > MAX_MESSAGE:
                            raise HubUnavailable("a tail message over 64 MiB", accepted=True)
                        if event.message_finished:
                            yield cast("LokiTailDoc", json.loads("".join(parts)))
                            parts, size = [], 0
                    elif isinstance(event, Ping):
                        self._send(event.response())
                    elif isinstance(event, CloseConnection):
                        with contextlib.suppress(OSError, LocalProtocolError):  # gone already
                            self._send(event.response())
                        raise HubUnavailable(_close_reason(event), accepted=True)
        except (OSError, LocalProtocolError, RemoteProtocolError, ValueError) as exc:
            raise HubUnavailable(_os_reason(exc), accepted=True) from None

    def close(self) -> None:
        """Say goodbye when the socket is still open (Ctrl-C), then close it."""
        if self._sock is None:
            return
        with contextlib.suppress(OSError, LocalProtocolError):  # gone already
            self._send(CloseConnection(code=1000))
        self._sock.close()
        self._sock = None

    def _send(self, event: Event) -> None:
        assert self._sock is not None
        self._sock.sendall(self._ws.send(event))

    def _events(self) -> Iterator[object]:
        assert self._sock is not None
        data = self._sock.recv(_READ)
        if not data:
            raise ConnectionResetError(errno.ECONNRESET, "the hub closed the connection")
        self._ws.receive_data(data)
        yield from self._ws.events()


def _close_reason(event: CloseConnection) -> str:
    why = f": {event.reason}" if event.reason else ""
    return f"the hub closed the tail (code {event.code}{why})"


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_S:g} s"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def hub_token(ref: dict[str, str] | None) -> str | None:
    """The token a hub record refers to, read now: its file's (as ``serve --token-file`` reads
    it) or the variable's in our own environment; None without one or when it gives none."""
    if ref is None:
        return None
    if "file" in ref:
        try:
            return read_token_file(ref["file"])
        except InvalidValue:  # gone, unreadable or empty: the caller says so, then polls
            return None
    return os.environ.get(ref.get("env", "")) or None


def hub_tail(store_path: str | os.PathLike[str], query: str, *, start_ns: int, limit: int,
             ) -> tuple[HubTail | None, str]:
    """The open live tail of the hub recorded beside the store, or None and why not (no hub
    recorded, its process gone, its token out of reach here, or it did not answer)."""
    found = running_hub(store_path)
    if found is None:
        return None, "no running perflab serve recorded for this store"
    token = hub_token(found.token_ref)
    if found.token_ref and token is None:
        where = found.token_ref.get("file") or "$" + found.token_ref.get("env", "PERFLAB_TOKEN")
        return None, f"the hub at {found.url} needs its token, and {where} gives none here"
    tail = HubTail(found.url, token)
    try:
        tail.open(tail_target(query, start_ns=start_ns, limit=limit))
    except HubUnavailable as exc:
        return None, f"the hub at {found.url} did not answer: {exc.reason}"
    return tail, ""
