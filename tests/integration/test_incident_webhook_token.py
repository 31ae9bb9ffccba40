"""A real Alertmanager sending to the hub's incident webhook off loopback: the hub listens on
this machine's own non-loopback address with a token; the receiver whose ``http_config``
carries the token is delivered (Alertmanager counts no failure), the one without it is
refused with a 401 (Alertmanager counts its failures), and a plain client gets the 401's
message."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from _prompeers import alertmanager, stop
from tests.conftest import require_tool

import perflab

TOKEN = "am-webhook-token-7"  # a test's token


def _own_address() -> str:
    """An IPv4 address of this machine that is not loopback (the hub is served there)."""
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                return str(a.address)
    pytest.skip("this machine has no IPv4 address besides loopback")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _hub(store: Path, host: str, log: Path) -> Iterator[str]:
    """``perflab serve`` on HOST with the token (in its environment), no other receiver."""
    port = _free_port(host)
    env = dict(os.environ, PERFLAB_TOKEN=TOKEN,
               PYTHONPATH=str(Path(perflab.__file__).resolve().parents[1]))
    with log.open("wb") as out:
        proc = subprocess.Popen(  # our own interpreter and module, fixed args
            [sys.executable, "-m", "perflab", "serve", "--listen", f"{host}:{port}",
             "--store", str(store), "--no-record", "--no-otlp-http", "--no-otlp-grpc",
             "--no-zipkin", "--no-fluent-forward", "--no-syslog"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://{host}:{port}"
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
            stop(proc)


def _am_config(hub: str) -> str:
    webhook = f"{hub}/api/incidents/alertmanager"
    return f"""
route:
  receiver: with_token
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['auth="no"']
      receiver: without_token
receivers:
  - name: with_token
    webhook_configs:
      - url: {webhook}
        send_resolved: false
        http_config:
          authorization:
            credentials: {TOKEN}
  - name: without_token
    webhook_configs:
      - url: {webhook}
        send_resolved: false
"""


def _delivered(hub: str) -> float:
    """Webhook requests the hub answered 200 (its own request counter, read with the token)."""
    req = urllib.request.Request(hub + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # this machine
        text = resp.read().decode()
    m = re.search(r'^perflab_http_requests_total\{[^}]*route="/api/incidents/alertmanager"'
                  r'[^}]*status="200"[^}]*\} (\S+)$', text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def _refused(am_log: Path) -> bool:
    """Whether Alertmanager logged the receiver without the token failing with a 401."""
    return any("without_token" in line and "401" in line
               for line in am_log.read_text(errors="replace").splitlines())


def _post_alerts(am: str) -> None:
    now = dt.datetime.now(dt.UTC)
    ends = (now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    alerts = [{"labels": {"alertname": f"Slow{i}", "severity": "warning", "auth": auth},
               "endsAt": ends} for i, auth in enumerate(("yes", "no"))]
    req = urllib.request.Request(am + "/api/v2/alerts", data=json.dumps(alerts).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # loopback
        assert resp.status == 200


def test_alertmanager_needs_the_token_off_loopback(tmp_path: Path) -> None:
    binary = require_tool("prometheus-alertmanager")
    host = _own_address()
    with _hub(tmp_path / "s.db", host, tmp_path / "hub.log") as hub:
        req = urllib.request.Request(hub + "/api/incidents/alertmanager", data=b"{}",
                                     method="POST")
        with pytest.raises(urllib.error.HTTPError) as plain:
            urllib.request.urlopen(req, timeout=10)  # this machine
        assert plain.value.code == 401
        assert "Authorization: Bearer TOKEN" in json.loads(plain.value.read())["error"]
        with alertmanager(binary, _am_config(hub), tmp_path) as am:
            _post_alerts(am)
            # both receivers have been tried (bounded): Alertmanager sends each at once
            deadline = time.monotonic() + 60
            while True:
                delivered, refused = _delivered(hub), _refused(tmp_path / "alertmanager.log")
                if (delivered and refused) or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
    assert delivered >= 1  # the receiver with the token got through (a 401 is no 200)
    assert refused, (tmp_path / "alertmanager.log").read_text()
