"""The report's Capacity section in headless Chromium: the latency-vs-arrival-rate chart is
drawn (p50 and p99 over the steps' rates, a rate axis), with no console error, offline.

Screenshots land in artifacts/capacity/ for a human to look at.
"""

from __future__ import annotations

import pytest
from tests._capacity import RATES, capacity_doc

from perflab.report import write_report
from perflab.store import Store

pytestmark = pytest.mark.integration

# what the page knows about the chart, read from uPlot itself (it keeps the tick texts it drew)
CHART_JS = """() => {
  const u = window.perflabCapacity.chart();
  return {title: u.root.querySelector('.u-title').textContent,
          legend: [...u.root.querySelectorAll('.u-legend .u-label')].map(e => e.textContent),
          xs: u.data[0], lines: u.series.length - 1,
          xticks: (u.axes[0]._values || []).filter(t => t)};
}"""


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_report_draws_the_capacity_curve(new_page, tmp_path, dark):
    with Store.open(tmp_path / "s.db") as store:
        run = store.create_run("capacity", "capacity http://127.0.0.1:8080")
        store.finish_run(run.id, "ok", meta_update={"capacity": capacity_doc(run.id)})
        out = write_report(store, run.id, tmp_path / "report.html")
    page = new_page(area="capacity", dark=dark, height=1400)
    page.open(out.as_uri(), "capacityReady")
    chart = page.page.evaluate(CHART_JS)
    assert chart["title"] == "Latency vs arrival rate"
    assert chart["legend"] == ["arrival rate", "p50", "p99"]
    assert chart["lines"] == 2
    assert chart["xs"] == sorted(RATES)
    # the x axis reads rates, not seconds
    assert chart["xticks"]
    assert all(t.endswith("/s") for t in chart["xticks"]), chart["xticks"]
    page.page.locator("#section-capacity").scroll_into_view_if_needed()
    page.shot(f"report-{'dark' if dark else 'light'}")
    assert page.errors == []
