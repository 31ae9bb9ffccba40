"""A capture's TCP figures as series on a run, one point per second of capture time: the
retransmission and duplicate-ACK rates and the data RTT's p50/p99 (nearest rank) of the ACKs
of that second. The run spans the capture (first to last packet)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from perflab.store import nearest_rank

if TYPE_CHECKING:
    from perflab.netcap._analysis import Flow
    from perflab.store import Store

_NS = 1_000_000_000
RUN_KIND = "capture"


def per_second(flows: list[Flow]) -> dict[tuple[str, str], dict[int, float]]:
    """(series name, unit) -> {second's start ns: value}; seconds without events are 0 for
    the rates and absent for the RTTs. No flows, no seconds (not one at the epoch)."""
    if not flows:
        return {}
    start = min((f.start_ns for f in flows), default=0) // _NS
    end = max((f.end_ns for f in flows), default=0) // _NS
    seconds = range(start, end + 1)
    rates: dict[str, dict[int, float]] = {
        "tcp_retransmissions": dict.fromkeys((s * _NS for s in seconds), 0.0),
        "tcp_dup_acks": dict.fromkeys((s * _NS for s in seconds), 0.0)}
    rtts: dict[int, list[float]] = defaultdict(list)
    for flow in flows:
        for ts in flow.retransmitted_at_ns:
            rates["tcp_retransmissions"][ts // _NS * _NS] += 1
        for ts in flow.dup_acked_at_ns:
            rates["tcp_dup_acks"][ts // _NS * _NS] += 1
        for ts, rtt in zip(flow.rtt_at_ns, flow.rtt_ns, strict=True):
            rtts[ts // _NS * _NS].append(rtt / 1e6)
    out: dict[tuple[str, str], dict[int, float]] = {
        (name, "/s"): values for name, values in rates.items()}
    out["tcp_rtt_p50", "ms"] = {t: nearest_rank(v, 50) for t, v in sorted(rtts.items())}
    out["tcp_rtt_p99", "ms"] = {t: nearest_rank(v, 99) for t, v in sorted(rtts.items())}
    return out


def record(store: Store, name: str, path: str, flows: list[Flow]) -> int:
    """A finished run of kind ``capture`` holding the series; its id."""
    started = min((f.start_ns for f in flows), default=0)
    ended = max((f.end_ns for f in flows), default=started)
    with store.transaction():
        run = store.create_run(RUN_KIND, name, meta={"pcap": path}, started_ns=started)
        rows = []
        for (series, unit), points in per_second(flows).items():
            sid = store.series_id(run.id, series, unit=unit)
            rows += [(sid, ts, value) for ts, value in points.items()]
        store.insert_samples(rows)
    store.finish_run(run.id, "ok", ended_ns=ended)
    return run.id


class SeriesWriter:
    """The live mode's series, written on a run as the seconds complete: a second is written
    once, a whole second after its end (packets of it still in tcpdump's pipe have come by
    then), and the last ones at the end; so the run holds what ``record`` stores for the same
    packets. A packet held up longer than that second is in the summary, not in its point."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store = store
        self.run_id = run_id
        self.written_until_ns = 0  # seconds starting before this are on the run

    def write(self, flows: list[Flow], before_ns: int | None = None) -> int:
        """Write the seconds that ended a second or more before ``before_ns`` (all of them
        when None) and were not written yet; how many points were written."""
        rows = []
        limit = None if before_ns is None else before_ns // _NS * _NS - 2 * _NS
        for (series, unit), points in per_second(flows).items():
            fresh = [(ts, v) for ts, v in points.items()
                     if ts >= self.written_until_ns and (limit is None or ts <= limit)]
            if fresh:
                sid = self.store.series_id(self.run_id, series, unit=unit)
                rows += [(sid, ts, v) for ts, v in fresh]
        if rows:
            self.store.insert_samples(rows)
        if limit is not None:
            self.written_until_ns = max(self.written_until_ns, limit + _NS)
        return len(rows)
