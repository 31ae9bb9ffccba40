/* The Compare page: operations by their share of the latency difference, and the
 * differential waterfall. */
(function () {
  "use strict";
  const doc = JSON.parse(document.getElementById("compare-data").textContent);
  if (!doc.operations) { document.body.dataset.compareReady = "1"; return; }
  const esc = Perflab.escape;
  function fmt(ns) {
    const a = Math.abs(ns);
    if (a >= 1e9) return (ns / 1e9).toFixed(2) + " s";
    if (a >= 1e6) return (ns / 1e6).toFixed(a >= 1e8 ? 0 : 2) + " ms";
    return (ns / 1e3).toFixed(0) + " µs";
  }
  const ops = doc.operations.filter((o) => o.a_ns || o.b_ns || o.a_spans || o.b_spans);
  document.querySelector("#diff-ops tbody").innerHTML = ops.map((o) => {
    const share = o.share == null ? "" : '<span class="share-bar' + (o.share < 0 ? " neg" : "") +
      '" style="width:' + Math.min(Math.abs(o.share) * 200, 200).toFixed(0) + 'px"></span> ' +
      (o.share * 100).toFixed(1) + "%";
    return "<tr><td>" + esc(o.service) + "</td><td>" + esc(o.operation) + '</td><td class="num">' +
      fmt(o.a_ns) + '</td><td class="num">' + fmt(o.b_ns) + '</td><td class="num' +
      (o.delta_ns > 0 ? " delta-up" : o.delta_ns < 0 ? " delta-down" : "") + '">' +
      (o.delta_ns >= 0 ? "+" : "") + fmt(o.delta_ns) + "</td><td>" + share +
      '</td><td class="num">' + o.a_spans.toFixed(1) + '</td><td class="num">' +
      o.b_spans.toFixed(1) + "</td></tr>";
  }).join("");
  let span = 1;
  for (const r of doc.waterfall) {
    span = Math.max(span, (r.a_offset_ns || 0) + (r.a_duration_ns || 0),
      (r.b_offset_ns || 0) + (r.b_duration_ns || 0));
  }
  const pct = (ns) => (100 * ns / span).toFixed(3) + "%";
  const box = document.getElementById("dwf-rows");
  box.style.position = "relative";
  box.style.height = doc.waterfall.length * 22 + "px";
  box.innerHTML = doc.waterfall.map((r, i) => {
    const slower = r.a_duration_ns != null && r.b_duration_ns != null &&
      r.b_duration_ns > r.a_duration_ns * 1.1;
    const a = r.a_offset_ns == null ? "" : '<div class="dwf-a" style="left:' + pct(r.a_offset_ns) +
      ";width:" + pct(r.a_duration_ns) + '" title="A ' + fmt(r.a_duration_ns) + '"></div>';
    const b = r.b_offset_ns == null ? "" : '<div class="dwf-b' + (slower ? " slower" : "") +
      '" style="left:' + pct(r.b_offset_ns) + ";width:" + pct(r.b_duration_ns) + '" title="B ' +
      fmt(r.b_duration_ns) + '"></div>';
    const label = r.a_offset_ns == null ? " (only in B)" : r.b_offset_ns == null ? " (only in A)" : "";
    return '<div class="wf-row" style="top:' + i * 22 + 'px"><div class="wf-label" style="padding-left:' +
      (4 + r.depth * 14) + 'px" title="' + esc(r.path) + '">' + esc(r.service) + ": " +
      esc(r.operation) + esc(label) + '</div><div class="wf-track">' + a + b + "</div></div>";
  }).join("");
  document.body.dataset.compareReady = "1";
})();
