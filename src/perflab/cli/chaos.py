"""``perflab chaos``: fault injection. ``chaos proxy`` serves the Toxiproxy-compatible API."""

from __future__ import annotations

from pathlib import Path

import click

from perflab.cli.serve import _server_class, bind, parse_listen
from perflab.errors import UsageError

DEFAULT_API_LISTEN = "127.0.0.1:8474"  # Toxiproxy's port: its clients find us there


@click.group()
def chaos() -> None:
    """Chaos engineering: a Toxiproxy-compatible fault proxy."""


@chaos.command("proxy")
@click.option("--listen", default=DEFAULT_API_LISTEN, show_default=True, metavar="HOST:PORT",
              help="Address of the API. Anything but loopback needs --token-file.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
              default=None, metavar="FILE",
              help="Create the proxies of this JSON file at start (Toxiproxy's -config).")
@click.option("--token-file", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Require 'Authorization: Bearer TOKEN' (the file's first line).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Also answer requests for this Host name (repeatable).")
def proxy(*, listen: str, config: Path | None, token_file: str | None,
          allowed_hosts: tuple[str, ...]) -> None:
    """Serve the Toxiproxy HTTP API; proxies listen on and connect to loopback only.

    \b
    Toxics: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data,
    and perflab's http_error (status codes by route, share or first N requests);
    any toxic may take "duration": "30s", after which it removes itself.
    """
    from perflab.chaos import ChaosServer, read_config  # noqa: PLC0415  # lazy: fast --help
    from perflab.serving import (  # noqa: PLC0415
        HostRule,
        read_token_file,
        require_token_off_loopback,
    )

    host, port = parse_listen(listen)
    token = None if token_file is None else read_token_file(token_file)
    require_token_off_loopback(host, token, where=f"{host}:{port}",
                               what="and change the proxies, i.e. inject faults")
    HostRule.for_listen(host, allowed_hosts)
    populate = None if config is None else read_config(config)
    sock = bind(host, port)
    server = ChaosServer(sock, token=token, allowed_hosts=allowed_hosts, populate=populate,
                         server_class=_server_class())
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"perflab chaos proxy: Toxiproxy API on http://{shown}:{server.port}/ "
               "(Ctrl-C stops)")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    if server.failure is not None:
        raise UsageError(f"{config}: {server.failure.message}",
                         hint=server.failure.hint or "fix the proxy in the file")
    click.echo("perflab chaos proxy: stopped", err=True)
