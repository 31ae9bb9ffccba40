/* The load section: percentile spectrum and latency histogram of a run's load tests.
 *
 * Data: the JSON in <script id="load-data"> (perflab.api.load/1, as GET /api/runs/{id}/load
 * answers). Used by the dashboard's Run page and inlined into HTML reports, after perflab.js.
 *
 * The spectrum is drawn as HdrHistogram's plotter draws it: x = 1/(1-p) on a log axis, so
 * 50 %, 90 %, 99 %, 99.9 % ... are evenly spaced and the tail gets the room it deserves.
 */
(function () {
  "use strict";

  function cssVar(name, fallback) {
    const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  function groupName(labels) {
    const keys = Object.keys(labels || {}).sort();
    return keys.length ? keys.map((k) => labels[k]).join(" ") : "all requests";
  }

  /** x = 1/(1-p) -> "99.9%" */
  function percentLabel(x) {
    if (x == null) return "";
    if (x <= 1) return "0%";
    const digits = Math.max(0, Math.ceil(Math.log10(x) - 1e-9) - 2);
    return (100 - 100 / x).toFixed(digits) + "%";
  }

  /** milliseconds as people read them: 850µs, 12.5ms, 1.2s */
  function fmtMs(v, digits) { return v == null ? "" : Perflab.fmt(v / 1000, "s", digits || 3); }

  function axes(c, xValues, yValues, xLabel) {
    return [
      { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 },
        label: xLabel, labelSize: 18, values: xValues },
      { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 },
        size: 64, values: (u, vals) => vals.map(yValues) },
    ];
  }

  function spectrumChart(el, data, c) {
    const lines = [];
    const labels = [];
    const styles = [];
    data.groups.forEach((g, i) => {
      const color = Perflab.PALETTE[i % Perflab.PALETTE.length];
      const name = groupName(g.labels);
      const lat = g.spectrum.latency;
      if (lat.x.length) {
        lines.push([lat.x, lat.ms]);
        labels.push(name + (g.spectrum.service_time ? " latency" : ""));
        styles.push({ stroke: color, dash: undefined });
      }
      const svc = g.spectrum.service_time;
      if (svc && svc.x.length) {
        lines.push([svc.x, svc.ms]);
        labels.push(name + " service time");
        styles.push({ stroke: color, dash: [5, 4] });
      }
    });
    if (!lines.length) {
      el.innerHTML = '<p class="muted">No latency was recorded.</p>';
      return null;
    }
    const aligned = uPlot.join(lines);
    const maxX = Math.max(...aligned[0]);
    const ticks = [1, 2];
    for (let x = 10; x <= maxX * 1.0001; x *= 10) ticks.push(x);
    const opts = {
      title: "Latency by percentile (spectrum)",
      width: Math.max(280, Perflab.innerWidth(el) || 600),
      height: 260,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, distr: 3, log: 10, range: (u, min, max) => [1, Math.max(max, 10)] } },
      axes: axes(c, (u, vals) => vals.map(percentLabel), (v) => fmtMs(v), "percentile"),
      series: [{ label: "percentile", value: (u, v) => (v == null ? "-" : percentLabel(v)) }]
        .concat(labels.map((label, i) => ({
          label: label,
          stroke: styles[i].stroke,
          dash: styles[i].dash,
          width: 1.5,
          spanGaps: true,
          points: { show: false },
          value: (u, v) => (v == null ? "-" : fmtMs(v, 4)),
        }))),
    };
    opts.axes[0].splits = () => ticks;
    opts.axes[0].filter = (u, splits) => splits; // label every tick (50 % is not a power of 10)
    return new uPlot(opts, aligned, el);
  }

  function histogramChart(el, g, color, c) {
    const h = g.histogram;
    if (!h.count.length) {
      el.innerHTML = '<p class="muted">No latency was recorded.</p>';
      return null;
    }
    // one bar per log-spaced bin, at the bin's geometric centre
    const xs = h.lower_ms.map((lo, i) => Math.sqrt(lo * h.upper_ms[i]));
    const opts = {
      title: "Latency histogram · " + groupName(g.labels),
      width: Math.max(280, Perflab.innerWidth(el) || 600),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, distr: 3, log: 10 } },
      // log axis: uPlot hands null for the minor ticks it leaves unlabelled
      axes: axes(c, (u, vals) => vals.map((v) => fmtMs(v, 2)),
        (v) => (v == null ? "" : Perflab.fmt(v, "", 3)), "latency"),
      series: [
        { label: "latency", value: (u, v, si, i) => (i == null ? "-" :
          fmtMs(h.lower_ms[i]) + " – " + fmtMs(h.upper_ms[i])) },
        { label: "requests", stroke: color, fill: color + "99", width: 1,
          paths: uPlot.paths.bars({ size: [0.9, 80] }), points: { show: false },
          value: (u, v) => (v == null ? "-" : String(v)) },
      ],
    };
    return new uPlot(opts, [xs, h.count], el);
  }

  function draw(root, data) {
    const c = { axis: cssVar("--fg-muted", "#555"), grid: cssVar("--grid", "rgba(0,0,0,0.08)") };
    const charts = [];
    const spectrumEl = root.querySelector("#load-spectrum");
    spectrumEl.innerHTML = "";
    const s = spectrumChart(spectrumEl, data, c);
    if (s) charts.push(s);
    // the first histogram has its own box; further groups get one each after it
    root.querySelectorAll(".load-histogram-extra").forEach((e) => e.remove());
    data.groups.forEach((g, i) => {
      let el = root.querySelector("#load-histogram");
      if (i > 0) {
        el = document.createElement("div");
        el.className = "chart load-histogram-extra";
        el.dataset.name = "latency histogram";
        root.appendChild(el);
      }
      el.innerHTML = "";
      const u = histogramChart(el, g, Perflab.PALETTE[i % Perflab.PALETTE.length], c);
      if (u) charts.push(u);
    });
    return charts;
  }

  function init() {
    const dataEl = document.getElementById("load-data");
    const root = document.getElementById("load-charts");
    if (!dataEl || !root) return;
    let charts = [];
    try {
      const data = JSON.parse(dataEl.textContent);
      charts = draw(root, data);
      document.addEventListener("perflab:theme", () => {
        charts.forEach((u) => u.destroy());
        charts = draw(root, data);
      });
      Perflab.autoResize(() => charts);
      window.perflabLoad = { charts: () => charts }; // for tests and the console
      document.body.dataset.loadReady = "1";
    } catch (err) {
      root.insertAdjacentHTML("beforebegin", '<p class="note error">Could not draw the load ' +
        "charts: " + Perflab.escape(err.message) + "</p>");
      throw err;
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
