"""perflab.otel's span encoder writes the OTLP exporter's own request, byte for byte, and its
exporter sends what the SDK's exporter sends."""

from __future__ import annotations

import gzip
import string
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from perflab.otel._encode import encode_spans
from perflab.otel._export import FastOTLPSpanExporter

INT64 = st.integers(-(1 << 63), (1 << 63) - 1)
TEXT = st.text(max_size=12)
SCALAR = st.one_of(TEXT, st.booleans(), INT64, st.floats(), st.binary(max_size=8))
# what the SDK keeps as an attribute: a scalar, or a sequence of one scalar type
VALUE = st.one_of(SCALAR, st.lists(TEXT, max_size=3).map(tuple),
                  st.lists(INT64, max_size=3).map(tuple), st.lists(st.booleans(), max_size=3),
                  st.lists(st.floats(allow_nan=False), max_size=3).map(tuple))
ATTRS = st.dictionaries(st.text(string.ascii_lowercase + ".", min_size=1, max_size=10), VALUE,
                        max_size=4)
IDS64 = st.integers(1, (1 << 64) - 1)
IDS128 = st.integers(1, (1 << 128) - 1)
TIMES = st.integers(1, (1 << 63) - 1)


@st.composite
def contexts(draw: st.DrawFn) -> SpanContext:
    state = draw(st.lists(st.tuples(st.sampled_from(["a", "vendor", "k1"]),
                                    st.sampled_from(["1", "x", "v-2"])), max_size=2))
    return SpanContext(draw(IDS128), draw(IDS64), is_remote=draw(st.booleans()),
                       trace_flags=TraceFlags(draw(st.sampled_from([0, 1]))),
                       trace_state=TraceState(list(dict(state).items())))


def _bounded(attrs: dict[str, Any], limit: int | None) -> BoundedAttributes:
    return BoundedAttributes(maxlen=limit, attributes=attrs, immutable=False)


@st.composite
def spans(draw: st.DrawFn, resources: list[Resource],
          scopes: list[InstrumentationScope | None]) -> ReadableSpan:
    limit = draw(st.sampled_from([None, 1, 2]))
    events = [Event(draw(TEXT), _bounded(draw(ATTRS), limit), timestamp=draw(TIMES))
              for _ in range(draw(st.integers(0, 2)))]
    links = [Link(draw(contexts()), _bounded(draw(ATTRS), limit))
             for _ in range(draw(st.integers(0, 2)))]
    code = draw(st.sampled_from(list(StatusCode)))
    description = draw(TEXT) if code is StatusCode.ERROR else None
    return ReadableSpan(
        name=draw(TEXT), context=draw(contexts()),
        parent=draw(st.one_of(st.none(), contexts())),
        resource=draw(st.sampled_from(resources)),
        attributes=_bounded(draw(ATTRS), limit), events=events, links=links,
        kind=draw(st.sampled_from(list(SpanKind))),
        instrumentation_scope=draw(st.sampled_from(scopes)),
        status=Status(code, description), start_time=draw(TIMES), end_time=draw(TIMES))


RESOURCES = [Resource.create({"service.name": "api", "process.pid": 12}),
             Resource({"service.name": "store"}, schema_url="https://opentelemetry.io/schemas/1"),
             Resource(dict(Resource.create({"service.name": "api", "process.pid": 12})
                           .attributes))]  # equal to the first, another object
SCOPES: list[InstrumentationScope | None] = [
    None, InstrumentationScope("perflab.demo.chain"),
    InstrumentationScope("lib", "1.2", "https://opentelemetry.io/schemas/1", {"a": 1})]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(spans(RESOURCES, SCOPES), max_size=6))
def test_the_request_is_the_exporters_byte_for_byte(batch: list[ReadableSpan]) -> None:
    assert encode_spans(batch) == sdk_encode(batch).SerializePartialToString()


def test_an_attribute_the_exporter_cannot_encode_is_left_out_as_it_leaves_it_out() -> None:
    span = ReadableSpan(name="x", context=SpanContext(1, 2, is_remote=False),
                        resource=RESOURCES[0],
                        attributes={"big": 1 << 64, "ok": "yes", "neg": -5})
    assert encode_spans([span]) == sdk_encode([span]).SerializePartialToString()


def test_values_equal_in_python_but_not_on_the_wire_are_not_confused() -> None:
    batch = [ReadableSpan(name="x", context=SpanContext(1, 2, is_remote=False),
                          resource=RESOURCES[0], attributes={"v": value})
             for value in (0.0, -0.0, 1, True, 1.0, "1", b"1", 0, False)]
    for span in batch + batch:
        assert encode_spans([span]) == sdk_encode([span]).SerializePartialToString()


def test_spans_from_a_real_tracer_twice_over_the_caches() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCES[0])
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("perflab.test", "1")
    for order in range(50):
        with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER) as span:
            span.set_attributes({"http.request.method": "GET", "http.response.status_code": 200})
            with tracer.start_as_current_span("SELECT prices") as child:
                child.set_attribute("url.full", f"http://127.0.0.1:1/query?order={order}")
                child.add_event("miss", {"order": order})
                child.set_status(Status(StatusCode.ERROR, "expired"))
    batch = memory.get_finished_spans()
    for _ in range(2):
        assert encode_spans(batch) == sdk_encode(batch).SerializePartialToString()


class _Collector(BaseHTTPRequestHandler):
    bodies: ClassVar[list[tuple[str, bytes]]] = []
    status: ClassVar[int] = 200

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # http.server's API
        del format, args

    def do_POST(self) -> None:  # http.server's API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.bodies.append((self.headers["Content-Type"], body))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def collector() -> Any:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    _Collector.bodies = []
    _Collector.status = 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_the_exporter_sends_what_the_sdks_sends(collector: str, compression: str | None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if compression:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", compression)
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCES[1])
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("checkout", attributes={"n": 3}):
        pass
    batch = memory.get_finished_spans()
    fast = FastOTLPSpanExporter(endpoint=collector)
    assert fast.fast  # the SDK installed with perflab has the hand-over the fast way needs
    assert fast.export(batch) is SpanExportResult.SUCCESS
    assert OTLPSpanExporter(endpoint=collector).export(batch) is SpanExportResult.SUCCESS
    (ours_type, ours), (sdk_type, sdks) = _Collector.bodies
    assert (ours_type, ours) == (sdk_type, sdks) == ("application/x-protobuf", ours)


def test_a_refused_export_is_a_failure_and_after_shutdown_nothing_is_sent(collector: str) -> None:
    span = ReadableSpan(name="x", context=SpanContext(1, 2, is_remote=False),
                        resource=RESOURCES[0], start_time=1, end_time=2)
    exporter = FastOTLPSpanExporter(endpoint=collector)
    _Collector.status = 400  # not retryable: one request, a failure
    assert exporter.export([span]) is SpanExportResult.FAILURE
    assert len(_Collector.bodies) == 1
    exporter.shutdown()
    assert exporter.export([span]) is SpanExportResult.FAILURE
    assert len(_Collector.bodies) == 1
