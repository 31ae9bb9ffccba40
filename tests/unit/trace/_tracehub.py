"""A real hub in this process for the tracing tests: uvicorn serving the app on loopback ports
chosen by the kernel (port 0, so parallel hubs never fight over 4317/4318/9411), its OTLP/gRPC
receiver on another, so the real OTel SDK exporters can send to it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from perflab.logs import LogsHub
from perflab.store import Store, span_stats
from perflab.trace import TraceHub
from perflab.web import AppConfig, Listener, create_app


@dataclass
class Hub:
    url: str  # the hub's own port (OTLP/HTTP too)
    otlp_url: str  # the OTLP/HTTP port of its own
    zipkin_url: str
    grpc_target: str
    trace: TraceHub
    app: Any
    store_path: Path
    logs: LogsHub | None = None

    def wait_written(self, n: int, timeout_s: float = 20.0) -> None:
        """Until ``n`` spans are in the store (the ingest queue writes in rounds)."""
        deadline = time.monotonic() + timeout_s
        count = 0
        while time.monotonic() < deadline:
            with Store.open(self.store_path) as store:
                count = span_stats(store)[0]
            if count >= n:
                return
            time.sleep(0.05)
        raise AssertionError(f"{n} spans not written in {timeout_s} s: {count} are")


def _sock() -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


@contextlib.contextmanager
def running_hub(store_path: Path, *, token: str | None = None, record: bool = False,
                trace: TraceHub | None = None, logs: LogsHub | None = None) -> Iterator[Hub]:
    """``logs``: a logs hub (its forward and syslog sockets bound) for the app."""
    Store.open(store_path).close()
    hub = trace or TraceHub(token=token)
    grpc_port = hub.bind_grpc("127.0.0.1", 0)
    main, otlp, zipkin = _sock(), _sock(), _sock()
    listeners = (Listener("127.0.0.1", otlp.getsockname()[1], ("/v1/traces", "/v1/logs"),
                          "--otlp-http"),
                 Listener("127.0.0.1", zipkin.getsockname()[1], ("/api/v2/spans",),
                          "--zipkin"))
    app = create_app(AppConfig(store_path=store_path, token=token, record=record,
                               rollups=False, trace=hub, listeners=listeners, logs=logs))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [main, otlp, zipkin]},
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the hub did not start")
        time.sleep(0.02)
    try:
        yield Hub(f"http://127.0.0.1:{main.getsockname()[1]}",
                  f"http://127.0.0.1:{otlp.getsockname()[1]}",
                  f"http://127.0.0.1:{zipkin.getsockname()[1]}",
                  f"127.0.0.1:{grpc_port}", hub, app, store_path, app.state.logs)
    finally:
        server.should_exit = True
        thread.join(30)
        for s in (main, otlp, zipkin):
            s.close()


def hub_client(store_path: Path, **config: Any) -> Any:
    """The hub in-process (starlette's TestClient), for API tests that need no real port."""
    import warnings  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient  # noqa: PLC0415

    Store.open(store_path).close()
    app = create_app(AppConfig(store_path=store_path, record=False, rollups=False, **config))
    return TestClient(app, base_url="http://127.0.0.1:8600")
