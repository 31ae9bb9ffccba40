"""``perflab capture summary``: a capture file read once into per-flow TCP figures, HTTP/1.1
latencies by method and path, and totals."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.errors import InvalidFile
from perflab.netcap._analysis import Analyzer, Flow
from perflab.netcap._decode import SUPPORTED_LINKS, decode
from perflab.netcap._http import exchanges
from perflab.netcap._pcap import open_capture
from perflab.netcap._series import record
from perflab.store import nearest_rank

if TYPE_CHECKING:
    from collections.abc import Sequence

    from perflab.netcap._contracts import (
        CaptureSummaryDoc,
        FlowDoc,
        HttpRouteDoc,
        RttDoc,
        TotalsDoc,
    )
    from perflab.netcap._pcap import Packet, PcapFile
    from perflab.store import Store

SCHEMA = "perflab.capture-summary/1"
_NS_PER_MS = 1_000_000


def rtt_doc(values_ns: Sequence[int]) -> RttDoc:
    """Count and nearest-rank percentiles, in ms, of durations in ns."""
    if not values_ns:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}
    ms = [v / _NS_PER_MS for v in values_ns]
    return {"count": len(ms), "p50": nearest_rank(ms, 50), "p90": nearest_rank(ms, 90),
            "p99": nearest_rank(ms, 99), "max": max(ms)}


def _endpoint(host: tuple[str, int]) -> str:
    return f"{host[0]}:{host[1]}"


def _flow_doc(flow: Flow, requests: int) -> FlowDoc:
    hs = flow.handshake_rtt_ns
    return {
        "client": _endpoint(flow.client), "server": _endpoint(flow.server),
        "start_ns": flow.start_ns, "duration_s": (flow.end_ns - flow.start_ns) / 1e9,
        "packets": flow.fwd.packets + flow.rev.packets,
        "bytes_sent": flow.fwd.bytes, "bytes_received": flow.rev.bytes,
        "handshake_rtt_ms": None if hs is None else hs / _NS_PER_MS,
        "rtt_ms": rtt_doc(flow.rtt_ns),
        "retransmissions": flow.fwd.retransmissions + flow.rev.retransmissions,
        "dup_acks": flow.fwd.dup_acks + flow.rev.dup_acks,
        "zero_windows": flow.fwd.zero_windows + flow.rev.zero_windows,
        "resets": flow.fwd.resets + flow.rev.resets,
        "http_requests": requests,
    }


class Summary:
    """Packets in capture order -> the summary document, at any moment: ``capture summary``
    feeds it a file, the live mode tcpdump's stream (so the two agree on the same packets)."""

    def __init__(self) -> None:
        self.analyzer = Analyzer()
        self.frames = 0
        self.unsupported: set[int] = set()

    def add(self, packet: Packet) -> None:
        self.frames += 1
        if packet.link_type not in SUPPORTED_LINKS:
            self.unsupported.add(packet.link_type)
            return
        segment = decode(packet.link_type, packet.data)
        if segment is not None:
            self.analyzer.add(segment, packet.ts_ns)

    def document(self, capture: PcapFile) -> CaptureSummaryDoc:
        """The document of what was added so far, read from ``capture``; a capture where no
        frame could be decoded is an error."""
        kinds = capture.link_types
        if kinds and not kinds & set(SUPPORTED_LINKS):
            names = ", ".join(str(k) for k in sorted(kinds))
            raise InvalidFile(
                f"link type {names} is not one perflab decodes", path=capture.path,
                hint="capture on an Ethernet interface or with --iface any (Linux cooked); "
                     "decoded: " + ", ".join(sorted(SUPPORTED_LINKS.values())))
        warnings = []
        if capture.truncated:
            warnings.append(f"the file ends inside a packet after {self.frames} whole frames "
                            "(a capture still being written, or cut): the summary covers those")
        if self.unsupported:
            warnings.append("skipped frames of link type "
                            + ", ".join(map(str, sorted(self.unsupported))))
        return _document(capture.path, self.analyzer.flows, self.frames, sorted(kinds),
                         truncated=capture.truncated, warnings=warnings)


def summarize(path: str, *, store: Store | None = None, run_name: str = "") -> CaptureSummaryDoc:
    """Read ``path`` (pcap or pcapng) and analyse every TCP flow in it; with ``store``, also
    record the per-second series as a new run named ``run_name`` (its id in ``run``).

    Frames of a link type perflab does not decode are skipped and named in ``warnings``; a
    file where none could be decoded is an error. A cut file keeps what was read before the cut.
    """
    summary = Summary()
    capture = open_capture(path)
    try:
        for packet in capture.packets():
            summary.add(packet)
    finally:
        capture.stream.close()
    doc = summary.document(capture)
    if store is not None:
        doc["run"] = record(store, run_name or Path(path).name, path, summary.analyzer.flows)
    return doc


def _document(path: str, flows: list[Flow], frames: int, kinds: list[int], *, truncated: bool,
              warnings: list[str]) -> CaptureSummaryDoc:
    routes: dict[tuple[str, str], list[int]] = defaultdict(list)
    flow_docs = []
    for flow in flows:
        answered = exchanges(flow.fwd.http.messages, flow.rev.http.messages)
        for method, route, latency in answered:
            routes[method, route].append(latency)
        flow_docs.append(_flow_doc(flow, len(answered)))
    http: list[HttpRouteDoc] = [
        {"method": m, "path": p, "count": len(v), "latency_ms": rtt_doc(v)}
        for (m, p), v in sorted(routes.items())]
    totals: TotalsDoc = {
        "flows": len(flows), "packets": sum(f["packets"] for f in flow_docs),
        "retransmissions": sum(f["retransmissions"] for f in flow_docs),
        "dup_acks": sum(f["dup_acks"] for f in flow_docs),
        "resets": sum(f["resets"] for f in flow_docs),
        "zero_windows": sum(f["zero_windows"] for f in flow_docs),
        "rtt_ms": rtt_doc([r for f in flows for r in f.rtt_ns]),
    }
    return {"schema": "perflab.capture-summary/1", "file": path, "link_types": kinds,
            "frames": frames, "truncated": truncated, "warnings": warnings,
            "flows": flow_docs, "http": http, "totals": totals}
