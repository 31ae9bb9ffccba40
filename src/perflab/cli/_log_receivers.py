"""The log receivers of ``perflab serve`` that have ports of their own: Fluentd's forward
protocol (``--fluent-forward``, TCP, default 127.0.0.1:24224) and syslog (``--syslog``, TCP
and UDP on one port, default 127.0.0.1:1514). The HTTP ones (Loki push, OTLP ``/v1/logs``,
Elasticsearch ``_bulk``) are routes of the hub's own port.

Neither protocol carries the hub's token, so a port off loopback needs ``--allow-remote-logs``
and prints a warning. A default port that is taken is a warning and that receiver stays off;
a port asked for with its option that cannot be had is exit 3, naming it (as the span
receivers).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from perflab.cli._receivers import open_port, parse_address
from perflab.errors import UsageError

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable

    from perflab.logs import LogsHub, Retention

FLUENT_FORWARD = "127.0.0.1:24224"
SYSLOG = "127.0.0.1:1514"
OPTION_NAMES = frozenset({"fluent_forward", "no_fluent_forward", "fluent_shared_key",
                          "syslog", "no_syslog", "allow_remote_logs"})


def log_receiver_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--fluent-forward", default=FLUENT_FORWARD, show_default=True,
                     metavar="HOST:PORT",
                     help="Fluentd forward-protocol receiver (Fluentd, Fluent Bit, "
                          "fluent-logger): msgpack over TCP."),
        click.option("--no-fluent-forward", is_flag=True, help="No forward-protocol receiver."),
        click.option("--fluent-shared-key", envvar="PERFLAB_FLUENT_SHARED_KEY",
                     show_envvar=True, default=None, metavar="KEY",
                     help="Require the forward protocol's shared_key handshake with this key "
                          "(prefer the environment variable: a command line is visible to "
                          "every user)."),
        click.option("--syslog", default=SYSLOG, show_default=True, metavar="HOST:PORT",
                     help="syslog receiver, RFC 5424 and RFC 3164, on UDP and TCP (octet "
                          "counting or newline framing) of this port."),
        click.option("--no-syslog", is_flag=True, help="No syslog receiver."),
        click.option("--allow-remote-logs", is_flag=True,
                     help="Let --fluent-forward and --syslog listen off loopback: these "
                          "protocols carry no token, so anyone who reaches the port can send "
                          "lines."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def open_log_receivers(ctx: click.Context, opts: dict[str, Any], *,
                       retention: Retention | None = None) -> LogsHub:
    """The logs hub with its forward and syslog sockets bound (served once the hub starts),
    keeping lines for ``retention`` (--logs-retention, --logs-max-size)."""
    from perflab.logs import LogPorts, LogsHub  # noqa: PLC0415  # lazy: keeps --help fast
    from perflab.serving import (  # noqa: PLC0415
        datagram_socket,
        is_loopback_host,
        listening_socket,
    )

    ports = LogPorts(shared_key=opts["fluent_shared_key"].encode()
                     if opts["fluent_shared_key"] else None)
    hub = LogsHub(ports=ports, retention=retention)
    try:
        for name in ("fluent_forward", "syslog"):
            flag = "--" + name.replace("_", "-")
            if opts[f"no_{name}"]:
                continue
            asked = ctx.get_parameter_source(name) is not ParameterSource.DEFAULT
            host, port = parse_address(opts[name], flag)
            if not is_loopback_host(host):
                _allow_remote(flag, host, port, allowed=opts["allow_remote_logs"])
            if name == "fluent_forward":
                ports.forward = open_port(asked, flag, host, port, listening_socket)
                bound = _port(ports.forward)
            else:
                ports.syslog_tcp = open_port(asked, flag, host, port, listening_socket)
                bound = _port(ports.syslog_tcp)
                if bound is not None:  # UDP on the port TCP got (port 0: the one chosen)
                    ports.syslog_udp = open_port(asked, flag, host, bound, datagram_socket)
            if bound is not None:
                hub.endpoints.append(f"{flag.removeprefix('--')} {host}:{bound}")
    except BaseException:  # nothing stays open behind an error
        for sock in ports.sockets():
            sock.close()
        raise
    if opts["fluent_shared_key"] is not None and ports.forward is None:
        click.echo("perflab serve: warning: --fluent-shared-key is set but the forward "
                   "receiver is off", err=True)
    os.environ.pop("PERFLAB_FLUENT_SHARED_KEY", None)  # not passed on to children
    return hub


def _allow_remote(flag: str, host: str, port: int, *, allowed: bool) -> None:
    """Off loopback only when asked, with a warning: these protocols carry no token."""
    if not allowed:
        raise UsageError(f"{flag} {host}:{port} is off loopback, and this protocol carries no "
                         "token",
                         hint="pass --allow-remote-logs to accept lines from anyone who "
                              f"reaches it, or use {flag} 127.0.0.1:{port}")
    click.echo(f"perflab serve: warning: {flag} {host}:{port} accepts log lines from anyone "
               "who can reach it (no token)", err=True)


def _port(sock: socket.socket | None) -> int | None:
    return None if sock is None else int(sock.getsockname()[1])
