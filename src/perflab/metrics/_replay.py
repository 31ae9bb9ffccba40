"""Rules evaluated over a run after the fact: what would have fired while it was recorded.

``replay_rules(store, run_id, rules_yaml)`` evaluates the groups at every evaluation interval
from the run's start to its end over the store (as the hub would have, live), and writes each
alert that fired as an ``alert`` event of the run, a band from firing to resolved. The demo uses
it to show an alert firing on its planted leak; it works on any recorded run.
"""

from __future__ import annotations

from dataclasses import dataclass

from perflab.metrics._alerting import Change, Group
from perflab.metrics._engine import QueryOptions
from perflab.metrics._rulefile import parse_rule_text
from perflab.metrics._storeq import StoreQueryable
from perflab.store import Store, end_event


@dataclass(frozen=True, slots=True)
class Fired:
    rule: str
    labels: dict[str, str]
    fired_ns: int
    resolved_ns: int | None
    value: float


def _discard(rows: object) -> None:
    """Replayed results are not stored: the recorded run stays as it was, events aside."""
    del rows


def replay_rules(store: Store, run_id: int, rules_yaml: str, *,
                 interval_ms: int = 5_000) -> list[Fired]:
    """Alerts that fire when the rules are evaluated over the run; written as its events."""
    run = store.run(run_id)
    groups = [Group(spec, interval_ms) for spec in parse_rule_text(rules_yaml, "<replay>")]
    queryable = StoreQueryable(store)
    end = run.ended_ns if run.ended_ns is not None else store.last_sample_ns(run)
    ts = run.started_ns // 1_000_000
    changes: list[Change] = []
    while ts <= end // 1_000_000:
        for g in groups:
            changes.extend(g.eval(ts, queryable, _discard, options=QueryOptions()))
        ts += interval_ms
    fired: list[Fired] = []
    open_events: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[int, int]] = {}
    for ch in changes:
        key = (ch.rule, ch.alert.labels)
        if ch.to == "firing":
            event = store.add_event(run_id, "alert", f"{ch.rule} firing",
                                    ts_ns=ch.ts * 1_000_000,
                                    attrs={"labels": dict(ch.alert.labels), "state": "firing",
                                           "annotations": ch.alert.annotations,
                                           "value": ch.alert.value, "replayed": True})
            open_events[key] = (event, len(fired))
            fired.append(Fired(ch.rule, dict(ch.alert.labels), ch.ts * 1_000_000, None,
                               ch.alert.value))
        elif ch.to == "resolved" and key in open_events:
            event, index = open_events.pop(key)
            end_event(store, event, ch.ts * 1_000_000)
            f = fired[index]
            fired[index] = Fired(f.rule, f.labels, f.fired_ns, ch.ts * 1_000_000, f.value)
    return fired
