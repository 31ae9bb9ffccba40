"""OTLP logs in: the OTel SDK's own OTLP log exporters (HTTP on the hub's port and on the
OTLP/HTTP port, gRPC on the OTLP/gRPC port), OTLP/JSON with hex ids, and bad bodies answered
400/413 with the hub still serving and what it took kept."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.logs._logrows import wait_stored
from tests.unit.trace._tracehub import running_hub

from perflab.logs._otlp import DecodeError, decode_json, decode_protobuf
from perflab.serving import PayloadTooLarge

TRACE_HEX = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_HEX = "00f067aa0ba902b7"


def _send_with_sdk(exporter: Any) -> None:
    """Two records through the SDK's logger, the second inside a span."""
    from opentelemetry._logs import SeverityNumber  # noqa: PLC0415
    from opentelemetry.sdk._logs import LoggerProvider  # noqa: PLC0415
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor  # noqa: PLC0415
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415

    provider = LoggerProvider(resource=Resource.create({"service.name": "checkout",
                                                        "host.name": "web-1"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("perflab.tests")
    tracer = TracerProvider().get_tracer("t")
    try:
        logger.emit(severity_number=SeverityNumber.INFO, severity_text="INFO",
                    body="cart loaded", attributes={"cart.items": 3})
        with tracer.start_as_current_span("pay"):
            logger.emit(severity_number=SeverityNumber.ERROR, severity_text="ERROR",
                        body="payment declined")
    finally:
        provider.shutdown()


@pytest.mark.parametrize("where", ["hub", "otlp_port"])
def test_the_sdk_http_exporter_sends_lines_with_severity_attributes_and_ids(tmp_path, where):
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # noqa: PLC0415
        OTLPLogExporter,
    )

    store = tmp_path / "s.db"
    with running_hub(store) as hub:
        base = hub.url if where == "hub" else hub.otlp_url
        _send_with_sdk(OTLPLogExporter(endpoint=base + "/v1/logs"))
        got = wait_stored(store, 2)
    _check_sdk_lines(got)


def test_the_sdk_grpc_exporter_sends_to_the_logs_service(tmp_path):
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (  # noqa: PLC0415
        OTLPLogExporter,
    )

    store = tmp_path / "s.db"
    with running_hub(store) as hub:
        _send_with_sdk(OTLPLogExporter(endpoint=hub.grpc_target, insecure=True))
        got = wait_stored(store, 2)
    _check_sdk_lines(got)


def _check_sdk_lines(rows: list[dict[str, Any]]) -> None:
    """Body, severity (as the level), attributes and resource (as metadata), service.name as
    the label, and the span's ids on the line logged inside it."""
    info, error = rows
    assert (info["line"], info["labels"], info["level"]) == ("cart loaded",
                                                             {"service_name": "checkout"}, "info")
    assert (info["fields"]["cart_items"], info["fields"]["host_name"],
            info["fields"]["severity_number"]) == ("3", "web-1", "9")
    assert (info["trace_id"], info["span_id"]) == (None, None)  # no span was current
    assert (error["line"], error["level"]) == ("payment declined", "error")
    assert (len(error["trace_id"]), len(error["span_id"])) == (32, 16)
    assert error["fields"]["trace_id"] == error["trace_id"]


def _otlp_json(records: list[dict[str, Any]], service: str = "api") -> bytes:
    return json.dumps({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": service}}]},
        "scopeLogs": [{"scope": {"name": "lib"}, "logRecords": records}]}]}).encode()


def test_otlp_json_with_hex_ids_and_a_structured_body():
    body = _otlp_json([
        {"timeUnixNano": "1700000000000000001", "severityNumber": 17,
         "body": {"kvlistValue": {"values": [{"key": "msg", "value": {"stringValue": "x"}}]}},
         "traceId": TRACE_HEX, "spanId": SPAN_HEX,
         "attributes": [{"key": "http.route", "value": {"stringValue": "/pay"}}]},
        {"observedTimeUnixNano": "1700000000000000002", "body": {"stringValue": "plain"},
         "traceId": "zz"}])
    got = decode_json(body)
    assert got.rejected == 0
    first, second = got.entries
    assert (first.ts_ns, first.line, json.loads(first.labels)) == (
        1_700_000_000_000_000_001, '{"msg":"x"}', {"service_name": "api"})
    assert dict(first.metadata) == {"scope_name": "lib", "http_route": "/pay",
                                    "severity_text": "error", "severity_number": "17",
                                    "trace_id": TRACE_HEX, "span_id": SPAN_HEX}
    assert (second.ts_ns, second.line, dict(second.metadata)) == (
        1_700_000_000_000_000_002, "plain", {"scope_name": "lib"})  # a bad hex id: no id


def test_an_empty_service_name_is_unknown_service():
    got = decode_json(_otlp_json([{"body": {"stringValue": "x"}}], service=""))
    assert [json.loads(e.labels) for e in got.entries] == [{"service_name": "unknown_service"}]


def test_a_line_over_1_mib_is_rejected_in_partial_success_and_the_others_kept(tmp_path):
    store = tmp_path / "s.db"
    body = _otlp_json([{"body": {"stringValue": "x" * (1024 * 1024 + 1)}},
                       {"body": {"stringValue": "kept ok"}}])
    with running_hub(store) as hub:
        r = httpx.post(hub.url + "/v1/logs", content=body,
                       headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        assert r.json()["partialSuccess"]["rejectedLogRecords"] == "1"
        assert "1,048,576 bytes" in r.json()["partialSuccess"]["errorMessage"]
        assert [x["line"] for x in wait_stored(store, 1)] == ["kept ok"]


@pytest.mark.parametrize(("body", "ctype", "status", "says"), [
    (b"{", "application/json", 400, "not JSON"),
    (b"[1]", "application/json", 400, "an object"),
    (b"\xff\x00garbage", "application/x-protobuf", 400, "ExportLogsServiceRequest"),
    (b"x", "text/plain", 415, "not OTLP"),
])
def test_bad_bodies_are_refused_and_the_hub_keeps_serving(tmp_path, body, ctype, status, says):
    store = tmp_path / "s.db"
    with running_hub(store) as hub:
        assert httpx.post(hub.url + "/v1/logs", content=_otlp_json(
            [{"body": {"stringValue": "first"}}]),
            headers={"Content-Type": "application/json"}).status_code == 200
        r = httpx.post(hub.url + "/v1/logs", content=body, headers={"Content-Type": ctype})
        assert (r.status_code, says in r.text) == (status, True), r.text
        assert httpx.post(hub.url + "/v1/logs", content=_otlp_json(
            [{"body": {"stringValue": "after"}}]),
            headers={"Content-Type": "application/json"}).status_code == 200
    assert [x["line"] for x in wait_stored(store, 2)] == ["first", "after"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_the_protobuf_decoder_raises_only_its_errors(data):
    with contextlib.suppress(DecodeError, PayloadTooLarge):
        decode_protobuf(data)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(
                        st.sampled_from(["resourceLogs", "scopeLogs", "logRecords", "body",
                                         "traceId", "stringValue", "attributes", "key",
                                         "value", "resource"]), c, max_size=4),
                    max_leaves=20))
def test_fuzz_the_json_decoder_raises_only_its_errors(doc):
    with contextlib.suppress(DecodeError, PayloadTooLarge):
        decode_json(json.dumps(doc).encode())


def test_a_full_queue_is_a_429_with_retry_after_and_nothing_taken(tmp_path):
    from tests.unit._webclient import hub_client  # noqa: PLC0415

    body = _otlp_json([{"body": {"stringValue": "a"}}, {"body": {"stringValue": "b"}}])
    with hub_client(tmp_path / "s.db") as client:
        client.app.state.logs.sink.queue.max_items = 1
        r = client.post("/v1/logs", content=body, headers={"Content-Type": "application/json"})
        assert (r.status_code, r.headers["retry-after"]) == (429, "1")
        assert client.app.state.logs.refused_requests == 1
