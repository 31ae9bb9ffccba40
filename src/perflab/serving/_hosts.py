"""Who may talk to a port: the ``Host`` names it serves, loopback by default, a token off it.

DNS rebinding: a web page the user visits can point its own name at 127.0.0.1 and then read a
loopback server through the user's browser, with the browser's ``Host: evil.example``. Refusing
every ``Host`` the server was not started for closes that hole whatever the token says. An IP
literal cannot be rebound (the browser sends the name it resolved, not the address), so on a
wildcard listen address any address of the machine is accepted; names must be loopback names,
the ``--listen`` name, or ones given with ``--allowed-host``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from perflab.errors import InvalidValue, UsageError

# names every resolver answers with loopback (RFC 6761 reserves "localhost." and its subdomains)
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost",
                             "ip6-loopback"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104  # what "every address" is written as
_MAX_SHOWN = 100  # a hostile Host header is echoed at most this long


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def is_loopback_host(host: str, *, resolve: bool = False) -> bool:
    """``host`` means this machine's loopback: 127.0.0.0/8, ::1, ``localhost`` and its
    subdomains. With ``resolve`` (for a listen address, never for a request's ``Host``), a
    name counts when every address it resolves to is loopback."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    addr = _address(name)
    if addr is not None:
        return addr.is_loopback
    if not resolve or not name:
        return False
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidValue(f"cannot resolve the --listen host {host!r}",
                           hint="use an IP address such as 127.0.0.1") from exc
    return bool(infos) and all(
        (a := _address(str(info[4][0]))) is not None and a.is_loopback for info in infos)


def http_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` with an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def host_name(header: str) -> str:
    """The name or address of a ``Host`` header value, without port or brackets, lowercased."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") > 1:  # an unbracketed IPv6 address: no port to split off
        return value
    return value.partition(":")[0].rstrip(".")


def allowed_host(text: str) -> str:
    """An ``--allowed-host`` value: a DNS name or an IP address, nothing else."""
    name = text.strip().strip("[]").rstrip(".").lower()
    ok = _address(name) is not None or (
        0 < len(name) <= 253 and all(
            0 < len(label) <= 63 and label.replace("-", "").replace("_", "").isascii()
            and label.replace("-", "").replace("_", "").isalnum() for label in name.split(".")))
    if not ok:
        raise InvalidValue(f"invalid --allowed-host {text!r}",
                           hint="give a host name or an address, without scheme, port or "
                                "path: --allowed-host perflab.example.com")
    return name


@dataclass(frozen=True, slots=True)
class HostRule:
    """The ``Host`` names a port serves besides the loopback ones."""

    names: frozenset[str] = frozenset()
    any_address: bool = False  # listening on every address: any IP literal is one of ours

    @classmethod
    def for_listen(cls, listen_host: str, allowed: Iterable[str] = ()) -> HostRule:
        """The rule for a port listening on ``listen_host``, with extra ``allowed`` names."""
        listen = listen_host.strip().strip("[]").lower()
        names = {allowed_host(a) for a in allowed}
        if listen not in _WILDCARDS:
            names.add(listen.rstrip("."))
        return cls(frozenset(names), any_address=listen in _WILDCARDS)

    def allows(self, header: str | None) -> bool:
        """Whether a request with this ``Host`` header is for us. No header at all (HTTP/1.0)
        cannot come from a browser being rebound, so it passes."""
        if header is None:
            return True
        name = host_name(header)
        if name in self.names or is_loopback_host(name):
            return True
        return self.any_address and _address(name) is not None

    def refusal(self, header: str) -> str:
        shown = header[:_MAX_SHOWN]
        return (f"this server does not answer for the host {shown!r} (a DNS rebinding guard); "
                "it serves loopback names, its --listen address and names given with "
                "--allowed-host")


class HostGuard:
    """ASGI middleware: requests and websockets for another ``Host`` get 421 (websockets are
    closed before they are accepted). Put it outermost, before any authentication."""

    def __init__(self, app: ASGIApp, rule: HostRule) -> None:
        self.app = app
        self.rule = rule

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope.get("headers", ()) if k == b"host"), None)
        header = None if raw is None else raw.decode("latin-1")
        if self.rule.allows(header):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": self.rule.refusal(header or ""), "status": 421}).encode()
        await send({"type": "http.response.start", "status": 421,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def bearer_matches(authorization: str | None, token: bytes) -> bool:
    """``Authorization: Bearer TOKEN`` carries ``token`` (compared in constant time)."""
    scheme, _, value = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token)


def read_token_file(path: str | Path) -> str:
    """The token in a file (its first line, whitespace stripped): unlike ``--token``, it never
    shows in ``ps`` or in perflab's own process lists."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise InvalidValue(f"cannot read the token file {p}: {reason}",
                           hint="give a readable file holding the token on its first line"
                           ) from exc
    token = text.splitlines()[0].strip() if text.strip() else ""
    if not token:
        raise InvalidValue(f"the token file {p} is empty",
                           hint="write the token on its first line: "
                                "python -c 'import secrets; print(secrets.token_urlsafe())'")
    return token


def require_token_off_loopback(host: str, token: str | None, *, where: str, what: str) -> None:
    """Loopback by default; any other listen address needs a token (UsageError otherwise).
    ``where`` is the address as the user wrote it, ``what`` what a stranger could read."""
    if token or is_loopback_host(host, resolve=True):
        return
    raise UsageError(
        f"refusing to serve on {where} without a token: anyone who can reach it could read "
        f"{what}",
        hint="pass --token-file PATH (or set PERFLAB_TOKEN), or listen on 127.0.0.1")
