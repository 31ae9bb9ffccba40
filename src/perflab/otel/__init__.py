"""Tracing for your own Python services, in one call (the in-service helper users import).

::

    import perflab.otel
    perflab.otel.setup(service_name="api")   # then instrument as usual, or use the helpers

It configures the OpenTelemetry SDK the standard way: a resource with ``service.name`` (and
``OTEL_RESOURCE_ATTRIBUTES``), an OTLP/HTTP exporter to the hub (``OTEL_EXPORTER_OTLP_ENDPOINT``,
default ``http://127.0.0.1:4318``, where ``perflab serve`` listens; headers from
``OTEL_EXPORTER_OTLP_HEADERS``, e.g. ``Authorization=Bearer%20TOKEN``), W3C trace-context and
baggage propagation, the sampler the ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG``
variables choose (``parentbased_traceidratio`` with ``0.1`` samples 10 % of new traces), and a
``BatchSpanProcessor``. ``perflab run`` sets those variables for the command it starts.

Like the SDK it wraps, it never raises into your service: without the SDK (``pip install
'perflab[otel]'``), with ``OTEL_SDK_DISABLED=true``, or on any error it logs one warning and
returns None, and your service runs untraced. When off it costs nothing: nothing is imported.
"""

from __future__ import annotations

import logging
import os
from typing import Any

__all__ = ["setup"]

log = logging.getLogger("perflab.otel")

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
_provider: Any = None


def setup(service_name: str | None = None, *, endpoint: str | None = None,
          sampling_ratio: float | None = None,
          resource_attributes: dict[str, Any] | None = None) -> Any:
    """Configure tracing for this process; returns the SDK's ``TracerProvider`` (or None when
    tracing stays off). Calling it again returns the provider of the first call.

    Args:
        service_name: ``service.name``; default ``OTEL_SERVICE_NAME``, else the SDK's
            ``unknown_service``.
        endpoint: the OTLP/HTTP base URL (default ``OTEL_EXPORTER_OTLP_ENDPOINT``, else
            ``http://127.0.0.1:4318``).
        sampling_ratio: head sampling of new traces, as ``ParentBased(TraceIdRatioBased(r))``;
            default: the ``OTEL_TRACES_SAMPLER`` variables (every trace when unset).
        resource_attributes: more resource attributes (``deployment.environment`` ...).
    """
    global _provider  # noqa: PLW0603  # one provider per process, as the SDK's global is
    if _provider is not None:
        return _provider
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    try:
        _provider = _configure(service_name, endpoint, sampling_ratio, resource_attributes)
    except ImportError:
        log.warning("perflab.otel: the OpenTelemetry SDK is not installed (pip install "
                    "'perflab[otel]'); this service runs untraced")
        return None
    except Exception as exc:  # never into the user's service
        log.warning("perflab.otel: tracing stays off: %s: %s", type(exc).__name__, exc)
        return None
    return _provider


def _configure(service_name: str | None, endpoint: str | None, ratio: float | None,
               extra: dict[str, Any] | None) -> Any:
    from opentelemetry import propagate, trace  # noqa: PLC0415  # only when tracing is wanted
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    from opentelemetry.sdk.trace.sampling import (  # noqa: PLC0415
        ParentBased,
        TraceIdRatioBased,
    )

    from perflab.otel._export import FastOTLPSpanExporter  # noqa: PLC0415  # imports the SDK
    from perflab.otel._propagate import w3c_default  # noqa: PLC0415  # imports the API's
    from perflab.otel._tracer import (  # noqa: PLC0415  # imports the SDK
        SkippingTracerProvider,
        parent_based,
    )

    attrs: dict[str, Any] = dict(extra or {})
    # the process identity the hub matches profiles by (docs/tracing.md, "Pages")
    attrs.setdefault("process.pid", os.getpid())
    name = service_name or os.environ.get("OTEL_SERVICE_NAME")
    if name:
        attrs["service.name"] = name
    resource = Resource.create(attrs)
    kwargs: dict[str, Any] = {"resource": resource}
    if ratio is not None:
        kwargs["sampler"] = ParentBased(TraceIdRatioBased(ratio))
    # without a sampler: OTEL_TRACES_SAMPLER decides; a parent-based one lets the tracers skip
    # the children of unsampled parents, most of what 10 % sampling cost (_tracer.py)
    skipping = ratio is not None or parent_based(os.environ.get("OTEL_TRACES_SAMPLER"))
    provider = (SkippingTracerProvider if skipping else TracerProvider)(**kwargs)
    # the signal's own variable is a whole URL; the general one a base the path is added to
    url = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") if endpoint is None else None
    if not url:
        base = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT
        url = base.rstrip("/") + "/v1/traces"
    # the SDK's exporter, its requests written a third as costly (_export.py)
    provider.add_span_processor(BatchSpanProcessor(FastOTLPSpanExporter(endpoint=url)))
    trace.set_tracer_provider(provider)
    # W3C trace context and baggage are the SDK's default propagators (OTEL_PROPAGATORS); the
    # default pair has its common case answered directly (_propagate.py), any other stays
    short = w3c_default(propagate.get_global_textmap())
    if short is not None:
        propagate.set_global_textmap(short)
    return provider
