/* The Services page: the dependency graph (layers from the callers down), RED per operation
 * with sparklines, and the coverage panel. */
(function () {
  "use strict";
  const doc = JSON.parse(document.getElementById("services-data").textContent);
  const esc = Perflab.escape;
  const svgNS = "http://www.w3.org/2000/svg";

  function fmtMs(v) { return v == null ? "-" : v >= 1000 ? (v / 1000).toFixed(2) + " s" :
    v >= 10 ? v.toFixed(0) + " ms" : v.toFixed(2) + " ms"; }
  function fmtRate(v) { return v >= 100 ? v.toFixed(0) + "/s" : v >= 1 ? v.toFixed(1) + "/s" :
    v.toFixed(3) + "/s"; }

  // -- graph: a layer per call depth, callers left
  const edges = doc.edges;
  const names = new Set();
  for (const e of edges) { names.add(e.parent); names.add(e.child); }
  for (const o of doc.red.operations) names.add(o.service);
  const incoming = new Map([...names].map((n) => [n, 0]));
  for (const e of edges) incoming.set(e.child, incoming.get(e.child) + 1);
  const layer = new Map();
  const queue = [...names].filter((n) => incoming.get(n) === 0);
  for (const n of queue) layer.set(n, 0);
  if (!queue.length && names.size) { const first = [...names][0]; layer.set(first, 0); queue.push(first); }
  for (let qi = 0; qi < queue.length; qi++) {
    const n = queue[qi];
    for (const e of edges) {
      if (e.parent === n && !layer.has(e.child) && layer.get(n) < names.size) {
        layer.set(e.child, layer.get(n) + 1); queue.push(e.child);
      }
    }
  }
  for (const n of names) if (!layer.has(n)) layer.set(n, 0);
  const columns = [];
  for (const [n, l] of layer) { (columns[l] = columns[l] || []).push(n); }
  const svg = document.getElementById("graph");
  const W = 180, H = 34, GX = 330, GY = 64;
  const pos = new Map();
  columns.forEach((col, i) => col.sort().forEach((n, j) => pos.set(n, [20 + i * GX, 20 + j * GY])));
  const height = Math.max(120, 40 + Math.max(0, ...columns.map((c) => c.length)) * GY);
  svg.setAttribute("height", height);
  const width = Math.max(600, 40 + columns.length * GX);
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("width", width);
  svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
  function el(tag, attrs, text) {
    const e = document.createElementNS(svgNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    svg.appendChild(e);
    return e;
  }
  for (const e of edges) {
    const [x1, y1] = pos.get(e.parent), [x2, y2] = pos.get(e.child);
    const sx = x1 + W, sy = y1 + H / 2, ex = x2, ey = y2 + H / 2;
    const mx = (sx + ex) / 2;
    el("path", { class: "edge" + (e.errors ? " bad" : ""),
      d: "M" + sx + "," + sy + " C" + mx + "," + sy + " " + mx + "," + ey + " " + ex + "," + ey });
    el("text", { class: "elabel", x: sx + 8, y: sy - 6 },
      fmtRate(e.calls_per_s) + " · " + e.error_pct.toFixed(1) + "% err");
  }
  for (const [n, [x, y]] of pos) {
    const g = el("g", { class: "node" });
    const r = document.createElementNS(svgNS, "rect");
    Object.entries({ x: x, y: y, width: W, height: H, rx: 5 }).forEach(([k, v]) => r.setAttribute(k, v));
    g.appendChild(r);
    const t = document.createElementNS(svgNS, "text");
    t.setAttribute("x", x + 8); t.setAttribute("y", y + 21);
    t.textContent = n.length > 26 ? n.slice(0, 25) + "…" : n;
    g.appendChild(t);
    const a = document.createElementNS(svgNS, "title");
    a.textContent = n; g.appendChild(a);
  }
  if (!names.size) el("text", { x: 20, y: 60 }, "No spans in this window.");

  // -- RED
  function spark(values) {
    const vs = values.map((v) => (v == null ? null : v));
    const max = Math.max(0, ...vs.filter((v) => v != null)) || 1;
    let d = "", pen = false;
    vs.forEach((v, i) => {
      if (v == null) { pen = false; return; }
      const x = (i / Math.max(vs.length - 1, 1) * 118 + 1).toFixed(1);
      const y = (19 - v / max * 17).toFixed(1);
      d += (pen ? "L" : "M") + x + "," + y; pen = true;
    });
    return '<svg class="spark" width="120" height="20"><path d="' + d + '"/></svg>';
  }
  const step = doc.red.step_ns / 1e9;
  document.querySelector("#red tbody").innerHTML = doc.red.operations.map((o) =>
    "<tr><td>" + esc(o.service) + "</td><td>" + esc(o.operation) + "</td><td>" + esc(o.kind) +
    '</td><td class="num">' + o.calls + '</td><td class="num">' + fmtRate(o.rate_per_s) +
    "</td><td>" + spark(o.buckets.map((b) => b.calls / step)) + '</td><td class="num' +
    (o.errors ? " delta-up" : "") + '">' + o.error_pct.toFixed(1) + '%</td><td class="num">' +
    fmtMs(o.p50_ms) + '</td><td class="num">' + fmtMs(o.p95_ms) + '</td><td class="num">' +
    fmtMs(o.p99_ms) + "</td><td>" + spark(o.buckets.map((b) => b.p95_ms)) + "</td></tr>"
  ).join("") || '<tr><td colspan="11" class="muted">No spans in this window.</td></tr>';

  // -- the endpoints load tests hit: per path, requests, traced share, paths with no trace
  function tracesHref(run, path) {
    const end = run.ended_ns == null ? "" : "&end=" + run.ended_ns;
    const tags = path ? "&tags=" + encodeURIComponent("url.path=" + JSON.stringify(path)) : "";
    return "/traces?start=" + run.started_ns + end + tags;
  }
  function pct(v) { return v == null ? "-" : v.toFixed(1) + " %"; }
  function loadTests(runs) {
    if (!runs.length) return "";
    let out = '<h3>Endpoints load tests hit</h3><div id="load-coverage">';
    for (const run of runs) {
      const c = run.coverage;
      out += '<p class="load-run"><a href="/runs/' + run.run_id + '">run ' + run.run_id + " (" +
        esc(run.name) + ")</a>: ";
      if (!c) { out += '<span class="muted">no span arrived during this load test: the target is not traced, or sends its spans elsewhere.</span></p>'; continue; }
      out += "<b>" + c.traces + " of " + c.requests + "</b> requests produced a trace (" +
        pct(c.traced_pct) + ')</p><table class="load-routes"><thead><tr><th>path</th>' +
        "<th class=num>requests</th><th class=num>traces</th><th class=num>traced</th></tr>" +
        "</thead><tbody>" + c.routes.map((r) => '<tr class="' + (r.requests && !r.traces ?
          "untraced" : "") + '"><td>' + (r.traces ? '<a href="' + esc(tracesHref(run, r.path)) +
          '">' + esc(r.path || "(no path)") + "</a>" : esc(r.path || "(no path)") +
          ' <span class="delta-up">no trace</span>') + '</td><td class="num">' + r.requests +
          '</td><td class="num">' + r.traces + '</td><td class="num">' + pct(r.traced_pct) +
          "</td></tr>").join("") + "</tbody></table>";
    }
    return out + "</div>";
  }

  // -- coverage
  const c = doc.coverage;
  let html = "";
  if (!c.traces) html = '<p class="muted">No traces in this window.</p>';
  else {
    html += "<p><b>" + c.complete_traces + " of " + c.traces + "</b> traces are complete (" +
      c.complete_pct.toFixed(1) + " %): every span's parent is in the trace.</p>";
    html += "<table><thead><tr><th>entry operation</th><th class=num>traces</th><th class=num>complete</th></tr></thead><tbody>" +
      c.operations.map((o) => "<tr><td>" + esc(o.service) + ": " + esc(o.operation) +
        '</td><td class="num">' + o.traces + '</td><td class="num' +
        (o.complete_pct < 100 ? " delta-up" : "") + '">' + o.complete_pct.toFixed(1) +
        "%</td></tr>").join("") + "</tbody></table>";
    if (c.uninstrumented_calls.length) {
      html += '<h3>Calls into services that send no spans</h3><table id="uninstrumented"><tbody>' +
        c.uninstrumented_calls.map((u) => "<tr><td>" + esc(u.service) + ": " + esc(u.operation) +
          " → " + esc(u.peer || "?") + '</td><td class="num">' + u.calls +
          " calls</td></tr>").join("") + "</tbody></table>";
    }
    if (c.broken_count) {
      html += "<h3>Broken traces</h3><ul>" + c.broken_traces.slice(0, 20).map((b) =>
        '<li><a href="/traces/' + b.trace_id + '">' + b.trace_id + "</a>: " + b.missing_parents +
        " spans with a missing parent</li>").join("") + "</ul>";
    }
  }
  html += loadTests(doc.load_tests || []);
  document.getElementById("coverage").innerHTML = html;
  document.body.dataset.servicesReady = "1";
})();
