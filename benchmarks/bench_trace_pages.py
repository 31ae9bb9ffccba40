"""Page render times in headless Chromium (target <= 1 s each): the Traces page with 1,000
results (server search + table + scatter) and the Trace page of a trace of 10,000 spans
(document + waterfall), from navigation start to the page's ready flag; median of 5 loads on a
warm hub.

    python benchmarks/bench_trace_pages.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from playwright.sync_api import sync_playwright

from _tracedata import build
from perflab.testing import serve

CHROMIUM = "/usr/bin/chromium"


def measure(page, url: str, ready: str, n: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(n + 1):
        t = time.perf_counter()
        page.goto(url)
        page.wait_for_function(f"document.body.dataset.{ready} === '1'", timeout=60_000)
        times.append(time.perf_counter() - t)
    times = times[1:]  # the first warms the hub's connections and the browser's cache
    return statistics.median(times), max(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = build(Path(tmp) / "pages.db", traces=1100, big_spans=10_000)
        with serve(data.path, "--no-record", "--no-otlp-http", "--no-otlp-grpc",
                   "--no-zipkin") as hub, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            med, worst = measure(page, hub.url + "/traces?start=2h&limit=1000", "scatterReady")
            rows = page.locator("#results tbody tr").count()
            print(f"Traces page, {rows} results: median {med * 1000:.0f} ms, "
                  f"max {worst * 1000:.0f} ms (target <= 1 s)")
            med, worst = measure(page, hub.url + f"/traces/{data.big}", "waterfallReady")
            print(f"Trace page, 10,000 spans: median {med * 1000:.0f} ms, "
                  f"max {worst * 1000:.0f} ms (target <= 1 s)")
            t = time.perf_counter()
            page.evaluate("document.getElementById('wf-body').scrollTop = 22 * 9000")
            page.wait_for_function("[...document.querySelectorAll('.wf-row')]"
                                   ".some(r => +r.dataset.i > 8990)")
            print(f"  scrolling to its row 9,000: {(time.perf_counter() - t) * 1000:.0f} ms")
            browser.close()


if __name__ == "__main__":
    main()
