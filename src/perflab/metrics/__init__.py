"""Metrics and alerting: scrape, receive, PromQL, rules, alerts (issue 14).

Public names are listed in ``__all__``; everything else is private to the package.
"""

from perflab.metrics._ast import PromQLError, parse
from perflab.metrics._engine import InstantResult, QueryOptions, instant_query, range_query
from perflab.metrics._values import MemoryQueryable, Queryable, RawSeries

__all__ = [
    "InstantResult",
    "MemoryQueryable",
    "PromQLError",
    "QueryOptions",
    "Queryable",
    "RawSeries",
    "instant_query",
    "parse",
    "range_query",
]
