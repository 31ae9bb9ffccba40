"""What a load test is asked to do: the target, the request, the model. Immutable, picklable
(it is sent to the worker processes)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from perflab.errors import InvalidValue, Unreachable
from perflab.load._schedule import Schedule, Stage

DEFAULT_DURATION_S = 10.0
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_DRAIN_S = 1.0  # open model: how long requests in flight may finish after the duration


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go. ``addr`` is resolved once, before the test (DNS is not under test)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    addr: str

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def origin(self) -> str:
        return f"{self.scheme}://{self.host_header}"


def parse_target(url: str, *, resolve: bool = True, allow_remote: bool = True) -> Target:
    """Check and resolve a URL. A malformed URL is a usage error (2); an unknown host, 3.

    ``allow_remote=False`` accepts only this machine (loopback addresses, ``localhost``): a
    load test aimed at another host by mistake (a production name pasted from a ticket) is
    refused before anything, even a DNS query, leaves the machine.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue(f"invalid URL {url!r}",
                           hint="give a full http:// or https:// URL, e.g. http://127.0.0.1:8080/")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidValue(f"invalid URL {url!r}: {exc}",
                           hint="the port must be a number from 1 to 65535") from exc
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.hostname
    if not allow_remote:
        _require_loopback(url, host, port)
    addr = host
    if resolve:
        addr = resolve_host(host, port)
    return Target(url, parts.scheme, host, port, path, addr)


def _require_loopback(url: str, host: str, port: int) -> None:
    refused = InvalidValue(
        f"refusing to send load to {host!r}, which is not this machine ({url})",
        hint="load tests go to loopback (127.0.0.1, ::1, localhost) unless you pass "
             "--allow-remote for a host you own",
    )
    if host == "localhost" or host.endswith(".localhost"):
        addr = resolve_host(host, port)  # /etc/hosts; never leaves the machine for these names
    else:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise refused from None
        addr = host
    if not ipaddress.ip_address(addr).is_loopback:
        raise refused


def resolve_host(host: str, port: int) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unreachable(f"cannot resolve host {host!r}: {exc.strerror}",
                          hint="check the host name in the URL (DNS error)") from exc
    return str(infos[0][4][0])


@dataclass(frozen=True, slots=True)
class RequestSpec:
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def encode(self, target: Target, path: str | None = None) -> bytes:
        """The request as bytes on the wire (built once, written for every request)."""
        names = {k.lower() for k, _ in self.headers}
        lines = [f"{self.method} {path or target.path} HTTP/1.1"]
        if "host" not in names:
            lines.append(f"Host: {target.host_header}")
        if "user-agent" not in names:
            lines.append("User-Agent: perflab")
        lines.extend(f"{k}: {v}" for k, v in self.headers)
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("latin-1") + self.body


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """A whole test. ``rate``/``stages`` select the open model; otherwise it is closed."""

    target: Target
    request: RequestSpec = field(default_factory=RequestSpec)
    connections: int = 10
    max_connections: int | None = None
    duration_s: float | None = None
    requests: int | None = None
    rate: float | None = None
    stages: tuple[Stage, ...] = ()
    think_time_s: float = 0.0
    timeout_s: float = DEFAULT_TIMEOUT_S
    workers: int = 1
    scenario_file: str | None = None
    open_scenarios: bool = False  # a scenario file with rate/stages scenarios
    scenario_models: tuple[str, ...] = ()  # "shop: closed, 10 connections" for the summary
    key_space: int | None = None  # "{n}" in the URL counts modulo this (a working set of keys)
    drain_s: float = DEFAULT_DRAIN_S
    traceparent: float | None = None  # a W3C traceparent per request, this share sampled
    # the capacity search on a scenario file: the open scenarios' arrival rates scaled so
    # they add up to this, in the file's proportions (one knob for the whole mix)
    scenario_rate: float | None = None

    @property
    def open_model(self) -> bool:
        return self.rate is not None or bool(self.stages) or self.open_scenarios

    @property
    def effective_duration_s(self) -> float | None:
        """Seconds the test lasts; None when only a request count bounds it."""
        if self.stages:
            return sum(s.duration_s for s in self.stages)
        if self.duration_s is not None:
            return self.duration_s
        if self.requests is not None:
            return None
        return DEFAULT_DURATION_S

    def schedule(self) -> Schedule | None:
        if self.stages:
            return Schedule(self.stages, start_rate=self.rate or 0.0)
        if self.rate is not None:
            dur = self.effective_duration_s
            if dur is None:  # -n with --rate: the time the count takes at that rate
                dur = (self.requests or 0) / self.rate
            return Schedule.constant(self.rate, dur)
        return None

    def limit_max_connections(self) -> int:
        if self.max_connections is not None:
            return max(self.max_connections, self.connections)
        return self.connections * 10 if self.open_model else self.connections

    def validate(self) -> None:
        if self.connections < 1:
            raise InvalidValue("--connections must be at least 1")
        if self.workers < 1:
            raise InvalidValue("--workers must be at least 1")
        if self.rate is not None and self.rate <= 0:
            raise InvalidValue("--rate must be positive", hint="e.g. --rate 1000 or --rate 2k")
        if self.requests is not None and self.requests < 1:
            raise InvalidValue("--requests must be at least 1")
        if self.timeout_s <= 0:
            raise InvalidValue("--timeout must be positive")
        if self.drain_s < 0:
            raise InvalidValue("--drain must not be negative", hint="e.g. --drain 1s or 0s")
        if self.key_space is not None and self.key_space < 1:
            raise InvalidValue("the key space must be at least 1")
        if self.traceparent is not None and not 0.0 <= self.traceparent <= 1.0:
            raise InvalidValue("--traceparent is the share of requests sampled, 0 to 1",
                               hint="e.g. --traceparent 0.1 to have 10 % of them traced")
