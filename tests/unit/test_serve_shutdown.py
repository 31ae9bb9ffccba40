"""Stopping `perflab serve` with requests in flight: quiet logs, no connection closed in use."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time

from perflab.cli.serve import QuietCancel
from perflab.store import Store
from perflab.web._db import StorePool

# a query that runs for minutes unless interrupted
ENDLESS = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
           " SELECT COUNT(*) FROM c")


def _record(msg: str, args: tuple, exc: BaseException | None = None) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, msg, args,
                             (type(exc), exc, None) if exc else None)


def test_cancelled_requests_log_one_line_and_no_traceback():
    f = QuietCancel()
    assert not f.filter(_record("Exception in ASGI application\n", (),
                                asyncio.CancelledError("timeout graceful shutdown exceeded")))
    rec = _record("Cancel %s running task(s), timeout graceful shutdown exceeded", (2,))
    assert f.filter(rec)
    assert rec.getMessage() == "perflab serve: stopped 2 requests still running after 3 s"
    assert rec.levelname == "WARNING"
    # only connections left (a client that reads slowly): nothing was cancelled, say nothing
    assert not f.filter(_record("Cancel %s running task(s), timeout graceful shutdown exceeded",
                                (0,)))
    # any other error still shows, traceback and all
    other = _record("Exception in ASGI application\n", (), ValueError("bug"))
    assert f.filter(other)


def test_pool_close_interrupts_a_running_query_and_waits_for_its_request(store_path):
    Store.open(store_path).close()
    pool = StorePool(store_path)
    started = threading.Event()
    outcome: list[str] = []

    def request() -> None:
        with pool.in_use():
            store = pool.get()
            started.set()
            try:
                store.conn.execute(ENDLESS).fetchone()
                outcome.append("finished")
            except sqlite3.OperationalError as exc:
                outcome.append(str(exc))
            time.sleep(0.2)  # the request's own clean-up, after its query

    t = threading.Thread(target=request)
    t.start()
    assert started.wait(5)
    time.sleep(0.1)
    t0 = time.monotonic()
    assert pool.close(wait_s=5) is True
    assert time.monotonic() - t0 < 3
    t.join(5)
    assert outcome == ["interrupted"]


def test_pool_close_leaves_a_connection_open_while_its_request_outlives_the_wait(store_path):
    Store.open(store_path).close()
    pool = StorePool(store_path)
    release = threading.Event()
    inside = threading.Event()

    def request() -> None:
        with pool.in_use():
            pool.get()
            inside.set()
            release.wait(5)

    t = threading.Thread(target=request)
    t.start()
    assert inside.wait(5)
    assert pool.close(wait_s=0.2) is False
    release.set()
    t.join(5)
