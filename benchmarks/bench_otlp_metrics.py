"""OTLP metrics decoding cost: data points (and the Prometheus samples they become) decoded per
CPU-second by ``decode_protobuf``, the work ``/v1/metrics`` and ``MetricsService/Export`` do
off the event loop before a request reaches the ingest queue.

The request is what an OpenTelemetry SDK sends for a service's meter every interval: one
resource, one scope, ``--counters`` monotonic sums and ``--histograms`` histograms (15 explicit
buckets, the SDK's default boundaries), each with ``--series`` attribute sets.

    python benchmarks/bench_otlp_metrics.py [--counters 50] [--histograms 10] [--series 10]
"""

from __future__ import annotations

import argparse
import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from perflab.metrics._otlp_metrics import decode_protobuf

BOUNDS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]


def request(counters: int, histograms: int, series: int) -> bytes:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for key, value in (("service.name", "checkout"), ("service.instance.id", "pod-1"),
                       ("host.name", "node-7"), ("telemetry.sdk.language", "python")):
        kv = rm.resource.attributes.add()
        kv.key, kv.value.string_value = key, value
    sm = rm.scope_metrics.add()
    sm.scope.name, sm.scope.version = "app.meter", "1.0"
    now = time.time_ns()
    for c in range(counters + histograms):
        m = sm.metrics.add()
        m.name = f"app.metric_{c}"
        if c < counters:
            m.unit = "{request}"
            m.sum.aggregation_temporality, m.sum.is_monotonic = 2, True
            points = m.sum.data_points
        else:
            m.unit = "ms"
            m.histogram.aggregation_temporality = 2
            points = m.histogram.data_points
        for s in range(series):
            p = points.add()
            p.time_unix_nano = p.start_time_unix_nano = now
            for key, value in (("http.route", f"/r{s}"), ("http.method", "GET")):
                kv = p.attributes.add()
                kv.key, kv.value.string_value = key, value
            if c < counters:
                p.as_double = float(s * 10)
            else:
                p.explicit_bounds.extend(BOUNDS)
                p.bucket_counts.extend([s] * (len(BOUNDS) + 1))
                p.count, p.sum = s * (len(BOUNDS) + 1), 123.0
    return req.SerializeToString()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counters", type=int, default=50)
    ap.add_argument("--histograms", type=int, default=10)
    ap.add_argument("--series", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    body = request(args.counters, args.histograms, args.series)
    decoded = decode_protobuf(body)  # warm up (and the figures per request)
    points, samples = decoded.points, len(decoded.rows)
    n = 0
    cpu0 = time.process_time()
    while time.process_time() - cpu0 < args.seconds:
        decode_protobuf(body)
        n += 1
    cpu = time.process_time() - cpu0
    print(f"request: {len(body):,} bytes, {points} data points -> {samples} samples")
    print(f"{n * points / cpu:,.0f} data points per CPU-second "
          f"({n * samples / cpu:,.0f} samples per CPU-second)")


if __name__ == "__main__":
    main()
