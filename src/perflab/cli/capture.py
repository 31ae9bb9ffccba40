"""``perflab capture``: capture packets (tcpdump, bounded in time) and summarise a capture.

``perflab capture --iface lo --port 8080 -d 30s -o out.pcap`` runs the capture (the hidden verb
``start``, so a tcpdump filter can follow the options as it does on tcpdump's command line);
``perflab capture summary out.pcap`` reads one.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from perflab.cli._common import (
    POSITIVE_DURATION,
    emit_doc,
    json_option,
    open_store,
    store_option,
)
from perflab.errors import InvalidValue
from perflab.units import format_size, parse_size, printable

if TYPE_CHECKING:
    from perflab.netcap import CaptureSummaryDoc, RttDoc

_START = "start"


class _CaptureGroup(click.Group):
    """``capture [OPTIONS] [FILTER]...`` runs ``capture start``; ``capture summary`` reads."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = [_START, *args]
        return super().parse_args(ctx, args)


@click.group(cls=_CaptureGroup)
def capture() -> None:
    """Packet capture (tcpdump) and its TCP/HTTP analysis (perflab capture summary FILE)."""


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except InvalidValue as err:
        raise click.BadParameter(err.message) from err


@capture.command(_START, epilog="Read a capture: perflab capture summary FILE [--json].")
@click.option("--iface", "interface", required=True, metavar="IFACE",
              help="Interface to capture on (`any` for all, as Linux cooked frames).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Only this TCP/UDP port (shorthand for the filter `port P`).")
@click.option("-d", "--duration", type=POSITIVE_DURATION, default="30s", show_default=True,
              help="How long to capture.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="pcap file to write (with --ring: the prefix of the ring's files; with "
                   "--live: optional, the file the live mode reads, else a scratch one).")
@click.option("--snaplen", type=click.IntRange(64, 262144), default=262144, show_default=True,
              help="Bytes kept of each packet.")
@click.option("--ring", "ring_files", type=click.IntRange(2, 100000), default=None,
              help="Keep a ring of N files (oldest overwritten), for long captures.")
@click.option("--ring-size", default="100MB", show_default=True,
              help="Size of each ring file (whole megabytes).")
@click.option("--live", is_flag=True,
              help="Analyse as packets come: a per-flow table every --interval, the summary "
                   "(as `capture summary`) at the end.")
@click.option("-i", "--interval", type=POSITIVE_DURATION, default="1s", show_default=True,
              help="With --live: how often the table is shown and series points written.")
@click.option("--record", "record_run", is_flag=True,
              help="With --live: per-second series on a new run of kind capture.")
@click.option("--run", "run_ref", default=None, metavar="ID",
              help="With --live: put the per-second series on this existing run.")
@click.option("--name", "run_name", default="", help="With --record: the run's name.")
@store_option
@click.option("--top", "top_n", type=click.IntRange(1), default=10, show_default=True,
              help="With --live: flows shown in each table.")
@json_option
@click.argument("bpf_filter", nargs=-1, metavar="[FILTER]...")
def start(  # noqa: PLR0917  # click passes every option as an argument
        interface: str, port: int | None, duration: float, output: str | None, snaplen: int,
          ring_files: int | None, ring_size: str, live: bool, interval: float,
          record_run: bool, run_ref: str | None, run_name: str, store_path: str | None,
          top_n: int, as_json: bool, bpf_filter: tuple[str, ...]) -> None:
    """Capture packets with tcpdump for --duration into a pcap that Wireshark opens, or with
    --live analyse them as they come (per-flow RTT, retransmissions, HTTP latency, like top).

    FILTER is tcpdump's filter syntax (man pcap-filter), e.g. `tcp port 8080 and host 10.0.0.2`.
    """
    from perflab.netcap import CaptureSpec  # noqa: PLC0415  # lazy: keeps --help fast
    from perflab.netcap import capture as run_capture  # noqa: PLC0415

    if port is not None and bpf_filter:
        raise InvalidValue("--port and a FILTER exclude each other",
                           hint=f"put the port in the filter: 'port {port} and ...'")
    text = f"port {port}" if port is not None else " ".join(bpf_filter)
    if live:
        from perflab.cli._capture_live import LiveOptions, run_live  # noqa: PLC0415

        if ring_files:
            raise InvalidValue("--ring and --live exclude each other",
                               hint="a live capture saves one file (-o); capture a ring "
                                    "without --live")
        run_live(CaptureSpec(interface=interface, output=output or "", duration_s=duration,
                             bpf_filter=text, snaplen=snaplen),
                 LiveOptions(interval_s=interval, record=record_run, run_ref=run_ref,
                             run_name=run_name, store_path=store_path, top_n=top_n,
                             as_json=as_json))
        return
    if record_run or run_ref is not None:
        raise InvalidValue("--record and --run go with --live",
                           hint="record a saved capture with `perflab capture summary FILE "
                                "--record`")
    if output is None:
        raise InvalidValue("-o/--output is required (or --live)",
                           hint="perflab capture --iface lo --port 8080 -d 30s -o out.pcap")
    spec = CaptureSpec(interface=interface, output=output, duration_s=duration, bpf_filter=text,
                       snaplen=snaplen, ring_files=ring_files or 0,
                       ring_bytes=_size(ring_size) if ring_files else 0)
    result = run_capture(spec)
    if as_json:
        emit_doc({"schema": "perflab.capture/1", "interface": interface, "filter": text,
                  "files": result.files, "duration_s": duration,
                  "packets_captured": result.captured, "packets_received": result.received,
                  "packets_dropped": result.dropped})
        return
    click.echo(f"{result.captured if result.captured is not None else '?'} packets captured "
               f"on {printable(interface)} ({result.dropped or 0} dropped by the kernel)")
    for path in result.files:
        click.echo(f"  {printable(path)}")


@capture.command()
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
@click.option("--record", "record_run", is_flag=True,
              help="Also store per-second series (retransmissions, dup ACKs, RTT p50/p99) "
                   "as a run of kind capture.")
@click.option("--name", "run_name", default="", help="The run's name (default: the file's).")
@store_option
@click.option("--top", "top_n", type=click.IntRange(1), default=20, show_default=True,
              help="Flows shown in the table (the text view; --json has all).")
def summary(  # noqa: PLR0917  # click passes every option as an argument
        path: str, as_json: bool, record_run: bool, run_name: str, store_path: str | None,
        top_n: int) -> None:
    """Per flow: handshake and data RTT, retransmissions, duplicate ACKs, zero windows, resets,
    bytes each way; HTTP/1.1 latency by method and path; totals. Counts follow Wireshark's
    tcp.analysis definitions (docs/capture.md)."""
    from perflab.netcap import summarize  # noqa: PLC0415  # lazy: keeps --help fast

    if record_run:
        with open_store(store_path) as store:
            doc = summarize(path, store=store, run_name=run_name)
    else:
        doc = summarize(path)
    for warning in doc["warnings"]:
        click.echo(f"perflab: warning: {warning}", err=True)
    if as_json:
        emit_doc(doc)
        return
    render(doc, top_n)
    if "run" in doc:
        click.echo(f"series recorded as run {doc['run']} (perflab show {doc['run']})")


def format_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def format_rtt(rtt: RttDoc) -> str:
    return f"{format_ms(rtt['p50'])}/{format_ms(rtt['p99'])}" if rtt["count"] else "-"


def render(doc: CaptureSummaryDoc, top_n: int) -> None:
    """The summary as text: totals, the top flows by bytes, HTTP latency by route."""
    # a pipe gets whole rows (a terminal keeps its width)
    console = Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 200)
    totals = doc["totals"]
    console.print(
        f"{doc['frames']} frames, {totals['flows']} TCP flows: {totals['retransmissions']} "
        f"retransmissions, {totals['dup_acks']} duplicate ACKs, {totals['zero_windows']} zero "
        f"windows, {totals['resets']} resets; RTT p50/p99 {format_rtt(totals['rtt_ms'])} ms")
    flows = sorted(doc["flows"], key=lambda f: f["bytes_sent"] + f["bytes_received"],
                   reverse=True)
    table = Table(box=None, pad_edge=False)
    columns: list[tuple[str, Any]] = [
        ("client", "left"), ("server", "left"), ("sent", "right"), ("received", "right"),
        ("hs rtt ms", "right"), ("rtt p50/p99 ms", "right"), ("retrans", "right"),
        ("dup acks", "right"), ("zero win", "right"), ("resets", "right")]
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for f in flows[:top_n]:
        table.add_row(printable(f["client"]), printable(f["server"]), format_size(f["bytes_sent"]),
                      format_size(f["bytes_received"]), format_ms(f["handshake_rtt_ms"]),
                      format_rtt(f["rtt_ms"]), str(f["retransmissions"]), str(f["dup_acks"]),
                      str(f["zero_windows"]), str(f["resets"]))
    console.print(table)
    if len(flows) > top_n:
        console.print(f"... {len(flows) - top_n} more flows (--top, or --json for all)")
    if doc["http"]:
        routes = Table(box=None, pad_edge=False, title="HTTP/1.1 request -> response",
                       title_justify="left")
        for name in ("method", "path", "count", "p50 ms", "p90 ms", "p99 ms", "max ms"):
            routes.add_column(name, justify="left" if name in ("method", "path") else "right")
        for r in doc["http"]:
            lat = r["latency_ms"]
            routes.add_row(printable(r["method"]), printable(r["path"]), str(r["count"]),
                           format_ms(lat["p50"]), format_ms(lat["p90"]), format_ms(lat["p99"]),
                           format_ms(lat["max"]))
        console.print(routes)
