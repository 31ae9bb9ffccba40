"""Tracers that do not build spans a parent-based sampler is bound to drop.

Under parent-based sampling (the SDK's default, ``parentbased_*`` in ``OTEL_TRACES_SAMPLER``, and
``perflab.otel.setup(sampling_ratio=...)``) a span whose parent is not sampled is never sampled.
The SDK still builds it: a fresh span id, the sampler's call, a ``NonRecordingSpan``, its
context attached and detached, about 8 us a span in CPython 3.11. At 10 % head sampling nine
traces in ten are not sampled, so on the demo's chain (nine spans a checkout) that work was most
of what tracing cost the service (docs/tracing.md, "Figures").

These tracers look at the parent first: when it is valid and not sampled they hand back the
parent itself (non-recording) and make it current, and the SDK never runs. Nothing is recorded
either way, and what propagates downstream is the same trace id with the same "not sampled" flag,
so the services behind do not start traces of their own. A sampled parent's child is started by
``_span.ChildStarter`` where it reproduces the SDK's set-up; a root span, and any other set-up
or sampler, go to the SDK unchanged. Only this module, ``_span`` and ``_export`` import the
SDK, and only when ``setup()`` turns tracing on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeGuard

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, SamplingResult

from perflab.otel._span import ChildStarter

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


class _CurrentSpan:
    """What ``start_as_current_span`` returns: the SDK's context manager without its two
    generator-based managers (``_agnosticcontextmanager`` around ``use_span``), which cost
    more than the span itself when the span is not recorded (nine checkouts in ten at 10 %).

    The parent is looked up once, on entry, as the SDK's manager does.

    - under an unsampled parent: the parent made current, as the SDK would make its
      non-recording child current (on the current context, as ``use_span`` does). When the
      parent came from the current context (no ``context`` given) it is current already: making
      it current again would build a context equal to the current one, so nothing is attached;
    - otherwise the tracer's ``start_span`` (the SDK's, or ``ChildStarter`` for a sampled
      parent's child); a span not recorded (a root the sampler dropped) is only made current,
      one that records is made current and, on exit, has what ``use_span`` does done to it in
      the same order, without its generator: the context
      detached, an ``Exception`` (not a bare ``BaseException`` such as ``GeneratorExit``)
      recorded and the status set to ERROR as asked, the span ended (the generator and its
      wrapper were a measurable share of a recorded span: docs/tracing.md, "Figures").

    As a decorator each call decides anew: the SDK's own decorator."""

    __slots__ = ("_args", "_recorded", "_token", "_tracer")

    def __init__(self, tracer: _SkippingTracer, args: tuple[Any, ...]) -> None:
        self._tracer = tracer
        self._args = args  # start_as_current_span's, in its order
        self._token: object = None
        self._recorded: trace.Span | None = None  # a span the SDK records, ended on exit

    def __enter__(self) -> trace.Span:
        context = self._args[1]
        parent = trace.get_current_span(context)
        span = self._tracer.start_child(parent, *self._args[:8])  # all but end_on_exit
        if span is parent:  # an unsampled parent's child: the parent itself
            if context is None:
                return span
        elif span.is_recording():
            self._recorded = span
        self._token = context_api.attach(trace.set_span_in_context(span))
        return span

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool | None:
        del exc_type, tb
        if self._token is not None:
            context_api.detach(self._token)  # type: ignore[arg-type]  # attach's own token
            self._token = None
        span, self._recorded = self._recorded, None
        if span is None:
            return None
        (*_, record_exception, set_status_on_exception, end_on_exit) = self._args
        try:
            if isinstance(exc, Exception) and span.is_recording():
                if record_exception:
                    span.record_exception(exc)
                if set_status_on_exception:
                    span.set_status(trace.Status(trace.StatusCode.ERROR,
                                                 f"{type(exc).__name__}: {exc}"))
        finally:
            if end_on_exit:
                span.end()
        return None

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return self._tracer.sdk.start_as_current_span(*self._args)(func)


class _SkippingTracer(trace.Tracer):
    """The SDK's tracer, by way of a check of the parent (module docstring): a child of an
    unsampled parent is that parent, a child of a sampled one is started by ``ChildStarter``
    when the tracer's set-up is one it reproduces, anything else by the SDK."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.sdk = tracer
        self._children = (ChildStarter.for_tracer(tracer)
                          if isinstance(getattr(tracer, "sampler", None), _SampledParentsFirst)
                          else None)

    def start_span(self, name: str, context: context_api.Context | None = None,  # noqa: PLR0917  # the API's signature
                   kind: trace.SpanKind = trace.SpanKind.INTERNAL,
                   attributes: types.Attributes = None,
                   links: Sequence[trace.Link] | None = None, start_time: int | None = None,
                   record_exception: bool = True,  # noqa: FBT002  # the API's
                   set_status_on_exception: bool = True,  # noqa: FBT002  # the API's
                   ) -> trace.Span:
        return self.start_child(trace.get_current_span(context), name, context, kind,
                                attributes, links, start_time, record_exception,
                                set_status_on_exception)

    def start_child(self, parent: trace.Span, name: str,  # noqa: PLR0917  # start_span's
                    context: context_api.Context | None, kind: trace.SpanKind,
                    attributes: types.Attributes, links: Sequence[trace.Link] | None,
                    start_time: int | None, record_exception: bool,
                    set_status_on_exception: bool,
                    ) -> trace.Span:
        """``start_span`` with the parent (the span ``context`` holds) already looked up: an
        unsampled parent is returned itself."""
        span_context = parent.get_span_context()
        if span_context.is_valid:
            if not span_context.trace_flags.sampled:
                return parent
            children = self._children
            if children is not None and children.enabled():
                return children.start(name, span_context, context, kind, attributes, links,
                                      start_time, record_exception=record_exception,
                                      set_status_on_exception=set_status_on_exception)
        return self.sdk.start_span(name, context, kind, attributes, links, start_time,
                                   record_exception, set_status_on_exception)

    def start_as_current_span(  # noqa: PLR0917  # the API's signature
            self, name: str, context: context_api.Context | None = None,
            kind: trace.SpanKind = trace.SpanKind.INTERNAL,
            attributes: types.Attributes = None,
            links: Sequence[trace.Link] | None = None, start_time: int | None = None,
            record_exception: bool = True,  # noqa: FBT002  # the API's
            set_status_on_exception: bool = True,  # noqa: FBT002  # the API's
            end_on_exit: bool = True,  # noqa: FBT002  # the API's
    ) -> Any:  # _CurrentSpan, a context manager and decorator as the SDK's
        return _CurrentSpan(self, (name, context, kind, attributes, links, start_time,
                                   record_exception, set_status_on_exception, end_on_exit))


class _SampledParentsFirst(ParentBased):
    """A ``ParentBased`` sampler whose sampled parents have ``ALWAYS_ON`` delegates (the SDK's
    defaults, and what ``OTEL_TRACES_SAMPLER=parentbased_*`` builds), deciding a sampled
    parent's child in one step. The SDK's looks the parent up twice (once to choose the
    delegate, once in the delegate for its trace state) and goes through two calls with keyword
    arguments; the answer is the same: record and sample, the attributes given, the parent's
    trace state. Roots and unsampled parents go to ``ParentBased`` as before. Built from the
    sampler it stands for, whose description and delegates it keeps."""

    def __init__(self, sampler: ParentBased) -> None:
        # not ParentBased.__init__: the sampler's own root and delegates are taken as they are,
        # where get_description and should_sample read them
        vars(self).update(vars(sampler))

    def should_sample(self, parent_context: context_api.Context | None,  # noqa: PLR0917  # the API's
                      trace_id: int, name: str, kind: trace.SpanKind | None = None,
                      attributes: types.Attributes = None,
                      links: Sequence[trace.Link] | None = None,
                      trace_state: trace.TraceState | None = None) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if parent.is_valid and parent.trace_flags.sampled:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, parent.trace_state)
        return super().should_sample(parent_context, trace_id, name, kind, attributes, links,
                                     trace_state)

    @staticmethod
    def applies_to(sampler: object) -> TypeGuard[ParentBased]:
        """Whether ``sampler`` samples every child of a sampled parent (its delegates for a
        sampled parent, remote or local, are the SDK's ``ALWAYS_ON``)."""
        return (isinstance(sampler, ParentBased)
                and getattr(sampler, "_remote_parent_sampled", None) is ALWAYS_ON
                and getattr(sampler, "_local_parent_sampled", None) is ALWAYS_ON)


class SkippingTracerProvider(TracerProvider):
    """The SDK's ``TracerProvider``, whose tracers skip the children of unsampled parents, and
    whose sampler decides a sampled parent's child at once (``_SampledParentsFirst``) when it
    can tell the answer is the SDK's.

    Give it only a parent-based sampler (``parent_based``): with another one a child of an
    unsampled parent could be sampled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # the SDK's
        super().__init__(*args, **kwargs)
        if _SampledParentsFirst.applies_to(self.sampler):
            self.sampler = _SampledParentsFirst(self.sampler)

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:  # the SDK's
        tracer = super().get_tracer(*args, **kwargs)
        if isinstance(tracer, trace.NoOpTracer):
            return tracer
        return _SkippingTracer(tracer)
