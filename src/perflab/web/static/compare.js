/* Compare: two runs on relative time (seconds since each run's start), one chart per series. */
(function () {
  "use strict";
  const doc = JSON.parse(document.getElementById("compare-data").textContent);
  const el = document.getElementById("charts");
  const COLORS = ["#4e79a7", "#e15759"];
  let group = null;
  let charts = [];
  let cache = null;

  function load(runId, sid, points) {
    return Perflab.fetch("/api/runs/" + runId + "/series/" + sid + "/samples?points=" + points)
      .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); });
  }

  function rel(w, startNs) {
    const x = new Array(w.ts_ns.length);
    for (let i = 0; i < x.length; i++) x[i] = (w.ts_ns[i] - startNs) / 1e9;
    return { x: x, y: w.values };
  }

  function build() {
    if (group) group.destroy();
    group = Perflab.syncGroup("compare");
    el.innerHTML = "";
    const grid = document.createElement("div");
    grid.className = "chart-grid";
    el.appendChild(grid);
    const span = [0, Math.max(doc.a.duration_s || 0, doc.b.duration_s || 0)];
    charts = cache.map((c) => {
      const box = document.createElement("div");
      box.className = "chart";
      grid.appendChild(box);
      return Perflab.chart(box, {
        title: c.pair.key + (c.pair.unit ? " (" + c.pair.unit + ")" : ""), unit: c.pair.unit,
        labels: ["A #" + doc.a.id, "B #" + doc.b.id], colors: COLORS, time: false,
        data: Perflab.align(c.lines, span), group: group, xLabel: "since start",
      });
    });
  }

  const points = Math.max(200, Math.min(3000, Math.round((el.clientWidth || 800) * 1.5)));
  Promise.all(doc.pairs.map((pair) => Promise.all([
    load(doc.a.id, pair.a, points), load(doc.b.id, pair.b, points),
  ]).then(([wa, wb]) => ({ pair: pair, lines: [rel(wa, doc.a.started_ns), rel(wb, doc.b.started_ns)] }))))
    .then((all) => {
      cache = all;
      build();
      document.body.dataset.chartsReady = "1";
    })
    .catch((err) => {
      el.innerHTML = '<p class="note error">Could not load the charts: ' + Perflab.escape(err.message) + "</p>";
    });
  document.addEventListener("perflab:theme", () => { if (cache) build(); });
  Perflab.autoResize(() => charts);
  window.perflabCompare = { charts: () => charts };
})();
