"""The span receivers, fed by the real OTel SDK exporters (OTLP/HTTP protobuf, OTLP/gRPC, Zipkin
JSON) and by hand-built requests for what the exporters never send (OTLP/JSON, bad input)."""

from __future__ import annotations

import gzip
import json
import time

import grpc
import httpx
import pytest
from _tracehub import running_hub
from google.rpc import status_pb2
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from perflab.store import IngestQueue, Store, span_services
from perflab.trace import get_trace, parse_hex_id


def _send(exporter, service: str) -> tuple[str, str]:
    """One server span with a client child and an error grandchild, through ``exporter``;
    returns (trace id, root span id) in hex."""
    provider = TracerProvider(resource=Resource.create({"service.name": service,
                                                        "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("perflab.tests", "1.0")
    with tracer.start_as_current_span("GET /items", kind=otel_trace.SpanKind.SERVER) as root:
        root.set_attribute("http.route", "/items")
        root.set_attribute("http.response.status_code", 200)
        with tracer.start_as_current_span("SELECT items", kind=otel_trace.SpanKind.CLIENT) as c:
            c.add_event("rows", {"count": 3})
            with tracer.start_as_current_span("parse") as p:
                p.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR, "bad row"))
        ctx = root.get_span_context()
    provider.shutdown()
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


def _check_stored(store_path, trace_hex: str, service: str, *, resource: bool = True) -> None:
    tid = parse_hex_id(trace_hex, 16)
    assert tid is not None
    with Store.open(store_path) as store:
        assert service in span_services(store)
        trace = get_trace(store, tid)
    assert trace is not None
    names = [s.name for s in trace.spans]
    assert sorted(names) == ["GET /items", "SELECT items", "parse"]
    root = trace.root()
    assert root is not None
    assert root.name == "GET /items"
    assert root.kind == 2
    assert root.attrs["http.route"] == "/items"
    if resource:  # Zipkin carries a service name, no resource attributes
        assert root.process.attrs["deployment.environment"] == "test"
    parse = next(s for s in trace.spans if s.name == "parse")
    assert parse.status == 2
    assert trace.missing_parents() == 0


@pytest.mark.parametrize("protocol", ["http", "grpc", "zipkin"])
def test_the_real_sdk_exporters_deliver_whole_traces(tmp_path, protocol):
    """Each receiver takes what the real exporter sends: three spans, their tree, kinds,
    attributes, resource and status survive."""
    with running_hub(tmp_path / "s.db") as hub:
        exporter: SpanExporter
        if protocol == "http":
            exporter = HttpExporter(endpoint=hub.otlp_url + "/v1/traces")
        elif protocol == "grpc":
            exporter = GrpcExporter(endpoint=hub.grpc_target, insecure=True)
        else:
            exporter = ZipkinExporter(endpoint=hub.zipkin_url + "/api/v2/spans")
        trace_hex, _ = _send(exporter, f"svc-{protocol}")
        hub.wait_written(3)
        _check_stored(hub.store_path, trace_hex, f"svc-{protocol}",
                      resource=protocol != "zipkin")


def test_otlp_http_on_the_hubs_own_port_and_gzip(tmp_path):
    with running_hub(tmp_path / "s.db") as hub:
        trace_hex, _ = _send(HttpExporter(endpoint=hub.url + "/v1/traces",
                                          compression=Compression.Gzip), "gz")
        hub.wait_written(3)
        _check_stored(hub.store_path, trace_hex, "gz")


def _json_request(trace_id: str, span_id: str, **span: object) -> dict:
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "json-svc"}}]},
        "scopeSpans": [{"scope": {"name": "hand"}, "spans": [{
            "traceId": trace_id, "spanId": span_id, "name": "op", "kind": 2,
            "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000000250000000",
            "attributes": [{"key": "n", "value": {"intValue": "42"}},
                           {"key": "ok", "value": {"boolValue": True}}],
            "status": {"code": 2, "message": "boom"}, **span}]}]}]}


def test_otlp_json_hex_ids_integer_enums_and_string_int64(tmp_path):
    """The spec's JSON encoding: hex ids (any case), integer enums, 64-bit ints as strings."""
    tid, sid = "5B8EFFF798038103D269B633813FC60C", "EEE19B7EC3C1B174"
    with running_hub(tmp_path / "s.db") as hub:
        r = httpx.post(hub.otlp_url + "/v1/traces", json=_json_request(tid, sid))
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {}  # no partial_success when everything was taken
        hub.wait_written(1)
        with Store.open(hub.store_path) as store:
            t = get_trace(store, bytes.fromhex(tid))
        assert t is not None
        span = t.spans[0]
        assert span.span_id.hex() == sid.lower()
        assert (span.kind, span.status, span.status_message) == (2, 2, "boom")
        assert span.attrs == {"n": 42, "ok": True}
        assert span.duration_ns == 250_000_000


def test_ids_of_the_wrong_length_are_rejected_as_a_partial_success(tmp_path):
    """Spans with bad ids are counted in partial_success; the good ones are kept."""
    good = _json_request("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    bad = _json_request("0af7651916cd43dd8448eb211c80", "b7ad6b71692033")["resourceSpans"][0]
    good["resourceSpans"].append(bad)
    with running_hub(tmp_path / "s.db") as hub:
        r = httpx.post(hub.otlp_url + "/v1/traces", json=good)
        assert r.status_code == 200
        partial = r.json()["partialSuccess"]
        assert partial["rejectedSpans"] == "1"
        assert "trace id" in partial["errorMessage"]
        hub.wait_written(1)


def test_a_span_ending_before_it_starts_is_kept_with_duration_zero_and_a_warning(tmp_path):
    req = _json_request("0af7651916cd43dd8448eb211c80319d", "b7ad6b7169203332",
                        endTimeUnixNano="1699999999000000000")
    with running_hub(tmp_path / "s.db") as hub:
        r = httpx.post(hub.otlp_url + "/v1/traces", json=req)
        assert r.status_code == 200
        assert r.json()["partialSuccess"]["rejectedSpans"] == "0"
        assert "ended before they started" in r.json()["partialSuccess"]["errorMessage"]
        hub.wait_written(1)
        doc = httpx.get(hub.url + "/api/traces/0af7651916cd43dd8448eb211c80319d").json()
        span = doc["data"][0]["spans"][0]
        assert span["duration"] == 0
        assert any("ended before it started" in w for w in span["warnings"])


def test_bad_bodies_get_the_otlp_status_codes_and_the_hub_keeps_serving(tmp_path):
    with running_hub(tmp_path / "s.db") as hub:
        url = hub.otlp_url + "/v1/traces"
        r = httpx.post(url, content=b"\xff\x00garbage", headers={
            "content-type": "application/x-protobuf"})
        assert r.status_code == 400
        status = status_pb2.Status.FromString(r.content)  # the spec's error body
        assert "protobuf" in status.message
        r = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert "JSON" in r.json()["message"]
        r = httpx.post(url, content=b"x", headers={"content-type": "text/plain"})
        assert r.status_code == 415
        bomb = gzip.compress(b"\0" * (65 * 1024 * 1024))
        # inflating 64 MiB before the refusal takes seconds on a busy machine (httpx waits 5 s)
        r = httpx.post(url, content=bomb, headers={"content-type": "application/x-protobuf",
                                                   "content-encoding": "gzip"}, timeout=60)
        assert r.status_code == 413
        r = httpx.post(url, content=b"not gzip", headers={
            "content-type": "application/x-protobuf", "content-encoding": "gzip"})
        assert r.status_code == 400
        # still serving, and what it took before stays
        trace_hex, _ = _send(HttpExporter(endpoint=url), "after")
        hub.wait_written(3)
        _check_stored(hub.store_path, trace_hex, "after")


def test_the_receivers_ports_serve_only_their_paths(tmp_path):
    with running_hub(tmp_path / "s.db") as hub:
        assert httpx.get(hub.otlp_url + "/api/services").status_code == 404
        assert httpx.post(hub.zipkin_url + "/v1/traces", content=b"").status_code == 404
        assert httpx.get(hub.url + "/api/services").status_code == 200


def test_a_full_ingest_queue_answers_429_and_resource_exhausted(tmp_path):
    """Overload: the queue refuses whole requests (HTTP 429 with Retry-After, gRPC
    RESOURCE_EXHAUSTED); what it accepted before is all written."""
    with running_hub(tmp_path / "s.db") as hub:
        url = hub.otlp_url + "/v1/traces"
        trace_hex, _ = _send(HttpExporter(endpoint=url), "before")
        hub.wait_written(3)
        full = IngestQueue(hub.store_path, max_items=1)  # never started: stays full
        hub.trace.sink.register(full)
        real, hub.trace.queue = hub.trace.queue, full
        try:
            full.submit("spans", [object()])
            r = httpx.post(url, json=_json_request("0af7651916cd43dd8448eb211c80319e",
                                                   "b7ad6b7169203333"))
            assert r.status_code == 429
            assert r.headers["retry-after"] == "1"
            req = trace_service_pb2.ExportTraceServiceRequest()
            rs = req.resource_spans.add()
            sp = rs.scope_spans.add().spans.add()
            sp.trace_id, sp.span_id, sp.name = b"\1" * 16, b"\2" * 8, "x"
            with grpc.insecure_channel(hub.grpc_target) as channel:
                stub = trace_service_pb2_grpc.TraceServiceStub(channel)
                with pytest.raises(grpc.RpcError) as err:
                    stub.Export(req, timeout=10)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        finally:
            hub.trace.queue = real
        _check_stored(hub.store_path, trace_hex, "before")


def test_the_token_is_required_on_every_receiver(tmp_path):
    with running_hub(tmp_path / "s.db", token="sekrit") as hub:
        req = _json_request("0af7651916cd43dd8448eb211c80319f", "b7ad6b7169203334")
        assert httpx.post(hub.otlp_url + "/v1/traces", json=req).status_code == 401
        assert httpx.post(hub.zipkin_url + "/api/v2/spans", json=[]).status_code == 401
        ok = httpx.post(hub.otlp_url + "/v1/traces", json=req,
                        headers={"authorization": "Bearer sekrit"})
        assert ok.status_code == 200
        empty = trace_service_pb2.ExportTraceServiceRequest()
        with grpc.insecure_channel(hub.grpc_target) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.Export(empty, timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            stub.Export(empty, timeout=10, metadata=[("authorization", "Bearer sekrit")])


def test_another_host_header_is_refused(tmp_path):
    with running_hub(tmp_path / "s.db") as hub:
        r = httpx.post(hub.otlp_url + "/v1/traces", json={}, headers={"host": "evil.example"})
        assert r.status_code == 421


def test_zipkin_shared_spans_keep_both_halves(tmp_path):
    tid = "463ac35c9f6413ad48485a3953bb6124"
    spans = [
        {"traceId": tid, "id": "a2fb4a1d1a96d312", "name": "get", "kind": "CLIENT",
         "timestamp": 1_700_000_000_000_000, "duration": 2000,
         "localEndpoint": {"serviceName": "front"},
         "remoteEndpoint": {"serviceName": "back", "ipv4": "10.0.0.2", "port": 8080}},
        {"traceId": tid, "id": "a2fb4a1d1a96d312", "name": "get", "kind": "SERVER",
         "shared": True, "timestamp": 1_700_000_000_000_300, "duration": 1500,
         "localEndpoint": {"serviceName": "back"}, "tags": {"error": "timeout"},
         "annotations": [{"timestamp": 1_700_000_000_000_400, "value": "wr"}]},
    ]
    with running_hub(tmp_path / "s.db") as hub:
        r = httpx.post(hub.zipkin_url + "/api/v2/spans", json=spans)
        assert r.status_code == 202
        hub.wait_written(2)
        with Store.open(hub.store_path) as store:
            t = get_trace(store, bytes.fromhex(tid))
        assert t is not None
        client = next(s for s in t.spans if s.kind == 3)
        server = next(s for s in t.spans if s.kind == 2)
        assert server.parent_id == client.span_id
        assert (server.status, server.status_message) == (2, "timeout")
        assert client.attrs["peer.service"] == "back"
        assert server.events[0].name == "wr"


def test_ingest_keeps_up_with_bursts_without_dropping(tmp_path):
    """Many exporters at once: every span they were told was taken is in the store."""
    with running_hub(tmp_path / "s.db") as hub:
        url = hub.otlp_url + "/v1/traces"
        sent = [_send(HttpExporter(endpoint=url), f"burst-{i % 4}")[0] for i in range(20)]
        hub.wait_written(60)
        with Store.open(hub.store_path) as store:
            for tid in sent:
                t = get_trace(store, bytes.fromhex(tid))
                assert t is not None
                assert len(t.spans) == 3
    assert json.dumps(sent)  # ids are plain hex
    assert time.time() > 0


def test_forward_otlp_sends_every_span_on_to_another_backend(tmp_path):
    """--forward-otlp: a second hub stands in for Jaeger/Tempo; it gets what the first took."""
    from perflab.trace import TraceHub  # noqa: PLC0415
    from perflab.trace._forward import wait_idle  # noqa: PLC0415

    with running_hub(tmp_path / "backend.db") as backend:
        front = TraceHub(forward_url=backend.otlp_url)
        with running_hub(tmp_path / "front.db", trace=front) as hub:
            trace_hex, _ = _send(HttpExporter(endpoint=hub.otlp_url + "/v1/traces"), "fwd")
            hub.wait_written(3)
            assert front.forwarder is not None
            assert wait_idle(front.forwarder, 30)
            backend.wait_written(3)
            _check_stored(backend.store_path, trace_hex, "fwd")
            assert front.forwarder.stats().sent == 3
