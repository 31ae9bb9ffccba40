"""A load test reports its tracing coverage: what share of its requests began a trace, per
path, and which paths produced none (``trace coverage``'s roots, matched to the requests)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from _spandata import T0, span, write

from perflab.cli.trace import load_tracing
from perflab.load import Histogram, LoadConfig, LoadResult, parse_target
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


# -- perflab load's wait for the target's last spans (cli.trace.load_tracing) ------------------

class FakeTime:
    """A monotonic clock, a wall clock starting at the test's end, and a sleep that advances
    both and delivers the spans due by then (``arrivals``: (seconds after the end, spans))."""

    def __init__(self, store: Store, end_ns: int, arrivals: list[tuple[float, list]]) -> None:
        self.store, self.end_ns, self.t = store, end_ns, 0.0
        self.arrivals = sorted(arrivals, key=lambda a: a[0])
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.t

    def now_ns(self) -> int:
        return self.end_ns + int(self.t * S)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
        while self.arrivals and self.arrivals[0][0] <= self.t:
            write(self.store, self.arrivals.pop(0)[1])


def _load_run(store: Store, requests: int) -> LoadResult:
    """A one-second load test of ``requests`` to /items at T0, stored as perflab load ends it."""
    cfg = LoadConfig(parse_target("http://127.0.0.1:9/items", resolve=False), duration_s=1.0)
    lat = Histogram()
    lat.record_many(np.full(requests, 1000, dtype=np.int64))
    result = LoadResult(cfg, T0, 1.0, "ok", lat, None, Counter({200: requests}))
    result.run_id = store.create_run("load", "t", started_ns=T0).id
    store.finish_run(result.run_id, ended_ns=T0 + S, meta_update={"summary": result.to_json()})
    return result


def _traces(first: int, count: int, *, from_ms: float, step_ms: float) -> list:
    return [s for i in range(count) for s in _root(first + i, "/items",
                                                   at_ms=from_ms + i * step_ms)]


def _tracing(tmp_path, requests: int, now: list, later: list[tuple[float, list]], **kw):
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        result = _load_run(store, requests)
        write(store, now)
        fake = FakeTime(store, T0 + S, later)
        doc = load_tracing(result, str(path), sleep=fake.sleep, clock=fake.clock,
                           now_ns=fake.now_ns, **kw)
    return doc, fake


def test_the_wait_ends_once_the_last_spans_are_in_not_at_the_bound(tmp_path):
    """Sampled at 50 %: the spans of the test's last half second come 2 s after it (an SDK's
    last batch); once they are in and nothing changes for a second, the count is final."""
    doc, fake = _tracing(tmp_path, 20, _traces(1, 5, from_ms=50, step_ms=100),
                         [(2.0, _traces(6, 5, from_ms=550, step_ms=100))])
    assert doc is not None
    assert (doc["traces"], doc["traced_pct"]) == (10, 50.0)
    assert 3.0 <= fake.t <= 3.5  # the arrival, then a second without a new span; not 6 s


def test_spans_still_arriving_are_waited_for_until_the_bound(tmp_path):
    arrivals = [(0.1 + 0.2 * i, _root(100 + i, "/items", at_ms=900 + i)) for i in range(20)]
    doc, fake = _tracing(tmp_path, 40, _traces(1, 5, from_ms=50, step_ms=100), arrivals,
                         wait_s=2.0)
    assert fake.t == pytest.approx(2.0)
    assert doc is not None
    assert doc["traces"] == 5 + 10  # what arrived within the bound


def test_no_recent_span_waits_for_the_tail_until_the_bound(tmp_path):
    """Nothing new, but the latest span started long before the end: the SDK may still hold
    the last batch, so the count waits (a sampled target's tail) until the bound."""
    doc, fake = _tracing(tmp_path, 20, _traces(1, 5, from_ms=50, step_ms=50), [], wait_s=2.5)
    assert fake.t == pytest.approx(2.5)
    assert doc is not None
    assert doc["traces"] == 5


def test_every_request_traced_no_wait(tmp_path):
    doc, fake = _tracing(tmp_path, 5, _traces(1, 5, from_ms=50, step_ms=100), [])
    assert doc is not None
    assert doc["traced_pct"] == 100.0
    assert fake.slept == []


def test_no_span_during_the_test_no_tracing_and_no_wait(tmp_path):
    """The target is not traced (or sends its spans elsewhere): nothing to wait for."""
    doc, fake = _tracing(tmp_path, 5, [], [(1.0, _traces(1, 5, from_ms=50, step_ms=1))])
    assert doc is None
    assert fake.slept == []


def test_no_span_no_trace_package_imported(tmp_path):
    """perflab.trace (its protobuf and gRPC modules: 0.1-0.7 s) is imported only when spans
    came during the test, not at the end of every load test."""
    path = str(tmp_path / "s.db")
    script = f"""
import sys
from collections import Counter
from perflab.cli.trace import load_tracing
from perflab.load import Histogram, LoadConfig, LoadResult, parse_target
from perflab.store import Store
cfg = LoadConfig(parse_target("http://127.0.0.1:9/items", resolve=False), duration_s=1.0)
result = LoadResult(cfg, {T0}, 1.0, "ok", Histogram(), None, Counter({{200: 5}}))
with Store.open({path!r}) as store:
    result.run_id = store.create_run("load", "t", started_ns={T0}).id
    store.finish_run(result.run_id, ended_ns={T0 + S})
assert load_tracing(result, {path!r}) is None
print("perflab.trace" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"
