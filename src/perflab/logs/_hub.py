"""``LogsHub``: the logs side of ``perflab serve``. It holds the sink every log receiver
submits to (on the hub's one ingest queue), their shared concurrency limit and counters, the
live tails' limit, the OTLP ``LogsService`` for the hub's gRPC port, and the forward-protocol
and syslog ports."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from perflab.logs._live import MAX_TAILS, NewLines
from perflab.logs._otlp import DecodedLogs, DecodeError, decode_request, response
from perflab.logs._ports import LogPorts
from perflab.logs._sink import LogEntry, LogSink, Retention
from perflab.serving import ConcurrencyLimiter, otlp_grpc_export

if TYPE_CHECKING:
    from collections.abc import Callable

    import grpc

    from perflab.store import IngestQueue

RECEIVER_ACTIVE = 8    # HTTP requests decoded at once (Loki push has its own limiter)
RECEIVER_WAITING = 64  # more wait; beyond, 429


class LogsHub:
    """Lines land in the hub's recording run (none with ``--no-record``)."""

    def __init__(self, *, retention: Retention | None = None,
                 ports: LogPorts | None = None) -> None:
        self.sink = LogSink(retention=retention)
        self.limiter = ConcurrencyLimiter(RECEIVER_ACTIVE, RECEIVER_WAITING,
                                          what="log requests")
        self.tails = ConcurrencyLimiter(MAX_TAILS, 0, what="live tails")  # /loki/api/v1/tail
        self.new_lines = NewLines()  # wakes the live tails when the sink's lines are committed
        self.ports = ports or LogPorts()
        self.ports.submit = lambda entries: self.submit(entries, "port")
        self.endpoints: list[str] = []  # "fluent-forward 127.0.0.1:24224" ...
        self._lock = threading.Lock()
        self.lines: dict[str, int] = {}  # lines accepted, by protocol
        self.refused_requests = 0

    def start(self, queue: IngestQueue, record_run: Callable[[], int | None]) -> None:
        self.sink.run_id = record_run
        self.sink.register(queue, committed=lambda _entries: self.new_lines.notify())
        self.ports.start()

    def stop(self) -> None:
        """Close the forward and syslog ports (before the queue stops: it writes what they
        handed over)."""
        self.ports.stop()

    # -- what every receiver does (serving.OtlpSink) ------------------------------------------

    def submit(self, entries: list[LogEntry], protocol: str) -> bool:
        """Hand lines to the queue whole (True) or refuse them all (False: try later)."""
        if self.sink.queue is None or not self.sink.submit(entries):
            return False
        with self._lock:
            self.lines[protocol] = self.lines.get(protocol, 0) + len(entries)
        return True

    def accept(self, decoded: DecodedLogs, protocol: str) -> bool:
        """An OTLP request's lines (a refusal is counted by the HTTP path that answers it)."""
        return not decoded.entries or self.submit(decoded.entries, protocol)

    def refused(self) -> None:
        with self._lock:
            self.refused_requests += 1

    def grpc_service(self, token: str | None) -> Callable[[grpc.Server], None]:
        """What registers OTLP's ``LogsService`` on the hub's gRPC port."""
        def register(server: grpc.Server) -> None:
            from opentelemetry.proto.collector.logs.v1 import (  # noqa: PLC0415
                logs_service_pb2_grpc,
            )

            logs_service_pb2_grpc.add_LogsServiceServicer_to_server(  # type: ignore[no-untyped-call]
                _GrpcLogs(self, token.encode() if token else None), server)

        return register


class _GrpcLogs:
    """``opentelemetry.proto.collector.logs.v1.LogsService/Export``."""

    def __init__(self, hub: LogsHub, token: bytes | None) -> None:
        self.hub = hub
        self.token = token

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802  # gRPC's method name
        return otlp_grpc_export(request, context, decode=decode_request, sink=self.hub,
                                response=response, decode_error=DecodeError, token=self.token)
