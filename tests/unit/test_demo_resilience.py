"""The demo's resilience step on the demo's own chain (frontend -> api -> fault proxy -> store,
served in threads): it survives the latency toxic and not the error toxic, each toxic is a band
on the run, and the findings read as the demo prints them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from opentelemetry import trace
from tests._schemas import validate

from perflab.demo import chain
from perflab.demo._resilience import (
    ERROR_BOUND,
    LATENCY_MS,
    TOXICS,
    Check,
    FaultProxy,
    ResilienceFinding,
    resilience_step,
)
from perflab.store import CHAOS_FAULT_EVENT, Store


def _serve(role: str, next_url: str) -> ThreadingHTTPServer:
    handler = type("Handler", (chain._Handler,), {  # the demo's own handler
        "role": role, "next_url": next_url, "tracer": trace.get_tracer("test")})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return server


@pytest.fixture
def demo_chain(tmp_path) -> Iterator[tuple[FaultProxy, int]]:
    """The fault proxy in front of the store, and the frontend's port."""
    servers = [_serve("store", "")]
    proxy = FaultProxy(tmp_path / "s.db")
    try:
        servers.append(_serve("api", proxy.start(servers[0].server_port)))
        servers.append(_serve("frontend", f"http://127.0.0.1:{servers[1].server_port}"))
        yield proxy, servers[2].server_port
    finally:
        proxy.stop()
        for server in servers:
            server.shutdown()
            server.server_close()


def test_the_chain_survives_the_latency_toxic_and_not_the_error_toxic(tmp_path, demo_chain):
    proxy, frontend = demo_chain
    store_path = tmp_path / "s.db"
    with Store.open(store_path) as db:
        run_id = db.create_run("demo", "demo").id
    latency, errors = resilience_step(proxy, store_path, run_id, frontend, threading.Event())

    assert latency.before.met
    assert errors.before.met  # the steady state came back once the latency toxic was removed
    assert latency.during is not None
    assert errors.during is not None
    assert (latency.survived, errors.survived) == (True, False)
    assert latency.detected
    assert errors.detected
    # the toxics acted: two store calls per checkout, each answer held LATENCY_MS
    assert latency.during.p99_ms is not None
    assert latency.during.p99_ms >= 2 * LATENCY_MS
    assert (errors.during.error_rate or 0) > ERROR_BOUND
    assert "latency toxic" in latency.summary
    assert ": survived;" in latency.summary
    assert ": NOT survived;" in errors.summary
    for finding in (latency, errors):
        validate(finding.to_json(), "demo#/$defs/resilience")

    with Store.open(store_path) as db:
        bands = [e for e in db.events(run_id) if e.kind == CHAOS_FAULT_EVENT]
        rps = db.series(run_id, name="load.rps")
        endpoints = {s.labels.get("endpoint") for s in rps}
        db_series = [db.samples(s.id) for s in rps]
    assert [b.attrs["type"] for b in bands] == ["latency", "http_error"]
    assert all(b.end_ns is not None and b.end_ns > b.ts_ns for b in bands)
    assert bands[0].end_ns is not None
    assert bands[0].end_ns <= bands[1].ts_ns  # one toxic at a time, with a check between
    between = [t for s in db_series for t, _ in s if bands[0].end_ns < t < bands[1].ts_ns]
    assert between
    assert endpoints == {"/checkout"}  # the checks' load is on the run, for the report


def test_a_steady_state_not_met_before_tests_nothing():
    before = Check(met=False, p99_ms=2500.0, error_rate=0.0, requests=20)
    finding = ResilienceFinding(TOXICS[0], before, None)
    assert finding.survived is None
    assert not finding.detected
    assert "not tested, the steady state" in finding.summary
    assert "(p99 < 2s and errors < 5%) was not met before it (p99 2.50s" in finding.summary
    validate(finding.to_json(), "demo#/$defs/resilience")
