"""Tracers that do not build spans a parent-based sampler is bound to drop.

Under parent-based sampling (the SDK's default, ``parentbased_*`` in ``OTEL_TRACES_SAMPLER``, and
``perflab.otel.setup(sampling_ratio=...)``) a span whose parent is not sampled is never sampled.
The SDK still builds it: a fresh span id, the sampler's call, a ``NonRecordingSpan``, its
context attached and detached, about 8 us a span in CPython 3.11. At 10 % head sampling nine
traces in ten are not sampled, so on the demo's chain (nine spans a checkout) that work was most
of what tracing cost the service (docs/tracing.md, "Overhead").

These tracers look at the parent first: when it is valid and not sampled they hand back the
parent itself (non-recording) and make it current, and the SDK never runs. Nothing is recorded
either way, and what propagates downstream is the same trace id with the same "not sampled" flag,
so the services behind do not start traces of their own. A root span, a sampled parent, and any
other sampler go to the SDK unchanged. Only this module imports the SDK, and only when
``setup()`` turns tracing on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from opentelemetry.util import types

__all__ = ["SkippingTracerProvider", "parent_based"]

# OTEL_TRACES_SAMPLER values whose sampler ignores the parent; every other value, an unknown one
# included (the SDK falls back to parentbased_always_on), samples children as their parent
_NOT_PARENT_BASED = ("always_on", "always_off", "traceidratio")


def parent_based(sampler_variable: str | None) -> bool:
    """Whether the SDK's sampler for this ``OTEL_TRACES_SAMPLER`` value follows the parent."""
    return (sampler_variable or "parentbased_always_on").lower() not in _NOT_PARENT_BASED


def _unsampled_parent(context: context_api.Context | None) -> trace.Span | None:
    parent = trace.get_current_span(context)
    span_context = parent.get_span_context()
    if span_context.is_valid and not span_context.trace_flags.sampled:
        return parent
    return None


class _CurrentUnsampled:
    """``start_as_current_span`` under an unsampled parent: the parent made current, as the SDK
    would make its non-recording child current (on the current context, as ``use_span`` does)."""

    __slots__ = ("_call", "_span", "_token")

    def __init__(self, span: trace.Span, call: Callable[[], Any]) -> None:
        self._span = span
        self._call = call  # the SDK's own context manager, for use as a decorator
        self._token: object = None

    def __enter__(self) -> trace.Span:
        self._token = context_api.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        context_api.detach(self._token)  # type: ignore[arg-type]  # attach's own token

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # as a decorator the parent that counts is the one of each call: the SDK decides then
        return self._call()(func)  # type: ignore[no-any-return]  # the SDK's decorator


class _SkippingTracer(trace.Tracer):
    """The SDK's tracer, by way of a check of the parent (module docstring)."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(self, name: str, context: context_api.Context | None = None,  # noqa: PLR0917  # the API's signature
                   kind: trace.SpanKind = trace.SpanKind.INTERNAL,
                   attributes: types.Attributes = None,
                   links: Sequence[trace.Link] | None = None, start_time: int | None = None,
                   record_exception: bool = True,  # noqa: FBT002  # the API's
                   set_status_on_exception: bool = True,  # noqa: FBT002  # the API's
                   ) -> trace.Span:
        parent = _unsampled_parent(context)
        if parent is not None:
            return parent
        return self._tracer.start_span(name, context, kind, attributes, links, start_time,
                                       record_exception, set_status_on_exception)

    def start_as_current_span(  # noqa: PLR0917  # the API's signature
            self, name: str, context: context_api.Context | None = None,
            kind: trace.SpanKind = trace.SpanKind.INTERNAL,
            attributes: types.Attributes = None,
            links: Sequence[trace.Link] | None = None, start_time: int | None = None,
            record_exception: bool = True,  # noqa: FBT002  # the API's
            set_status_on_exception: bool = True,  # noqa: FBT002  # the API's
            end_on_exit: bool = True,  # noqa: FBT002  # the API's
    ) -> Any:  # the SDK's context manager or _CurrentUnsampled
        def sdk() -> Any:  # the SDK's _AgnosticContextManager
            return self._tracer.start_as_current_span(
                name, context, kind, attributes, links, start_time, record_exception,
                set_status_on_exception, end_on_exit)

        parent = _unsampled_parent(context)
        if parent is not None:
            return _CurrentUnsampled(parent, sdk)
        return sdk()


class SkippingTracerProvider(TracerProvider):
    """The SDK's ``TracerProvider``, whose tracers skip the children of unsampled parents.

    Give it only a parent-based sampler (``parent_based``): with another one a child of an
    unsampled parent could be sampled."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:  # the SDK's
        tracer = super().get_tracer(*args, **kwargs)
        if isinstance(tracer, trace.NoOpTracer):
            return tracer
        return _SkippingTracer(tracer)
