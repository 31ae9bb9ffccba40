"""Logs: the Loki push receiver, log lines in the store, LogQL and Loki's query API
(docs/logs.md).

Public names:

- LogQL: ``parse`` (the syntax tree; ``LogQLError`` names the column), ``query_range`` and
  ``query_instant`` (Loki's ``data`` documents), ``QueryError`` (a query that parses but cannot
  be answered), ``parse_loki_time``;
- lines: ``LogEntry``, ``line_fields``, ``detect_level``, ``detect_ids``; ``decode_push`` (a
  Loki push body, JSON or snappy protobuf); ``FileTail`` (files followed into the store);
  ``OutputCapture`` (a child's stdout and stderr, for ``perflab run``); ``log_query`` (a log
  query, parsed; a metric query refused), ``start_tail`` (the newest lines and a ``Follower``:
  a live tail of a log query, the lines it keeps as they arrive), ``tail_message`` (lines as
  one message of Loki's tail); ``hub_tail`` (the live tail of the hub that serves a store,
  when one runs; ``HubUnavailable``: it cannot, or no longer, be followed);
  ``log_volume`` (lines per bucket by level, the histograms'
  document), ``top_error_lines`` / ``ErrorLine`` (a run's most frequent error lines, ``mask_line``
  grouping them);
- in ``perflab serve``: ``LogsHub`` (the sink on the hub's ingest queue, the OTLP
  ``LogsService`` for the gRPC port, the forward and syslog ports of a ``LogPorts``, the live
  tails' limit), ``LogSink``, ``Retention``, ``apply_retention``, ``ROUTES`` (the receivers:
  Loki push, OTLP/HTTP ``/v1/logs``, Elasticsearch ``_bulk``; the query API, the live tail, the
  Logs page and its JSON), ``ES_ROOT`` (Elasticsearch's ``GET /`` for its clients, before the
  dashboard's ``/``), ``OTLP_HTTP_PATHS`` (what the OTLP/HTTP port serves for logs),
  ``TEMPLATES`` (the page's templates, rendered by the hub's environment around its
  ``base.html``);
- contracts: ``LogsQueryDoc``, ``LokiQueryDoc``, ``LokiListDoc``, ``LokiData``,
  ``LokiTailDoc``.
"""

from perflab.logs._api import parse_loki_time
from perflab.logs._capture import OutputCapture
from perflab.logs._contracts import (
    LogsQueryDoc,
    LokiData,
    LokiListDoc,
    LokiQueryDoc,
    LokiTailDoc,
)
from perflab.logs._eval import QueryError
from perflab.logs._fields import detect_ids, detect_level, line_fields
from perflab.logs._hub import LogsHub
from perflab.logs._hub_follow import HubUnavailable, hub_tail
from perflab.logs._lines import Follower, log_query, start_tail, tail_message
from perflab.logs._lines import volume as log_volume
from perflab.logs._logql import LogQLError, parse
from perflab.logs._pages import TEMPLATES
from perflab.logs._ports import LogPorts
from perflab.logs._push import decode_push
from perflab.logs._query import query_instant, query_range
from perflab.logs._routes import ES_ROOT, OTLP_HTTP_PATHS, ROUTES
from perflab.logs._sink import LogEntry, LogSink, Retention, apply_retention
from perflab.logs._tail import FileTail
from perflab.logs._top import ErrorLine, mask_line, top_error_lines

__all__ = [
    "ES_ROOT",
    "OTLP_HTTP_PATHS",
    "ROUTES",
    "TEMPLATES",
    "ErrorLine",
    "FileTail",
    "Follower",
    "HubUnavailable",
    "LogEntry",
    "LogPorts",
    "LogQLError",
    "LogSink",
    "LogsHub",
    "LogsQueryDoc",
    "LokiData",
    "LokiListDoc",
    "LokiQueryDoc",
    "LokiTailDoc",
    "OutputCapture",
    "QueryError",
    "Retention",
    "apply_retention",
    "decode_push",
    "detect_ids",
    "detect_level",
    "hub_tail",
    "line_fields",
    "log_query",
    "log_volume",
    "mask_line",
    "parse",
    "parse_loki_time",
    "query_instant",
    "query_range",
    "start_tail",
    "tail_message",
    "top_error_lines",
]
