"""``perflab serve --webhook URL`` where URL is the hub itself, and the hub has a token: the
notifier sends the hub's token (``Authorization: Bearer``), so the hub's incident webhook takes
the alert instead of answering 401; a webhook on any other host:port never sees the token."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

import pytest

import perflab
from perflab.metrics._alerting import Alert
from perflab.metrics._labels import from_dict
from perflab.metrics._notify import HubAddress, Notifier

TOKEN = "own-hub-token-3"  # a test's token
ROUTE = "/api/incidents/alertmanager"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answered_200(hub: str) -> float:
    """Webhook requests the hub answered 200 (its own request counter, read with the token)."""
    req = urllib.request.Request(hub + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # loopback
        text = resp.read().decode()
    m = re.search(r'^perflab_http_requests_total\{[^}]*route="' + ROUTE +
                  r'"[^}]*status="200"[^}]*\} (\S+)$', text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


@contextlib.contextmanager
def _hub(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n- name: g\n  rules:\n  - alert: AlwaysOn\n"
                     "    expr: vector(1) > 0\n    labels: {severity: warning}\n")
    env = dict(os.environ, PERFLAB_TOKEN=TOKEN,
               PYTHONPATH=str(Path(perflab.__file__).resolve().parents[1]))
    log = tmp_path / "hub.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # our own interpreter and module, fixed args
            [sys.executable, "-m", "perflab", "serve", "--listen", f"127.0.0.1:{port}",
             "--store", str(tmp_path / "s.db"), "--no-record", "--no-otlp-http",
             "--no-otlp-grpc", "--no-zipkin", "--no-fluent-forward", "--no-syslog",
             "--rules", str(rules), "--eval-interval", "1s", "--no-default-rules",
             "--webhook", url + ROUTE],
            env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(url + "/login", timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(log.read_text()) from None
                    time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def test_a_webhook_to_the_hub_itself_carries_its_token(tmp_path: Path) -> None:
    with _hub(tmp_path) as hub:
        deadline = time.monotonic() + 60  # bounded: the rule fires at its first evaluation
        while not (delivered := _answered_200(hub)) and time.monotonic() < deadline:
            time.sleep(0.3)
    assert delivered >= 1, (tmp_path / "hub.log").read_text()


class _Capture(BaseHTTPRequestHandler):
    seen: list[str | None] = []  # noqa: RUF012  # the Authorization header of each request

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).seen.append(self.headers.get("Authorization"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@contextlib.contextmanager
def _capture() -> Iterator[tuple[int, list[str | None]]]:
    handler = cast("type[_Capture]", type("Handler", (_Capture,), {"seen": []}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler.seen
    finally:
        server.shutdown()
        server.server_close()


def _firing() -> Alert:
    ts = int(time.time() * 1000)
    alert = Alert(from_dict({"alertname": "X"}), {}, "firing", ts, 1.0, fired_at=ts)
    alert.valid_until = ts + 3_600_000
    return alert


def test_the_token_goes_to_the_hub_address_only() -> None:
    with _capture() as (hub_port, at_hub), _capture() as (other_port, at_other):
        notifier = Notifier(webhooks=(f"http://localhost:{hub_port}/hook",
                                      f"http://127.0.0.1:{other_port}/hook"),
                            own=HubAddress("127.0.0.1", hub_port, TOKEN))
        notifier.send([_firing()])
        notifier.flush_once()
    assert at_hub == [f"Bearer {TOKEN}"]
    assert at_other == [None]


@pytest.mark.parametrize(("listen", "url", "hub"), [
    ("127.0.0.1", "http://127.0.0.1:8600/x", True),
    ("127.0.0.1", "http://localhost:8600/x", True),
    ("0.0.0.0", "http://[::1]:8600/x", True),  # every address
    ("10.1.2.3", "http://10.1.2.3:8600/x", True),
    ("10.1.2.3", "http://127.0.0.1:8600/x", False),  # not where the hub listens
    ("127.0.0.1", "http://127.0.0.1:8601/x", False),  # another port
    ("127.0.0.1", "https://127.0.0.1:8600/x", False),  # the hub speaks http
    ("127.0.0.1", "http://example.com:8600/x", False),
    ("0.0.0.0", "http://example.com:8600/x", False),
    ("127.0.0.1", "http://127.0.0.1:bad/x", False),
])
def test_what_counts_as_the_hub(listen: str, url: str, hub: bool) -> None:
    assert HubAddress(listen, 8600, TOKEN).is_hub(url) is hub
