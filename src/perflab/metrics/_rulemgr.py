"""The hub's rule evaluation: every group at its interval, in one thread, over the store.

Each evaluation reads the store through PromQL (its own connection) plus what the rules wrote
in the last minutes and the ingest queue may not have committed yet, so a rule that uses the
rule before it sees its fresh result, as in Prometheus. Results go to the store through the
sink; alerts that need sending go to the notifier; alert state changes become events of the
hub's run: ``alert`` events, a band from firing to resolved on the run's timeline.

The default rules for the machine (``DEFAULT_RULES``) are loaded unless turned off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from perflab.metrics._alerting import Alert, Change, Group
from perflab.metrics._ast import Matcher
from perflab.metrics._engine import QueryOptions
from perflab.metrics._labels import NAME, Labels, from_dict
from perflab.metrics._names import RUN_LABEL
from perflab.metrics._rulefile import GroupSpec, load_rule_file, parse_rule_text
from perflab.metrics._sink import MetricSink
from perflab.metrics._storeq import StoreQueryable
from perflab.metrics._values import MemoryQueryable, RawSeries
from perflab.store import Store, canonical_labels, end_event

log = logging.getLogger("perflab.rules")

OVERLAY_KEEP_MS = 5 * 60 * 1000
DEFAULT_RULES_NAME = "<perflab default rules>"

# The machine's default rules: saturation, memory pressure, disk full prediction, target down.
# Thresholds and `for` are chosen to alert within seconds (see docs/metrics.md).
DEFAULT_RULES = """
groups:
  - name: perflab-machine
    rules:
      - alert: CPUSaturated
        expr: >-
          1 - avg without (cpu, mode)
          (rate(node_cpu_seconds_total{job="perflab",mode="idle"}[30s])) > 0.95
        for: 10s
        labels: {severity: warning}
        annotations:
          summary: "CPU of {{ $labels.instance }} is {{ $value | humanizePercentage }} busy"
      - alert: MemoryPressure
        expr: rate(node_pressure_memory_waiting_seconds_total{job="perflab"}[30s]) > 0.1
        for: 10s
        labels: {severity: warning}
        annotations:
          summary: >-
            Tasks of {{ $labels.instance }} wait for memory
            {{ $value | humanizePercentage }} of the time
      - alert: DiskWillFillIn4Hours
        # node-mixin's NodeFilesystemSpaceFillingUp, sooner: under 15 % free, read-write, and
        # the last 30 minutes' trend reaches zero within 4 hours
        expr: >-
          node_filesystem_avail_bytes{job="perflab"} / node_filesystem_size_bytes{job="perflab"}
          < 0.15
          and node_filesystem_readonly{job="perflab"} == 0
          and predict_linear(node_filesystem_avail_bytes{job="perflab"}[30m], 4 * 3600) < 0
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: "{{ $labels.mountpoint }} on {{ $labels.instance }} fills up within 4 hours"
      - alert: TargetDown
        expr: up == 0
        for: 0s
        labels: {severity: critical}
        annotations:
          summary: "{{ $labels.job }} target {{ $labels.instance }} is down"
"""


@dataclass(frozen=True, slots=True)
class Restore:
    """How alert state is restored after a restart (Prometheus's
    ``--rules.alert.for-outage-tolerance`` and ``--rules.alert.for-grace-period``; perflab's
    grace is shorter, as its evaluations are 12 times as frequent). A tolerance of 0 turns
    restoring off."""

    outage_tolerance_ms: int = 3_600_000
    grace_ms: int = 10_000


class OverlayQueryable:
    """The store, plus rule results written recently (the ingest queue may still hold them)."""

    def __init__(self, base: StoreQueryable, overlay: MemoryQueryable) -> None:
        self.base = base
        self.overlay = overlay

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[RawSeries]:
        base = self.base.select(matchers, mint, maxt)
        extra = self.overlay.select(matchers, mint, maxt)
        if not extra:
            return base
        by_labels = {r.labels: r for r in base}
        for r in extra:
            have = by_labels.get(r.labels)
            if have is None:
                by_labels[r.labels] = r
                continue
            ts = np.concatenate((r.ts, have.ts))
            values = np.concatenate((r.values, have.values))
            uniq, first = np.unique(ts, return_index=True)  # the overlay's value wins
            by_labels[r.labels] = RawSeries(r.labels, uniq, values[first])
        return [by_labels[k] for k in sorted(by_labels)]


class RuleManager:
    def __init__(self, store_path: Path, sink: MetricSink, notifier: Any, *,
                 interval_ms: int, external_labels: dict[str, str] | None = None,
                 external_url: str = "",
                 events_run: Callable[[], int] | None = None,
                 restore: Restore | None = None) -> None:
        self.store_path = store_path
        self.sink = sink
        self.notifier = notifier
        self.interval_ms = interval_ms
        self.external_labels = external_labels or {}
        self.external_url = external_url
        self.events_run = events_run
        self.groups: list[Group] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._overlay = MemoryQueryable()
        self._events: dict[tuple[str, Labels], int] = {}
        self._next: dict[tuple[str, str], float] = {}
        self.evaluations = 0
        self.generated: list[tuple[str, str]] = []  # (rule file text, name): the SLOs' rules
        # the groups of the first load restore their alerts' state from before this start,
        # after their second evaluation (as Prometheus: the first may lack fresh data)
        self.restore = restore or Restore()
        self.started_ms = time.time_ns() // 1_000_000
        self._to_restore: dict[tuple[str, str], int] | None = None
        self.restored = 0

    # -- loading ---------------------------------------------------------------------------

    def specs(self, files: list[str], *, default_rules: bool) -> list[GroupSpec]:
        specs: list[GroupSpec] = []
        if default_rules:
            specs.extend(parse_rule_text(DEFAULT_RULES, DEFAULT_RULES_NAME))
        for text, name in self.generated:
            specs.extend(parse_rule_text(text, name))
        for f in files:
            specs.extend(load_rule_file(f))
        return specs

    def check_files(self, files: list[str]) -> None:
        for f in files:
            load_rule_file(f)

    def load(self, files: list[str], *, default_rules: bool) -> None:
        specs = self.specs(files, default_rules=default_rules)
        new = [Group(s, self.interval_ms) for s in specs]
        with self._lock:
            old = {g.key: g for g in self.groups}
            for g in new:
                if g.key in old:
                    g.copy_state(old[g.key])
            self.groups = new
            if self._to_restore is None:  # the first load only, as Prometheus
                self._to_restore = {g.key: 2 for g in new}

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="perflab-rules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)

    def _loop(self) -> None:
        store: Store | None = None
        try:
            while not self._stop.is_set():
                now = time.time()
                with self._lock:
                    groups = list(self.groups)
                due = []
                for g in groups:
                    interval = g.interval_ms / 1000
                    nxt = self._next.get(g.key)
                    if nxt is None:
                        nxt = now - (now % interval) + interval
                        self._next[g.key] = nxt
                    if nxt <= now:
                        due.append(g)
                        while self._next[g.key] <= now:
                            self._next[g.key] += interval
                if due:
                    if store is None:
                        store = Store.open(self.store_path, create=False)
                    for g in due:
                        self.eval_group(g, store, int(now * 1000))
                wake = min(self._next.values(), default=now + 1.0)
                self._stop.wait(max(0.01, min(1.0, wake - time.time())))
        except Exception:
            log.exception("rule evaluation stopped")
        finally:
            if store is not None:
                store.close()

    def eval_group(self, group: Group, store: Store, ts: int) -> None:
        queryable = OverlayQueryable(StoreQueryable(store), self._overlay)
        run = self.sink.run_id

        def write(rows: list[tuple[Labels, int, float]]) -> None:
            out = []
            for labels, t, value in rows:
                d = dict(labels)
                name = d.pop(NAME, "")
                if d.get(RUN_LABEL) == str(run):
                    del d[RUN_LABEL]
                out.append((name, canonical_labels(d), t * 1_000_000, value))
                shown = dict(d)
                if RUN_LABEL in shown:
                    shown["exported_" + RUN_LABEL] = shown[RUN_LABEL]
                shown[RUN_LABEL] = str(run)
                shown[NAME] = name
                self._overlay.add(from_dict(shown), t, value)
            if not self.sink.submit(out):
                log.warning("rule results of %s at %d were not stored: the store is behind",
                            group.spec.name, ts)

        try:
            changes = group.eval(ts, queryable, write, external_labels=self.external_labels,
                                 external_url=self.external_url,
                                 options=QueryOptions(deadline=time.monotonic() + 30,
                                                      subquery_step_ms=self.interval_ms))
        except Exception:
            log.exception("evaluating group %s", group.spec.name)
            return
        self.evaluations += 1
        self._maybe_restore(group, queryable, ts)
        if self.evaluations % 20 == 0:
            self._prune(ts)
        if self.notifier is not None:
            alerts = group.alerts_to_send(ts)
            if alerts:
                self.notifier.send(alerts, external_labels=self.external_labels,
                                   generator_url=f"{self.external_url}/metrics/query")
        if changes:
            self._record(store, changes)

    def _maybe_restore(self, group: Group, queryable: OverlayQueryable, ts: int) -> None:
        waiting = self._to_restore or {}
        left = waiting.get(group.key)
        if left is None:
            return
        if left > 1:
            waiting[group.key] = left - 1
            return
        del waiting[group.key]
        if self.restore.outage_tolerance_ms <= 0:
            return
        try:
            restored = group.restore_for_state(
                ts, queryable, before_ms=self.started_ms,
                outage_tolerance_ms=self.restore.outage_tolerance_ms,
                grace_ms=self.restore.grace_ms)
        except Exception:  # a restore that fails leaves the alerts as they are
            log.exception("restoring the alerts of group %s", group.spec.name)
            return
        self.restored += len(restored)
        if restored:
            log.info("group %s: %d alerts restored from before the restart", group.spec.name,
                     len(restored))

    def _prune(self, ts: int) -> None:
        fresh = MemoryQueryable()
        for labels, (times, values) in self._overlay.series.items():
            for t, v in zip(times, values, strict=True):
                if t >= ts - OVERLAY_KEEP_MS:
                    fresh.add(labels, t, v)
        self._overlay = fresh

    def _record(self, store: Store, changes: list[Change]) -> None:
        """Alert state changes as events of the hub's run: a band while it fires."""
        if self.events_run is None:
            return
        try:
            run = self.events_run()
            for ch in changes:
                key = (ch.rule, ch.alert.labels)
                attrs = {"labels": dict(ch.alert.labels), "state": ch.to,
                         "annotations": ch.alert.annotations, "value": ch.alert.value}
                if ch.to == "firing":
                    self._events[key] = store.add_event(
                        run, "alert", f"{ch.rule} firing", ts_ns=ch.ts * 1_000_000,
                        attrs=attrs)
                elif ch.to == "resolved":
                    event = self._events.pop(key, None)
                    if event is not None:
                        end_event(store, event, ch.ts * 1_000_000)
                elif ch.to == "pending":
                    store.add_event(run, "alert", f"{ch.rule} pending",
                                    ts_ns=ch.ts * 1_000_000, attrs=attrs)
        except Exception as exc:  # the timeline is a record: failing to write it is not fatal
            log.warning("recording alert events: %s", exc)

    # -- the API's views ---------------------------------------------------------------------

    def api_groups(self, kind: str | None = None) -> list[dict[str, Any]]:
        from perflab.metrics._alerting import _rfc3339_ms  # noqa: PLC0415

        with self._lock:
            groups = list(self.groups)
        out = []
        for g in groups:
            rules = []
            for r in g.rules:
                if kind == "alert" and r.spec.kind != "alert":
                    continue
                if kind == "record" and r.spec.kind != "record":
                    continue
                base: dict[str, Any] = {
                    "name": r.spec.name, "query": r.spec.expr_text.strip(),
                    "health": r.health, "lastError": r.last_error,
                    "evaluationTime": r.duration_s,
                    "lastEvaluation": _rfc3339_ms(r.last_eval_ms) if r.last_eval_ms else
                    "0001-01-01T00:00:00Z",
                    "labels": {k: t.source for k, t in r.spec.labels.items()},
                }
                if r.spec.kind == "alert":
                    base.update({
                        "type": "alerting", "state": r.state,
                        "duration": r.spec.for_ms / 1000,
                        "keepFiringFor": r.spec.keep_firing_for_ms / 1000,
                        "annotations": {k: t.source for k, t in r.spec.annotations.items()},
                        "alerts": [a.to_api() for a in r.active.values()
                                   if not a.resolved_at]})
                else:
                    base["type"] = "recording"
                rules.append(base)
            out.append({"name": g.spec.name, "file": g.spec.file, "rules": rules,
                        "interval": g.interval_ms / 1000, "limit": g.spec.limit,
                        "evaluationTime": g.duration_s,
                        "lastEvaluation": _rfc3339_ms(g.last_eval_ms) if g.last_eval_ms else
                        "0001-01-01T00:00:00Z"})
        return out

    def api_alerts(self) -> list[dict[str, Any]]:
        with self._lock:
            groups = list(self.groups)
        return [a.to_api() for g in groups for r in g.rules if r.spec.kind == "alert"
                for a in r.active.values() if not a.resolved_at]

    def active_alerts(self) -> list[tuple[str, Alert]]:
        with self._lock:
            groups = list(self.groups)
        return [(r.spec.name, a) for g in groups for r in g.rules if r.spec.kind == "alert"
                for a in r.active.values() if not a.resolved_at]
