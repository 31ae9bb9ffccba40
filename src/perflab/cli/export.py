"""``perflab export``: serve this machine's metrics to Prometheus, with node_exporter's names."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click

from perflab.errors import InvalidValue, TargetError


@click.command()
@click.option("--listen", "listen", default="127.0.0.1:9100", show_default=True,
              metavar="HOST:PORT", help="Address to serve on (port 0: any free port).")
@click.option("--pid", "pids", type=int, multiple=True, metavar="PID",
              help="Export process_* metrics of this process (repeatable).")
@click.option("--match", "names", multiple=True, metavar="NAME",
              help="Export every process with this name, as `pgrep -x NAME` (repeatable).")
@click.option("--token-file", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Require 'Authorization: Bearer TOKEN' with the token on this file's first "
                   "line. Needed for a non-loopback --listen address.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Also answer requests for this Host name (repeatable); loopback names and "
                   "the --listen address are always served, other names get 421.")
@click.option("--once", is_flag=True,
              help="Print one exposition to stdout and exit (e.g. for `promtool check metrics`).")
@click.option("--proc-root", default="/proc", hidden=True, help="Read this /proc tree (tests).")
def export(*, listen: str, pids: tuple[int, ...], names: tuple[str, ...],
           token_file: str | None, allowed_hosts: tuple[str, ...], once: bool,
           proc_root: str) -> int:
    """Serve Prometheus metrics of this machine (node_exporter names) and chosen processes.

    \b
    /metrics  node_cpu_seconds_total, node_memory_*_bytes, node_disk_*, node_network_*,
              node_netstat_*, node_pressure_* ... and process_* {pid, name} for --pid/--match
    /         a short page pointing at /metrics
    """
    from perflab.export import (  # noqa: PLC0415  # lazy: keeps `perflab --help` fast
        Exposition,
        MetricsServer,
        PerflabCollector,
        check_exposure,
        parse_listen,
    )
    from perflab.serving import read_token_file  # noqa: PLC0415

    for pid in pids:
        if pid <= 0:
            raise InvalidValue(f"invalid PID {pid}", hint="a PID is a positive number")
    collector = PerflabCollector(proc_root, pids=pids, names=names)
    collector.check_pids()
    exposition = Exposition(collector)
    try:
        first = exposition.render()  # fail now, with a message, rather than at every scrape
    except OSError as exc:
        raise TargetError(f"cannot read {proc_root}: {exc.strerror or exc}",
                          hint="perflab export needs a Linux /proc") from exc
    if once:
        sys.stdout.buffer.write(first)
        sys.stdout.flush()
        return 0

    addr = parse_listen(listen)
    token = None if token_file is None else read_token_file(token_file)
    check_exposure(addr, token=token)
    server = MetricsServer(addr, exposition, token=token, allowed_hosts=allowed_hosts)
    if names and not collector.selected():
        click.echo(f"perflab export: no process named {', '.join(names)} yet; it will be "
                   "exported when it appears", err=True)
    click.echo(f"perflab export: serving {server.url} (Ctrl-C to stop)")

    def stop(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001  # signal's API
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        click.echo("perflab export: stopped", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
    return 0
