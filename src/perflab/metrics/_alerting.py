"""Evaluating rule groups: recording rules, and alerting rules with their state machine.

Done as Prometheus's ``rules`` package does (v2.42): each rule of a group in order, at the
group's evaluation time; a recording rule writes its result under its name; an alerting rule
turns each result element into an alert, ``pending`` until it has held for ``for``, then
``firing``; an alert that disappears is dropped if pending, resolved (``inactive``) if firing
(or kept firing for ``keep_firing_for``), and kept 15 minutes so its resolution is sent. Every
evaluation writes ``ALERTS{alertstate=...}`` and ``ALERTS_FOR_STATE`` for the active alerts, and
a staleness marker for every series a rule wrote last time and not this time.

The same code runs in the hub (writing to the store) and in ``perflab rules test`` (writing
to memory), so both agree with ``promtool test rules``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from perflab.metrics import _labels as lab
from perflab.metrics._ast import Matcher, PromQLError
from perflab.metrics._engine import QueryOptions, instant_query
from perflab.metrics._labels import Labels
from perflab.metrics._names import RUN_LABEL
from perflab.metrics._rulefile import GroupSpec, RuleSpec
from perflab.metrics._template import Sample
from perflab.metrics._values import Queryable, stale_value

RESOLVED_RETENTION_MS = 15 * 60 * 1000
DEFAULT_RESEND_DELAY_MS = 60_000

Write = Callable[[list[tuple[Labels, int, float]]], None]


@dataclass(slots=True)
class Alert:
    labels: Labels
    annotations: dict[str, str]
    state: str                 # pending, firing, inactive
    active_at: int             # ms
    value: float
    fired_at: int = 0
    resolved_at: int = 0
    last_sent_at: int = 0
    valid_until: int = 0
    keep_firing_since: int = 0

    def needs_sending(self, ts: int, resend_delay_ms: int) -> bool:
        if self.state == "pending":
            return False
        if self.resolved_at > self.last_sent_at:
            return True
        return self.last_sent_at + resend_delay_ms < ts

    def to_api(self) -> dict[str, Any]:
        from perflab.metrics._apitime import format_value  # noqa: PLC0415

        return {"labels": dict(self.labels), "annotations": self.annotations,
                "state": self.state, "activeAt": _rfc3339_ms(self.active_at),
                "value": format_value(self.value)}


def _rfc3339_ms(ms: int) -> str:
    import datetime as dt  # noqa: PLC0415

    when = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass(slots=True)
class RuleState:
    spec: RuleSpec
    health: str = "unknown"
    last_error: str = ""
    last_eval_ms: int = 0
    duration_s: float = 0.0
    active: dict[Labels, Alert] = field(default_factory=dict)
    previous: set[Labels] = field(default_factory=set)

    @property
    def state(self) -> str:
        order = {"inactive": 0, "pending": 1, "firing": 2}
        best = "inactive"
        for a in self.active.values():
            if order[a.state] > order[best]:
                best = a.state
        return best


@dataclass(slots=True)
class Change:
    """An alert changed state (for the timeline): pending, firing, resolved."""

    rule: str
    alert: Alert
    to: str
    ts: int


class Group:
    def __init__(self, spec: GroupSpec, interval_ms: int) -> None:
        self.spec = spec
        self.interval_ms = spec.interval_ms or interval_ms
        self.rules = [RuleState(r) for r in spec.rules]
        self.last_eval_ms = 0
        self.duration_s = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.spec.file, self.spec.name)

    def copy_state(self, old: Group) -> None:
        """Keep the alerts and series of the rules a reload left alone (same name and
        expression), as Prometheus does."""
        by_key = {(r.spec.kind, r.spec.name, r.spec.expr_text): r for r in old.rules}
        for r in self.rules:
            prev = by_key.get((r.spec.kind, r.spec.name, r.spec.expr_text))
            if prev is not None:
                r.active, r.previous = prev.active, prev.previous
                r.health, r.last_error = prev.health, prev.last_error

    def eval(self, ts: int, queryable: Queryable, write: Write, *,
             external_labels: dict[str, str] | None = None, external_url: str = "",
             options: QueryOptions | None = None) -> list[Change]:
        changes: list[Change] = []
        t0 = time.perf_counter()
        opts = options or QueryOptions()
        for rule in self.rules:
            r0 = time.perf_counter()
            try:
                if rule.spec.kind == "record":
                    rows = _record(rule, ts, queryable, opts)
                else:
                    rows, ch = _alert(rule, ts, queryable, opts, external_labels or {},
                                      external_url, self.spec.limit)
                    changes.extend(ch)
                if rule.spec.kind == "record":
                    _check_limit(self.spec.limit, len(rows))
                rule.health, rule.last_error = "ok", ""
            except PromQLError as exc:
                rule.health, rule.last_error = "err", exc.message
                rows = []
            except Exception as exc:  # a rule's bug must not stop the group
                rule.health, rule.last_error = "err", f"{type(exc).__name__}: {exc}"
                rows = []
            returned = {labels for labels, _, _ in rows}
            stale = stale_value()
            rows.extend((labels, ts, stale) for labels in rule.previous - returned)
            rule.previous = returned
            if rows:
                write(rows)
            rule.last_eval_ms = ts
            rule.duration_s = time.perf_counter() - r0
        self.last_eval_ms = ts
        self.duration_s = time.perf_counter() - t0
        return changes

    def restore_for_state(self, ts: int, queryable: Queryable, *, before_ms: int,
                          outage_tolerance_ms: int, grace_ms: int) -> list[Alert]:
        """Give the active alerts back the ``active_at`` they had before a restart, from the
        ``ALERTS_FOR_STATE`` samples written before ``before_ms``, as Prometheus's
        ``RestoreForState`` does (v2.42): only rules whose ``for`` is at least ``grace_ms``,
        only samples within ``outage_tolerance_ms`` of ``ts``, none after a staleness marker.
        An alert that had been pending for less than ``for`` minus ``grace_ms`` keeps the
        time it still had to wait (shifted by the downtime); one closer to firing gets
        ``grace_ms`` more; one that was firing fires again at the next evaluation."""
        restored = []
        mint = ts - outage_tolerance_ms
        for rule in self.rules:
            hold = rule.spec.for_ms
            if rule.spec.kind != "alert" or hold < grace_ms:
                continue
            for alert in rule.active.values():
                if alert.state == "inactive":
                    continue
                found = _last_for_state(queryable, alert.labels, mint, before_ms)
                if found is None:
                    continue
                down_at = found[0] - found[0] % 1000  # Prometheus works in whole seconds
                active_at = int(found[1]) * 1000
                remaining = hold - (down_at - active_at)
                if remaining <= 0:
                    pass  # it was firing: it fires again at once if it still holds
                elif remaining < grace_ms:
                    active_at = ts + grace_ms - hold
                else:
                    active_at += ts - down_at
                alert.active_at = active_at
                restored.append(alert)
        return restored

    def alerts_to_send(self, ts: int, resend_delay_ms: int = DEFAULT_RESEND_DELAY_MS,
                       ) -> list[Alert]:
        """The alerts Prometheus would send after this evaluation (``sendAlerts``)."""
        out = []
        delta = max(resend_delay_ms, self.interval_ms)
        for rule in self.rules:
            for alert in rule.active.values():
                if alert.needs_sending(ts, resend_delay_ms):
                    alert.last_sent_at = ts
                    alert.valid_until = ts + 4 * delta
                    out.append(alert)
        return out


def _last_for_state(queryable: Queryable, labels: Labels, mint: int,
                    before_ms: int) -> tuple[int, float] | None:
    """(time, value) of the newest ``ALERTS_FOR_STATE`` sample of an alert in
    [mint, before_ms), or None (none there, or the newest is a staleness marker). The run
    label is not part of the identity (each incarnation of the hub records into a run of its
    own); a series of the alert's own run is preferred when several match."""
    own = dict(labels)
    run = own.pop(RUN_LABEL, None)
    matchers = [Matcher(lab.NAME, "=", "ALERTS_FOR_STATE"),
                *(Matcher(k, "=", v) for k, v in sorted(own.items()))]
    best: tuple[bool, int, float, bool] | None = None
    for raw in queryable.select(matchers, mint, before_ms - 1):
        if {k: v for k, v in raw.labels if k not in (RUN_LABEL, lab.NAME)} != own:
            continue  # a series with more labels than the alert's
        keep = (raw.ts >= mint) & (raw.ts < before_ms)
        if not keep.any():
            continue
        i = int(keep.nonzero()[0][-1])
        candidate = (dict(raw.labels).get(RUN_LABEL) == run, int(raw.ts[i]),
                     float(raw.values[i]), bool(raw.stale[i]))
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None or best[3]:
        return None
    return best[1], best[2]


def _check_limit(limit: int, n: int) -> None:
    if limit and n > limit:
        raise PromQLError(f"exceeded limit of {limit} with {n} series", kind="execution")


def _vector(queryable: Queryable, rule: RuleSpec, ts: int,
            opts: QueryOptions) -> list[tuple[Labels, float]]:
    result = instant_query(queryable, rule.expr, ts, opts)
    if result.type == "scalar":
        return [((), result.scalar)]
    if result.type != "vector":
        raise PromQLError("rule result is not a vector or scalar", kind="execution")
    return result.vector


def _record(rule: RuleState, ts: int, queryable: Queryable,
            opts: QueryOptions) -> list[tuple[Labels, int, float]]:
    rows = []
    seen: set[Labels] = set()
    extra = {k: t.source for k, t in rule.spec.labels.items()}
    for labels, value in _vector(queryable, rule.spec, ts, opts):
        out = dict(labels)
        out[lab.NAME] = rule.spec.name
        for k, v in extra.items():
            if v:
                out[k] = v
            else:
                out.pop(k, None)
        final = lab.from_dict(out)
        if final in seen:
            raise PromQLError("vector contains metrics with the same labelset after applying "
                              "rule labels", kind="execution")
        seen.add(final)
        rows.append((final, ts, value))
    return rows


def _alert(rule: RuleState, ts: int, queryable: Queryable, opts: QueryOptions,  # noqa: PLR0917
           external_labels: dict[str, str], external_url: str,
           limit: int) -> tuple[list[tuple[Labels, int, float]], list[Change]]:
    spec = rule.spec

    def query(q: str) -> list[Sample]:
        res = instant_query(queryable, q, ts, opts)
        if res.type == "scalar":
            return [Sample({}, res.scalar)]
        return [Sample(dict(labels), value) for labels, value in res.vector]

    fresh: dict[Labels, Alert] = {}
    for labels, value in _vector(queryable, spec, ts, opts):
        data = dict(labels)

        def expand(tmpl: Any, data: dict[str, str] = data, value: float = value) -> str:
            result: str = tmpl.expand(data, value, external_labels=external_labels,
                                      external_url=external_url, query=query)
            return result

        out = {k: v for k, v in labels if k != lab.NAME}
        for name, tmpl in spec.labels.items():
            expanded = expand(tmpl)
            if expanded:
                out[name] = expanded
            else:
                out.pop(name, None)
        out["alertname"] = spec.name
        annotations = {name: expand(tmpl) for name, tmpl in sorted(spec.annotations.items())}
        key = lab.from_dict(out)
        if key in fresh:
            raise PromQLError("vector contains metrics with the same labelset after applying "
                              "alert labels", kind="execution")
        fresh[key] = Alert(key, annotations, "pending", ts, value)
    changes: list[Change] = []
    for key, alert in fresh.items():
        current = rule.active.get(key)
        if current is not None and current.state != "inactive":
            current.value = alert.value
            current.annotations = alert.annotations
            continue
        rule.active[key] = alert
        changes.append(Change(spec.name, alert, "pending", ts))
    rows: list[tuple[Labels, int, float]] = []
    active_pending = 0
    for key in list(rule.active):
        alert = rule.active[key]
        if key not in fresh:
            keep_firing = False
            if alert.state == "firing" and spec.keep_firing_for_ms > 0:
                if alert.keep_firing_since == 0:
                    alert.keep_firing_since = ts
                if ts - alert.keep_firing_since < spec.keep_firing_for_ms:
                    keep_firing = True
            if alert.state == "pending" or (
                    alert.resolved_at and ts - alert.resolved_at > RESOLVED_RETENTION_MS):
                del rule.active[key]
            if alert.state != "inactive" and not keep_firing:
                was = alert.state
                alert.state = "inactive"
                alert.resolved_at = ts
                if was == "firing":
                    changes.append(Change(spec.name, alert, "resolved", ts))
            if not keep_firing:
                continue
        else:
            alert.keep_firing_since = 0
        active_pending += 1
        if alert.state == "pending" and ts - alert.active_at >= spec.for_ms:
            alert.state = "firing"
            alert.fired_at = ts
            changes.append(Change(spec.name, alert, "firing", ts))
        base = dict(alert.labels)
        rows.append((lab.from_dict({**base, lab.NAME: "ALERTS", "alertstate": alert.state}),
                     ts, 1.0))
        rows.append((lab.from_dict({**base, lab.NAME: "ALERTS_FOR_STATE"}), ts,
                     float(math.floor(alert.active_at / 1000))))
    if limit and active_pending > limit:
        rule.active = {}
        raise PromQLError(f"exceeded limit of {limit} with {active_pending} alerts",
                          kind="execution")
    return rows, changes


def firing(groups: Iterable[Group], name: str) -> list[Alert]:
    return [a for g in groups for r in g.rules if r.spec.kind == "alert" and r.spec.name == name
            for a in r.active.values() if a.state == "firing" and not a.resolved_at]
