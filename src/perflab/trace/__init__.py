"""Distributed tracing: OTLP and Zipkin receivers, the span store's views, Jaeger's query API,
critical paths, trace diffs, RED and coverage (docs/tracing.md).

Public names:

- the model: ``Span``, ``Process``, ``SpanEvent``, ``SpanLink``, ``Trace``, ``hex_id``,
  ``parse_hex_id``;
- decoders (raise only ``DecodeError`` or ``serving.PayloadTooLarge``): ``decode_protobuf``,
  ``decode_json`` (OTLP), ``decode_zipkin``; ``Decoded``; ``encode_request`` (model -> OTLP);
- reading: ``TraceQuery``, ``get_trace``, ``find_traces``; ``critical_path`` / ``Section``;
  ``diff_groups`` / ``TraceDiff``; the documents every view shows: ``search_document``,
  ``trace_document``, ``diff_document``, ``services_document``, ``coverage_document``,
  ``ViewError``; a load test's tracing coverage: ``load_coverage``, ``run_load_coverage``,
  ``render_load_coverage``;
  the contracts of ``perflab trace ... --json``: ``TraceLsDoc``, ``TraceShowDoc``,
  ``TraceCriticalPathDoc`` / ``TraceCriticalPathOperation``, ``TraceDiffDoc``,
  ``TraceCoverageDoc``;
- in ``perflab serve``: ``TraceHub`` (span sink, gRPC receiver, forwarder, sampling),
  ``forward_url`` (what ``--forward-otlp`` takes),
  ``Retention``, ``load_strategies``, ``ROUTES`` (receivers, APIs and pages, mounted by the
  hub) and ``TEMPLATES`` (the pages' templates, rendered by the hub's environment around its
  ``base.html``), ``OTLP_HTTP_PATHS`` and ``ZIPKIN_PATHS`` (what the receivers' own ports serve);
- ``SpanSink`` (the ingest write path, for tools that fill a store in bulk).
"""

from perflab.trace._contracts import (
    TraceCoverageDoc,
    TraceCriticalPathDoc,
    TraceCriticalPathOperation,
    TraceDiffDoc,
    TraceLsDoc,
    TraceShowDoc,
)
from perflab.trace._critical import Section, critical_path
from perflab.trace._decode import Decoded, DecodeError
from perflab.trace._diff import TraceDiff, diff_groups
from perflab.trace._forward import forward_url
from perflab.trace._hub import TraceHub
from perflab.trace._loadcov import load_coverage, render_load_coverage, run_load_coverage
from perflab.trace._model import Process, Span, SpanEvent, SpanLink, Trace, hex_id, parse_hex_id
from perflab.trace._otlp import decode_json, decode_protobuf, encode_request
from perflab.trace._pages import TEMPLATES
from perflab.trace._query import TraceQuery, find_traces, get_trace
from perflab.trace._routes import OTLP_HTTP_PATHS, ROUTES, ZIPKIN_PATHS
from perflab.trace._sampling import load_strategies
from perflab.trace._views import (
    ViewError,
    coverage_document,
    diff_document,
    search_document,
    services_document,
    trace_document,
)
from perflab.trace._write import Retention, SpanSink
from perflab.trace._zipkin import decode_zipkin

__all__ = [
    "OTLP_HTTP_PATHS",
    "ROUTES",
    "TEMPLATES",
    "ZIPKIN_PATHS",
    "DecodeError",
    "Decoded",
    "Process",
    "Retention",
    "Section",
    "Span",
    "SpanEvent",
    "SpanLink",
    "SpanSink",
    "Trace",
    "TraceCoverageDoc",
    "TraceCriticalPathDoc",
    "TraceCriticalPathOperation",
    "TraceDiff",
    "TraceDiffDoc",
    "TraceHub",
    "TraceLsDoc",
    "TraceQuery",
    "TraceShowDoc",
    "ViewError",
    "coverage_document",
    "critical_path",
    "decode_json",
    "decode_protobuf",
    "decode_zipkin",
    "diff_document",
    "diff_groups",
    "encode_request",
    "find_traces",
    "forward_url",
    "get_trace",
    "hex_id",
    "load_coverage",
    "load_strategies",
    "parse_hex_id",
    "render_load_coverage",
    "run_load_coverage",
    "search_document",
    "services_document",
    "trace_document",
]
