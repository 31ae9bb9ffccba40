"""Known samples for the metrics tests: 10 minutes of a counter and a histogram at 15 s."""

from __future__ import annotations

import time
from pathlib import Path

from perflab.metrics import import_exposition
from perflab.store import Store

T0 = 1_700_000_000  # seconds: where the imported samples start

# 10 minutes of a counter and a histogram at 15 s, OpenMetrics with timestamps
def openmetrics_text() -> str:
    lines = ["# TYPE http_requests counter", "# HELP http_requests Requests served."]
    for i in range(41):
        t = T0 + 15 * i
        lines.append(f'http_requests_total{{code="200",job="api"}} {10 * i} {t}')
        lines.append(f'http_requests_total{{code="500",job="api"}} {i // 4} {t}')
    lines.append("# TYPE latency_seconds histogram")
    for i in range(41):
        t = T0 + 15 * i
        for le, share in (("0.1", 0.5), ("0.5", 0.9), ("+Inf", 1.0)):
            lines.append(f'latency_seconds_bucket{{le="{le}",job="api"}} '
                         f"{int(100 * i * share)} {t}")
        lines.append(f'latency_seconds_count{{job="api"}} {100 * i} {t}')
        lines.append(f'latency_seconds_sum{{job="api"}} {12.5 * i} {t}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


SLO_SPEC = """
slos:
  - name: checkout-availability
    service: checkout
    objective: 99
    window: 1d
    sli:
      events:
        good: sum(rate(http_requests_total{job="checkout",code!~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total{job="checkout"}[{{window}}]))
"""


def write_slo_data(path: Path, tmp: Path) -> int:
    """Two hours of a service taking 10 requests/s, 2 % of them failing in the last 30
    minutes (twice the 1 % budget), up to a minute ago."""
    now_s = time.time() - 60
    lines = ["# TYPE http_requests_total counter"]
    ok = err = 0.0
    for m in range(120, -1, -1):
        ts = now_s - m * 60
        rate_err = 0.2 if m < 30 else 0.0
        ok += (10 - rate_err) * 60
        err += rate_err * 60
        lines.append(f'http_requests_total{{job="checkout",code="200"}} {ok} {ts:.3f}')
        lines.append(f'http_requests_total{{job="checkout",code="500"}} {err} {ts:.3f}')
    lines.append("# EOF")
    data = tmp / "data.om"
    data.write_text("\n".join(lines) + "\n")
    with Store.open(path) as store:
        run_id = import_exposition(store, data).run_id
        store.add_event(run_id, "alert", "SLOErrorBudgetBurnFast firing",
                        ts_ns=int((now_s - 600) * 1e9), attrs={
                            "labels": {"alertname": "SLOErrorBudgetBurnFast",
                                       "slo": "checkout-availability"}, "state": "firing"})
    return run_id
