"""The Logs page draws a metric query's series as a chart: the page's data holds each series'
points (x in s; NaN and the infinities as gaps) and the level it counts, at most CHART_SERIES
of them; a log query's page holds no chart."""

from __future__ import annotations

import json
import re
import time
from html import unescape

from _webclient import hub_client

from perflab.logs import LogEntry, LogSink
from perflab.store import Store, canonical_labels

S = 10**9


def _page_data(html: str) -> dict:
    m = re.search(r'<script id="logs-data" type="application/json">(.*?)</script>', html,
                  re.DOTALL)
    assert m
    return json.loads(unescape(m.group(1)))


def test_metric_query_page_carries_its_chart(tmp_path):
    path = tmp_path / "perflab.db"
    now = time.time_ns()
    with Store.open(path) as store, store.transaction():
        entries = [LogEntry(canonical_labels({"job": "app", "n": str(i % 25)}),
                            now - 600 * S + i * S, f"level={'error' if i % 5 else 'info'} i={i}")
                   for i in range(300)]
        LogSink(clock=lambda: 0.0).write(store, entries)
    with hub_client(path) as client:
        page = client.get("/logs", params={
            "query": 'sum by (level) (count_over_time({job="app"} | logfmt [1m]))'})
        assert page.status_code == 200
        assert 'id="logs-metric"' in page.text
        chart = _page_data(page.text)["chart"]
        assert sorted(s["level"] for s in chart) == ["error", "info"]
        for s in chart:
            assert len(s["x"]) == len(s["y"]) > 1
            assert all(isinstance(t, float) for t in s["x"])
        total = {s["level"]: max(s["y"]) for s in chart}
        assert total["error"] > total["info"] > 0
        # 25 series: the chart draws 20, the table lists all
        many = client.get("/logs",
                          params={"query": 'sum by (n) (count_over_time({job="app"}[1m]))'})
        assert len(_page_data(many.text)["chart"]) == 20
        assert many.text.count("<tr><td>{n=") == 25
        assert "the chart draws the first 20" in many.text
        assert all(s["level"] is None for s in _page_data(many.text)["chart"])
        # a value divided by 0 is +Inf: a gap, not a point off the chart
        inf = client.get("/logs", params={"query": 'sum(count_over_time({job="app"}[1m])) / 0'})
        [series] = _page_data(inf.text)["chart"]
        assert series["y"]
        assert all(y is None for y in series["y"])
        # a log query's page has no chart
        lines = client.get("/logs", params={"query": '{job="app"}'})
        assert _page_data(lines.text)["chart"] is None
        assert 'id="logs-metric"' not in lines.text
