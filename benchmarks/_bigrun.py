"""Build a store with one large run (the dashboard benchmark's input), quickly."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

from perflab.store import Store

AREAS = [
    ("system.cpu.pct", {"cpu": "all"}, "mode", ["user", "system", "iowait", "idle", "steal"], "%"),
    ("system.mem.bytes", {}, "kind", ["used", "available", "cached"], "bytes"),
    ("system.psi.some_pct", {}, "resource", ["cpu", "io", "memory"], "%"),
    ("net.if.rx_bytes_per_s", {}, "device", ["eth0", "lo"], "bytes/s"),
    ("net.if.tx_bytes_per_s", {}, "device", ["eth0", "lo"], "bytes/s"),
    ("net.tcp.retrans_per_s", {}, None, [""], "/s"),
]


def series_specs(n_series: int) -> list[tuple[str, dict[str, str], str]]:
    """``n_series`` (name, labels, unit), spread over system, net and process areas."""
    specs: list[tuple[str, dict[str, str], str]] = []
    for name, base, key, values, unit in AREAS:
        for v in values:
            labels = dict(base)
            if key:
                labels[key] = v
            specs.append((name, labels, unit))
    i = 0
    while len(specs) < n_series:
        metric = ("process.cpu.pct", "%") if i % 2 == 0 else ("process.rss_bytes", "bytes")
        specs.append((metric[0], {"pid": str(1000 + i // 2), "name": f"svc{i // 2}"}, metric[1]))
        i += 1
    return specs[:n_series]


def build(path: Path, *, n_series: int = 50, seconds: int = 86_400, step_s: float = 1.0,
          start_ns: int | None = None, timings: dict[str, float] | None = None) -> int:
    """Write one finished run of ``n_series`` by ``seconds`` samples; return its id.

    ``timings["finish_cpu_s"]``: CPU seconds of ``finish_run``, which builds the rollups.
    """
    rng = random.Random(42)
    start = start_ns if start_ns is not None else time.time_ns() - int(seconds * 1e9)
    step = int(step_s * 1e9)
    n = int(seconds / step_s)
    with Store.open(path) as store:
        run = store.create_run("record", "bigrun", started_ns=start)
        conn = store.conn
        conn.execute("PRAGMA synchronous=OFF")
        for k, (name, labels, unit) in enumerate(series_specs(n_series)):
            sid = store.series_id(run.id, name, labels, unit)
            phase = rng.random() * 6.28
            base = 10 + 40 * rng.random()

            def rows(sid: int = sid, phase: float = phase, base: float = base, k: int = k):
                for i in range(n):
                    spike = 40.0 if i % 3607 == k else 0.0
                    yield (sid, start + i * step,
                           base + 10 * math.sin(phase + i / 900) + (i * 7919 % 13) + spike)

            conn.execute("BEGIN")
            conn.executemany("INSERT INTO samples VALUES (?, ?, ?)", rows())
            conn.execute("COMMIT")
        end = start + n * step
        store.add_event(run.id, "fault", "latency injected", ts_ns=start + (n // 3) * step,
                        end_ns=start + (n // 3 + 1800) * step)
        store.add_event(run.id, "deploy", "v2 rolled out", ts_ns=start + (2 * n // 3) * step)
        t0 = time.process_time()
        store.finish_run(run.id, "ok", ended_ns=end)
        if timings is not None:
            timings["finish_cpu_s"] = time.process_time() - t0
        return run.id
