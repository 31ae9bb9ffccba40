"""``perflab serve --webhook URL`` where URL is the hub itself, and the hub has a token: the
notifier sends the hub's token (``Authorization: Bearer``), so the hub's incident webhook takes
the alert instead of answering 401; a webhook on any other host:port never sees the token."""

from __future__ import annotations

import contextlib
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

import pytest

import perflab.testing
from perflab.metrics._alerting import Alert
from perflab.metrics._labels import from_dict
from perflab.metrics._notify import HubAddress, Notifier

TOKEN = "own-hub-token-3"  # a test's token
ROUTE = "/api/incidents/alertmanager"


def _answered_200(hub: str) -> float:
    """Webhook requests the hub answered 200 (its own request counter, read with the token)."""
    req = urllib.request.Request(hub + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # loopback
        text = resp.read().decode()
    m = re.search(r'^perflab_http_requests_total\{[^}]*route="' + ROUTE +
                  r'"[^}]*status="200"[^}]*\} (\S+)$', text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def test_a_webhook_to_the_hub_itself_carries_its_token(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    port = perflab.testing.free_port()  # the hub's port, known before it starts: its --webhook
    monkeypatch.setattr(perflab.testing, "free_port", lambda: port)
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n- name: g\n  rules:\n  - alert: AlwaysOn\n"
                     "    expr: vector(1) > 0\n    labels: {severity: warning}\n")
    with perflab.testing.serve(tmp_path / "s.db", "--no-record", "--rules", str(rules),
                               "--eval-interval", "1s", "--no-default-rules", "--webhook",
                               f"http://127.0.0.1:{port}{ROUTE}", token=TOKEN,
                               start_timeout_s=60, log_path=tmp_path / "hub.log") as hub:
        assert hub.url == f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # bounded: the rule fires at its first evaluation
        while not (delivered := _answered_200(hub.url)) and time.monotonic() < deadline:
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
