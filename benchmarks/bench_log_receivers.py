"""Log ingest through each receiver, against the Loki push API measured in the same run: the
same logfmt lines (about 120 bytes, levels and trace ids) in batches of ``--batch``, sent back
to back by one client to one ``perflab serve --no-record`` on loopback.

- loki: snappy protobuf PushRequest (the reference, as bench_logs_ingest.py sends it);
- otlp: OTLP/HTTP protobuf ExportLogsServiceRequest;
- elastic: ``_bulk`` NDJSON;
- forward: Fluentd's Forward mode with a ``chunk`` ack per batch, on one TCP connection;
- syslog: RFC 5424 over TCP with octet counting, on one connection.

Figures per receiver: lines/s (wall, first send to last line in the store) and lines per
CPU-second of the hub process (utime + stime), with the ratio to the Loki push.

    python benchmarks/bench_log_receivers.py [--batches 20] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cramjam
import httpx
import msgpack
import psutil
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "logs"))

from _pushdata import push_request  # the tests' PushRequest encoder

from perflab.store import Store, log_stats
from perflab.testing import free_port, serve

LEVELS = ["info"] * 7 + ["warn"] * 2 + ["error"]


def lines(n: int, seed: int) -> list[tuple[str, str]]:
    """(app, line) pairs."""
    rnd = random.Random(seed)
    out = []
    for k in range(n):
        app = rnd.choice(("api", "web", "worker", "db", "cache"))
        line = (f'ts={k} level={rnd.choice(LEVELS)} msg="handled request {k}" '
                f"path=/v1/items/{rnd.randrange(10_000)} status="
                f"{rnd.choice((200, 200, 404, 500))} duration={rnd.randrange(1, 900)}ms "
                f"trace_id={rnd.getrandbits(128):032x}")
        out.append((app, line))
    return out


def loki(batch: list[tuple[str, str]], t0: int) -> bytes:
    streams: dict[str, list[tuple[int, str, list[tuple[str, str]]]]] = {}
    for i, (app, line) in enumerate(batch):
        streams.setdefault(f'{{job="{app}"}}', []).append((t0 + i, line, []))
    return bytes(cramjam.snappy.compress_raw(push_request(list(streams.items()))))


def otlp(batch: list[tuple[str, str]], t0: int) -> bytes:
    req = ExportLogsServiceRequest()
    by_app: dict[str, list[tuple[int, str]]] = {}
    for i, (app, line) in enumerate(batch):
        by_app.setdefault(app, []).append((t0 + i, line))
    for app, recs in by_app.items():
        rl = req.resource_logs.add()
        attr = rl.resource.attributes.add()
        attr.key, attr.value.string_value = "service.name", app
        sl = rl.scope_logs.add()
        for ts, line in recs:
            rec = sl.log_records.add()
            rec.time_unix_nano, rec.body.string_value = ts, line
    return req.SerializeToString()


def bulk(batch: list[tuple[str, str]], t0: int) -> bytes:
    del t0
    out = []
    for app, line in batch:
        out.append('{"index":{"_index":"%s"}}' % app)  # noqa: UP031  # NDJSON by hand
        out.append(json.dumps({"message": line}))
    return ("\n".join(out) + "\n").encode()


def forward(batch: list[tuple[str, str]], t0: int) -> bytes:
    events = [[t0 // 10**9 + i, {"message": line}] for i, (_app, line) in enumerate(batch)]
    return msgpack.packb(["bench", events, {"chunk": str(t0)}])


def syslog(batch: list[tuple[str, str]], t0: int) -> bytes:
    del t0
    out = bytearray()
    for app, line in batch:
        msg = f"<14>1 2024-01-01T00:00:00Z host {app} - - - {line}".encode()
        out += str(len(msg)).encode() + b" " + msg
    return bytes(out)


def measure(store: Path, pid: int, before: int, total: int,
            send: Callable[[], int]) -> tuple[float, float, int]:
    proc = psutil.Process(pid)
    cpu0 = sum(proc.cpu_times()[:2])
    t0 = time.perf_counter()
    refused = send()
    with Store.open(store) as st:
        while log_stats(st)[0] < before + total:
            time.sleep(0.02)
    wall = time.perf_counter() - t0
    return wall, sum(proc.cpu_times()[:2]) - cpu0, refused


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()
    total = args.batches * args.batch
    data = [lines(args.batch, seed) for seed in range(args.batches)]
    t_base = time.time_ns() - 3600 * 10**9
    fwd_port, syslog_port = free_port(), free_port()
    results: dict[str, tuple[float, float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "s.db"
        with serve(store, "--no-record", "--fluent-forward", f"127.0.0.1:{fwd_port}",
                   "--syslog", f"127.0.0.1:{syslog_port}") as served, \
                httpx.Client(timeout=60) as client:

            def http(path: str, encode: Callable[[list[tuple[str, str]], int], bytes],
                     ctype: str) -> Callable[[], int]:
                bodies = [encode(b, t_base + i * args.batch) for i, b in enumerate(data)]

                def send() -> int:
                    refused = 0
                    for body in bodies:
                        while True:
                            r = client.post(served.url + path, content=body,
                                            headers={"Content-Type": ctype})
                            if r.status_code != 429:
                                break
                            refused += 1
                            time.sleep(0.05)
                        r.raise_for_status()
                    return refused
                return send

            def tcp(port: int, encode: Callable[[list[tuple[str, str]], int], bytes],
                    ack: bool) -> Callable[[], int]:
                bodies = [encode(b, t_base + i * args.batch) for i, b in enumerate(data)]

                def send() -> int:
                    with socket.create_connection(("127.0.0.1", port)) as s:
                        reader = msgpack.Unpacker(raw=False)
                        for body in bodies:
                            s.sendall(body)
                            while ack:
                                got = s.recv(4096)
                                if not got:
                                    raise SystemExit("the forward port closed the connection")
                                reader.feed(got)
                                if next(reader, None) is not None:
                                    break
                    return 0
                return send

            scenarios = {
                "loki": http("/loki/api/v1/push", loki, "application/x-protobuf"),
                "otlp": http("/v1/logs", otlp, "application/x-protobuf"),
                "elastic": http("/_bulk", bulk, "application/x-ndjson"),
                "forward": tcp(fwd_port, forward, ack=True),
                "syslog": tcp(syslog_port, syslog, ack=False),
            }
            before = 0
            for name, send in scenarios.items():
                results[name] = measure(store, served.pid, before, total, send)
                before += total
    ref = total / results["loki"][1]
    print(f"lines per receiver: {total:,} in batches of {args.batch}")
    for name, (wall, cpu, refused) in results.items():
        per_cpu = total / cpu
        note = f", {refused} answered 429" if refused else ""
        print(f"{name:8} {total / wall:>9,.0f} lines/s  {per_cpu:>9,.0f} lines per CPU-second "
              f"({per_cpu / ref:.2f}x the Loki push){note}")


if __name__ == "__main__":
    main()
