"""The hub's own Prometheus metrics: requests by route and status, latency, store size, samples.

Each app has its own registry (two apps in one test process must not collide). Route labels
are the route templates (``/api/runs/{run_id}``), never raw paths: bounded cardinality.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HubMetrics:
    def __init__(self, store_path: Path, samples_written: Callable[[], int]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("perflab_http_requests", "HTTP requests served.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram(
            "perflab_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        store_size = Gauge("perflab_store_size_bytes",
                           "Size of the store file with its WAL.", registry=self.registry)
        store_size.set_function(lambda: _store_bytes(store_path))
        samples = Gauge("perflab_recording_samples_written",
                        "Samples the background recording has written.",
                        registry=self.registry)
        samples.set_function(lambda: float(samples_written()))

    def endpoint(self, request: Request) -> Response:  # noqa: ARG002  # starlette's signature
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _store_bytes(path: Path) -> float:
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            total += Path(str(path) + suffix).stat().st_size
    return float(total)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HubMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(path, scope.get("method", ""), str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - start)
