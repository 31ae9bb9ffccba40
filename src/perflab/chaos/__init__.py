"""Chaos engineering: the fault proxy (a Toxiproxy-compatible API and TCP toxics).

Public names: ``ChaosServer`` (the API and its proxies on one event loop), ``running_server``
(one in a thread), ``read_config`` (a Toxiproxy ``-config`` file), ``TOXIC_ATTRIBUTES`` (the
toxic types and their attributes), ``TOXIPROXY_VERSION``. See docs/chaos.md.
"""

from perflab.chaos._api import TOXIPROXY_VERSION
from perflab.chaos._server import ChaosServer, read_config, running_server
from perflab.chaos._toxics import TOXIC_ATTRIBUTES

__all__ = [
    "TOXIC_ATTRIBUTES",
    "TOXIPROXY_VERSION",
    "ChaosServer",
    "read_config",
    "running_server",
]
