"""The Benchmarks page and a bench run's report as a person sees them: a real `perflab serve`
over a bench history with known change points, driven by headless Chromium (Playwright).

Screenshots land in artifacts/bench/ for a human to look at.
"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from _browser import ROOT, Page, serving

from _benchdata import IMPROVEMENT_AT, N_COMMITS, REGRESSION_AT, build

pytestmark = pytest.mark.integration

ENCODE = "Encode/format=json-8"


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return build(tmp_path_factory.mktemp("bench") / "perflab.db")


@pytest.fixture(scope="module")
def server(bench):
    with serving(bench.path, "--no-record") as url:
        yield url


def open_all_charts(page: Page, url: str, count: int = 6) -> None:
    """Open the page and scroll once to the bottom: charts load as they come into view."""
    page.open(url)
    page.page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.page.wait_for_function(f"window.perflabBench && window.perflabBench.drawn === {count}",
                                timeout=20_000)
    page.page.wait_for_function("document.body.dataset.chartsReady === '1'")
    page.page.evaluate("window.scrollTo(0, 0)")


def chart_id(page: Page, name: str, unit: str) -> str:
    return page.page.evaluate(
        "([n, u]) => [...document.querySelectorAll('#bench-charts .bench-chart')]"
        ".find(e => e.dataset.name === n && e.dataset.unit === u).id", [name, unit])


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_history_draws_without_console_errors(new_page, server, dark):
    p = new_page(area="bench", dark=dark)
    open_all_charts(p, server + "/benchmarks")
    charts = p.page.evaluate("""() => [...window.perflabBench.charts.values()].map(u => ({
        title: u.root.querySelector('.u-title').textContent,
        points: u.data[0].length,
        drawn: u.data[1].filter(v => v != null).length,
        width: u.width }))""")
    assert len(charts) == 6
    assert all(c["points"] == c["drawn"] == N_COMMITS for c in charts), charts
    assert all(c["width"] >= 500 for c in charts)  # two columns at 1366 px
    assert f"{ENCODE} (sec/op)" in {c["title"] for c in charts}
    assert p.errors == []
    p.shot(f"benchmarks-{'dark' if dark else 'light'}")


def red_or_green_along(page: Page, cid: str, x: float) -> str:
    """The colour of the canvas along the vertical line at x (CSS px from the plot's left edge;
    the line is dashed, so sample it all along)."""
    return page.page.evaluate("""([cid, x]) => {
        const u = window.perflabBench.charts.get(cid);
        const dpr = devicePixelRatio, b = u.bbox;
        let red = 0, green = 0;
        for (let y = b.top; y < b.top + b.height; y += 2) {
            const px = Math.round(b.left + x * dpr);
            const [r, g, bl] = u.ctx.getImageData(px, Math.round(y), 1, 1).data;
            if (r > 150 && g < 110 && bl < 110) red++;
            if (g > 100 && r < 110 && bl < 130 && g > r + 30) green++;
        }
        return red > 10 ? "red" : green > 10 ? "green" : "none";
    }""", [cid, x])


def test_change_points_are_marked_red_and_green_between_the_right_commits(page, server):
    open_all_charts(page, server + "/benchmarks")
    enc = chart_id(page, ENCODE, "sec/op")
    dec = chart_id(page, "Decode-8", "sec/op")
    flat = chart_id(page, "Flat-8", "sec/op")
    marks = page.page.evaluate(
        "(ids) => ids.map(id => window.perflabBench.charts.get(id).perflab.marks)",
        [enc, dec, flat])
    assert [(m["index"], m["verdict"]) for m in marks[0]] == [(REGRESSION_AT, "regression")]
    assert [(m["index"], m["verdict"]) for m in marks[1]] == [(IMPROVEMENT_AT, "improvement")]
    assert marks[2] == []
    # drawn where it says, half-way between the last old commit and the first new one
    x_between = page.page.evaluate(
        f"() => window.perflabBench.charts.get('{enc}').valToPos({REGRESSION_AT} - 0.5, 'x')")
    assert marks[0][0]["x"] == pytest.approx(x_between, abs=1)
    assert red_or_green_along(page, enc, marks[0][0]["x"]) == "red"
    assert red_or_green_along(page, dec, marks[1][0]["x"]) == "green"
    assert red_or_green_along(page, flat, marks[0][0]["x"]) == "none"
    assert page.errors == []


def test_hover_shows_the_commit_its_branch_and_time(page, server, bench):
    open_all_charts(page, server + "/benchmarks")
    enc = chart_id(page, ENCODE, "sec/op")
    page.page.locator(f"#{enc}").scroll_into_view_if_needed()
    over = page.page.locator(f"#{enc} .u-over").bounding_box()
    for index in (30, REGRESSION_AT):
        x = page.page.evaluate(
            f"() => window.perflabBench.charts.get('{enc}').valToPos({index}, 'x')")
        page.page.mouse.move(over["x"] + x, over["y"] + over["height"] / 2)
        legend = page.page.locator(f"#{enc} .u-legend .u-series").first.inner_text()
        assert bench.commits[index][:10] in legend
        assert "main" in legend
        assert "UTC" in legend
        hover = page.page.locator(f"#{enc} .bench-hover")
        assert hover.get_attribute("data-commit") == bench.commits[index]
        assert f"run {bench.run_ids[index]}: {bench.commits[index]} on main" in hover.inner_text()
    # on the first commit of the new level, the hover names the change
    assert "regression +30" in hover.inner_text()
    page.shot("benchmarks-hover")
    assert page.errors == []


def test_the_name_filter_narrows_as_you_type_and_on_submit(page, server):
    open_all_charts(page, server + "/benchmarks")
    visible_rows = ("() => [...document.querySelectorAll('#benchmarks tbody tr[data-name]')]"
                    ".filter(r => r.offsetParent !== null).map(r => r.dataset.name)")
    visible_charts = ("() => [...document.querySelectorAll('#bench-charts .bench-chart')]"
                      ".filter(e => e.offsetParent !== null).length")
    page.page.fill("#f-q", "DECODE")
    assert set(page.page.evaluate(visible_rows)) == {"Decode-8"}
    assert page.page.evaluate(visible_charts) == 2
    page.page.fill("#f-q", "")
    assert len(page.page.evaluate(visible_rows)) == 6
    page.page.fill("#f-q", "encode")
    page.page.click("#bench-filters button[type=submit]")
    page.page.wait_for_load_state()
    assert "q=encode" in page.page.url
    assert page.page.locator("#benchmarks tbody tr[data-name]").count() == 2
    page.page.wait_for_function("document.body.dataset.chartsReady === '1'", timeout=20_000)
    page.shot("benchmarks-filtered")
    assert page.errors == []


def test_api_answers_an_unknown_benchmark_with_a_json_404(server):
    r = httpx.get(server + "/api/benchmarks/NoSuch-8", timeout=10)
    assert r.status_code == 404
    assert r.json() == {"error": "no benchmark 'NoSuch-8' in the history", "status": 404}


def test_the_report_of_the_regressing_run_opens_offline_with_its_charts(page, bench, tmp_path):
    out = tmp_path / "bench-report.html"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-m", "perflab", "report", str(bench.run_ids[REGRESSION_AT]),
                    "-o", str(out), "--store", str(bench.path)],
                   check=True, env=env, capture_output=True)
    page.ctx.route("http*://**", lambda route: route.abort())  # offline: nothing but the file
    page.open(out.as_uri(), "benchReady")
    charts = page.page.evaluate("() => window.perflabBench.charts().map(u => u.perflab.marks"
                                ".map(m => m.verdict))")
    assert len(charts) == 6
    assert ["regression"] in charts
    assert ["improvement"] in charts
    assert page.page.locator('#bench-compare tr[data-verdict="regression"]').count() == 1
    assert page.errors == []
    page.shot("report-bench")


@pytest.fixture
def page(new_page):
    """A 1366x768 light page whose screenshots go to artifacts/bench/."""
    return new_page(area="bench")
