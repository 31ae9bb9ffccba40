"""A sampled parent's child, started without the SDK's general path.

Under a parent-based sampler whose sampled parents have ``ALWAYS_ON`` delegates (the SDK's
defaults; ``_tracer._SampledParentsFirst``), a child of a sampled parent is always recorded, with
the parent's trace id, trace state and flags. The SDK's ``Tracer.start_span`` still looks the
parent up three times, asks the sampler, builds the span through keyword arguments and three
nested ``__init__`` calls, then ``start()`` takes a lock for a span no other thread can see yet.
In a traced service most recorded spans are such children (eight of nine a checkout in the
demo's chain), and building them was a third of what a recorded span cost in its service
(docs/tracing.md, "Figures").

``ChildStarter.start`` builds the same span — the SDK's own ``Span`` class, the same fields, the
same ``BoundedAttributes`` and ``BoundedList`` with the tracer's limits, the span processors'
``on_start`` — with one lookup of the parent and the tracer's fixed fields copied in at once.
``RecordedSpan`` is that span with two shortcuts, each giving what the SDK's method gives:

- ``set_attribute(s)`` writes a plain value (str, bool, int, float) straight into the
  attributes while there is room and no length limit to apply, under the span's lock as the
  SDK's does; anything else goes the SDK's way (cleaning, truncation, dropping the oldest);
- ``end`` hands the span processors the span itself rather than a ``ReadableSpan`` copy of its
  fields: once ended, every mutator of the span refuses (the SDK's ``_check_span_ended`` and
  its immutable attributes), so processors see what the copy would have held.

A ``ChildStarter`` exists only when the tracer's set-up is the one it reproduces
(``ChildStarter.for_tracer``): the SDK's ``Tracer``, no SDK self-metrics, the sampler above.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import TYPE_CHECKING, Any, cast

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Span, Tracer, _Span
from opentelemetry.sdk.util import BoundedList

try:
    from opentelemetry.sdk.trace._tracer_metrics import NoOpTracerMetrics
except ImportError:  # an SDK before its self-metrics (1.3x): its spans are not these
    NoOpTracerMetrics = None  # type: ignore[assignment,misc]  # then no starter is made

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from opentelemetry import context as context_api
    from opentelemetry.util import types

__all__ = ["ChildStarter", "RecordedSpan"]

_PLAIN = frozenset((str, bool, int, float))  # values the SDK's cleaning returns unchanged
# W3C trace context level 2's "random trace id" flag, which a child keeps from its parent (an
# API without it never sets it: then no starter is made, NoOpTracerMetrics being newer)
_RANDOM_TRACE_ID: int = getattr(trace.TraceFlags, "RANDOM_TRACE_ID", 0)
_SAMPLED = trace.TraceFlags(trace.TraceFlags.SAMPLED)
_SAMPLED_RANDOM = trace.TraceFlags(trace.TraceFlags.SAMPLED | _RANDOM_TRACE_ID)
_UNSET = trace.Status(trace.StatusCode.UNSET)  # immutable: shared as ReadableSpan's default is


class RecordedSpan(Span):
    """The SDK's ``Span``, with plain attributes written at once and no copy at its end."""

    def _bounded(self) -> BoundedAttributes:
        return cast("BoundedAttributes", self._attributes)  # what ChildStarter.start made

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if type(value) in _PLAIN and type(key) is str and key:
            with self._lock:
                if self._end_time is None and _put(self._bounded(), key, value):
                    return
        super().set_attribute(key, value)  # cleaned, truncated, dropped or refused: the SDK's

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        for key, value in attributes.items():
            if type(value) not in _PLAIN or type(key) is not str or not key:
                break
        else:
            with self._lock:
                attrs = self._bounded()
                if (self._end_time is None and attrs.max_value_len is None
                        and (attrs.maxlen is None
                             or len(attrs._dict) + len(attributes) <= attrs.maxlen)):  # noqa: SLF001  # room for all: each _put succeeds
                    for key, value in attributes.items():
                        _put(attrs, key, value)
                    return
        super().set_attributes(attributes)  # the SDK's way, as set_attribute

    def end(self, end_time: int | None = None) -> None:
        with self._lock:
            if self._start_time is None:
                raise RuntimeError("Calling end() on a not started span.")
            ended = self._end_time is not None
            if not ended:
                self._end_time = end_time if end_time is not None else time.time_ns()
                self._bounded()._immutable = True  # noqa: SLF001  # as the SDK's end does
        if ended:
            super().end(end_time)  # the SDK's warning
            return
        processor = self._span_processor
        processor._on_ending(self)  # noqa: SLF001  # as the SDK's end does
        processor.on_end(self)


def _put(attrs: BoundedAttributes, key: str, value: types.AnyValue) -> bool:
    """Set a plain value where the SDK would set it unchanged; False where it would clean,
    truncate or drop (a length limit on strings, a full set)."""
    items = attrs._dict  # noqa: SLF001  # BoundedAttributes' store, as its _setitem_locked writes it
    if attrs.max_value_len is not None and type(value) is str:
        return False
    if key in items:
        del items[key]  # the SDK moves a key set again to the end, the last dropped
    elif attrs.maxlen is not None and len(items) >= attrs.maxlen:
        return False
    items[key] = value
    return True


class ChildStarter:
    """Starts a sampled parent's recorded child as the SDK's tracer would (module docstring)."""

    __slots__ = ("_fields", "_generate_span_id", "_limits", "_on_start", "_tracer")

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        limits = tracer._span_limits  # noqa: SLF001  # the tracer's, as its start_span reads them
        self._limits = limits
        self._generate_span_id = tracer.id_generator.generate_span_id
        self._on_start = tracer.span_processor.on_start
        # the fields every span of this tracer has, as Span.__init__ and ReadableSpan.__init__
        # set them (their per-span fields are set in start)
        self._fields: dict[str, Any] = {
            "_instrumentation_info": tracer.instrumentation_info,
            "_instrumentation_scope": tracer._instrumentation_scope,  # noqa: SLF001
            "_start_time": None, "_end_time": None, "_status": _UNSET,
            "_sampler": tracer.sampler, "_trace_config": None,
            "_span_processor": tracer.span_processor, "_limits": limits,
            "_record_end_metrics": None,  # NoOpTracerMetrics': nothing to record
        }

    @classmethod
    def for_tracer(cls, tracer: object) -> ChildStarter | None:
        """A starter for the SDK tracer ``tracer``, or None when its set-up is not one this
        reproduces: another tracer class, SDK self-metrics on, or an SDK whose spans have other
        fields than the ones it sets (``_sdk_span_fields``)."""
        if type(tracer) is not Tracer or NoOpTracerMetrics is None:
            return None
        if not isinstance(getattr(tracer, "_tracer_metrics", None), NoOpTracerMetrics):
            return None
        if not hasattr(tracer.span_processor, "_on_ending"):
            return None
        starter = cls(tracer)
        if _sdk_span_fields() != {*starter._fields, *_SPAN_FIELDS}:
            return None
        return starter

    def enabled(self) -> bool:
        """Whether the tracer records at all (its configurator can turn it off at any time)."""
        return self._tracer._is_enabled()  # noqa: SLF001  # the check its start_span makes

    def start(self, name: str, parent: trace.SpanContext,  # noqa: PLR0917  # start_span's
              context: context_api.Context | None, kind: trace.SpanKind,
              attributes: types.Attributes, links: Sequence[trace.Link] | None,
              start_time: int | None, *, record_exception: bool,
              set_status_on_exception: bool) -> RecordedSpan:
        """The recorded child of the valid, sampled ``parent`` (the span ``context`` holds)."""
        limits = self._limits
        span: RecordedSpan = object.__new__(RecordedSpan)
        fields = span.__dict__
        fields.update(self._fields)
        fields["_name"] = name
        fields["_context"] = trace.SpanContext(
            parent.trace_id, self._generate_span_id(), is_remote=False,
            trace_flags=_SAMPLED_RANDOM if parent.trace_flags & _RANDOM_TRACE_ID else _SAMPLED,
            trace_state=parent.trace_state)
        fields["_kind"] = kind
        fields["_parent"] = parent
        fields["_resource"] = self._tracer.resource  # the provider can set it later
        fields["_record_exception"] = record_exception
        fields["_set_status_on_exception"] = set_status_on_exception
        fields["_lock"] = threading.Lock()
        fields["_attributes"] = BoundedAttributes(
            limits.max_span_attributes, attributes, immutable=False,
            max_value_len=limits.max_span_attribute_length)
        fields["_events"] = BoundedList(limits.max_events)
        fields["_links"] = (span._new_links(links) if links  # noqa: SLF001  # the SDK's, checking each
                            else BoundedList(limits.max_links))
        fields["_start_time"] = start_time if start_time is not None else time.time_ns()
        self._on_start(span, parent_context=context)
        return span


# What ChildStarter.start sets for each span, beside the tracer's fields (ChildStarter._fields)
_SPAN_FIELDS = ("_name", "_context", "_kind", "_parent", "_resource", "_record_exception",
                "_set_status_on_exception", "_lock", "_attributes", "_events", "_links")


@functools.cache
def _sdk_span_fields() -> frozenset[str]:
    """The fields of the installed SDK's spans: one span built by its own constructor, never
    started, looked at once."""
    return frozenset(vars(_Span("probe", trace.SpanContext(1, 1, is_remote=False))))
