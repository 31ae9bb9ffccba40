"""The demo's capacity step: a real, short search of the demo service's /work (served
in-process), stored as a capacity run, and its one line for every outcome; a search that
cannot run is a line, never a failure of the demo."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tests._schemas import validate

from perflab.demo import service
from perflab.demo._capacity import ENDPOINT, MAX_STEPS, CapacityFinding, capacity_step, summary_line
from perflab.demo._children import free_port
from perflab.store import Store


def _doc(rate, resource, upper, *, cpu=97.0):
    curve = [{"step": 1, "rate": 400.0, "rps": 400.0, "p50_ms": 1.0, "p99_ms": 3.0,
              "error_rate": 0.0, "passed": rate is not None, "failed": [], "cpu_pct": 40.0,
              "rss_bytes": 1 << 20, "threads": 1, "duration_s": 1.0}]
    if upper is not None:
        curve.append({**curve[0], "step": 2, "rate": upper, "passed": False,
                      "failed": ["p99<50ms"], "cpu_pct": cpu})
    return {"knee": {"rate": rate, "rps": rate, "resource": resource, "upper_rate": upper},
            "curve": curve}


def test_the_line_names_the_knee_and_what_saturated():
    assert summary_line(_doc(400.0, "cpu", 800.0)) == (
        "capacity: the service holds 400 req/s on /work at p99 < 100ms; CPU saturates first "
        "(800 req/s failed; its CPU 97%)")
    assert "a pool, a lock or a queue saturates" in summary_line(_doc(400.0, "concurrency",
                                                                      800.0))
    assert "memory saturates first" in summary_line(_doc(400.0, "memory", 800.0))
    assert "unknown" in summary_line(_doc(400.0, "unknown", 800.0, cpu=None))
    assert summary_line(_doc(400.0, "none", None)).endswith("(the most this short search tried)")
    assert summary_line(_doc(None, "unknown", 400.0)) == (
        "capacity: not even 400 req/s on /work met p99 < 100ms (a busy machine?)")


def test_the_step_searches_the_service_and_stores_the_run(tmp_path: Path):
    srv = service.make_server(0, service.Faults())
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        with Store.open(tmp_path / "s.db") as store:
            finding = capacity_step(store, srv.server_address[1], os.getpid(), threading.Event())
            runs = store.runs(kind="capacity")
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)
    assert finding.doc is not None
    doc = validate(finding.doc, "load-capacity")
    assert doc["url"].endswith(ENDPOINT)
    assert 1 <= len(doc["curve"]) <= MAX_STEPS
    assert all(p["cpu_pct"] is not None for p in doc["curve"])  # the service's process watched
    assert finding.summary.startswith("capacity: ")
    assert [r.id for r in runs] == [doc["run_id"]]
    assert finding.to_json()["kind"] == "capacity"


def test_a_search_that_cannot_run_is_a_line(tmp_path: Path):
    with Store.open(tmp_path / "s.db") as store:
        finding = capacity_step(store, free_port(), os.getpid(), threading.Event())
    assert finding == CapacityFinding(None, finding.summary)
    assert finding.summary.startswith("capacity: the search could not run: ")
    assert finding.to_json()["detected"] is False
