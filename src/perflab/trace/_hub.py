"""What tracing runs inside ``perflab serve``: the span sink on the hub's ingest queue, the
OTLP/gRPC server, the forwarder, the sampling strategies and the receivers' counters.

``perflab serve`` builds a ``TraceHub`` (binding the gRPC port first, so a port in use is
decided before anything starts), hands it to the app, and the app's lifespan calls
``start(queue)`` and ``stop()``. The HTTP receivers are routes of the app itself (``ROUTES``),
served on the hub's port and on the extra sockets ``perflab serve`` opened for them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perflab.serving import ConcurrencyLimiter, otlp_grpc_export
from perflab.trace._decode import DecodeError
from perflab.trace._forward import Forwarder
from perflab.trace._otlp import decode_request, response
from perflab.trace._red import RedAggregator
from perflab.trace._sampling import Strategies
from perflab.trace._write import KIND, TICK, Retention, SpanSink

if TYPE_CHECKING:
    from collections.abc import Callable

    import grpc

    from perflab.store import IngestQueue
    from perflab.trace._decode import Decoded

log = logging.getLogger("perflab.trace")

RECEIVER_ACTIVE = 8  # HTTP export requests decoded at once
RECEIVER_WAITING = 64  # more wait; beyond, 429
GRPC_WORKERS = 4
GRPC_MAX_RPCS = 32  # concurrent Export calls; beyond, gRPC answers RESOURCE_EXHAUSTED
GRPC_MAX_MESSAGE = 64 * 1024 * 1024  # the OTLP spec's recommended limit, after decompression


@dataclass
class ReceiverStats:
    requests: int = 0
    spans: int = 0
    rejected: int = 0  # spans refused inside accepted requests (bad ids ...)
    refused_requests: int = 0  # 400/413/415/429 answers
    by_protocol: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "spans": self.spans, "rejected": self.rejected,
                "refused_requests": self.refused_requests, "by_protocol": self.by_protocol}


class TraceHub:
    def __init__(self, *, retention: Retention | None = None, forward_url: str | None = None,
                 strategies: Strategies | None = None, token: str | None = None,
                 red: RedAggregator | None = None) -> None:
        self.forwarder = Forwarder(forward_url) if forward_url else None
        self.sink = SpanSink(retention=retention, red=red, forward=self.forwarder)
        self.strategies = strategies or Strategies()
        self.token = token.encode() if token else None
        self.limiter = ConcurrencyLimiter(RECEIVER_ACTIVE, RECEIVER_WAITING,
                                          what="span export requests")
        self.stats = ReceiverStats()
        self.queue: IngestQueue | None = None
        self._lock = threading.Lock()
        self._grpc: grpc.Server | None = None
        self.grpc_port: int | None = None
        self.endpoints: list[str] = []  # "otlp-grpc 127.0.0.1:4317" ...: what it listens on
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- the gRPC receiver -----------------------------------------------------------------------

    def bind_grpc(self, host: str, port: int) -> int:
        """Bind the OTLP/gRPC port (served from ``start``). Returns the port; raises OSError
        when it cannot be bound."""
        _check_free(host, port)  # the kernel's own words for a port in use, not gRPC's log
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # gRPC core logs to stderr otherwise
        import grpc  # noqa: PLC0415  # only a hub with the gRPC receiver loads it
        from opentelemetry.proto.collector.trace.v1 import (  # noqa: PLC0415
            trace_service_pb2_grpc,
        )

        server = grpc.server(
            ThreadPoolExecutor(GRPC_WORKERS, thread_name_prefix="perflab-otlp-grpc"),
            maximum_concurrent_rpcs=GRPC_MAX_RPCS,
            # without this a second hub would share the port silently (SO_REUSEPORT)
            options=[("grpc.so_reuseport", 0),
                     ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE)])
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _GrpcService(self), server)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError as exc:  # newer grpcio raise; older ones return 0
            raise OSError(f"cannot listen on {address}: {exc}") from None
        if not bound:
            raise OSError(f"cannot listen on {address}")
        self._grpc = server
        self.grpc_port = int(bound)
        return self.grpc_port

    def add_grpc_service(self, register: Callable[[grpc.Server], None]) -> None:
        """Serve another OTLP service on the same gRPC port (the metrics hub's
        ``MetricsService``); before ``start``. Nothing when no gRPC port is bound."""
        if self._grpc is not None:
            register(self._grpc)

    # -- life --------------------------------------------------------------------------------

    def start(self, queue: IngestQueue) -> None:
        self.queue = queue
        self.sink.register(queue)
        if self.forwarder is not None:
            self.forwarder.start()
        if self._grpc is not None:
            self._grpc.start()
        self._ticker = threading.Thread(target=self._tick, name="perflab-trace-tick",
                                        daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        """RED is written every interval even when no span arrives (a run that ended gets its
        last interval); the tick goes through the queue, so the writer thread writes it."""
        interval = self.sink.red.interval_ns / 1e9
        while not self._stop.wait(interval):
            if self.queue is not None:
                self.queue.submit(KIND, [TICK])

    def stop(self) -> None:
        """Stop what ``start`` started (and a gRPC port bound but never served)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(5)
        if self._grpc is not None:
            self._grpc.stop(grace=2).wait(5)
        if self.forwarder is not None:
            self.forwarder.stop()

    # -- what every receiver does ------------------------------------------------------------

    def accept(self, decoded: Decoded, protocol: str) -> bool:
        """Submit decoded spans to the ingest queue: False when it is full (429 /
        RESOURCE_EXHAUSTED; nothing of the request was taken)."""
        queue = self.queue
        ok = queue is not None and queue.submit(KIND, decoded.spans)
        with self._lock:
            if ok:
                self.stats.requests += 1
                self.stats.spans += len(decoded.spans)
                self.stats.rejected += decoded.rejected
                self.stats.by_protocol[protocol] = \
                    self.stats.by_protocol.get(protocol, 0) + len(decoded.spans)
            else:
                self.stats.refused_requests += 1
        return ok

    def refused(self) -> None:
        with self._lock:
            self.stats.refused_requests += 1


def _check_free(host: str, port: int) -> None:
    """OSError (EADDRINUSE ...) when ``host:port`` cannot be bound now."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


class _GrpcService:
    """``opentelemetry.proto.collector.trace.v1.TraceService/Export`` (serving's OTLP/gRPC
    path: the token, then decoding, then the ingest queue)."""

    def __init__(self, hub: TraceHub) -> None:
        self.hub = hub

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802  # gRPC's method name
        return otlp_grpc_export(request, context, decode=decode_request, sink=self.hub,
                                response=response, decode_error=DecodeError,
                                token=self.hub.token)
