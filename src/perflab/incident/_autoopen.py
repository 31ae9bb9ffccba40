"""Incidents opened by alerts: ``POST /api/incidents/alertmanager`` takes Alertmanager's
webhook payload (the hub's own notifier sends it with ``perflab serve --webhook
http://127.0.0.1:PORT/api/incidents/alertmanager``; so can an Alertmanager) and opens an
incident for each firing alert labelled ``severity=critical`` that has none open yet. The
capture runs as ``perflab incident open --alert NAME`` in a process of its own (it takes up to
a minute; the hub answers at once), at most ``MAX_RUNNING`` at a time; the alert's ``service``
(or ``job``) and ``pid`` labels name the suspects, and the runbook linked to the alert's name
runs after the capture."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

from perflab.store import incidents

if TYPE_CHECKING:
    from perflab.store import Store

MAX_RUNNING = 3
PROFILE_S = 10.0  # the captures' CPU and off-CPU profiles
MAX_ALERTS = 100  # alerts read from one payload
_LOCK = threading.Lock()
_RUNNING: list[subprocess.Popen[bytes]] = []


def critical_firing(payload: Any) -> list[dict[str, Any]]:
    """The firing alerts of a webhook payload labelled ``severity=critical``."""
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    if not isinstance(alerts, list):
        return []
    out = []
    for alert in alerts[:MAX_ALERTS]:
        if not isinstance(alert, dict) or alert.get("status", "firing") != "firing":
            continue
        labels = alert.get("labels")
        if isinstance(labels, dict) and labels.get("severity") == "critical" \
                and isinstance(labels.get("alertname"), str):
            out.append(alert)
    return out


def open_for_alerts(store: Store, alerts: list[dict[str, Any]]) -> list[str]:
    """Start a capture for each alert without an open incident; the alert names started."""
    fingerprints = {str(i.suspects.get("alert", {}).get("fingerprint"))
                    for i in incidents(store, limit=500) if i.status == "open"}
    started = []
    for alert in alerts:
        labels = {str(k): str(v) for k, v in alert["labels"].items()}
        fingerprint = str(alert.get("fingerprint") or _fingerprint(labels))
        if fingerprint in fingerprints or not _slot():
            continue
        fingerprints.add(fingerprint)
        summary = str((alert.get("annotations") or {}).get("summary", ""))[:200]
        title = labels["alertname"][:200] + (f": {summary}" if summary else "")
        argv = [sys.executable, "-m", "perflab", "incident", "open", title, "--store",
                str(store.path), "--alert", labels["alertname"][:200],
                "--alert-fingerprint", fingerprint, "--profile-duration", f"{PROFILE_S:g}"]
        service = labels.get("service") or labels.get("job")
        if service:
            argv += ["--service", service[:200]]
        if labels.get("pid", "").isdigit() and labels["pid"].isascii():
            argv += ["--pid", labels["pid"]]
        with _LOCK:
            _RUNNING.append(subprocess.Popen(  # noqa: S603  # our own interpreter and command
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True))
        started.append(labels["alertname"])
    return started


def _slot() -> bool:
    with _LOCK:
        _RUNNING[:] = [p for p in _RUNNING if p.poll() is None]
        return len(_RUNNING) < MAX_RUNNING


def wait_all(timeout_s: float = 120.0) -> None:
    """Wait for the captures started here (tests; a hub stopping leaves them to finish)."""
    with _LOCK:
        running = list(_RUNNING)
    for proc in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout_s)


def _fingerprint(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
