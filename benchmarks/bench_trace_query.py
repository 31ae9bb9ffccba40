"""Queries on a store of 10 M spans (targets: a trace by id <= 20 ms; a search of service +
operation + min duration over the last hour, limit 20, <= 100 ms), and the Traces page's search
of 1,000 results.

The spans are written straight through the store's functions in bulk (a receiver would take
minutes of CPU to send 10 M spans on this machine): 1 M traces of 10 spans over the last 24 h,
10 services of 20 operations, durations log-normal, 1 % of them errors. The file is kept with
``--keep PATH`` (and reused when it exists). Each figure is the median of fresh queries, wall
time, on a fresh connection.

``--http``: the same questions through a real ``perflab serve`` on the file, as Grafana's
Jaeger data source and Jaeger's UI ask them (``GET /api/traces?service=&operation=&tags=
&minDuration=&maxDuration=&start=&end=&limit=`` and ``GET /api/traces/{id}``): the median
and maximum wall time of each request, answer included (JSON encoding and the loopback
round trip).

    python benchmarks/bench_trace_query.py [--spans 10000000] [--keep /tmp/spans10m.db] [--http]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import requests

from perflab.store import SpanCatalog, Store, insert_spans, name_id, span_stats
from perflab.testing import serve
from perflab.trace import TraceQuery, find_traces, get_trace, search_document

SERVICES = [f"svc{i}" for i in range(10)]
OPS = [f"GET /op{j}" for j in range(20)]
PER_TRACE = 10
NS = 1_000_000_000


def generate(path: Path, n_spans: int, now_ns: int) -> None:
    rnd = random.Random(7)
    procs = {s: name_id(s, "{}", "bench", "1") for s in SERVICES}
    catalog = SpanCatalog(
        {name_id(s): s for s in SERVICES},
        {(name_id(s, o), k): (name_id(s), o) for s in SERVICES for o in OPS for k in (2, 3)},
        {procs[s]: (s, json.dumps({"service.name": s}), "bench", "1") for s in SERVICES})
    start0 = now_ns - 86_400 * NS
    n_traces = n_spans // PER_TRACE
    attrs = json.dumps({"http.route": "/x", "http.response.status_code": 200})
    t0 = time.monotonic()
    with Store.open(path) as store:
        batch: list[tuple] = []
        for t in range(n_traces):
            tid = rnd.getrandbits(128).to_bytes(16, "big")
            ts = start0 + t * (86_400 * NS // n_traces)
            parent = None
            for k in range(PER_TRACE):
                s = SERVICES[(t + k) % 10]
                o = OPS[(t * 7 + k) % 20]
                dur = int(rnd.lognormvariate(15.5, 1.2))  # ~5 ms median, a long tail
                sid = rnd.getrandbits(64).to_bytes(8, "big")
                batch.append((tid, sid, parent, name_id(s), name_id(s, o), procs[s],
                              2 if k == 0 else 3, ts + k * 1000, dur,
                              2 if rnd.random() < 0.01 else 0, None, 0, attrs, None, None))
                parent = sid
            if len(batch) >= 100_000:
                with store.transaction():
                    insert_spans(store, batch, catalog)
                batch = []
                done = (t + 1) * PER_TRACE
                if done % 1_000_000 == 0:
                    rate = done / (time.monotonic() - t0)
                    print(f"  {done:,} spans ({rate:,.0f}/s)", flush=True)
        if batch:
            with store.transaction():
                insert_spans(store, batch, catalog)


def _median_ms(fn, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def jaeger_http(path: Path, now_ns: int, ids: list[bytes]) -> None:
    """The Jaeger API's searches and trace fetches, through a real hub on the file."""
    start_us, end_us = (now_ns - 3600 * NS) // 1000, now_ns // 1000
    hour = {"start": start_us, "end": end_us, "limit": 20}
    searches = {
        "service": {"service": "svc3"},
        "service+operation": {"service": "svc3", "operation": "GET /op7"},
        "service+operation+minDuration 100ms": {"service": "svc3", "operation": "GET /op7",
                                                "minDuration": "100ms"},
        "service+duration 50ms..200ms": {"service": "svc3", "minDuration": "50ms",
                                         "maxDuration": "200ms"},
        "service+tag error=true": {"service": "svc3", "tags": json.dumps({"error": "true"})},
        "service+tag http.route=/x": {"service": "svc3",
                                      "tags": json.dumps({"http.route": "/x"})},
    }
    with serve(path, "--no-record") as hub, requests.Session() as http:
        def get(url: str, params: dict | None = None) -> requests.Response:
            r = http.get(hub.url + url, params=params, timeout=60)
            r.raise_for_status()
            return r

        get("/api/services")  # the hub's first queries (caches, pages) before the clock
        for name, params in searches.items():
            n = len(get("/api/traces", {**params, **hour}).json()["data"])
            med, worst = _median_ms(lambda p=params: get("/api/traces", {**p, **hour}), 10)
            print(f"  GET /api/traces {name}, last hour, limit 20: median {med:.1f} ms, "
                  f"max {worst:.1f} ms ({n} traces)")
        it = iter(ids * 2)
        med, worst = _median_ms(lambda: get(f"/api/traces/{next(it).hex()}"), 100)
        print(f"  GET /api/traces/{{id}} (10 spans): median {med:.1f} ms, max {worst:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--http", action="store_true",
                        help="also time the Jaeger API's requests through a real hub")
    args = parser.parse_args()
    tmp = None
    path = args.keep
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "spans.db"
    now = time.time_ns()
    if not path.exists():
        print(f"writing {args.spans:,} spans to {path} ...", flush=True)
        t = time.monotonic()
        generate(path, args.spans, now)
        print(f"  written in {time.monotonic() - t:.0f} s, {path.stat().st_size / 1e9:.2f} GB")
    with Store.open(path, create=False) as store:
        count, _first, last = span_stats(store)
        now = last + 1000
        print(f"store: {count:,} spans, {path.stat().st_size / 1e9:.2f} GB")
        rnd = random.Random(1)
        ids = [r.trace_id for r in (find_traces(store, TraceQuery(
            service=rnd.choice(SERVICES), start_ns=now - rnd.randrange(1, 86_000) * NS,
            limit=1), span_limit=1)[0] for _ in range(100))]
    with Store.open(path, create=False) as store:
        it = iter(ids * 3)
        med, worst = _median_ms(lambda: get_trace(store, next(it)), 200)
        print(f"trace by id: median {med:.2f} ms, max {worst:.2f} ms (target <= 20 ms)")
        q = TraceQuery(service="svc3", operation="GET /op7", min_duration_ns=100_000_000,
                       start_ns=now - 3600 * NS, end_ns=now, limit=20)
        med, worst = _median_ms(lambda: find_traces(store, q), 20)
        found = len(find_traces(store, q))
        print(f"search service+operation+minDuration 100ms, last hour, limit 20: median "
              f"{med:.1f} ms, max {worst:.1f} ms, {found} traces (target <= 100 ms)")
        q2 = TraceQuery(service="svc3", operation="GET /op7", min_duration_ns=10 * NS,
                        start_ns=now - 3600 * NS, end_ns=now, limit=20)
        med, worst = _median_ms(lambda: find_traces(store, q2), 5)
        print(f"  the same with minDuration 10s (almost nothing matches: the hour is read): "
              f"median {med:.1f} ms, {len(find_traces(store, q2))} traces")
        q3 = TraceQuery(service="svc3", tags={"error": "true"}, start_ns=now - 3600 * NS,
                        end_ns=now, limit=20)
        med, worst = _median_ms(lambda: find_traces(store, q3), 10)
        print(f"search service + tag error=true, last hour, limit 20: median {med:.1f} ms")
        q4 = TraceQuery(start_ns=now - 3600 * NS, end_ns=now, limit=1000)
        med, worst = _median_ms(lambda: search_document(store, q4), 3)
        print(f"the Traces page's search, 1,000 results (summaries): median {med:.0f} ms")
    if args.http:
        print("Jaeger API through perflab serve:")
        jaeger_http(path, now, ids)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
