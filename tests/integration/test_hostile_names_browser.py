"""Hostile names are data on every page: they draw the same charts as benign names and show as
inert text.

A run, a process, a series, an event, a benchmark and a profiled function are named with
``<!--<script>`` (which puts the HTML parser in the state that swallows the closing tag of the
page's JSON), ``</script>``, U+2028/U+2029, HTML with a handler, and control characters. Every
page (Overview, Runs, Run, Compare, Benchmarks, the Profile panel) and the HTML report are
rendered by a real ``perflab serve`` in headless Chromium; the charts drawn are counted and
compared with a store built the same way with benign names.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _browser import ROOT, Page, serving

from _profiledata import phase_profile
from perflab.bench import Result, ResultSet, Value, record_results
from perflab.profile import StoreSink
from perflab.store import BatchWriter, Store

pytestmark = pytest.mark.integration

S = 1_000_000_000
T0 = 1_790_000_000 * S
HOSTILE = ('<!--<script>x</script><img src=x onerror="window.__pwned=1">'
           "\u2028\u2029\x01\x1b[2J&amp;")
BENIGN = "plain name"
COMM = "<!--<script>"  # what a process can call itself (15 bytes at most)
SPIN = """
import sys
with open("/proc/self/comm", "w") as fh:
    fh.write(sys.argv[1])
print("ready", flush=True)
while True:
    pass
"""


def build(path: Path, name: str) -> dict[str, int]:
    """Two record runs named ``name`` (series, an event band, profile slices), and a bench
    history of a benchmark named ``name``; returns the run ids."""
    ids: dict[str, int] = {}
    with Store.open(path) as store:
        for key, start in (("a", T0), ("b", T0 + 3600 * S)):
            run = store.create_run("record", name, started_ns=start)
            w = BatchWriter(store, run.id)
            cpu = w.series("system.cpu.pct", {"cpu": "all", "mode": "user"}, "%")
            proc = w.series("process.cpu.pct", {"pid": "4242", "name": name}, "%")
            own = w.series("app." + name, {"label": name}, "")
            for i in range(21):
                w.add(cpu, start + i * S, 20.0 + i)
                w.add(proc, start + i * S, 15.0 + (i % 5))
                w.add(own, start + i * S, float(i * i))
            w.flush()
            store.add_event(run.id, "phase", name, ts_ns=start + 5 * S, end_ns=start + 15 * S)
            sink = StoreSink(str(path), run.id, pid=4242)
            for k in range(4):
                t = start + k * 5 * S
                sink(t, t + 5 * S, phase_profile(name if k >= 2 else "calm_loop", 30, t),
                     "py-spy")
            sink.close()
            store.finish_run(run.id, "ok", ended_ns=start + 20 * S)
            ids[key] = run.id
        for i in range(6):
            rs = ResultSet(files=["r.txt"])
            for v in (1.0e-6, 1.01e-6, 0.99e-6, 1.02e-6, 1.0e-6):
                rs.results.append(Result(name + "-8", (Value(v * (1 + i / 10), "sec/op"),),
                                         "r.txt"))
            ids["bench"], _ = record_results(store, rs, commit=f"{i:040x}", branch="main",
                                             time_ns=T0 + i * 3600 * S, source="r.txt")
    return ids


@pytest.fixture
def spinning() -> Iterator[int]:
    """A busy process that calls itself <!--<script>, for the Overview's process table."""
    proc = subprocess.Popen([sys.executable, "-c", SPIN, COMM], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def inert(p: Page) -> None:
    """No handler ran and no element came out of a name."""
    assert p.page.evaluate("window.__pwned") is None
    assert p.page.locator('img[src="x"]').count() == 0


def visit(new_page: Any, url: str, ids: dict[str, int], name: str,
          tmp: Path) -> dict[str, Any]:
    """Every page and the report over one store: charts drawn, names shown."""
    got: dict[str, Any] = {}
    shown_name = name.replace("\x01", "").replace("\x1b", "")
    kind = "hostile" if name == HOSTILE else "benign"

    p = new_page(area="hostile")
    p.open(url + "/runs")
    assert p.page.locator("#runs tbody tr").count() >= 2 or name in p.page.inner_text("main")
    assert p.page.get_by_text(name[:12], exact=False).count() >= 1
    inert(p)
    p.shot(f"runs-{kind}")

    p = new_page(area="hostile", height=1100)
    p.open(f"{url}/runs/{ids['a']}", "chartsReady")
    got["run"] = p.page.evaluate("window.perflabRun.charts.length")
    assert p.page.locator("h1").text_content() == f"Run {ids['a']} · {name}"
    areas = p.page.evaluate("[...document.querySelectorAll('#charts section.area')]"
                            ".map(s => s.dataset.area)")
    assert "app" in areas
    legends = p.page.evaluate("window.perflabRun.charts.flatMap(u => u.series.slice(1)"
                              ".map(s => s.label))")
    assert any(name in str(label) for label in legends), legends
    assert name in p.page.locator("#events").text_content()
    p.page.wait_for_function("document.getElementById('profile-panel').dataset.shown"
                             " === 'range'", timeout=20_000)
    flame = p.page.frame_locator("#profile-flame")
    flame.locator("canvas#flame").wait_for()
    names = p.page.evaluate("""() => JSON.parse(document.getElementById('profile-flame')
        .contentDocument.getElementById('flame-data').textContent).names""")
    assert name in names
    got["profile"] = p.page.evaluate("document.getElementById('profile-flame')"
                                     ".contentDocument.querySelectorAll('canvas').length")
    inert(p)
    p.shot(f"run-{kind}")

    p = new_page(area="hostile")
    p.open(f"{url}/compare?a={ids['a']}&b={ids['b']}", "chartsReady")
    got["compare"] = p.page.evaluate("window.perflabCompare.charts().length")
    assert name in p.page.inner_text("main") or shown_name in p.page.inner_text("main")
    inert(p)
    p.shot(f"compare-{kind}")

    p = new_page(area="hostile")
    p.open(url + "/benchmarks")
    p.page.wait_for_function("document.body.dataset.chartsReady === '1'", timeout=20_000)
    got["benchmarks"] = p.page.evaluate("window.perflabBench.drawn")
    assert p.page.evaluate("window.perflabBench.failed") == 0
    titles = p.page.evaluate("[...window.perflabBench.charts.values()]"
                             ".map(u => u.root.querySelector('.u-title').textContent)")
    assert any(name in t for t in titles), titles
    inert(p)
    p.shot(f"benchmarks-{kind}")

    for key in ("a", "bench"):
        report = tmp / f"report-{kind}-{key}.html"
        report.write_bytes(httpx.get(f"{url}/runs/{ids[key]}/report", timeout=30).content)
        p = new_page(area="hostile", height=1100)
        p.open(report.as_uri(), "chartsReady" if key == "a" else "benchReady")
        got[f"report-{key}"] = p.page.evaluate(
            "window.perflabRun.charts.length" if key == "a"
            else "window.perflabBench.charts().length")
        if key == "a":
            assert p.page.locator("h1").text_content() == f"Run {ids[key]} · {name}"
        else:
            assert name in p.page.locator("#section-bench").text_content()
        inert(p)
        p.shot(f"report-{key}-{kind}")
    return got


def test_hostile_names_draw_the_same_charts_as_benign_ones(tmp_path, new_page):
    counts: dict[str, dict[str, int]] = {}
    for name in (BENIGN, HOSTILE):
        store = tmp_path / f"{len(counts)}.db"
        ids = build(store, name)
        with serving(store, "--no-record") as url:
            counts[name] = visit(new_page, url, ids, name, tmp_path)
    assert counts[HOSTILE] == counts[BENIGN]
    benign = counts[BENIGN]
    assert benign["run"] == 3
    assert benign["compare"] == 3
    assert benign["benchmarks"] == 1
    assert benign["report-a"] == 3
    assert benign["report-bench"] == 1
    assert benign["profile"] >= 1


def test_overview_shows_a_hostile_process_name_as_text(tmp_path, new_page, spinning):
    pid = spinning
    with serving(tmp_path / "live.db", "--interval", "0.5") as url:
        p = new_page(area="hostile")
        p.open(url + "/", "liveReady")
        deadline = time.monotonic() + 30
        row = p.page.locator("#top tbody tr", has_text=str(pid))
        while row.count() == 0:  # the table lists the busiest 15: wait for a refresh
            assert time.monotonic() < deadline, p.page.inner_text("#top")
            p.page.wait_for_timeout(500)
        assert row.first.locator("td.name").text_content() == COMM
        assert p.page.evaluate("window.perflabOverview.charts().length") >= 3
        inert(p)
        p.shot("overview-hostile")


def test_the_report_written_by_the_cli_keeps_its_charts(tmp_path, new_page):
    ids = build(tmp_path / "s.db", HOSTILE)
    out = tmp_path / "r.html"
    subprocess.run([sys.executable, "-m", "perflab", "report", str(ids["a"]), "-o", str(out),
                    "--store", str(tmp_path / "s.db")], check=True, cwd=ROOT,
                   capture_output=True)
    p = new_page(area="hostile")
    p.open(out.as_uri(), "chartsReady")
    assert p.page.evaluate("window.perflabRun.charts.length") == 3
    inert(p)
