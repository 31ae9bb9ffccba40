"""The SDK's OTLP/HTTP span exporter, its request written by ``_encode`` (a third of the CPU).

Only the encoding changes: the endpoint, headers, compression, TLS, timeout, retries, size limit
and the exporter's own metrics stay the SDK's, from the same variables. The exporter's export
step is an encoding and a hand-over to its HTTP client; that hand-over is not public API, so it
is looked for once, when the exporter is built (``_client.export`` and
``_metrics.export_operation``, as in opentelemetry-exporter-otlp-proto-http 1.45). An exporter
without them exports as the SDK does, encoder and all: slower, never wrong.
``tests/unit/trace/test_trace_otel_encode.py`` checks that the SDK installed with perflab takes
the fast way and sends the SDK's bytes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from perflab.otel._encode import encode_spans

if TYPE_CHECKING:
    from collections.abc import Sequence

    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["FastOTLPSpanExporter"]

log = logging.getLogger("perflab.otel")


class FastOTLPSpanExporter(OTLPSpanExporter):
    """``OTLPSpanExporter`` (same arguments) that writes its requests with ``encode_spans``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        client = getattr(self, "_client", None)
        metrics = getattr(self, "_metrics", None)
        self.fast = (callable(getattr(client, "export", None))
                     and callable(getattr(metrics, "export_operation", None))
                     and isinstance(getattr(self, "_max_request_size", None), int))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self.fast or getattr(self, "_shutdown", False):
            return super().export(spans)
        with self._metrics.export_operation(len(spans)) as result:
            try:
                data = encode_spans(spans)
            except Exception as exc:  # the SDK's rule: a batch that does not encode is dropped
                log.exception("perflab.otel: a batch of %d spans did not encode", len(spans))
                result.error = exc
                return SpanExportResult.FAILURE
            limit = self._max_request_size
            if limit > 0 and len(data) > limit:
                log.warning("perflab.otel: dropping a batch of %d spans: its request is %d bytes, "
                            "over the exporter's max_request_size %d", len(spans), len(data),
                            limit)
                result.error = ValueError(f"request of {len(data)} bytes over {limit}")
                return SpanExportResult.FAILURE
            sent = self._client.export(data)  # retries, compression, timeout: the SDK's
            if not sent.success:
                result.error = sent.error
                status = getattr(sent, "status_code", None)
                result.error_attrs = ({"http.response.status_code": status}
                                      if status is not None else None)
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
