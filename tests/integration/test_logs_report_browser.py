"""Logs in headless Chromium, against a real ``perflab serve``: a run's report (downloaded from
the hub, opened from file://) has a Logs section with lines/s and error-level lines/s over the
run and its most frequent error lines, each a link to the hub's Logs page that shows those
lines; the Logs page draws a metric query's series as a chart above their table. Hostile lines
stay inert; no console errors. Screenshots in artifacts/logs/."""

from __future__ import annotations

import re
import time
import urllib.parse
import urllib.request

import pytest
from _browser import serving, shot

from perflab.logs import LogEntry, LogSink
from perflab.store import Store, canonical_labels

pytestmark = pytest.mark.integration

S = 10**9
HOSTILE = '<img src=x onerror="window.pwned=1">'


class Data:
    def __init__(self, path, run_id):
        self.path, self.run_id = path, run_id


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("logreport") / "perflab.db"
    now = time.time_ns()
    start = now - 300 * S
    with Store.open(path) as store:
        run = store.create_run("record", "with-logs", started_ns=start)
        sid = store.series_id(run.id, "system.cpu.pct", {"mode": "user"}, "%")
        store.insert_samples([(sid, start + i * S, float(i % 23)) for i in range(300)])
        web = canonical_labels({"job": "web"})
        entries = [LogEntry(web, start + i * S // 2,
                            f"level={'error' if 200 <= i < 260 else 'info'} msg=\"GET /items/{i}"
                            f"{' failed: upstream timeout' if 200 <= i < 260 else ''}\"")
                   for i in range(600)]
        entries += [LogEntry(web, start + (150 + k) * S + 1,
                             f'level=error msg="cache {HOSTILE} miss" key={k:016x}')
                    for k in range(8)]
        with store.transaction():
            LogSink(run_id=lambda: run.id, clock=lambda: 0.0).write(store, entries)
        store.finish_run(run.id, ended_ns=now)
    return Data(path, run.id)


@pytest.fixture(scope="module")
def server(data):
    with serving(data.path, "--no-record", "--no-otlp-http", "--no-otlp-grpc",
                 "--no-zipkin") as url:
        yield url


def test_report_logs_section_links_to_the_logs_page(server, data, new_page, tmp_path):
    with urllib.request.urlopen(f"{server}/runs/{data.run_id}/report", timeout=60) as answer:
        report = tmp_path / "report.html"
        report.write_bytes(answer.read())
    p = new_page(area="logs")
    p.open(report.as_uri(), "logsReady")
    section = p.page.locator("#section-logs")
    assert section.locator("#report-log-rates .u-legend").count() == 1
    assert "608 log lines during the run, 68 at an error level" in section.inner_text()
    rows = section.locator("#report-error-lines tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td.num").inner_text() == "60"
    assert "GET /items/<n> failed: upstream timeout" in rows.nth(0).inner_text()
    assert HOSTILE in rows.nth(1).inner_text()  # shown as text
    section.scroll_into_view_if_needed()
    shot(section, "logs", "report-logs-section")
    p.shot("report-with-logs")
    assert p.page.evaluate("window.pwned") is None
    # the top line opens the Logs page on its query: its 60 lines
    rows.nth(0).locator("a.error-line").click()
    p.page.wait_for_url(re.compile(r".*/logs\?query=.*"), timeout=20_000)
    p.page.wait_for_function("document.body.dataset.logsReady === '1'", timeout=20_000)
    assert p.page.locator("#logs-lines tbody tr.log-row.lvl-error").count() == 60
    assert "|~" in p.page.input_value("#logs-query")


def test_logs_page_charts_a_metric_query(server, new_page):
    p = new_page(area="logs")
    query = 'sum by (level) (count_over_time({job="web"} | logfmt [1m]))'
    p.open(server + "/logs?" + urllib.parse.urlencode({"query": query, "window": "1h"}),
           "logsReady")
    chart = p.page.locator("#logs-metric")
    assert chart.locator("canvas").count() >= 1
    legend = chart.locator(".u-legend").inner_text()
    assert 'level="error"' in legend
    assert 'level="info"' in legend
    # the chart sits above the table, which still lists the series
    assert p.page.evaluate("document.getElementById('logs-metric').compareDocumentPosition("
                           "document.getElementById('logs-series')) & 4") == 4
    assert p.page.locator("#logs-series tbody tr").count() == 2
    # hovering shows a value of a series (a number, not "-")
    box = chart.locator(".u-over").bounding_box()
    p.page.mouse.move(box["x"] + box["width"] * 0.97, box["y"] + box["height"] / 2)
    values = chart.locator(".u-legend .u-series .u-value").all_inner_texts()
    assert any(re.fullmatch(r"[0-9.]+k?", v) for v in values[1:]), values
    p.shot("logs-metric-chart")
