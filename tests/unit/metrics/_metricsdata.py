"""Known samples for the metrics tests: 10 minutes of a counter and a histogram at 15 s."""

from __future__ import annotations

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
