"""Alert state restored after a restart from ``ALERTS_FOR_STATE``, as Prometheus's
``RestoreForState`` does (the cases of its ``TestForStateRestore``)."""

from __future__ import annotations

from typing import Any

import pytest

from perflab.metrics import MemoryQueryable
from perflab.metrics._alerting import Group
from perflab.metrics._labels import from_dict
from perflab.metrics._rulefile import parse_rule_text
from perflab.metrics._values import stale_value

RULES = """
groups:
  - name: g
    rules:
      - alert: Slow
        expr: vector(1)
        for: 10m
        labels: {severity: page}
      - alert: Quick
        expr: vector(1)
        for: 1m
"""
MIN = 60_000
GRACE = 2 * MIN
HOUR = 60 * MIN
T0 = 100 * HOUR  # when the alert became active before the restart


def _restart(pending_min: int, down_min: int, *, stale: bool = False,
             run_before: str | None = None) -> tuple[Group, int]:
    """The old hub wrote ALERTS_FOR_STATE (value: active-since in seconds) every minute for
    ``pending_min`` minutes, then went down for ``down_min``; the new one evaluates twice
    and restores. Returns the group and the restore time."""
    q = MemoryQueryable()
    for name in ("Slow", "Quick"):
        labels = {"__name__": "ALERTS_FOR_STATE", "alertname": name}
        if name == "Slow":
            labels["severity"] = "page"
        if run_before is not None:
            labels["perflab_run"] = run_before
        for m in range(pending_min + 1):
            q.add(from_dict(labels), T0 + m * MIN, T0 / 1000)
        if stale:
            q.add(from_dict(labels), T0 + pending_min * MIN + 1000, stale_value())
    [spec] = parse_rule_text(RULES, "rules.yml")
    group = Group(spec, MIN)
    start = T0 + (pending_min + down_min) * MIN
    written: list[object] = []
    for ts in (start, start + MIN):
        group.eval(ts, q, written.extend)
    group.restore_for_state(start + MIN, q, before_ms=start, outage_tolerance_ms=HOUR,
                            grace_ms=GRACE)
    return group, start + MIN


def _active_at(group: Group, rule: int = 0) -> int:
    (alert,) = group.rules[rule].active.values()
    return alert.active_at


def test_an_alert_that_was_firing_keeps_its_active_time_and_fires_at_once() -> None:
    group, ts = _restart(15, 5)
    assert _active_at(group) == T0
    group.eval(ts + MIN, MemoryQueryable(), lambda rows: None)
    (alert,) = group.rules[0].active.values()
    assert alert.state == "firing"


def test_a_pending_alert_keeps_the_time_it_still_had_to_wait() -> None:
    """Pending 3 of 10 minutes, then down until the restore: it waits its 7 minutes after
    the restore (its active time moves by the time it was not evaluated)."""
    group, ts = _restart(3, 5)
    assert _active_at(group) == T0 + (ts - (T0 + 3 * MIN))
    assert ts - _active_at(group) == 3 * MIN


def test_an_alert_about_to_fire_gets_the_grace_period() -> None:
    """Pending 9 of 10 minutes (1 left, under the 2 minutes' grace): it fires 2 minutes after
    the restore, not at once."""
    group, ts = _restart(9, 5)
    assert _active_at(group) == ts + GRACE - 10 * MIN


@pytest.mark.parametrize(("kwargs", "why"), [
    ({"pending_min": 3, "down_min": 5, "stale": True}, "a staleness marker: it had ended"),
    ({"pending_min": 3, "down_min": 70}, "down longer than the outage tolerance"),
])
def test_nothing_is_restored(kwargs: dict[str, object], why: str) -> None:
    group, ts = _restart(**kwargs)  # type: ignore[arg-type]
    assert _active_at(group) == ts - MIN, why  # as new: active since its first evaluation


def test_rules_with_a_for_under_the_grace_period_are_not_restored() -> None:
    group, ts = _restart(15, 5)
    assert _active_at(group, rule=1) == ts - MIN


def test_the_run_label_is_not_part_of_the_identity() -> None:
    """Each hub incarnation records into its own run: the old run's series is found."""
    group, _ = _restart(15, 5, run_before="7")
    assert _active_at(group) == T0


@pytest.mark.parametrize(("tolerance_ms", "restored"), [(HOUR, 1), (0, 0)])
def test_the_hubs_rule_manager_restores_after_the_second_evaluation(
        tmp_path: Any, tolerance_ms: int, restored: int) -> None:
    """The rule manager over a store an earlier hub wrote ALERTS_FOR_STATE into: the first
    load's groups restore after their second evaluation; a tolerance of 0 restores nothing."""
    import time  # noqa: PLC0415

    from perflab.metrics._rulemgr import Restore, RuleManager  # noqa: PLC0415
    from perflab.metrics._sink import MetricSink, register_kinds  # noqa: PLC0415
    from perflab.store import IngestQueue, Store, write_metric_samples  # noqa: PLC0415

    path = tmp_path / "perflab.db"
    now = time.time_ns() // 1_000_000
    active_s = now // 1000 - 1200  # active 20 minutes ago, firing (for: 10m) when it went down
    with Store.open(path) as store:
        old = store.create_run("serve", "before").id
        with store.transaction():
            write_metric_samples(store, [
                (old, "ALERTS_FOR_STATE", '{"alertname":"Slow","severity":"page"}',
                 (now - k * MIN) * 1_000_000, float(active_s)) for k in (3, 2, 1)])
        new = store.create_run("serve", "after").id
    queue = IngestQueue(path)
    register_kinds(queue)
    queue.start()
    try:
        manager = RuleManager(path, MetricSink(queue, lambda: new), None, interval_ms=MIN,
                              restore=Restore(tolerance_ms, GRACE))
        manager.generated = [(RULES, "rules.yml")]
        manager.load([], default_rules=False)
        [group] = manager.groups
        start = manager.started_ms + 1  # evaluations come after the start
        with Store.open(path) as store:
            for ts in (start, start + MIN):
                manager.eval_group(group, store, ts)
                assert manager.restored == (restored if ts > start else 0)
        slow = next(iter(group.rules[0].active.values()))
        assert slow.active_at == (active_s * 1000 if restored else start)
    finally:
        queue.stop()
