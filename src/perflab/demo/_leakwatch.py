"""``perflab leak`` inside the demo: during the leak phase, a watch of the demo service (RSS,
and tracemalloc through the debug agent the service starts) recorded on the demo's run, so the
Run page and the report show its verdict, trend and growing sites in their Debug section."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from perflab.debug import LeakOptions, LeakRecorder, LeakTarget, run_watch
from perflab.errors import PerflabError
from perflab.store import Store

SAMPLES = 20  # over the phase: enough for the trend test, light on a shared machine


class LeakWatch:
    """A leak watch of ``pid`` for ``seconds`` in a thread, written into run ``run_id``."""

    def __init__(self, store_path: Path, run_id: int, pid: int, seconds: float,
                 agent_dir: Path) -> None:
        self.report: dict[str, Any] | None = None
        self.error: str | None = None
        self._args = (store_path, run_id, pid, seconds, agent_dir)
        self._thread = threading.Thread(target=self._run, name="demo-leak-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float = 60.0) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        store_path, run_id, pid, seconds, agent_dir = self._args
        # one frame and a few snapshots: tracemalloc's cost must not slow the leak it watches
        options = LeakOptions(duration_s=seconds, interval_s=max(0.25, seconds / SAMPLES),
                              warmup_s=0.001, top=5, frames=1, snapshots=4)
        try:
            with Store.open(store_path) as store:
                recorder = LeakRecorder(store, run_id, {"pid": str(pid)})
                report, seen = run_watch(LeakTarget(pid=pid, agent_dir=agent_dir), options,
                                         on_sample=recorder.sample)
                report["run"] = {"id": run_id}
                recorder.finish(report, start=seen.times[0] if seen.times else None,
                                end=seen.times[-1] if seen.times else None)
                self.report = report
        except PerflabError as exc:
            self.error = str(exc)


def leak_note(watch: LeakWatch) -> str:
    """One line for the demo's summary."""
    if watch.report is None:
        return f"perflab leak could not watch the service: {watch.error or 'no result'}"
    r = watch.report
    if r["verdict"] != "leak":
        return f"perflab leak on the leak phase: {r['verdict']} ({r['reason']})"
    top = r["sites"][0] if r["sites"] else None
    where = f"; growing most: {top['function']} ({Path(top['file']).name}:{top['line']})" \
        if top else ""
    return (f"perflab leak on the leak phase: LEAK, {r['growth_mb_per_h']:.0f} MB/h{where}; "
            "see the Debug section")
