"""Metrics and alerting (issue 14): scrape, receive, PromQL, rules, alerts, the Prometheus API.

Public names:

- PromQL: ``parse``, ``instant_query``, ``range_query``, ``QueryOptions``, ``InstantResult``,
  ``PromQLError``; where samples come from: ``Queryable``, ``StoreQueryable`` (every run of a
  store, with the run as the ``perflab_run`` label), ``MemoryQueryable``, ``RawSeries``;
  ``prometheus_name`` (a stored series' Prometheus name).
- The hub: ``MetricsHub``, ``HubOptions`` and ``ROUTES`` (the Prometheus HTTP API,
  remote-write and InfluxDB receivers, the Query and Alerts pages) that ``web`` mounts.
- Files: ``load_config`` (a Prometheus configuration), ``load_rule_file``,
  ``run_test_file`` (promtool's rule unit tests), ``ScrapeManager`` and ``MetricSink``
  (``perflab scrape`` without the hub), ``import_exposition`` (``perflab metrics import``),
  ``replay_rules`` / ``Fired`` (rules evaluated over a recorded run: what would have fired).
"""

from perflab.metrics._api import ROUTES as _API_ROUTES
from perflab.metrics._ast import PromQLError, parse
from perflab.metrics._config import load_config
from perflab.metrics._engine import InstantResult, QueryOptions, instant_query, range_query
from perflab.metrics._hub import HubOptions, MetricsHub
from perflab.metrics._importer import import_exposition
from perflab.metrics._names import prometheus_name
from perflab.metrics._pages import ROUTES as _PAGE_ROUTES
from perflab.metrics._pages import TEMPLATES
from perflab.metrics._receive import ROUTES as _RECEIVE_ROUTES
from perflab.metrics._replay import Fired, replay_rules
from perflab.metrics._rulefile import load_rule_file
from perflab.metrics._rulestest import run_test_file
from perflab.metrics._scrape import ScrapeManager
from perflab.metrics._sink import MetricSink
from perflab.metrics._storeq import StoreQueryable
from perflab.metrics._values import MemoryQueryable, Queryable, RawSeries

ROUTES = [*_API_ROUTES, *_RECEIVE_ROUTES, *_PAGE_ROUTES]

__all__ = [
    "ROUTES",
    "TEMPLATES",
    "Fired",
    "HubOptions",
    "InstantResult",
    "MemoryQueryable",
    "MetricSink",
    "MetricsHub",
    "PromQLError",
    "QueryOptions",
    "Queryable",
    "RawSeries",
    "ScrapeManager",
    "StoreQueryable",
    "import_exposition",
    "instant_query",
    "load_config",
    "load_rule_file",
    "parse",
    "prometheus_name",
    "range_query",
    "replay_rules",
    "run_test_file",
]
