"""Inhibition as a real Alertmanager (Debian's 0.25) does it: the same inhibit_rules given to
both, the same alerts posted to both; the alerts Alertmanager reports as inhibited are the ones
perflab mutes."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request
from pathlib import Path

import pytest
from _prompeers import alertmanager, get_json

from conftest import require_tool
from perflab.metrics import load_notify_config
from perflab.metrics._inhibit import muted

pytestmark = pytest.mark.integration

RULES = """
route:
  group_by: [alertname]
  group_wait: 0s
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: [severity=~"warning|info"]
    equal: [cluster]
  - source_matchers: [alertname=~"X.*"]
    target_matchers: [alertname=~"X.*"]
  - source_match: {alertname: NodeDown}
    target_match_re: {alertname: "Disk.*"}
"""

FIRING = [
    {"alertname": "Critical", "severity": "critical", "cluster": "eu"},
    {"alertname": "Warn", "severity": "warning", "cluster": "eu"},       # muted
    {"alertname": "Warn", "severity": "warning", "cluster": "us"},       # another cluster
    {"alertname": "CriticalBare", "severity": "critical"},
    {"alertname": "Info", "severity": "info"},                           # missing == missing
    {"alertname": "X1"}, {"alertname": "X2"},                            # both sides: never
    {"alertname": "NodeDown", "instance": "n1"},
    {"alertname": "DiskFull", "instance": "n2"},                         # legacy match maps
    {"alertname": "Warn", "severity": "warning", "cluster": "ap"},       # its source resolved
]
RESOLVED = [{"alertname": "OldCritical", "severity": "critical", "cluster": "ap"}]


def _rfc3339(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _post(url: str, alerts: list[dict[str, object]]) -> None:
    req = urllib.request.Request(url + "/api/v2/alerts", data=json.dumps(alerts).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # loopback
        assert resp.status == 200


def _key(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True)


def test_perflab_mutes_what_alertmanager_inhibits(tmp_path: Path) -> None:
    binary = require_tool("prometheus-alertmanager")
    ours_file = tmp_path / "notify.yml"
    ours_file.write_text(RULES)
    rules = load_notify_config(ours_file).inhibit_rules
    expected = {_key(a) for a in FIRING if muted(rules, a, FIRING)}
    assert expected == {_key(FIRING[1]), _key(FIRING[4]), _key(FIRING[8])}  # the cases above
    am_config = RULES.replace("route:\n", "route:\n  receiver: none\n") + \
        "receivers:\n  - name: none\n"
    now = dt.datetime.now(dt.UTC)
    with alertmanager(binary, am_config, tmp_path) as am:
        _post(am, [{"labels": a, "startsAt": _rfc3339(now - dt.timedelta(minutes=5)),
                    "endsAt": _rfc3339(now - dt.timedelta(minutes=1))} for a in RESOLVED])
        _post(am, [{"labels": a, "startsAt": _rfc3339(now),
                    "endsAt": _rfc3339(now + dt.timedelta(hours=1))} for a in FIRING])
        # Alertmanager's inhibitor learns of source alerts asynchronously: wait until it has
        # seen them all (its answer stops changing towards ours), bounded
        deadline = time.monotonic() + 30
        while True:
            listed = get_json(am + "/api/v2/alerts")
            theirs = {_key(a["labels"]) for a in listed if a["status"]["inhibitedBy"]}
            if (theirs == expected and len(listed) == len(FIRING)) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert len(listed) == len(FIRING)
    assert theirs == expected
