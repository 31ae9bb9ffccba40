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
    return Perflab.fetch(url).then((r) => {
      if (!r.ok) throw new Error("samples: HTTP " + r.status);
      return r.json();
    }).then((doc) => doc.windows);
  }

  // a running run: its series and events as they are now (new ones get charts)
  function reload() {
    return Perflab.fetch("/api/runs/" + doc.run.id).then((r) => {
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
    return Perflab.fetch("/api/runs/" + doc.run.id + "/summary")
      .then((r) => { if (!r.ok) throw new Error("summary: HTTP " + r.status); return r.json(); })
      .then((sum) => {
        table.tBodies[0].innerHTML = Perflab.summaryRows(doc.series, sum.summaries);
        document.body.dataset.summaryReady = "1";
      });
  }

  // The run's log lines on its timeline (when it has any): lines/s and error-level lines/s,
  // zoomed with the other charts; a click lists the lines of that moment below the chart.
  function logTimeline() {
    const section = document.getElementById("section-logs");
    const el = document.getElementById("run-logs");
    const panel = document.getElementById("run-log-panel");
    const points = Math.max(20, Math.min(600, Math.round((el.clientWidth || 1200) / 4)));
    const api = "/api/logs/";
    const json = (r) => { if (!r.ok) throw new Error("logs: HTTP " + r.status); return r.json(); };
    function lines(startNs, endNs) {
      const q = new URLSearchParams({ run: String(doc.run.id), start: String(startNs),
        end: String(endNs), limit: "200" });
      return Perflab.fetch(api + "lines?" + q).then(json).then((got) => {
        panel.innerHTML = '<p class="muted">' + got.lines.length + (got.truncated ? "+" : "") +
          " line" + (got.lines.length === 1 ? "" : "s") + " from " + Perflab.logTime(startNs) +
          " to " + Perflab.logTime(endNs) + ' UTC</p><div class="scroll"><table id="run-log-lines" ' +
          'class="log-lines"><colgroup><col class="c-time"><col class="c-level"><col></colgroup>' +
          "<thead><tr><th>time (UTC)</th><th>level</th><th>line</th></tr></thead><tbody>" +
          Perflab.logRows(got.lines) + "</tbody></table></div>";
        document.body.dataset.logPanel = "1";
      }).catch((err) => {
        panel.innerHTML = '<p class="error">' + Perflab.escape(err.message) + "</p>";
      });
    }
    const volume = () => Perflab.fetch(api + "volume?run=" + doc.run.id + "&points=" + points).then(json);
    const full = () => [doc.run.started_ns / 1e9,
      (doc.run.ended_ns != null ? doc.run.ended_ns : Date.now() * 1e6) / 1e9];
    return volume().then((vol) => {
      let chart = null;
      const draw = () => {
        if (!Perflab.volumeLines(vol)) return;
        section.hidden = false;
        if (chart) chart.destroy();
        el.innerHTML = "";
        chart = Perflab.logRates(el, vol, { group: view.group, events: () => doc.events || [],
          full: full(), onPick: lines });
      };
      draw();
      document.addEventListener("perflab:theme", draw);
      Perflab.autoResize(() => (chart ? [chart] : []));
      // a running run: its new lines, as its other charts follow it
      if (doc.run.status === "running") {
        const timer = setInterval(() => {
          if (document.hidden) return;
          volume().then((next) => {
            vol = next;
            if (chart) chart.perflab.setVolume(vol, full()); else draw();
          }).catch((err) => console.warn("perflab: could not refresh the run's logs", err));
        }, 5000);
        window.addEventListener("pagehide", () => clearInterval(timer));
      }
    });
  }

  view.ready.then(() => {
    document.body.dataset.chartsReady = "1";
    logTimeline().catch((err) => {
      document.getElementById("run-log-panel").innerHTML = '<p class="error">' +
        Perflab.escape(err.message) + "</p>";
    }).finally(() => { document.body.dataset.logsTimelineReady = "1"; });
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
