"""Everything logs add to the hub's app: the receivers (Loki push, OTLP/HTTP logs, the
Elasticsearch ``_bulk`` subset), Loki's query API and live tail, the Logs page and its JSON
(``ROUTES``, mounted by the hub; ``ES_ROOT``, Elasticsearch's ``GET /`` for its clients only,
mounted before the dashboard's ``/``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from perflab.logs._api import API_ROUTES
from perflab.logs._elastic import ROOT as ES_ROOT
from perflab.logs._elastic import ROUTES as ES_ROUTES
from perflab.logs._live import TAIL_ROUTES
from perflab.logs._otlp import LOGS
from perflab.logs._page_api import PAGE_API_ROUTES
from perflab.logs._pages import PAGE_ROUTES
from perflab.logs._push import loki_push
from perflab.serving import TooManyRequests, otlp_http_export

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from perflab.logs._hub import LogsHub

OTLP_HTTP_PATHS = ("/v1/logs",)


def _hub_of(request: Request) -> LogsHub:
    hub: LogsHub | None = getattr(request.app.state, "logs", None)
    if hub is None:
        raise TooManyRequests("this hub does not receive logs")
    return hub


async def otlp_logs(request: Request) -> Response:
    """``POST /v1/logs``: binary protobuf or JSON, gzip or not."""
    return await otlp_http_export(request, LOGS, _hub_of)


ROUTES = [
    Route("/loki/api/v1/push", loki_push, methods=["POST"], name="loki_push"),
    Route("/v1/logs", otlp_logs, methods=["POST"], name="otlp_logs"),
    *ES_ROUTES,
    *API_ROUTES,
    *TAIL_ROUTES,
    *PAGE_API_ROUTES,
    *PAGE_ROUTES,
]

__all__ = ["ES_ROOT", "OTLP_HTTP_PATHS", "ROUTES"]
