"""A load test reports its tracing coverage: what share of its requests began a trace, per
path, and which paths produced none (``trace coverage``'s roots, matched to the requests)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pytest
from _spandata import MS, T0, span, write

from perflab.cli.trace import load_tracing
from perflab.load import Histogram, LoadConfig, LoadResult, parse_target
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
        # more traces than counted requests (those in flight when the load stopped counting
        # began traces too): each counted request produced at most one
        fewer = load_coverage(store, T0, T0 + 5 * S, {"/items": 20, "": 10})
        assert fewer is not None
        assert [(r["path"], r["traces"], r["traced_pct"]) for r in fewer["routes"]] == [
            ("", 10, 100.0), ("/items", 20, 100.0)]
        assert render_load_coverage(fewer).startswith(
            "tracing: 30 of 30 requests produced a trace (100.0 %)\n")


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


def _recorded_load(store: Store, requests: int) -> tuple[int, int]:
    """A load test of http://127.0.0.1:9/ through the real LoadRecorder, one second long from
    now; its run id and start."""
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
        traced, at = _recorded_load(store, 40)
        write(store, _roots_at(at, 4, "/"))
        untraced, _ = _recorded_load(store, 10)
        runs = load_tests_coverage(store, at - S, time.time_ns() + S)
        assert [r["run_id"] for r in runs] == [untraced, traced]  # newest first
        cov = runs[1]["coverage"]
        assert cov["routes"] == [{"path": "/", "requests": 40, "traces": 4, "traced_pct": 10.0}]
        assert load_tests_coverage(store, at - 100 * S, at - 50 * S) == []


def test_the_services_page_shows_the_endpoints_load_tests_hit(tmp_path):
    from tests.unit._webclient import client_class  # noqa: PLC0415

    from perflab.web import AppConfig, create_app  # noqa: PLC0415

    with Store.open(tmp_path / "s.db") as store:
        run, at = _recorded_load(store, 20)
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
