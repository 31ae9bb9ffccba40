"""The span receivers of ``perflab serve``: their options, and opening their ports.

Each receiver is on by default on loopback (OTLP/HTTP 4318, OTLP/gRPC 4317, Zipkin 9411; OTLP/HTTP
is also served on the hub's own port). A default port that is taken (a second hub, a local OTel
Collector) is a warning and that receiver stays off; a port the user asked for with its option
that cannot be opened is exit 3, naming the option. Any of them can be turned off
(``--no-otlp-http`` ...). A receiver off loopback needs the hub's token, as the hub does.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from perflab.cli._common import POSITIVE_DURATION
from perflab.errors import InvalidValue, TargetError

if TYPE_CHECKING:
    from perflab.trace import TraceHub
    from perflab.web import Listener

OTLP_HTTP = "127.0.0.1:4318"
OTLP_GRPC = "127.0.0.1:4317"
ZIPKIN = "127.0.0.1:9411"


def receiver_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--otlp-http", default=OTLP_HTTP, show_default=True, metavar="HOST:PORT",
                     help="OTLP/HTTP receiver of spans, metrics and logs (also served on the "
                          "hub's own port)."),
        click.option("--no-otlp-http", is_flag=True, help="No OTLP/HTTP port of its own."),
        click.option("--otlp-grpc", default=OTLP_GRPC, show_default=True, metavar="HOST:PORT",
                     help="OTLP/gRPC receiver (TraceService, MetricsService and LogsService "
                          "Export)."),
        click.option("--no-otlp-grpc", is_flag=True, help="No OTLP/gRPC receiver."),
        click.option("--zipkin", default=ZIPKIN, show_default=True, metavar="HOST:PORT",
                     help="Zipkin v2 JSON receiver (POST /api/v2/spans)."),
        click.option("--no-zipkin", is_flag=True, help="No Zipkin receiver."),
        click.option("--forward-otlp", metavar="URL", default=None,
                     help="Send every span received on to this OTLP/HTTP backend too (Jaeger, "
                          "Tempo, an OTel Collector), e.g. http://127.0.0.1:14318."),
        click.option("--trace-retention", type=POSITIVE_DURATION, default="7d",
                     show_default=True, help="Delete spans older than this."),
        click.option("--trace-max-size", default=None, metavar="SIZE",
                     help="Keep spans under about this much space (oldest go first), e.g. 2GB."),
        click.option("--sampling-strategies", type=click.Path(dir_okay=False), default=None,
                     metavar="PATH", help="Jaeger sampling strategies file served at "
                                          "/api/sampling (default: sample everything)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def parse_address(text: str, flag: str) -> tuple[str, int]:
    host, sep, port_s = text.rpartition(":")
    if not sep or not port_s.isascii() or not port_s.isdigit() or int(port_s) > 65535:
        raise InvalidValue(f"invalid {flag} {text!r}",
                           hint=f"write it as HOST:PORT, like {flag} 127.0.0.1:4318")
    return host.strip("[]") or "127.0.0.1", int(port_s)


T = TypeVar("T")


def open_port(asked: bool, flag: str, host: str, port: int,
              bind: Callable[[str, int], T]) -> T | None:
    """``bind(host, port)``; when it cannot be had, exit 3 naming ``flag`` if the user asked
    for that port, else a warning and None (a default port that is taken: that receiver stays
    off)."""
    try:
        return bind(host, port)
    except OSError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        if asked:
            raise TargetError(f"{flag} {host}:{port}: cannot listen there ({reason})",
                              hint=f"stop what listens there, pick another {flag} port, "
                                   f"or pass --no-{flag.removeprefix('--')}") from exc
        click.echo(f"perflab serve: warning: {flag} {host}:{port} is taken ({reason}); "
                   f"that receiver stays off (pass {flag} HOST:PORT to choose another "
                   "port)", err=True)
        return None


def open_receivers(ctx: click.Context, opts: dict[str, Any], token: str | None, *,
                   hub_port: int) -> tuple[TraceHub, tuple[Listener, ...], list[socket.socket]]:
    """The trace hub (its gRPC port bound) and the receivers' own HTTP sockets."""
    from perflab.logs import OTLP_HTTP_PATHS as OTLP_LOGS  # noqa: PLC0415
    from perflab.serving import listening_socket, require_token_off_loopback  # noqa: PLC0415
    from perflab.trace import Retention, TraceHub, forward_url, load_strategies  # noqa: PLC0415
    from perflab.units import parse_size  # noqa: PLC0415
    from perflab.web import Listener  # noqa: PLC0415

    max_bytes = None
    if opts["trace_max_size"]:
        max_bytes = parse_size(opts["trace_max_size"])
    if opts["forward_otlp"]:
        forward_url(opts["forward_otlp"])  # a bad URL is exit 2 before anything opens
    strategies = load_strategies(opts["sampling_strategies"]) \
        if opts["sampling_strategies"] else None
    hub = TraceHub(retention=Retention(int(opts["trace_retention"] * 1e9), max_bytes),
                   forward_url=opts["forward_otlp"], strategies=strategies, token=token)
    listeners: list[Listener] = []
    sockets: list[socket.socket] = []
    try:
        for name, paths in (("otlp_http", ("/v1/traces", "/v1/metrics", *OTLP_LOGS)),
                            ("zipkin", ("/api/v2/spans",)),
                            ("otlp_grpc", None)):
            flag = "--" + name.replace("_", "-")
            if opts[f"no_{name}"]:
                continue
            asked = ctx.get_parameter_source(name) is not ParameterSource.DEFAULT
            host, port = parse_address(opts[name], flag)
            require_token_off_loopback(host, token, where=f"{flag} {host}:{port}",
                                       what="the spans it receives")
            if port == hub_port and paths is not None:
                continue  # the hub's own port serves every receiver path already
            if paths is None:
                bound = open_port(asked, flag, host, port, hub.bind_grpc)
            else:
                bound = None
                sock = open_port(asked, flag, host, port, listening_socket)
                if sock is not None:
                    sockets.append(sock)
                    bound = sock.getsockname()[1]
                    listeners.append(Listener(host, bound, paths, flag))
            if bound is None:
                continue
            hub.endpoints.append(f"{flag.removeprefix('--')} {host}:{bound}")
    except BaseException:  # nothing stays open behind an error
        for sock in sockets:
            sock.close()
        hub.stop()
        raise
    return hub, tuple(listeners), sockets


def receivers_line(hub: TraceHub, listeners: tuple[Listener, ...]) -> str:
    del listeners
    parts = ["otlp-http on the hub's port", *hub.endpoints]
    return ", ".join(parts)
