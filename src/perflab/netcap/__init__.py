"""Network deep dive: packet capture through tcpdump and the capture's TCP analysis.

Public names: ``CaptureSpec``, ``CaptureResult``, ``capture`` (tcpdump, bounded in time, into
one file or a ring), ``summarize`` (a pcap/pcapng file -> per-flow RTT, retransmissions,
duplicate ACKs, zero windows, resets, bytes and HTTP/1.1 latency, with Wireshark's
definitions), ``live`` (``capture --live``: tcpdump's stream analysed as it comes, the same
summary at the end), ``run_tcp`` and ``run_udp`` (``perflab bench net``: iperf3-style
throughput on loopback or, inside ``endpoints(netns=True)``, between two network namespaces),
and the documents' TypedDicts. See docs/capture.md.
"""

from perflab.netcap._benchnet import Endpoints, endpoints, run_tcp, run_udp
from perflab.netcap._capture import CaptureResult, CaptureSpec, capture
from perflab.netcap._contracts import (
    BenchNetDoc,
    CaptureDoc,
    CaptureSummaryDoc,
    FlowDoc,
    HttpRouteDoc,
    RttDoc,
    TotalsDoc,
)
from perflab.netcap._live import LiveResult, live
from perflab.netcap._summary import summarize

__all__ = [
    "BenchNetDoc",
    "CaptureDoc",
    "CaptureResult",
    "CaptureSpec",
    "CaptureSummaryDoc",
    "Endpoints",
    "FlowDoc",
    "HttpRouteDoc",
    "LiveResult",
    "RttDoc",
    "TotalsDoc",
    "capture",
    "endpoints",
    "live",
    "run_tcp",
    "run_udp",
    "summarize",
]
