"""The demo service: a small HTTP service with planted problems that can be switched at run time.

Run it with ``python -m perflab.demo.service --port 0 [--faults cpu,lock,leak]``. It binds to
loopback only, prints ``listening on 127.0.0.1:PORT`` once it accepts connections (and writes the
port to ``--port-file`` when given), and stops on SIGTERM or SIGINT.

Endpoints (every response is JSON, HTTP/1.1 keep-alive):

``GET /work``
    A normal endpoint: a little JSON work, fast.
``GET /hash?n=ROUNDS``
    Checksums a payload. With the ``cpu`` fault on it uses ``checksum_slowly``, a pure-Python loop
    whose cost grows with ``n``; with it off, ``hashlib``. The CPU-hot endpoint.
``GET /report?ms=MS``
    "Writes a report": waits ``ms`` milliseconds as if doing I/O. With the ``lock`` fault on, it
    does so while holding one global lock, so concurrent requests queue behind each other: latency
    grows with concurrency while the CPU stays idle.
``GET /cache?key=K&kib=KIB``
    A cache of ``kib``-KiB entries. With the ``leak`` fault off it is an LRU of ``CACHE_ENTRIES``
    entries; with it on, eviction is "forgotten" and every new key stays, so RSS grows steadily
    (up to ``LEAK_CAP_BYTES``, a guard so the demo cannot exhaust a shared machine).
``GET /admin/faults?cpu=on&lock=off&leak=on`` or ``POST /admin/faults`` with a JSON object
    Switches faults; answers the current state. ``GET /admin/faults`` alone only reads it.
``GET /healthz``
    ``{"status": "ok"}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

FAULT_NAMES = ("cpu", "lock", "leak")
CACHE_ENTRIES = 256
LEAK_CAP_BYTES = 768 * 1024 * 1024
_MAX_HASH_ROUNDS = 5_000_000
_MAX_REPORT_MS = 2_000
_MAX_ENTRY_KIB = 1024
_PAYLOAD = bytes(range(256)) * 4
ITEMS = 20  # items /work renders


@dataclass
class Faults:
    """Which planted problems are switched on. Plain bools: a flip is atomic under the GIL."""

    cpu: bool = False
    lock: bool = False
    leak: bool = False

    def update(self, changes: dict[str, bool]) -> None:
        for name, on in changes.items():
            setattr(self, name, on)


def checksum_slowly(data: bytes, rounds: int) -> int:
    """The planted CPU hot spot: a byte-at-a-time rolling checksum in pure Python."""
    acc = 0
    n = len(data)
    for i in range(rounds):
        acc = (acc * 31 + data[i % n]) & 0xFFFFFFFF
    return acc


def checksum_quickly(data: bytes, rounds: int) -> int:
    """What the endpoint does when the fault is off: the same input, hashed in C."""
    digest = hashlib.blake2b(data + rounds.to_bytes(8, "little"), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def render_items(count: int) -> str:
    """What ``/work`` returns the size of: ``count`` items as a JSON array (version 1)."""
    items = [{"id": i, "name": f"item-{i}"} for i in range(count)]
    return json.dumps(items)


def render_items_v2(count: int) -> str:
    """Version 2 of ``render_items``, with the regression planted for ``perflab demo``'s
    benchmark check: it "makes sure" its output is valid by parsing it back, which costs about
    60 % more CPU per call. The output is the same."""
    items = [{"id": i, "name": f"item-{i}"} for i in range(count)]
    text = json.dumps(items)
    if json.loads(text) != items:
        raise ValueError("rendered items do not parse back")  # pragma: no cover  # cannot happen
    return text


class DemoState:
    """Everything the handlers share: faults, the report lock, the cache."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.report_lock = threading.Lock()
        self.cache: OrderedDict[str, bytes] = OrderedDict()
        self.cache_bytes = 0
        self._cache_lock = threading.Lock()  # guards the dict's bookkeeping, not a planted fault
        self.requests = 0
        self.reports_written = 0
        self.misses_reported = 0

    def cache_get(self, key: str, kib: int) -> tuple[bool, int]:
        """(hit, entries). Misses build the entry; eviction is skipped while ``leak`` is on."""
        with self._cache_lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return True, len(self.cache)
        # Building the entry writes every byte, so the pages are really resident.
        value = key.encode()[:16].ljust(16, b".") * (kib * 64)
        with self._cache_lock:
            self._report_miss()
            if key not in self.cache and self.cache_bytes + len(value) <= LEAK_CAP_BYTES:
                self.cache[key] = value
                self.cache_bytes += len(value)
            if not self.faults.leak:
                while len(self.cache) > CACHE_ENTRIES:
                    _, old = self.cache.popitem(last=False)
                    self.cache_bytes -= len(old)
            return False, len(self.cache)


    # The planted lock-order inversion (perflab.debug.lockwatch names it): a miss is counted in
    # the report's statistics under the cache's lock (cache lock, then report lock), while a
    # report written under the lock fault notes itself in the cache's bookkeeping (report lock,
    # then cache lock). The demo never runs both at once, and the timeout bounds a meeting, so it
    # never hangs; lockwatch reports the inversion from the two orders seen apart.
    def _report_miss(self) -> None:
        if self.report_lock.acquire(timeout=0.5):
            try:
                self.misses_reported += 1
            finally:
                self.report_lock.release()

    def note_report(self) -> None:
        with self._cache_lock:
            self.reports_written += 1


class DemoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle on, the second waits for the client's
    # delayed ACK (40 ms on Linux) and every small response would look slow.
    disable_nagle_algorithm = True
    server_version = "perflab-demo/1"
    state: ClassVar[DemoState]
    quiet: ClassVar[bool] = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # stdlib's name
        if not self.quiet:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.state.requests += 1
        try:
            route = _ROUTES.get(url.path)
            if route is None:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {url.path}"})
                return
            self._send(HTTPStatus.OK, route(self, query))
        except ValueError as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path != "/admin/faults":
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {url.path}"})
            return
        try:
            changes = _switches_from_json(body)
        except ValueError as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        self._send(HTTPStatus.OK, self._set_faults(changes))

    # -- endpoints -----------------------------------------------------------------------------

    def work(self, query: dict[str, str]) -> dict[str, Any]:  # noqa: ARG002  # route signature
        return {"items": ITEMS, "bytes": len(render_items(ITEMS))}

    def hash(self, query: dict[str, str]) -> dict[str, Any]:
        rounds = _int_param(query, "n", 100_000, 1, _MAX_HASH_ROUNDS)
        if self.state.faults.cpu:
            value = checksum_slowly(_PAYLOAD, rounds)
        else:
            value = checksum_quickly(_PAYLOAD, rounds)
        return {"checksum": value, "rounds": rounds}

    def report(self, query: dict[str, str]) -> dict[str, Any]:
        ms = _int_param(query, "ms", 20, 0, _MAX_REPORT_MS)
        if self.state.faults.lock:
            with self.state.report_lock:
                time.sleep(ms / 1000)  # "I/O" done while holding the global lock
                self.state.note_report()
        else:
            time.sleep(ms / 1000)
        return {"report": "done", "ms": ms}

    def cache(self, query: dict[str, str]) -> dict[str, Any]:
        key = query.get("key")
        if not key:
            raise ValueError("missing parameter key")
        kib = _int_param(query, "kib", 64, 1, _MAX_ENTRY_KIB)
        hit, entries = self.state.cache_get(key, kib)
        return {"hit": hit, "entries": entries, "bytes": self.state.cache_bytes}

    def admin_faults(self, query: dict[str, str]) -> dict[str, Any]:
        changes = {k: _as_switch(k, v) for k, v in query.items()}
        return self._set_faults(changes)

    def healthz(self, query: dict[str, str]) -> dict[str, Any]:  # noqa: ARG002
        return {"status": "ok", "pid": os.getpid()}

    # -- plumbing ------------------------------------------------------------------------------

    def _set_faults(self, changes: dict[str, bool]) -> dict[str, Any]:
        self.state.faults.update(changes)
        return {"faults": asdict(self.state.faults)}

    def _send(self, status: HTTPStatus, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


_ROUTES = {
    "/work": DemoHandler.work,
    "/hash": DemoHandler.hash,
    "/report": DemoHandler.report,
    "/cache": DemoHandler.cache,
    "/admin/faults": DemoHandler.admin_faults,
    "/healthz": DemoHandler.healthz,
}


def _int_param(query: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"parameter {name} must be an integer, not {raw!r}") from None
    if not lo <= value <= hi:
        raise ValueError(f"parameter {name} must be between {lo} and {hi}")
    return value


def _switches_from_json(body: bytes) -> dict[str, bool]:
    doc = json.loads(body or b"{}")  # JSONDecodeError is a ValueError
    if not isinstance(doc, dict):
        raise ValueError('the body must be a JSON object like {"cpu": true}')  # noqa: TRY004  # answered as HTTP 400, like every other bad input
    return {str(k): _as_switch(str(k), v) for k, v in doc.items()}


def _as_switch(name: str, value: object) -> bool:
    if name not in FAULT_NAMES:
        raise ValueError(f"unknown fault {name!r}; the faults are {', '.join(FAULT_NAMES)}")
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"fault {name} must be on or off, not {value!r}")


def parse_faults(text: str) -> Faults:
    """``cpu,lock`` -> Faults(cpu=True, lock=True, leak=False)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    return Faults(**{n: _as_switch(n, "on") for n in names})


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never keeps the process alive at shutdown
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-request (a load driver stopped by Ctrl-C) is normal here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def make_server(port: int, faults: Faults, *, quiet: bool = True) -> DemoServer:
    handler = type("BoundDemoHandler", (DemoHandler,), {"state": DemoState(faults),
                                                        "quiet": quiet})
    return DemoServer(("127.0.0.1", port), handler)


def _write_port_file(path: Path, port: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(path)  # atomic: a reader never sees a half-written port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perflab.demo.service",
                                     description="perflab's demo service with planted problems.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--faults", default="", help="faults on at start: cpu,lock,leak")
    parser.add_argument("--port-file", type=Path, help="write the bound port to this file")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    if os.environ.get("PERFLAB_DEBUG"):
        import perflab.debug  # noqa: PLC0415  # only when asked: it starts the debug agent

        perflab.debug.enable()
    try:
        faults = parse_faults(args.faults)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        server = make_server(args.port, faults, quiet=not args.verbose)
    except OSError as exc:
        print(f"perflab-demo-service: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 3

    def stop(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001  # signal API
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    port = server.server_address[1]
    if args.port_file:
        _write_port_file(args.port_file, port)
    print(f"perflab-demo-service listening on 127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
