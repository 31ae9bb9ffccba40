// The SLOs page: each SLO's burn rate over time (one line per window), the alert thresholds
// as flat lines, and the times its burn-rate alerts fired as bands on the chart.
(function () {
  "use strict";
  const P = window.Perflab;
  const page = JSON.parse(document.getElementById("slos-page").textContent);
  const charts = [];
  page.slos.forEach((slo, i) => {
    const el = document.getElementById("burn-" + i);
    const windows = Object.keys(slo.lines);
    const n = slo.lines[windows[0]].length;
    const xs = [];
    for (let k = 0; k < n; k++) xs.push(slo.start_s + k * slo.step_s);
    const data = [xs].concat(windows.map((w) => slo.lines[w]));
    const labels = windows.map((w) => "burn " + w);
    for (const f of slo.thresholds) {
      data.push(xs.map(() => f));
      labels.push(f + "× threshold");
    }
    const bands = slo.bands.map((b) => ({ ts_ns: b.ts_ns, end_ns: b.end_ns || page.now_ns,
      kind: "alert", text: b.text, attrs: {} }));
    charts.push(P.chart(el, { title: "Burn rate of " + slo.name, unit: "", labels: labels,
      data: data, events: () => bands, height: 240 }));
  });
  if (P.autoResize) P.autoResize(() => charts);
  document.body.dataset.slos = "1";
})();
