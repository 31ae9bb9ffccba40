/* The Overview: this machine's latest window from /api/live, refreshed every few seconds. */
(function () {
  "use strict";
  const REFRESH_S = { "5m": 3, "15m": 5, "1h": 10, "6h": 30, "24h": 60 };
  const select = document.getElementById("window");
  const panelsEl = document.getElementById("panels");
  const status = document.getElementById("live-status");
  let group = null;
  let charts = new Map();   // panel key -> {u, ids}
  let timer = null;
  let last = null;
  let inFlight = false;

  function points() { return Math.max(200, Math.min(1500, Math.round((panelsEl.clientWidth || 800) * 1.2))); }

  /** Lines of one panel differ by name (memory, TCP), by labels (CPU mode, device), or both. */
  function labelsOf(panel) {
    const byLabels = Perflab.lineLabels(panel.series);
    const names = new Set(panel.series.map((s) => s.name));
    if (names.size === 1) return byLabels;
    return panel.series.map((s) => {
      const short = s.name.split(".").slice(2).join(".");
      const lab = Perflab.labelText(s.labels);
      return lab ? short + " " + lab : short;
    });
  }

  /** The x range: the window, or less while the recording is younger than it (a hub's first
   *  minute fills the chart instead of a sliver at its right edge). */
  function rangeOf(doc) {
    let first = Infinity;
    for (const p of doc.panels) for (const s of p.series) if (s.ts_ns.length) first = Math.min(first, s.ts_ns[0]);
    const start = Math.max(doc.now_ns - doc.window_ns, isFinite(first) ? first : -Infinity);
    return [start / 1e9, doc.now_ns / 1e9];
  }

  function dataOf(panel, doc) {
    const full = rangeOf(doc);
    return Perflab.align(panel.series.map((s) => ({ x: Perflab.toSeconds(s.ts_ns), y: s.values })), full);
  }

  function signature(panel) { return panel.series.map((s) => s.id).join(","); }

  function build(doc) {
    if (group) group.destroy();
    group = Perflab.syncGroup("overview");
    charts = new Map();
    panelsEl.innerHTML = "";
    const grid = document.createElement("div");
    grid.className = "chart-grid";
    panelsEl.appendChild(grid);
    for (const panel of doc.panels) {
      if (!panel.series.length) continue;
      const box = document.createElement("div");
      box.className = "chart";
      box.dataset.panel = panel.key;
      grid.appendChild(box);
      const u = Perflab.chart(box, {
        title: panel.title, unit: panel.unit, group: group, height: 160,
        labels: labelsOf(panel),
        data: dataOf(panel, doc),
      });
      charts.set(panel.key, { u: u, sig: signature(panel) });
    }
  }

  function update(doc) {
    const same = doc.panels.filter((p) => p.series.length).every((p) => charts.has(p.key) && charts.get(p.key).sig === signature(p));
    const count = doc.panels.filter((p) => p.series.length).length;
    if (!same || count !== charts.size) { build(doc); return; }
    for (const panel of doc.panels) {
      const c = charts.get(panel.key);
      if (c) c.u.setData(dataOf(panel, doc), true);
    }
  }

  function fillTop(rows) {
    const body = document.querySelector("#top tbody");
    body.innerHTML = rows.map((p) => "<tr><td class=num>" + p.pid + "</td><td class=name title=\"" +
      Perflab.escape(p.user + ": " + p.cmdline) + "\">" + Perflab.escape(p.name) +
      "</td><td class=num>" + p.cpu_pct.toFixed(1) + "%</td><td class=num>" +
      Perflab.fmt(p.rss_bytes, "bytes") + "</td><td class=num>" + p.threads + "</td></tr>").join("");
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    try {
      const w = select.value;
      const r = await Perflab.fetch("/api/live?window=" + encodeURIComponent(w) + "&points=" + points());
      if (!r.ok) throw new Error("HTTP " + r.status);
      const doc = await r.json();
      last = doc;
      document.getElementById("no-recording").hidden = doc.run != null;
      // a recording that ended before the window (serve --no-record): say so, not empty charts
      const empty = document.getElementById("window-empty");
      const nothing = doc.run != null && doc.panels.every((p) => p.series.every((s) => !s.ts_ns.length));
      empty.hidden = !nothing;
      if (nothing) {
        empty.textContent = "Nothing recorded in the last " + w + ": the newest recording, run #" +
          doc.run.id + " (" + doc.run.kind + ")" + (doc.run.ended_ns != null ? ", ended " +
          new Date(doc.run.ended_ns / 1e6).toLocaleString() : "") +
          ". Pick a longer window, or run perflab serve without --no-record to record this machine.";
      }
      update(doc);
      fillTop(doc.top);
      status.textContent = (doc.run ? "run #" + doc.run.id + " (" + doc.run.kind + ")" : "no recording") +
        " · updated " + new Date(doc.now_ns / 1e6).toLocaleTimeString() + " · every " + (REFRESH_S[w] || 5) + " s";
      document.body.dataset.liveReady = "1";
    } catch (err) {
      status.textContent = "refresh failed: " + err.message + " (retrying)";
    } finally {
      inFlight = false;
    }
  }

  function schedule() {
    if (timer) clearInterval(timer);
    timer = setInterval(() => { if (!document.hidden) refresh(); }, 1000 * (REFRESH_S[select.value] || 5));
  }

  select.addEventListener("change", () => {
    const url = new URL(location.href);
    url.searchParams.set("window", select.value);
    history.replaceState(null, "", url);
    charts = new Map();
    refresh();
    schedule();
  });
  document.addEventListener("perflab:theme", () => { if (last) build(last); });
  Perflab.autoResize(() => Array.from(charts.values()).map((c) => c.u));
  refresh();
  schedule();
  window.perflabOverview = { charts: () => Array.from(charts.values()).map((c) => c.u) };
})();
