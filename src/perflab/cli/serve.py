"""``perflab serve``: the dashboard, JSON API and /metrics, recording this machine meanwhile."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import os
import socket
import sys
from collections.abc import Iterator
from typing import Any

import click

from perflab.cli._chaos_serve import chaos_options, serving_chaos
from perflab.cli._common import open_store, store_option
from perflab.cli._log_receivers import OPTION_NAMES, log_receiver_options, open_log_receivers
from perflab.cli._logs_retention import logs_retention, logs_retention_options
from perflab.cli._receivers import open_receivers, receiver_options, receivers_line
from perflab.cli.metrics import hub_options, serve_options
from perflab.errors import InvalidValue, TargetError, UsageError

DEFAULT_LISTEN = "127.0.0.1:8600"
GRACEFUL_S = 3  # seconds a stop waits for requests in flight before cancelling them


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``:PORT`` (loopback)."""
    host, sep, port_s = text.rpartition(":")
    if not sep or not port_s.isdigit() or not 0 <= int(port_s) <= 65535:
        raise InvalidValue(f"invalid --listen {text!r}",
                           hint="write it as HOST:PORT, like 127.0.0.1:8600 or [::1]:8600")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port_s)


def bind(host: str, port: int) -> socket.socket:
    """Bind before starting the server, so a port in use is one clear line, not a traceback."""
    from perflab.serving import listening_socket  # noqa: PLC0415  # lazy: keeps --help fast

    try:
        return listening_socket(host, port)
    except socket.gaierror as exc:
        raise InvalidValue(f"cannot resolve the --listen host {host!r}: {exc.strerror}",
                           hint="use an IP address, like 127.0.0.1 or 0.0.0.0") from exc
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise TargetError(f"{host}:{port} is already in use",
                              hint="stop what listens there, or pick another --listen port"
                              ) from exc
        if exc.errno == errno.EACCES:
            raise TargetError(f"not allowed to listen on {host}:{port}",
                              hint="use a port above 1023, or run as root") from exc
        raise TargetError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


class QuietCancel(logging.Filter):
    """uvicorn's words for a request cut short by a stop: one line, no traceback.

    After its graceful timeout uvicorn cancels the requests still running, logs that as an
    error, then logs each cancelled request's CancelledError with a traceback. Cancelling them
    is what stopping the server means; saying so once is enough.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        import asyncio  # noqa: PLC0415  # lazy: only a stop gets here with an exception

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, asyncio.CancelledError):
            return False
        if record.msg == "Cancel %s running task(s), timeout graceful shutdown exceeded":
            n = record.args[0] if isinstance(record.args, tuple) and record.args else 0
            if n == 0:  # only idle or slow-reading connections were left: nothing to say
                return False
            record.msg = "perflab serve: stopped %s still running after %s s"
            record.args = (f"{n} request" + ("" if n == 1 else "s"), GRACEFUL_S)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _server_class() -> type:
    import uvicorn  # noqa: PLC0415  # lazy: keeps `perflab --help` fast

    class QuietStopServer(uvicorn.Server):
        """Ctrl-C or SIGTERM is how a server is meant to stop: shut down, then exit 0.

        uvicorn re-raises the signal after its graceful shutdown (so a host program can react);
        for `perflab serve` that would turn a clean stop into "interrupted" (130) or a death
        by SIGTERM, after the run had been ended properly.
        """

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                try:
                    yield
                finally:
                    self._captured_signals.clear()

    return QuietStopServer


def _reachable(host: str) -> str:
    """Where a client on this machine reaches the listen address: a wildcard on loopback."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104


def _token_ref(token: str | None, token_file: str | None) -> dict[str, str] | None:
    """How a client finds the token (never the token itself): its file, or the variable."""
    if token_file is not None:
        return {"file": os.path.abspath(token_file)}  # noqa: PTH100
    return {"env": "PERFLAB_TOKEN"} if token else None


@click.command("serve")
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, metavar="HOST:PORT",
              help="Address to serve on. Anything but loopback needs --token.")
@store_option
@click.option("--no-record", is_flag=True, help="Do not record this machine while serving.")
@click.option("--token", envvar="PERFLAB_TOKEN", show_envvar=True, default=None,
              help="Access token every request must carry (Bearer header or login cookie). "
                   "Prefer PERFLAB_TOKEN or --token-file: a command line is visible to every "
                   "user of the machine.")
@click.option("--token-file", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Read the access token from the first line of this file.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Also answer requests for this Host name (repeatable); loopback names and "
                   "the --listen address are always served, other names get 421.")
@click.option("--interval", "interval_s", type=float, default=1.0, show_default=True,
              help="Seconds between samples of the background recording.")
@serve_options
@receiver_options
@logs_retention_options
@log_receiver_options
@chaos_options
def serve(*, listen: str, store_path: str | None, no_record: bool, token: str | None,
          token_file: str | None, allowed_hosts: tuple[str, ...], interval_s: float,
          chaos_on: bool, chaos_listen: str, chaos_follow_load: bool, **options: Any) -> None:
    """Serve the dashboard, the JSON API and /metrics; record this machine meanwhile.

    Open http://127.0.0.1:8600/ (the default). Ctrl-C stops it and ends the recording's run.

    It receives spans (OTLP, Zipkin), metrics (OTLP, remote-write) and logs: Loki push, OTLP
    /v1/logs and Elasticsearch _bulk on its own port, OTLP on the OTLP ports, Fluentd's
    forward protocol on --fluent-forward and syslog (UDP and TCP) on --syslog.
    """
    import uvicorn  # noqa: PLC0415  # lazy: keeps `perflab --help` fast

    from perflab.serving import (  # noqa: PLC0415
        HostRule,
        http_url,
        read_token_file,
        require_token_off_loopback,
        settle_heap,
    )
    from perflab.store import publish_hub, withdraw_hub  # noqa: PLC0415
    from perflab.web import AppConfig, create_app  # noqa: PLC0415

    host, port = parse_listen(listen)
    if token_file is not None:
        if token:
            raise UsageError("--token-file and --token (or PERFLAB_TOKEN) both give a token",
                             hint="keep one of them")
        token = read_token_file(token_file)
    require_token_off_loopback(host, token, where=f"{host}:{port}", what="every run in the store")
    HostRule.for_listen(host, allowed_hosts)  # a malformed --allowed-host: exit 2 before binding
    if interval_s <= 0:
        raise InvalidValue("--interval must be positive", hint="like 1 or 0.5")
    # the metrics options are named metrics_*, the log retention's logs_*, the log receivers'
    # are OPTION_NAMES, the span receivers' are the others
    metrics = {k: v for k, v in options.items() if k.startswith("metrics_")}
    log_opts = {k: v for k, v in options.items() if k in OPTION_NAMES}
    receivers = {k: v for k, v in options.items()
                 if not k.startswith(("metrics_", "logs_")) and k not in OPTION_NAMES}
    hub = hub_options(metrics)  # a bad --scrape or --rules file: exit 2 before serving
    log_retention = logs_retention(options)  # a bad --logs-max-size: exit 2 before serving
    store = open_store(store_path)  # a damaged or newer store is refused here, exit 2
    path = store.path
    store.close()
    sock = bind(host, port)
    # a --webhook to the hub itself is sent the hub's token (and no other host is)
    hub = dataclasses.replace(hub, own_address=(host, sock.getsockname()[1]), own_token=token)
    spans, listeners, extra = open_receivers(click.get_current_context(), receivers, token,
                                             hub_port=sock.getsockname()[1])
    try:
        log_hub = open_log_receivers(click.get_current_context(), log_opts,
                                     retention=log_retention)
    except BaseException:
        for s in (sock, *extra):
            s.close()
        spans.stop()
        raise
    click.echo(f"perflab serve: {http_url(host, sock.getsockname()[1])}/  (store {path}"
               f"{', recording this machine' if not no_record else ''}; Ctrl-C stops)")
    click.echo(f"spans and OTLP metrics: {receivers_line(spans, listeners)}")
    click.echo("logs: Loki push, OTLP, Elasticsearch _bulk on the hub's port"
               + "".join(f", {e}" for e in log_hub.endpoints))
    sys.stdout.flush()
    app = create_app(AppConfig(store_path=path, token=token, record=not no_record,
                               interval_s=interval_s, listen_host=host,
                               allowed_hosts=allowed_hosts, metrics=hub, trace=spans,
                               listeners=listeners, logs=log_hub))
    config = uvicorn.Config(app, log_level=os.environ.get("PERFLAB_LOG_LEVEL", "warning"),
                            access_log=False, lifespan="on", timeout_graceful_shutdown=GRACEFUL_S,
                            loop="auto", http="auto")
    server = _server_class()(config)
    logging.getLogger("uvicorn.error").addFilter(QuietCancel())
    settle_heap()  # this process is the hub's own: +9-11 % spans per CPU second
    try:
        with serving_chaos(click.get_current_context(), chaos_on=chaos_on,
                           chaos_listen=chaos_listen, token=token,
                           allowed_hosts=allowed_hosts, store_path=path,
                           follow_load=chaos_follow_load) as chaos_at:
            if chaos_at is not None:
                also = " (toxics also on the load runs running)" if chaos_follow_load else ""
                click.echo(f"fault proxy: Toxiproxy API on http://{chaos_at}/{also}")
                sys.stdout.flush()
            # where `logs query --follow` on this store finds the hub (removed on the way out)
            try:
                publish_hub(path, http_url(_reachable(host), sock.getsockname()[1]),
                            _token_ref(token, token_file))
            except OSError as exc:  # followers then poll the store: worth a line, not a stop
                click.echo(f"perflab serve: warning: cannot record the hub beside the store: "
                           f"{exc.strerror}", err=True)
            server.run(sockets=[sock, *extra])
    finally:
        withdraw_hub(path)
        sock.close()
        for s in extra:
            s.close()
