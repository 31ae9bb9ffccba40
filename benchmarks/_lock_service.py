"""A lock-heavy HTTP service for bench_lockwatch_overhead.py: every request takes ten locks (a
cache Lock, a stats Lock, a session RLock taken twice, a connection pool's Condition, a queue's
locks) around a little real work. perflab.debug is imported in every setting (PERFLAB_DEBUG=1 then
starts the agent); LOCKWATCH=1 turns perflab.debug.lockwatch() on before any lock exists. Prints
its loopback port, then serves until killed."""

from __future__ import annotations

import json
import os
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import perflab.debug

if os.environ.get("LOCKWATCH") == "1":
    perflab.debug.lockwatch(report=None)

cache: dict[str, str] = {}
cache_lock = threading.Lock()
stats = {"requests": 0}
stats_lock = threading.Lock()
session = threading.RLock()
pool = threading.Condition()
free = [f"conn{i}" for i in range(8)]
audit: queue.Queue[str] = queue.Queue()


def borrow() -> str:
    with pool:
        while not free:
            pool.wait()
        return free.pop()


def give_back(conn: str) -> None:
    with pool:
        free.append(conn)
        pool.notify()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK

    def do_GET(self) -> None:  # http.server's name
        key = self.path
        with session:
            conn = borrow()
            with session:  # re-entered, as layered code does
                with cache_lock:
                    value = cache.get(key)
                if value is None:
                    value = json.dumps({"path": key, "conn": conn, "items": list(range(20))})
                    with cache_lock:
                        cache[key] = value
            give_back(conn)
        with stats_lock:
            stats["requests"] += 1
        audit.put(key)
        audit.get()
        body = value.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
