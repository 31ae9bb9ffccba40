"""The capacity search's plan (ramp, then bisect), its knee and its input checks."""

from __future__ import annotations

import pytest

from perflab.errors import InvalidValue
from perflab.load import CapacityOptions, CapacityResult
from perflab.load._capacity import _Bisection, _knee


def _drive(capacity: float, start: float, max_rate: float | None = None,
           precision: float = 0.02, steps: int = 40) -> tuple[_Bisection, list[float]]:
    plan = _Bisection(start, max_rate, precision)
    tried: list[float] = []
    while plan.next is not None and len(tried) < steps:
        rate = plan.next
        tried.append(rate)
        plan.record(rate, ok=rate <= capacity)
    return plan, tried


def test_it_doubles_then_bisects_to_the_precision():
    plan, tried = _drive(400.0, 10.0)
    assert tried[:7] == [10, 20, 40, 80, 160, 320, 640]
    assert plan.passed is not None
    assert plan.failed is not None
    assert plan.passed <= 400 < plan.failed
    assert (plan.failed - plan.passed) / plan.passed <= 0.02
    assert len(tried) <= 14


def test_a_failing_start_looks_lower():
    plan, tried = _drive(3.0, 100.0)
    assert tried[:3] == [100, 25, 6.25]
    assert plan.passed is not None
    assert plan.passed <= 3.0


def test_nothing_passes_down_to_one_per_second():
    plan, tried = _drive(0.5, 10.0)
    assert plan.passed is None
    assert tried == [10, 2.5]


def test_the_max_rate_caps_the_ramp():
    plan, tried = _drive(1e9, 10.0, max_rate=50.0)
    assert tried == [10, 20, 40, 50]
    assert plan.passed == 50


def _point(step, rate, *, passed, cpu=None, rss=None, threads=1):
    return {"step": step, "rate": rate, "rps": rate, "p50_ms": 1.0, "p99_ms": 2.0,
            "error_rate": 0.0, "passed": passed, "failed": [] if passed else ["p99<1ms"],
            "cpu_pct": cpu, "rss_bytes": rss, "threads": threads, "duration_s": 1.0}


def test_the_knee_names_the_saturated_resource():
    curve = [_point(1, 10, passed=True, cpu=10, rss=100), _point(2, 20, passed=False, cpu=95,
                                                                rss=100)]
    assert _knee(curve, None) == {"rate": 10, "rps": 10, "resource": "cpu", "upper_rate": 20}
    curve[1]["cpu_pct"] = 20
    curve[1]["rss_bytes"] = 200
    assert _knee(curve, None)["resource"] == "memory"
    curve[1]["rss_bytes"] = 110
    assert _knee(curve, None)["resource"] == "concurrency"
    curve[1]["cpu_pct"] = None
    assert _knee(curve, None)["resource"] == "unknown"
    assert _knee([_point(1, 10, passed=True)], 10)["resource"] == "none"
    assert _knee([_point(1, 10, passed=False)], None)["rate"] is None


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"thresholds": ()}, "at least one --threshold"),
    ({"thresholds": ("p99<",)}, "invalid threshold"),
    ({"start_rate": 0}, "--start-rate"),
    ({"start_rate": 100, "max_rate": 10}, "--max-rate"),
    ({"precision": 0}, "--precision"),
    ({"max_steps": 1}, "--max-steps"),
    ({"scale_param": 0.5}, "--scale-param"),
])
def test_bad_options_are_refused_before_any_traffic(kwargs, says):
    opts = CapacityOptions(**{"url": "http://127.0.0.1:9/", "thresholds": ("p99<1s",),
                              **kwargs})
    with pytest.raises(InvalidValue, match=says):
        opts.validate()


def test_the_table_shows_the_curve_the_knee_and_the_fit():
    from perflab.cli._load_capacity import _echo_step, render_capacity  # noqa: PLC0415
    from perflab.load import fit_usl  # noqa: PLC0415

    fit = fit_usl([(1, 100.0), (2, 180.0), (4, 300.0), (8, 400.0)])
    opts = CapacityOptions(url="http://127.0.0.1:1/", thresholds=("p99<2ms",), scale_param=8)
    passed = _point(1, 10, passed=True, cpu=50.0, rss=2 << 20)
    failed = _point(2, 20, passed=False, cpu=60.0, rss=2 << 20)
    doc = CapacityResult(3, "http://127.0.0.1:1/", "ok", opts, curve=[failed, passed],
                         knee=_knee([passed, failed], None), usl=fit,
                         warnings=["a warning"]).to_json()
    text = render_capacity(doc)
    assert [p["rate"] for p in doc["curve"]] == [10, 20]
    assert "knee: 10/s (achieved 10/s, 20/s failed); saturated: concurrency" in text
    assert "FAIL p99<1ms" in text
    assert "2.00MiB" in text
    assert "USL: sigma" in text
    assert "N=8:" in text
    assert "warning: a warning" in text
    nothing = CapacityResult(4, "http://127.0.0.1:1/", "failed", opts, curve=[failed],
                             knee=_knee([failed], None)).to_json()
    assert "knee: not found" in render_capacity(nothing)
    _echo_step(failed)  # the progress line of a step (stderr)


def test_a_scenario_files_open_rates_scale_together_to_the_steps_total(tmp_path):
    from perflab.errors import InvalidFile  # noqa: PLC0415
    from perflab.load._scenario import (  # noqa: PLC0415
        Scenario,
        ScenarioSpec,
        open_rate_scale,
        rate_driven,
    )

    mix = [Scenario("a", rate=30), Scenario("b", rate="10/s")]
    assert open_rate_scale(mix, 200.0) == pytest.approx(5.0)  # 150/s and 50/s: still 3:1
    assert open_rate_scale(mix, None) == 1.0  # a plain load test: the file's own rates
    rate_driven(ScenarioSpec(str(tmp_path / "mix.py"), mix, []))
    for other, said in ((Scenario("c", connections=4), "a closed model"),
                        (Scenario("d", stages="5s:10"), "stages=")):
        with pytest.raises(InvalidFile, match=said):
            rate_driven(ScenarioSpec(str(tmp_path / "mix.py"), [*mix, other], []))


def test_a_capacity_search_needs_a_url_or_a_scenario():
    with pytest.raises(InvalidValue, match="give a URL or a scenario file"):
        CapacityOptions(url=None, thresholds=("p99<1s",)).validate()
    # a scenario file may bring its own thresholds: checked once it is read
    CapacityOptions(url=None, thresholds=(), scenario_file="mix.py").validate()
