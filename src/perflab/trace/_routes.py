"""Everything tracing adds to the hub's app, as one list the hub mounts (``ROUTES``), and the
paths the receivers' own ports serve (the OTLP/HTTP port serves ``OTLP_HTTP_PATHS`` only, the
Zipkin port ``ZIPKIN_PATHS`` only; the hub's port serves all of it)."""

from __future__ import annotations

from starlette.routing import Route

from perflab.trace._api import API_ROUTES
from perflab.trace._pages import ROUTES as PAGE_ROUTES
from perflab.trace._receivers import otlp_traces, zipkin_spans

OTLP_HTTP_PATHS = ("/v1/traces",)
ZIPKIN_PATHS = ("/api/v2/spans",)

ROUTES = [
    Route("/v1/traces", otlp_traces, methods=["POST"], name="otlp_traces"),
    Route("/api/v2/spans", zipkin_spans, methods=["POST"], name="zipkin_spans"),
    *API_ROUTES,
    *PAGE_ROUTES,
]
