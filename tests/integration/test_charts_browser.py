"""Charts a person can read, checked in headless Chromium at 1280 and 1920 px.

Three runs: a day long (synthetic, one sample every 10 s), ten seconds of a real ``perflab
record``, and ten seconds of ``perflab record --all-processes``. Every page and the report are
screenshotted into artifacts/charts/ for a human to look at; what a program can check is
checked: time-axis and y-axis tick labels are distinct and do not overlap, legends are not cut,
event-band labels are whole, the busiest processes are shown with the rest as "others".
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from _browser import ROOT, Page, serving

from _benchdata import build as build_bench
from perflab.store import Store

sys.path.insert(0, str(ROOT / "benchmarks"))
from _bigrun import build as build_bigrun  # benchmarks/ is not a package

pytestmark = pytest.mark.integration

WIDTHS = (1280, 1920)


def record(store: Path, *extra: str) -> int:
    subprocess.run([sys.executable, "-m", "perflab", "record", "-d", "10s", "-i", "1s",
                    "--store", str(store), *extra], check=True, cwd=ROOT, capture_output=True)
    with Store.open(store) as s:
        return s.runs(kind="record", limit=1)[0].id


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Any]:
    store = tmp_path_factory.mktemp("charts") / "perflab.db"
    build_bench(store, n=12)
    day = build_bigrun(store, n_series=24, seconds=86_400, step_s=10.0)
    short = record(store, "--name", "ten seconds")
    every = record(store, "--all-processes", "--name", "all processes")
    return {"path": store, "day": day, "short": short, "all": every}


@pytest.fixture(scope="module")
def server(runs):
    with serving(runs["path"], "--interval", "1") as url:
        yield url


def open_run(p: Page, url: str) -> None:
    p.open(url, "chartsReady")
    p.page.wait_for_timeout(200)  # the last frame painted


# --- what the page shows, measured in the page ---------------------------------------------

AXES = """() => {
  const charts = window.perflabRun ? window.perflabRun.charts
    : window.perflabOverview ? window.perflabOverview.charts()
    : window.perflabCompare ? window.perflabCompare.charts()
    : [...window.perflabBench.charts.values()];
  return charts.map((u) => {
    const title = u.root.querySelector('.u-title').textContent;
    const axes = [...u.root.querySelectorAll('.u-axis')].map(() => null);
    const ticks = u.axes.map((a, i) => (a._values || []).map((v, k) => ({
      text: String(v), pos: u.valToPos(a._splits[k], i === 0 ? 'x' : 'y') })));
    const legend = u.root.querySelector('.u-legend');
    return { title, ticks, axes: axes.length,
             legendClipped: legend ? legend.scrollHeight > legend.clientHeight + 1
                                     || legend.scrollWidth > legend.clientWidth + 1 : false,
             rootClipped: u.root.parentElement.scrollWidth > u.root.parentElement.clientWidth + 1,
             width: u.width, lines: u.series.length - 1,
             labels: u.series.slice(1).map(s => s.label),
             bands: (u.perflab && u.perflab.bandLabels) || [] };
  });
}"""


def check_axes(charts: list[dict[str, Any]], where: str) -> list[str]:
    """What reads badly on these charts (nothing, when all is well)."""
    bad = []
    for c in charts:
        at = f"{where} {c['title']!r}"
        for axis, ticks in enumerate(c["ticks"]):
            texts = [t["text"] for t in ticks if t["text"]]
            if len(texts) != len(set(texts)):
                bad.append(f"{at}: axis {axis} repeats a label: {texts}")
        # time labels: each at least its own width from the next (6 px a character)
        xs = [t for t in c["ticks"][0] if t["text"]]
        for a, b in itertools.pairwise(xs):
            longest = max(len(line) for line in a["text"].split("\n"))
            if b["pos"] - a["pos"] <= longest * 6:
                bad.append(f"{at}: x labels overlap: {a} {b}")
        if c["legendClipped"]:
            bad.append(f"{at}: legend clipped")
        if c["rootClipped"]:
            bad.append(f"{at}: chart wider than its box")
    return bad


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_reads_well(new_page, server, runs, width):
    pages = [("run-day", f"/runs/{runs['day']}"), ("run-short", f"/runs/{runs['short']}"),
             ("run-all", f"/runs/{runs['all']}"),
             ("compare", f"/compare?a={runs['short']}&b={runs['all']}")]
    bad: list[str] = []
    for name, path in pages:
        p = new_page(area="charts", width=width, height=1000)
        open_run(p, server + path)
        p.shot(f"{name}-{width}")
        bad += check_axes(p.page.evaluate(AXES), f"{name}@{width}")
    p = new_page(area="charts", width=width, height=1000)
    p.open(server + "/", "liveReady")
    p.page.wait_for_timeout(300)
    p.shot(f"overview-{width}")
    bad += check_axes(p.page.evaluate(AXES), f"overview@{width}")
    p = new_page(area="charts", width=width, height=1000)
    p.open(server + "/runs")
    p.shot(f"runs-{width}")
    p = new_page(area="charts", width=width, height=1000)
    p.open(server + "/benchmarks")
    p.page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    p.page.wait_for_function("document.body.dataset.chartsReady === '1'", timeout=20_000)
    p.page.evaluate("window.scrollTo(0, 0)")
    p.page.wait_for_timeout(300)
    p.shot(f"benchmarks-{width}")
    bad += check_axes(p.page.evaluate(AXES), f"benchmarks@{width}")
    for key in ("day", "short", "all"):
        report = ROOT / "artifacts" / "charts" / f"report-{key}.html"
        report.write_bytes(httpx.get(f"{server}/runs/{runs[key]}/report", timeout=60).content)
        p = new_page(area="charts", width=width, height=1000)
        open_run(p, report.as_uri())
        p.shot(f"report-{key}-{width}")
        bad += check_axes(p.page.evaluate(AXES), f"report-{key}@{width}")
    assert bad == [], "\n".join(bad)


def many_cpus_run(path: Path, cpus: int = 32) -> int:
    """A run of a 32-CPU machine with 180 processes and a short band among long ones."""
    s = 10**9
    t0 = 1_790_000_000 * s
    with Store.open(path) as store:
        run = store.create_run("record", "big machine", started_ns=t0)
        rows = []
        for c in range(cpus):
            for mode in ("user", "idle"):
                sid = store.series_id(run.id, "system.cpu.pct", {"cpu": str(c), "mode": mode},
                                      "%")
                rows += [(sid, t0 + i * s, float((c * 3 + i) % 100) if mode == "user"
                          else 10.0) for i in range(60)]
        for k in range(180):
            sid = store.series_id(run.id, "process.cpu.pct", {"pid": str(1000 + k),
                                                              "name": f"svc{k}"}, "%")
            rows += [(sid, t0 + i * s, float(k % 37) + (i % 3)) for i in range(60)]
        store.insert_samples(rows)
        store.add_event(run.id, "phase", "warm-up of the caches", ts_ns=t0 + 10 * s,
                        end_ns=t0 + 12 * s)
        store.add_event(run.id, "phase", "steady", ts_ns=t0 + 30 * s, end_ns=t0 + 59 * s)
        store.finish_run(run.id, "ok", ended_ns=t0 + 59 * s)
        return run.id


def test_all_processes_busiest_n_heatmap_and_whole_band_labels(tmp_path, new_page):
    run_id = many_cpus_run(tmp_path / "m.db")
    with serving(tmp_path / "m.db", "--no-record") as url:
        p = new_page(area="charts", width=1280, height=1000)
        open_run(p, f"{url}/runs/{run_id}")
        p.shot("run-32cpus-180procs")
        charts = p.page.evaluate(AXES)
        assert check_axes(charts, "32 cpus") == []
        by_title = {c["title"]: c for c in charts}
        proc = by_title["Process CPU (%) · busiest 10"]
        assert proc["lines"] == 11
        assert proc["labels"][-1] == "others (170 processes)"
        # ranked by the chart's own metric: svc36, 73, 110 and 147 are the busiest (36 %)
        assert {lab.split(",")[0] for lab in proc["labels"][:4]} == {
            "name=svc36", "name=svc73", "name=svc110", "name=svc147"}
        heat = by_title["CPU busy, per CPU (%)"]
        assert heat["lines"] == 32
        assert p.page.evaluate("window.perflabRun.charts.find(u => u.root.querySelector"
                               "('.u-title').textContent.startsWith('CPU busy'))"
                               ".perflab.spec.heatmap") is True
        bands = [b for c in charts for b in c["bands"]]
        assert bands
        assert all(b["shown"] == b["text"] for b in bands), bands  # whole, not "warm-…"
        # the control: 3 processes per chart
        p.page.fill("#top-n", "3")
        p.page.dispatch_event("#top-n", "change")
        p.page.wait_for_function("window.perflabRun.charts.some(u => u.root.querySelector"
                                 "('.u-title').textContent === 'Process CPU (%) · busiest 3')")
        p.shot("run-32cpus-top3")


def test_benchmark_band_inside_the_plot_and_in_the_y_range(tmp_path, new_page):
    build_bench(tmp_path / "b.db", n=12)
    with serving(tmp_path / "b.db", "--no-record") as url:
        p = new_page(area="charts", width=1280, height=1000)
        p.open(url + "/benchmarks")
        p.page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        p.page.wait_for_function("document.body.dataset.chartsReady === '1'", timeout=20_000)
        outside = p.page.evaluate("""() => [...window.perflabBench.charts.values()].map(u => {
            const h = u.perflab.hist, y = u.scales.y;
            return h.points.filter(pt => pt.lo != null && (pt.lo < y.min || pt.hi > y.max))
                .length; })""")
        assert outside
        assert not any(outside), outside


def test_overview_fits_a_young_recording(tmp_path, new_page):
    with serving(tmp_path / "o.db", "--interval", "0.5") as url:
        p = new_page(area="charts", width=1280, height=1000)
        p.open(url + "/", "liveReady")
        p.page.wait_for_function("window.perflabOverview.charts().length > 0 && "
                                 "window.perflabOverview.charts()[0].data[0].length > 2",
                                 timeout=20_000)
        span = p.page.evaluate("(() => { const u = window.perflabOverview.charts()[0];"
                               " return u.scales.x.max - u.scales.x.min; })()")
        assert span < 120  # the first seconds fill the chart, not 5 minutes
        p.shot("overview-young")
