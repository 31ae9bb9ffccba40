"""perflab.otel's W3C propagator gives what the API's default composite gives.

``W3CPropagator`` answers the common case (a dict carrier, a version-00 ``traceparent``, no
``tracestate`` or ``baggage``) itself and hands everything else to the API's propagators; here
both run on generated carriers and contexts, valid and not, and what they return and write is
compared.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import baggage, propagate, trace
from opentelemetry import context as context_api
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context.context import Context
from opentelemetry.propagators import textmap
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from perflab.otel._propagate import W3CPropagator, w3c_default


def _api() -> CompositePropagator:
    return CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


OURS = w3c_default(_api())
API = _api()
HEX = "0123456789abcdef"


def _hex(n: int) -> st.SearchStrategy[str]:
    return st.text(HEX, min_size=n, max_size=n)


# version-00 values (the fast path) with ids that may be all zeros, and what breaks them
_ids = st.tuples(st.one_of(_hex(32), st.just("0" * 32)), st.one_of(_hex(16), st.just("0" * 16)),
                 _hex(2))
_well_formed = _ids.map(lambda p: f"00-{p[0]}-{p[1]}-{p[2]}")
_mutation = st.sampled_from([
    lambda v: v.upper(), lambda v: " " + v, lambda v: v + "\t", lambda v: v + "\n",
    lambda v: "01" + v[2:], lambda v: "ff" + v[2:], lambda v: "0g" + v[2:],
    lambda v: v + "-extra", lambda v: v[:-1], lambda v: v + "0", lambda v: v.replace("-", "_"),
    lambda v: v + "x" * 600, lambda _v: "", lambda v: [v], lambda v: (v, v),
])
_traceparent = st.one_of(_well_formed, st.tuples(_well_formed, _mutation).map(
    lambda t: t[1](t[0])), st.text(max_size=60))
_tracestate = st.one_of(st.just("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), st.just("bad state"),
                        st.just(""), st.text(string.ascii_lowercase + "=,", max_size=20))
_baggage = st.one_of(st.just("userId=alice,serverNode=DF%2028"), st.just("broken"),
                     st.just(""))


@st.composite
def _carriers(draw: st.DrawFn) -> dict[str, Any]:
    carrier: dict[str, Any] = {}
    if draw(st.booleans()):
        carrier["traceparent"] = draw(_traceparent)
    if draw(st.integers(0, 4)) == 0:
        carrier["tracestate"] = draw(_tracestate)
    if draw(st.integers(0, 4)) == 0:
        carrier["baggage"] = draw(_baggage)
    if draw(st.booleans()):
        carrier["host"] = "api:8080"
    return carrier


_contexts = st.sampled_from(["none", "empty", "with baggage", "with a span"])


def _context(kind: str) -> Context | None:
    if kind == "none":
        return None
    if kind == "empty":
        return Context()
    if kind == "with baggage":
        return baggage.set_baggage("tenant", "t1", Context())
    span = trace.NonRecordingSpan(trace.SpanContext(5, 6, is_remote=False))
    return trace.set_span_in_context(span, Context())


def _seen(ctx: Context) -> dict[str, Any]:
    """A context as a caller sees it: a span by its span context (spans compare by identity)."""
    return {k: (v.get_span_context() if isinstance(v, trace.Span) else v)
            for k, v in ctx.items()}


class _MappingCarrier(Mapping[str, str]):
    """A carrier that is not a dict (a framework's header object)."""

    def __init__(self, items: dict[str, Any]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Any:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@settings(max_examples=600, deadline=None)
@given(_carriers(), _contexts, st.booleans())
def test_extract_is_the_apis(carrier: dict[str, Any], kind: str, mapping: bool) -> None:
    assert OURS is not None
    given_ctx = _context(kind)
    source: Any = _MappingCarrier(carrier) if mapping else carrier
    ours, api = OURS.extract(source, given_ctx), API.extract(source, given_ctx)
    assert _seen(ours) == _seen(api)
    assert (ours is given_ctx) == (api is given_ctx)
    assert type(ours) is type(api)


class _Watching(CompositePropagator):
    """The API's composite, noting each call that reaches it."""

    def __init__(self, propagators: list[textmap.TextMapPropagator]) -> None:
        super().__init__(propagators)
        self.calls: list[str] = []

    def extract(self, *args: Any, **kwargs: Any) -> Context:
        self.calls.append("extract")
        return super().extract(*args, **kwargs)

    def inject(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append("inject")
        super().inject(*args, **kwargs)


def _watched() -> tuple[W3CPropagator, _Watching]:
    baggage_part = W3CBaggagePropagator()
    api = _Watching([TraceContextTextMapPropagator(), baggage_part])
    return W3CPropagator(api, baggage_part), api


def test_the_common_case_is_answered_without_the_api() -> None:
    """The fast paths are taken (the API's alone would pass the parity tests above)."""
    ours, api = _watched()
    header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    ctx = ours.extract({"traceparent": header})
    got = trace.get_current_span(ctx).get_span_context()
    assert (got.trace_id, got.span_id, got.trace_flags, got.is_remote) == (
        0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 1, True)
    carrier: dict[str, str] = {}
    ours.inject(carrier, ctx)
    assert carrier == {"traceparent": header}
    assert api.calls == []
    ours.extract({"traceparent": header, "baggage": "k=v"})
    lists: dict[str, list[str]] = {}
    ours.inject(lists, ctx, setter=_ListSetter())
    assert api.calls == ["extract", "inject"]


class _ListSetter(textmap.Setter[dict[str, list[str]]]):
    def set(self, carrier: dict[str, list[str]], key: str, value: str) -> None:
        carrier.setdefault(key, []).append(value)


_span_contexts = st.builds(
    trace.SpanContext,
    trace_id=st.one_of(st.just(0), st.integers(1, 2**128 - 1)),
    span_id=st.one_of(st.just(0), st.integers(1, 2**64 - 1)),
    is_remote=st.booleans(),
    trace_flags=st.integers(0, 255).map(trace.TraceFlags),
    trace_state=st.one_of(st.none(), st.just(trace.TraceState([("rojo", "00f067aa0ba902b7")]))),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.none(), _span_contexts), st.booleans(), st.booleans(), st.booleans())
def test_inject_is_the_apis(span_context: trace.SpanContext | None, with_baggage: bool,
                            current: bool, list_setter: bool) -> None:
    assert OURS is not None
    ctx = Context()
    if span_context is not None:
        ctx = trace.set_span_in_context(trace.NonRecordingSpan(span_context), ctx)
    if with_baggage:
        ctx = baggage.set_baggage("tenant", "t 1", ctx)
    setter: Any = _ListSetter() if list_setter else textmap.default_setter
    token = context_api.attach(ctx) if current else None
    try:
        given_ctx = None if current else ctx
        ours: dict[str, Any] = {"host": "api"}
        api: dict[str, Any] = {"host": "api"}
        OURS.inject(ours, given_ctx, setter=setter)
        API.inject(api, given_ctx, setter=setter)
    finally:
        if token is not None:
            context_api.detach(token)
    assert ours == api
    assert OURS.fields == API.fields


def test_only_the_apis_default_pair_is_replaced() -> None:
    default = _api()
    ours = w3c_default(default)
    assert isinstance(ours, W3CPropagator)
    assert ours._standard is default  # what it hands the rest to is the API's own object
    assert w3c_default(CompositePropagator([TraceContextTextMapPropagator()])) is None
    assert w3c_default(CompositePropagator([W3CBaggagePropagator(),
                                            TraceContextTextMapPropagator()])) is None
    assert w3c_default(TraceContextTextMapPropagator()) is None


def test_setup_installs_it_for_the_default_variables(monkeypatch: Any) -> None:
    """``setup`` swaps the API's default pair for this one, and leaves another set-up alone."""
    import perflab.otel  # noqa: PLC0415  # its module global is the test's subject
    from perflab.otel import _configure  # noqa: PLC0415

    before = propagate.get_global_textmap()
    monkeypatch.setattr(perflab.otel, "_provider", None)
    monkeypatch.setattr(trace, "set_tracer_provider", lambda _p: None)
    try:
        propagate.set_global_textmap(_api())
        _configure("svc", "http://127.0.0.1:9", 0.1, None).shutdown()
        assert isinstance(propagate.get_global_textmap(), W3CPropagator)
        only = CompositePropagator([TraceContextTextMapPropagator()])
        propagate.set_global_textmap(only)
        _configure("svc", "http://127.0.0.1:9", 0.1, None).shutdown()
        assert propagate.get_global_textmap() is only
    finally:
        propagate.set_global_textmap(before)
