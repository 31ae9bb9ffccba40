"""A hub restarted keeps its alerts' active time (``ALERTS_FOR_STATE``), as Prometheus does: a
firing alert fires again at once with the time it became active before the restart, instead of
waiting its ``for`` again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _prompeers import get_json

from perflab.testing import Served, serve

pytestmark = pytest.mark.integration

RULES = """
groups:
  - name: g
    rules:
      - alert: Always
        expr: vector(1)
        for: 1h
      - alert: AlwaysSoon
        expr: vector(1)
        for: 3s
"""


def _alerts(hub: Served) -> dict[str, dict[str, Any]]:
    doc = get_json(hub.url + "/api/v1/alerts")
    return {a["labels"]["alertname"]: a for a in doc["data"]["alerts"]}


def _wait(hub: Served, predicate: Any, what: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        alerts = _alerts(hub)
        if predicate(alerts):
            return alerts
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}: {alerts}\n{hub.log()}")
        time.sleep(0.2)


def test_alerts_keep_their_active_time_across_a_restart(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    store = tmp_path / "perflab.db"
    args = ("--no-record", "--no-default-rules", "--rules", str(rules),
            "--eval-interval", "1s", "--for-grace-period", "2s")
    with serve(store, *args) as hub:
        before = _wait(hub, lambda a: a.get("AlwaysSoon", {}).get("state") == "firing"
                       and "Always" in a, "the first hub's alerts")
    with serve(store, *args) as hub:
        # restored after the second evaluation (until then both are new and pending), to the
        # second: ALERTS_FOR_STATE holds whole seconds, as Prometheus's does
        since = before["AlwaysSoon"]["activeAt"][:19]  # 2026-12-03T10:26:29
        after = _wait(hub, lambda a: a.get("AlwaysSoon", {}).get("activeAt", "")[:19] == since,
                      "the restored alerts")
        assert after["AlwaysSoon"]["state"] in ("pending", "firing")
        after = _wait(hub, lambda a: a["AlwaysSoon"]["state"] == "firing",
                      "the restored alert to fire")
        assert after["Always"]["state"] == "pending"  # an hour to wait still
