/* The Benchmarks page: each chart reads its history from the API when it comes into view. */
(function () {
  "use strict";
  const doc = JSON.parse(document.getElementById("bench-data").textContent);
  const charts = new Map();  // chart id -> uPlot
  const data = new Map();    // chart id -> history (for redraws)
  const pending = new Set(doc.charts.map((c) => c.id));
  const state = { charts: charts, drawn: 0, failed: 0 };
  window.perflabBench = state;

  function url(c) {
    let u = "/api/benchmarks/" + c.name.split("/").map(encodeURIComponent).join("/") +
      "?unit=" + encodeURIComponent(c.unit);
    if (doc.branch) u += "&branch=" + encodeURIComponent(doc.branch);
    return u;
  }

  function settle() {
    if (pending.size === 0 || state.drawn + state.failed >= doc.charts.length) {
      document.body.dataset.chartsReady = "1";
    }
  }

  function draw(id) {
    const el = document.getElementById(id);
    const hist = data.get(id);
    if (!el || !hist) return;
    if (charts.has(id)) charts.get(id).destroy();
    charts.set(id, Perflab.benchChart(el, hist));
  }

  function load(c) {
    if (!pending.has(c.id)) return;
    pending.delete(c.id);
    Perflab.fetch(url(c))
      .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then((got) => {
        data.set(c.id, Object.assign({ name: got.name }, got.histories[0]));
        draw(c.id);
        state.drawn++;
      })
      .catch((err) => {
        state.failed++;
        const el = document.getElementById(c.id);
        if (el) el.innerHTML = '<p class="note error">' + Perflab.escape(c.name) + ": " + Perflab.escape(err.message) + "</p>";
      })
      .finally(settle);
  }

  // charts in view (or close to it) load first; the others when the reader scrolls to them
  const byId = new Map(doc.charts.map((c) => [c.id, c]));
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (e.isIntersecting) { seen.unobserve(e.target); load(byId.get(e.target.id)); }
    }
  }, { rootMargin: "400px" });
  for (const c of doc.charts) {
    const el = document.getElementById(c.id);
    if (el) seen.observe(el);
  }
  settle();

  // the name filter narrows the table and the charts as you type (the form filters on the server)
  const q = document.getElementById("f-q");
  if (q) {
    q.addEventListener("input", () => {
      const needle = q.value.trim().toLowerCase();
      const hide = (el) => el.classList.toggle("filtered-out", !el.dataset.name.toLowerCase().includes(needle));
      document.querySelectorAll("#benchmarks tbody tr[data-name]").forEach(hide);
      document.querySelectorAll("#bench-charts .bench-chart").forEach(hide);
    });
  }
  const branch = document.getElementById("f-branch");
  if (branch) branch.addEventListener("change", () => branch.form.submit());

  // values in the table in their unit, as the charts show them
  document.querySelectorAll("#benchmarks td.bench-value").forEach((td) => {
    td.textContent = Perflab.fmt(parseFloat(td.dataset.value), td.dataset.unit, 4);
  });

  document.addEventListener("perflab:theme", () => { for (const id of charts.keys()) draw(id); });
  Perflab.autoResize(() => Array.from(charts.values()));
})();
