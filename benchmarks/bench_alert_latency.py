"""Alert latency with perflab's defaults: from the moment a target's error rate jumps to the
notification, for both paths at once, over ``--trials`` faults:

- perflab -> a real Alertmanager (``group_wait: 0s``: its default alone is 30 s) -> webhook;
- perflab's own webhook notifier -> webhook.

The hub runs with its defaults (5 s scrape and evaluation intervals); the rule is
``sum(rate(app_requests_total{code="500"}[15s])) > 1`` with ``for: 0s``. Each trial starts
the fault at a random phase of the scrape interval, waits for both notifications, clears the
fault and waits for both resolutions. The issue's figure: <= 15 s.

    python benchmarks/bench_alert_latency.py [--trials 20]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from _prompeers import alertmanager  # noqa: E402

from perflab.testing import serve  # noqa: E402


class App:
    """A target whose 500s per second the benchmark switches on and off."""

    def __init__(self) -> None:
        self.ok = 0.0
        self.errors = 0.0
        self.failing = False
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                now = time.time()
                app.ok += 50 * (now - app.last)
                if app.failing:
                    app.errors += 20 * (now - app.last)
                app.last = now
                body = (f'app_requests_total{{code="200"}} {app.ok:.0f}\n'
                        f'app_requests_total{{code="500"}} {app.errors:.0f}\n').encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.last = time.time()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Hook:
    def __init__(self) -> None:
        self.events: list[tuple[float, str, str]] = []  # (when, path, status)
        self.cond = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                doc = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook.cond:
                    hook.events.append((time.time(), self.path, doc["status"]))
                    hook.cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, since: float, status: str, paths: tuple[str, ...],
             timeout: float = 120) -> dict[str, float]:
        deadline = time.time() + timeout
        with self.cond:
            while True:
                got = {}
                for when, path, st in self.events:
                    if when >= since and st == status and path in paths and path not in got:
                        got[path] = when
                if len(got) == len(paths) or time.time() > deadline:
                    return got
                self.cond.wait(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    app, hook = App(), Hook()
    latencies: dict[str, list[float]] = {"/am": [], "/direct": []}
    with tempfile.TemporaryDirectory(prefix="perflab-alerts-") as tmp:
        work = Path(tmp)
        (work / "prometheus.yml").write_text(
            "scrape_configs: [{job_name: app, static_configs: "
            f"[{{targets: ['{app.address}']}}]}}]\n")
        (work / "rules.yml").write_text("""
groups:
  - name: app
    rules:
      - alert: ErrorRate
        expr: sum(rate(app_requests_total{code="500"}[15s])) > 1
        for: 0s
        labels: {severity: page}
""")
        am_config = f"""
route: {{receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1s,
        repeat_interval: 1h}}
receivers: [{{name: hook, webhook_configs: [{{url: '{hook.url}/am', send_resolved: true}}]}}]
"""
        with alertmanager("/usr/bin/prometheus-alertmanager", am_config, work) as am, \
                serve(work / "perflab.db", "--no-record", "--no-default-rules", "--scrape",
                      str(work / "prometheus.yml"), "--rules", str(work / "rules.yml"),
                      "--alertmanager", am, "--webhook", f"{hook.url}/direct"):
            time.sleep(12)  # a few clean scrapes first
            for trial in range(args.trials):
                time.sleep(random.uniform(0, 5))  # a random phase of the 5 s intervals
                start = time.time()
                app.failing = True
                got = hook.wait(start, "firing", ("/am", "/direct"))
                for path, when in got.items():
                    latencies[path].append(when - start)
                app.failing = False
                cleared = time.time()
                hook.wait(cleared, "resolved", ("/am", "/direct"))
                shown = ", ".join(f"{p} {got[p] - start:.1f} s" if p in got else f"{p} none"
                                  for p in ("/am", "/direct"))
                print(f"trial {trial + 1}: {shown}", flush=True)
    for path, name in (("/am", "via Alertmanager"), ("/direct", "perflab's webhook")):
        values = sorted(latencies[path])
        if not values:
            print(f"{name}: no notification")
            continue
        p95 = values[min(len(values) - 1, round(0.95 * len(values)) - 1)]
        print(f"{name}: n={len(values)} min {values[0]:.1f} s, median "
              f"{statistics.median(values):.1f} s, p95 {p95:.1f} s, max {values[-1]:.1f} s "
              "(target: <= 15 s)")


if __name__ == "__main__":
    main()
