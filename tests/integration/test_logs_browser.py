"""The log pages in headless Chromium, against a real ``perflab serve``: the Logs page
(histogram by level, a click on a bar narrows the window, lines coloured by level with their
fields a click away, a trace link, the live tail over a real websocket), the Run page's log
timeline (a click shows the lines of that moment) and the Trace page's logs (per span in the
waterfall and the details). Hostile lines stay inert; no console errors. Screenshots at
desktop width and 800 px in artifacts/logs/; nothing overflows the page sideways."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from _browser import serving, shot

from _tracedata import HOSTILE, build
from perflab.logs import LogEntry, LogSink
from perflab.store import Store, canonical_labels

pytestmark = pytest.mark.integration

S = 10**9
LEVELS = ["info", "info", "info", "debug", "warn", "error"]


class Data:
    def __init__(self, path, trace, run_id, t_run):
        self.path, self.trace, self.run_id, self.t_run = path, trace, run_id, t_run


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / "perflab.db"
    traces = build(path, traces=60, big_spans=10)
    now = time.time_ns()
    trace = traces.slow  # trace 50: spans 5001..5007
    span = (50 * 100 + 3).to_bytes(8, "big").hex()  # api: GET /items
    with Store.open(path) as store:
        run = store.create_run("record", "with-logs", started_ns=now - 120 * S)
        sid = store.series_id(run.id, "system.cpu.pct", {"mode": "user"}, "%")
        store.insert_samples([(sid, now - 120 * S + i * S, float(i % 17)) for i in range(120)])
        store.finish_run(run.id, ended_ns=now)
        api = canonical_labels({"job": "api", "env": "prod"})
        entries = [LogEntry(api, now - 3000 * S + i * 7 * S,
                            f'level={LEVELS[i % 6]} msg="request {i}" '
                            f"status={500 if i % 6 == 5 else 200} duration={i % 9}ms")
                   for i in range(400)]
        entries += [LogEntry(api,
                             traces.t0 + 50 * 3 * S + 4_000_000 + k * 5_000_000,
                             json.dumps({"level": lvl, "msg": msg, "trace_id": trace,
                                         **({"span_id": span} if k else {})}))
                    for k, (lvl, msg) in enumerate([("info", "request received"),
                                                    ("warn", "slow SELECT items"),
                                                    ("error", "giving up after 400 ms "
                                                              + HOSTILE)])]
        entries.append(LogEntry(canonical_labels({"job": "api", "env": HOSTILE}), now - 5 * S,
                                f"level=error msg={HOSTILE!r}"))
        run_entries = [LogEntry(canonical_labels({"job": "worker"}), now - 100 * S + i * S,
                                f"level={'error' if 40 <= i < 45 else 'info'} tick={i}")
                       for i in range(90)]
        run_entries += [LogEntry(canonical_labels({"job": "worker", "who": HOSTILE}),
                                 now - 100 * S + (41 + k) * S + 1, f"level=error {HOSTILE}")
                        for k in range(3)]
        with store.transaction():
            LogSink(clock=lambda: 0.0).write(store, entries)
            LogSink(run_id=lambda: run.id, clock=lambda: 0.0).write(store, run_entries)
    return Data(path, trace, run.id, now - 100 * S)


@pytest.fixture(scope="module")
def server(data):
    with serving(data.path, "--no-record", "--no-otlp-http", "--no-otlp-grpc",
                 "--no-zipkin") as url:
        yield url


def _no_sideways_overflow(p) -> None:
    assert p.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), \
        "the page scrolls sideways"


def _push(url: str, job: str, line: str) -> None:
    body = json.dumps({"streams": [{"stream": {"job": job}, "values": [
        [str(time.time_ns()), line]]}]}).encode()
    req = urllib.request.Request(url + "/loki/api/v1/push", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as answer:
        assert answer.status == 204


@pytest.mark.parametrize("width", [1366, 800])
def test_logs_page_histogram_lines_and_fields(server, new_page, width):
    p = new_page(area="logs", width=width)
    p.open(server + '/logs?query={job="api"}&window=1h', "logsReady")
    assert p.page.locator("#logs-volume .u-legend").count() == 1
    rows = p.page.locator("#logs-lines tbody tr.log-row")
    assert rows.count() == 100
    assert p.page.locator("tr.log-row.lvl-error").count() >= 10
    _no_sideways_overflow(p)
    p.shot(f"logs-{width}")
    shot(p.page, "logs", f"logs-{width}-top", full_page=False)
    # a line's fields, one click away
    first = p.page.locator("tr.log-row.lvl-error").nth(1)
    first.locator("summary").click()
    assert "status" in first.locator(".log-fields").inner_text()
    first.scroll_into_view_if_needed()
    shot(p.page, "logs", f"logs-fields-{width}", full_page=False)
    assert p.page.evaluate("window.pwned") is None
    assert HOSTILE[:20] in p.page.inner_text("#logs-lines")


def test_a_click_on_a_bar_narrows_the_window(server, new_page):
    p = new_page(area="logs")
    p.open(server + '/logs?query={job="api"}&window=1h', "logsReady")
    box = p.page.locator("#logs-volume .u-over").bounding_box()
    p.page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] - 3)
    p.page.wait_for_url("**start=*", timeout=10_000)
    p.page.wait_for_function("document.body.dataset.logsReady === '1'")
    assert "From " in p.page.inner_text("#logs-range")
    n = p.page.locator("#logs-lines tbody tr.log-row").count()
    assert 0 < n < 100


def test_a_line_links_to_its_trace(server, data, new_page):
    p = new_page(area="logs")
    p.open(server + '/logs?query={job="api"} |= "SELECT items"&window=7d', "logsReady")
    p.page.locator("tr.log-row summary").first.click()
    p.page.locator("a.log-trace").first.click()
    p.page.wait_for_url(f"**/traces/{data.trace}", timeout=10_000)


def test_live_tail_shows_lines_as_they_arrive(server, new_page):
    p = new_page(area="logs")
    p.open(server + '/logs?query={job="live"}&window=5m', "logsReady")
    p.page.click("#live-toggle")
    p.page.wait_for_function("document.body.dataset.liveOpen === '1'", timeout=20_000)
    _push(server, "live", 'level=error msg="disk full" trace_id=4bf92f3577b34da6a3ce929d0e0e4736')
    _push(server, "other", 'level=error msg="not this one"')
    p.page.wait_for_function("document.body.dataset.liveLines === '1'", timeout=20_000)
    row = p.page.locator("tr.log-row.live")
    assert row.count() == 1
    assert "lvl-error" in (row.get_attribute("class") or "")
    row.locator("summary").click()
    assert "4bf92f3577b34da6a3ce929d0e0e4736" in row.locator(".log-fields").inner_text()
    p.shot("logs-live")
    p.page.click("#live-toggle")
    assert "stopped" in p.page.inner_text("#live-status")


@pytest.mark.parametrize("width", [1366, 800])
def test_run_page_log_timeline_and_lines_of_a_moment(server, data, new_page, width):
    p = new_page(area="logs", width=width)
    p.open(server + f"/runs/{data.run_id}", "logsTimelineReady")
    chart = p.page.locator("#run-logs .u-over")
    assert chart.count() == 1
    _no_sideways_overflow(p)
    box = chart.bounding_box()
    # the error burst: ticks 40-44 of 90, from 100 s before the end of a 120 s run
    x = box["x"] + box["width"] * (20 + 42) / 120
    p.page.mouse.move(x, box["y"] + box["height"] / 2)
    p.page.mouse.click(x, box["y"] + box["height"] / 2)
    p.page.wait_for_function("document.body.dataset.logPanel === '1'", timeout=20_000)
    text = p.page.inner_text("#run-log-lines")
    assert "tick=" in text
    assert HOSTILE[:20] in text
    assert p.page.evaluate("window.pwned") is None
    p.shot(f"run-logs-{width}")


def test_trace_page_shows_its_logs_per_span(server, data, new_page):
    p = new_page(area="logs")
    p.open(server + f"/traces/{data.trace}", "traceLogsReady")
    assert p.page.locator("#trace-logs tbody tr").count() == 3
    assert p.page.locator(".wf-row .wf-log").count() >= 2
    p.page.locator(".wf-row", has_text="api: GET /items").click()
    assert "giving up after 400 ms" in p.page.inner_text("#span-detail")
    assert p.page.evaluate("window.pwned") is None
    _no_sideways_overflow(p)
    p.shot("trace-logs")


def test_logs_page_reads_in_the_dark_theme(server, new_page):
    p = new_page(area="logs", dark=True)
    p.open(server + '/logs?query={job="api"} |= "error"&window=1h', "logsReady")
    assert p.page.locator("tr.log-row.lvl-error").count() >= 10
    shot(p.page, "logs", "logs-dark", full_page=False)


def test_a_running_runs_log_timeline_follows_its_new_lines(server, data, new_page):
    """A running run without lines yet: no Logs section; lines written into it appear on its
    timeline at the next refresh (every 5 s)."""
    with Store.open(data.path) as store:
        run = store.create_run("record", "running-with-logs")
        sid = store.series_id(run.id, "system.cpu.pct", {"mode": "user"}, "%")
        store.insert_samples([(sid, run.started_ns + i, float(i)) for i in range(3)])
    p = new_page(area="logs")
    p.open(server + f"/runs/{run.id}", "logsTimelineReady")
    assert p.page.locator("#section-logs").is_hidden()
    with Store.open(data.path) as store, store.transaction():
        LogSink(run_id=lambda: run.id, clock=lambda: 0.0).write(store, [
            LogEntry(canonical_labels({"job": "worker"}), time.time_ns(), "level=error late")])
    p.page.wait_for_selector("#section-logs .u-over", timeout=30_000)
