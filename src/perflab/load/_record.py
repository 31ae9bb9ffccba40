"""A load test in the store: one run of kind ``load`` on the common timeline.

Per-second series: ``load.rps``, ``load.errors_per_s``, ``load.late_per_s`` (open model:
arrivals started more than 1 ms after their intended time),
``load.connections``, ``load.latency_ms{quantile="0.5|0.9|0.99|0.999"}`` and, in the open
model, ``load.service_time_ms{quantile=...}``. Stages are events (bands) of kind ``stage``.
Watched target processes (``--watch PID``) get ``process.cpu.pct{pid,name}`` and
``process.rss_bytes{pid,name}`` on the same seconds. At the end: the latency histogram as
artifacts (sparse JSON that ``Histogram.from_dict`` reads, and the ``.hgrm`` text), and the
summary (the ``--json`` document) in the run's meta.

A test can also be recorded *into* another run (``into_run``), with ``labels`` added to every
series and artifact: ``perflab demo`` puts one test per endpoint and phase into its own run, as
``load.rps{endpoint="/work"}``. Its summary is then a ``load_summary`` artifact (the other run's
meta is not the test's to change) and the other run is left running.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from perflab.errors import NoSuchProcess
from perflab.store import BatchWriter, Store

if TYPE_CHECKING:
    from perflab.collect import ProcessCollector
    from perflab.load._config import LoadConfig
    from perflab.load._result import Interval, LoadResult

QUANTILES = (("0.5", 50.0), ("0.9", 90.0), ("0.99", 99.0), ("0.999", 99.9))


class LoadRecorder:
    def __init__(self, store: Store, cfg: LoadConfig, name: str, *,
                 watch: tuple[int, ...] = (), meta: dict[str, Any] | None = None,
                 into_run: int | None = None, labels: dict[str, str] | None = None) -> None:
        self.store = store
        self.cfg = cfg
        self.watch = watch
        self.name = name
        self.labels = dict(labels or {})
        self.attached = into_run is not None
        self._collector: ProcessCollector | None = None
        if watch:
            from perflab.collect import ProcessCollector  # noqa: PLC0415  # only with --watch

            self._collector = ProcessCollector(with_fds=False)
            rows = self._collector.refresh(watch)
            missing = set(watch) - {r.pid for r in rows}
            if missing:
                raise NoSuchProcess(min(missing))
        self.run = (store.create_run("load", name, meta=meta or {}) if into_run is None
                    else store.run(into_run))
        self.writer = BatchWriter(store, self.run.id)
        self.start_ns = self.run.started_ns

    def started(self, start_wall_ns: int) -> None:
        """The test's clock starts: record the stages as bands on the timeline."""
        self.start_ns = start_wall_ns
        t = start_wall_ns
        for i, st in enumerate(self.cfg.stages, 1):
            end = t + int(st.duration_s * 1e9)
            self.writer.event("stage", f"stage {i}/{len(self.cfg.stages)}: "
                              f"to {st.target:g}/s over {st.duration_s:g}s",
                              ts_ns=t, end_ns=end,
                              attrs={"index": i, "target_rate": st.target,
                                     "duration_s": st.duration_s, **self._attr_labels()})
            t = end

    def interval(self, iv: Interval) -> None:
        ts = self.start_ns + int((iv.second - 1 + iv.length_s) * 1e9)
        w = self.writer
        plain = self.labels or None
        w.add_value("load.rps", plain, ts, iv.rps, "/s")
        w.add_value("load.errors_per_s", plain, ts, iv.errors_total / iv.length_s, "/s")
        w.add_value("load.late_per_s", plain, ts, iv.late / iv.length_s, "/s")
        w.add_value("load.connections", plain, ts, float(iv.connections), "")
        if iv.latency.total:
            values = iv.latency.values_at_percentiles([q for _, q in QUANTILES])
            for (label, _), v in zip(QUANTILES, values, strict=True):
                w.add_value("load.latency_ms", {**self.labels, "quantile": label}, ts,
                            float(v) / 1000, "ms")
        if iv.service is not None and iv.service.total:
            values = iv.service.values_at_percentiles([q for _, q in QUANTILES])
            for (label, _), v in zip(QUANTILES, values, strict=True):
                w.add_value("load.service_time_ms", {**self.labels, "quantile": label}, ts,
                            float(v) / 1000, "ms")
        if self._collector is not None:
            for row in self._collector.refresh(self.watch):
                labels = {"pid": str(row.pid), "name": row.name}
                w.add_value("process.cpu.pct", labels, ts, row.cpu_pct, "%")
                w.add_value("process.rss_bytes", labels, ts, float(row.rss_bytes), "bytes")
        w.flush()

    def _attr_labels(self) -> dict[str, Any]:
        return {"labels": self.labels} if self.labels else {}

    def finish(self, result: LoadResult) -> None:
        self.writer.flush()
        store, run_id = self.store, self.run.id
        end = self.start_ns + int(result.duration_s * 1e9)
        attrs = self._attr_labels()
        store.add_artifact(run_id, "histogram", json.dumps(result.latency.to_dict()).encode(),
                           name="latency", content_type="application/json", ts_ns=end,
                           attrs=attrs)
        if result.service is not None:
            store.add_artifact(run_id, "histogram",
                               json.dumps(result.service.to_dict()).encode(),
                               name="service_time", content_type="application/json", ts_ns=end,
                               attrs=attrs)
        from perflab.load._hgrm import format_hgrm  # noqa: PLC0415  # numpy: see _totals

        store.add_artifact(run_id, "hgrm", format_hgrm(result.latency).encode(),
                           name="latency.hgrm", content_type="text/plain", ts_ns=end,
                           attrs=attrs)
        result.run_id = run_id
        if self.attached:
            summary = {**result.to_json(), "name": self.name}
            store.add_artifact(run_id, "load_summary", json.dumps(summary).encode(),
                               name=self.name, content_type="application/json",
                               ts_ns=self.start_ns, end_ns=end, attrs=attrs)
            return
        store.finish_run(run_id, result.status, ended_ns=max(end, self.start_ns),
                         meta_update={"summary": result.to_json()})
