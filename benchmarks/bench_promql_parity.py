"""PromQL parity with Prometheus: the same OpenMetrics data loaded into both (``promtool tsdb
create-blocks-from openmetrics`` for Prometheus, ``perflab metrics import`` for perflab), then
``--queries`` range queries covering every function and operator perflab implements, each
answer compared series by series and point by point (equal within 1e-9 relative; perflab's
``perflab_run`` label aside). Then the same rule unit-test files through ``promtool test
rules`` and ``perflab rules test``.

    python benchmarks/bench_promql_parity.py [--hours 2] [--step 60]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from _prompeers import get_json, prometheus, same_answers  # noqa: E402

from perflab.metrics import StoreQueryable, import_exposition, range_query  # noqa: E402
from perflab.metrics._apitime import format_time, format_value  # noqa: E402
from perflab.store import Store  # noqa: E402

SCRAPE_S = 15


def openmetrics(start: int, hours: float, seed: int = 7) -> str:
    """Counters with resets, gauges with a gap, a histogram, for ``hours`` at 15 s."""
    rnd = random.Random(seed)
    steps = int(hours * 3600 / SCRAPE_S)
    out: list[str] = []

    def family(name: str, kind: str, series: list[tuple[str, list[float | None]]]) -> None:
        out.append(f"# TYPE {name} {kind}")
        for labels, values in series:
            for i, v in enumerate(values):
                if v is not None:
                    text = "NaN" if isinstance(v, float) and math.isnan(v) else repr(v)
                    out.append(f"{labels} {text} {start + i * SCRAPE_S}")

    counters = []
    for inst in ("a:80", "b:80", "c:80"):
        for code in ("200", "404", "500"):
            total = 0.0
            vals: list[float | None] = []
            for i in range(steps):
                total += rnd.randint(0, 40) * (5 if code == "200" else 1)
                if inst == "b:80" and i == steps // 2:
                    total = float(rnd.randint(0, 5))  # a restart: counter reset
                vals.append(total)
            counters.append(((f'http_requests_total{{instance="{inst}",job="api",code="{code}"'
                             f',method="{"GET" if code != "404" else "POST"}"}}'), vals))
    family("http_requests", "counter", [(s.replace("http_requests_total", "http_requests_total"),
                                         v) for s, v in counters])
    gauges = []
    for inst in ("a:80", "b:80", "c:80"):
        level = rnd.uniform(1e8, 2e8)
        vals = []
        for i in range(steps):
            level += rnd.uniform(-1e6, 1.2e6)
            gap = inst == "c:80" and steps // 3 < i < steps // 3 + 30  # 7.5 min: stale
            vals.append(None if gap else round(level))
        gauges.append((f'memory_bytes{{instance="{inst}",job="api"}}', vals))
    family("memory_bytes", "gauge", gauges)
    temps = [(f'temperature_celsius{{sensor="{s}"}}', [round(20 + 5 * math.sin(i / 40 + k)
                                                             + rnd.uniform(-0.5, 0.5), 2)
                                                       for i in range(steps)])
             for k, s in enumerate(("cpu", "gpu", "disk"))]
    family("temperature_celsius", "gauge", temps)
    buckets = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
    out.append("# TYPE request_duration_seconds histogram")
    for inst in ("a:80", "b:80"):
        counts = [0] * (len(buckets) + 1)
        total = 0.0
        rows: dict[str, list[str]] = {}
        for i in range(steps):
            for _ in range(rnd.randint(5, 30)):
                d = rnd.expovariate(4)
                total += d
                for k, b in enumerate(buckets):
                    if d <= b:
                        counts[k] += 1
                counts[-1] += 1
            t = start + i * SCRAPE_S
            for k, b in enumerate(buckets):
                rows.setdefault(str(b), []).append(
                    f'request_duration_seconds_bucket{{instance="{inst}",le="{b}"}} '
                    f"{counts[k]} {t}")
            rows.setdefault("+Inf", []).append(
                f'request_duration_seconds_bucket{{instance="{inst}",le="+Inf"}} {counts[-1]} {t}')
            rows.setdefault("count", []).append(
                f'request_duration_seconds_count{{instance="{inst}"}} {counts[-1]} {t}')
            rows.setdefault("sum", []).append(
                f'request_duration_seconds_sum{{instance="{inst}"}} {total!r} {t}')
        for lines in rows.values():
            out.extend(lines)
    out.append("# EOF")
    return "\n".join(out) + "\n"


R = "http_requests_total"
M = "memory_bytes"
T = "temperature_celsius"
B = "request_duration_seconds_bucket"


def queries(at: int) -> list[str]:
    out = [R, M, T, f'{R}{{code=~"5.."}}', f'{R}{{code!="200",method="GET"}}',
           f"{M} offset 5m", f"{M} @ {at}", f"{T} offset -2m"]
    for fn in ("rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
               "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
               "count_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
               "present_over_time"):
        sel = R if fn in ("rate", "irate", "increase", "resets") else M
        out.append(f"{fn}({sel}[2m])")
    out += [f"quantile_over_time(0.9, {T}[5m])", f"predict_linear({M}[10m], 3600)",
            f"holt_winters({T}[10m], 0.3, 0.6)", "absent_over_time(nope[5m])",
            f"rate({R}[5m] offset 10m)", f"deriv({T}[5m:30s])",
            f"max_over_time(rate({R}[1m])[10m:1m])", f"avg_over_time({M}[10m:])",
            f"rate({R}[1m] @ {at})"]
    for agg in ("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"):
        out += [f"{agg}(rate({R}[5m]))", f"{agg} by (code) (rate({R}[5m]))",
                f"{agg} without (instance, method) (rate({R}[5m]))"]
    out += [f"topk(2, {M})", f"bottomk(2, rate({R}[5m]))", f"quantile(0.5, {T})",
            f'count_values("v", round({T}))', f"topk by (code) (1, rate({R}[5m]))",
            f"quantile by (code) (0.9, rate({R}[5m]))"]
    for q in ("0.5", "0.9", "0.99"):
        out.append(f"histogram_quantile({q}, rate({B}[5m]))")
    out += [f"histogram_quantile(0.9, sum by (le) (rate({B}[5m])))",
            "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])"]
    for op in ("+", "-", "*", "/", "%", "^", "atan2"):
        out.append(f"{T} {op} 2")
    for op in ("==", "!=", ">", "<", ">=", "<="):
        out += [f"{T} {op} 21", f"{T} {op} bool 21", f"21 {op} bool {T}"]
    out += [f"sum by (instance) (rate({R}[5m])) / on (instance) group_left {M}",
            f"{M} / on (instance) group_left sum by (instance) (rate({R}[5m]))",
            f"rate({R}[5m]) / ignoring (code, method) group_left {M}",
            f"{M} * on (instance) group_right sum by (instance, code) (rate({R}[5m]))",
            f"sum by (instance) (rate({R}[5m])) > bool on (instance) {M} / 1e7",
            f'{R} and {R}{{code="200"}}', f"{R} or {M}", f'{R} unless {R}{{code="500"}}',
            f"rate({R}[5m]) and on (instance) {M} > 1.5e8",
            f'absent({M}{{instance="zzz"}})', f"absent({M})",
            f'label_replace({M}, "host", "$1", "instance", "(.*):.*")',
            f'label_join({M}, "both", "-", "instance", "job")',
            f"clamp({T}, 19, 22)", f"clamp_min({T}, 21)", f"clamp_max({T}, 21)",
            f"abs({T} - 21)", f"ceil({T})", f"floor({T})", f"round({T}, 0.5)", f"exp({T} / 10)",
            f"ln({M})", f"log2({M})", f"log10({M})", f"sqrt({M})", f"sgn({T} - 21)",
            f"time() - {M} * 0", "vector(time())", f"scalar(sum({M})) + {T}",
            f"timestamp({M})", f"-{T}", f"{T} - {T} offset 1m", "vector(1) + 2",
            f"sum(rate({R}[5m])) / scalar(count({M}))",
            f"day_of_week({M} * 0 + 1700000000)", "minute()", f"hour({M} * 0 + 1700000000)"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--step", type=int, default=60)
    args = ap.parse_args()
    prom = "/usr/bin/prometheus"
    promtool = "/usr/bin/promtool"
    end = int(time.time()) - 3600
    start = end - int(args.hours * 3600)
    start -= start % 60
    with tempfile.TemporaryDirectory(prefix="perflab-parity-") as tmp:
        work = Path(tmp)
        data = work / "data.om"
        data.write_text(openmetrics(start, args.hours))
        subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(data),
                        str(work / "tsdb")], check=True, capture_output=True)
        store = work / "perflab.db"
        with Store.open(store) as st:
            imported = import_exposition(st, data)
        print(f"data: {imported.samples:,} samples of {imported.series} series, "
              f"{args.hours:g} h at 15 s")
        q_start, q_end = start + 900, start + int(args.hours * 3600) - 300
        at = start + 1800
        qs = queries(at)
        equal, problems = 0, []
        with prometheus(prom, "global: {scrape_interval: 1h}\n", work,
                        storage=work / "tsdb") as url, Store.open(store, create=False) as st:
            q = StoreQueryable(st)
            for expr in qs:
                params = {"query": expr, "start": q_start, "end": q_end, "step": args.step}
                theirs = get_json(url + "/api/v1/query_range", params)
                try:
                    matrix = range_query(q, expr, q_start * 1000, q_end * 1000,
                                         args.step * 1000)
                    ours = [{"metric": dict(lab), "values": [[format_time(t), format_value(v)]
                                                             for t, v in pts]}
                            for lab, pts in matrix]
                except Exception as exc:  # a difference to report, not a crash of the bench
                    problems.append(f"{expr}: perflab failed: {exc}")
                    continue
                diff = same_answers(ours, theirs["data"]["result"])
                if diff:
                    problems.append(f"{expr}: {diff[0]}")
                else:
                    equal += 1
        print(f"range queries: {equal} of {len(qs)} equal within 1e-9 (same series, labels and "
              f"points)")
        for p in problems:
            print("  DIFF", p)
        rule_parity(work, promtool)


RULE_FILES = {
    "rules.yml": """
groups:
  - name: g
    rules:
      - record: job:errors:ratio5m
        expr: sum by (job) (rate(errors_total[5m])) / sum by (job) (rate(requests_total[5m]))
      - alert: ErrorRatio
        expr: job:errors:ratio5m > 0.05
        for: 2m
        keep_firing_for: 1m
        labels: {severity: "{{ if gt $value 0.2 }}page{{ else }}ticket{{ end }}"}
        annotations:
          summary: "{{ $labels.job }}: {{ $value | humanizePercentage }} errors"
          count: "{{ range query \\"requests_total\\" }}{{ .Labels.job }} {{ end }}"
      - alert: Absent
        expr: absent(up{job="db"})
        for: 1m
""",
}
TEST_FILES = {
    "ok.yml": """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - {series: 'requests_total{job="api"}', values: '0+100x30'}
      - {series: 'errors_total{job="api"}', values: '0+1x10 10+30x20'}
      - {series: 'up{job="web"}', values: '1x30'}
    alert_rule_test:
      - eval_time: 5m
        alertname: ErrorRatio
        exp_alerts: []
      - eval_time: 20m
        alertname: ErrorRatio
        exp_alerts:
          - exp_labels: {job: api, severity: page}
            exp_annotations: {summary: "api: 30% errors", count: "api "}
      - eval_time: 3m
        alertname: Absent
        exp_alerts: [{exp_labels: {job: db}}]
    promql_expr_test:
      - expr: job:errors:ratio5m
        eval_time: 20m
        exp_samples: [{labels: 'job:errors:ratio5m{job="api"}', value: 0.3}]
""",
    "wrong.yml": """
rule_files: [rules.yml]
tests:
  - interval: 1m
    input_series:
      - {series: 'requests_total{job="api"}', values: '0+100x30'}
      - {series: 'errors_total{job="api"}', values: '0+10x30'}
    alert_rule_test:
      - eval_time: 10m
        alertname: ErrorRatio
        exp_alerts: [{exp_labels: {job: api, severity: ticket}}]
    promql_expr_test:
      - expr: sum(rate(errors_total[5m]))
        eval_time: 10m
        exp_samples: [{labels: '{}', value: 0.2}]
""",
}


def rule_parity(work: Path, promtool: str) -> None:
    for name, text in {**RULE_FILES, **TEST_FILES}.items():
        (work / name).write_text(text)
    same = 0
    for name in TEST_FILES:
        theirs = subprocess.run([promtool, "test", "rules", name], cwd=work,
                                capture_output=True, text=True, check=False)
        ours = subprocess.run([sys.executable, "-m", "perflab", "rules", "test", name],
                              cwd=work, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        t_lines = [x.strip() for x in theirs.stderr.splitlines() if x.strip()]
        o_lines = [x.strip() for x in ours.stderr.splitlines()
                   if x.strip() and not x.startswith(("perflab:", "  hint:"))]
        agree = (theirs.returncode == 0) == (ours.returncode == 0) and t_lines == o_lines
        same += agree
        print(f"rules test {name}: promtool {'ok' if theirs.returncode == 0 else 'FAILED'}, "
              f"perflab {'ok' if ours.returncode == 0 else 'FAILED'}, "
              f"{'same report' if agree else 'DIFFERENT report'}")
        if not agree:
            print("   promtool:", t_lines[:6])
            print("   perflab: ", o_lines[:6])
    print(f"rule unit tests: {same} of {len(TEST_FILES)} files agree with promtool")


if __name__ == "__main__":
    main()
