/* The Traces page: a scatter of trace duration over start time; a click opens the trace. */
(function () {
  "use strict";
  const doc = JSON.parse(document.getElementById("traces-data").textContent);
  const canvas = document.getElementById("scatter");
  const traces = doc.traces;
  const css = getComputedStyle(document.documentElement);
  let points = [];

  function fmtDur(ns) {
    if (ns >= 1e9) return (ns / 1e9).toFixed(2) + " s";
    if (ns >= 1e6) return (ns / 1e6).toFixed(ns >= 1e8 ? 0 : 1) + " ms";
    return (ns / 1e3).toFixed(0) + " µs";
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight || 220;
    canvas.width = w * dpr; canvas.height = h * dpr;
    const ctx = canvas.getContext("2d");
    ctx.scale(dpr, dpr);
    ctx.clearRect(0, 0, w, h);
    const pad = { l: 64, r: 12, t: 10, b: 24 };
    ctx.fillStyle = css.getPropertyValue("--fg-muted");
    ctx.font = "11px system-ui, sans-serif";
    if (!traces.length) {
      ctx.fillText("no traces", pad.l, h / 2);
      document.body.dataset.scatterReady = "1";
      return;
    }
    let t0 = Infinity, t1 = -Infinity, dmax = 0;
    for (const t of traces) {
      t0 = Math.min(t0, t.start_ns); t1 = Math.max(t1, t.start_ns);
      dmax = Math.max(dmax, t.duration_ns);
    }
    if (t1 === t0) { t0 -= 1e9; t1 += 1e9; }
    dmax = dmax || 1;
    const x = (ns) => pad.l + (ns - t0) / (t1 - t0) * (w - pad.l - pad.r);
    const y = (d) => h - pad.b - d / dmax * (h - pad.t - pad.b);
    ctx.strokeStyle = css.getPropertyValue("--grid");
    for (let i = 0; i <= 4; i++) {
      const v = dmax * i / 4, yy = y(v);
      ctx.beginPath(); ctx.moveTo(pad.l, yy); ctx.lineTo(w - pad.r, yy); ctx.stroke();
      ctx.fillText(fmtDur(v), 4, yy + 4);
    }
    for (let i = 0; i <= 4; i++) {
      const ns = t0 + (t1 - t0) * i / 4;
      const label = new Date(ns / 1e6).toISOString().slice(11, 19);
      const xx = x(ns);
      ctx.fillText(label, Math.min(Math.max(xx - 22, pad.l), w - 50), h - 6);
    }
    points = [];
    const ok = css.getPropertyValue("--accent"), bad = css.getPropertyValue("--bad");
    for (const t of traces) {
      const px = x(t.start_ns), py = y(t.duration_ns);
      points.push([px, py, t.trace_id]);
      ctx.fillStyle = t.errors ? bad : ok;
      ctx.globalAlpha = 0.75;
      ctx.beginPath(); ctx.arc(px, py, 3.5, 0, 2 * Math.PI); ctx.fill();
    }
    ctx.globalAlpha = 1;
    document.body.dataset.scatterReady = "1";
  }

  function nearest(ev) {
    const r = canvas.getBoundingClientRect();
    const mx = ev.clientX - r.left, my = ev.clientY - r.top;
    let best = null, bestD = 64;  // within 8 px
    for (const p of points) {
      const d = (p[0] - mx) ** 2 + (p[1] - my) ** 2;
      if (d < bestD) { bestD = d; best = p; }
    }
    return best;
  }
  canvas.addEventListener("click", (ev) => {
    const p = nearest(ev);
    if (p) window.location.href = "/traces/" + p[2];
  });
  canvas.addEventListener("mousemove", (ev) => {
    const p = nearest(ev);
    canvas.style.cursor = p ? "pointer" : "crosshair";
    canvas.title = p ? p[2] : "";
  });
  window.addEventListener("resize", draw);
  // the operation list follows the service
  const service = document.getElementById("f-service");
  const op = document.getElementById("f-operation");
  service.addEventListener("change", () => {
    op.innerHTML = '<option value="">any</option>';
    if (!service.value) return;
    Perflab.fetch("/api/services/" + encodeURIComponent(service.value) + "/operations")
      .then((r) => r.json()).then((d) => {
        for (const name of d.data || []) {
          const o = document.createElement("option");
          o.value = name; o.textContent = name; op.appendChild(o);
        }
      }).catch(() => {});
  });
  draw();
})();
