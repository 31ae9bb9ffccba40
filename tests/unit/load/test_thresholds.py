"""Thresholds: parsing (with errors that point at the bad part), evaluation, JUnit XML."""

import math
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from perflab.errors import InvalidValue
from perflab.load._config import LoadConfig, RequestSpec, parse_target
from perflab.load._hdr import Histogram
from perflab.load._junit import junit_xml
from perflab.load._messages import CheckCounts, WorkerEnd
from perflab.load._result import RunningTotals
from perflab.load._summary import render_summary
from perflab.load._thresholds import evaluate, parse_threshold
from perflab.load._totals import Totals


@pytest.mark.parametrize(("text", "metric", "op", "value", "unit"), [
    ("p99<200ms", "p99", "<", 200.0, "ms"),
    ("p(95) < 1.5s", "p95", "<", 1500.0, "ms"),
    ("p99.9<=300", "p99.9", "<=", 300.0, "ms"),
    ("avg<50ms", "mean", "<", 50.0, "ms"),
    ("med<10ms", "p50", "<", 10.0, "ms"),
    ("service_p99<20ms", "service_p99", "<", 20.0, "ms"),
    ("error_rate<1%", "error_rate", "<", 0.01, "ratio"),
    ("error_rate<0.05", "error_rate", "<", 0.05, "ratio"),
    ("rps>1000", "rps", ">", 1000.0, "/s"),
    ("rps>=2k", "rps", ">=", 2000.0, "/s"),
    ("dropped==0", "dropped", "==", 0.0, "count"),
    ("checks>99%", "checks", ">", 0.99, "ratio"),
])
def test_parse(text, metric, op, value, unit):
    t = parse_threshold(text)
    assert (t.metric, t.op, t.unit) == (metric, op, unit)
    assert math.isclose(t.value, value)


@pytest.mark.parametrize(("text", "points_at"), [
    ("p99<20xs", "'20xs' (column 5) is not a duration"),
    ("error_rate<lots", "'lots' (column 12) is not a percentage"),
    ("rps>fast", "'fast' (column 5) is not a rate"),
    ("p99x<20ms", "unknown metric 'p99x'"),
    ("p0<1ms", "unknown metric 'p0'"),
    ("latency is low", "expected METRIC OP VALUE"),
])
def test_invalid_thresholds_name_the_bad_part(text, points_at):
    with pytest.raises(InvalidValue) as exc:
        parse_threshold(text)
    assert points_at in exc.value.message
    assert exc.value.exit_code == 2
    assert "p99<200ms" in (exc.value.hint or "")


def totals(latencies_us, codes, errors=None, elapsed=1.0):
    t = RunningTotals(open_model=False)
    t.latency.record_many(latencies_us)
    t.codes.update(codes)
    t.errors.update(errors or {})
    t.elapsed_s = elapsed
    return t


def test_evaluation_reads_latency_rates_and_counts():
    t = totals(list(range(1000, 101000, 1000)), Counter({200: 95, 500: 5}),
               {"reset": 0}, elapsed=2.0)
    results = evaluate([parse_threshold(x) for x in
                        ("p99<200ms", "p50<10ms", "error_rate<10%", "rps>100", "max<=100ms")], t)
    assert [r["passed"] for r in results] == [True, False, True, False, True]
    assert results[1]["actual"] == pytest.approx(50.0, rel=0.001)
    assert results[2]["actual"] == pytest.approx(0.05)
    assert results[3]["actual"] == pytest.approx(50.0)


def test_latency_threshold_without_data_fails_with_no_actual():
    t = RunningTotals(open_model=False)
    (r,) = evaluate([parse_threshold("p99<1s")], t)
    assert r["passed"] is False
    assert r["actual"] is None


def test_service_time_falls_back_to_latency_in_the_closed_model():
    t = totals([5000] * 10, Counter({200: 10}))
    (r,) = evaluate([parse_threshold("service_p99<6ms")], t)
    assert r["passed"]
    t.service = Histogram()
    t.service.record_many([9000] * 10)
    (r,) = evaluate([parse_threshold("service_p99<6ms")], t)
    assert not r["passed"]


def test_junit_xml_has_one_case_per_threshold_and_failures_marked():
    t = totals([1000] * 10, Counter({200: 10}))
    results = evaluate([parse_threshold("p99<10ms"), parse_threshold("rps>1000")], t)
    root = ET.fromstring(junit_xml(results, name="api", duration_s=1.5))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "perflab load: api"
    assert (suite.get("tests"), suite.get("failures"), suite.get("time")) == ("2", "1", "1.500")
    cases = list(suite.iter("testcase"))
    assert [c.get("name") for c in cases] == ["p99<10ms", "rps>1000"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "rps>1000: got 10 /s"


def test_the_live_verdict_is_the_results_verdict():
    """``--abort-on-fail`` asks ``passes`` each second (no result document made): it says
    what the final ``check`` says, NaN (no data yet) included."""
    t = totals(list(range(1000, 101000, 1000)), Counter({200: 95, 500: 5}),
               {"reset": 0}, elapsed=2.0)
    empty = RunningTotals(open_model=False)
    for text in ("p99<200ms", "p50<10ms", "error_rate<10%", "rps>100", "max<=100ms",
                 "checks>99%", "requests>=100"):
        th = parse_threshold(text)
        for m in (t, empty):
            assert th.passes(m) is th.check(m)["passed"], (text, m)


def test_scenario_checks_add_up_across_workers_and_are_written_as_counts():
    """Each worker counts its checks in ``CheckCounts``; the parent adds them up; the
    result writes them as {"passed", "failed"} and the ``checks`` threshold reads them."""
    cfg = LoadConfig(target=parse_target("http://127.0.0.1:8080/"),
                     request=RequestSpec("GET", (), b""), connections=2, duration_s=1)
    acc = Totals(cfg, 0, 2)
    acc.add_end(WorkerEnd(10, checks={"ok": CheckCounts(99, 1), "other": CheckCounts(5, 0)}))
    acc.add_end(WorkerEnd(12, checks={"ok": CheckCounts(100, 0)}))
    result = acc.result(0, "ok", [])
    assert result.to_json()["checks"] == {"ok": {"passed": 199, "failed": 1},
                                          "other": {"passed": 5, "failed": 0}}
    (r,) = evaluate([parse_threshold("checks>99%")], result)
    assert r["actual"] == pytest.approx(204 / 205)
    assert r["passed"]
    assert "✗ ok" in render_summary(result)
    assert "✓ other" in render_summary(result)
