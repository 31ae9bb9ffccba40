"""Span ingest through OTLP/HTTP protobuf, from the real OTel SDK exporter in batches of 512
(target: >= 50,000 spans/s on one core, nothing dropped), and what overload looks like.

A real ``perflab serve`` is pinned to one CPU; sender processes, pinned to another, call
``OTLPSpanExporter.export()`` on batches of 512 distinct spans made by the SDK beforehand (the
SDK's own encoding and HTTP session). Two figures:

- spans/s the hub took, wall clock from the first request to the last span in the store;
- spans per CPU second of the hub process (its utime + stime): what one core ingests, whatever
  else the shared machine does.

Then ``--overload``: senders with many threads, no pause; the hub answers 429 to what its queue
cannot hold, and every span it accepted is in the store.

    python benchmarks/bench_trace_ingest.py [--batches 200] [--senders 2] [--overload]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from perflab.store import Store, span_stats
from perflab.testing import free_port, serve

BATCH = 512


def _spans(n_batches: int, seed: int) -> list:

    mem = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": f"bench-{seed}"}))
    provider.add_span_processor(SimpleSpanProcessor(mem))
    tracer = provider.get_tracer("bench")
    for i in range(n_batches * BATCH // 4):
        with tracer.start_as_current_span("GET /items", kind=SpanKind.SERVER) as s:
            s.set_attribute("http.route", "/items")
            s.set_attribute("http.response.status_code", 200)
            with tracer.start_as_current_span("SELECT items", kind=SpanKind.CLIENT) as c:
                c.set_attribute("db.system", "sqlite")
                c.set_attribute("i", i)
                with tracer.start_as_current_span("parse"):
                    pass
            with tracer.start_as_current_span("render"):
                pass
    spans = mem.get_finished_spans()
    return [spans[i:i + BATCH] for i in range(0, len(spans), BATCH)]


def _sender(url: str, n_batches: int, seed: int, cpu: int, ready, go, out,  # noqa: PLR0917
            pre_encode: bool) -> None:

    os.sched_setaffinity(0, {cpu})
    batches = _spans(n_batches, seed)
    exporter = OTLPSpanExporter(endpoint=url, timeout=30)
    # pre-encoded: the exporter's own encoding done before the clock starts, the bytes sent by
    # its own HTTP client (what export() does after encoding), so one sender core can offer
    # the hub more than 50,000 spans/s; the hub receives the very same requests
    bodies = [encode_spans(b).SerializePartialToString() for b in batches] if pre_encode \
        else []
    ready.put(seed)
    go.wait()
    ok = failed = 0
    for i, batch in enumerate(batches):
        if pre_encode:
            success = exporter._client.export(bodies[i]).success  # noqa: SLF001
        else:
            success = exporter.export(batch) == SpanExportResult.SUCCESS
        if success:
            ok += len(batch)
        else:
            failed += len(batch)
    out.put((ok, failed))


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _profiler(pid: int, out: Path | None) -> subprocess.Popen[bytes] | None:
    """``perflab profile PID --backend py-spy`` on the hub while it ingests (a folded file
    and the top functions), started before the senders go."""
    if out is None:
        return None
    return subprocess.Popen([sys.executable, "-m", "perflab", "profile", "capture", str(pid),
                             "--backend", "py-spy", "--duration", "60s", "--rate", "250",
                             "--top", "25", "--gil", "-o", str(out)])


def run(batches: int, senders: int, profile: Path | None = None, *,
        pre_encode: bool = False) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    hub_cpu, send_cpu = cpus[0], cpus[-1]
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "ingest.db"
        port = free_port()
        with serve(store, "--no-record", "--otlp-http", f"127.0.0.1:{port}", "--no-otlp-grpc",
                   "--no-zipkin") as hub:
            os.sched_setaffinity(hub.pid, {hub_cpu})
            url = f"http://127.0.0.1:{port}/v1/traces"
            ctx = mp.get_context("spawn")
            ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
            procs = [ctx.Process(target=_sender, args=(url, batches // senders, i, send_cpu,
                                                        ready, go, out, pre_encode))
                     for i in range(senders)]
            for p in procs:
                p.start()
            for _ in procs:
                ready.get(timeout=600)
            profiler = _profiler(hub.pid, profile)
            if profiler is not None:
                time.sleep(2.0)  # py-spy attached
            cpu0 = _cpu_s(hub.pid)
            t0 = time.monotonic()
            go.set()
            results = [out.get(timeout=600) for _ in procs]
            sent = sum(r[0] for r in results)
            failed = sum(r[1] for r in results)
            while True:
                with Store.open(store, create=False) as st:
                    stored = span_stats(st)[0]
                if stored >= sent or time.monotonic() - t0 > 600:
                    break
                time.sleep(0.05)
            wall = time.monotonic() - t0
            cpu = _cpu_s(hub.pid) - cpu0
            for p in procs:
                p.join()
            if profiler is not None:
                profiler.send_signal(2)  # Ctrl-C: the profile of what was sampled so far
                profiler.wait(120)
    print(f"sent {sent} spans in batches of {BATCH} from {senders} SDK exporter process(es) "
          f"(CPU {send_cpu}{', pre-encoded' if pre_encode else ''}); hub on CPU {hub_cpu}")
    print(f"  stored {stored} spans, dropped {sent - stored}, exports refused {failed}")
    print(f"  wall: {sent / wall:,.0f} spans/s ({wall:.2f} s)")
    print(f"  hub CPU: {cpu:.2f} s -> {sent / cpu:,.0f} spans per CPU second (one core)")


def _copies(bodies: list[bytes], copies: int) -> list[bytes]:
    """``bodies`` again and again, each copy with other trace ids (so none is a duplicate)."""

    out = []
    for k in range(copies):
        for body in bodies:
            req = ExportTraceServiceRequest.FromString(body)
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    for sp in ss.spans:
                        sp.trace_id = k.to_bytes(4, "big") + sp.trace_id[4:]
            out.append(req.SerializeToString())
    return out


def overload(batches: int, senders: int, copies: int) -> None:
    """More than the ingest queue holds (500,000 spans), as fast as 16 threads send it: the
    hub answers 429 to what it cannot hold, and every span it accepted is stored."""


    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "overload.db"
        port = free_port()
        with serve(store, "--no-record", "--otlp-http", f"127.0.0.1:{port}", "--no-otlp-grpc",
                   "--no-zipkin") as hub:
            os.sched_setaffinity(hub.pid, {min(os.sched_getaffinity(0))})
            url = f"http://127.0.0.1:{port}/v1/traces"
            bodies = _copies([encode_spans(b).SerializeToString()
                              for b in _spans(batches, 99)], copies)
            counts = {"ok": 0, "429": 0, "other": 0}
            lock = threading.Lock()

            def blast(part: list[bytes]) -> None:
                session = requests.Session()
                for body in part:
                    r = session.post(url, data=body, timeout=60,
                                     headers={"Content-Type": "application/x-protobuf"})
                    key = "ok" if r.status_code == 200 else str(r.status_code) \
                        if r.status_code == 429 else "other"
                    with lock:
                        counts[key] += 1

            session = requests.Session()
            threads = [threading.Thread(target=blast, args=(bodies[i::senders * 8],))
                       for i in range(senders * 8)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - t0
            # until the hub's ingest queue has written everything it accepted (its own
            # stats), then count what the store holds
            ingest: dict = {}
            while time.monotonic() - t0 < 600:
                ingest = session.get(f"{hub.url}/api/trace/stats", timeout=30).json()["ingest"]
                if ingest["pending"] == 0:
                    break
                time.sleep(0.5)
            with Store.open(store, create=False) as st:
                stored = span_stats(st)[0]
    print(f"  hub's ingest queue: {ingest}")
    print(f"overload: {len(bodies)} requests of {BATCH} spans from {senders * 8} threads in "
          f"{wall:.1f} s: {counts['ok']} accepted, {counts['429']} answered 429, "
          f"{counts['other']} other; stored {stored} = accepted x {BATCH}: "
          f"{stored == counts['ok'] * BATCH}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--overload", action="store_true")
    parser.add_argument("--pre-encode", action="store_true",
                        help="senders encode with the SDK before the clock starts, so they can "
                             "offer the hub more than 50,000 spans/s")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="profile the hub with py-spy while it ingests (.folded, .pb.gz)")
    parser.add_argument("--copies", type=int, default=6,
                        help="overload: how many times the batches are sent (new ids each)")
    args = parser.parse_args()
    run(args.batches, args.senders, args.profile, pre_encode=args.pre_encode)
    if args.overload:
        overload(args.batches, args.senders, args.copies)


if __name__ == "__main__":
    main()
