/* The Run page: every series of the run from the API, then the summary table. */
(function () {
  "use strict";
  const doc = JSON.parse(document.getElementById("run-data").textContent);
  const base = "/api/runs/" + doc.run.id + "/series/";

  function load(s, startNs, endNs, points) {
    let url = base + s.id + "/samples?points=" + points;
    if (startNs != null) url += "&start=" + startNs;
    if (endNs != null) url += "&end=" + endNs;
    return fetch(url, { credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error("samples of series " + s.id + ": HTTP " + r.status);
      return r.json();
    });
  }

  const view = Perflab.runView(document.getElementById("charts"), doc, load);
  window.perflabRun = view;
  view.ready.then(() => {
    document.body.dataset.chartsReady = "1";
    const table = document.getElementById("summary");
    if (!table) return null;
    return fetch("/api/runs/" + doc.run.id + "/summary", { credentials: "same-origin" })
      .then((r) => r.json())
      .then((sum) => {
        table.tBodies[0].innerHTML = Perflab.summaryRows(doc.series, sum.summaries);
      });
  }).catch((err) => {
    document.getElementById("charts").insertAdjacentHTML("beforebegin",
      '<p class="note error">Could not load the charts: ' + Perflab.escape(err.message) + "</p>");
  });
})();
