"""perflab.otel's tracers skip the children of unsampled parents and record the same spans.

Under a parent-based sampler a child of an unsampled parent is never recorded; the SDK built it
anyway (a span id, the sampler, a NonRecordingSpan), most of what 10 % sampling cost the demo.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from opentelemetry import context as context_api
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    ParentBasedTraceIdRatio,
    TraceIdRatioBased,
)

from perflab.otel._tracer import SkippingTracerProvider, parent_based

TRACE = "0af7651916cd43dd8448eb211c80319c"
UNSAMPLED = {"traceparent": f"00-{TRACE}-b7ad6b7169203331-00"}
SAMPLED = {"traceparent": f"00-{TRACE}-b7ad6b7169203331-01"}


class _CountingIds(IdGenerator):
    """Trace ids from a seeded generator of their own, span ids counted: the trace ids a run
    draws do not depend on how many span ids it drew."""

    def __init__(self) -> None:
        self._trace_ids = random.Random(7)  # test ids, not secrets
        self._span_ids = itertools.count(1)
        self.span_ids = 0

    def generate_span_id(self) -> int:
        self.span_ids += 1
        return next(self._span_ids)

    def generate_trace_id(self) -> int:
        return self._trace_ids.getrandbits(128) or 1


def _tracer(provider_class: type[TracerProvider], ratio: float = 1.0
            ) -> tuple[trace.Tracer, InMemorySpanExporter, _CountingIds]:
    ids = _CountingIds()
    provider = provider_class(sampler=ParentBased(TraceIdRatioBased(ratio)), id_generator=ids)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter, ids


def _serve(tracer: trace.Tracer, headers: dict[str, str]) -> dict[str, str]:
    """A server span, a client span under it, and the headers that client would send on."""
    ctx = propagate.extract(headers)
    sent: dict[str, str] = {}
    with tracer.start_as_current_span("GET /cart", context=ctx, kind=trace.SpanKind.SERVER) \
            as server:
        server.set_attribute("http.route", "/cart")
        with tracer.start_as_current_span("GET /query", kind=trace.SpanKind.CLIENT):
            propagate.inject(sent)
        tracer.start_span("detached").end()
    return sent


def test_under_an_unsampled_parent_no_span_is_built_and_not_sampled_propagates():
    tracer, exporter, ids = _tracer(SkippingTracerProvider)
    before = context_api.get_current()
    sent = _serve(tracer, UNSAMPLED)
    assert exporter.get_finished_spans() == ()
    assert ids.span_ids == 0  # the SDK never ran: without the skip it draws three span ids
    # downstream sees the same trace, still not sampled: it starts no trace of its own
    assert sent["traceparent"].startswith(f"00-{TRACE}-")
    assert sent["traceparent"].endswith("-00")
    assert context_api.get_current() == before


def test_under_a_sampled_parent_the_sdk_records_as_usual():
    tracer, exporter, _ = _tracer(SkippingTracerProvider)
    sent = _serve(tracer, SAMPLED)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert sorted(spans) == ["GET /cart", "GET /query", "detached"]
    assert spans["GET /query"].parent is not None
    assert spans["GET /query"].parent.span_id == spans["GET /cart"].context.span_id
    assert sent["traceparent"].endswith("-01")


def test_the_same_spans_are_recorded_with_and_without_the_skip():
    """At 50 % head sampling, 200 requests with no parent: the same traces sampled, each with the
    same spans under the same parents, as the SDK's own tracer records."""

    def recorded(provider_class: type[TracerProvider]) -> list[tuple[int, str, str | None]]:
        tracer, exporter, _ = _tracer(provider_class, ratio=0.5)
        for _ in range(200):
            _serve(tracer, {})
        spans = exporter.get_finished_spans()
        names = {s.context.span_id: s.name for s in spans}
        return sorted((s.context.trace_id, s.name, names.get(s.parent.span_id)
                       if s.parent else None) for s in spans)

    skipped, sdk = recorded(SkippingTracerProvider), recorded(TracerProvider)
    assert skipped == sdk
    assert 3 * 60 < len(sdk) < 3 * 140  # some sampled, some not


def test_an_exception_under_an_unsampled_parent_propagates_and_restores_the_context():
    tracer, _, _ = _tracer(SkippingTracerProvider)
    before = context_api.get_current()
    ctx = propagate.extract(UNSAMPLED)
    with pytest.raises(ValueError, match="boom"), \
            tracer.start_as_current_span("GET /cart", context=ctx):
        raise ValueError("boom")
    assert context_api.get_current() == before


def test_as_a_decorator_the_parent_of_each_call_decides():
    tracer, exporter, _ = _tracer(SkippingTracerProvider)
    token = context_api.attach(propagate.extract(UNSAMPLED))
    try:
        @tracer.start_as_current_span("work")  # decorated under an unsampled parent
        def work() -> str:
            return "done"
    finally:
        context_api.detach(token)
    assert work() == "done"  # called without a parent: a root span, sampled (ratio 1)
    assert [s.name for s in exporter.get_finished_spans()] == ["work"]


def _counting_attach(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    attached: list[object] = []
    real = context_api.attach

    def attach(ctx: context_api.Context) -> object:
        attached.append(ctx)
        return real(ctx)

    monkeypatch.setattr(context_api, "attach", attach)
    return attached


def test_a_child_of_the_current_unsampled_span_attaches_no_context(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent is current already: making it current again is work for nothing."""
    tracer, _, _ = _tracer(SkippingTracerProvider)
    token = context_api.attach(propagate.extract(UNSAMPLED))
    try:
        parent = trace.get_current_span()
        attached = _counting_attach(monkeypatch)
        with tracer.start_as_current_span("SELECT items", kind=trace.SpanKind.CLIENT) as span, \
                tracer.start_as_current_span("parse") as inner:
            assert span is parent
            assert inner is parent
            assert trace.get_current_span() is parent
        assert attached == []
        assert trace.get_current_span() is parent
    finally:
        context_api.detach(token)


def test_an_unsampled_root_is_current_inside_and_gone_after(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A root the sampler drops is made current (its children see it and are skipped) without
    the SDK's generator-based managers, and the context is restored, also on an exception."""
    tracer, exporter, ids = _tracer(SkippingTracerProvider, ratio=0.0)
    before = context_api.get_current()
    use_span = []
    monkeypatch.setattr(trace, "use_span", lambda *a, **k: use_span.append(a))

    def checkout() -> None:
        with tracer.start_as_current_span("GET /checkout", kind=trace.SpanKind.SERVER) as root:
            assert not root.is_recording()
            assert trace.get_current_span() is root
            with tracer.start_as_current_span("GET /cart", kind=trace.SpanKind.CLIENT) as child:
                assert child is root
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        checkout()
    assert context_api.get_current() == before
    assert use_span == []
    assert ids.span_ids == 1  # the root's; the child was never built
    assert exporter.get_finished_spans() == ()


def test_a_recorded_span_that_raises_is_ended_with_its_exception_and_error_status():
    tracer, exporter, _ = _tracer(SkippingTracerProvider)
    before = context_api.get_current()

    def cart() -> None:
        with tracer.start_as_current_span("GET /cart") as span:
            assert span.is_recording()
            assert trace.get_current_span() is span
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        cart()
    (done,) = exporter.get_finished_spans()
    assert done.status.status_code == trace.StatusCode.ERROR
    assert [e.name for e in done.events] == ["exception"]
    assert context_api.get_current() == before
    with tracer.start_as_current_span("kept open", end_on_exit=False,
                                      record_exception=False) as open_span:
        pass
    assert open_span.is_recording()  # not ended: end_on_exit=False reached use_span
    open_span.end()


class _Stop(BaseException):
    """Not an Exception (as KeyboardInterrupt and GeneratorExit are not): never recorded."""


def test_a_recorded_span_goes_through_neither_use_span_nor_the_delegate_sampler(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The two shortcuts are taken: a recorded span is made current without the SDK's
    use_span generator, and a sampled parent's child is decided without ParentBased's own
    should_sample (the SDK's answer, checked in the tests around this one)."""
    calls: list[str] = []

    def use_span(*args: Any, **kwargs: Any) -> Any:
        calls.append("use_span")
        return real_use_span(*args, **kwargs)

    def parent_based(*args: Any, **kwargs: Any) -> Any:
        calls.append("ParentBased.should_sample")
        return real_should_sample(*args, **kwargs)

    real_use_span, real_should_sample = trace.use_span, ParentBased.should_sample
    monkeypatch.setattr(trace, "use_span", use_span)
    monkeypatch.setattr(ParentBased, "should_sample", parent_based)
    tracer, exporter, _ = _tracer(SkippingTracerProvider)
    _serve(tracer, SAMPLED)  # every span has a sampled parent
    assert len(exporter.get_finished_spans()) == 3
    assert calls == []


@pytest.mark.parametrize("error", [ValueError("boom"), _Stop("halt")])
@pytest.mark.parametrize(("record", "set_status"), [(True, True), (False, True), (True, False)])
def test_a_raising_recorded_span_ends_as_the_sdks_own(error: BaseException, *, record: bool,
                                                      set_status: bool) -> None:
    """The recorded path does what the SDK's use_span does, without its generator: the same
    events, status and description, and the span ended, for each combination of options."""
    seen = []
    for provider_class in (TracerProvider, SkippingTracerProvider):
        tracer, exporter, _ = _tracer(provider_class)
        with pytest.raises(type(error)), tracer.start_as_current_span(
                "GET /cart", record_exception=record, set_status_on_exception=set_status):
            raise error
        (done,) = exporter.get_finished_spans()
        seen.append(([e.name for e in done.events], done.status.status_code,
                     done.status.description, done.end_time is not None))
    assert seen[0] == seen[1]


def _parent(*, sampled: bool, remote: bool) -> context_api.Context:
    state = trace.TraceState([("vendor", "v1")])
    span_context = trace.SpanContext(int(TRACE, 16), 0xB7AD6B7169203331, is_remote=remote,
                                     trace_flags=trace.TraceFlags(int(sampled)),
                                     trace_state=state)
    return trace.set_span_in_context(trace.NonRecordingSpan(span_context))


@pytest.mark.parametrize("sampler", [ParentBased(TraceIdRatioBased(0.5)),
                                     ParentBasedTraceIdRatio(0.1), ParentBased(ALWAYS_ON)])
def test_the_provider_samples_a_sampled_parents_child_as_the_sdk_does(sampler: ParentBased
                                                                      ) -> None:
    """Its sampler answers at once for a sampled parent, and as the SDK's for every parent:
    decision, attributes and trace state; roots and unsampled parents go to the SDK's."""
    provider = SkippingTracerProvider(sampler=sampler)
    fast = provider.sampler
    assert fast is not sampler
    assert isinstance(fast, ParentBased)
    assert fast.get_description() == sampler.get_description()
    parents = [_parent(sampled=s, remote=r) for s in (True, False) for r in (True, False)]
    for context in [*parents, None, context_api.Context()]:
        for trace_id in (1, int(TRACE, 16), (1 << 128) - 1):
            ours = fast.should_sample(context, trace_id, "GET /cart", attributes={"a": 1})
            sdks = sampler.should_sample(context, trace_id, "GET /cart", attributes={"a": 1})
            assert (ours.decision, dict(ours.attributes), ours.trace_state) == (
                sdks.decision, dict(sdks.attributes), sdks.trace_state)


def test_a_sampler_with_other_delegates_is_left_as_it_is() -> None:
    own = ParentBased(ALWAYS_ON, remote_parent_sampled=ALWAYS_OFF)
    assert SkippingTracerProvider(sampler=own).sampler is own


def test_parent_based_samplers_by_their_variable():
    assert parent_based(None)  # the SDK's default, parentbased_always_on
    assert parent_based("parentbased_traceidratio")
    assert parent_based("ParentBased_Always_Off")
    assert parent_based("no_such_sampler")  # the SDK falls back to parentbased_always_on
    assert not parent_based("always_on")
    assert not parent_based("TraceIdRatio")
