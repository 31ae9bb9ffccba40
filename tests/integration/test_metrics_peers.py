"""perflab's metrics against the real Prometheus tools: a Prometheus remote-writes into the
hub and both answer the same query_range; promtool and perflab agree on rule unit tests; a
real Alertmanager receives perflab's alerts and hands them to its webhook."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _prompeers import alertmanager, get_json, prometheus, same_answers

from conftest import require_tool
from perflab.testing import serve

pytestmark = pytest.mark.integration

QUERIES = [
    "up",
    "prometheus_http_requests_total",
    "rate(prometheus_http_requests_total[10s])",
    "irate(prometheus_http_requests_total[10s])",
    "increase(prometheus_tsdb_head_samples_appended_total[15s])",
    "sum by (job) (rate(scrape_samples_scraped[10s]))",
    "sum without (instance) (rate(prometheus_http_requests_total[10s]))",
    "topk(3, rate(prometheus_http_requests_total[10s]))",
    ("histogram_quantile(0.9, sum by (le) "
     "(rate(prometheus_http_request_duration_seconds_bucket[10s])))"),
    "avg_over_time(scrape_duration_seconds[10s])",
    ("max_over_time(process_resident_memory_bytes[10s])"
     " - min_over_time(process_resident_memory_bytes[10s])"),
    "deriv(process_resident_memory_bytes[15s])",
    "predict_linear(process_resident_memory_bytes[15s], 60)",
    "delta(go_goroutines[10s])",
    "count(up) by (job)",
    "up == bool 1",
    "go_goroutines > on(job, instance) group_left() up",
    "absent(nonexistent_metric)",
    "scalar(sum(up)) * go_goroutines",
    "max_over_time(rate(process_cpu_seconds_total[10s])[20s:2s])",
]


def test_prometheus_remote_writes_into_the_hub_and_both_answer_alike(tmp_path: Path):
    binary = require_tool("prometheus")
    with serve(tmp_path / "perflab.db", "--no-record", "--no-default-rules") as hub:
        config = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ['PROM']}}]
remote_write:
  - url: {hub.url}/api/v1/write
    queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms}}
"""
        # Prometheus scrapes itself: its own address is known only once it runs, so the
        # first start finds a free port and the config names it
        from perflab.testing import free_port  # noqa: PLC0415

        port = free_port()
        config = config.replace("PROM", f"127.0.0.1:{port}")
        with prometheus(binary, config, tmp_path, port=port) as prom:
            time.sleep(25)  # 25 s of 1 s scrapes on both sides
            end = time.time() - 6  # what remote-write has surely delivered
            start = end - 15
            problems = []
            for q in QUERIES:
                params = {"query": q, "start": f"{start:.3f}", "end": f"{end:.3f}",
                          "step": "1"}
                theirs = get_json(prom + "/api/v1/query_range", params)
                ours = get_json(hub.url + "/api/v1/query_range", params)
                assert theirs["status"] == ours["status"] == "success", (q, ours)
                problems += [f"{q}: {p}" for p in same_answers(
                    ours["data"]["result"], theirs["data"]["result"])]
            assert problems == []


RULES = """
groups:
  - name: example
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        labels: {severity: page}
        annotations:
          summary: "Instance {{ $labels.instance }} down"
          description: >-
            {{ $labels.instance }} of {{ $labels.job }}: {{ $value }} {{ humanize 1234567 }}
      - alert: HighRate
        expr: job:http_requests:rate5m > 0.5
        keep_firing_for: 2m
        annotations: {summary: "rate {{ $value | printf \\"%.3f\\" }}"}
"""

TESTS = """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="prometheus", instance="localhost:9090"}'
        values: '0 0 0 0 0 0 0 0 0 0 0 0 0 0 0'
      - series: 'up{job="node", instance="localhost:9100"}'
        values: '1+0x6 0 0 0 0 0 0 0 0'
      - series: 'http_requests_total{job="api", instance="a"}'
        values: '0+60x10 600x10'
    alert_rule_test:
      - eval_time: 10m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {severity: page, instance: localhost:9090, job: prometheus}
            exp_annotations:
              summary: "Instance localhost:9090 down"
              description: "localhost:9090 of prometheus: 0 1.235M"
      - eval_time: 14m
        alertname: HighRate
        exp_alerts:
          - exp_labels: {job: api}
            exp_annotations: {summary: "rate 0.000"}
    promql_expr_test:
      - expr: job:http_requests:rate5m
        eval_time: 5m
        exp_samples:
          - labels: 'job:http_requests:rate5m{job="api"}'
            value: 1
      - expr: count(ALERTS{alertstate="firing"})
        eval_time: 12m
        exp_samples:
          - labels: '{}'
            value: WRONG
"""


@pytest.mark.parametrize("wrong", ["2", "3"])
def test_promtool_and_perflab_agree_on_rule_unit_tests(tmp_path: Path, wrong: str):
    promtool = require_tool("promtool")
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "test.yml").write_text(TESTS.replace("WRONG", wrong))
    theirs = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    ours = subprocess.run(["python", "-m", "perflab", "rules", "test", "test.yml"],
                          cwd=tmp_path, capture_output=True, text=True, check=False,
                          env=_env())
    assert (theirs.returncode == 0) == (ours.returncode == 0), (theirs.stdout + theirs.stderr,
                                                                ours.stdout + ours.stderr)
    assert ours.returncode in (0, 1)
    if theirs.returncode:
        # the same words for the same difference
        assert _failure_lines(theirs.stderr) == _failure_lines(ours.stderr)
    check = subprocess.run([promtool, "check", "rules", "rules.yml"], cwd=tmp_path,
                           capture_output=True, text=True, check=False)
    mine = subprocess.run(["python", "-m", "perflab", "rules", "check", "rules.yml"],
                          cwd=tmp_path, capture_output=True, text=True, check=False, env=_env())
    assert check.stdout == mine.stdout


def _failure_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.startswith("perflab:") and "hint:" not in line]


def _env() -> dict[str, str]:
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415

    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src, "PATH": str(Path(sys.executable).parent) + ":" +
            os.environ.get("PATH", "")}


class Webhook:
    """An HTTP receiver that records what Alertmanager (or perflab) posts to it."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append({"at": time.time(), "doc": json.loads(body)})
                hook.arrived.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_real_alertmanager_receives_perflabs_alerts(tmp_path: Path):
    binary = require_tool("prometheus-alertmanager")
    hook = Webhook()
    try:
        am_config = f"""
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{{url: '{hook.url}', send_resolved: true}}]
"""
        rules = tmp_path / "rules.yml"
        rules.write_text("""
groups:
  - name: g
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: page}
        annotations: {summary: "it fires"}
""")
        with alertmanager(binary, am_config, tmp_path) as am, \
                serve(tmp_path / "perflab.db", "--no-record", "--no-default-rules",
                      "--rules", str(rules), "--eval-interval", "1s",
                      "--alertmanager", am) as hub:
            assert hook.arrived.wait(60), hub.log()
            doc = hook.posts[0]["doc"]
            assert doc["status"] == "firing"
            [alert] = doc["alerts"]
            assert alert["labels"] == {"alertname": "AlwaysFiring", "severity": "page"}
            assert alert["annotations"] == {"summary": "it fires"}
            silences = get_json(am + "/api/v2/alerts")
            assert [a["labels"]["alertname"] for a in silences] == ["AlwaysFiring"]
            rules_doc = get_json(hub.url + "/api/v1/alerts")
            assert rules_doc["data"]["alerts"][0]["state"] == "firing"
    finally:
        hook.close()
