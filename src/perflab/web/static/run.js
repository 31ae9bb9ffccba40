/* The Run page: every series of the run from the API, then the summary table. */
(function () {
  "use strict";
  const doc = JSON.parse(document.getElementById("run-data").textContent);
  const base = "/api/runs/" + doc.run.id + "/samples?series=";

  // one request per chart: every line of it at once
  function load(list, startNs, endNs, points) {
    let url = base + list.map((s) => s.id).join(",") + "&points=" + points;
    if (startNs != null) url += "&start=" + startNs;
    if (endNs != null) url += "&end=" + endNs;
    return fetch(url, { credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error("samples: HTTP " + r.status);
      return r.json();
    }).then((doc) => doc.windows);
  }

  // a running run: its series and events as they are now (new ones get charts)
  function reload() {
    return fetch("/api/runs/" + doc.run.id, { credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error("run: HTTP " + r.status);
      return r.json();
    });
  }

  const view = Perflab.runView(document.getElementById("charts"), doc, load,
    { followMs: doc.run.status === "running" ? 5000 : 0, reload: reload });
  window.perflabRun = view;
  // The summary (a p95 sorts every sample of every series) is read when its table comes
  // into view, after the charts: it never delays them.
  function loadSummary(table) {
    return fetch("/api/runs/" + doc.run.id + "/summary", { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error("summary: HTTP " + r.status); return r.json(); })
      .then((sum) => {
        table.tBodies[0].innerHTML = Perflab.summaryRows(doc.series, sum.summaries);
        document.body.dataset.summaryReady = "1";
      });
  }

  view.ready.then(() => {
    document.body.dataset.chartsReady = "1";
    const table = document.getElementById("summary");
    if (!table) return;
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        seen.disconnect();
        loadSummary(table).catch((err) => {
          table.tBodies[0].innerHTML = '<tr><td colspan="7" class="error">' +
            Perflab.escape(err.message) + "</td></tr>";
        });
      }
    }, { rootMargin: "200px" });
    seen.observe(table);
  }).catch((err) => {
    document.getElementById("charts").insertAdjacentHTML("beforebegin",
      '<p class="note error">Could not load the charts: ' + Perflab.escape(err.message) + "</p>");
  });
})();
