"""The tracing pages in headless Chromium: Traces (search, scatter click), Trace (waterfall,
critical path, folding, details, warnings, 10,000 spans), Services (graph, RED, coverage),
Compare (diff); hostile names stay inert; no console errors. Screenshots in artifacts/trace/."""

from __future__ import annotations

import time

import pytest
from _browser import serving

from _tracedata import HOSTILE, PROCS, build
from perflab.trace import Span

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    traces = build(tmp_path_factory.mktemp("traces") / "perflab.db")
    _add_load_test(traces.path)
    return traces


def _add_load_test(path):
    """A load test of /checkout and /health (LoadRecorder, one run) while the frontend sent
    spans for 3 of the 30 checkouts and none for /health."""
    import numpy as np  # noqa: PLC0415
    from tests.unit.load.test_load_view import record_test  # noqa: PLC0415

    from perflab.store import Store  # noqa: PLC0415
    from perflab.trace import SpanSink  # noqa: PLC0415

    with Store.open(path) as store:
        run = record_test(store, np.full(30, 2000), labels={"endpoint": "/checkout"},
                          start_ns=time.time_ns())
        record_test(store, np.full(10, 2000), labels={"endpoint": "/health"}, into_run=run,
                    start_ns=time.time_ns())
        at = store.run(run).started_ns
        spans = [Span(n.to_bytes(16, "big"), n.to_bytes(8, "big"), None, "GET /checkout", 2,
                      at + (n - 9000) * 10**6, 5 * 10**6, PROCS["frontend"],
                      attrs={"url.path": "/checkout"}) for n in (9001, 9002, 9003)]
        sink = SpanSink()
        with store.transaction():
            sink.write(store, spans)
        sink.committed(spans)


@pytest.fixture(scope="module")
def server(data):
    with serving(data.path, "--no-record", "--no-otlp-http", "--no-otlp-grpc",
                 "--no-zipkin") as url:
        yield url


def test_traces_page_search_scatter_and_click(server, data, new_page):
    p = new_page(area="trace")
    p.open(server + "/traces?start=1h&limit=1000", "scatterReady")
    rows = p.page.locator("#results tbody tr")
    assert rows.count() == 305 + 3  # the chain's and the load test's (_add_load_test)
    p.shot("traces")
    # the slowest dot is the 400 ms trace: a click on it opens it
    box = p.page.locator("#scatter").bounding_box()
    p.page.select_option("#f-service", "api")
    p.page.wait_for_function("document.querySelectorAll('#f-operation option').length > 1")
    p.page.select_option("#f-operation", "GET /items")
    p.page.fill("#f-min", "300ms")
    p.page.click("#trace-search button[type=submit]")
    p.page.wait_for_function("document.body.dataset.scatterReady === '1'")
    assert p.page.locator("#results tbody tr").count() == 3  # traces 50, 150, 250
    # click the newest one's dot: top-right of the plot
    dots = p.page.evaluate("() => [...document.querySelectorAll('#results tbody tr')]"
                           ".map(r => r.dataset.trace)")
    assert data.slow in dots
    p.page.mouse.click(box["x"] + box["width"] - 12, box["y"] + 10 + 2)
    p.page.wait_for_url("**/traces/*", timeout=10_000)
    assert p.page.url.rsplit("/", 1)[1] in dots


def test_trace_page_waterfall_and_critical_path(server, data, new_page):
    p = new_page(area="trace")
    p.open(server + f"/traces/{data.slow}", "waterfallReady")
    rows = p.page.locator(".wf-row")
    assert rows.count() == 7
    # the critical path goes through the slow store call
    crit = p.page.locator(".wf-row:has-text('SELECT items') .wf-crit")
    assert crit.count() == 2
    p.page.locator(".wf-row", has_text="api: GET /items").click()
    assert "on the critical path" in p.page.inner_text("#span-detail")
    p.shot("trace-slow")
    p.page.locator(".wf-row", has_text="api: GET /items").locator(".wf-toggle").click()
    assert p.page.locator(".wf-row").count() == 3  # its four descendants folded away
    p.page.locator(".wf-row").nth(3 - 1).locator(".wf-toggle").click()
    assert p.page.locator(".wf-row").count() == 7


def test_trace_warnings_skew_and_broken(server, data, new_page):
    p = new_page(area="trace")
    p.open(server + f"/traces/{data.skewed}", "waterfallReady")
    assert "clock skew" in p.page.inner_text("body")
    assert p.page.locator(".wf-warn").count() >= 1
    p.shot("trace-skewed")
    p.open(server + f"/traces/{data.broken}", "waterfallReady")
    assert "broken" in p.page.inner_text(".trace-warning")


def test_a_trace_of_10000_spans_renders_only_what_shows(server, data, new_page):
    p = new_page(area="trace")
    p.open(server + f"/traces/{data.big}", "waterfallReady")
    shown = p.page.locator(".wf-row").count()
    assert 20 < shown < 200  # virtual rows
    p.page.evaluate("document.getElementById('wf-body').scrollTop = 22 * 9000")
    p.page.wait_for_function("[...document.querySelectorAll('.wf-row')]"
                             ".some(r => +r.dataset.i > 8990)")
    p.shot("trace-10000")


def test_services_page_graph_red_and_coverage(server, data, new_page):
    p = new_page(area="trace")
    p.open(server + "/services?window=1h", "servicesReady")
    text = p.page.inner_text("body")
    assert p.page.locator("#graph .node").count() >= 3
    assert p.page.locator("#red tbody tr").count() >= 6
    assert "payments.internal" in p.page.inner_text("#coverage")
    assert "broken traces" in text.lower()  # h3 is upper-cased by the stylesheet
    # the endpoints the load test hit: /checkout traced 3 of 30 times, /health never
    load = p.page.inner_text("#load-coverage")
    assert "3 of 40 requests produced a trace" in load
    assert p.page.locator(".load-routes tr.untraced", has_text="/health").count() == 1
    checkout = p.page.locator(".load-routes a", has_text="/checkout")
    p.shot("services")
    checkout.click()
    p.page.wait_for_function("document.body.dataset.scatterReady === '1'")
    assert p.page.locator("#results tbody tr").count() == 3


def test_compare_page_slowest_against_median(server, data, new_page):
    p = new_page(area="trace")
    p.open(server + "/traces/compare?service=frontend&operation=GET%20/&start=1h",
           "compareReady")
    first = p.page.locator("#diff-ops tbody tr").first.inner_text()
    assert "store" in first
    assert "SELECT items" in first
    assert p.page.locator(".dwf-b.slower").count() >= 2
    p.shot("compare")


def test_hostile_names_stay_inert(server, data, new_page):
    p = new_page(area="trace")
    p.open(server + f"/traces/{data.hostile}", "waterfallReady")
    p.page.locator(".wf-row").first.click()
    assert p.page.evaluate("window.pwned") is None
    assert HOSTILE[:20] in p.page.inner_text("body")
    p.open(server + "/traces?start=1h", "scatterReady")
    p.open(server + "/services?window=1h", "servicesReady")
    assert p.page.evaluate("window.pwned") is None
