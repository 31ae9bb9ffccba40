// The Query page: PromQL through the hub's own Prometheus API, drawn with perflab's charts.
(function () {
  "use strict";
  const P = window.Perflab;
  const page = JSON.parse(document.getElementById("query-page").textContent);
  const form = document.getElementById("query-form");
  const expr = document.getElementById("expr");
  const rangeSel = document.getElementById("range");
  const stepIn = document.getElementById("step");
  const errorBox = document.getElementById("query-error");
  const stats = document.getElementById("query-stats");
  const graph = document.getElementById("graph");
  const tbody = document.querySelector("#result tbody");
  const suggest = document.getElementById("suggest");
  const RANGES = { "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };
  let names = [];
  let labelNames = [];
  let chart = null;

  function labelText(metric) {
    const name = metric.__name__ || "";
    const rest = Object.keys(metric).filter((k) => k !== "__name__").sort()
      .map((k) => k + '="' + metric[k] + '"').join(", ");
    return rest ? name + "{" + rest + "}" : (name || "{}");
  }

  function showError(msg) {
    errorBox.textContent = msg;
    errorBox.hidden = !msg;
  }

  async function api(path, params) {
    const body = new URLSearchParams(params);
    const resp = await fetch(path, { method: "POST", body: body,
      headers: { "Content-Type": "application/x-www-form-urlencoded" } });
    const doc = await resp.json();
    if (doc.status !== "success") throw new Error(doc.error || ("HTTP " + resp.status));
    return doc.data;
  }

  function table(result, type) {
    tbody.textContent = "";
    const rows = type === "scalar" ? [{ metric: {}, value: result }]
      : (type === "vector" ? result : result.map((s) => ({ metric: s.metric,
        value: s.values[s.values.length - 1] })));
    for (const r of rows.slice(0, 2000)) {
      const tr = document.createElement("tr");
      const a = document.createElement("td");
      a.textContent = labelText(r.metric);
      const b = document.createElement("td");
      b.className = "num";
      b.textContent = r.value[1];
      tr.append(a, b);
      tbody.append(tr);
    }
    if (!rows.length) {
      const tr = document.createElement("tr");
      tr.innerHTML = '<td colspan="2" class="muted">Empty query result.</td>';
      tbody.append(tr);
    }
  }

  function draw(matrix, start, end, step) {
    graph.textContent = "";
    if (chart) { chart.destroy(); chart = null; }
    if (!matrix.length) return;
    const xs = [];
    for (let t = start; t <= end + 1e-9; t += step) xs.push(Math.round(t * 1000) / 1000);
    const index = new Map(xs.map((t, i) => [t, i]));
    const shown = matrix.slice(0, 50);
    const data = [xs].concat(shown.map((s) => {
      const ys = new Array(xs.length).fill(null);
      for (const [t, v] of s.values) {
        const i = index.get(Math.round(t * 1000) / 1000);
        if (i !== undefined) ys[i] = parseFloat(v);
      }
      return ys;
    }));
    const el = document.createElement("div");
    graph.append(el);
    chart = P.chart(el, { title: expr.value.trim().slice(0, 120), unit: "",
      labels: shown.map((s) => labelText(s.metric)), data: data, height: 320 });
  }

  async function run(ev) {
    if (ev) ev.preventDefault();
    const q = expr.value.trim();
    if (!q) return;
    showError("");
    const url = new URL(window.location.href);
    url.searchParams.set("expr", q);
    url.searchParams.set("range", rangeSel.value);
    history.replaceState(null, "", url);
    const end = Date.now() / 1000;
    const span = RANGES[rangeSel.value] || 3600;
    const step = parseFloat(stepIn.value) || Math.max(1, Math.round(span / 250));
    const start = Math.floor((end - span) / step) * step;
    const t0 = performance.now();
    try {
      const [inst, rng] = await Promise.all([
        api("/api/v1/query", { query: q, time: end }),
        api("/api/v1/query_range", { query: q, start: start, end: end, step: step })
          .catch((e) => ({ error: e })),
      ]);
      table(inst.result, inst.resultType);
      if (rng && !rng.error) draw(rng.result, start, end, step);
      else { graph.textContent = ""; if (chart) { chart.destroy(); chart = null; } }
      const n = inst.resultType === "vector" || inst.resultType === "matrix" ? inst.result.length : 1;
      stats.textContent = n + " series, " + Math.round(performance.now() - t0) + " ms";
    } catch (e) {
      showError(e.message);
      tbody.textContent = "";
      stats.textContent = "";
    }
    document.body.dataset.query = "1";  // for tests: an answer (or its error) is shown
  }

  // -- autocompletion of metric and label names ------------------------------------------------
  function currentWord() {
    const pos = expr.selectionStart;
    const before = expr.value.slice(0, pos);
    const m = before.match(/[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    return m ? { word: m[0], start: pos - m[0].length, end: pos } : null;
  }

  function showSuggestions() {
    const cur = currentWord();
    suggest.textContent = "";
    if (!cur || cur.word.length < 1) { suggest.hidden = true; return; }
    const inBraces = (expr.value.slice(0, cur.start).match(/\{[^}]*$/) !== null);
    const pool = inBraces ? labelNames : names.concat(page.functions);
    const w = cur.word.toLowerCase();
    const hits = pool.filter((n) => n.toLowerCase().startsWith(w) && n !== cur.word).slice(0, 12)
      .concat(pool.filter((n) => !n.toLowerCase().startsWith(w) && n.toLowerCase().includes(w)).slice(0, 4));
    if (!hits.length) { suggest.hidden = true; return; }
    for (const h of hits) {
      const li = document.createElement("li");
      li.textContent = h;
      li.addEventListener("mousedown", (e) => { e.preventDefault(); accept(h); });
      suggest.append(li);
    }
    suggest.firstChild.classList.add("active");
    suggest.hidden = false;
  }

  function accept(text) {
    const cur = currentWord();
    if (!cur) return;
    expr.value = expr.value.slice(0, cur.start) + text + expr.value.slice(cur.end);
    const pos = cur.start + text.length;
    expr.setSelectionRange(pos, pos);
    suggest.hidden = true;
    expr.focus();
  }

  expr.addEventListener("input", showSuggestions);
  expr.addEventListener("blur", () => { suggest.hidden = true; });
  expr.addEventListener("keydown", (e) => {
    if (!suggest.hidden) {
      const items = Array.from(suggest.children);
      const i = items.findIndex((li) => li.classList.contains("active"));
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        items[i].classList.remove("active");
        const j = (i + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        items[j].classList.add("active");
        return;
      }
      if (e.key === "Tab" || (e.key === "Enter" && !e.shiftKey)) {
        e.preventDefault();
        accept(items[Math.max(0, i)].textContent);
        return;
      }
      if (e.key === "Escape") { suggest.hidden = true; return; }
    }
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); run(); }
  });
  form.addEventListener("submit", run);
  rangeSel.addEventListener("change", run);

  Promise.all([
    Perflab.fetch("/api/v1/label/__name__/values").then((r) => r.json()),
    Perflab.fetch("/api/v1/labels").then((r) => r.json()),
  ]).then(([n, l]) => {
    names = n.data || [];
    labelNames = l.data || [];
    document.body.dataset.completions = "1";
  }).catch(() => { document.body.dataset.completions = "failed"; });
  if (expr.value.trim()) run();
})();
