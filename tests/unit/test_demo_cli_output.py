"""What `perflab demo` prints at its end, and its exit code: the hub it started is gone by then
(unless --keep), so it points at the report and at `perflab serve`; a missed load threshold is
a finding, and exit 99 only with --fail-on-threshold."""

from __future__ import annotations

import io
from pathlib import Path

from perflab.cli.demo import exit_code, print_result
from perflab.demo._findings import (
    CpuFinding,
    Findings,
    LeakFinding,
    LockFinding,
    ThresholdCheck,
    ThresholdFinding,
)
from perflab.demo.orchestrate import DemoResult


def result(*, threshold_passed: bool = False, hub: bool = True) -> DemoResult:
    findings = Findings(
        cpu=CpuFinding(detected=False, endpoint=None, service_cpu_pct=(None, None),
                       latency_p50_ms=(None, None), latency_ratio=None),
        lock=LockFinding(detected=False, endpoint=None, levels=(), service_cpu_pct=None),
        leak=LeakFinding(detected=False, endpoint=None, slope_bytes_per_min=None, r2=None,
                         rss_bytes=(None, None), baseline_slope_bytes_per_min=None),
        thresholds=ThresholdFinding((ThresholdCheck("cpu phase", "/work", "p90<5ms",
                                                    threshold_passed, 61.5, "ms"),)),
    )
    url = "http://127.0.0.1:8600" if hub else None
    return DemoResult(7, Path("/tmp/my store.db"), status="ok", hub_url=url,
                      run_url=f"{url}/runs/7" if hub else None,
                      report_path=Path("/tmp/perflab-demo-7.html"), findings=findings)


def printed(r: DemoResult, *, keeping: bool) -> list[str]:
    out = io.StringIO()
    print_result(r, keeping=keeping, file=out)
    return out.getvalue().splitlines()


def test_without_keep_it_points_at_the_report_and_perflab_serve_not_a_stopped_hub():
    lines = printed(result(), keeping=False)
    assert "Report: /tmp/perflab-demo-7.html" in lines
    assert ("Look at it later: perflab serve --store '/tmp/my store.db' and open "
            "http://127.0.0.1:8600/runs/7") in lines
    assert not any(line.startswith("Look at it: http") for line in lines)
    assert ("  found  thresholds: missed — /work p90<5ms in the cpu phase (61.5ms)") in lines


def test_with_keep_the_live_hub_url_is_printed():
    lines = printed(result(), keeping=True)
    assert "Look at it: http://127.0.0.1:8600/runs/7" in lines
    assert "Report: /tmp/perflab-demo-7.html" in lines
    assert not any("perflab serve" in line for line in lines)


def test_without_a_hub_it_points_at_perflab_show():
    lines = printed(result(hub=False), keeping=False)
    assert "Look at it: perflab show 7 --store '/tmp/my store.db'" in lines


def test_a_missed_threshold_exits_99_only_when_asked():
    assert exit_code(result(), fail_on_threshold=False) == 0
    assert exit_code(result(), fail_on_threshold=True) == 99
    assert exit_code(result(threshold_passed=True), fail_on_threshold=True) == 0
