"""``perflab serve``: the dashboard, the JSON API and the hub's own /metrics, in one ASGI app.

Public names: ``create_app``, ``AppConfig``, ``Listener`` (an extra port of the hub: the span
receivers' own, serving only their paths).
"""

from perflab.web._app import AppConfig, create_app
from perflab.web._listeners import Listener

__all__ = ["AppConfig", "Listener", "create_app"]
