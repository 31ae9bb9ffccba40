"""A small, exactly known store for the hub's tests: two finished runs with series and events."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from perflab.store import Store

T0 = 1_700_000_000 * 10**9  # a fixed start: every timestamp below is exact
S = 10**9


@dataclass(frozen=True)
class HubData:
    path: Path
    run_a: int
    run_b: int
    n_samples: int
    series_a: dict[str, int]  # "name{labels}" -> series id in run A


def build(path: Path, n: int = 600) -> HubData:
    """Run A (record, 'baseline') and run B (load, 'candidate'), n samples at 1 s per series.

    Run A's system.cpu.pct{mode=user} holds one spike of 97 at second 123; its events are a
    fault band from 100 s to 160 s and a deploy instant at 300 s.
    """
    with Store.open(path) as store:
        ids: dict[str, int] = {}
        runs: list[int] = []
        for kind, name, start, scale in (("record", "baseline", T0, 1.0),
                                         ("load", "candidate", T0 + 3600 * S, 1.5)):
            run = store.create_run(kind, name, started_ns=start)
            specs = [
                ("system.cpu.pct", {"cpu": "all", "mode": "user"}, "%"),
                ("system.cpu.pct", {"cpu": "all", "mode": "system"}, "%"),
                ("system.mem.used_bytes", {}, "bytes"),
                ("net.if.rx_bytes_per_s", {"device": "lo"}, "bytes/s"),
                ("process.cpu.pct", {"pid": str(4000 + len(runs)), "name": "api"}, "%"),
            ]
            rows = []
            for sname, labels, unit in specs:
                sid = store.series_id(run.id, sname, labels, unit)
                if not runs:
                    key = sname + "".join(f",{k}={v}" for k, v in sorted(labels.items()))
                    ids[key] = sid
                for i in range(n):
                    value = scale * (10.0 + (i % 7))
                    if sname == "system.cpu.pct" and labels["mode"] == "user" and i == 123:
                        value = 97.0
                    rows.append((sid, start + i * S, value))
            store.insert_samples(rows)
            if not runs:
                store.add_event(run.id, "fault", "latency injected", ts_ns=start + 100 * S,
                                end_ns=start + 160 * S)
                store.add_event(run.id, "deploy", "v2", ts_ns=start + 300 * S)
            store.finish_run(run.id, "ok", ended_ns=start + (n - 1) * S)
            runs.append(run.id)
    return HubData(path, runs[0], runs[1], n, ids)
