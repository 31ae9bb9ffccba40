"""``perflab serve``: the dashboard, the JSON API and the hub's own /metrics, in one ASGI app.

Public names: ``create_app``, ``AppConfig``.
"""

from perflab.web._app import AppConfig, create_app

__all__ = ["AppConfig", "create_app"]
