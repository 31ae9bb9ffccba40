"""A real load test, looked at in the hub and in its report with headless Chromium: the load
section draws the percentile spectrum and the latency histogram, with no console error.

Screenshots land in artifacts/load/ for a human to look at.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _browser import ROOT, Page, serving
from tests._targets import start_test_server, stop_test_server

from perflab.store import Store

pytestmark = pytest.mark.integration

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

# what the page knows about its two load charts, read from uPlot itself
CHARTS_JS = """() => window.perflabLoad.charts().map(u => {
  const root = u.root;
  const title = root.querySelector('.u-title').textContent;
  return {title, lines: u.series.length - 1, points: u.data[0].length,
          distr: u.scales.x.distr, total: u.data[1].reduce((a, v) => a + (v || 0), 0),
          // the x tick labels as drawn (uPlot draws axes on the canvas; it keeps the texts)
          labels: (u.axes[0]._values || []).filter(t => t)};
})"""


@pytest.fixture(scope="module")
def load_store(tmp_path_factory):
    """One open-model load test against perflab's test server, which stalls now and then."""
    tmp = tmp_path_factory.mktemp("loadweb")
    store = tmp / "perflab.db"
    server, hostport = start_test_server("--stall-every", "2s", "--stall-for", "0.3s", env=ENV)
    try:
        url = f"http://{hostport}/"
        done = subprocess.run(
            # a ramp, so the throughput varies from second to second: a constant series is
            # folded into the page's "never changed" table, not drawn as a chart
            [sys.executable, "-m", "perflab", "load", "run", url, "--stages", "1s:100,2s:300",
             "-c", "4", "--workers", "1", "--threshold", "p99<50ms", "--store", str(store)],
            env=ENV, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 99, done.stderr  # the stalls fail the p99 threshold
    finally:
        stop_test_server(server)
    with Store.open(store) as s:
        (run,) = s.runs(kind="load")
        return store, run.id, run.meta["summary"]["requests"]


def _check_load_charts(page: Page, requests: int) -> None:
    charts = {c["title"].split(" · ")[0]: c for c in page.page.evaluate(CHARTS_JS)}
    spectrum = charts["Latency by percentile (spectrum)"]
    assert spectrum["lines"] == 2            # latency and service time
    assert spectrum["distr"] == 3            # a log axis of 1/(1-p)
    assert spectrum["points"] > 20
    for label in ("0%", "50%", "90%", "99%"):
        assert label in spectrum["labels"], spectrum["labels"]
    histogram = charts["Latency histogram"]
    assert histogram["lines"] == 1
    assert histogram["total"] == requests    # every request is in one bar
    assert page.errors == []


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_run_page_draws_the_spectrum_and_the_histogram(new_page, load_store, dark):
    store, run_id, requests = load_store
    with serving(store, "--no-record") as url:
        page = new_page(area="load", dark=dark, height=1200)
        page.open(f"{url}/runs/{run_id}", "loadReady")
        page.page.wait_for_function("document.body.dataset.chartsReady === '1'",
                                    timeout=20_000)
        _check_load_charts(page, requests)
        # the time series of a load run come first, throughput leading
        first_area = page.page.evaluate(
            "() => document.querySelector('#charts section.area').dataset.area")
        assert first_area == "load"
        first_title = page.page.evaluate(
            "() => document.querySelector('#charts .u-title').textContent")
        assert first_title.startswith("Throughput")
        page.shot(f"run-{'dark' if dark else 'light'}")


def test_the_report_draws_them_offline(new_page, load_store, tmp_path):
    store, run_id, requests = load_store
    out = tmp_path / "report.html"
    subprocess.run([sys.executable, "-m", "perflab", "report", str(run_id), "-o", str(out),
                    "--store", str(store)], env=ENV, check=True, capture_output=True,
                   timeout=60)
    page = new_page(area="load", height=1200)
    page.open(out.as_uri(), "loadReady")
    _check_load_charts(page, requests)
    page.shot("report")
