"""``perflab capture --live``: the per-flow table every interval (as top: a terminal is
redrawn, a pipe gets one block per interval), the summary at the end, the series on a run."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from perflab.cli._common import emit_doc, open_store
from perflab.cli.capture import format_ms, format_rtt, render
from perflab.errors import InvalidValue
from perflab.units import format_size, printable

if TYPE_CHECKING:
    from perflab.netcap import CaptureSpec, CaptureSummaryDoc
    from perflab.store import Store

_HTTP_ROUTES_SHOWN = 5
_CLEAR = "\x1b[H\x1b[2J"


@dataclass(frozen=True, slots=True)
class LiveOptions:
    interval_s: float
    record: bool = False
    run_ref: str | None = None
    run_name: str = ""
    store_path: str | None = None
    top_n: int = 10
    as_json: bool = False


def run_live(spec: CaptureSpec, opts: LiveOptions) -> None:
    """Run the live capture, with the store open when series are to be written."""
    if opts.record and opts.run_ref is not None:
        raise InvalidValue("--record and --run exclude each other",
                           hint="--record makes a new run; --run ID adds to an existing one")
    if not (opts.record or opts.run_ref is not None):
        _live(spec, opts, None, None)
        return
    with open_store(opts.store_path) as store:
        if opts.run_ref is not None:
            _live(spec, opts, store, store.run(opts.run_ref).id)
            return
        run = store.create_run("capture", opts.run_name or f"live {spec.interface}",
                               meta={"interface": spec.interface, "filter": spec.bpf_filter,
                                     "pcap": spec.output or None, "live": True})
        status = "failed"
        try:
            _live(spec, opts, store, run.id)
            status = "ok"
        finally:
            store.finish_run(run.id, status)


def _live(spec: CaptureSpec, opts: LiveOptions, store: Store | None, run_id: int | None) -> None:
    from perflab.netcap import live  # noqa: PLC0415  # lazy: keeps --help fast

    console = Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 200)

    def tick(doc: CaptureSummaryDoc, elapsed_s: float) -> None:
        if console.is_terminal:
            console.file.write(_CLEAR)
        console.print(tick_view(doc, elapsed_s, opts.top_n))

    result = live(spec, interval_s=opts.interval_s, save_to=spec.output or None,
                  on_tick=None if opts.as_json else tick, store=store, run_id=run_id)
    doc = result.summary
    for warning in doc["warnings"]:
        click.echo(f"perflab: warning: {warning}", err=True)
    if opts.as_json:
        emit_doc(doc)
        return
    if console.is_terminal:
        console.file.write(_CLEAR)
    click.echo(f"{result.capture.captured if result.capture.captured is not None else '?'} "
               f"packets captured on {printable(spec.interface)} "
               f"({result.capture.dropped or 0} dropped by the kernel)")
    render(doc, opts.top_n)
    if "run" in doc:
        click.echo(f"series recorded on run {doc['run']} (perflab show {doc['run']})")


def tick_view(doc: CaptureSummaryDoc, elapsed_s: float, top_n: int) -> Group:
    """One interval's compact view: a line of totals, the top flows by bytes (the newest
    first among equals), the busiest HTTP routes' latency under them."""
    totals = doc["totals"]
    line = Text(f"{elapsed_s:.1f} s: {doc['frames']} frames, {totals['flows']} flows, "
                f"retrans {totals['retransmissions']}, dup acks {totals['dup_acks']}, "
                f"resets {totals['resets']}, rtt p50/p99 {format_rtt(totals['rtt_ms'])} ms")
    table = Table(box=None, pad_edge=False)
    for name in ("client", "server", "bytes", "rtt p50/p99 ms", "retrans", "dup acks", "resets",
                 "http"):
        table.add_column(name, justify="left" if name in ("client", "server") else "right")
    flows = sorted(doc["flows"], key=lambda f: (f["bytes_sent"] + f["bytes_received"],
                                                f["start_ns"]), reverse=True)
    for f in flows[:top_n]:
        table.add_row(printable(f["client"]), printable(f["server"]),
                      format_size(f["bytes_sent"] + f["bytes_received"]),
                      format_rtt(f["rtt_ms"]), str(f["retransmissions"]), str(f["dup_acks"]),
                      str(f["resets"]), str(f["http_requests"]))
    busiest = sorted(doc["http"], key=lambda r: r["count"], reverse=True)[:_HTTP_ROUTES_SHOWN]
    for r in busiest:
        lat = r["latency_ms"]
        table.add_row(f"{printable(r['method'])} {printable(r['path'])}", "", "",
                      f"{format_ms(lat['p50'])}/{format_ms(lat['p99'])}", "", "", "",
                      str(r["count"]))
    return Group(line, table)
