"""``--notify-config``: Alertmanager's route timings and inhibit_rules, with Alertmanager's
inhibition semantics (``inhibit/inhibit.go`` of 0.25), on the webhook path."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from perflab.errors import InvalidFile
from perflab.metrics import load_notify_config
from perflab.metrics._alerting import Alert
from perflab.metrics._inhibit import InhibitRule, Route, muted, notify_config_from_doc
from perflab.metrics._labels import from_dict
from perflab.metrics._matchers import parse_matcher
from perflab.metrics._notify import Notifier

CONFIG = """
route:
  group_by: [alertname, cluster]
  group_wait: 1s
  group_interval: 20s
  repeat_interval: 2h
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: [severity=~"warning|info"]
    equal: [cluster]
  - source_match: {alertname: NodeDown}
    target_match_re: {alertname: "Disk.*"}
"""


def _rule(source: str, target: str, *equal: str) -> InhibitRule:
    return InhibitRule((parse_matcher(source),), (parse_matcher(target),), equal)


def test_the_file_is_read_as_alertmanager_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "notify.yml"
    path.write_text(CONFIG)
    config = load_notify_config(path)
    assert config.route == Route(("alertname", "cluster"), 1.0, 20.0, 7200.0)
    first, legacy = config.inhibit_rules
    assert first == InhibitRule((parse_matcher('severity="critical"'),),
                                (parse_matcher('severity=~"warning|info"'),), ("cluster",))
    assert legacy == InhibitRule((parse_matcher('alertname="NodeDown"'),),
                                 (parse_matcher('alertname=~"Disk.*"'),), ())


@pytest.mark.parametrize(("doc", "words"), [
    ({"receivers": []}, "receivers"),
    ({"route": {"routes": []}}, "routes"),
    ({"route": {"group_wait": "soon"}}, "route.group_wait"),
    ({"route": {"group_by": ["not-a-label"]}}, "not-a-label"),
    ({"inhibit_rules": [{"source_matchers": ["sev=~'('"]}]}, "inhibit_rules[0]"),
    ({"inhibit_rules": [{"equal": "cluster"}]}, "inhibit_rules[0].equal"),
    ({"inhibit_rules": [{"sources": []}]}, "sources"),
    ({"inhibit_rules": {}}, "inhibit_rules must be a list"),
])
def test_what_it_would_not_act_on_is_refused_by_name(tmp_path: Path, doc: Any,
                                                     words: str) -> None:
    path = tmp_path / "notify.yml"
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidFile) as err:
        load_notify_config(path)
    assert words in err.value.message


def test_equal_labels_must_match_and_missing_equals_empty() -> None:
    rule = _rule('severity="critical"', 'severity="warning"', "cluster")
    warning = {"alertname": "A", "severity": "warning", "cluster": "eu"}
    assert muted([rule], warning, [{"alertname": "B", "severity": "critical", "cluster": "eu"}])
    assert not muted([rule], warning, [{"alertname": "B", "severity": "critical",
                                        "cluster": "us"}])
    bare = {"alertname": "A", "severity": "warning"}
    assert muted([rule], bare, [{"alertname": "B", "severity": "critical"}])
    assert not muted([rule], bare, [{"alertname": "B", "severity": "critical",
                                     "cluster": "eu"}])


def test_an_alert_on_both_sides_is_not_muted_by_one_on_both_sides() -> None:
    """Alertmanager's rule against self-inhibition: source and target both match
    alertname=~"X.*", so neither X alert mutes the other (nor itself); a source that is not a
    target still mutes them."""
    rule = _rule('alertname=~"X.*"', 'alertname=~"X.*"')
    a, b = {"alertname": "X1"}, {"alertname": "X2"}
    assert not muted([rule], a, [a, b])
    wider = _rule('alertname=~"X.*|Y"', 'alertname=~"X.*"')
    assert muted([wider], a, [a, {"alertname": "Y"}])


def _alert(labels: dict[str, str], ts: int, *, resolved: bool = False) -> Alert:
    alert = Alert(from_dict(labels), {}, "inactive" if resolved else "firing", ts, 1.0,
                  fired_at=ts)
    alert.valid_until = ts + 3_600_000
    if resolved:
        alert.resolved_at = ts
    return alert


def test_webhooks_leave_out_muted_alerts_until_the_source_resolves(tmp_path: Path) -> None:
    """A silenced source still inhibits (as in Alertmanager); once it resolves, the target is
    notified."""
    from perflab.store import Store, add_silence  # noqa: PLC0415

    path = tmp_path / "s.db"
    with Store.open(path) as store:
        add_silence(store, [["alertname", "=", "Critical"]], 0, 2**62)
    got: list[Any] = []
    clock = [0.0]

    def post(url: str, body: bytes) -> tuple[bool, str]:
        del url
        got.append(json.loads(body))
        return True, ""

    config = notify_config_from_doc({"inhibit_rules": [{
        "source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
        "equal": ["instance"]}]})
    n = Notifier(webhooks=("http://hook",), store_path=path, route=config.route,
                 inhibit=config.inhibit_rules, post=post, clock=lambda: clock[0])
    now = time.time_ns() // 1_000_000
    critical = {"alertname": "Critical", "severity": "critical", "instance": "a"}
    n.send([_alert(critical, now),
            _alert({"alertname": "Warn", "severity": "warning", "instance": "a"}, now),
            _alert({"alertname": "Warn2", "severity": "warning", "instance": "b"}, now)])
    n.flush_once()
    assert [d["groupLabels"]["alertname"] for d in got] == ["Warn2"]  # Critical: silenced
    n.send([_alert(critical, now, resolved=True)])
    clock[0] += 11
    n.flush_once()
    assert [d["groupLabels"]["alertname"] for d in got] == ["Warn2", "Warn"]


def test_serve_checks_the_file_before_starting(tmp_path: Path) -> None:
    """A bad --notify-config is exit 2 before the hub starts; a good one reaches the hub."""
    from perflab.cli.metrics import hub_options  # noqa: PLC0415
    from perflab.metrics import MetricsHub  # noqa: PLC0415

    bad = tmp_path / "bad.yml"
    bad.write_text("receivers: []\n")
    with pytest.raises(InvalidFile) as err:
        hub_options({"metrics_notify_config": str(bad)})
    assert err.value.exit_code == 2
    good = tmp_path / "good.yml"
    good.write_text(CONFIG)
    options = hub_options({"metrics_notify_config": str(good)})
    hub = MetricsHub(tmp_path / "perflab.db", options)
    assert hub.notify.route.group_by == ("alertname", "cluster")
    assert len(hub.notify.inhibit_rules) == 2


def test_a_source_past_its_ends_at_no_longer_mutes() -> None:
    """As in Alertmanager, an alert whose endsAt passed is resolved (a rule removed by a
    reload never sends its resolution): it mutes nothing and is forgotten."""
    got: list[Any] = []

    def post(url: str, body: bytes) -> tuple[bool, str]:
        del url
        got.append(json.loads(body))
        return True, ""

    rules = (_rule('severity="critical"', 'severity="warning"'),)
    n = Notifier(webhooks=("http://hook",), inhibit=rules, post=post, clock=lambda: 0.0)
    now = time.time_ns() // 1_000_000
    gone = _alert({"alertname": "Critical", "severity": "critical"}, now - 7_200_000)
    n.send([gone])
    n.send([_alert({"alertname": "Warn", "severity": "warning"}, now)])
    n.flush_once()
    assert sorted(d["groupLabels"]["alertname"] for d in got) == ["Critical", "Warn"]
    assert len(n._firing) == 1  # the one past its endsAt is forgotten
