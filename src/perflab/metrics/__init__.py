"""Metrics and alerting (issue 14): scrape, receive, PromQL, rules, alerts, the Prometheus API.

Public names:

- PromQL: ``parse``, ``instant_query``, ``range_query``, ``QueryOptions``, ``InstantResult``,
  ``PromQLError``; where samples come from: ``Queryable``, ``StoreQueryable`` (every run of a
  store, with the run as the ``perflab_run`` label), ``MemoryQueryable``, ``RawSeries``;
  ``prometheus_name`` (a stored series' Prometheus name); ``format_float_g`` (a float as
  Go's ``%v`` prints it, which LogQL's templates also need).
- The hub: ``MetricsHub``, ``HubOptions`` and ``ROUTES`` (the Prometheus HTTP API,
  remote-write, InfluxDB and OTLP/HTTP receivers, the Query, Alerts and SLOs pages) that ``web``
  mounts; ``MetricsHub.otlp.grpc_service(token)`` registers ``MetricsService`` on the OTLP/gRPC
  port.
- Files: ``load_config`` (a Prometheus configuration), ``load_notify_config`` (route and
  inhibit_rules in Alertmanager's format), ``load_rule_file``,
  ``run_test_file`` (promtool's rule unit tests), ``ScrapeManager`` and ``MetricSink``
  (``perflab scrape`` without the hub), ``import_exposition`` (``perflab metrics import``),
  ``replay_rules`` / ``Fired`` (rules evaluated over a recorded run: what would have fired).
- ``node_metrics_into``: the hub's node_* families written into another run (``perflab
  record``).
- Contracts (``_contracts.py``): the TypedDicts of the ``--json`` documents (``PromqlDoc``,
  ``ScrapeDoc``, ``MetricsImportDoc``, ``RulesCheckDoc``, ``RulesTestDoc``, ``AlertsDoc``,
  ``SilenceDoc``, ``SilencesDoc``, ``SloStatusDoc``) and their parts.
"""

from perflab.gotemplate import format_float_g
from perflab.metrics._api import ROUTES as _API_ROUTES
from perflab.metrics._apitime import format_time, format_value, parse_time_ms
from perflab.metrics._ast import PromQLError, parse
from perflab.metrics._config import expand_globs, load_config
from perflab.metrics._contracts import (
    AlertsDoc,
    MatchOp,
    MetricsImportDoc,
    PromqlDoc,
    PromqlResult,
    RulesCheckDoc,
    RulesCheckFile,
    RulesTestDoc,
    ScrapeDoc,
    SilenceDoc,
    SilencesDoc,
    SilencesSilence,
    SloStatusDoc,
    SloStatusSlo,
    TargetHealth,
)
from perflab.metrics._duration import parse_duration_ms
from perflab.metrics._engine import InstantResult, QueryOptions, instant_query, range_query
from perflab.metrics._hub import HubOptions, MetricsHub
from perflab.metrics._importer import import_exposition
from perflab.metrics._inhibit import load_notify_config
from perflab.metrics._matchers import matcher_tuple, parse_matcher
from perflab.metrics._names import prometheus_name
from perflab.metrics._node import node_metrics_into
from perflab.metrics._otlp_receive import ROUTES as _OTLP_ROUTES
from perflab.metrics._pages import ROUTES as _PAGE_ROUTES
from perflab.metrics._pages import TEMPLATES
from perflab.metrics._receive import ROUTES as _RECEIVE_ROUTES
from perflab.metrics._replay import Fired, replay_rules
from perflab.metrics._rulefile import RuleFileError, load_rule_file
from perflab.metrics._rulestest import run_test_file
from perflab.metrics._scrape import ScrapeManager
from perflab.metrics._sink import MetricSink, register_kinds
from perflab.metrics._slo import generate_rules, load_slo
from perflab.metrics._slo import status as slo_status
from perflab.metrics._slo_page import ROUTES as _SLO_ROUTES
from perflab.metrics._storeq import StoreQueryable
from perflab.metrics._values import MemoryQueryable, Queryable, RawSeries

ROUTES = [*_API_ROUTES, *_RECEIVE_ROUTES, *_OTLP_ROUTES, *_PAGE_ROUTES, *_SLO_ROUTES]

__all__ = [
    "ROUTES",
    "TEMPLATES",
    "AlertsDoc",
    "Fired",
    "HubOptions",
    "InstantResult",
    "MatchOp",
    "MemoryQueryable",
    "MetricSink",
    "MetricsHub",
    "MetricsImportDoc",
    "PromQLError",
    "PromqlDoc",
    "PromqlResult",
    "QueryOptions",
    "Queryable",
    "RawSeries",
    "RuleFileError",
    "RulesCheckDoc",
    "RulesCheckFile",
    "RulesTestDoc",
    "ScrapeDoc",
    "ScrapeManager",
    "SilenceDoc",
    "SilencesDoc",
    "SilencesSilence",
    "SloStatusDoc",
    "SloStatusSlo",
    "StoreQueryable",
    "TargetHealth",
    "expand_globs",
    "format_float_g",
    "format_time",
    "format_value",
    "generate_rules",
    "import_exposition",
    "instant_query",
    "load_config",
    "load_notify_config",
    "load_rule_file",
    "load_slo",
    "matcher_tuple",
    "node_metrics_into",
    "parse",
    "parse_duration_ms",
    "parse_matcher",
    "parse_time_ms",
    "prometheus_name",
    "range_query",
    "register_kinds",
    "replay_rules",
    "run_test_file",
    "slo_status",
]
