"""The report's Logs section: lines/s and error-level lines/s over the run, the most frequent
error lines grouped with their numbers and hex ids masked, each with the LogQL query that finds
them (a link to the hub's Logs page when the hub serves the report)."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from _webclient import hub_client

from perflab.logs import LogEntry, LogSink, log_query, mask_line, start_tail, top_error_lines
from perflab.report import render_report
from perflab.store import Store, canonical_labels, log_lines_at_levels

S = 10**9
T0 = 1_700_000_000 * S
HOSTILE = '<img src=x onerror="window.pwned=1">'


@pytest.fixture
def logged(tmp_path):
    path = tmp_path / "perflab.db"
    with Store.open(path) as store:
        run = store.create_run("record", "with-logs", started_ns=T0)
        quiet = store.create_run("record", "quiet", started_ns=T0)
        api = canonical_labels({"job": "api", "env": "prod"})
        lines = [LogEntry(api, T0 + i * S, f"level=info msg=ok n={i}") for i in range(50)]
        lines += [LogEntry(api, T0 + i * S + 1,
                           f'level=error msg="request {i} failed" trace=4bf92f3577b34da6a3ce'
                           f"{i:012x}") for i in range(12)]
        lines += [LogEntry(api, T0 + i * S + 2, f'level=error msg="disk {HOSTILE} full" '
                           f"free={i}") for i in range(3)]
        lines += [LogEntry(canonical_labels({"job": "db"}), T0 + 5 * S, "ERROR deadlock 0x1f")]
        with store.transaction():
            LogSink(run_id=lambda: run.id, clock=lambda: 0.0).write(store, lines)
            # another run's error lines are not this run's
            LogSink(run_id=lambda: quiet.id, clock=lambda: 0.0).write(
                store, [LogEntry(api, T0 + 7 * S, 'level=error msg="request 1 failed"')])
        store.finish_run(run.id, ended_ns=T0 + 60 * S)
        store.finish_run(quiet.id, ended_ns=T0 + 60 * S)
        empty = store.create_run("record", "no-logs", started_ns=T0)
        store.finish_run(empty.id, ended_ns=T0 + 60 * S)
    return path, run.id, empty.id


def test_masking_joins_lines_that_differ_only_in_numbers_and_ids():
    assert mask_line("request 41 failed after 3.5s trace=4bf92f3577b34da6") == \
        "request <n> failed after <n>.<n>s trace=<id>"
    assert mask_line("id 0xdeadbeef uuid 123e4567-e89b-12d3-a456-426614174000") == \
        "id <id> uuid <id>"
    assert mask_line("accepted deadbeef") == "accepted deadbeef"  # words stay words


def test_top_error_lines_counts_groups_most_first(logged):
    path, run_id, _ = logged
    with Store.open(path) as store:
        top, more = top_error_lines(store, run_id, T0, T0 + 61 * S)
        assert not more
        assert [(e.count, e.labels) for e in top] == [
            (12, {"env": "prod", "job": "api"}), (3, {"env": "prod", "job": "api"}),
            (1, {"job": "db"})]
        assert top[0].template == 'level=error msg="request <n> failed" trace=<id>'
        # each query finds exactly its group's lines again
        for e in top:
            _, kept = start_tail(store, log_query(e.query), T0, T0 + 61 * S, limit=100,
                                 run_id=run_id)
            assert len(kept) == e.count, e.query
        assert top_error_lines(store, run_id, T0, T0 + 61 * S, top=1)[0] == top[:1]
        assert log_lines_at_levels(store, [], T0, T0 + 61 * S, run_id=run_id, limit=9) == []


def _section(html: str) -> str:
    m = re.search(r'<section class="report-section" id="section-logs">(.*?)</section>', html,
                  re.DOTALL)
    assert m, "no Logs section"
    return m.group(1)


def test_report_has_a_logs_section_with_rates_and_error_lines(logged):
    path, run_id, empty_id = logged
    with Store.open(path) as store:
        html = render_report(store, run_id)
        assert 'id="section-logs"' not in render_report(store, empty_id)
    logs = _section(html)
    assert "66 log lines during the run, 16 at an error level" in logs
    rows = re.findall(r'<td class="num">(\d+)</td>', logs)
    assert rows == ["12", "3", "1"]
    assert "<a " not in logs  # a file report links nowhere: the query is in the title
    assert 'title="{env=&#34;prod&#34;, job=&#34;api&#34;} |~' in logs
    assert HOSTILE not in html  # escaped
    data = re.search(r'id="report-logs-data" type="application/json">(.*?)</script>', logs,
                     re.DOTALL)
    assert data
    vol = json.loads(unescape(data.group(1)))
    assert sum(sum(v) for v in vol["levels"].values()) == 66
    assert sum(vol["levels"]["error"]) == 16


def test_report_served_by_the_hub_links_to_the_logs_page(logged):
    path, run_id, _ = logged
    with hub_client(path) as client:
        r = client.get(f"/runs/{run_id}/report")
        assert r.status_code == 200
        hrefs = re.findall(r'<a class="error-line" href="([^"]+)"', _section(r.text))
        assert len(hrefs) == 3
        link = urlsplit(unescape(hrefs[0]))
        assert link.scheme == "http"
        assert link.path == "/logs"
        q = parse_qs(link.query)
        assert q["query"][0].startswith('{env="prod", job="api"} |~ ')
        page = client.get(link.path + "?" + link.query)
        assert page.status_code == 200
        assert page.text.count('class="log-row lvl-error"') == 12


def test_a_run_with_more_error_lines_than_read_says_so(logged, monkeypatch):
    import perflab.logs._top  # noqa: PLC0415

    path, run_id, _ = logged
    monkeypatch.setattr(perflab.logs._top, "SCAN_LIMIT", 5)
    with Store.open(path) as store:
        top, more = top_error_lines(store, run_id, T0, T0 + 61 * S)
        assert more
        assert sum(e.count for e in top) == 5
        assert "counted on the run's first error lines: it has more" in render_report(store, run_id)
