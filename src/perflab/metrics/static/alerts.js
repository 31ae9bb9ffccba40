// The Alerts page: firing alerts over time, with each alert's firing bands on the timeline.
(function () {
  "use strict";
  const P = window.Perflab;
  const page = JSON.parse(document.getElementById("alerts-page").textContent);
  const el = document.getElementById("alert-history");
  const bands = page.history.map((e) => ({ ts_ns: e.ts_ns, end_ns: e.end_ns || page.now_ns,
    kind: "alert", text: e.text, attrs: e.attrs }));
  const xs = [];
  const step = 60;
  const end = Math.floor(page.now_ns / 1e9);
  for (let t = end - 86400; t <= end; t += step) xs.push(t);
  const firing = xs.map((t) => bands.filter((b) => b.ts_ns / 1e9 <= t && b.end_ns / 1e9 >= t).length);
  P.chart(el, { title: "Alerts firing, last 24 h", unit: "", labels: ["firing"],
    data: [xs, firing], events: () => bands, height: 200 });
  document.body.dataset.alerts = "1";
})();
