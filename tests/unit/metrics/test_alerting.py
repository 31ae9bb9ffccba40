"""Rule groups as Prometheus evaluates them: recording rules, the alert state machine,
ALERTS series, templates; rule file checks; the notifier's queue, grouping and silences."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from perflab.metrics import MemoryQueryable, load_rule_file, run_test_file
from perflab.metrics._alerting import Group
from perflab.metrics._inhibit import Route
from perflab.metrics._labels import from_dict
from perflab.metrics._notify import Notifier, fingerprint
from perflab.metrics._rulefile import RuleFileError, parse_rule_text
from perflab.metrics._template import AlertTemplate, TemplateError, parse_template
from perflab.store import is_stale_nan

RULES = """
groups:
  - name: g
    rules:
      - record: job:errors:rate1m
        expr: sum by (job) (rate(errors_total[1m]))
      - alert: HighErrors
        expr: job:errors:rate1m > 1
        for: 30s
        keep_firing_for: 20s
        labels: {severity: page, team: "{{ $labels.job }}-team"}
        annotations:
          summary: "{{ $labels.job }} fails {{ $value | printf \\"%.1f\\" }}/s"
"""


def _group() -> Group:
    [spec] = parse_rule_text(RULES, "rules.yml")
    return Group(spec, 10_000)


def _run(rate_by_step: list[float]) -> tuple[Group, MemoryQueryable, list[Any], list[Any]]:
    """Evaluate every 10 s while errors_total grows by ``rate * 10`` per step."""
    store = MemoryQueryable()
    labels = from_dict({"__name__": "errors_total", "job": "api"})
    total = 0.0
    group = _group()
    written: list[Any] = []
    changes: list[Any] = []

    def write(rows: list[Any]) -> None:
        for lab, ts, value in rows:
            store.add(lab, ts, value)
        written.extend(rows)

    for i, rate in enumerate(rate_by_step):
        total += rate * 10
        store.add(labels, i * 10_000, total)
        changes.extend(group.eval(i * 10_000, store, write))
    return group, store, written, changes


def _alert_states(written: list[Any]) -> list[tuple[int, str]]:
    return [(ts // 1000, dict(lab)["alertstate"]) for lab, ts, v in written
            if dict(lab).get("__name__") == "ALERTS" and not is_stale_nan(v)]


def test_pending_then_firing_after_for_then_kept_then_resolved():
    group, _, written, changes = _run([5.0] * 10 + [0.0] * 10)
    states = _alert_states(written)
    first_pending = min(t for t, s in states if s == "pending")
    first_firing = min(t for t, s in states if s == "firing")
    assert first_firing - first_pending == 30  # held for `for: 30s`
    assert [c.to for c in changes] == ["pending", "firing", "resolved"]
    resolved = next(c for c in changes if c.to == "resolved")
    last_above = max(t for t, s in states if s == "firing")
    # keep_firing_for: it keeps firing 20 s after the condition stops holding
    assert resolved.ts // 1000 - last_above == 10
    alert = next(iter(group.rules[1].active.values()))
    assert alert.state == "inactive"
    assert dict(alert.labels) == {"alertname": "HighErrors", "job": "api", "severity": "page",
                                  "team": "api-team"}
    assert alert.annotations["summary"].startswith("api fails ")  # its last value


def test_alerts_series_get_staleness_markers_when_alerts_end():
    _, _, written, _ = _run([5.0] * 8 + [0.0] * 14)
    stale = [(dict(lab)["__name__"], dict(lab).get("alertstate")) for lab, _, v in written
             if is_stale_nan(v)]
    assert ("ALERTS", "firing") in stale
    assert ("ALERTS", "pending") in stale


def test_alert_for_state_holds_the_active_time():
    _, _, written, _ = _run([5.0] * 8)
    for_state = [(ts, v) for lab, ts, v in written
                 if dict(lab).get("__name__") == "ALERTS_FOR_STATE"]
    assert for_state
    assert len({v for _, v in for_state}) == 1  # always when it became active


def test_a_pending_alert_that_clears_never_fires():
    _, _, written, changes = _run([5.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert "firing" not in {s for _, s in _alert_states(written)}
    assert [c.to for c in changes] == ["pending"]


def test_needs_sending_follows_prometheus():
    group, _, _, _ = _run([5.0] * 8)
    ts = group.last_eval_ms
    sent = group.alerts_to_send(ts, resend_delay_ms=60_000)
    assert len(sent) == 1
    assert group.alerts_to_send(ts + 10_000, resend_delay_ms=60_000) == []  # resend delay
    assert len(group.alerts_to_send(ts + 61_000, resend_delay_ms=60_000)) == 1


@pytest.mark.parametrize(("text", "labels", "value", "want"), [
    ("{{ $labels.instance }} down", {"instance": "h:9"}, 0, "h:9 down"),
    ("{{ $value }}", {}, 1e6, "1e+06"),
    ("{{ $value | humanize }}", {}, 1234567.0, "1.235M"),
    ("{{ $value | humanizeDuration }}", {}, 3725.0, "1h 2m 5s"),
    ("{{ $value | humanizePercentage }}", {}, 0.256, "25.6%"),
    ("{{ humanize1024 1048576.0 }}", {}, 0, "1Mi"),
    ("{{ if gt $value 0.5 }}hi{{ else }}lo{{ end }}", {}, 0.7, "hi"),
    ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }}", {"a": "1", "b": "2"}, 0,
     "a=1,b=2,"),
    ("{{ $labels.missing }}!", {}, 0, "!"),
    ('{{ toUpper "x" }}{{- " y" }}', {}, 0, "X y"),
    ('{{ printf "%.2f%%" $value }}', {}, 12.345, "12.35%"),
    ('{{ reReplaceAll "(a)b" "${1}X" "abab" }}', {}, 0, "aXaX"),
    ("{{ nosuch }}", {}, 0, '<error expanding template: function "nosuch" not defined>'),
])
def test_templates_expand_as_go_text_template(text, labels, value, want):
    assert AlertTemplate.compile(text).expand(labels, value) == want


@pytest.mark.parametrize("text", ["{{ $labels.x ", "{{ if 1 }}x", "{{ end }}",
                                  "{{ range }}{{ end }}", "{{ ) }}"])
def test_bad_templates_do_not_parse(text):
    with pytest.raises(TemplateError):
        parse_template(text)


def test_rules_check_lists_every_problem(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("""
groups:
  - name: a
    rules:
      - record: "not valid"
        expr: up
      - alert: X
        expr: sum(rate(x[5m])
        annotations: {s: "{{ $value "}
      - alert: Y
        record: Z
        expr: up
  - name: a
    rules: []
""")
    with pytest.raises(RuleFileError) as info:
        load_rule_file(bad)
    text = "\n".join(info.value.problems)
    assert "invalid recording rule name" in text
    assert "could not parse expression: 1:" in text
    assert "template" in text
    assert "only one of 'record' and 'alert'" in text
    assert "repeated in the same file" in text


def test_rules_test_agrees_with_the_promtool_format(tmp_path):
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "test.yml").write_text("""
rule_files: [rules.yml]
evaluation_interval: 10s
tests:
  - interval: 10s
    input_series:
      - series: errors_total{job="api"}
        values: 0+50x20
    alert_rule_test:
      - eval_time: 1m
        alertname: HighErrors
        exp_alerts:
          - exp_labels: {job: api, severity: page, team: api-team}
            exp_annotations: {summary: "api fails 5.0/s"}
      - eval_time: 10s
        alertname: HighErrors
        exp_alerts: []
    promql_expr_test:
      - expr: job:errors:rate1m
        eval_time: 2m
        exp_samples:
          - labels: 'job:errors:rate1m{job="api"}'
            value: 5
""")
    result = run_test_file(tmp_path / "test.yml")
    assert result.errors == []


def test_notifier_queues_for_a_dead_alertmanager_and_delivers_later():
    group, _, _, _ = _run([5.0] * 8)
    posts: list[tuple[str, Any]] = []
    up = {"ok": False}

    def post(url: str, body: bytes) -> tuple[bool, str]:
        posts.append((url, json.loads(body)))
        return (True, "") if up["ok"] else (False, "connection refused")

    clock = [0.0]
    n = Notifier(("http://am:9093",), post=post, clock=lambda: clock[0])
    n.send(group.alerts_to_send(group.last_eval_ms))
    n.flush_once()
    [status] = n.status()
    assert status["queued"] == 1
    assert status["lastError"] == "connection refused"
    up["ok"] = True
    clock[0] += 60
    n.flush_once()
    assert n.status()[0]["queued"] == 0
    url, alerts = posts[-1]
    assert url == "http://am:9093/api/v2/alerts"
    assert alerts[0]["labels"]["alertname"] == "HighErrors"
    assert {"startsAt", "endsAt", "annotations", "generatorURL"} <= set(alerts[0])


def test_webhook_notifications_are_grouped_and_repeated():
    group, _, _, _ = _run([5.0] * 8)
    got: list[Any] = []
    clock = [0.0]

    def post(url: str, body: Any) -> tuple[bool, str]:
        got.append(json.loads(body))
        return True, ""

    n = Notifier(webhooks=("http://hook",), route=Route(group_interval_s=5,
                                                        repeat_interval_s=100),
                 post=post,
                 clock=lambda: clock[0])
    n.send(group.alerts_to_send(group.last_eval_ms))
    n.flush_once()
    assert len(got) == 1
    doc = got[0]
    assert doc["version"] == "4"
    assert doc["status"] == "firing"
    assert doc["groupLabels"] == {"alertname": "HighErrors"}
    assert doc["alerts"][0]["fingerprint"] == fingerprint(doc["alerts"][0]["labels"])
    clock[0] += 50
    n.flush_once()
    assert len(got) == 1  # unchanged: waits for repeat_interval
    clock[0] += 60
    n.flush_once()
    assert len(got) == 2


def test_silenced_alerts_are_not_sent(tmp_path):
    from perflab.store import Store, add_silence  # noqa: PLC0415

    path = tmp_path / "s.db"
    with Store.open(path) as store:
        add_silence(store, [["alertname", "=", "HighErrors"], ["job", "=~", "a.*"]],
                    0, 2**62)
    group, _, _, _ = _run([5.0] * 8)
    posts: list[Any] = []

    def post(url: str, body: Any) -> tuple[bool, str]:
        posts.append(body)
        return True, ""

    n = Notifier(("http://am",), store_path=Path(path), post=post)
    n.send(group.alerts_to_send(group.last_eval_ms))
    n.flush_once()
    assert posts == []
    assert n.muted == 1


def test_fingerprint_is_alertmanagers():
    # model.LabelSet{"alertname": "test"}.Fingerprint() in Alertmanager's own tests
    assert len(fingerprint({"alertname": "test"})) == 16
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert not math.isnan(float(int(fingerprint({}), 16)))
