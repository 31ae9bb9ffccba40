"""The OTLP metrics receivers: ``POST /v1/metrics`` (OTLP/HTTP, on the hub's port and the
``--otlp-http`` port) and ``MetricsService/Export`` (OTLP/gRPC, on the ``--otlp-grpc`` port the
trace receiver opened), both through ``perflab.serving``'s OTLP paths, the ones the trace
receivers take: the same Host rule, token, body and gzip limits, concurrency limit and
answers. Decoded points (``_otlp_metrics``) go into the hub's run through its sink; samples
over an hour older than that run are rejected in the partial success, as remote-write
refuses them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from perflab.metrics._otlp_metrics import (
    DecodedMetrics,
    DecodeError,
    decode_json,
    decode_protobuf,
    decode_request,
    response,
    response_json,
)
from perflab.metrics._receive import MAX_PAST_NS
from perflab.serving import (
    ConcurrencyLimiter,
    OtlpSignal,
    TooManyRequests,
    otlp_grpc_export,
    otlp_http_export,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import grpc
    from starlette.requests import Request
    from starlette.responses import Response

    from perflab.metrics._hub import MetricsHub

RECEIVER_ACTIVE = 8   # export requests decoded at once
RECEIVER_WAITING = 64  # more wait; beyond, 429

METRICS = OtlpSignal("metrics", decode_protobuf, decode_json, response, response_json,
                     DecodeError)


class OtlpMetricsReceiver:
    """The hub's OTLP metrics sink (``serving.OtlpSink``) and its counters."""

    def __init__(self, hub: MetricsHub) -> None:
        self.hub = hub
        self.limiter = ConcurrencyLimiter(RECEIVER_ACTIVE, RECEIVER_WAITING,
                                          what="metric export requests")
        self._lock = threading.Lock()
        self.requests = 0
        self.samples = 0
        self.rejected = 0          # data points refused inside accepted requests
        self.refused_requests = 0  # 4xx answers

    def accept(self, decoded: DecodedMetrics, protocol: str) -> bool:
        del protocol
        sink = self.hub.sink
        if sink is None:  # the hub has not started its sink yet
            raise TooManyRequests("the hub is starting: retry in a moment")
        run = sink.run_id
        started = self.hub.run_started_ns()
        floor = None if started is None else started - MAX_PAST_NS
        items = []
        old = 0
        for name, labels, ts, value in decoded.rows:
            if floor is not None and ts < floor:
                old += name != "target_info"  # made here, not sent: not the sender's point
                continue
            items.append((run, name, labels, ts, value))
        if old:
            decoded.reject("samples over an hour older than the run they would land in (out "
                           "of bounds: backfill with perflab metrics import)", old)
        if not sink.submit_items(items):
            with self._lock:
                self.refused_requests += 1
            return False
        sink.submit_meta(list(decoded.meta.values()))
        with self._lock:
            self.requests += 1
            self.samples += len(items)
            self.rejected += decoded.rejected
        return True

    def refused(self) -> None:
        with self._lock:
            self.refused_requests += 1

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self.requests, "samples": self.samples,
                    "rejected": self.rejected, "refused_requests": self.refused_requests}

    def grpc_service(self, token: str | None) -> Callable[[grpc.Server], None]:
        """What registers ``MetricsService`` on the hub's OTLP/gRPC server."""
        def register(server: grpc.Server) -> None:
            from opentelemetry.proto.collector.metrics.v1 import (  # noqa: PLC0415
                metrics_service_pb2_grpc,
            )

            metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
                _GrpcService(self, token.encode() if token else None), server)

        return register


class _GrpcService:
    """``opentelemetry.proto.collector.metrics.v1.MetricsService/Export``."""

    def __init__(self, receiver: OtlpMetricsReceiver, token: bytes | None) -> None:
        self.receiver = receiver
        self.token = token

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802  # gRPC's method name
        return otlp_grpc_export(request, context, decode=decode_request, sink=self.receiver,
                                response=response, decode_error=DecodeError,
                                token=self.token)


def _receiver_of(request: Request) -> OtlpMetricsReceiver:
    hub: MetricsHub | None = getattr(request.app.state, "metrics", None)
    if hub is None or hub.sink is None:
        raise TooManyRequests("this hub does not receive metrics yet: retry in a moment")
    receiver: OtlpMetricsReceiver = hub.otlp
    return receiver


async def otlp_metrics(request: Request) -> Response:
    """``POST /v1/metrics``: binary protobuf or JSON, gzip or not."""
    return await otlp_http_export(request, METRICS, _receiver_of)


OTLP_HTTP_PATHS = ("/v1/metrics",)
ROUTES = [Route("/v1/metrics", otlp_metrics, methods=["POST"], name="otlp_metrics")]
