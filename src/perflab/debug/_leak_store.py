"""A leak watch on a run: its samples as series ``debug.leak.<name>`` (written as they are read),
its verdict as an event of kind ``debug.leak``, and its report (sites with stacks) as an artifact
of kind ``debug.leak`` (JSON). No schema change: runs, series, events and artifacts as they are."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from perflab.debug._leak import UNITS

if TYPE_CHECKING:
    from perflab.store import Store

SERIES_PREFIX = "debug.leak."
KIND = "debug.leak"


class LeakRecorder:
    """Writes one watch's samples into run ``run_id`` as they come."""

    def __init__(self, store: Store, run_id: int, labels: dict[str, str]) -> None:
        self.store = store
        self.run_id = run_id
        self.labels = labels
        self.ids: dict[str, int] = {}
        self.written = 0

    def sample(self, now: float, values: dict[str, float]) -> None:
        rows = []
        for name, value in values.items():
            sid = self.ids.get(name)
            if sid is None:
                sid = self.store.series_id(self.run_id, SERIES_PREFIX + name, self.labels,
                                           UNITS.get(name, ""))
                self.ids[name] = sid
            rows.append((sid, int(now * 1e9), value))
        self.store.insert_samples(rows)
        self.written += len(rows)

    def finish(self, report: dict[str, Any], *, start: float | None, end: float | None) -> None:
        """The verdict event (a band over the watch) and the report artifact."""
        top = report["sites"][0]["function"] if report["sites"] else None
        text = f"leak: {report['verdict']}"
        if report["verdict"] == "leak":
            text += f", {report['growth_mb_per_h']:.3g} MB/h"
            if top:
                text += f", growing most: {top}"
        start_ns = None if start is None else int(start * 1e9)
        end_ns = None if end is None else int(end * 1e9)
        self.store.add_event(self.run_id, KIND, text, ts_ns=start_ns, end_ns=end_ns, attrs={
            "verdict": report["verdict"], "growth_mb_per_h": report["growth_mb_per_h"],
            "top_site": top, "target": report["target"]})
        self.store.add_artifact(self.run_id, KIND, json.dumps(report).encode(),
                                name="leak.json", content_type="application/json",
                                ts_ns=start_ns, end_ns=end_ns,
                                attrs={"verdict": report["verdict"]})


def leak_reports(store: Store, run_id: int) -> list[dict[str, Any]]:
    """The leak reports stored on a run, oldest first."""
    out = []
    for art in store.artifacts(run_id, KIND):
        try:
            out.append(json.loads(store.artifact_data(art.id)))
        except ValueError:
            continue
    return out
