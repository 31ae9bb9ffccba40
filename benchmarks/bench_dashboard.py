"""The Run page of a big run in headless Chromium, and one downsampled series request.

A store with one run of 50 series x 24 h at 1 s (4.32 M samples) is built first (a few
seconds, executemany). Then `perflab serve --no-record` serves it and we measure:

- the Run page from navigation start until every chart has drawn its data (target <= 1.5 s);
- GET .../series/{id}/samples?points=1000 over the whole 24 h (target <= 100 ms).

Usage: python benchmarks/bench_dashboard.py [--series 50] [--hours 24] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from _bigrun import build
from perflab.store import Store, sample_window
from perflab.testing import serve

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def time_requests(url: str, run_id: int, n_series: int, repeat: int,
                  query: str = "") -> list[float]:
    out = []
    with httpx.Client(timeout=30) as client:
        for i in range(repeat * 4):
            sid = 1 + (i * 7) % n_series
            t0 = time.perf_counter()
            r = client.get(f"{url}/api/runs/{run_id}/series/{sid}/samples?points=1000{query}")
            out.append(time.perf_counter() - t0)
            r.raise_for_status()
            assert len(r.json()["values"]) <= 1000
    return out


def cpu_per_window(store: Path, n_series: int, repeat: int, *, whole: bool) -> float:
    """CPU seconds of one downsampled window read in this process: insensitive to how busy
    the machine's other tenants keep the cores (the HTTP figures are not)."""
    with Store.open(store) as s:
        run = s.run("bigrun")
        t0 = time.process_time()
        n = repeat * 4
        for i in range(n):
            sid = s.series(run.id)[(i * 7) % n_series].id
            if whole:
                sample_window(s, sid, points=1000)
            else:
                sample_window(s, sid, start_ns=run.started_ns, end_ns=run.ended_ns, points=1000)
        return (time.process_time() - t0) / n


def time_page(url: str, run_id: int, repeat: int) -> tuple[list[float], int, int]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    times = []
    charts = points = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=CHROMIUM_ARGS)
        for _ in range(repeat + 1):  # the first: a run never viewed (a cold browser cache)
            ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
            page = ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.goto(f"{url}/runs/{run_id}", wait_until="commit")
            page.wait_for_function("document.body && document.body.dataset.chartsReady === '1'",
                                   timeout=60_000)
            # navigation start -> every chart built with its data (performance.now() is
            # relative to the navigation start)
            ready_ms = page.evaluate("""() => new Promise(r => requestAnimationFrame(
                () => r(performance.now())))""")
            charts, points = page.evaluate("""() => [window.perflabRun.charts.length,
                window.perflabRun.charts.reduce((n, u) => n + u.data[0].length, 0)]""")
            if errors:
                raise SystemExit(f"page errors: {errors}")
            times.append(ready_ms / 1000)
            ctx.close()
        browser.close()
    return times, charts, points


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=50)
    ap.add_argument("--hours", type=float, default=24)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "big.db"
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        run_id = build(store, n_series=args.series, seconds=int(args.hours * 3600),
                       timings=timings)
        samples = args.series * int(args.hours * 3600)
        print(f"built store: {samples / 1e6:.2f} M samples in {time.perf_counter() - t0:.1f} s; "
              f"finish_run (builds the rollups) took {timings['finish_cpu_s']:.2f} s of CPU")
        with serve(store, "--no-record") as hub:
            url = hub.url
            pages, charts, points = time_page(url, run_id, args.repeat)
            req = time_requests(url, run_id, args.series, args.repeat)
            with Store.open(store) as s:
                run = s.run(run_id)
            # an explicit window reads the samples themselves (no rollup): the zoom path
            raw = time_requests(url, run_id, args.series, args.repeat,
                                f"&start={run.started_ns}&end={run.ended_ns}")
        cpu_roll = cpu_per_window(store, args.series, args.repeat, whole=True)
        cpu_raw = cpu_per_window(store, args.series, args.repeat, whole=False)
    cold, warm = pages[0], pages[1:]
    print(f"run page, {args.series} series x {args.hours:g} h in {charts} charts "
          f"({points} points drawn): first view {cold:.2f} s; "
          f"later views median {statistics.median(warm):.2f} s, max {max(warm):.2f} s "
          f"(target <= 1.5 s)")
    print(f"downsampled series request, points=1000 over {args.hours:g} h: median "
          f"{statistics.median(req) * 1000:.1f} ms, max {max(req) * 1000:.1f} ms from the rollup; "
          f"median {statistics.median(raw) * 1000:.1f} ms, max {max(raw) * 1000:.1f} ms "
          f"from the samples (target <= 100 ms)")
    print(f"the same read in-process, CPU time: {cpu_roll * 1000:.1f} ms from the rollup, "
          f"{cpu_raw * 1000:.1f} ms from the samples")


if __name__ == "__main__":
    main()
