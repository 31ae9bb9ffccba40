"""A load test reports its tracing coverage: what share of its requests began a trace, per
path, and which paths produced none (``trace coverage``'s roots, matched to the requests)."""

from __future__ import annotations

import dataclasses
import json
import time

from _spandata import MS, T0, span, write

from perflab.store import Store
from perflab.trace import load_coverage, render_load_coverage
from perflab.trace._loadcov import load_tests_coverage

S = 1_000_000_000


def _root(n: int, path: str, *, at_ms: float) -> list:
    root = span(n, n * 10, None, "api", "GET", at_ms, 5, attrs={"url.path": path})
    call = span(n, n * 10 + 1, n * 10, "api", "GET store", at_ms + 1, 2, kind=3,
                attrs={"server.address": "store"})
    return [root, call]


def test_share_of_requests_traced_per_path_and_routes_without_traces(tmp_path):
    with Store.open(tmp_path / "s.db") as store:
        spans = []
        for i in range(1, 31):  # 30 traces of /items in the load's time
            spans += _root(i, "/items", at_ms=i * 10)
        spans += _root(99, "/items", at_ms=10_000)  # after the load: not its request
        write(store, spans)
        doc = load_coverage(store, T0, T0 + 5 * S, {"/items": 300, "/health": 50})
        assert doc is not None
        assert doc["requests"] == 350
        assert doc["traces"] == 30
        assert doc["traced_pct"] == round(100 * 30 / 350, 2)
        assert doc["routes"] == [
            {"path": "/health", "requests": 50, "traces": 0, "traced_pct": 0.0},
            {"path": "/items", "requests": 300, "traces": 30, "traced_pct": 10.0}]
        assert doc["untraced_routes"] == ["/health"]
        # the slowest traced requests, to open first: all took 5 ms here, so the first five
        assert len(doc["slowest_traces"]) == 5
        assert {t["duration_ms"] for t in doc["slowest_traces"]} == {5.0}
        assert all(len(t["trace_id"]) == 32 for t in doc["slowest_traces"])
        # every call to store ends in a client span with no server span: uninstrumented
        assert doc["uninstrumented_calls"] == [
            {"service": "api", "operation": "GET store", "peer": "store", "calls": 30}]
        text = render_load_coverage(doc)
        assert text.startswith("tracing: 30 of 350 requests produced a trace (8.6 %)\n")
        assert "  no trace: /health\n" in text
        # a scenario's requests have no path: every root of the load's time counts
        scenario = load_coverage(store, T0, T0 + 5 * S, {"": 60})
        assert scenario is not None
        assert scenario["traced_pct"] == 50.0


def test_no_spans_during_the_load_no_coverage(tmp_path):
    with Store.open(tmp_path / "s.db") as store:
        write(store, _root(1, "/items", at_ms=0))
        assert load_coverage(store, T0 + 60 * S, T0 + 70 * S, {"/items": 10}) is None


def test_the_old_http_target_convention_counts_without_its_query(tmp_path):
    with Store.open(tmp_path / "s.db") as store:
        write(store, [span(1, 1, None, "api", "GET", 0, 5,
                           attrs={"http.target": "/items?page=2"})])
        doc = load_coverage(store, T0, T0 + S, {"/items": 1})
        assert doc is not None
        assert doc["traced_pct"] == 100.0


def _load_run(store: Store, requests: int) -> tuple[int, int]:
    """A load test of http://127.0.0.1:9/ through the real LoadRecorder, one second long from
    now; its run id and start."""
    import numpy as np  # noqa: PLC0415
    from tests.unit.load.test_load_view import record_test  # noqa: PLC0415

    run_id = record_test(store, np.full(requests, 2000), start_ns=time.time_ns())
    return run_id, store.run(run_id).started_ns


def _roots_at(start_ns: int, n: int, path: str) -> list:
    return [dataclasses.replace(s, start_ns=start_ns + i * MS) for i in range(1, n + 1)
            for s in _root(i, path, at_ms=0)]


def test_the_load_tests_of_a_window_with_their_coverage(tmp_path):
    """The Services page's panel: each load run of the window, its requests per path and
    the share that produced a trace; a load test with no span in its time says so."""
    with Store.open(tmp_path / "s.db") as store:
        traced, at = _load_run(store, 40)
        write(store, _roots_at(at, 4, "/"))
        untraced, _ = _load_run(store, 10)
        runs = load_tests_coverage(store, at - S, time.time_ns() + S)
        assert [r["run_id"] for r in runs] == [untraced, traced]  # newest first
        cov = runs[1]["coverage"]
        assert cov["routes"] == [{"path": "/", "requests": 40, "traces": 4, "traced_pct": 10.0}]
        assert load_tests_coverage(store, at - 100 * S, at - 50 * S) == []


def test_the_services_page_shows_the_endpoints_load_tests_hit(tmp_path):
    from tests.unit._webclient import client_class  # noqa: PLC0415

    from perflab.web import AppConfig, create_app  # noqa: PLC0415

    with Store.open(tmp_path / "s.db") as store:
        run, at = _load_run(store, 20)
        write(store, _roots_at(at, 1, "/"))
    with client_class()(create_app(AppConfig(store_path=tmp_path / "s.db", record=False))) as c:
        html = c.get("/services").text
    data = html.split('<script id="services-data" type="application/json">')[1]
    (shown,) = json.loads(data.split("</script>")[0])["load_tests"]
    assert shown["run_id"] == run
    assert shown["coverage"]["routes"] == [
        {"path": "/", "requests": 20, "traces": 1, "traced_pct": 5.0}]


def test_a_trace_entered_from_a_caller_without_spans_is_complete(tmp_path):
    """A server span whose parent is a caller that sent a traceparent but no spans
    (``perflab load --traceparent``) begins a complete trace; a missing parent further down
    still makes a trace broken."""
    with Store.open(tmp_path / "s.db") as store:
        entered = span(1, 10, 999, "api", "GET", 0, 5, attrs={"url.path": "/items"})
        call = span(1, 11, 10, "api", "SELECT", 1, 2, kind=3, attrs={"db.system": "sqlite"})
        lost = span(2, 20, None, "api", "GET", 0, 5, attrs={"url.path": "/items"})
        orphan = span(2, 21, 998, "api", "SELECT", 1, 2, kind=3, attrs={"db.system": "sqlite"})
        write(store, [entered, call, lost, orphan])
        doc = load_coverage(store, T0, T0 + S, {"/items": 2})
        assert doc is not None
        assert doc["traces"] == 2  # both began at a server span for /items
        assert doc["complete_pct"] == 50.0  # the second lost a span
        assert [t["trace_id"] for t in doc["slowest_traces"]] == [
            f"{2:032x}", f"{1:032x}"]  # equally slow: the larger id first
