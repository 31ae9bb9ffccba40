/* The Logs page: the volume histogram (Perflab.levelBars; a click on a bar or a drag across
 * bars narrows the window to them), a metric query's series as a chart (Perflab.chart), and
 * the live tail (Loki's /loki/api/v1/tail websocket with
 * perflab's fields=1: each entry brings its level, fields and ids, so a live row reads like
 * the rows the server rendered). */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("logs-data").textContent);
  const esc = Perflab.escape;
  const MAX_ROWS = 1000;  // live rows kept on the page; older ones leave from the bottom

  // ---- the histogram ------------------------------------------------------------------------
  const box = document.getElementById("logs-volume");
  let chart = null;
  function pick(startNs, endNs) {
    const q = new URLSearchParams({ query: data.query, window: data.window,
      start: String(startNs), end: String(endNs) });
    window.location.assign("/logs?" + q.toString());
  }
  function draw() {
    if (!box || !data.volume) return;
    if (chart) chart.destroy();
    box.innerHTML = "";
    if (!Perflab.volumeLines(data.volume)) {
      box.innerHTML = '<p class="muted logs-empty">No line in this window.</p>';
      return;
    }
    chart = Perflab.levelBars(box, data.volume, { title: "Lines by level", onPick: pick });
  }
  // ---- a metric query's series, as lines over the window ----------------------------------
  const metricBox = document.getElementById("logs-metric");
  let metric = null;
  function drawMetric() {
    if (!metricBox || !data.chart || !data.chart.length) return;
    if (metric) metric.destroy();
    metricBox.innerHTML = "";
    metric = Perflab.chart(metricBox, {
      title: data.query.length > 120 ? data.query.slice(0, 117) + "…" : data.query,
      labels: data.chart.map((s) => s.label),
      colors: data.chart.every((s) => Perflab.LEVELS.includes(s.level)) ? data.chart.map((s) => Perflab.levelColor(s.level))
        : null,
      data: Perflab.align(data.chart, [data.start_ns / 1e9, data.end_ns / 1e9]),
      height: 240,
    });
  }

  function drawAll() { draw(); drawMetric(); }
  drawAll();
  document.addEventListener("perflab:theme", drawAll);
  Perflab.autoResize(() => [chart, metric].filter((c) => c));

  // ---- the live tail ------------------------------------------------------------------------
  const toggle = document.getElementById("live-toggle");
  const status = document.getElementById("live-status");
  const tbody = document.querySelector("#logs-lines tbody");
  let socket = null;
  let received = 0;

  function fieldsTable(d) {
    const rows = Object.keys(d.fields || {}).map((k) => "<tr><td>" + esc(k) + "</td><td>" +
      esc(d.fields[k]) + "</td></tr>");
    if (d.trace_id) {
      rows.push('<tr><td>trace</td><td><a class="log-trace" href="/traces/' + esc(d.trace_id) +
        '">' + esc(d.trace_id) + "</a>" + (d.span_id ? " · span " + esc(d.span_id) : "") +
        "</td></tr>");
    }
    if (!rows.length) rows.push('<tr><td colspan="2" class="muted">no fields</td></tr>');
    return '<table class="log-fields"><tbody>' + rows.join("") + "</tbody></table>";
  }

  function row(labels, value) {
    const d = value[2] || { level: null, fields: {}, trace_id: null, span_id: null };
    const level = d.level || "unknown";
    const tr = document.createElement("tr");
    tr.className = "log-row live lvl-" + level;
    const ns = Number(value[0]);
    tr.innerHTML = '<td class="nowrap" title="' + Perflab.logTime(ns) + ' UTC">' +
      esc(Perflab.logTime(ns, true)) +
      '</td><td><span class="lvl">' + esc(level) + '</span></td><td class="wrap"><details>' +
      '<summary><span class="log-labels">' + esc(Perflab.streamText(labels)) + "</span> <code>" +
      esc(value[1]) + "</code></summary>" + fieldsTable(d) + "</details></td>";
    return tr;
  }

  function say(text, bad) {
    status.hidden = false;
    status.textContent = text;
    status.className = bad ? "error" : "muted";
  }

  function onMessage(ev) {
    const msg = JSON.parse(ev.data);
    const entries = [];
    for (const s of msg.streams) for (const v of s.values) entries.push([s.stream, v]);
    entries.sort((a, b) => (BigInt(a[1][0]) < BigInt(b[1][0]) ? -1 : 1));
    for (const [labels, value] of entries) {
      tbody.insertBefore(row(labels, value), tbody.firstChild);  // newest on top
      received++;
    }
    while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(tbody.rows.length - 1);
    say("Live: " + received + " new line" + (received === 1 ? "" : "s") + " since the tail started.");
    document.body.dataset.liveLines = String(received);
  }

  function start() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const q = new URLSearchParams({ query: data.query, fields: "1", limit: "100",
      start: String(BigInt(Date.now()) * 1000000n) });
    socket = new WebSocket(scheme + "//" + window.location.host + "/loki/api/v1/tail?" + q);
    received = 0;
    toggle.textContent = "Stop";
    toggle.setAttribute("aria-pressed", "true");
    say("Live: waiting for lines…");
    socket.addEventListener("open", () => { document.body.dataset.liveOpen = "1"; });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", (ev) => {
      document.body.dataset.liveOpen = "0";
      if (socket && ev.code !== 1000 && ev.code !== 1005) {
        say("The live tail stopped: " + (ev.reason || "the connection closed (" + ev.code + ")"), true);
      }
      stopped();
    });
  }

  function stopped() {
    socket = null;
    toggle.textContent = "Start";
    toggle.setAttribute("aria-pressed", "false");
  }

  if (toggle && tbody) {
    toggle.addEventListener("click", () => {
      if (socket) {
        const s = socket;
        socket = null;
        s.close(1000);
        say("Live tail stopped (" + received + " new line" + (received === 1 ? "" : "s") + ").");
        stopped();
      } else {
        start();
      }
    });
  }
  document.body.dataset.logsReady = "1";
})();
