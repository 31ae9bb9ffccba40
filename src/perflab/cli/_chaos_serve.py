"""``perflab serve --chaos``: the fault proxy's Toxiproxy API beside the hub, on its own port."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from perflab.errors import TargetError, UsageError

DEFAULT_API_LISTEN = "127.0.0.1:8474"  # Toxiproxy's port: its clients find us there


def chaos_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``perflab serve``'s ``--chaos``, ``--chaos-listen`` and ``--follow-load``."""
    f = click.option("--follow-load", "chaos_follow_load", is_flag=True,
                     help="With --chaos: also put each toxic's band on every load run running "
                          "in the store, as chaos proxy --follow-load.")(f)
    f = click.option("--chaos-listen", default=DEFAULT_API_LISTEN, show_default=True,
                     metavar="HOST:PORT",
                     help="Address of the Toxiproxy API (implies --chaos; exit 3 if taken).")(f)
    return click.option("--chaos", "chaos_on", is_flag=True,
                        help="Also serve the fault proxy's Toxiproxy API (its own port, as "
                             "Toxiproxy; a taken default port warns and stays off).")(f)


@contextlib.contextmanager
def serving_chaos(ctx: click.Context, *, chaos_on: bool, chaos_listen: str, token: str | None,
                  allowed_hosts: tuple[str, ...], store_path: Path | None = None,
                  follow_load: bool = False) -> Iterator[str | None]:
    """The fault proxy's API in a thread while the block runs; its address, or None
    when off. With ``store_path``, each toxic is a band on a chaos run made at the first,
    and with ``follow_load`` on every load run running too (``FaultBands``, as ``chaos
    proxy --follow-load``)."""
    from perflab.chaos import FaultBands, running_server  # noqa: PLC0415  # lazy: fast --help
    from perflab.cli.serve import bind, parse_listen  # noqa: PLC0415  # serve imports us
    from perflab.serving import require_token_off_loopback  # noqa: PLC0415

    asked = ctx.get_parameter_source("chaos_listen") is not ParameterSource.DEFAULT
    if not (chaos_on or asked):
        if follow_load:
            raise UsageError("--follow-load puts the fault proxy's toxics on load runs: it "
                             "needs the fault proxy", hint="add --chaos")
        yield None
        return
    host, port = parse_listen(chaos_listen)
    require_token_off_loopback(host, token, where=f"--chaos-listen {host}:{port}",
                               what="and change the proxies, i.e. inject faults")
    try:
        sock = bind(host, port)
    except TargetError as exc:
        if asked:
            raise TargetError(f"--chaos-listen {exc.message}",
                              hint="stop what listens there or pick another --chaos-listen "
                                   "port") from exc
        click.echo(f"perflab serve: warning: --chaos: {exc.message}; the Toxiproxy API stays "
                   "off (pass --chaos-listen HOST:PORT to choose another port)", err=True)
        yield None
        return
    try:
        bands = None if store_path is None else FaultBands(store_path,
                                                           follow_load=follow_load)
        with running_server(sock, token=token, allowed_hosts=allowed_hosts,
                            bands=bands) as server:
            yield f"[{host}]:{server.port}" if ":" in host else f"{host}:{server.port}"
    finally:
        sock.close()
