"""``--forward-otlp URL``: every span the hub stored is sent on to a real backend (Jaeger, Tempo,
an OTel Collector) over OTLP/HTTP protobuf, so instrumentation keeps working when a team
outgrows one machine.

Forwarding is best effort and never slows ingest: committed spans are queued (bounded, in
spans); one thread sends them in batches, retrying a failed batch with back-off (429 and 5xx,
as the OTLP spec says; honouring ``Retry-After``) and dropping it after ``MAX_ATTEMPTS``, with
the counts in ``stats()``. What the hub stored stays stored whatever the backend does.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from perflab.errors import InvalidValue
from perflab.trace._otlp import encode_request

if TYPE_CHECKING:
    from perflab.trace._model import Span

log = logging.getLogger("perflab.trace")

MAX_QUEUED = 200_000  # spans waiting to be forwarded; more are dropped (and counted)
BATCH = 2048
MAX_ATTEMPTS = 5
TIMEOUT_S = 10.0


def forward_url(text: str) -> str:
    """The OTLP/HTTP traces URL of ``--forward-otlp``: ``http(s)://host:port`` gets
    ``/v1/traces`` appended, a URL with a path is used as given."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue(f"invalid --forward-otlp {text[:200]!r}",
                           hint="give the backend's OTLP/HTTP URL, like http://127.0.0.1:4318 "
                                "(Jaeger, Tempo, an OTel Collector)")
    if parts.path in ("", "/"):
        return text.strip().rstrip("/") + "/v1/traces"
    return text.strip()


@dataclass(frozen=True, slots=True)
class ForwardStats:
    queued: int
    sent: int
    dropped: int
    failures: int
    last_error: str | None


class Forwarder:
    def __init__(self, url: str, *, headers: dict[str, str] | None = None,
                 max_queued: int = MAX_QUEUED, retry_s: float = 1.0) -> None:
        self.url = forward_url(url)
        self.headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
        self.max_queued = max_queued
        self.retry_s = retry_s
        self._queue: deque[Span] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stop = False
        self._thread: threading.Thread | None = None
        self._sent = self._dropped = self._failures = self._in_flight = 0
        self._last_error: str | None = None

    def __call__(self, spans: list[Span]) -> None:
        """Queue committed spans (called from the ingest writer thread: never blocks)."""
        with self._lock:
            room = self.max_queued - len(self._queue)
            if room < len(spans):
                self._dropped += len(spans) - max(room, 0)
                spans = spans[:max(room, 0)]
            self._queue.extend(spans)
            self._wake.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="perflab-forward", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> ForwardStats:
        with self._lock:
            self._stop = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)
        return self.stats()

    def stats(self) -> ForwardStats:
        with self._lock:
            return ForwardStats(len(self._queue) + self._in_flight, self._sent, self._dropped,
                                self._failures, self._last_error)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stop:
                    self._wake.wait()
                if not self._queue:
                    return
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                self._in_flight = len(batch)
            try:
                self._send(batch)
            finally:
                with self._lock:
                    self._in_flight = 0

    def _send(self, batch: list[Span]) -> None:
        body = encode_request(batch).SerializeToString()
        delay = self.retry_s
        for attempt in range(1, MAX_ATTEMPTS + 1):
            retry_after = None
            try:
                req = urllib.request.Request(self.url, data=body, headers=self.headers,  # noqa: S310
                                             method="POST")
                with urllib.request.urlopen(req, timeout=TIMEOUT_S):  # noqa: S310  # checked URL
                    pass
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code} from {self.url}"
                if exc.code not in (429, 502, 503, 504):
                    self._fail(batch, error, final=True)
                    return
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
            except (OSError, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                with self._lock:
                    self._sent += len(batch)
                return
            self._fail(batch, error, final=attempt == MAX_ATTEMPTS)
            if attempt == MAX_ATTEMPTS:
                return
            wait = float(retry_after) if retry_after and retry_after.isdigit() else delay
            with self._lock:
                if self._stop:
                    self._dropped += len(batch)
                    return
                self._wake.wait(min(wait, 30.0))
            delay = min(delay * 2, 30.0)

    def _fail(self, batch: list[Span], error: str, *, final: bool) -> None:
        with self._lock:
            self._failures += 1
            self._last_error = error
            if final:
                self._dropped += len(batch)
        if final:
            log.warning("forwarding %d spans to %s failed (%s); dropped", len(batch), self.url,
                        error)


def wait_idle(forwarder: Forwarder, timeout_s: float) -> bool:
    """Wait until nothing is queued (tests, and the hub's shutdown)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if forwarder.stats().queued == 0:
            return True
        time.sleep(0.05)
    return False
