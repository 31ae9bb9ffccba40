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
  // areas top to bottom: the machine (CPU, memory, pressure, disk), its network, its processes
  const AREA_ORDER = ["system", "net", "process", "load", "profile", "bench", "trace"];
  // charts within an area by importance: the first prefix a series name starts with
  const IMPORTANCE = ["load.rps", "load.latency_ms", "load.service_time_ms", "load.errors_per_s",
    "load.late_per_s", "load.connections",
    "system.cpu.", "system.mem.used", "system.mem.available", "system.mem.", "system.psi.",
    "system.disk.util", "system.disk.read_bytes", "system.disk.write_bytes", "system.disk.",
    "net.if.rx_bytes", "net.if.tx_bytes", "net.if.", "net.tcp.established", "net.tcp.",
    "system.load1", "system.load5", "system.load15", "system.procs.", "system.context",
    "system.forks", "process.cpu.", "process.rss", "process.read", "process.write",
    "process.threads", "process.fds"];
  // what a chart shows, in words (the Overview's titles); the series' name is its tooltip
  const TITLES = {
    "load.rps": "Throughput", "load.latency_ms": "Latency percentiles",
    "load.service_time_ms": "Service time percentiles", "load.errors_per_s": "Errors",
    "load.late_per_s": "Late starts (over 1 ms behind schedule)", "load.connections": "Connections",
    "system.cpu.pct": "CPU by mode", "system.context_switches_per_s": "Context switches",
    "system.forks_per_s": "Processes started (forks)",
    "system.load1": "Load average, 1 min", "system.load5": "Load average, 5 min",
    "system.load15": "Load average, 15 min",
    "system.procs.running": "Processes running", "system.procs.blocked": "Processes blocked on I/O",
    "system.mem.used_bytes": "Memory used", "system.mem.available_bytes": "Memory available",
    "system.mem.cached_bytes": "Page cache", "system.mem.dirty_bytes": "Dirty pages",
    "system.mem.total_bytes": "Memory total", "system.mem.swap_used_bytes": "Swap used",
    "system.mem.swap_in_bytes_per_s": "Swap in", "system.mem.swap_out_bytes_per_s": "Swap out",
    "system.mem.major_faults_per_s": "Major page faults",
    "system.psi.some_pct": "Pressure stall, some, PSI avg10",
    "system.psi.full_pct": "Pressure stall, full, PSI avg10",
    "system.psi.some_stall_pct": "Time stalled, some tasks",
    "system.psi.full_stall_pct": "Time stalled, all tasks",
    "system.disk.util_pct": "Disk utilisation", "system.disk.reads_per_s": "Disk reads",
    "system.disk.writes_per_s": "Disk writes", "system.disk.read_bytes_per_s": "Disk read throughput",
    "system.disk.write_bytes_per_s": "Disk write throughput",
    "system.disk.read_await_s": "Disk read latency, await",
    "system.disk.write_await_s": "Disk write latency, await",
    "system.disk.queue_size": "Disk queue size",
    "net.if.rx_bytes_per_s": "Network received", "net.if.tx_bytes_per_s": "Network sent",
    "net.if.rx_packets_per_s": "Packets received", "net.if.tx_packets_per_s": "Packets sent",
    "net.if.rx_errs_per_s": "Receive errors", "net.if.tx_errs_per_s": "Send errors",
    "net.if.rx_drops_per_s": "Receive drops", "net.if.tx_drops_per_s": "Send drops",
    "net.tcp.established": "TCP connections established",
    "net.tcp.time_wait": "TCP connections in TIME-WAIT", "net.tcp.retrans_per_s": "TCP retransmits",
    "net.tcp.resets_per_s": "TCP resets", "net.tcp.listen_drops_per_s": "TCP listen drops",
    "net.tcp.listen_overflows_per_s": "TCP listen queue overflows",
    "process.cpu.pct": "Process CPU", "process.rss_bytes": "Process resident memory",
    "process.threads": "Process threads", "process.fds": "Process open files",
    "process.read_bytes_per_s": "Process disk reads",
    "process.write_bytes_per_s": "Process disk writes",
  };
  P.TITLES = TITLES;
  P.TOP_N = 10;  // processes per chart, the rest summed as "others"
  P.HEATMAP_CPUS = 16;  // from this many CPUs, the per-CPU chart is a heatmap
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
      laneBg: cssVar("--event-lane", "rgba(225,87,89,0.22)"),
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

  // The number formats of units.py, rule for rule (tests/integration/test_hub_browser.py
  // checks a table of values against units.format_value), so a figure reads the same on the
  // command line, in the dashboard and in a report.

  /** units._sig: `digits` significant digits, never scientific notation. */
  function sig(v, digits) {
    if (v === 0) return "0";
    if (!isFinite(v)) return String(v);
    const mag = Math.floor(Math.log10(Math.abs(v)));
    return v.toFixed(Math.min(100, Math.max(0, digits - 1 - mag)));
  }

  /** units.format_duration_ns: 1.23ms, 45.6µs, 2m05s, 1h02m03s; zero is 0s, as Go writes it. */
  function durationNs(ns, digits) {
    if (ns === 0) return "0s";
    const a = Math.abs(ns);
    if (a >= 60e9) {
      const total = Math.abs(Math.round(ns / 1e9));
      const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
      const two = (x) => String(x).padStart(2, "0");
      return (ns < 0 ? "-" : "") + (h ? h + "h" + two(m) + "m" + two(s) + "s" : m + "m" + two(s) + "s");
    }
    for (const [unit, scale] of [["s", 1e9], ["ms", 1e6], ["µs", 1e3]]) {
      if (a >= scale) return sig(ns / scale, digits) + unit;
    }
    return sig(ns, digits) + "ns";
  }

  /** units.format_size: 512B, 1.50KiB, 3.20GiB (binary). */
  function size(n, digits) {
    const a = Math.abs(n);
    for (const [unit, scale] of [["TiB", 2 ** 40], ["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 1024]]) {
      if (a >= scale) return sig(n / scale, digits) + unit;
    }
    return Math.trunc(n) + "B";
  }

  /** units.format_rate: 12.5/s, 3.40k/s (SI). */
  function rate(v, unit, digits) {
    const a = Math.abs(v);
    for (const [suffix, scale] of [["G", 1e9], ["M", 1e6], ["k", 1e3]]) {
      if (a >= scale) return sig(v / scale, digits) + suffix + unit;
    }
    return sig(v, digits) + unit;
  }

  /** A value in the unit of its series, as units.format_value writes it: 12.5%, 1.20GiB,
   *  3.40MiB/s, 120/s, 2.35ms, 1m40s; `digits` significant digits (3 unless given). */
  P.fmt = function (v, unit, digits) {
    if (v == null || Number.isNaN(v)) return "-";
    const d = digits || 3;
    unit = unit || "";
    const suffix = unit ? " " + unit : "";
    if (!isFinite(v)) return (v > 0 ? "∞" : "-∞") + suffix;  // a rate over no time
    switch (unit) {
      case "%": return v.toFixed(1) + "%";
      case "bytes": return size(v, d);
      case "bytes/s": return size(v, d) + "/s";
      case "/s": return rate(v, "/s", d);
      case "s": return durationNs(v * 1e9, d);
      case "ms": return durationNs(v * 1e6, d);
      default: break;
    }
    const slash = unit.indexOf("/");  // benchmark units: sec/op, B/op, allocs/op
    if (slash >= 0) {
      const per = unit.slice(0, slash), what = unit.slice(slash + 1);
      if (per === "sec" || per === "s") return durationNs(v * 1e9, d) + "/" + what;
      if (per === "B") return size(v, d) + "/" + what;
    }
    if (Number.isInteger(v) && Math.abs(v) < 1e6) return v + suffix;  // a count: 1023, not 1.02k
    return rate(v, suffix, d);
  };

  /**
   * Tick labels of a value axis: as few digits as keep them apart. A narrow range (available
   * memory between 23.10 and 23.14 GiB) needs more than the 3 significant digits of a figure,
   * or every tick reads "23.1GiB"; the digits follow the tick step.
   */
  P.tickLabels = function (vals, unit) {
    let out = [];
    for (let d = 3; d <= 12; d++) {
      out = vals.map((v) => (v == null ? "" : unit === "%" ? pct(v, d - 3) : P.fmt(v, unit, d)));
      if (new Set(out).size === out.length) return out;
    }
    return out;
  };

  function pct(v, decimals) { return v.toFixed(Math.max(0, decimals)) + "%"; }

  // ---- time axis ----------------------------------------------------------------------------

  // tick steps in seconds, from a tenth of a second to months: the first wide enough wins
  const S = 1, M = 60, H = 3600, D = 86400;
  const TIME_INCRS = [0.1, 0.2, 0.5, S, 2 * S, 5 * S, 10 * S, 15 * S, 30 * S, M, 2 * M, 5 * M,
    10 * M, 15 * M, 30 * M, H, 2 * H, 3 * H, 6 * H, 12 * H, D, 2 * D, 7 * D, 14 * D, 28 * D,
    91 * D, 182 * D, 365 * D];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
    "Dec"];
  const two = (x) => String(x).padStart(2, "0");

  function dayText(d, withYear) {
    return d.getDate() + " " + MONTHS[d.getMonth()] + (withYear ? " " + d.getFullYear() : "");
  }

  /**
   * Labels of a time axis: the clock to the step's precision (14:05:30, 14:05, 14h for whole
   * hours of a long span), or the day when the step is a day or more. The date is written once,
   * under the first tick, and again only under the first tick of each new day: never on
   * every tick.
   */
  P.timeLabels = function (splits, incr) {
    let lastDay = null;
    return splits.map((t, i) => {
      const d = new Date(t * 1000);
      const day = d.getFullYear() * 400 + d.getMonth() * 32 + d.getDate();
      if (incr >= D) {
        const text = dayText(d, i === 0 || d.getMonth() === 0 && d.getDate() === 1);
        lastDay = day;
        return text;
      }
      let text = two(d.getHours()) + ":" + two(d.getMinutes());
      if (incr < M) text += ":" + two(d.getSeconds());
      if (incr < S) text += "." + String(Math.round(d.getMilliseconds() / 100) % 10);
      if (day !== lastDay) text += "\n" + dayText(d, lastDay === null);
      lastDay = day;
      return text;
    });
  };

  /** The x axis of a time chart: steps chosen for the span, labels that never overlap. */
  function timeAxis(c) {
    return { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 },
      incrs: TIME_INCRS, space: 70, size: 44,
      values: (u, splits, axisIdx, space, incr) => P.timeLabels(splits, incr) };
  }

  /** The width inside an element's padding: what a chart in it may take. */
  function innerWidth(el) {
    const cs = getComputedStyle(el);
    return el.clientWidth - (parseFloat(cs.paddingLeft) || 0) - (parseFloat(cs.paddingRight) || 0);
  }
  P.innerWidth = innerWidth;

  /** A duration in seconds, the way people say it: 850ms, 3.02s, 4m 10s, 2h 05m. */
  P.fmtDuration = function (sec) {
    if (sec == null || !isFinite(sec)) return "-";
    if (sec < 60) return P.fmt(sec, "s");
    const m = Math.floor(sec / 60);
    if (m < 60) return m + "m " + String(Math.round(sec - m * 60)).padStart(2, "0") + "s";
    return Math.floor(m / 60) + "h " + String(m % 60).padStart(2, "0") + "m";
  };

  /** What an event says on a chart: its text, else its kind. */
  P.eventLabel = function (e) { return (e.text || "").trim() || e.kind; };

  /** kind · text · duration, for a tooltip. */
  P.eventTitle = function (e) {
    const parts = [e.kind];
    if ((e.text || "").trim() && e.text.trim() !== e.kind) parts.push(e.text.trim());
    if (e.end_ns != null) parts.push(P.fmtDuration((e.end_ns - e.ts_ns) / 1e9));
    return parts.join(" · ");
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

  /**
   * fetch() for the pages' reads, with the hub's cookie. A GET that failed before any answer came
   * (Chromium fails every request in flight when the machine's addresses change,
   * net::ERR_NETWORK_CHANGED, as `perflab chaos netns create` does) is sent again, five times at
   * most, 0.25, 0.5, 1, 2 and 4 s later: links that come and go for seconds (a namespace's veth
   * being set up, a VPN reconnecting) cut every read sent meanwhile. An HTTP error is an answer
   * and is returned; other methods and aborted requests are never repeated.
   */
  P.fetch = function (url, opts) {
    const options = Object.assign({ credentials: "same-origin" }, opts);
    const repeatable = (options.method || "GET").toUpperCase() === "GET";
    const attempt = (n) => fetch(url, options).catch((err) => {
      if (!repeatable || n >= 5 || err.name === "AbortError") throw err;
      return new Promise((resolve) => setTimeout(resolve, 250 * 2 ** n)).then(() => attempt(n + 1));
    });
    return attempt(0);
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
      // spanmetrics counters and buckets are for PromQL; trace.* charts say the same per interval
      if (s.name.startsWith("traces_span_metrics_")) continue;
      // perflab's own node_exporter-named copies of this machine's system.* series (job
      // "perflab") are for PromQL and the Query page; a scraped node_exporter's are shown
      if (s.name.startsWith("node_") && (s.labels || {}).job === "perflab") continue;
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
    const nameRank = (n) => {
      let i = IMPORTANCE.indexOf(n);  // a whole name first: load15 is not load1
      if (i < 0) i = IMPORTANCE.findIndex((prefix) => n.startsWith(prefix));
      return i < 0 ? IMPORTANCE.length : i;
    };
    return Array.from(areas.keys())
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
      .map((area) => ({
        area: area,
        // by importance (CPU, memory, pressure, disk ...), then name; an aggregate ("all")
        // before its per-item chart ("each")
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

  /**
   * Events drawn on a chart. Bands (events with an end) get a lane at the top of the plot,
   * holding their text (clipped to the band), and a faint fill down the plot; bands that
   * overlap (a phase and its steps) take separate lanes. Instants are dashed lines with their
   * text beside them, left out where it would overlap the previous one. Hovering a band or
   * a line shows kind · text · duration.
   */
  const LANE = 15;  // css px: the height of one lane of event bands

  /** Lanes of the bands: the first lane whose last band ends before this one starts. */
  function eventLanes(events) {
    const ends = [];
    const out = new Map();
    const bands = events.filter((e) => e.end_ns != null)
      .sort((x, y) => x.ts_ns - y.ts_ns || y.end_ns - x.end_ns);
    for (const e of bands) {
      let i = ends.findIndex((end) => end <= e.ts_ns);
      if (i < 0) { i = ends.length; ends.push(0); }
      ends[i] = e.end_ns;
      out.set(e, i);
    }
    return { lane: out, count: Math.min(ends.length, 3) };
  }

  function eventsPlugin(getEvents, toX) {
    let tip = null;
    function span(u, e) {
      const a = u.valToPos(toX(e.ts_ns), "x", true);
      const b = e.end_ns == null ? a : u.valToPos(toX(e.end_ns), "x", true);
      return [a, b];
    }
    const lanes = eventLanes;
    function hits(u, left) {
      const pr = devicePixelRatio;
      const x = left * pr + u.bbox.left;
      const found = [];
      for (const e of getEvents()) {
        const [a, b] = span(u, e);
        if (e.end_ns == null ? Math.abs(x - a) <= 4 * pr : x >= a && x <= b) found.push(e);
      }
      return found;
    }
    return {
      hooks: {
        init: [(u) => {
          tip = document.createElement("div");
          tip.className = "event-tip";
          tip.hidden = true;
          u.over.appendChild(tip);
        }],
        setCursor: [(u) => {
          if (!tip) return;
          const { left, top } = u.cursor;
          const found = left == null || left < 0 ? [] : hits(u, left);
          if (!found.length) { tip.hidden = true; return; }
          tip.textContent = found.map(P.eventTitle).join("\n");
          tip.hidden = false;
          const w = u.over.clientWidth;
          tip.style.left = Math.min(left + 12, Math.max(0, w - tip.offsetWidth - 4)) + "px";
          tip.style.top = Math.max(0, (top == null ? 0 : top) - tip.offsetHeight - 8) + "px";
        }],
        drawClear: [(u) => {
          const c = colors();
          const { left, top, width, height } = u.bbox;
          const events = getEvents();
          const { lane } = lanes(events);
          const ctx = u.ctx;
          ctx.save();
          for (const e of events) {
            if (e.end_ns == null) continue;
            let [a, b] = span(u, e);
            a = Math.max(a, left); b = Math.min(b, left + width);
            if (b <= a) continue;
            // neighbouring bands alternate between two tints, so their border shows
            ctx.globalAlpha = lane.get(e) % 2 === 0 ? 0.45 : 0.3;
            ctx.fillStyle = c.band;
            ctx.fillRect(a, top, b - a, height);
          }
          ctx.restore();
        }],
        draw: [(u) => {
          const c = colors();
          const pr = devicePixelRatio;
          const { left, top, width, height } = u.bbox;
          const ctx = u.ctx;
          const events = getEvents();
          const { lane, count } = lanes(events);
          ctx.save();
          ctx.font = (10 * pr) + "px sans-serif";
          ctx.textBaseline = "middle";
          ctx.textAlign = "left";  // uPlot leaves it as its last axis set it
          // a band's label may run past its band, up to the next band of its lane: a short
          // band (a 2 s step of a long run) still says what it was
          const inLane = events.filter((e) => e.end_ns != null && lane.get(e) < count)
            .map((e) => ({ e: e, span: span(u, e) })).sort((x, y) => x.span[0] - y.span[0]);
          const placed = [];
          const laneEnd = new Map();  // where the last label of each lane ends
          inLane.forEach((it, k) => {
            const e = it.e;
            let [a, b] = it.span;
            a = Math.max(a, left); b = Math.min(b, left + width);
            if (b - a < 1) return;
            const y = top + lane.get(e) * LANE * pr;
            ctx.fillStyle = c.laneBg;
            ctx.fillRect(a, y, Math.max(b - a, pr), (LANE - 1) * pr);
            ctx.fillStyle = c.marker;
            ctx.fillRect(a, y, 2 * pr, (LANE - 1) * pr);  // where it starts
            let next = left + width;
            for (let j = k + 1; j < inLane.length; j++) {
              if (lane.get(inLane[j].e) === lane.get(e)) { next = Math.max(a, inLane[j].span[0]); break; }
            }
            const full = P.eventLabel(e);
            const fullW = ctx.measureText(full).width;
            let x = a + 5 * pr;
            const before = laneEnd.get(lane.get(e)) || left;
            if (x + fullW > next && next >= left + width - 1) {
              // the last band near the right edge: its label ends at the edge instead
              x = Math.max(before + 4 * pr, left + width - fullW - 2 * pr);
            }
            const room = next - x - 2 * pr;
            let label = full;
            if (ctx.measureText(label).width > room) {
              while (label.length > 1 && ctx.measureText(label + "…").width > room) {
                label = label.slice(0, -1);
              }
              label = label.length > 1 ? label + "…" : "";
            }
            if (label) {
              ctx.fillStyle = c.text;
              ctx.fillText(label, x, y + (LANE / 2) * pr);
              laneEnd.set(lane.get(e), x + ctx.measureText(label).width);
            }
            placed.push({ text: full, shown: label });
          });
          u.perflab = u.perflab || {};  // the first draw happens inside the constructor
          u.perflab.bandLabels = placed;
          ctx.strokeStyle = c.marker;
          ctx.fillStyle = c.marker;
          ctx.lineWidth = Math.max(1, pr);
          let labelEnd = -Infinity;  // labels that would overlap the previous one are left out
          const labelY = top + (count * LANE + 8) * pr;
          for (const e of events) {
            if (e.end_ns != null) continue;
            const [a] = span(u, e);
            if (a < left || a > left + width) continue;
            ctx.setLineDash([4 * pr, 3 * pr]);
            ctx.beginPath(); ctx.moveTo(a, top); ctx.lineTo(a, top + height); ctx.stroke();
            const label = P.eventLabel(e);
            const w = ctx.measureText(label).width;
            const x = a + w + 3 * pr > left + width ? a - w - 3 * pr : a + 3 * pr;
            if (x > labelEnd) {
              ctx.fillText(label, x, labelY);
              labelEnd = x + w + 6 * pr;
            }
          }
          ctx.restore();
        }],
      },
    };
  }

  /** Colour of a share from 0 to 100 % on a heatmap: pale yellow to dark red. */
  function heat(v) {
    const f = Math.max(0, Math.min(1, v / 100));
    return "hsl(" + Math.round(55 - 55 * f) + ", 90%, " + Math.round(92 - 52 * f) + "%)";
  }

  /** One row per line (series 1 at the bottom), each sample a cell coloured by its value. */
  function heatmapPlugin() {
    return { hooks: { draw: [(u) => {
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      const xs = u.data[0];
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      for (let k = 1; k < u.data.length; k++) {
        const ys = u.data[k];
        const y0 = u.valToPos(k, "y", true), y1 = u.valToPos(k - 1, "y", true);
        for (let i = 0; i < xs.length; i++) {
          const v = ys[i];
          if (v == null) continue;
          const a = u.valToPos(xs[i], "x", true);
          const b = i + 1 < xs.length ? u.valToPos(xs[i + 1], "x", true)
            : a + (i > 0 ? a - u.valToPos(xs[i - 1], "x", true) : 1);
          ctx.fillStyle = heat(v);
          ctx.fillRect(a, y0, Math.max(1, b - a + 0.5), y1 - y0);
        }
      }
      ctx.restore();
    }] } };
  }

  /** Room for the y axis' widest tick label (uPlot's fixed size cuts "1.00ms" short). */
  function axisSize(u, values, axisIdx, cycleNum) {
    const axis = u.axes[axisIdx];
    if (cycleNum > 1) return axis._size;  // settled: do not grow forever
    let size = axis.ticks.size + axis.gap;
    const longest = (values || []).reduce((m, v) => (String(v).length > m.length ? String(v) : m), "");
    if (longest) {
      u.ctx.font = axis.font[0];
      size += u.ctx.measureText(longest).width / devicePixelRatio;
    }
    return Math.ceil(Math.max(40, size + 4));
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
   *        events: () => [event], time: bool (x in epoch seconds), height, xLabel,
 *        xUnit (time: false: the x values' unit, "s" unless given)}
   */
  P.chart = function (el, spec) {
    const c = colors();
    const unit = spec.unit || "";
    const width = Math.max(280, innerWidth(el) || 600);
    const toX = spec.eventX || ((ns) => ns / 1e9);
    const opts = {
      title: spec.title,
      width: width,
      height: spec.height || 170 + eventLanes(spec.events ? spec.events() : []).count * LANE,
      cursor: {
        sync: spec.group ? { key: spec.group.key, setSeries: false } : undefined,
        drag: { x: true, y: false, setScale: true },
      },
      scales: {
        x: { time: spec.time !== false },
        // headroom above the data for the event lanes, so no line hides under them
        y: { range: (u, dmin, dmax) => {
          const r = spec.range ? [Math.min(spec.range[0], dmin), Math.max(spec.range[1], dmax)]
            : uPlot.rangeNum(dmin, dmax, 0.1, true);
          const lanesPx = eventLanes(spec.events ? spec.events() : []).count * LANE;
          const plotPx = (u.bbox && u.bbox.height ? u.bbox.height / devicePixelRatio
            : (spec.height || 170) - 70);
          if (!lanesPx || plotPx <= lanesPx * 1.5) return r;
          const frac = (lanesPx + 4) / plotPx;
          return [r[0], r[1] + (r[1] - r[0]) * frac / (1 - frac)];
        } },
      },
      legend: { show: spec.legend !== false, live: true },
      axes: [
        spec.time === false
          ? { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 },
            label: spec.xLabel, labelSize: spec.xLabel ? 18 : 0, space: 60,
            values: (u, vals) => P.tickLabels(vals, spec.xUnit || "s") }
          : timeAxis(c),
        { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 },
          size: axisSize, values: (u, vals) => P.tickLabels(vals, unit) },
      ],
      series: [{ label: spec.time === false ? (spec.xLabel || "x") : "Time",
        // the cursor's time to the second (uPlot's default stops at minutes)
        value: spec.time === false ? (u, v) => (v == null ? "-" : P.fmt(v, spec.xUnit || "s"))
          : "{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}" }].concat(spec.labels.map((label, i) => ({
        label: label,
        stroke: (spec.colors && spec.colors[i]) || PALETTE[i % PALETTE.length],
        // 1 px: a wider line strokes ~3x slower on big series (zooming 3 charts of 3 x 100k
        // points took 3 frames at 1.25 px, 1 frame at 1 px; benchmarks/bench_chart_points.py)
        width: 1,
        spanGaps: true,
        points: { show: false },
        value: (u, v) => (v == null ? "-" : P.fmt(v, unit, 4)),
      }))),
      plugins: [eventsPlugin(spec.events || (() => []), toX)],
      hooks: {
        setScale: [(u, key) => { if (key === "x" && spec.group) spec.group.scaleChanged(u); }],
      },
    };
    if (spec.heatmap) {
      // a row per line: the y axis names the rows, the cells show the values
      const n = spec.labels.length;
      opts.height = Math.max(opts.height, 60 + n * 7);
      opts.scales.y = { range: () => [0, n] };
      opts.legend = { show: false };
      opts.axes[1] = Object.assign({}, opts.axes[1], {
        grid: { show: false },
        splits: (u) => {
          const rowPx = (u.bbox.height / devicePixelRatio) / n;
          const every = Math.max(1, Math.ceil(14 / rowPx));
          const out = [];
          for (let k = 0; k < n; k += every) out.push(k + 0.5);
          return out;
        },
        values: (u, splits) => splits.map((v) => spec.labels[Math.floor(v)]),
      });
      opts.series = opts.series.map((sr, i) => (i === 0 ? sr
        : Object.assign({}, sr, { paths: () => null })));
      opts.plugins.unshift(heatmapPlugin());
    }
    const u = new uPlot(opts, spec.data, el);
    u.perflab = Object.assign(u.perflab || {}, { unit: unit, spec: spec });
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
          const w = u.root.parentElement ? innerWidth(u.root.parentElement) : 0;
          if (w > 0 && Math.abs(w - u.width) > 4) u.setSize({ width: w, height: u.height });
        }
      });
    });
  };

  // ---- the Run view (dashboard Run page and report) -----------------------------------------

  /** Whether every line of a chart holds one value throughout (or nothing at all). */
  function constantLines(lines) {
    for (const l of lines) {
      let first = null;
      for (const v of l.y) {
        if (v == null) continue;
        if (first == null) first = v;
        else if (v !== first) return false;
      }
    }
    return true;
  }

  function lineValue(l) {
    for (const v of l.y) if (v != null) return v;
    return null;
  }

  /** Several lines summed on the union of their x (a missing value counts as nothing). */
  function sumLines(lines) {
    if (lines.length === 1) return lines[0];
    const joined = uPlot.join(lines.map((l) => [l.x, l.y]));
    const x = Array.from(joined[0]);
    const y = new Array(x.length);
    for (let i = 0; i < x.length; i++) {
      let sum = null;
      for (let k = 1; k < joined.length; k++) {
        const v = joined[k][i];
        if (v != null) sum = (sum || 0) + v;
      }
      y[i] = sum;
    }
    return { x: x, y: y };
  }

  /** How much a line weighs in its chart: its mean. */
  function weight(l) {
    let sum = 0, n = 0;
    for (const v of (l ? l.y : [])) if (v != null) { sum += v; n++; }
    return n ? sum / n : -Infinity;
  }

  /** The order of a chart's lines, heaviest first, by the chart's own metric. */
  P.rankLines = function (lines) {
    return lines.map((l, i) => [weight(l), i]).sort((a, b) => b[0] - a[0]).map((p) => p[1]);
  };

  /**
   * What one chart of the run view draws: its lines and their labels.
   * - a chart of processes with more than topN lines: the busiest topN (ranked by the chart's
   *   own metric over the run, `ch.rank`) and the rest summed as one "others" line;
   * - the per-CPU chart: one line per CPU, its busy share (every mode but idle), in colours
   *   of one hue each; from P.HEATMAP_CPUS CPUs up, a heatmap (one row per CPU).
   */
  P.chartView = function (ch, lines, topN) {
    if (ch.name === "system.cpu.pct" && ch.part !== "all" &&
        ch.series.some((s) => ((s.labels || {}).cpu || "all") !== "all")) {
      const byCpu = new Map();
      ch.series.forEach((s, i) => {
        const cpu = (s.labels || {}).cpu;
        if ((s.labels || {}).mode === "idle" || cpu == null) return;
        if (!byCpu.has(cpu)) byCpu.set(cpu, []);
        byCpu.get(cpu).push(lines[i] || { x: [], y: [] });
      });
      const cpus = Array.from(byCpu.keys()).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
      return { title: "CPU busy, per CPU", labels: cpus.map((c) => "cpu " + c),
        lines: cpus.map((c) => sumLines(byCpu.get(c))), heatmap: cpus.length >= P.HEATMAP_CPUS,
        range: [0, 100],
        colors: cpus.map((_, i) => cpuColor(i, cpus.length)) };
    }
    const procs = ch.series.length > topN + 1 &&
      ch.series.every((s) => (s.labels || {}).pid != null);
    if (!procs) return { labels: P.lineLabels(ch.series), lines: lines };
    const rank = ch.rank || P.rankLines(lines);
    const keep = rank.slice(0, topN);
    const rest = rank.slice(topN);
    const kept = keep.map((i) => ch.series[i]);
    return { labels: P.lineLabels(kept).concat(["others (" + rest.length + " processes)"]),
      lines: keep.map((i) => lines[i]).concat([sumLines(rest.map((i) => lines[i]))]),
      colors: keep.map((_, i) => PALETTE[i % PALETTE.length]).concat([cssVar("--fg-muted", "#777")]),
      others: rest.length };
  };

  /** Distinct colours for n CPUs: hues around the wheel, lightness alternating. */
  function cpuColor(i, n) {
    if (n <= PALETTE.length) return PALETTE[i];
    const hue = Math.round((i * 360) / n);
    return "hsl(" + hue + ", 70%, " + (i % 2 ? 38 : 55) + "%)";
  }

  /**
   * Draw every series of a run, grouped by area, one chart per series name. Charts whose
   * series never vary (or hold no sample) are not drawn: each area lists them in a compact
   * table under its charts, one row per series with its value.
   * doc: {run, series, events};
   * load(seriesList, startNs, endNs, points) -> Promise<[{ts_ns, values}] in the same order>.
   * opts.followMs: for a running run, re-read the whole run that often while not zoomed in;
   * opts.reload() -> Promise<doc>: the run's current series and events, read on each refresh,
   * so series that appear while the page is open get their charts (and new events show).
   * Returns {group, charts, constant, ready: Promise} — ready resolves when every chart has
   * its data.
   */
  P.runView = function (container, doc, load, opts) {
    const run = doc.run;
    const endNs = run.ended_ns != null ? run.ended_ns : Date.now() * 1e6;
    const full = [run.started_ns / 1e9, endNs / 1e9];
    const followMs = (opts && opts.followMs) || 0;
    const reload = opts && opts.reload;
    const state = { group: null, charts: [], constant: [], ready: null,
      topN: (opts && opts.topN) || P.TOP_N };
    let current = doc;
    const events = () => current.events || [];
    let slots = [];      // charts drawn: {el, chart, lines}
    let layoutKey = "";  // what the layout was built for: series per chart, constant or not

    function points() {
      const w = container.clientWidth || 1200;
      const cols = Math.max(1, Math.floor((w + 10) / 570));
      return Math.max(200, Math.min(4000, Math.round((w / cols) * 2)));
    }

    async function fetchLines(ch, startNs, stopNs, n) {
      const got = await load(ch.series, startNs, stopNs, n);
      return got.map((g) => ({ x: P.toSeconds(g.ts_ns), y: g.values }));
    }

    // every chart of the document with its whole-run lines
    async function readAll(d) {
      const areas = P.groupCharts(d.series);
      const n = points();
      const all = [];
      for (const area of areas) for (const ch of area.charts) all.push(ch);
      const lines = await Promise.all(all.map((ch) => fetchLines(ch, null, null, n)));
      all.forEach((ch, i) => {
        ch.lines = lines[i];
        ch.constant = constantLines(lines[i]);
        ch.rank = P.rankLines(lines[i]);  // the whole run's order: a zoom keeps the same lines
      });
      const key = all.map((ch) => ch.key + ":" + ch.series.map((x) => x.id).join(",") +
        (ch.constant ? "=" : "~")).join("|");
      return { areas: areas, key: key };
    }

    function title(ch, view) {
      const words = view.title || TITLES[ch.name] || ch.name;
      return words + (ch.unit ? " (" + ch.unit + ")" : "") +
        (view.others ? " · busiest " + (view.lines.length - 1) : "");
    }

    function constantTable(charts) {
      const rows = [];
      for (const ch of charts) {
        ch.series.forEach((sr, i) => {
          const l = ch.lines[i] || { y: [] };
          const v = lineValue(l);
          rows.push("<tr><td>" + P.escape(sr.name) + "</td><td>" +
            P.escape(P.labelText(sr.labels)) + "</td><td class=num>" +
            (v == null ? '<span class="muted">no samples</span>' : P.escape(P.fmt(v, sr.unit, 4))) +
            "</td></tr>");
        });
      }
      const n = rows.length;
      // a few are shown at once; a long list (every idle interface) waits for a click
      return '<details class="constant"' + (n <= 8 ? " open" : "") + "><summary>" + n +
        " series that never change" +
        (n > 0 ? " (shown as values, not charts)" : "") + "</summary>" +
        '<table class="constant-series"><thead><tr><th>series</th><th>labels</th>' +
        '<th class="num">value</th></tr></thead><tbody>' + rows.join("") +
        "</tbody></table></details>";
    }

    let lastAreas = null;  // what is on the page, for a rebuild in the other theme
    function layout(areas) {
      lastAreas = areas;
      if (state.group) state.group.destroy();
      state.group = P.syncGroup("run");
      state.group.onZoom.push(onZoom);
      container.innerHTML = "";
      slots = [];
      state.constant = [];
      for (const area of areas) {
        const varying = area.charts.filter((ch) => !ch.constant);
        const constant = area.charts.filter((ch) => ch.constant);
        const section = document.createElement("section");
        section.className = "area";
        section.dataset.area = area.area;
        const h = document.createElement("h3");
        h.textContent = area.area + " (" + varying.length + " charts" +
          (constant.length ? ", " + constant.length + " constant" : "") + ")";
        section.appendChild(h);
        const grid = document.createElement("div");
        grid.className = "chart-grid";
        section.appendChild(grid);
        for (const ch of varying) {
          const box = document.createElement("div");
          box.className = "chart";
          box.dataset.name = ch.name;
          grid.appendChild(box);
          slots.push({ el: box, chart: ch });
        }
        if (constant.length) {
          section.insertAdjacentHTML("beforeend", constantTable(constant));
          for (const ch of constant) for (const sr of ch.series) state.constant.push(sr.id);
        }
        container.appendChild(section);
      }
      if (slots.some((slot) => slot.chart.series.length > state.topN + 1 &&
          slot.chart.series.every((s) => (s.labels || {}).pid != null))) {
        container.prepend(topControl());
      }
      state.charts = slots.map((slot) => {
        const view = P.chartView(slot.chart, slot.chart.lines, state.topN);
        const u = P.chart(slot.el, {
          title: title(slot.chart, view),
          unit: slot.chart.unit,
          labels: view.labels,
          colors: view.colors,
          heatmap: view.heatmap,
          range: view.range,
          data: P.align(view.lines, full),
          group: state.group,
          events: events,
        });
        const t = u.root.querySelector(".u-title");
        if (t) t.title = slot.chart.name + (slot.chart.part ? " · " + slot.chart.part : "");
        return u;
      });
    }

    // how many processes a chart shows: a control above the charts (a run of every process)
    function topControl() {
      const bar = document.createElement("div");
      bar.className = "toolbar top-n";
      bar.innerHTML = '<label>Processes per chart <input type="number" min="1" max="100" ' +
        'id="top-n" value="' + state.topN + '"></label><span class="muted">the busiest, by ' +
        "each chart's own metric over the run; the rest are summed as “others”</span>";
      bar.querySelector("input").addEventListener("change", (ev) => {
        const n = Math.max(1, Math.min(100, parseInt(ev.target.value, 10) || P.TOP_N));
        if (n !== state.topN) { state.topN = n; if (lastAreas) layout(lastAreas); }
      });
      return bar;
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
        const mine = slots;
        try {
          const all = await Promise.all(mine.map((slot) =>
            fetchLines(slot.chart, startNs, stopNs, points())));
          if (seq !== zoomSeq || mine !== slots) return;
          all.forEach((lines, i) => {
            mine[i].chart.lines = lines;
            state.charts[i].setData(P.align(P.chartView(mine[i].chart, lines, state.topN).lines,
              full), false);
          });
        } catch (err) {
          console.warn("perflab: could not refine the zoomed window", err);
        }
      }, 250);
    }

    state.ready = readAll(current).then((got) => {
      layoutKey = got.key;
      layout(got.areas);
      return state.charts;
    });
    document.addEventListener("perflab:theme", () => { if (lastAreas) layout(lastAreas); });
    P.autoResize(() => state.charts);

    // A running run grows: extend the time axis and re-read, unless the reader zoomed in.
    // New series (a process that started, a load step) get their charts; a series that starts
    // to vary leaves the constant table for a chart.
    if (followMs > 0 && run.ended_ns == null) {
      let busy = false;
      const timer = setInterval(async () => {
        const zoomed = shown[0] > full[0] + 1e-6 || shown[1] < full[1] - 1e-6;
        if (busy || document.hidden || zoomed || !layoutKey) return;
        busy = true;
        try {
          const next = reload ? await reload() : current;
          const got = await readAll(next);
          current = next;
          full[1] = (next.run.ended_ns != null ? next.run.ended_ns / 1e9 : Date.now() / 1e3);
          shown = full.slice();
          if (got.key !== layoutKey) {
            layoutKey = got.key;
            layout(got.areas);
          } else {
            const byKey = new Map();
            for (const area of got.areas) for (const ch of area.charts) byKey.set(ch.key, ch);
            slots.forEach((slot, i) => {
              const ch = byKey.get(slot.chart.key);
              slot.chart.lines = ch.lines;
              ch.rank = slot.chart.rank;  // the lines the legend names stay the same
              state.charts[i].setData(P.align(P.chartView(slot.chart, ch.lines, state.topN).lines,
                full), true);
            });
            lastAreas = got.areas;
          }
          if (next.run.ended_ns != null) clearInterval(timer);  // it finished: nothing more
        } catch (err) {
          console.warn("perflab: could not refresh the running run", err);
        } finally {
          busy = false;
        }
      }, followMs);
    }
    return state;
  };

  // ---- log volume (Logs page, Run page, report) ---------------------------------------------

  // Loki's detected_level names, most severe first: stacked bottom to top in that order, so
  // the errors stand on the axis where the eye finds them
  P.LEVELS = ["critical", "error", "warn", "info", "debug", "trace", "unknown"];
  const LEVEL_COLORS = { critical: "#8b1a1a", error: "#e15759", warn: "#f28e2b",
    info: "#4e79a7", debug: "#76b7b2", trace: "#b07aa1", unknown: "#9aa1ab" };
  P.levelColor = function (level) { return LEVEL_COLORS[level] || LEVEL_COLORS.unknown; };
  const ERROR_LEVELS = ["critical", "error"];

  /** The x (bucket starts, s) and each level's counts of a perflab.api.log_volume/1 doc. */
  function volumeSteps(vol) {
    const n = Math.max(0, Math.round((vol.end_ns - vol.start_ns) / vol.step_ns));
    const x = new Array(n);
    for (let i = 0; i < n; i++) x[i] = (vol.start_ns + i * vol.step_ns) / 1e9;
    return x;
  }

  /** Whether a volume document counts any line at all. */
  P.volumeLines = function (vol) {
    let n = 0;
    for (const k of Object.keys(vol.levels)) for (const v of vol.levels[k]) n += v;
    return n;
  };

  /** A click on a chart picks the bucket under the cursor: onPick(startNs, endNs), the
   * bucket of x = t being [t + from(), t + from() + step()) seconds. A drag is not a click. */
  function clickPick(u, from, step, onPick) {
    let down = null;
    u.over.addEventListener("mousedown", (ev) => { down = ev.clientX; });
    u.over.addEventListener("click", (ev) => {
      if (down != null && Math.abs(ev.clientX - down) > 3) return;
      const idx = u.cursor.idx;
      if (idx == null || u.data[0][idx] == null) return;
      const t0 = u.data[0][idx] + from();
      onPick(Math.round(t0 * 1e9), Math.round((t0 + step()) * 1e9));
    });
  }

  /** A drag across a chart that does not zoom picks the stretch dragged across. */
  function dragPick(onPick) {
    return (u) => {
      if (u.select.width < 4) return;
      const a = u.posToVal(u.select.left, "x");
      const b = u.posToVal(u.select.left + u.select.width, "x");
      u.setSelect({ left: 0, width: 0 }, false);
      onPick(Math.floor(a * 1e9), Math.ceil(b * 1e9));
    };
  }

  /**
   * Lines per bucket, stacked by level (bars), from a perflab.api.log_volume/1 document.
   * opts: {title, height, onPick(startNs, endNs)}: a click on a bar or a drag across bars.
   */
  P.levelBars = function (el, vol, opts) {
    opts = opts || {};
    const c = colors();
    const x = volumeSteps(vol);
    const levels = P.LEVELS.filter((l) => vol.levels[l]).concat(
      Object.keys(vol.levels).filter((l) => !P.LEVELS.includes(l)).sort());
    // cumulative from the bottom level up; drawn top-down so each bar shows its own share
    const cum = [];
    let below = new Array(x.length).fill(0);
    for (const l of levels) {
      const own = vol.levels[l];
      const top = below.map((v, i) => v + (own[i] || 0));
      cum.push(top);
      below = top;
    }
    const order = levels.map((_, i) => i).reverse();
    const stepS = vol.step_ns / 1e9;
    const hooks = {};  // setSelect is added once the chart exists: it reads the chart
    const u = new uPlot({
      title: opts.title,
      width: Math.max(280, innerWidth(el) || 600),
      height: opts.height || 160,
      cursor: { drag: { x: true, y: false, setScale: false } },
      scales: { x: { time: true, range: () => [x[0], x[x.length - 1] + stepS] } },
      legend: { show: true, live: true },
      axes: [timeAxis(c), { stroke: c.axis, grid: { stroke: c.grid, width: 1 },
        ticks: { stroke: c.grid, width: 1 }, size: axisSize,
        values: (uu, vals) => P.tickLabels(vals, "") }],
      series: [{ label: "Time", value: "{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}" }].concat(order.map((i) => ({
        label: levels[i],
        stroke: P.levelColor(levels[i]),
        fill: P.levelColor(levels[i]),
        width: 0,
        paths: uPlot.paths.bars({ size: [0.9, 60], align: 1 }),
        points: { show: false },
        value: (uu, v, si, idx) => (idx == null ? "-" : String(vol.levels[levels[i]][idx] || 0)),
      }))),
      hooks: hooks,
    }, [x].concat(order.map((i) => cum[i])), el);
    if (opts.onPick) {
      hooks.setSelect = [dragPick(opts.onPick)];
      clickPick(u, () => 0, () => stepS, opts.onPick);
    }
    return u;
  };

  /** lines/s and error-level lines/s of a volume document, each bucket's rate at its middle
   * (so a peak sits where its lines were). */
  function rateLines(vol) {
    const x = volumeSteps(vol);
    const stepS = vol.step_ns / 1e9;
    const all = new Array(x.length).fill(0), errors = new Array(x.length).fill(0);
    for (const l of Object.keys(vol.levels)) {
      vol.levels[l].forEach((v, i) => {
        all[i] += v;
        if (ERROR_LEVELS.includes(l)) errors[i] += v;
      });
    }
    const mid = x.map((t) => t + stepS / 2);
    return [{ x: mid, y: all.map((v) => v / stepS) }, { x: mid, y: errors.map((v) => v / stepS) }];
  }

  /**
   * A run's log lines on its timeline: lines/s and error-level lines/s (error, critical) per
   * bucket, as lines of a chart in the run's sync group (a zoom zooms it too).
   * opts: {group, events, full: [start, end] s (the run's x range), onPick(startNs, endNs)}.
   * u.perflab.setVolume(vol, full) replaces the data (a running run), keeping a zoom.
   */
  P.logRates = function (el, vol, opts) {
    opts = opts || {};
    let stepS = vol.step_ns / 1e9;
    const u = P.chart(el, {
      title: "Log lines (lines/s), by " + P.fmtDuration(stepS),
      unit: "/s",
      labels: ["all levels", "error-level"],
      colors: [P.levelColor("info"), P.levelColor("error")],
      data: P.align(rateLines(vol), opts.full),
      group: opts.group,
      events: opts.events,
    });
    if (opts.onPick) clickPick(u, () => -stepS / 2, () => stepS, opts.onPick);
    u.perflab.setVolume = (next, full) => {
      const { min, max } = u.scales.x;
      const zoomed = min > u.data[0][0] + 1e-6 || max < u.data[0][u.data[0].length - 1] - 1e-6;
      stepS = next.step_ns / 1e9;
      u.setData(P.align(rateLines(next), full), !zoomed);
    };
    return u;
  };

  /** A log line's time to the millisecond, UTC, as the Logs page prints it; `short`:
   * without the year, as a row shows it (logs/_pages.py's log_time writes the same). */
  P.logTime = function (ns, short) {
    return new Date(Math.floor(ns / 1e6)).toISOString().replace("T", " ").slice(short ? 5 : 0, 23);
  };

  /** A stream's labels as LogQL writes them: {job="api", env="prod"}. */
  P.streamText = function (labels) {
    return "{" + Object.keys(labels || {}).sort().map((k) => k + '="' + labels[k] + '"')
      .join(", ") + "}";
  };

  /** Table rows of log lines (perflab.api.log_lines/1's lines): time, level, labels, line,
   * and a link to the line's trace unless `noTraceLinks` (on that trace's own page). */
  P.logRows = function (lines, noTraceLinks) {
    return lines.map((l) => {
      const level = l.level || "unknown";
      const trace = l.trace_id && !noTraceLinks ? ' <a class="log-trace" href="/traces/' + P.escape(l.trace_id) +
        '">trace</a>' : "";
      return '<tr class="log-row lvl-' + P.escape(level) + '"><td class="nowrap" title="' +
        P.logTime(l.ts_ns) + ' UTC">' + P.escape(P.logTime(l.ts_ns, true)) +
        '</td><td><span class="lvl">' + P.escape(level) + '</span></td><td class="wrap">' +
        '<span class="log-labels">' + P.escape(P.streamText(l.labels)) + "</span> <code>" +
        P.escape(l.line) + "</code>" +
        trace + "</td></tr>";
    }).join("");
  };

  // ---- benchmark histories (Benchmarks page and the report's bench section) ---------------

  function shortTime(ns) {
    return new Date(ns / 1e6).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  /** Change points as dashed lines between the two commits, the 95 % CI as a band. */
  function benchPlugin(hist, highlight) {
    const lo = hist.points.map((p) => p.lo);
    const hi = hist.points.map((p) => p.hi);
    return {
      hooks: {
        drawAxes: [(u) => {
          const ctx = u.ctx;
          ctx.save();
          if (highlight != null) {  // the commit a report is about: a band one commit wide
            const a = u.valToPos(highlight - 0.5, "x", true);
            const b = u.valToPos(highlight + 0.5, "x", true);
            ctx.fillStyle = cssVar("--event-band", "rgba(225,87,89,0.13)");
            ctx.fillRect(a, u.bbox.top, b - a, u.bbox.height);
          }
          ctx.beginPath();  // nothing outside the plot area
          ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
          ctx.clip();
          ctx.fillStyle = cssVar("--ci-band", "rgba(78,121,167,0.16)");
          ctx.beginPath();
          let open = false;
          const upper = [];
          for (let i = 0; i <= lo.length; i++) {
            if (i < lo.length && lo[i] != null && hi[i] != null) {
              const x = u.valToPos(i, "x", true);
              if (!open) { ctx.moveTo(x, u.valToPos(hi[i], "y", true)); open = true; }
              else ctx.lineTo(x, u.valToPos(hi[i], "y", true));
              upper.push(i);
            } else if (open) {  // close this run of points through its lower bounds
              for (let k = upper.length - 1; k >= 0; k--) {
                ctx.lineTo(u.valToPos(upper[k], "x", true), u.valToPos(lo[upper[k]], "y", true));
              }
              ctx.closePath();
              upper.length = 0;
              open = false;
            }
          }
          ctx.fill();
          ctx.restore();
        }],
        draw: [(u) => {
          const ctx = u.ctx;
          const { top, height, left, width } = u.bbox;
          const dpr = devicePixelRatio;
          const marks = [];
          ctx.save();
          ctx.lineWidth = 2 * dpr;
          ctx.font = "600 " + (11 * dpr) + "px sans-serif";
          for (const c of hist.changes) {
            const x = u.valToPos(c.index - 0.5, "x", true);
            if (x < left || x > left + width) continue;
            const color = c.verdict === "regression" ? cssVar("--bad", "#c0392b") : cssVar("--ok", "#2e8b57");
            ctx.strokeStyle = color;
            ctx.fillStyle = color;
            ctx.setLineDash([5 * dpr, 3 * dpr]);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
            const text = (c.rel_change >= 0 ? "+" : "") + (c.rel_change * 100).toFixed(1) + "%";
            const tw = ctx.measureText(text).width;
            ctx.fillText(text, x + 4 * dpr + tw > left + width ? x - tw - 4 * dpr : x + 4 * dpr, top + 12 * dpr);
            // x in CSS pixels from the plot's left edge, as the cursor and valToPos(v, "x") count
            marks.push({ index: c.index, verdict: c.verdict, x: (x - left) / dpr, color: color });
          }
          ctx.restore();
          u.perflab = u.perflab || {};  // the first draw happens inside the constructor
          u.perflab.marks = marks;
        }],
      },
    };
  }

  /**
   * One benchmark's history: x = commit order, y = the median per commit.
   * hist: {name, unit, points: [{commit, branch, time_ns, median, lo, hi, n, run_id}],
   *        changes: [{index, verdict, rel_change, pvalue, from_commit, to_commit}]}
   * opts: {height, runId: a run to mark with a band (the report's own)}
   */
  P.benchChart = function (el, hist, opts) {
    const c = colors();
    const o = opts || {};
    const pts = hist.points;
    const unit = hist.unit;
    const xs = pts.map((_, i) => i);
    const ys = pts.map((p) => p.median);
    const byIndex = new Map(hist.changes.map((ch) => [ch.index, ch]));
    el.innerHTML = "";
    const hover = document.createElement("div");
    hover.className = "bench-hover muted";
    const commitText = (i) => {
      const p = pts[i];
      if (!p) return "-";
      return p.commit.slice(0, 10) + (p.branch ? " · " + p.branch : "") + " · " + shortTime(p.time_ns);
    };
    const width = Math.max(280, innerWidth(el) || 600);
    const u = new uPlot({
      title: hist.name + " (" + unit + ")",
      width: width,
      height: o.height || 200,
      cursor: { drag: { x: true, y: false, setScale: true }, points: { size: 8 } },
      scales: { x: { time: false, range: () => [-0.5, Math.max(pts.length - 0.5, 0.5)] },
        // the y range holds the confidence band as well as the medians
        y: { range: (u2, dmin, dmax) => {
          let lo = dmin == null ? Infinity : dmin, hi = dmax == null ? -Infinity : dmax;
          for (const p of pts) {
            if (p.lo != null && p.lo < lo) lo = p.lo;
            if (p.hi != null && p.hi > hi) hi = p.hi;
          }
          return lo > hi ? [0, 1] : uPlot.rangeNum(lo, hi, 0.1, true);
        } } },
      legend: { show: true, live: true },
      axes: [
        { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 },
          incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
          values: (u2, vals) => vals.map((v) => (Number.isInteger(v) && pts[v] ? pts[v].commit.slice(0, 7) : "")),
          label: "commit (oldest left)", labelSize: 18 },
        { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 },
          size: axisSize, values: (u2, vals) => P.tickLabels(vals, unit) },
      ],
      series: [
        { label: "commit", value: (u2, v) => (v == null ? "-" : commitText(Math.round(v))) },
        { label: "median", stroke: PALETTE[0], width: 1.5, spanGaps: true,
          points: { show: true, size: 5, fill: PALETTE[0] },
          value: (u2, v, si, idx) => {
            if (v == null || idx == null) return "-";
            const p = pts[idx];
            return P.fmt(v, unit, 4) + (p && p.n ? " (n=" + p.n + ")" : "");
          } },
      ],
      plugins: [benchPlugin(hist, o.runId == null ? null
        : (pts.findIndex((p) => p.run_id === o.runId) >= 0 ? pts.findIndex((p) => p.run_id === o.runId) : null))],
      hooks: {
        setCursor: [(u2) => {
          const idx = u2.cursor.idx;
          const ch = idx == null ? null : byIndex.get(idx);
          if (idx == null) { hover.textContent = ""; return; }
          const p = pts[idx];
          let text = "run " + p.run_id + ": " + p.commit + (p.branch ? " on " + p.branch : "") + ", " + shortTime(p.time_ns);
          if (p.lo != null && p.hi != null) text += "; 95% CI " + P.fmt(p.lo, unit, 4) + " – " + P.fmt(p.hi, unit, 4);
          if (ch) {
            text += " — " + ch.verdict + " " + (ch.rel_change >= 0 ? "+" : "") + (ch.rel_change * 100).toFixed(1) +
              "% since " + ch.from_commit.slice(0, 10) + " (p=" + ch.pvalue.toPrecision(2) + ")";
          }
          hover.textContent = text;
          hover.dataset.commit = p.commit;
          hover.className = "bench-hover " + (ch ? (ch.verdict === "regression" ? "delta-up" : "delta-down") : "muted");
        }],
      },
    }, [xs, ys], el);
    u.perflab = Object.assign(u.perflab || { marks: [] }, { unit: unit, hist: hist });
    el.appendChild(hover);
    return u;
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
