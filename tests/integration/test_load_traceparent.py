"""``perflab load --traceparent RATIO`` against a real OpenTelemetry-instrumented service (the
demo's store, set up with ``perflab.otel.setup``): each request carries a traceparent of its
own, the service's spans join it, and the load's tracing coverage counts those traces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests._schemas import validate
from tests.conftest import wait_for

from perflab.store import Store, StoredSpan, spans_in_window
from perflab.testing import free_port, serve

pytestmark = pytest.mark.integration
SRC = Path(__file__).resolve().parents[2] / "src"


def _load(tmp_path: Path, sampler: str, ratio: str, requests: int
          ) -> tuple[dict[str, Any], list[StoredSpan]]:
    """``perflab load --traceparent RATIO`` of the demo's store (its own sampler ``sampler``)
    while a hub takes its spans: the load's --json and the server spans stored."""
    port = free_port()
    store = tmp_path / "lab.db"
    port_file = tmp_path / "store.port"
    env = {**os.environ, "PYTHONPATH": str(SRC),
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
           "OTEL_TRACES_SAMPLER": sampler, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    with serve(store, "--no-record", "--otlp-http", f"127.0.0.1:{port}", "--no-otlp-grpc",
               "--no-zipkin"):
        service = subprocess.Popen(
            [sys.executable, "-m", "perflab.demo.chain", "--role", "store", "--port", "0",
             "--port-file", str(port_file)], env=env, stdout=subprocess.DEVNULL)
        try:
            wait_for(lambda: port_file.exists() and port_file.read_text() != "",
                     timeout_s=60, what="the service's port")
            url = f"http://127.0.0.1:{int(port_file.read_text())}/query?table=items"
            out = subprocess.run(
                [sys.executable, "-m", "perflab", "load", "run", url, "-n", str(requests),
                 "-c", "2", "--workers", "1", "--traceparent", ratio, "--json",
                 "--store", str(store)],
                env={**os.environ, "PYTHONPATH": str(SRC)}, capture_output=True, text=True,
                timeout=120, check=False)
        finally:
            service.terminate()
            service.wait(30)  # its provider's shutdown exports what it still held
        assert out.returncode == 0, out.stderr
        with Store.open(store) as s:
            servers = [r for r in spans_in_window(s, 0, 2**63 - 1, limit=1000) if r.kind == 2]
    return json.loads(out.stdout), servers


def test_the_service_follows_the_loads_sampled_flag(tmp_path):
    """The service samples nothing of its own: only the load's sampled flag makes it record."""
    doc, servers = _load(tmp_path, "parentbased_always_off", "1", 40)
    assert doc["requests"] == 40
    assert len(servers) == 40
    assert len({r.trace_id for r in servers}) == 40  # a trace id per request
    assert all(r.parent_id is not None for r in servers)  # the load's own parent id
    # each request began a trace at the service, entered from the load: complete, counted
    assert doc["tracing"]["traces"] == 40, doc["tracing"]
    assert doc["tracing"]["complete_pct"] == 100.0
    # the slowest of them, named by the trace ids the load sent
    slowest = doc["tracing"]["slowest_traces"]
    assert len(slowest) == 5
    assert {t["trace_id"] for t in slowest} <= {r.trace_id.hex() for r in servers}
    durations = [t["duration_ms"] for t in slowest]
    assert durations == sorted(durations, reverse=True)
    validate(doc, "load")


def test_unsampled_requests_leave_no_trace(tmp_path):
    """``--traceparent 0``: every request says "not sampled"; a parent-based service records
    none of them, though it samples every trace it starts itself."""
    doc, servers = _load(tmp_path, "parentbased_always_on", "0", 20)
    assert doc["requests"] == 20
    assert servers == []
    assert doc["tracing"] is None
