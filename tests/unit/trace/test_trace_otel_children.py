"""A sampled parent's child, started by perflab.otel without the SDK's general path, is the span
the SDK records: every field its processors and exporters read, for every way a service may
use it (attributes plain and not, over the limits, after the end; events, links, status,
exceptions, names, explicit times), under default and tight span limits."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, TraceIdRatioBased

from perflab.otel._span import RecordedSpan
from perflab.otel._tracer import SkippingTracerProvider

TRACE = "0af7651916cd43dd8448eb211c80319c"
SAMPLED = {"traceparent": f"00-{TRACE}-b7ad6b7169203331-01",
           "tracestate": "vendor=v1,other=o2"}
LIMITS = {
    "default": SpanLimits(),
    "tight": SpanLimits(max_span_attributes=3, max_attribute_length=4, max_events=2,
                        max_links=1, max_event_attributes=1, max_link_attributes=1),
    "none": SpanLimits(max_span_attributes=0),
}


class _Ids(IdGenerator):
    def __init__(self) -> None:
        self._trace_ids = random.Random(3)  # test ids, not secrets
        self._span_ids = itertools.count(1)

    def generate_span_id(self) -> int:
        return next(self._span_ids)

    def generate_trace_id(self) -> int:
        return self._trace_ids.getrandbits(128) or 1


def _link() -> trace.Link:
    other = trace.SpanContext(0x1234, 0x5678, is_remote=True,
                              trace_flags=trace.TraceFlags(1))
    return trace.Link(other, {"link.kind": "follows", "n": 2})


def _script(tracer: trace.Tracer, headers: dict[str, str]) -> None:
    """Everything a service may do to its spans, children of a sampled remote parent and of a
    local one."""
    ctx = propagate.extract(headers)
    with tracer.start_as_current_span("GET /cart", context=ctx, kind=trace.SpanKind.SERVER,
                                      attributes={"http.route": "/cart", "n": 1}) as server:
        server.set_attribute("url.path", "/cart?order=123456")  # over the tight length limit
        server.set_attribute("n", 2)  # set again: moved to the end
        server.set_attributes({"a": True, "b": 1.5, "c": "x", "d": 7})  # over 3 when tight
        server.set_attributes({"list": ["p", "q"], "bytes": b"raw", "e": "e"})  # cleaned
        server.set_attribute("tuple", (1, 2))
        server.set_attribute("", "empty key")  # dropped, with the SDK's warning
        server.set_attribute(7, "int key")  # type: ignore[arg-type]  # a caller's mistake
        server.set_attributes({"": 1, "ok": "yes"})
        server.set_attribute("none", None)
        server.add_event("cache.miss", {"table": "prices", "ms": 300})
        server.add_event("second")
        server.add_event("third", timestamp=123)  # over the tight events limit
        server.add_link(_link().context, {"why": "batch"})
        server.update_name("GET /cart/{id}")
        with tracer.start_as_current_span("SELECT items", kind=trace.SpanKind.CLIENT,
                                          links=[_link(), _link()], start_time=1_000) as db:
            db.set_attributes({"db.system": "sqlite"})
            db.set_status(trace.Status(trace.StatusCode.OK))
            db.set_status(trace.StatusCode.ERROR, "ignored after OK")
        with pytest.raises(ValueError, match="expired"):
            _fail(tracer)
        detached = tracer.start_span("detached", attributes={"x": 1},
                                     record_exception=False)
        detached.record_exception(RuntimeError("noted"), attributes={"noted": True})
        detached.end(end_time=2_000)
        detached.end()  # ended twice: the SDK's warning, nothing else
        detached.set_attribute("late", 1)  # after the end: refused
        detached.set_attributes({"late": 2})
        detached.add_event("late")
        with tracer.start_as_current_span("kept open", end_on_exit=False) as open_span:
            open_span.set_attribute("open", value=True)
        open_span.end()


def _fail(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("SELECT coupons") as failing:
        failing.set_attribute("coupon", "EXPIRED")
        raise ValueError("coupon EXPIRED has expired")


def _fingerprint(span: ReadableSpan) -> tuple[Any, ...]:
    """What processors and exporters read of a span (its times where they were given)."""
    def ctx(c: trace.SpanContext | None) -> Any:
        return None if c is None else (c.trace_id, c.span_id, c.is_remote, int(c.trace_flags),
                                       c.trace_state.to_header())
    return (
        span.name, ctx(span.context), ctx(span.parent), span.kind,
        list((span.attributes or {}).items()), span.dropped_attributes,
        [(e.name, _event_attributes(e), e.timestamp if e.timestamp == 123 else None)
         for e in span.events], span.dropped_events,
        [(ctx(link.context), dict(link.attributes or {})) for link in span.links],
        span.dropped_links,
        span.status.status_code, span.status.description,
        span.start_time if span.start_time == 1_000 else span.start_time is not None,
        span.end_time if span.end_time == 2_000 else span.end_time is not None,
        span.resource.attributes, span.instrumentation_scope,
    )


def _event_attributes(event: Any) -> dict[str, Any]:
    """An event's attributes, a stack trace by its last line: the SDK's way into a span goes
    through more frames (its use_span generator) than perflab.otel's."""
    attributes = dict(event.attributes or {})
    if "exception.stacktrace" in attributes:
        attributes["exception.stacktrace"] = attributes["exception.stacktrace"].splitlines()[-1]
    return attributes


def _recorded(provider_class: type[TracerProvider], limits: SpanLimits, sampler: Any,
              headers: dict[str, str] = SAMPLED) -> tuple[list[tuple[Any, ...]], list[type]]:
    provider = provider_class(sampler=sampler, id_generator=_Ids(), span_limits=limits)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _script(provider.get_tracer("test", "1.0"), headers)
    spans = exporter.get_finished_spans()
    return [_fingerprint(s) for s in spans], [type(s) for s in spans]


@pytest.mark.parametrize("limits", LIMITS)
@pytest.mark.parametrize("sampler", [ParentBased(ALWAYS_ON), ParentBased(TraceIdRatioBased(0.1))])
@pytest.mark.parametrize("flags", ["01", "03"])  # sampled; and with level 2's random-id flag
def test_children_of_a_sampled_parent_are_the_spans_the_sdk_records(limits: str, sampler: Any,
                                                                     flags: str) -> None:
    headers = {**SAMPLED, "traceparent": SAMPLED["traceparent"][:-2] + flags}
    sdk, sdk_types = _recorded(TracerProvider, LIMITS[limits], sampler, headers)
    ours, our_types = _recorded(SkippingTracerProvider, LIMITS[limits], sampler, headers)
    assert len(sdk) == 5
    for mine, theirs in zip(ours, sdk, strict=True):
        assert mine == theirs
    # the shortcut was taken: every span here has a sampled parent
    assert our_types == [RecordedSpan] * 5
    assert RecordedSpan not in sdk_types


def test_another_sampler_leaves_the_sdk_to_start_children() -> None:
    """A sampled parent's child is the starter's only under the sampler it reproduces; with
    other delegates (a sampled parent's child may be dropped) the SDK decides."""
    sampler = ParentBased(ALWAYS_ON, remote_parent_sampled=ALWAYS_OFF)
    _, types = _recorded(SkippingTracerProvider, SpanLimits(), sampler)
    assert RecordedSpan not in types


def test_a_tracer_turned_off_starts_no_recorded_child() -> None:
    provider = SkippingTracerProvider(sampler=ParentBased(ALWAYS_ON))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    tracer.sdk._tracer_config.is_enabled = False  # type: ignore[attr-defined]  # what the SDK's configurator sets
    with tracer.start_as_current_span("GET /cart", context=propagate.extract(SAMPLED)) as span:
        assert not span.is_recording()
    assert exporter.get_finished_spans() == ()


def test_a_started_child_has_the_fields_of_the_sdks_span() -> None:
    """The starter builds every field the SDK's span has, no more (the installed SDK is the
    one it was checked against: with another layout it would not start children at all)."""
    spans = []
    for provider_class in (TracerProvider, SkippingTracerProvider):
        tracer = provider_class(sampler=ParentBased(ALWAYS_ON)).get_tracer("test")
        spans.append(tracer.start_span("child", context=propagate.extract(SAMPLED)))
    sdk, ours = spans
    assert type(ours) is RecordedSpan
    assert sorted(vars(ours)) == sorted(vars(sdk))


def test_with_the_sdks_own_metrics_on_the_sdk_starts_children(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's self-metrics count each span it starts and ends: the starter does not, so it
    stands aside and the counts stay the SDK's."""
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    _, types = _recorded(SkippingTracerProvider, SpanLimits(), ParentBased(ALWAYS_ON))
    assert types
    assert RecordedSpan not in types
