"""The default W3C propagation (trace context, then baggage) with the common case made short.

Every request a traced service handles extracts a ``traceparent`` header, and every call it
makes injects one, sampled or not: at 10 % head sampling that was about half of what tracing
cost the demo's chain (0 % sampling, every span unsampled, measured +2.3 % of its CPU per
request against tracing off, and -1.3 % with ``OTEL_PROPAGATORS=none``: docs/tracing.md,
"Figures"). The API's composite propagator goes through its general machinery for each header
of each request: a getter that asks whether the value is an ``Iterable`` ABC, a regex search
built for every form the specification allows, the zero ids compared as strings built each
time, a second and a third header lookup for ``tracestate`` and ``baggage``, then a setter
call per header injected.

``W3CPropagator`` answers the common case directly and hands everything else to the API's own
propagators, unchanged:

- extract, from a plain ``dict`` with the default getter, when the carrier holds no
  ``tracestate`` and no ``baggage`` and its ``traceparent`` is absent or a string of exactly
  version 00's form (``00-`` 32 hex digits ``-`` 16 hex digits ``-`` 2 hex digits, lower case,
  no spaces, nothing after). For such a value the API's propagators return the context holding
  a ``NonRecordingSpan`` of the same ``SpanContext`` (or, all-zero ids, the context unchanged),
  which is what this returns;
- inject, with the default setter: the ``traceparent`` (and ``tracestate``) written as the API
  writes them, then the API's baggage propagator.

``tests/unit/trace/test_trace_otel_propagate.py`` runs both on generated carriers and contexts
and compares what they return and write.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from opentelemetry import trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context.context import Context
from opentelemetry.propagators import textmap
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.propagators.textmap import CarrierT, Getter, Setter

__all__ = ["W3CPropagator", "w3c_default"]

# version 00 exactly, nothing around it: a value the API's pattern matches with these groups
_VERSION_00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})").fullmatch
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
# headers whose presence sends a dict carrier the API's way
_SLOW_HEADERS = ("tracestate", "baggage")


class W3CPropagator(textmap.TextMapPropagator):
    """The API's ``tracecontext,baggage`` composite, its common case answered directly."""

    def __init__(self, standard: CompositePropagator, baggage: W3CBaggagePropagator) -> None:
        self._standard = standard  # the API's composite: everything but the common case
        self._baggage = baggage  # its second part

    def extract(self, carrier: CarrierT, context: Context | None = None,
                getter: Getter[CarrierT] = textmap.default_getter) -> Context:
        if getter is not textmap.default_getter or type(carrier) is not dict:
            return self._standard.extract(carrier, context, getter=getter)
        headers = cast("dict[str, Any]", carrier)  # checked just above
        header = headers.get("traceparent")
        match = _VERSION_00(header) if type(header) is str else None
        if match is None and header is not None:  # another version, spaces, a list: the API's
            return self._standard.extract(carrier, context, getter=getter)
        for name in _SLOW_HEADERS:
            if name in headers:
                return self._standard.extract(carrier, context, getter=getter)
        if context is None:
            context = Context()  # as the API's trace-context propagator starts
        if match is None:  # no traceparent
            return context
        trace_id, span_id, flags = match.groups()
        if trace_id == _ZERO_TRACE_ID or span_id == _ZERO_SPAN_ID:
            return context
        span_context = trace.SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True,
                                         trace_flags=trace.TraceFlags(int(flags, 16)))
        return trace.set_span_in_context(trace.NonRecordingSpan(span_context), context)

    def inject(self, carrier: CarrierT, context: Context | None = None,
               setter: Setter[CarrierT] = textmap.default_setter) -> None:
        if setter is not textmap.default_setter:
            self._standard.inject(carrier, context, setter=setter)
            return
        span_context = trace.get_current_span(context).get_span_context()
        if span_context != trace.INVALID_SPAN_CONTEXT:  # the API's test, not is_valid
            headers: Any = carrier  # the default setter's carrier: a mutable mapping
            headers["traceparent"] = (f"00-{span_context.trace_id:032x}-"
                                      f"{span_context.span_id:016x}-"
                                      f"{span_context.trace_flags:02x}")
            if span_context.trace_state:
                headers["tracestate"] = span_context.trace_state.to_header()
        self._baggage.inject(carrier, context, setter=setter)

    @property
    def fields(self) -> set[str]:
        return self._standard.fields


def w3c_default(propagator: textmap.TextMapPropagator) -> W3CPropagator | None:
    """``propagator`` as a ``W3CPropagator`` when it is the API's default (a composite of its
    trace-context and baggage propagators, in that order, as ``OTEL_PROPAGATORS`` unset or
    ``tracecontext,baggage`` makes it); None for any other set-up, which stays as it is."""
    if type(propagator) is not CompositePropagator:
        return None
    parts = list(getattr(propagator, "_propagators", ()))
    if [type(p) for p in parts] != [TraceContextTextMapPropagator, W3CBaggagePropagator]:
        return None
    return W3CPropagator(propagator, parts[1])
