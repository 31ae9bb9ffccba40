"""OTLP metrics in: names and labels as Prometheus's OTLP translator spells them, each data
type mapped to Prometheus series, refused points counted in the partial success, and the
OTLP/HTTP answers (protobuf, JSON, gzip, 400/413/415/429) on the hub's port."""

from __future__ import annotations

import gzip
import json
import math
import time
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from perflab.metrics._otlp_metrics import (
    DecodeError,
    decode_json,
    decode_protobuf,
    label_name,
    metric_name,
)
from perflab.store import is_stale_nan


@pytest.mark.parametrize(("name", "unit", "kind", "monotonic", "want"), [
    ("http.server.duration", "ms", "histogram", False, "http_server_duration_milliseconds"),
    ("system.memory.usage", "By", "gauge", False, "system_memory_usage_bytes"),
    ("requests", "{request}", "sum", True, "requests_total"),
    ("requests_total", "1", "sum", True, "requests_total"),
    ("cpu.utilization", "1", "gauge", False, "cpu_utilization_ratio"),
    ("speed", "m/s", "gauge", False, "speed_meters_per_second"),
    ("throughput", "By/s", "sum", True, "throughput_bytes_per_second_total"),
    ("latency_seconds", "s", "histogram", False, "latency_seconds"),
    ("queue..depth__now", "", "sum", False, "queue_depth_now"),
    ("1st.metric", "", "gauge", False, "_1st_metric"),
    ("weird", "furlongs", "gauge", False, "weird_furlongs"),
    ("caf\u00e9.visits", "", "gauge", False, "caf_visits"),  # Prometheus 2 names are ASCII
])
def test_names_follow_the_translator(name: str, unit: str, kind: str, monotonic: bool,
                                     want: str) -> None:
    assert metric_name(name, unit, kind, monotonic=monotonic) == want


@pytest.mark.parametrize(("key", "want"), [
    ("http.method", "http_method"), ("2xx", "key_2xx"), ("_private", "key_private"),
    ("__reserved", "__reserved"), ("a-b/c", "a_b_c"),
])
def test_label_names(key: str, want: str) -> None:
    assert label_name(key) == want


def _attrs(d: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for k, v in d.items():
        if isinstance(v, bool):
            out.append({"key": k, "value": {"boolValue": v}})
        elif isinstance(v, int):
            out.append({"key": k, "value": {"intValue": str(v)}})
        elif isinstance(v, float):
            out.append({"key": k, "value": {"doubleValue": v}})
        else:
            out.append({"key": k, "value": {"stringValue": v}})
    return out


def _request(metrics: list[dict[str, Any]], *, resource: dict[str, Any] | None = None,
             ts: int | None = None) -> dict[str, Any]:
    # now, at the call: a time taken when the module was collected is more than the queries'
    # 5-minute lookback old by the time a long suite reaches the hub tests
    ts = time.time_ns() // 1_000_000 * 1_000_000 if ts is None else ts
    for m in metrics:
        for key in ("gauge", "sum", "histogram", "summary", "exponentialHistogram"):
            for p in m.get(key, {}).get("dataPoints", []):
                p.setdefault("timeUnixNano", str(ts))
    res = resource if resource is not None else {"service.name": "checkout",
                                                 "service.namespace": "shop",
                                                 "service.instance.id": "pod-1",
                                                 "host.name": "node-7"}
    return {"resourceMetrics": [{"resource": {"attributes": _attrs(res)}, "scopeMetrics": [
        {"scope": {"name": "app.meter", "version": "1.2"}, "metrics": metrics}]}]}


def _rows(doc: dict[str, Any]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    decoded = decode_json(json.dumps(doc).encode())
    return {(n, tuple(sorted(json.loads(lab).items()))): v for n, lab, _, v in decoded.rows}


def _one(rows: dict[Any, float], name: str, **labels: str) -> float:
    hits = [v for (n, lab), v in rows.items() if n == name
            and all(dict(lab).get(k) == want for k, want in labels.items())]
    assert len(hits) == 1, (name, labels, rows)
    return hits[0]


def test_every_data_type_becomes_prometheus_series() -> None:
    doc = _request([
        {"name": "queue.size", "unit": "{item}", "gauge": {"dataPoints": [
            {"asInt": "7", "attributes": _attrs({"queue": "q1"})}]}},
        {"name": "requests", "unit": "{request}", "sum": {
            "aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [
                {"asDouble": 12.0, "attributes": _attrs({"http.route": "/pay", "code": 200})}]}},
        {"name": "inflight", "sum": {"aggregationTemporality": 2, "isMonotonic": False,
                                     "dataPoints": [{"asInt": "-3"}]}},
        {"name": "http.server.duration", "unit": "ms", "histogram": {
            "aggregationTemporality": 2, "dataPoints": [
                {"count": "10", "sum": 123.5, "bucketCounts": ["2", "5", "3"],
                 "explicitBounds": [5, 50]}]}},
        {"name": "rpc.latency", "unit": "s", "summary": {"dataPoints": [
            {"count": "4", "sum": 2.0, "quantileValues": [{"quantile": 0.5, "value": 0.4},
                                                          {"quantile": 0.99, "value": 0.9}]}]}},
    ])
    rows = _rows(doc)
    target = {"job": "shop/checkout", "instance": "pod-1", "otel_scope_name": "app.meter",
              "otel_scope_version": "1.2"}
    assert _one(rows, "queue_size", queue="q1", **target) == 7
    assert _one(rows, "requests_total", http_route="/pay", code="200") == 12
    assert _one(rows, "inflight") == -3
    buckets = {dict(lab)["le"]: v for (n, lab), v in rows.items()
               if n == "http_server_duration_milliseconds_bucket"}
    assert buckets == {"5": 2, "50": 7, "+Inf": 10}
    assert _one(rows, "http_server_duration_milliseconds_sum") == 123.5
    assert _one(rows, "http_server_duration_milliseconds_count") == 10
    assert _one(rows, "rpc_latency_seconds", quantile="0.99") == 0.9
    assert _one(rows, "rpc_latency_seconds_count") == 4
    # the resource's other attributes, once, on target_info
    assert _one(rows, "target_info", host_name="node-7", job="shop/checkout",
                instance="pod-1") == 1


def test_refused_points_are_counted_and_the_rest_kept() -> None:
    doc = _request([
        {"name": "ok", "gauge": {"dataPoints": [{"asDouble": 1.0}]}},
        {"name": "d", "sum": {"aggregationTemporality": 1, "isMonotonic": True,
                              "dataPoints": [{"asInt": "1"}, {"asInt": "2"}]}},
        {"name": "e", "exponentialHistogram": {"aggregationTemporality": 2,
                                               "dataPoints": [{"count": "1"}]}},
        {"name": "t", "gauge": {"dataPoints": [{"asDouble": 1.0, "timeUnixNano": "0"}]}},
    ])
    decoded = decode_json(json.dumps(doc).encode())
    assert [r[0] for r in decoded.rows] == ["ok", "target_info"]
    assert decoded.rejected == 4
    message = decoded.message()
    assert "2 sum points of delta or unspecified temporality" in message
    assert "1 exponential histogram points" in message
    assert "1 points without a time" in message


def test_no_recorded_value_is_a_staleness_marker_and_collisions_join() -> None:
    doc = _request([{"name": "g", "gauge": {"dataPoints": [
        {"asDouble": 5.0, "flags": 1, "attributes": _attrs({"a.b": "x", "a_b": "y",
                                                              "empty": ""})}]}}],
        resource={})
    decoded = decode_json(json.dumps(doc).encode())
    [(name, labels, _, value)] = decoded.rows  # no resource attributes: no target_info
    assert name == "g"
    assert json.loads(labels) == {"a_b": "x;y", "otel_scope_name": "app.meter",
                                  "otel_scope_version": "1.2"}  # "" is no label
    assert is_stale_nan(value)
    assert math.isnan(value)


@pytest.mark.parametrize("body", [b"\x00\xff garbage", b"\x0a\x05abc"])
def test_bodies_that_do_not_decode_are_decode_errors(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_protobuf(body)
    with pytest.raises(DecodeError):
        decode_json(body)


# -- on the hub's port ----------------------------------------------------------------------------

def _pb(doc: dict[str, Any]) -> bytes:
    return json_format.ParseDict(doc, ExportMetricsServiceRequest()).SerializeToString()


def _query(client: Any, expr: str, want: int = 1, timeout_s: float = 20) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        result = client.get("/api/v1/query", params={"query": expr}).json()["data"]["result"]
        if len(result) >= want or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_protobuf_json_and_gzip_land_in_the_store(hub: Any) -> None:
    client = hub.client
    gauge = _request([{"name": "temp", "unit": "Cel", "gauge": {"dataPoints": [
        {"asDouble": 21.5, "attributes": _attrs({"room": "a"})}]}}])
    r = client.post("/v1/metrics", content=_pb(gauge),
                    headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-protobuf"
    assert not ExportMetricsServiceResponse.FromString(r.content).HasField("partial_success")
    gauge["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["gauge"]["dataPoints"][0][
        "attributes"] = _attrs({"room": "b"})
    r = client.post("/v1/metrics", content=gzip.compress(json.dumps(gauge).encode()),
                    headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.json() == {}
    result = _query(client, 'temp_celsius{job="shop/checkout"}', want=2)
    assert sorted((s["metric"]["room"], s["value"][1]) for s in result) == [
        ("a", "21.5"), ("b", "21.5")]
    meta = client.get("/api/v1/metadata", params={"metric": "temp_celsius"}).json()
    assert meta["data"]["temp_celsius"][0]["type"] == "gauge"


def test_partial_success_names_what_was_refused(hub: Any) -> None:
    doc = _request([{"name": "d", "sum": {"aggregationTemporality": 1, "isMonotonic": True,
                                          "dataPoints": [{"asInt": "1"}]}},
                    {"name": "old", "gauge": {"dataPoints": [
                        {"asDouble": 1.0, "timeUnixNano": "1000000000"}]}}])
    r = hub.client.post("/v1/metrics", json=doc)
    assert r.status_code == 200
    partial = r.json()["partialSuccess"]
    assert partial["rejectedDataPoints"] == "2"
    assert "delta" in partial["errorMessage"]
    assert "out of bounds" in partial["errorMessage"]


def test_refusals_are_otlps_own(hub: Any) -> None:
    client = hub.client
    r = client.post("/v1/metrics", content=b"\x00\xffnot protobuf",
                    headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400
    r = client.post("/v1/metrics", content=b"{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["code"] == 3  # google.rpc.Status INVALID_ARGUMENT
    r = client.post("/v1/metrics", content=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024 + 1))
    r = client.post("/v1/metrics", content=bomb,
                    headers={"Content-Type": "application/x-protobuf",
                             "Content-Encoding": "gzip"})
    assert r.status_code == 413
    client.app.state.ingest.max_items = 1  # nothing more fits: say so, do not drop
    r = client.post("/v1/metrics", json=_request([
        {"name": "a", "gauge": {"dataPoints": [{"asDouble": 1.0}, {"asDouble": 2.0}]}}]))
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"


def test_metrics_service_export_over_grpc_with_the_token(tmp_path: Any) -> None:
    """MetricsService/Export on the hub's OTLP/gRPC port: the token as on every port, the
    partial success in the answer, RESOURCE_EXHAUSTED when the store is behind."""
    import grpc  # noqa: PLC0415
    from opentelemetry.proto.collector.metrics.v1 import (  # noqa: PLC0415
        metrics_service_pb2_grpc,
    )
    from tests.unit.trace._tracehub import running_hub  # noqa: PLC0415

    auth = [("authorization", "Bearer sekrit")]
    good = json_format.ParseDict(_request([{"name": "g", "gauge": {"dataPoints": [
        {"asDouble": 2.0}]}}]), ExportMetricsServiceRequest())
    delta = json_format.ParseDict(_request([{"name": "d", "sum": {
        "aggregationTemporality": 1, "dataPoints": [{"asInt": "1"}]}}]),
        ExportMetricsServiceRequest())
    with running_hub(tmp_path / "s.db", token="sekrit") as hub, \
            grpc.insecure_channel(hub.grpc_target) as channel:
        stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.Export(good, timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert not stub.Export(good, timeout=10, metadata=auth).HasField("partial_success")
        answer = stub.Export(delta, timeout=10, metadata=auth)
        assert answer.partial_success.rejected_data_points == 1
        assert "delta" in answer.partial_success.error_message
        hub.app.state.ingest.max_items = 1  # nothing more fits: say so, do not drop
        with pytest.raises(grpc.RpcError) as err:
            stub.Export(good, timeout=10, metadata=auth)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert hub.app.state.metrics.otlp.to_json()["refused_requests"] == 2
