"""``perflab bench net``: iperf3-class TCP throughput on loopback (iperf3's -t, -P, -R, -i)."""

from __future__ import annotations

import click

from perflab.cli._common import POSITIVE_DURATION, emit_doc, json_option
from perflab.units import format_duration


def _rate(bits_per_second: float) -> str:
    return f"{bits_per_second / 1e9:.2f} Gbit/s"


@click.command("net")
@click.option("-t", "--time", "duration", type=POSITIVE_DURATION, default="10s",
              show_default=True, help="How long to send.")
@click.option("-P", "--parallel", "streams", type=click.IntRange(1, 64), default=1,
              show_default=True, help="Parallel TCP streams.")
@click.option("-R", "--reverse", is_flag=True, help="The server sends (iperf3's -R).")
@click.option("-i", "--interval", type=POSITIVE_DURATION, default="1s", show_default=True,
              help="Seconds between interval reports.")
@json_option
def net(duration: float, streams: int, reverse: bool, interval: float, as_json: bool) -> None:
    """TCP throughput between two sockets on loopback; --json in iperf3's -J shape
    (end.sum_sent / end.sum_received with bits_per_second, bytes, retransmits; intervals)."""
    from perflab.netcap import run_tcp  # noqa: PLC0415  # lazy: keeps --help fast

    doc = run_tcp(duration, streams, reverse=reverse, interval_s=interval)
    if as_json:
        emit_doc(doc)
        return
    for item in doc["intervals"]:
        s = item["sum"]
        click.echo(f"{s['start']:6.2f}-{s['end']:6.2f} s  {s['bytes'] / 2**20:10.1f} MiB  "
                   f"{_rate(s['bits_per_second'])}")
    sent, received = doc["end"]["sum_sent"], doc["end"]["sum_received"]
    click.echo(f"sender    {format_duration(sent['seconds'])}  {_rate(sent['bits_per_second'])}"
               f"  {sent.get('retransmits', 0)} retransmits")
    click.echo(f"receiver  {format_duration(received['seconds'])}  "
               f"{_rate(received['bits_per_second'])}")
