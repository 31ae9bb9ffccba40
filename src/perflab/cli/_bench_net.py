"""``perflab bench net``: iperf3-class throughput on loopback or between two network namespaces
(iperf3's -t, -P, -R, -i, -u, -b; --netns)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import click

from perflab.cli._common import POSITIVE_DURATION, emit_doc, json_option
from perflab.errors import InvalidValue
from perflab.units import format_duration

if TYPE_CHECKING:
    from perflab.netcap import BenchNetDoc

_BITRATE = re.compile(r"^(\d+(?:\.\d+)?)([kKmMgG]?)$")
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_bitrate(text: str) -> float:
    """iperf3's -b: bits per second with an optional K, M or G (powers of 1000)."""
    match = _BITRATE.match(text.strip())
    if match is None or float(match[1]) <= 0:
        raise InvalidValue(f"invalid bitrate {text!r}", hint="write it as iperf3 does: 100M, 1.5G")
    return float(match[1]) * _SCALE[match[2].lower()]


def _rate(bits_per_second: float) -> str:
    return f"{bits_per_second / 1e9:.2f} Gbit/s"


@click.command("net")
@click.option("-t", "--time", "duration", type=POSITIVE_DURATION, default="10s",
              show_default=True, help="How long to send.")
@click.option("-P", "--parallel", "streams", type=click.IntRange(1, 64), default=1,
              show_default=True, help="Parallel streams (TCP or UDP).")
@click.option("-R", "--reverse", is_flag=True, help="The server sends (iperf3's -R).")
@click.option("-i", "--interval", type=POSITIVE_DURATION, default="1s", show_default=True,
              help="Seconds between interval reports.")
@click.option("-u", "--udp", is_flag=True, help="UDP at --bitrate: loss and jitter.")
@click.option("-b", "--bitrate", default="1M", show_default=True,
              help="UDP's send rate per stream in bits/s (K, M, G: powers of 1000).")
@click.option("--netns", is_flag=True,
              help="Server and client in two network namespaces joined by a veth pair, made "
                   "for the test and deleted after it (root).")
@json_option
def net(  # noqa: PLR0917  # click passes every option as an argument
        duration: float, streams: int, reverse: bool, interval: float, udp: bool, bitrate: str,
        netns: bool, as_json: bool) -> None:
    """TCP (or UDP) throughput between two sockets, on loopback or (--netns) across a veth pair
    between two network namespaces; --json in iperf3's -J shape (end.sum_sent /
    end.sum_received with bits_per_second, bytes, retransmits; intervals; with -u, end.sum with
    jitter_ms, lost_packets, lost_percent)."""
    from perflab.netcap import endpoints, run_tcp, run_udp  # noqa: PLC0415  # lazy: fast --help

    rate = parse_bitrate(bitrate) if udp else 0.0
    with endpoints(netns=netns) as ends:
        if udp:
            doc = run_udp(duration, rate, streams=streams, reverse=reverse, interval_s=interval,
                          ends=ends)
        else:
            doc = run_tcp(duration, streams, reverse=reverse, interval_s=interval, ends=ends)
    if as_json:
        emit_doc(doc)
        _interrupted(doc)
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
    udp_sum = doc["end"].get("sum")
    if udp_sum is not None:
        click.echo(f"jitter {udp_sum.get('jitter_ms', 0.0):.3f} ms, lost "
                   f"{udp_sum.get('lost_packets', 0)}/{udp_sum.get('packets', 0)} "
                   f"({udp_sum.get('lost_percent', 0.0):.2g} %)")
    _interrupted(doc)


def _interrupted(doc: BenchNetDoc) -> None:
    """After Ctrl-C the document was printed; now exit 130."""
    if doc.get("interrupted"):
        raise KeyboardInterrupt
