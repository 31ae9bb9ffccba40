"""Charts with 100,000 points each in headless Chromium: draw, hover and zoom times (issue 3:
"fast charts that stay smooth with 100k points per chart").

The dashboard's own chart (``Perflab.chart``: uPlot with perflab's axes, formatters, event
lanes and cursor sync) is measured beside a bare uPlot chart of the same data in the same page,
so the ratio says what perflab adds. Three series of 100k points per chart, three charts in a
sync group (hovering or zooming one moves all, as on the Run page; the bare charts are zoomed
one by one). Hover and zoom are timed to the next painted frame (so never under one frame,
16.7 ms at 60 Hz: a step that takes one frame is smooth); "hover JS" is the script's own time.

    PYTHONPATH=src python benchmarks/bench_chart_points.py [--points 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from perflab.store import Store
from perflab.testing import serve

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

# runs in the page: builds the data, the charts, then times draw / hover / zoom for each kind
MEASURE_JS = """
async ([n, kind]) => {
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const host = document.createElement("div");
  host.style.width = "1200px";
  document.body.prepend(host);
  const t0 = 1.7e9;
  const xs = new Float64Array(n), lines = [];
  for (let i = 0; i < n; i++) xs[i] = t0 + i;
  for (let s = 0; s < 3; s++) {
    const ys = new Float64Array(n);
    for (let i = 0; i < n; i++) ys[i] = 50 + 30 * Math.sin(i / (500 + 300 * s)) + 8 * Math.random();
    lines.push(ys);
  }
  const data = [xs, ...lines];
  const group = kind === "perflab" ? Perflab.syncGroup("bench") : null;
  const charts = [];
  const drawStart = performance.now();
  for (let c = 0; c < 3; c++) {
    const el = document.createElement("div");
    host.appendChild(el);
    if (kind === "perflab") {
      charts.push(Perflab.chart(el, {title: "chart " + c, unit: "%", labels: ["a", "b", "c"],
        data: data, group: group, events: () => [
          {kind: "fault", text: "band", ts_ns: (t0 + n * 0.3) * 1e9,
           end_ns: (t0 + n * 0.4) * 1e9}]}));
    } else {
      charts.push(new uPlot({title: "chart " + c, width: 1200, height: 170,
        cursor: {sync: {key: "bare"}},
        series: [{}, {stroke: "red"}, {stroke: "blue"}, {stroke: "green"}]}, data, el));
    }
  }
  await frame();
  const draw = performance.now() - drawStart;
  const u = charts[0];
  const w = u.over.clientWidth, h = u.over.clientHeight;
  const hovers = [], hoverJs = [];
  for (let i = 0; i < 120; i++) {
    const t = performance.now();
    u.setCursor({left: (i * 37) % w, top: h / 2});  // the sync group moves the others' cursors
    hoverJs.push(performance.now() - t);
    await frame();
    hovers.push(performance.now() - t);
  }
  const zooms = [];
  for (let i = 0; i < 12; i++) {
    const span = n / (2 + i);
    const lo = t0 + (n - span) * (i / 12);
    const t = performance.now();
    if (kind === "perflab") u.setScale("x", {min: lo, max: lo + span});  // the group: all
    else for (const c of charts) c.setScale("x", {min: lo, max: lo + span});
    await frame();
    zooms.push(performance.now() - t);
  }
  const t = performance.now();
  for (const c of charts) c.setScale("x", {min: t0, max: t0 + n - 1});
  await frame();
  const reset = performance.now() - t;
  host.remove();
  for (const c of charts) c.destroy();
  const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const p95 = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length * 0.95)];
  return {draw, hover_js: med(hoverJs), hover_med: med(hovers), hover_p95: p95(hovers),
          zoom_med: med(zooms),
          zoom_p95: p95(zooms), reset};
}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--points", type=int, default=100_000, help="points per series")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    results: dict[str, list[dict[str, float]]] = {"perflab": [], "uPlot": []}
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "empty.db"
        Store.open(store).close()
        with serve(store, "--no-record") as hub, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{hub.url}/runs", wait_until="load")  # loads perflab.js and uPlot
            for _ in range(args.rounds):  # alternate, so drift hits both
                for kind, key in (("perflab", "perflab"), ("bare", "uPlot")):
                    results[key].append(page.evaluate(MEASURE_JS, [args.points, kind]))
            if errors:
                raise SystemExit(f"page errors: {errors}")
            browser.close()
    fields = ("draw", "hover_js", "hover_med", "hover_p95", "zoom_med", "zoom_p95", "reset")
    best = {k: {f: min(r[f] for r in v) for f in fields} for k, v in results.items()}
    print(f"3 charts x 3 series x {args.points:,} points, best of {args.rounds} rounds (ms):")
    widths = (7, 9, 10, 10, 9, 9, 7)
    heads = ("draw", "hover JS", "hover p50", "hover p95", "zoom p50", "zoom p95", "reset")
    print(f"{'':8} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)))
    for kind, b in best.items():
        print(f"{kind:8} " + " ".join(f"{b[f]:>{w}.1f}" for f, w in
                                      zip(fields, widths, strict=True)))
    ours, bare = best["perflab"], best["uPlot"]
    print(f"perflab/uPlot: draw {ours['draw'] / bare['draw']:.2f}x, hover "
          f"{ours['hover_med'] / bare['hover_med']:.2f}x, zoom "
          f"{ours['zoom_med'] / bare['zoom_med']:.2f}x; a 60 Hz frame is 16.7 ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
