/* The Run page's Profile panel: where profile slices exist, the flame graph of a range chosen
 * on any chart, and the diff of two ranges.
 *
 * Charts zoom on a drag. A shift-drag (or any drag while "Select range" is on) selects a range
 * instead: the panel shows the flame graph of the slices overlapping it (the hub's
 * /runs/{id}/flame page in an iframe) and its top functions (/api/runs/{id}/profile). In diff
 * mode the first selection is range A, the second range B; the panel then shows the
 * differential flame graph and the functions whose share changed most.
 * Slices are drawn as a thin band at the foot of every chart; A and B as shaded bands.
 */
(function () {
  "use strict";
  const panel = document.getElementById("profile-panel");
  if (!panel || !window.perflabRun) return;
  const runId = JSON.parse(document.getElementById("run-data").textContent).run.id;
  const view = window.perflabRun;
  const $ = (sel) => panel.querySelector(sel);
  const state = { slices: [], mode: "zoom", diff: false, a: null, b: null, current: null,
                  origin: null, pid: null };
  const COLORS = { slice: "rgba(176,122,161,0.85)", a: "rgba(78,121,167,0.18)",
                   b: "rgba(242,142,43,0.20)", cur: "rgba(176,122,161,0.16)" };

  function fetchJson(url) {
    return Perflab.fetch(url).then((r) => r.json().then((body) => {
      if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
      return body;
    }));
  }

  const clock = (ns) => new Date(ns / 1e6).toISOString().slice(11, 19);
  const rangeText = (r) => (r ? clock(r[0]) + "–" + clock(r[1]) + " UTC (" +
    ((r[1] - r[0]) / 1e9).toFixed(1) + " s)" : "the whole run");
  // a range as query parameters, with the process chosen when the run profiled several
  const q = (prefix, r) => (r ? "&" + prefix + "start=" + r[0] + "&" + prefix + "end=" + r[1] : "") +
    (prefix !== "b_" && state.pid ? "&pid=" + state.pid : "");
  const pct = (v) => v.toFixed(2) + "%";
  const pp = (v) => (v > 0 ? "+" : "") + v.toFixed(2) + " pp";

  // ---- drawing on the charts -----------------------------------------------------------------

  function band(u, r, color, foot, label) {
    const { left, top, width, height } = u.bbox;
    let a = u.valToPos(r[0] / 1e9, "x", true);
    let b = u.valToPos(r[1] / 1e9, "x", true);
    a = Math.max(a, left); b = Math.min(b, left + width);
    if (b <= a) return;
    u.ctx.fillStyle = color;
    if (foot) u.ctx.fillRect(a, top + height - 4 * devicePixelRatio, Math.max(b - a - devicePixelRatio, 1), 4 * devicePixelRatio);
    else u.ctx.fillRect(a, top, b - a, height);
    if (label) {  // "A" / "B" at the band's foot, above the slice markers
      u.ctx.fillStyle = getComputedStyle(document.documentElement).getPropertyValue("--fg") || "#222";
      u.ctx.font = "600 " + (11 * devicePixelRatio) + "px sans-serif";
      u.ctx.fillText(label, a + 3 * devicePixelRatio, top + height - 8 * devicePixelRatio);
    }
  }

  function drawHook(u) {
    u.ctx.save();
    for (const s of state.slices) {
      if (!state.pid || s.pid === state.pid) band(u, [s.start_ns, s.end_ns], COLORS.slice, true);
    }
    if (state.diff) {
      if (state.a) band(u, state.a, COLORS.a, false, "A");
      if (state.b) band(u, state.b, COLORS.b, false, "B");
    } else if (state.current) {
      band(u, state.current, COLORS.cur, false);
    }
    u.ctx.restore();
  }

  function onSelect(u) {
    if (u.cursor.drag.setScale) return;  // a zoom, not ours
    const { left, width } = u.select;
    if (width < 2) return;
    if (u !== state.origin) {  // the same drag mirrored on the synced charts
      u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
      return;
    }
    const r = [Math.floor(u.posToVal(left, "x") * 1e9), Math.ceil(u.posToVal(left + width, "x") * 1e9)];
    u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
    picked(r);
  }

  function attach() {
    for (const u of view.charts || []) {
      if (u.perflabProfile) continue;
      u.perflabProfile = true;
      u.hooks.draw = (u.hooks.draw || []).concat([drawHook]);
      u.hooks.setSelect = (u.hooks.setSelect || []).concat([onSelect]);
      // the drag's meaning is decided when it starts: shift or "Select range" -> a range
      // (on every chart: synced charts replay the drag)
      u.over.addEventListener("mousedown", (e) => {
        const zoom = !(state.mode === "select" || e.shiftKey);
        state.origin = u;
        for (const c of view.charts || []) c.cursor.drag.setScale = zoom;
      }, true);
      u.redraw(false);
    }
  }

  function redraw() { for (const u of view.charts || []) u.redraw(false); }

  // ---- the panel -----------------------------------------------------------------------------

  function setMode(mode) {
    state.mode = mode;
    $("#profile-select").setAttribute("aria-pressed", mode === "select" ? "true" : "false");
  }

  function status(text, isError) {
    const el = $("#profile-status");
    el.textContent = text;
    el.classList.toggle("error", !!isError);
  }

  function picked(r) {
    if (!state.diff) { showRange(r); return; }
    if (!state.a || state.b) { state.a = r; state.b = null; redraw();
      status("Range A: " + rangeText(r) + ". Now select range B."); return; }
    state.b = r;
    redraw();
    showDiff(state.a, state.b);
  }

  function functionRows(fns) {
    return fns.map((f) => "<tr><td class=num>" + pct(f.self_pct) + "</td><td class=num>" +
      pct(f.total_pct) + "</td><td><code>" + Perflab.escape(f.name) + "</code></td></tr>").join("");
  }

  function showRange(r) {
    state.current = r;
    redraw();
    const frame = $("#profile-flame");
    frame.src = "/runs/" + runId + "/flame?" + q("", r).slice(1);
    $("#profile-title").textContent = "Flame graph of " + rangeText(r);
    status("loading…");
    return fetchJson("/api/runs/" + runId + "/profile?limit=15" + q("", r)).then((p) => {
      status(p.slices + " slice" + (p.slices === 1 ? "" : "s") + " · " + p.stacks + " stacks · " +
        p.sample_type + " — shift-drag across a chart for another range");
      $("#profile-table").innerHTML = "<thead><tr><th class=num>self</th><th class=num>total</th>" +
        "<th>function (top by self share)</th></tr></thead><tbody>" + functionRows(p.functions) + "</tbody>";
      panel.dataset.shown = "range";
    }).catch((err) => { status(err.message, true); $("#profile-table").innerHTML = "";
      panel.dataset.shown = "error"; });
  }

  function showDiff(a, b) {
    const qs = q("a_", a) + q("b_", b);
    $("#profile-flame").src = "/runs/" + runId + "/flame/diff?" + qs.slice(1);
    $("#profile-title").textContent = "Diff: A " + rangeText(a) + " → B " + rangeText(b);
    status("loading…");
    return fetchJson("/api/runs/" + runId + "/profile/diff?limit=15" + qs).then((d) => {
      status("red: larger share in B · blue: smaller · A " + d.a.slices + " slice(s), B " +
        d.b.slices + " slice(s). Select again for a new A.");
      $("#profile-table").innerHTML = "<thead><tr><th>function</th><th class=num>self A</th>" +
        "<th class=num>self B</th><th class=num>Δ self</th><th class=num>Δ total</th></tr></thead><tbody>" +
        d.changes.map((c) => "<tr><td><code>" + Perflab.escape(c.name) + "</code></td><td class=num>" +
          pct(c.a_self_pct) + "</td><td class=num>" + pct(c.b_self_pct) + "</td><td class='num " +
          (c.self_delta_pp > 0.5 ? "delta-up" : c.self_delta_pp < -0.5 ? "delta-down" : "") + "'>" +
          pp(c.self_delta_pp) + "</td><td class=num>" + pp(c.total_delta_pp) + "</td></tr>").join("") +
        "</tbody>";
      panel.dataset.shown = "diff";
    }).catch((err) => { status(err.message, true); panel.dataset.shown = "error"; });
  }

  $("#profile-select").addEventListener("click", () =>
    setMode(state.mode === "select" ? "zoom" : "select"));
  $("#profile-diff").addEventListener("click", () => {
    state.diff = !state.diff;
    state.a = state.b = null;
    $("#profile-diff").setAttribute("aria-pressed", state.diff ? "true" : "false");
    redraw();
    if (state.diff) status("Diff: shift-drag across a chart to select range A, then range B.");
    else showRange(state.current);
  });
  $("#profile-whole").addEventListener("click", () => {
    state.diff = false; state.a = state.b = null;
    $("#profile-diff").setAttribute("aria-pressed", "false");
    showRange(null);
  });

  function describe(slices) {
    const pids = Array.from(new Set(slices.map((s) => s.pid).filter((p) => p != null)))
      .sort((a, b) => a - b);
    const backends = Array.from(new Set(slices.map((s) => s.backend)));
    $("#profile-about").textContent = slices.length + " slices" +
      (pids.length ? " of PID " + pids.join(", ") : "") + " (" + backends.join(", ") +
      "), marked at the foot of every chart.";
    const pick = $("#profile-pid");
    if (pids.length > 1 && pick.options.length !== pids.length) {
      // one process at a time: their stacks do not add up
      pick.innerHTML = pids.map((p) => "<option value=" + p + ">PID " + p + "</option>").join("");
      pick.value = String(state.pid || pids[0]);
      pick.hidden = false;
      state.pid = Number(pick.value);
    }
  }

  $("#profile-pid").addEventListener("change", (e) => {
    state.pid = Number(e.target.value);
    state.a = state.b = null;
    redraw();
    if (state.diff) status("Diff: shift-drag across a chart to select range A, then range B.");
    else showRange(state.current);
  });

  let started = false;
  function loadSlices() {
    return fetchJson("/api/runs/" + runId + "/profile/slices").then((doc) => {
      if (!doc.slices.length) return;
      const grew = doc.slices.length !== state.slices.length;
      state.slices = doc.slices;
      describe(doc.slices);
      if (!started) {
        started = true;
        panel.hidden = false;
        view.ready.then(() => { attach(); redraw(); });
        showRange(null);
      } else if (grew) {
        redraw();
      }
    });
  }

  loadSlices().catch((err) => console.warn("perflab: profile slices", err));
  // charts are rebuilt (theme, a running run's new series): hook the new ones; a running run
  // gains slices as it records
  setInterval(attach, 2000);
  document.addEventListener("perflab:theme", () => setTimeout(attach, 0));
  if (JSON.parse(document.getElementById("run-data").textContent).run.status === "running") {
    setInterval(() => {
      if (!document.hidden) loadSlices().catch((err) => console.warn("perflab: slices", err));
    }, 10000);
  }
})();
