"""``perflab logs query|tail``: LogQL over the log lines in the store, and files followed into it.

``query``: ``--since`` is a lookback from now, as logcli's; with ``--run`` it is an offset into
that run (``perflab query``'s reading), and the lines are that run's. ``--follow`` prints the
newest lines, oldest first, then each line as it arrives (polling the store, in arrival
order, as ``logcli --tail`` follows Loki's tail) until Ctrl-C (exit 130); with ``--json``,
one message of Loki's tail (``loki-tail`` schema) per line of output. ``tail``: follows files
as ``tail -F`` does (a file replaced by rotation is reopened, a truncated one is read from its
start), each line into the store with the file's labels.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import click

from perflab.cli._common import emit_doc, json_option, open_store, parse_labels, store_option
from perflab.errors import InvalidValue
from perflab.units import parse_duration_ns, printable

if TYPE_CHECKING:
    from perflab.logs import Follower, LogsQueryDoc, LokiTailDoc
    from perflab.store import Store, StoredLog


@click.group("logs")
def logs() -> None:
    """Log lines: query them with LogQL, follow files into the store (and `perflab serve`
    takes Loki pushes)."""


def _window(store: Store, since: str | None, run_ref: str | None,
            ) -> tuple[int, int, int | None]:
    """[start, end) and the run: a lookback from now, or the run from an offset into it."""
    try:
        span = parse_duration_ns(since) if since else None
    except InvalidValue as exc:
        raise InvalidValue(f"--since: {exc.message}", hint=exc.hint) from None
    if run_ref is None:
        now = time.time_ns()
        return now - (span if span is not None else 3600 * 10**9), now + 1, None
    run = store.run(int(run_ref) if run_ref.isdigit() else run_ref)
    end = run.ended_ns if run.ended_ns is not None else time.time_ns()
    return run.started_ns + (span or 0), end + 1, run.id


@logs.command("query")
@click.argument("logql")
@click.option("--since", default=None, metavar="DURATION",
              help="How far back from now (default 1h); with --run, an offset into the run "
                   "(default: its start).")
@click.option("--run", "run_ref", default=None, metavar="RUN",
              help="Only this run's lines (id or name).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 5000),
              help="At most this many lines (a log query).")
@click.option("--step", default=None, metavar="DURATION",
              help="Step of a metric query (default: the range over 250 points).")
@click.option("--forward", is_flag=True, help="Oldest lines first.")
@click.option("--follow", "-f", is_flag=True,
              help="Then print lines as they arrive, until Ctrl-C (a log query).")
@click.option("--interval", default=0.5, show_default=True, type=float, hidden=True)
@click.option("--verbose", "-v", is_flag=True,
              help="Say on stderr how --follow follows: the hub's live tail, or the store.")
@store_option
@json_option
def query(*, logql: str, since: str | None, run_ref: str | None, limit: int, step: str | None,
          forward: bool, follow: bool, interval: float, verbose: bool, store_path: str | None,
          as_json: bool) -> None:
    """Evaluate a LogQL query: a log query prints lines, a metric query its series."""
    from perflab.logs import query_range  # noqa: PLC0415  # lazy: keeps --help fast

    if follow:
        _follow(logql, since=since, run_ref=run_ref, limit=limit, interval=interval,
                store_path=store_path, as_json=as_json, verbose=verbose)
        return
    with open_store(store_path, create=False) as store:
        start, end, run_id = _window(store, since, run_ref)
        step_ns = parse_duration_ns(step) if step else None
        data = query_range(store, logql, start, end, limit=limit, step_ns=step_ns,
                           backward=not forward, run_id=run_id)
    if as_json:
        doc: LogsQueryDoc = {"schema": "perflab.logs-query/1", "query": logql,
                             "start_ns": start, "end_ns": end, "data": data}
        if run_id is not None:
            doc["run_id"] = run_id
        emit_doc(doc)
        return
    _print(data)


def _follow(logql: str, *, since: str | None, run_ref: str | None, limit: int,
            interval: float, store_path: str | None, as_json: bool, verbose: bool) -> None:
    """The newest ``limit`` lines, then each new one, until Ctrl-C (main() makes it 130):
    through the tail websocket of the hub that serves the store when one runs, else by
    polling the store (also from the moment a followed hub goes away)."""
    from perflab.logs import (  # noqa: PLC0415  # lazy: keeps --help fast
        Follower,
        HubUnavailable,
        hub_tail,
        log_query,
        start_tail,
    )
    from perflab.store import last_log_id  # noqa: PLC0415

    def say(text: str) -> None:
        if verbose:
            click.echo(f"perflab: {text}", err=True)

    expr = log_query(logql)
    with open_store(store_path, create=False) as store:
        start, end, run_id = _window(store, since, run_ref)
        if run_id is not None:
            tail, why = None, "--run reads one run's lines, which the hub's tail does not filter"
        else:
            tail, why = hub_tail(store.path, logql, start_ns=start, limit=limit)
        if tail is None:
            # the window again: a line stamped after the first "now" and stored while the hub
            # was tried would be past its end, and before the follower's start
            start, end, run_id = _window(store, since, run_ref)
            follower, batch = start_tail(store, expr, start, end, limit=limit, run_id=run_id)
            say(f"following by polling the store every {interval:g} s ({why})")
            _poll(store, follower, batch, interval=interval, as_json=as_json)
            return
        say(f"following through the hub at {tail.url} (its live tail, /loki/api/v1/tail)")
        try:
            for msg in tail.messages():
                _print_message(msg, as_json=as_json)
        except HubUnavailable as exc:
            say(f"{exc.reason}; following by polling the store from now on")
        finally:
            tail.close()
        _poll(store, Follower(expr, last_log_id(store)), [], interval=interval,
              as_json=as_json)


def _poll(store: Store, follower: Follower, batch: list[tuple[StoredLog, dict[str, str], str]],
          *, interval: float, as_json: bool) -> None:
    from perflab.logs import tail_message  # noqa: PLC0415

    while True:
        if batch and as_json:
            click.echo(json.dumps(tail_message(batch), separators=(",", ":")))
        elif batch:
            _print_lines(sorted(((row.ts_ns, labels, line) for row, labels, line in batch),
                                key=lambda e: e[0]))
        time.sleep(interval)
        batch = follower.poll(store)


def _print_message(msg: LokiTailDoc, *, as_json: bool) -> None:
    """One message of a hub's tail, as the polling path prints the same lines."""
    if as_json:
        click.echo(json.dumps(msg, separators=(",", ":")))
        return
    _print_lines(sorted(((int(str(v[0])), s["stream"], str(v[1])) for s in msg["streams"]
                         for v in s["values"]), key=lambda e: e[0]))


def _print_lines(entries: list[tuple[int, dict[str, str], str]]) -> None:
    from perflab.units import format_timestamp  # noqa: PLC0415

    for ts, labels, line in entries:
        click.echo(f"{format_timestamp(ts)} {printable(_labels_text(labels))} {printable(line)}")


def _labels_text(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _print(data: object) -> None:
    from perflab.units import format_timestamp  # noqa: PLC0415

    assert isinstance(data, dict)
    if data["resultType"] == "streams":
        entries = [(int(ts), s["stream"], line) for s in data["result"]
                   for ts, line in s["values"]]
        entries.sort(key=lambda e: e[0], reverse=True)
        _print_lines(entries)
        return
    for s in data["result"]:
        click.echo(printable(_labels_text(s["metric"])))
        for t, v in s["values"]:
            click.echo(f"  {format_timestamp(int(float(t) * 10**9))}  {v}")


@logs.command("tail")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--label", "labels", multiple=True, metavar="K=V",
              help="A label of the files' stream (repeatable); `filename` is always set.")
@click.option("--interval", default=0.25, show_default=True, type=float, hidden=True)
@click.option("--from-start", is_flag=True, help="Read what the files hold already, too.")
@click.option("--once", is_flag=True, help="Read what is there and stop (no following).")
@store_option
def tail(*, files: tuple[str, ...], labels: tuple[str, ...], interval: float,
         from_start: bool, once: bool, store_path: str | None) -> None:
    """Follow FILES into the store, as `tail -F` (rotation and truncation handled)."""
    from perflab.logs import FileTail  # noqa: PLC0415

    extra = parse_labels(labels, "--label")
    with open_store(store_path) as store:
        follower = FileTail(store, files, extra, from_start=from_start or once)
        try:
            while True:
                follower.poll()
                if once:
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
        finally:
            follower.close()
        click.echo(json.dumps({"lines": follower.lines}), err=True)
