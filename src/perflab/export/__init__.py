"""Exposition of perflab's measurements to other tools: Prometheus ``/metrics`` for now.

Public names: ``PerflabCollector`` (a prometheus_client collector of node_* and process_*
families), ``Exposition`` (its cached text rendering), ``MetricsServer``, ``ListenAddress``,
``parse_listen``, ``check_exposure``.
"""

from perflab.export._collector import Exposition, PerflabCollector
from perflab.export._server import ListenAddress, MetricsServer, check_exposure, parse_listen

__all__ = [
    "Exposition",
    "ListenAddress",
    "MetricsServer",
    "PerflabCollector",
    "check_exposure",
    "parse_listen",
]
