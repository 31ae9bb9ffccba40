"""Sending alerts: to Alertmanager (API v2), or straight to webhooks in Alertmanager's webhook
format, grouped and repeated as Alertmanager would.

**Alertmanager.** Each evaluation hands over the alerts that need sending (Prometheus's rule:
a firing alert on change and every ``resend_delay``, a resolved one until 15 minutes after);
they are posted as ``POST /api/v2/alerts`` JSON (``labels``, ``annotations``, ``startsAt``,
``endsAt``, ``generatorURL``; external labels added). An Alertmanager that does not answer
keeps its alerts queued (the newest state of each, so the queue is bounded by the alerts that
exist) and is retried with back-off until it takes them; the hub logs one warning and the
Alerts page says so. Nothing is dropped while the hub runs.

**Webhooks.** Alerts are grouped by ``group_by`` (``alertname``); a new group is notified
after ``group_wait`` (0 s), a changed group after ``group_interval`` (10 s), an unchanged firing
group every ``repeat_interval`` (1 h); resolved alerts are notified once. The body is
Alertmanager's webhook JSON (``version`` 4). The route and the inhibit rules come from
``--notify-config`` (``_inhibit``); inhibition has Alertmanager's semantics: the sources are
every alert firing now (silenced ones too), until its ``endsAt``.

**The hub itself.** A webhook (or Alertmanager) URL that is the hub's own address (same port,
and the hub's listen host, or a loopback name when the hub listens on loopback or on every
address) gets the hub's token as ``Authorization: Bearer``, as the hub's TokenAuth expects; no
other host ever sees it.

**Silences** (``perflab alerts silence``, stored in the store) mute matching alerts on both
paths: a silenced alert is neither posted nor notified.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.metrics._alerting import Alert
from perflab.metrics._inhibit import InhibitRule, Route, muted
from perflab.metrics._matchers import LabelMatcher, all_match, from_lists
from perflab.serving import is_loopback_host

log = logging.getLogger("perflab.alerts")

MAX_BACKOFF_S = 30.0
SILENCE_REFRESH_S = 2.0


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (FNV-1a 64 over sorted name, value)."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h ^= byte
                h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
            h ^= 0xFF
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def _rfc3339(ms: int) -> str:
    import datetime as dt  # noqa: PLC0415

    when = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def alert_payload(alert: Alert, external_labels: dict[str, str],
                  generator_url: str) -> dict[str, Any]:
    """The Alertmanager API v2 form of an alert, as Prometheus's notifier sends it."""
    labels = {**external_labels, **dict(alert.labels)}
    starts = alert.fired_at or alert.active_at
    ends = alert.resolved_at or alert.valid_until
    out: dict[str, Any] = {"labels": labels, "annotations": dict(alert.annotations),
                           "startsAt": _rfc3339(starts), "generatorURL": generator_url}
    if ends:
        out["endsAt"] = _rfc3339(ends)
    return out


def _wire(payload: dict[str, Any]) -> dict[str, Any]:
    """What goes to Alertmanager: the payload without perflab's own keys."""
    return {k: v for k, v in payload.items() if not k.startswith("_")}


@dataclass(slots=True)
class Destination:
    url: str
    kind: str  # "alertmanager" or "webhook"
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_error: str = ""
    last_ok_ns: int = 0
    failures: int = 0
    next_try: float = 0.0
    sent: int = 0

    def to_api(self) -> dict[str, Any]:
        return {"url": self.url, "kind": self.kind, "queued": len(self.pending),
                "lastError": self.last_error, "failures": self.failures, "sent": self.sent}


@dataclass(slots=True)
class _Group:
    key: str
    labels: dict[str, str]
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_seen: float = 0.0
    last_notified: float | None = None
    notified_state: str = ""   # what the last notification said (fingerprints + statuses)
    changed: bool = True


class Notifier:
    def __init__(self, alertmanagers: tuple[str, ...] = (), webhooks: tuple[str, ...] = (), *,
                 store_path: Path | None = None, external_url: str = "",
                 route: Route | None = None, inhibit: tuple[InhibitRule, ...] = (),
                 post: Any = None, clock: Any = time.monotonic,
                 own: HubAddress | None = None) -> None:
        self.destinations = [Destination(u.rstrip("/"), "alertmanager") for u in alertmanagers]
        self.webhooks = [Destination(u, "webhook") for u in webhooks]
        self.store_path = store_path
        self.external_url = external_url
        self.route = route or Route()
        self.inhibit = inhibit
        self._own = own
        self._post = post or self._http_post
        self._clock = clock
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._groups: dict[str, _Group] = {}
        self._silences: list[tuple[list[LabelMatcher], int, int]] = []
        self._silences_at = 0.0
        # every alert firing now, silenced or not, with its endsAt (ms): inhibition's sources
        self._firing: dict[str, tuple[dict[str, str], int]] = {}
        self.muted = 0

    def _http_post(self, url: str, body: bytes) -> tuple[bool, str]:
        token = self._own.token if self._own is not None and self._own.is_hub(url) else None
        return _http_post(url, body, token=token)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if not self.destinations and not self.webhooks:
            return
        self._thread = threading.Thread(target=self._loop, name="perflab-notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(15)

    def set_alertmanagers(self, urls: tuple[str, ...]) -> None:
        with self._lock:
            old = {d.url: d for d in self.destinations}
            self.destinations = [old.get(u.rstrip("/"), Destination(u.rstrip("/"),
                                                                      "alertmanager"))
                                 for u in urls]

    def configure(self, route: Route, inhibit: tuple[InhibitRule, ...]) -> None:
        """A reloaded ``--notify-config``: groups formed so far keep their alerts."""
        with self._lock:
            self.route, self.inhibit = route, inhibit

    def status(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.to_api() for d in (*self.destinations, *self.webhooks)]

    # -- accepting alerts ----------------------------------------------------------------------

    def send(self, alerts: list[Alert], *, external_labels: dict[str, str] | None = None,
             generator_url: str = "") -> None:
        """Queue alerts for every destination (never blocks on the network)."""
        if not alerts or (not self.destinations and not self.webhooks):
            return
        payloads = []
        for alert in alerts:
            p = alert_payload(alert, external_labels or {}, generator_url)
            p["_resolved"] = bool(alert.resolved_at)
            self._note_firing(p["labels"], alert)
            if self.silenced(p["labels"]):
                self.muted += 1
                continue
            payloads.append(p)
        if not payloads:
            return
        with self._lock:
            for d in self.destinations:
                for p in payloads:
                    d.pending[fingerprint(p["labels"])] = p
            now = self._clock()
            for p in payloads:
                self._group(p, now)
            self._lock.notify_all()

    def _note_firing(self, labels: dict[str, str], alert: Alert) -> None:
        with self._lock:
            if alert.resolved_at:
                self._firing.pop(fingerprint(labels), None)
            else:
                self._firing[fingerprint(labels)] = (labels, alert.valid_until)

    def silenced(self, labels: dict[str, str]) -> bool:
        now_ns = time.time_ns()
        self._refresh_silences()
        return any(start <= now_ns < end and all_match(matchers, labels)
                   for matchers, start, end in self._silences)

    def _refresh_silences(self) -> None:
        if self.store_path is None or time.monotonic() - self._silences_at < SILENCE_REFRESH_S:
            return
        self._silences_at = time.monotonic()
        from perflab.store import Store, silences  # noqa: PLC0415

        try:
            with Store.open(self.store_path, create=False) as store:
                rows = silences(store)
        except Exception as exc:  # the store busy or gone: keep the silences known
            log.warning("reading silences: %s", exc)
            return
        self._silences = [(from_lists(r.matchers), r.starts_ns,
                           r.expired_ns if r.expired_ns is not None else r.ends_ns)
                          for r in rows]

    def _group(self, payload: dict[str, Any], now: float) -> None:
        if not self.webhooks:
            return
        labels = payload["labels"]
        by = {k: labels.get(k, "") for k in self.route.group_by}
        key = json.dumps(by, sort_keys=True)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(key, by, first_seen=now)
        group.alerts[fingerprint(labels)] = payload
        group.changed = True

    # -- the sending thread --------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.flush_once()
            with self._lock:
                self._lock.wait(0.2)
        self.flush_once()  # a last try for what is queued

    def flush_once(self) -> None:
        now = self._clock()
        with self._lock:
            work = [(d, list(d.pending.items())) for d in self.destinations
                    if d.pending and now >= d.next_try]
            notes = self._due_notifications(now)
        for dest, items in work:
            body = json.dumps([_wire(p) for _, p in items]).encode()
            ok, error = self._post(f"{dest.url}/api/v2/alerts", body)
            self._after(dest, ok, error, [k for k, _ in items], items)
        for url, payload in notes:
            dest = next(d for d in self.webhooks if d.url == url)
            ok, error = self._post(url, json.dumps(payload).encode())
            if not ok:
                with self._lock:
                    dest.pending[payload["groupKey"]] = payload
            self._after(dest, ok, error, [payload["groupKey"]], [(payload["groupKey"],
                                                                    payload)])
        with self._lock:  # webhook notifications that failed earlier are retried as they are
            retries = [(d, list(d.pending.items())) for d in self.webhooks
                       if d.pending and self._clock() >= d.next_try]
        for dest, items in retries:
            for key, payload in items:
                ok, error = self._post(dest.url, json.dumps(payload).encode())
                self._after(dest, ok, error, [key], [(key, payload)])

    def _after(self, dest: Destination, ok: bool, error: str, keys: list[str],
               items: list[tuple[str, dict[str, Any]]]) -> None:
        with self._lock:
            if ok:
                sent = dict(items)
                for k in keys:
                    if dest.pending.get(k) is sent.get(k):  # not replaced meanwhile
                        dest.pending.pop(k, None)
                dest.sent += len(keys)
                if dest.failures:
                    log.warning("alerts: %s takes alerts again", dest.url)
                dest.failures, dest.last_error, dest.last_ok_ns = 0, "", time.time_ns()
                dest.next_try = 0.0
                return
            dest.failures += 1
            dest.last_error = error
            dest.next_try = self._clock() + min(MAX_BACKOFF_S, 0.5 * 2 ** min(dest.failures, 8))
            if dest.failures == 1:
                log.warning("alerts: cannot send to %s (%s); %d queued, retrying", dest.url,
                            error, len(dest.pending))

    def _due_notifications(self, now: float) -> list[tuple[str, dict[str, Any]]]:
        """Webhook notifications due now (called with the lock held)."""
        out: list[tuple[str, dict[str, Any]]] = []
        route = self.route
        for key, group in list(self._groups.items()):
            if now - group.first_seen < route.group_wait_s:
                continue
            alerts = [a for a in group.alerts.values() if not self._inhibited(a)]
            state = json.dumps(sorted((fingerprint(a["labels"]), _status(a)) for a in alerts))
            firing = any(_status(a) == "firing" for a in alerts)
            due = False
            if group.last_notified is None:
                due = bool(alerts)
            elif state != group.notified_state:
                due = now - group.last_notified >= route.group_interval_s
            elif firing:
                due = now - group.last_notified >= route.repeat_interval_s
            if not due:
                continue
            group.last_notified, group.notified_state = now, state
            payload = self._webhook_payload(group, alerts)
            out.extend((d.url, payload) for d in self.webhooks)
            # resolved alerts are told once, then forgotten
            for fp in [fp for fp, a in group.alerts.items() if _status(a) == "resolved"]:
                del group.alerts[fp]
            if not group.alerts:
                del self._groups[key]
        return out

    def _inhibited(self, alert: dict[str, Any]) -> bool:
        """Called with the lock held."""
        if not self.inhibit:
            return False
        now_ms = time.time_ns() // 1_000_000
        for fp in [fp for fp, (_, ends) in self._firing.items() if ends and ends <= now_ms]:
            del self._firing[fp]  # resolved by its endsAt (its rule went away, say)
        sources = [labels for labels, _ in self._firing.values()]
        return muted(self.inhibit, alert["labels"], sources)

    def _webhook_payload(self, group: _Group, alerts: list[dict[str, Any]]) -> dict[str, Any]:
        statuses = [_status(a) for a in alerts]
        common = _common([a["labels"] for a in alerts])
        return {
            "version": "4", "groupKey": f"{{}}:{group.key}", "truncatedAlerts": 0,
            "status": "firing" if "firing" in statuses else "resolved",
            "receiver": "perflab", "groupLabels": group.labels, "commonLabels": common,
            "commonAnnotations": _common([a["annotations"] for a in alerts]),
            "externalURL": self.external_url,
            "alerts": [{"status": _status(a), "labels": a["labels"],
                        "annotations": a["annotations"], "startsAt": a["startsAt"],
                        "endsAt": a.get("endsAt", "0001-01-01T00:00:00Z")
                        if _status(a) == "resolved" else "0001-01-01T00:00:00Z",
                        "generatorURL": a["generatorURL"],
                        "fingerprint": fingerprint(a["labels"])} for a in alerts],
        }


def _status(payload: dict[str, Any]) -> str:
    return "resolved" if payload.get("_resolved") else "firing"


def _common(items: list[dict[str, str]]) -> dict[str, str]:
    if not items:
        return {}
    out = dict(items[0])
    for other in items[1:]:
        out = {k: v for k, v in out.items() if other.get(k) == v}
    return out


@dataclass(frozen=True, slots=True)
class HubAddress:
    """Where the hub listens and its token: a notification to this address carries it."""

    host: str
    port: int
    token: str | None = field(default=None, repr=False)

    def is_hub(self, url: str) -> bool:
        """``url`` is an http URL of the hub itself: its port, and its listen host (a loopback
        name counts when the hub listens on loopback or on every address)."""
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port or 80
        except ValueError:
            return False
        host = (parts.hostname or "").rstrip(".").lower()
        if parts.scheme != "http" or port != self.port or not host:
            return False
        listen = self.host.strip("[]").lower()
        if host == listen:
            return True
        everywhere = listen in ("", "0.0.0.0", "::")  # noqa: S104  # the wildcard addresses
        return (everywhere or is_loopback_host(listen)) and is_loopback_host(host)


def _http_post(url: str, body: bytes, *, token: str | None = None) -> tuple[bool, str]:
    headers = {"Content-Type": "application/json", "User-Agent": "perflab"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method="POST",  # noqa: S310  # our config
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            resp.read(65536)
            return 200 <= resp.status < 300, "" if 200 <= resp.status < 300 else \
                f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}: {exc.read(300).decode('utf-8', 'replace').strip()}"
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, str(reason)
