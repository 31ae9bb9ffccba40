"""A load test reports its tracing coverage: what share of its requests began a trace, per
path, and which paths produced none (``trace coverage``'s roots, matched to the requests)."""

from __future__ import annotations

from _spandata import T0, span, write

from perflab.store import Store
from perflab.trace import load_coverage, render_load_coverage

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
