/* The Trace page: a waterfall (virtual rows: only what is on screen is in the DOM, so a trace
 * of 10,000 spans scrolls like one of 10), service colours, foldable subtrees, the critical
 * path drawn over each span, the details of the span clicked. */
(function () {
  "use strict";
  const doc = JSON.parse(document.getElementById("trace-data").textContent);
  const esc = Perflab.escape;
  const ROW = 22, OVERSCAN = 30;
  const spans = doc.spans;
  const t0 = doc.trace.start_ns, total = Math.max(doc.trace.duration_ns, 1);
  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
                   "#9c755f", "#ff9da7", "#8cd17d", "#499894", "#d37295", "#e15759"];
  const colour = {};
  doc.trace.services.forEach((s, i) => { colour[s] = PALETTE[i % PALETTE.length]; });

  // the tree: children in start order; spans whose parent is missing start their own subtree
  const byId = new Map(spans.map((s) => [s.span_id, s]));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parent_id && byId.has(s.parent_id)) {
      if (!children.has(s.parent_id)) children.set(s.parent_id, []);
      children.get(s.parent_id).push(s);
    } else roots.push(s);
  }
  const sections = new Map();
  for (const c of doc.critical_path) {
    if (!sections.has(c.span_id)) sections.set(c.span_id, []);
    sections.get(c.span_id).push(c);
  }
  const folded = new Set();
  let rows = [];
  const spanLogs = new Map();  // span id -> its log lines (from /api/logs/trace/{id})
  const MAX_TICKS = 50;  // log ticks drawn on one span

  function flatten() {
    rows = [];
    const stack = roots.slice().reverse().map((s) => [s, 0]);
    while (stack.length) {
      const [s, depth] = stack.pop();
      rows.push([s, depth]);
      if (folded.has(s.span_id)) continue;
      const kids = children.get(s.span_id) || [];
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
    }
    rowsBox.style.height = rows.length * ROW + "px";
  }

  function fmtDur(ns) {
    if (ns >= 1e9) return (ns / 1e9).toFixed(2) + " s";
    if (ns >= 1e6) return (ns / 1e6).toFixed(ns >= 1e8 ? 0 : 2) + " ms";
    if (ns >= 1e3) return (ns / 1e3).toFixed(0) + " µs";
    return ns + " ns";
  }
  const pct = (ns) => (100 * ns / total).toFixed(4) + "%";

  const body = document.getElementById("wf-body");
  const rowsBox = document.getElementById("wf-rows");
  rowsBox.style.position = "relative";
  let selected = null;
  let lastRange = "";

  function rowHtml(i) {
    const [s, depth] = rows[i];
    const kids = children.get(s.span_id);
    const toggle = kids ? (folded.has(s.span_id) ? "▸" : "▾") : "";
    const left = s.start_ns - t0;
    let crit = "";
    for (const c of sections.get(s.span_id) || []) {
      crit += '<div class="wf-crit" style="left:' + pct(c.start_ns - t0) + ";width:" +
        pct(c.end_ns - c.start_ns) + '"></div>';
    }
    const warn = s.warnings.length ? '<span class="wf-warn" title="' +
      esc(s.warnings.join("\n")) + '">⚠</span>' : "";
    const durLeft = (left + s.duration_ns) / total;
    const durPos = durLeft > 0.85 ? "right:" + (100 - 100 * left / total).toFixed(3) +
      "%;margin-right:4px" : "left:calc(" + (100 * durLeft).toFixed(3) + "% + 4px)";
    return '<div class="wf-row' + (s.status === "error" ? " wf-err" : "") +
      (selected === s.span_id ? " selected" : "") + '" data-i="' + i + '" data-span="' +
      s.span_id + '" style="top:' + i * ROW + 'px">' +
      '<div class="wf-label" style="padding-left:' + (4 + depth * 14) + 'px">' +
      '<span class="wf-toggle" data-toggle="' + s.span_id + '">' + toggle + "</span>" +
      '<span class="wf-chip" style="background:' + colour[s.service] + '"></span>' +
      esc(s.service) + ": " + esc(s.name) + warn + "</div>" +
      '<div class="wf-track"><div class="wf-bar" style="left:' + pct(left) + ";width:" +
      pct(s.duration_ns) + ";background:" + colour[s.service] + '"></div>' + crit +
      logTicks(s) +
      '<span class="wf-dur" style="' + durPos + '">' + fmtDur(s.duration_ns) + "</span></div></div>";
  }

  function logTicks(s) {
    return (spanLogs.get(s.span_id) || []).slice(0, MAX_TICKS).map((l) =>
      '<span class="wf-log lvl-' + esc(l.level || "unknown") + '" style="left:' +
      pct(Math.min(Math.max(l.ts_ns - t0, 0), total)) + '" title="' + esc((l.level || "") + " " +
      l.line.slice(0, 200)) + '"></span>').join("");
  }

  function spanLogTable(s) {
    const mine = spanLogs.get(s.span_id) || [];
    return mine.length ? "<h3>logs</h3>" + logTable(mine) : "";
  }

  function logTable(lines) {
    return '<div class="scroll"><table class="log-lines"><colgroup><col class="c-time">' +
      '<col class="c-level"><col></colgroup><thead><tr><th>time (UTC)</th><th>level</th>' +
      "<th>line</th></tr></thead><tbody>" + Perflab.logRows(lines, true) + "</tbody></table></div>";
  }

  function render(force) {
    const first = Math.max(0, Math.floor(body.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((body.scrollTop + body.clientHeight) / ROW) +
      OVERSCAN);
    const key = first + ":" + last;
    if (!force && key === lastRange) return;
    lastRange = key;
    let html = "";
    for (let i = first; i < last; i++) html += rowHtml(i);
    rowsBox.innerHTML = html;
  }

  function axis() {
    const box = document.getElementById("wf-axis");
    let html = "";
    for (let i = 0; i <= 4; i++) {
      html += '<span style="left:' + (i * 25) + '%">' + fmtDur(total * i / 4) + "</span>";
    }
    box.innerHTML = html;
  }

  // the profiles of the process that served this span: its service's, and of those the one
  // with its PID when its resource says which
  function ownProfiles(s) {
    const mine = doc.profiles.filter((p) => p.services.includes(s.service) &&
      (!s.pid || !p.pid || p.pid === s.pid));
    return mine.length ? '<h3>profile</h3><ul class="span-profiles">' + mine.map((p) => "<li>" +
      profileLink(p) + "</li>").join("") + "</ul>" : "";
  }

  function detail(s) {
    const attrs = Object.entries(s.attrs).map(([k, v]) => "<tr><td>" + esc(k) + "</td><td>" +
      esc(typeof v === "string" ? v : JSON.stringify(v)) + "</td></tr>").join("");
    const events = s.events.map((e) => "<tr><td>+" + fmtDur(e.ts_ns - s.start_ns) +
      "</td><td>" + esc(e.name) + " " + esc(JSON.stringify(e.attrs)) + "</td></tr>").join("");
    const warnings = s.warnings.map((w) => '<p class="note warn">' + esc(w) + "</p>").join("");
    document.getElementById("span-detail").innerHTML =
      "<h3>" + esc(s.service) + ": " + esc(s.name) + "</h3>" + warnings +
      '<div class="meta"><span><b>kind</b> ' + esc(s.kind) + "</span><span><b>status</b> " +
      esc(s.status) + (s.status_message ? " · " + esc(s.status_message) : "") +
      "</span><span><b>start</b> +" + fmtDur(s.start_ns - t0) + "</span><span><b>duration</b> " +
      fmtDur(s.duration_ns) + "</span><span><b>on the critical path</b> " +
      fmtDur(s.critical_ns) + "</span><span><b>span</b> <code>" + esc(s.span_id) +
      "</code></span></div>" +
      (attrs ? "<table><thead><tr><th>attribute</th><th>value</th></tr></thead><tbody>" + attrs +
        "</tbody></table>" : '<p class="muted">no attributes</p>') +
      (events ? "<h3>events</h3><table><tbody>" + events + "</tbody></table>" : "") +
      spanLogTable(s) + ownProfiles(s);
  }

  rowsBox.addEventListener("click", (ev) => {
    const t = ev.target.closest("[data-toggle]");
    if (t && t.textContent) {
      const id = t.dataset.toggle;
      if (folded.has(id)) folded.delete(id); else folded.add(id);
      flatten(); render(true);
      return;
    }
    const row = ev.target.closest(".wf-row");
    if (!row) return;
    selected = row.dataset.span;
    detail(byId.get(selected));
    render(true);
  });
  body.addEventListener("scroll", () => render(false));

  const legend = document.getElementById("legend");
  legend.innerHTML = doc.trace.services.map((s) => '<span><span class="wf-chip" style="background:' +
    colour[s] + '"></span>' + esc(s) + "</span>").join("");
  const prof = document.getElementById("profiles");
  function profileLink(p) {
    return '<a href="' + esc(p.url) + '">' + (p.services.length ? esc(p.services.join(", ")) :
      "a process not in this trace") + (p.pid ? " (PID " + p.pid + ")" : "") + ", run " + p.run +
      " (" + esc(p.run_name) + "): flame graph of the trace's time range</a>";
  }
  prof.innerHTML = doc.profiles.length ? "<ul>" + doc.profiles.map((p) => "<li>" +
    profileLink(p) + "</li>").join("") + "</ul>" :
    '<p class="muted">No process was being profiled while this trace ran (record with <code>perflab record --profile PID</code> to see its code here).</p>';
  axis();
  flatten();
  render(true);
  document.body.dataset.waterfallReady = "1";

  // the log lines that name this trace: ticks on their spans, the span's details, a table
  const logsBox = document.getElementById("trace-logs-box");
  Perflab.fetch("/api/logs/trace/" + encodeURIComponent(doc.trace.trace_id))
    .then((r) => { if (!r.ok) throw new Error("logs: HTTP " + r.status); return r.json(); })
    .then((got) => {
      for (const l of got.lines) {
        if (!l.span_id || !byId.has(l.span_id)) continue;
        if (!spanLogs.has(l.span_id)) spanLogs.set(l.span_id, []);
        spanLogs.get(l.span_id).push(l);
      }
      logsBox.innerHTML = got.lines.length ? '<p class="muted">' + got.lines.length +
        (got.truncated ? " (the first)" : "") + " line" + (got.lines.length === 1 ? "" : "s") +
        ", oldest first; " + Array.from(spanLogs.values()).reduce((n, v) => n + v.length, 0) +
        " of them name their span.</p>" + logTable(got.lines).replace("<table ",
          '<table id="trace-logs" ') : '<p class="muted">No log line names this trace (perflab reads trace ids from the fields OTel, Zap, Logrus and structlog use).</p>';
      render(true);
      if (selected) detail(byId.get(selected));
    })
    .catch((err) => { logsBox.innerHTML = '<p class="error">' + esc(err.message) + "</p>"; })
    .finally(() => { document.body.dataset.traceLogsReady = "1"; });
})();
