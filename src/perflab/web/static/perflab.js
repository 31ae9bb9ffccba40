/* perflab charts: the one script behind the dashboard's charts and the HTML report.
 *
 * Everything here is plain browser JavaScript over uPlot (vendored, no build step). The Run
 * page, the report, the Overview and Compare pages all draw with Perflab.chart(); charts that
 * belong together share one SyncGroup, so a zoom or a hover on one moves all of them.
 */
(function () {
  "use strict";

  const P = {};
  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2",
                   "#edc948", "#ff9da7", "#9c755f", "#8cd17d", "#499894", "#d37295"];
  const AREA_ORDER = ["system", "process", "net", "load", "profile", "bench", "trace"];
  const LOAD_ORDER = ["load.rps", "load.latency_ms", "load.service_time_ms", "load.errors_per_s",
                      "load.dropped_per_s", "load.connections"];
  // what a load chart shows, in words, before its series name
  const TITLES = { "load.rps": "Throughput", "load.latency_ms": "Latency percentiles",
    "load.service_time_ms": "Service time percentiles", "load.errors_per_s": "Errors",
    "load.dropped_per_s": "Dropped (could not start on time)", "load.connections": "Connections" };
  P.PALETTE = PALETTE;

  // ---- theme --------------------------------------------------------------------------------

  P.theme = function () {
    const set = document.documentElement.dataset.theme;
    if (set === "light" || set === "dark") return set;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches
      ? "dark" : "light";
  };

  function cssVar(name, fallback) {
    const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  function colors() {
    return {
      axis: cssVar("--fg-muted", "#555"),
      grid: cssVar("--grid", "rgba(0,0,0,0.08)"),
      band: cssVar("--event-band", "rgba(225,87,89,0.13)"),
      marker: cssVar("--event-marker", "#e15759"),
      text: cssVar("--fg", "#222"),
    };
  }

  /** Wire a button that flips the theme; charts listen to "perflab:theme" and rebuild. */
  P.initThemeToggle = function (button) {
    if (!button) return;
    const label = () => { button.textContent = P.theme() === "dark" ? "Light" : "Dark"; };
    label();
    button.addEventListener("click", () => {
      const next = P.theme() === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      try { localStorage.setItem("perflab-theme", next); } catch (e) { /* file:// or private mode */ }
      label();
      document.dispatchEvent(new CustomEvent("perflab:theme"));
    });
  };

  // ---- numbers ------------------------------------------------------------------------------

  function sig(v, digits) {
    if (v === 0 || !isFinite(v)) return String(v);
    const mag = Math.floor(Math.log10(Math.abs(v)));
    const dec = Math.max(0, Math.min(6, digits - 1 - mag));
    return v.toFixed(dec);
  }

  function scaled(v, steps, base, suffixes, digits) {
    let i = 0;
    let x = v;
    while (Math.abs(x) >= base && i < steps) { x /= base; i++; }
    return sig(x, digits) + suffixes[i];
  }

  /** A value in its unit, the way people read it: 1.5GiB, 12.3MiB/s, 45.2%, 3.1k/s. */
  P.fmt = function (v, unit, digits) {
    if (v == null || Number.isNaN(v)) return "-";
    const d = digits || 3;
    switch (unit) {
      case "bytes": return scaled(v, 4, 1024, ["B", "KiB", "MiB", "GiB", "TiB"], d);
      case "bytes/s": return scaled(v, 4, 1024, ["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"], d);
      case "%": return sig(v, d) + "%";
      case "s": return v >= 1 || v === 0 ? sig(v, d) + "s" : v >= 1e-3 ? sig(v * 1e3, d) + "ms"
        : sig(v * 1e6, d) + "µs";
      default: return scaled(v, 3, 1000, ["", "k", "M", "G"], d) + (unit || "");
    }
  };

  P.labelText = function (labels, only) {
    const keys = Object.keys(labels || {}).filter((k) => !only || only.has(k)).sort();
    return keys.map((k) => k + "=" + labels[k]).join(", ");
  };

  /** Line labels for several series on one chart: only the labels that tell them apart. */
  P.lineLabels = function (series) {
    const varying = new Set();
    if (series.length > 1) {
      const keys = new Set();
      for (const s of series) for (const k of Object.keys(s.labels || {})) keys.add(k);
      for (const k of keys) {
        const first = (series[0].labels || {})[k];
        if (series.some((s) => (s.labels || {})[k] !== first)) varying.add(k);
      }
    }
    if (series.length === 1) return [P.labelText(series[0].labels) || series[0].name];
    return series.map((s) => P.labelText(s.labels, varying) || s.name.split(".").slice(-1)[0]);
  };

  P.escape = function (s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
      '"': "&quot;", "'": "&#39;" })[c]);
  };

  // ---- grouping -----------------------------------------------------------------------------

  /** Series -> areas -> charts: one chart per (name, unit), one line per label set. */
  P.groupCharts = function (series) {
    const areas = new Map();
    for (const s of series) {
      const area = s.area || s.name.split(".")[0];
      if (!areas.has(area)) areas.set(area, new Map());
      const charts = areas.get(area);
      // a label set holding "all" (cpu="all") is an aggregate: it gets its own chart, apart
      // from the per-item lines (every core), which would otherwise bury it
      const aggregate = Object.values(s.labels || {}).includes("all");
      const key = s.name + " " + s.unit + (aggregate ? " all" : "");
      if (!charts.has(key)) {
        charts.set(key, { key: key, name: s.name, unit: s.unit, series: [],
          part: aggregate ? "all" : "" });
      }
      charts.get(key).series.push(s);
    }
    for (const charts of areas.values()) {
      for (const ch of charts.values()) {
        if (ch.part === "" && charts.has(ch.key + " all")) ch.part = "each";
      }
      for (const ch of charts.values()) {
        // an aggregate without per-item siblings is just the chart
        if (ch.part === "all" && !charts.has(ch.key.slice(0, -4))) ch.part = "";
      }
    }
    // a run with load tests shows them first: its throughput and latency are the point of it
    const rank = (a) => {
      if (a === "load") return -1;
      const i = AREA_ORDER.indexOf(a);
      return i < 0 ? AREA_ORDER.length : i;
    };
    const nameRank = (n) => { const i = LOAD_ORDER.indexOf(n); return i < 0 ? LOAD_ORDER.length : i; };
    return Array.from(areas.keys())
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
      .map((area) => ({
        area: area,
        // by name (load: throughput, latency, errors first); an aggregate ("all") before its
        // per-item chart ("each")
        charts: Array.from(areas.get(area).values()).sort((a, b) =>
          nameRank(a.name) - nameRank(b.name) || a.name.localeCompare(b.name)
          || (a.part === "all" ? -1 : b.part === "all" ? 1 : 0)),
      }));
  };

  /** Align several (x[], y[]) lines on one x axis, padded with the group's full x range. */
  P.align = function (lines, full) {
    const tables = lines.map((l) => [l.x, l.y]);
    if (full) tables.push([[full[0], full[1]], [null, null]]);
    const joined = uPlot.join(tables);
    if (full) joined.pop();
    return joined;
  };

  P.toSeconds = function (tsNs) {
    const out = new Array(tsNs.length);
    for (let i = 0; i < tsNs.length; i++) out[i] = tsNs[i] / 1e9;
    return out;
  };

  // ---- events on charts ---------------------------------------------------------------------

  /** Events drawn on a chart: bands (end_ns set) under the lines, markers (instants) over. */
  function eventsPlugin(getEvents, toX) {
    function xs(u, e) {
      const a = u.valToPos(toX(e.ts_ns), "x", true);
      const b = e.end_ns == null ? a : u.valToPos(toX(e.end_ns), "x", true);
      return [a, b];
    }
    return {
      hooks: {
        drawClear: [(u) => {
          const c = colors();
          const { left, top, width, height } = u.bbox;
          u.ctx.save();
          u.ctx.fillStyle = c.band;
          for (const e of getEvents()) {
            if (e.end_ns == null) continue;
            let [a, b] = xs(u, e);
            a = Math.max(a, left); b = Math.min(b, left + width);
            if (b > a) u.ctx.fillRect(a, top, b - a, height);
          }
          u.ctx.restore();
        }],
        draw: [(u) => {
          const c = colors();
          const { left, top, width, height } = u.bbox;
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = c.marker;
          ctx.fillStyle = c.marker;
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          ctx.font = (10 * devicePixelRatio) + "px sans-serif";
          let labelEnd = -Infinity;  // labels that would overlap the previous one are left out
          for (const e of getEvents()) {
            const [a] = xs(u, e);
            if (a < left || a > left + width) continue;
            if (e.end_ns == null) {
              ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
              ctx.beginPath(); ctx.moveTo(a, top); ctx.lineTo(a, top + height); ctx.stroke();
            }
            const x = a + 3 * devicePixelRatio;
            if (x > labelEnd) {
              ctx.fillText(e.kind, x, top + 11 * devicePixelRatio);
              labelEnd = x + ctx.measureText(e.kind).width + 6 * devicePixelRatio;
            }
          }
          ctx.restore();
        }],
      },
    };
  }

  // ---- sync ---------------------------------------------------------------------------------

  /** Charts that share one x scale: a zoom (setScale on x) in one is applied to all. */
  class SyncGroup {
    constructor(key) {
      this.key = key;
      this.charts = [];
      this.busy = false;
      this.onZoom = [];
    }
    add(u) { this.charts.push(u); }
    remove(u) { this.charts = this.charts.filter((c) => c !== u); }
    scaleChanged(u) {
      if (this.busy) return;
      const { min, max } = u.scales.x;
      if (min == null || max == null) return;
      this.busy = true;
      try {
        for (const c of this.charts) {
          if (c !== u && (c.scales.x.min !== min || c.scales.x.max !== max)) {
            c.setScale("x", { min: min, max: max });
          }
        }
      } finally {
        this.busy = false;
      }
      for (const f of this.onZoom) f(min, max);
    }
    destroy() { for (const c of this.charts) c.destroy(); this.charts = []; }
  }
  P.SyncGroup = SyncGroup;
  let syncSeq = 0;
  P.syncGroup = function (name) { return new SyncGroup((name || "perflab") + "-" + (++syncSeq)); };

  // ---- one chart ----------------------------------------------------------------------------

  /**
   * A uPlot chart in `el`.
   * spec: {title, unit, labels: [line labels], data: uPlot AlignedData, group: SyncGroup,
   *        events: () => [event], time: bool (x in epoch seconds), height, xLabel}
   */
  P.chart = function (el, spec) {
    const c = colors();
    const unit = spec.unit || "";
    const width = Math.max(280, el.clientWidth || 600);
    const toX = spec.eventX || ((ns) => ns / 1e9);
    const opts = {
      title: spec.title,
      width: width,
      height: spec.height || 170,
      cursor: {
        sync: spec.group ? { key: spec.group.key, setSeries: false } : undefined,
        drag: { x: true, y: false, setScale: true },
      },
      scales: { x: { time: spec.time !== false } },
      legend: { show: spec.legend !== false, live: true },
      axes: [
        { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 },
          label: spec.xLabel, labelSize: spec.xLabel ? 18 : 0,
          values: spec.time === false ? (u, vals) => vals.map((v) => P.fmt(v, "s")) : undefined },
        { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 },
          size: 64, values: (u, vals) => vals.map((v) => P.fmt(v, unit, 3)) },
      ],
      series: [{ label: spec.time === false ? (spec.xLabel || "x") : "Time",
        value: spec.time === false ? (u, v) => (v == null ? "-" : P.fmt(v, "s")) : undefined }].concat(spec.labels.map((label, i) => ({
        label: label,
        stroke: (spec.colors && spec.colors[i]) || PALETTE[i % PALETTE.length],
        width: 1.25,
        spanGaps: true,
        points: { show: false },
        value: (u, v) => (v == null ? "-" : P.fmt(v, unit, 4)),
      }))),
      plugins: [eventsPlugin(spec.events || (() => []), toX)],
      hooks: {
        setScale: [(u, key) => { if (key === "x" && spec.group) spec.group.scaleChanged(u); }],
      },
    };
    const u = new uPlot(opts, spec.data, el);
    u.perflab = { unit: unit, spec: spec };
    if (spec.group) spec.group.add(u);
    return u;
  };

  /** Keep a set of charts as wide as their containers. */
  P.autoResize = function (getCharts) {
    let pending = null;
    window.addEventListener("resize", () => {
      if (pending) cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => {
        for (const u of getCharts()) {
          const w = u.root.parentElement ? u.root.parentElement.clientWidth : 0;
          if (w > 0 && Math.abs(w - u.width) > 4) u.setSize({ width: w, height: u.height });
        }
      });
    });
  };

  // ---- the Run view (dashboard Run page and report) -----------------------------------------

  /**
   * Draw every series of a run, grouped by area, one chart per series name.
   * doc: {run, series, events};
   * load(seriesList, startNs, endNs, points) -> Promise<[{ts_ns, values}] in the same order>.
   * opts.followMs: for a running run, re-read the whole run that often while not zoomed in.
   * Returns {group, charts, ready: Promise} — ready resolves when every chart has its data.
   */
  P.runView = function (container, doc, load, opts) {
    const run = doc.run;
    const endNs = run.ended_ns != null ? run.ended_ns : Date.now() * 1e6;
    const full = [run.started_ns / 1e9, endNs / 1e9];
    const followMs = (opts && opts.followMs) || 0;
    const state = { group: null, charts: [], ready: null, specs: [] };
    const events = () => doc.events || [];

    const areas = P.groupCharts(doc.series);
    container.innerHTML = "";
    const slots = [];
    for (const area of areas) {
      const section = document.createElement("section");
      section.className = "area";
      section.dataset.area = area.area;
      const h = document.createElement("h3");
      h.textContent = area.area + " (" + area.charts.length + ")";
      section.appendChild(h);
      const grid = document.createElement("div");
      grid.className = "chart-grid";
      section.appendChild(grid);
      for (const ch of area.charts) {
        const box = document.createElement("div");
        box.className = "chart";
        box.dataset.name = ch.name;
        grid.appendChild(box);
        slots.push({ el: box, chart: ch });
      }
      container.appendChild(section);
    }

    async function fetchLines(ch, startNs, stopNs, points) {
      const got = await load(ch.series, startNs, stopNs, points);
      return got.map((g) => ({ x: P.toSeconds(g.ts_ns), y: g.values }));
    }

    function build(lineData) {
      if (state.group) state.group.destroy();
      state.group = P.syncGroup("run");
      state.charts = slots.map((slot, i) => P.chart(slot.el, {
        title: (TITLES[slot.chart.name] ? TITLES[slot.chart.name] + " · " : "") +
          slot.chart.name + (slot.chart.unit ? " (" + slot.chart.unit + ")" : "") +
          (slot.chart.part === "all" ? " · all" : slot.chart.part === "each" ? " · each" : ""),
        unit: slot.chart.unit,
        labels: P.lineLabels(slot.chart.series),
        data: P.align(lineData[i], full),
        group: state.group,
        events: events,
      }));
      state.group.onZoom.push(onZoom);
    }

    // After a zoom, fetch the zoomed window at full resolution (debounced), keep the scale.
    let zoomTimer = null;
    let zoomSeq = 0;
    let shown = full.slice();
    function onZoom(min, max) {
      if (Math.abs(min - shown[0]) < 1e-6 && Math.abs(max - shown[1]) < 1e-6) return;
      shown = [min, max];
      if (zoomTimer) clearTimeout(zoomTimer);
      zoomTimer = setTimeout(async () => {
        const seq = ++zoomSeq;
        const zoomedOut = min <= full[0] + 1e-6 && max >= full[1] - 1e-6;
        const startNs = zoomedOut ? null : Math.floor(min * 1e9);
        const stopNs = zoomedOut ? null : Math.ceil(max * 1e9);
        try {
          const all = await Promise.all(slots.map((slot) =>
            fetchLines(slot.chart, startNs, stopNs, points(slot.el))));
          if (seq !== zoomSeq) return;
          all.forEach((lines, i) => {
            const u = state.charts[i];
            lineData[i] = lines;
            u.setData(P.align(lines, full), false);
          });
        } catch (err) {
          console.warn("perflab: could not refine the zoomed window", err);
        }
      }, 250);
    }

    function points(el) { return Math.max(200, Math.min(4000, Math.round((el.clientWidth || 800) * 2))); }

    let lineData = [];
    state.ready = Promise.all(slots.map((slot) =>
      fetchLines(slot.chart, null, null, points(slot.el)))).then((all) => {
      lineData = all;
      build(lineData);
      return state.charts;
    });
    document.addEventListener("perflab:theme", () => { if (state.charts.length) build(lineData); });
    P.autoResize(() => state.charts);

    // A running run grows: extend the time axis and re-read, unless the reader zoomed in.
    if (followMs > 0 && run.ended_ns == null) {
      let busy = false;
      setInterval(async () => {
        const zoomed = shown[0] > full[0] + 1e-6 || shown[1] < full[1] - 1e-6;
        if (busy || document.hidden || zoomed || !state.charts.length) return;
        busy = true;
        try {
          const all = await Promise.all(slots.map((slot) =>
            fetchLines(slot.chart, null, null, points(slot.el))));
          full[1] = Date.now() / 1e3;
          shown = full.slice();
          all.forEach((lines, i) => {
            lineData[i] = lines;
            state.charts[i].setData(P.align(lines, full), true);
          });
        } catch (err) {
          console.warn("perflab: could not refresh the running run", err);
        } finally {
          busy = false;
        }
      }, followMs);
    }
    return state;
  };

  /** A sortable-enough summary table (min/mean/max/p95 per series). */
  P.summaryRows = function (series, summaries) {
    const byId = new Map(summaries.map((s) => [s.series_id, s]));
    return series.map((s) => {
      const m = byId.get(s.id) || {};
      return "<tr><td>" + P.escape(s.name) + "</td><td>" + P.escape(P.labelText(s.labels)) +
        "</td><td class=num>" + (m.count == null ? "-" : m.count) + "</td>" +
        ["min", "mean", "max", "p95"].map((k) => "<td class=num>" + P.fmt(m[k], s.unit, 4) +
          "</td>").join("") + "</tr>";
    }).join("");
  };

  window.Perflab = P;
})();
