"""The hub as a person uses it: a real `perflab serve`, driven by headless Chromium (Playwright).

Screenshots land in artifacts/hub/ (light and dark) for a human to look at.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from _browser import ROOT, serving

from _hubdata import build

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    return build(tmp_path_factory.mktemp("hub") / "perflab.db")


@pytest.fixture(scope="module")
def server(hub):
    with serving(hub.path, "--interval", "0.5") as url:
        yield url


PAGES = [
    ("overview", "/", "liveReady"),
    ("runs", "/runs", None),
    ("run", "/runs/{a}", "chartsReady"),
    ("compare", "/compare?a={a}&b={b}", "chartsReady"),
    ("compare-empty", "/compare", None),
]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_page_loads_without_console_errors(new_page, server, hub, dark):
    for name, path, ready in PAGES:
        p = new_page(dark=dark)
        p.open(server + path.format(a=hub.run_a, b=hub.run_b), ready)
        assert p.errors == [], f"{name}: {p.errors}"
        p.shot(f"{name}-{'dark' if dark else 'light'}")


def test_run_charts_draw_the_recorded_data(page, server, hub):
    page.open(f"{server}/runs/{hub.run_a}", "chartsReady")
    charts = page.page.evaluate("""() => window.perflabRun.charts.map(u => ({
        title: u.root.querySelector('.u-title').textContent,
        lines: u.data.length - 1,
        points: u.data[0].length,
        max: Math.max(...u.data.slice(1).flat().filter(v => v != null)),
        width: u.width }))""")
    by_title = {c["title"]: c for c in charts}
    # human titles, in order of importance: the machine's CPU and memory, network, processes
    assert [c["title"] for c in charts] == ["CPU by mode (%)", "Memory used (bytes)",
                                            "Network received (bytes/s)", "Process CPU (%)"]
    cpu = by_title["CPU by mode (%)"]
    assert cpu["lines"] == 2                      # user and system: one line per label set
    assert cpu["points"] == hub.n_samples  # every sample (the run ends at its last one)
    assert cpu["max"] == 97.0
    assert all(c["width"] >= 500 for c in charts)  # readable at 1366x768: two columns
    assert page.errors == []


def test_zoom_on_one_chart_moves_all_and_double_click_resets(page, server, hub):
    page.open(f"{server}/runs/{hub.run_a}", "chartsReady")
    scales = "() => window.perflabRun.charts.map(u => [u.scales.x.min, u.scales.x.max])"
    before = page.page.evaluate(scales)
    box = page.page.locator(".chart .u-over").first.bounding_box()
    y = box["y"] + box["height"] / 2
    page.page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=8)
    page.page.mouse.up()
    after = page.page.evaluate(scales)
    first = after[0]
    assert first[1] - first[0] < 0.5 * (before[0][1] - before[0][0])
    assert all(s == first for s in after), after   # every chart shows the same window
    page.page.locator(".chart .u-over").nth(2).dblclick()
    reset = page.page.evaluate(scales)
    assert all(s == before[0] for s in reset), reset
    # after a zoom the page refines the window from the API; no error on the way
    page.page.wait_for_timeout(500)
    assert page.errors == []


def test_hover_on_one_chart_moves_the_cursor_of_the_others(page, server, hub):
    page.open(f"{server}/runs/{hub.run_a}", "chartsReady")
    box = page.page.locator(".chart .u-over").first.bounding_box()
    page.page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + 20)
    idx = page.page.evaluate("() => window.perflabRun.charts.map(u => u.cursor.idx)")
    assert idx[0] is not None
    assert all(i == idx[0] for i in idx), idx


def test_a_running_run_page_follows_its_recording(page, server):
    runs = httpx.get(server + "/api/runs?kind=serve").json()["runs"]
    serve_run = runs[0]["id"]
    page.open(f"{server}/runs/{serve_run}", "chartsReady")
    count = ("() => Math.max(...window.perflabRun.charts.map(u => "
             "u.data[1].filter(v => v != null).length))")
    before = page.page.evaluate(count)
    page.page.wait_for_function(f"({count})() > {before}", timeout=15_000)
    assert page.errors == []


def test_a_read_cut_before_its_answer_is_sent_again(page, server, hub):
    """As when the machine's addresses change under Chromium (net::ERR_NETWORK_CHANGED): the
    first request for each series fails without an answer; the page sends it again and draws."""
    cut: set[str] = set()

    def once(route):
        if route.request.url in cut:
            route.continue_()
        else:
            cut.add(route.request.url)
            route.abort("internetdisconnected")

    page.page.route("**/samples?series=*", once)
    page.allowed_errors = ("net::ERR_INTERNET_DISCONNECTED",)
    page.open(f"{server}/runs/{hub.run_a}", "chartsReady")
    assert cut
    assert page.page.evaluate("window.perflabRun.charts.every(u => u.data[0].length > 0)")
    assert page.unexpected_errors() == []


def test_theme_toggle_switches_and_redraws(page, server, hub):
    page.open(f"{server}/runs/{hub.run_a}", "chartsReady")
    bg = "() => getComputedStyle(document.body).backgroundColor"
    light = page.page.evaluate(bg)
    page.page.click("#theme-toggle")
    assert page.page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.page.evaluate(bg) != light
    # the charts were rebuilt with the dark palette and still hold the data
    assert page.page.evaluate("window.perflabRun.charts.every(u => u.data[0].length > 0)")
    page.shot("run-toggled-dark")
    page.page.reload()
    page.page.wait_for_function("document.body && document.body.dataset.chartsReady === '1'")
    assert page.page.evaluate("document.documentElement.dataset.theme") == "dark"  # remembered
    assert page.errors == []


def test_large_screen_fits_more_columns(new_page, server, hub):
    p = new_page(width=2560, height=1440)
    p.open(f"{server}/runs/{hub.run_a}", "chartsReady")
    columns = p.page.evaluate("() => getComputedStyle(document.querySelector('.chart-grid'))"
                              ".gridTemplateColumns.split(' ').length")
    assert columns >= 4
    p.shot("run-2560")
    assert p.errors == []


def test_runs_filters_work(page, server, hub):
    page.open(f"{server}/runs")
    ids = ("() => [...document.querySelectorAll('#runs tbody tr[data-run]')]"
           ".map(r => +r.dataset.run)")
    # newest first: the serve run(s) of this test module, then B, then A
    assert page.page.evaluate(ids)[-2:] == [hub.run_b, hub.run_a]
    page.page.select_option("#f-kind", "load")
    page.page.click("#run-filters button[type=submit]")
    page.page.wait_for_load_state()
    assert page.page.evaluate(ids) == [hub.run_b]
    page.page.goto(f"{server}/runs")
    page.page.fill("#f-name", "basel")
    page.page.click("#run-filters button[type=submit]")
    page.page.wait_for_load_state()
    assert page.page.evaluate(ids) == [hub.run_a]
    page.page.goto(f"{server}/runs")
    page.page.fill("#f-until", "2023-11-14T23:00:00Z")
    page.page.click("#run-filters button[type=submit]")
    page.page.wait_for_load_state()
    assert page.page.evaluate(ids) == [hub.run_a]
    assert page.errors == []


def test_overview_draws_this_machine_and_its_top_processes(page, server):
    page.open(server + "/", "liveReady")
    page.page.wait_for_function(
        "window.perflabOverview.charts().some(u => u.data[0].length >= 4)", timeout=20_000)
    panels = page.page.evaluate(
        "() => [...document.querySelectorAll('#panels .chart')].map(e => e.dataset.panel)")
    assert {"cpu", "memory", "net"} <= set(panels)
    assert page.page.locator("#top tbody tr").count() > 3
    page.page.select_option("#window", "1h")
    page.page.wait_for_timeout(800)
    assert "window=1h" in page.page.url
    assert page.errors == []


def test_report_opens_offline_from_a_file(page, server, hub, tmp_path):
    out = tmp_path / "report.html"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-m", "perflab", "report", str(hub.run_a), "-o", str(out),
                    "--store", str(hub.path)], check=True, env=env, capture_output=True)
    page.ctx.route("http*://**", lambda route: route.abort())  # offline: nothing but the file
    page.open(out.as_uri(), "chartsReady")
    n = page.page.evaluate("() => window.perflabRun.charts.length")
    assert n == 4
    assert page.page.locator("#summary tbody tr").count() == 5
    assert page.errors == []
    page.shot("report-light")


def test_token_login(new_page, hub):
    with serving(hub.path, "--no-record", "--token", "open-sesame") as url:
        p = new_page()
        p.allowed_errors = ("401",)  # the failed login's 401 is the only console error allowed
        p.page.goto(f"{url}/runs/{hub.run_a}")
        assert "/login" in p.page.url
        p.shot("login")
        p.page.fill("#token", "wrong")
        p.page.click("button[type=submit]")
        assert p.page.locator("#login-error").is_visible()
        p.page.fill("#token", "open-sesame")
        p.page.click("button[type=submit]")
        p.page.wait_for_function("document.body && document.body.dataset.chartsReady === '1'",
                                 timeout=20_000)
        assert p.page.url.endswith(f"/runs/{hub.run_a}")
        # the failed login's 401 is the only console message allowed
        assert all("401" in e for e in p.errors), p.errors


def test_clients_that_leave_mid_response_do_not_disturb_the_server(server, hub):
    path = f"/api/runs/{hub.run_a}/series/1/samples?points=100000"
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", int(server.rsplit(":", 1)[1]))) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            s.recv(10)  # the answer has begun; leave without reading the rest
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    r = httpx.get(server + "/api/runs", timeout=5)
    assert r.status_code == 200
    assert len(r.json()["runs"]) >= 2


def test_event_bands_say_what_happened_on_hover(page, server, hub):
    """Bands are labelled with the event's text; hovering one shows kind, text and duration."""
    page.open(f"{server}/runs/{hub.run_a}", "chartsReady")
    over = page.page.locator(".chart .u-over").first
    box = over.bounding_box()
    # the fault band runs from 100 s to 160 s of the run's 599 s: hover its middle
    page.page.mouse.move(box["x"] + box["width"] * 130 / 599, box["y"] + box["height"] / 2)
    tip = page.page.locator(".chart .event-tip").first
    assert tip.is_visible()
    assert tip.text_content() == "fault · latency injected · 1m 00s"
    # the deploy instant at 300 s
    page.page.mouse.move(box["x"] + box["width"] * 300 / 599, box["y"] + box["height"] / 2)
    assert tip.text_content() == "deploy · v2"
    page.page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    assert not tip.is_visible()
    assert page.errors == []


def test_a_running_run_page_adds_new_series_and_lists_constant_ones(new_page, tmp_path):
    """Series that appear after the page loaded get charts; series that never vary are rows."""
    from perflab.store import Store  # noqa: PLC0415

    path = tmp_path / "live.db"
    t0 = time.time_ns() - 30 * 10**9
    with Store.open(path) as store:
        run = store.create_run("record", "growing", started_ns=t0)  # recorder: this process
        cpu = store.series_id(run.id, "system.cpu.pct", {"cpu": "all", "mode": "user"}, "%")
        swap = store.series_id(run.id, "system.mem.swap_used_bytes", None, "bytes")
        store.insert_samples([(sid, t0 + i * 10**9, float(i % 5) if sid == cpu else 0.0)
                              for sid in (cpu, swap) for i in range(30)])
    with serving(path, "--no-record") as url:
        p = new_page()
        p.open(f"{url}/runs/{run.id}", "chartsReady")
        titles = ("() => window.perflabRun.charts.map("
                  "u => u.root.querySelector('.u-title').textContent)")
        assert p.page.evaluate(titles) == ["CPU by mode (%)"]
        rows = p.page.locator("table.constant-series tbody tr")
        assert rows.count() == 1
        assert "system.mem.swap_used_bytes" in rows.first.text_content()
        assert "0B" in rows.first.text_content()
        with Store.open(path) as store:
            rss = store.series_id(run.id, "process.rss_bytes", {"pid": "7", "name": "api"},
                                  "bytes")
            now = time.time_ns()
            store.insert_samples([(rss, now - (5 - i) * 10**9, 1e6 * (i + 1))
                                  for i in range(5)])
        p.page.wait_for_function(f"({titles})().includes('Process resident memory (bytes)')",
                                 timeout=20_000)
        assert p.errors == []
        p.shot("run-growing")


def test_overview_says_when_its_window_holds_nothing(new_page, tmp_path):
    """serve --no-record over an old recording: a note saying why, not blank charts alone."""
    old = build(tmp_path / "old.db")  # its own store: no serve run of this module's server
    with serving(old.path, "--no-record") as url:
        p = new_page()
        p.open(url + "/", "liveReady")
        note = p.page.locator("#window-empty")
        assert note.is_visible()
        assert f"run #{old.run_a} (record)" in note.text_content()
        assert p.errors == []


# every unit a series or a benchmark has; values across the scale steps, signs and tiny ones
# (exact halves are left out: Python rounds them to even, JavaScript up)
FMT_UNITS = ["%", "bytes", "bytes/s", "/s", "s", "ms", "", "sec/op", "B/op", "B/s",
             "allocs/op", "count"]
FMT_VALUES = [0, 0.3, 1, 1.26, 9.999, 12.345, 99.95, 100, 999.4, 1000, 1023, 1024, 1536,
              12345, 59.9, 61.2, 3725.2, 1e6, 1.5e6, 1.2 * 2**30, 5e9, 1e12, -3.2, -1500,
              2.5e-4, 3e-7, 3e-9, float("inf"), float("-inf")]


def test_the_dashboard_formats_numbers_as_the_command_line_does(page, server):
    """Perflab.fmt (charts, legends, tables, reports) = units.format_value, value for value."""
    from perflab.units import format_value  # noqa: PLC0415  # the Python side of the pair

    page.open(f"{server}/runs", None)
    shown = page.page.evaluate("([vs, us]) => us.map(u => vs.map(v => Perflab.fmt(v, u)))",
                               [FMT_VALUES, FMT_UNITS])
    differ = [(u, v, format_value(v, u), shown[i][j])
              for i, u in enumerate(FMT_UNITS) for j, v in enumerate(FMT_VALUES)
              if format_value(v, u) != shown[i][j]]
    assert differ == []
