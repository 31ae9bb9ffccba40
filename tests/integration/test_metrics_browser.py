"""The Query and Alerts pages in Chromium: a PromQL answer as a chart and a table, names
completed while typing, errors shown in words; alerts, rules and silences listed."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path

import pytest

from perflab.testing import serve

pytestmark = pytest.mark.integration


def _wait_for_node_metrics(url: str) -> None:
    import json  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        q = urllib.parse.urlencode({"query": "count(node_cpu_seconds_total)"})
        with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5) as r:
            if json.loads(r.read())["data"]["result"]:
                return
        time.sleep(0.5)
    pytest.fail("the hub never stored node_cpu_seconds_total")


def test_query_page_draws_a_chart_and_a_table_and_completes_names(tmp_path: Path, page):
    rules = tmp_path / "r.yml"
    rules.write_text("groups: [{name: demo, rules: [{alert: Always, expr: vector(1), "
                     "annotations: {summary: always on}}]}]\n")
    with serve(tmp_path / "s.db", "--scrape-interval", "1s", "--eval-interval", "1s",
               "--rules", str(rules)) as hub:
        _wait_for_node_metrics(hub.url)
        time.sleep(2)  # a few points for rate()
        expr = "sum by (mode) (rate(node_cpu_seconds_total[5s]))"
        page.open(f"{hub.url}/metrics/query?range=5m&expr={urllib.parse.quote(expr)}",
                  ready="query")
        p = page.page
        assert p.locator("#query-error").is_hidden()
        assert p.locator("#result tbody tr").count() >= 4  # user, system, idle, ...
        assert p.locator("#graph canvas").count() >= 1
        assert "series" in p.locator("#query-stats").inner_text()
        page.shot("metrics-query")
        # completion: typing a prefix offers metric names
        p.wait_for_function("document.body.dataset.completions === '1'")
        p.fill("#expr", "")
        p.type("#expr", "node_cpu_sec")
        p.wait_for_selector("#suggest li")
        assert "node_cpu_seconds_total" in p.locator("#suggest").inner_text()
        p.keyboard.press("Tab")
        assert p.input_value("#expr") == "node_cpu_seconds_total"
        # an invalid query is said in words, with the column (the API's 400 is expected)
        page.allowed_errors = ("status of 400",)
        p.fill("#expr", "sum(rate(x[5m]")
        p.evaluate("document.body.dataset.query = ''")
        p.click("#run")
        p.wait_for_function("document.body.dataset.query === '1'")
        assert "parse error" in p.locator("#query-error").inner_text()
        page.shot("metrics-query-error")
        # the Alerts page: the firing alert, its rule, its band
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            page.open(f"{hub.url}/alerts", ready="alerts")
            if p.locator("#active-alerts tr.alert-firing").count():
                break
            time.sleep(1)
        assert p.locator("#active-alerts tr.alert-firing").count() == 1
        assert "always on" in p.locator("#active-alerts").inner_text()
        assert p.locator("table.rules tr[data-rule='Always']").count() == 1
        assert p.locator("#alert-history canvas").count() >= 1
        page.shot("metrics-alerts")


def test_slos_page_draws_budget_and_burn_rate_with_alert_bands(tmp_path: Path, page):
    """A real hub with an SLO spec over two hours of a service failing 2 % of the time in
    its last 30 minutes: the budget bar, the burn rates, the chart with its band."""
    from tests.unit.metrics._metricsdata import SLO_SPEC, write_slo_data  # noqa: PLC0415

    store = tmp_path / "s.db"
    write_slo_data(store, tmp_path)
    spec = tmp_path / "slo.yml"
    spec.write_text(SLO_SPEC)
    with serve(store, "--no-record", "--no-default-rules", "--slo", str(spec)) as hub:
        page.open(f"{hub.url}/slos?range=6h", ready="slos")
        p = page.page
        section = p.locator("section.slo[data-slo='checkout-availability']")
        assert section.count() == 1
        assert "%" in section.locator("td.budget-left").inner_text()
        assert section.locator("td.burn-hot").count() >= 1
        assert section.locator(".burn-chart canvas").count() >= 1
        assert "SLOErrorBudgetBurnFast firing" in section.inner_text()
        page.shot("metrics-slos-6h")
        p.click("nav a[href='/slos']")
        p.wait_for_function("document.body.dataset.slos === '1'")
        page.shot("metrics-slos")
