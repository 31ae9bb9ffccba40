"""The live mode's series writer: seconds go on the run once each, a whole second after they
end, the rest at the end; together, exactly what `capture summary --record` stores."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.unit.netcap._pcapgen import PSH, Conversation

from perflab.netcap._analysis import Flow
from perflab.netcap._pcap import Packet
from perflab.netcap._series import SeriesWriter, per_second
from perflab.netcap._summary import Summary
from perflab.store import Store

if TYPE_CHECKING:
    from pathlib import Path

S = 1_000_000_000
T0 = 1_700_000_000 * S


def _flows() -> list[Flow]:
    """One connection with an exchange in each of three seconds."""
    conv = Conversation(now_ns=T0 + S // 10)
    conv.handshake(rtt_ms=2.0)
    for _ in range(3):
        conv.at(1).send(from_client=True, flags=0x10 | PSH, payload=b"ping")
        conv.at(3).send(from_client=False)
        conv.at(996)
    summary = Summary()
    for ts, frame in conv.frames():
        summary.add(Packet(ts, 1, frame))
    return summary.analyzer.flows


def _stored(store: Store, run_id: int) -> dict[tuple[str, str], dict[int, float]]:
    return {(s.name, s.unit): dict(store.samples(s.id)) for s in store.series(run_id)}


def test_seconds_written_once_as_they_complete(tmp_path: Path) -> None:
    flows = _flows()
    with Store.open(str(tmp_path / "s.db")) as store:
        run = store.create_run("capture", "live")
        writer = SeriesWriter(store, run.id)
        assert writer.write(flows, T0 + S + S // 2) == 0  # second 0 ended only 0.5 s ago
        assert writer.write(flows, T0 + 2 * S) == 4  # second 0: four series, one point each
        assert {ts for points in _stored(store, run.id).values() for ts in points} == {T0}
        assert writer.write(flows, T0 + 2 * S + S // 2) == 0  # nothing new, nothing twice
        assert writer.write(flows) == 8  # the end: seconds 1 and 2
        assert _stored(store, run.id) == {key: points for key, points in per_second(flows).items()
                                          if points}


def test_no_flows_write_nothing(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "s.db")) as store:
        run = store.create_run("capture", "quiet")
        writer = SeriesWriter(store, run.id)
        assert writer.write([], T0) == 0
        assert writer.write([]) == 0
        assert list(store.series(run.id)) == []
    assert per_second([]) == {}  # not a point at the epoch
