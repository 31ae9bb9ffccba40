"""Loki's live tail (/loki/api/v1/tail) is woken by the hub's ingest: a pushed line reaches the
client as soon as it is committed, with no poll in between (here the polls are an hour apart);
lines another process writes into the store still arrive by the fallback poll."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _webclient import hub_client
from tests.conftest import wait_for

import perflab
from perflab.logs import _live
from perflab.store import Store, log_stats

SRC = str(Path(perflab.__file__).resolve().parents[1])
WAIT_S = 60  # generous: a busy machine; a failure is a line that never comes


def _push(client: Any, job: str, ts: int, line: str) -> None:
    doc = {"streams": [{"stream": {"job": job}, "values": [[str(ts), line]]}]}
    assert client.post("/loki/api/v1/push", json=doc).status_code == 204


def _lines(message: dict[str, Any]) -> list[str]:
    return [v[1] for s in message["streams"] for v in s["values"]]


def _receive(ws: Any, pool: ThreadPoolExecutor) -> list[str]:
    """The next message's lines, failing (not hanging) when none comes in ``WAIT_S``."""
    return _lines(pool.submit(ws.receive_json).result(timeout=WAIT_S))


def _write_from_another_process(path: Path, line: str) -> None:
    code = ("import sys, time\n"
            "from perflab.logs import LogEntry, LogSink\n"
            "from perflab.store import Store, canonical_labels\n"
            "with Store.open(sys.argv[1]) as store, store.transaction():\n"
            "    LogSink(clock=lambda: 0.0).write(store, [LogEntry(\n"
            "        canonical_labels({'job': 'wake'}), time.time_ns(), sys.argv[2])])\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (SRC, os.environ.get("PYTHONPATH")) if p))
    subprocess.run([sys.executable, "-c", code, str(path), line], check=True, env=env,
                   timeout=WAIT_S)


def test_a_pushed_line_wakes_the_tail(store_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # no poll in the test's time: only the ingest's wake-up can deliver the later lines
    monkeypatch.setattr(_live, "POLL_S", 3600.0)
    monkeypatch.setattr(_live, "FALLBACK_POLL_S", 3600.0)
    with hub_client(store_path) as client, ThreadPoolExecutor(1) as pool:
        _push(client, "wake", time.time_ns(), "first")
        wait_for(lambda: log_stats(Store.open(store_path))[0] == 1, what="the first line")
        with client.websocket_connect('/loki/api/v1/tail?query={job="wake"}') as ws:
            assert _receive(ws, pool) == ["first"]  # the tail now waits for new lines
            _push(client, "wake", time.time_ns(), "pushed")
            assert _receive(ws, pool) == ["pushed"]
            _push(client, "wake", time.time_ns(), "and another")
            assert _receive(ws, pool) == ["and another"]


def test_lines_from_another_process_come_by_the_fallback_poll(
        store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_live, "FALLBACK_POLL_S", 0.2)
    with hub_client(store_path) as client, ThreadPoolExecutor(1) as pool:
        _push(client, "wake", time.time_ns(), "first")
        wait_for(lambda: log_stats(Store.open(store_path))[0] == 1, what="the first line")
        with client.websocket_connect('/loki/api/v1/tail?query={job="wake"}') as ws:
            assert _receive(ws, pool) == ["first"]
            _write_from_another_process(store_path, "written elsewhere")
            assert _receive(ws, pool) == ["written elsewhere"]
