"""The OpenTelemetry SDK's own OTLPMetricExporter (HTTP and gRPC) exports into a real
``perflab serve``; PromQL then reads the series under Prometheus's names."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _prompeers import get_json

from perflab.testing import Served, free_port, serve

pytestmark = pytest.mark.integration


def _provider(exporter: Any, service: str) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader  # noqa: PLC0415
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415

    # exports only when flushed: the test decides when points are sent
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({"service.name": service, "service.instance.id": f"{service}-1",
                                "deployment.environment": "test"})
    return MeterProvider(resource=resource, metric_readers=[reader])


def _record(provider: Any) -> None:
    """Two exports: a counter's cumulative sum grows across them, as the SDK sends it."""
    meter = provider.get_meter("shop.meter", "1.0")
    orders = meter.create_counter("orders", unit="{order}", description="orders taken")
    duration = meter.create_histogram("http.server.duration", unit="ms")
    inflight = meter.create_up_down_counter("inflight")
    orders.add(5, {"status": "ok"})
    for ms in (3, 30, 30, 70, 300):
        duration.record(ms, {"http.route": "/pay"})
    inflight.add(4)
    assert provider.force_flush(30_000)
    orders.add(3, {"status": "ok"})
    inflight.add(-1)
    assert provider.force_flush(30_000)
    provider.shutdown()


def _query(hub: Served, expr: str, timeout_s: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        result = get_json(hub.url + "/api/v1/query", {"query": expr})["data"]["result"]
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def _value(hub: Served, expr: str, want: float) -> None:
    """The query's one value, once the store has written what the hub accepted."""
    deadline = time.monotonic() + 30
    while True:
        result = _query(hub, expr)
        got = [float(s["value"][1]) for s in result]
        if got == [want] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == [want], (expr, result, hub.log())


def test_the_sdks_exporters_over_http_and_grpc(tmp_path: Path) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (  # noqa: PLC0415
        OTLPMetricExporter as GrpcExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415
        OTLPMetricExporter as HttpExporter,
    )

    http_port, grpc_port = free_port(), free_port()
    with serve(tmp_path / "perflab.db", "--no-record", "--no-default-rules",
               "--otlp-http", f"127.0.0.1:{http_port}",
               "--otlp-grpc", f"127.0.0.1:{grpc_port}") as hub:
        _record(_provider(HttpExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/metrics"),
                          "checkout"))
        _record(_provider(GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True),
                          "payments"))
        for job in ("checkout", "payments"):
            sel = f'job="{job}",instance="{job}-1"'
            _value(hub, f'orders_total{{{sel},status="ok"}}', 8)
            _value(hub, f"inflight{{{sel}}}", 3)
            _value(hub, f"http_server_duration_milliseconds_count{{{sel}}}", 5)
            _value(hub, f"http_server_duration_milliseconds_sum{{{sel}}}", 433)
            # the SDK's default buckets (0, 5, 10, 25, 50, 75, 100, 250, 500 ...): 3 of 5
            # recordings are at most 50 ms, 1 at most 25; the median is interpolated in
            # (25, 50]: 25 + 25 * (2.5 - 1) / (3 - 1)
            _value(hub, f'http_server_duration_milliseconds_bucket{{{sel},le="50"}}', 3)
            _value(hub, "histogram_quantile(0.5, sum by (le) "
                        f"(http_server_duration_milliseconds_bucket{{{sel}}}))", 43.75)
            _value(hub, f'target_info{{{sel},deployment_environment="test"}}', 1)
            [series] = _query(hub, f"orders_total{{{sel}}}")
            assert series["metric"]["otel_scope_name"] == "shop.meter"
        meta = get_json(hub.url + "/api/v1/metadata", {"metric": "orders_total"})
        assert meta["data"]["orders_total"][0] == {"type": "counter", "help": "orders taken",
                                                   "unit": "{order}"}
