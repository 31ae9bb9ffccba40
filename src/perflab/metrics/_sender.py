"""Remote-write sender (``--remote-write URL``): what the hub collects, also pushed to a real
Prometheus, Mimir or VictoriaMetrics for the long term.

Rows the sink accepted are queued (bounded: past ``MAX_QUEUED`` samples the oldest batch is
dropped and counted, the only place a sample may be lost, since the store keeps it anyway),
sent every second as snappy ``WriteRequest``s of at most ``MAX_BATCH`` samples, retried with
back-off on 5xx, 429 and network errors; a 4xx other than 429 drops the batch, as Prometheus
does (the receiver refused the data itself).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Sequence

from perflab.metrics._remote_write import encode_write_request
from perflab.metrics._sink import Row

log = logging.getLogger("perflab.metrics")

MAX_QUEUED = 1_000_000
MAX_BATCH = 2_000


class RemoteWriteSender:
    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self._queue: deque[list[Row]] = deque()
        self._queued = 0
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.dropped = 0
        self.last_error = ""

    def add(self, rows: Sequence[Row]) -> None:
        with self._lock:
            self._queue.append(list(rows))
            self._queued += len(rows)
            while self._queued > MAX_QUEUED and len(self._queue) > 1:
                dropped = self._queue.popleft()
                self._queued -= len(dropped)
                self.dropped += len(dropped)
            self._lock.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="perflab-remote-write",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(15)

    def _take(self) -> list[Row]:
        with self._lock:
            out: list[Row] = []
            while self._queue and len(out) < MAX_BATCH:
                out.extend(self._queue.popleft())
            self._queued -= len(out)
            return out

    def _loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            with self._lock:
                if not self._queue:
                    self._lock.wait(1.0)
            batch = self._take()
            if not batch:
                continue
            body = encode_write_request(_series(batch))
            for url in self.urls:
                while not self._stop.is_set():
                    ok, retry, error = _post(url, body)
                    if ok or not retry:
                        if not ok:
                            self.last_error = error
                            log.warning("remote-write to %s refused a batch: %s", url, error)
                        break
                    self.last_error = error
                    log.warning("remote-write to %s failed (%s); retrying", url, error)
                    self._stop.wait(backoff)
                    backoff = min(30.0, backoff * 2)
                else:
                    break
                backoff = 0.5
            self.sent += len(batch)


def _series(rows: list[Row]) -> list[tuple[list[tuple[str, str]], list[tuple[int, float]]]]:
    by: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for name, labels, ts, value in rows:
        by.setdefault((name, labels), []).append((ts // 1_000_000, value))
    out = []
    for (name, labels), samples in by.items():
        pairs = [("__name__", name), *sorted(json.loads(labels).items())]
        samples.sort()
        out.append((pairs, samples))  # NaNs and staleness markers too, as Prometheus sends
    return out


def _post(url: str, body: bytes) -> tuple[bool, bool, str]:
    """(ok, worth retrying, error)."""
    req = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": "perflab"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            resp.read(1024)
            return True, False, ""
    except urllib.error.HTTPError as exc:
        text = exc.read(300).decode("utf-8", "replace").strip()
        return False, exc.code >= 500 or exc.code == 429, f"HTTP {exc.code}: {text}"
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        return False, True, str(getattr(exc, "reason", exc))


def now_ms() -> int:
    return time.time_ns() // 1_000_000
