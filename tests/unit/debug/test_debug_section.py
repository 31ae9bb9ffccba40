"""The Debug section on the Run page and in the report: a leak watch stored on a run (its
decisive series as an SVG trend, the growing sites with stacks) and a memcheck report; hostile
names are shown inert; a run without findings has no Debug section."""

from __future__ import annotations

import random
from pathlib import Path

from tests.unit._webclient import client_class

from perflab.debug import LeakOptions, LeakRecorder, LeakTarget, debug_section_html
from perflab.debug._goheap import SiteSample
from perflab.debug._leak import Watch, judge
from perflab.debug._memcheck import store_memcheck
from perflab.debug._memcheck_asan import parse_asan_log
from perflab.debug._memcheck_model import report as memcheck_report
from perflab.report import render_report
from perflab.store import Store
from perflab.web import AppConfig, create_app

MB = 1 << 20
FIX = Path(__file__).resolve().parents[2] / "fixtures" / "debug"
EVIL = "<script>alert(1)</script>"


def _store_leak(store: Store) -> int:
    run = store.create_run("leak", "leak-4242")
    recorder = LeakRecorder(store, run.id, {"pid": "4242"})
    rng = random.Random(1)
    seen = Watch(site_source="python tracemalloc (debug agent)")
    t0 = 1_700_000_000.0
    for i in range(120):
        values = {"rss": 100.0 * MB + 20_000 * i + rng.randrange(4096),
                  "traced": 10.0 * MB + 20_000 * i}
        now = t0 + i
        recorder.sample(now, values)
        seen.times.append(now)
        for k, v in values.items():
            seen.values.setdefault(k, []).append(v)
            seen.sample_times.setdefault(k, []).append(now)
        if i % 20 == 0:
            seen.snapshots.append((now, {EVIL: SiteSample(EVIL, "app.py", 3, 20_000 * i, i,
                                                          (EVIL, "main (app.py:9)"))}))
    doc = judge(LeakTarget(pid=4242), LeakOptions(warmup_s=0.001), seen, age_at_end_s=None,
                limit=None)
    doc["run"] = {"id": run.id}
    recorder.finish(doc, start=seen.times[0], end=seen.times[-1])
    store.finish_run(run.id, "ok")
    return run.id


def test_a_leak_watch_and_a_memcheck_report_on_the_run_page_and_report(store_path):
    with Store.open(store_path) as store:
        run_id = _store_leak(store)
        errors = parse_asan_log((FIX / "lsan-leaks.log").read_text())
        store_memcheck(store, run_id, memcheck_report(
            source="asan log", command=None, errors=errors, exit_code=None, crash=None,
            notes=[]), None)
        html = debug_section_html(store, store.run(run_id))
        plain = store.create_run("record", "plain")
        assert debug_section_html(store, plain) is None
        report = render_report(store, run_id)
    assert html is not None
    assert 'class="leak-verdict verdict-leak"' in html
    assert "<polyline" in html
    assert "tracemalloc traced (leak)" in html
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "keep_forever" in html
    assert 'id="section-debug"' in report or "Debug" in report
    assert "debug-leak" in report
    app = create_app(AppConfig(store_path=store_path, record=False, rollups=False))
    with client_class()(app) as client:
        page = client.get(f"/runs/{run_id}")
        assert page.status_code == 200
        assert 'id="section-debug"' in page.text
        assert "leak-sites" in page.text
        assert EVIL not in page.text
        other = client.get(f"/runs/{plain.id}")
        assert 'id="section-debug"' not in other.text
