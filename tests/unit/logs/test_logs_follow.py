"""``perflab logs query --follow``: the newest lines, then each line as it arrives (also one
pushed late with an old time, and only what the query keeps), until Ctrl-C: exit 130, one
line, no traceback. A real process, as a user runs it; lines written by another connection."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests._schemas import validate

import perflab
from perflab.cli import main
from perflab.logs import LogEntry, LogSink
from perflab.store import Store, canonical_labels

SRC = str(Path(perflab.__file__).resolve().parents[1])


def _write(path: Path, lines: list[tuple[str, int, str]]) -> None:
    with Store.open(path) as store, store.transaction():
        LogSink(clock=lambda: 0.0).write(store, [
            LogEntry(canonical_labels({"job": job}), ts, line) for job, ts, line in lines])


def _follow(path: Path, *args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (SRC, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "perflab", "logs", "query", *args,
                             "--follow", "--interval", "0.1", "--store", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:
        for line in stdout:
            out.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return proc, out


def _next(out: queue.Queue[str]) -> str:
    return out.get(timeout=60).rstrip("\n")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    return err


def test_follow_prints_the_newest_then_what_arrives_until_ctrl_c(store):
    now = time.time_ns()
    store.close()
    _write(store.path, [("api", now - 3 * 10**9, "level=info old"),
                        ("api", now - 2 * 10**9, "level=error recent")])
    proc, out = _follow(store.path, '{job="api"} |= "level"', "--limit", "1")
    try:
        assert _next(out).endswith('{job="api"} level=error recent')
        _write(store.path, [("web", now, "level=info another stream"),
                            ("api", now - 3600 * 10**9, "level=warn late, with an old time"),
                            ("api", now, "no match")])
        assert _next(out).endswith('{job="api"} level=warn late, with an old time')
        assert out.empty()
    finally:
        err = _stop(proc)
    assert "interrupted" in err


def test_follow_json_is_loki_tail_messages(store):
    now = time.time_ns()
    store.close()
    _write(store.path, [("api", now - 10**9, "first")])
    proc, out = _follow(store.path, '{job="api"}', "--json")
    try:
        first = json.loads(_next(out))
        validate(first, "loki-tail")
        assert first["streams"][0]["values"] == [[str(now - 10**9), "first"]]
        _write(store.path, [("api", now, "second")])
        second = json.loads(_next(out))
        validate(second, "loki-tail")
        assert second["streams"] == [{"stream": {"job": "api"}, "values": [[str(now), "second"]]}]
    finally:
        _stop(proc)


def test_follow_refuses_a_metric_query(store, capsys):
    store.close()
    code = main(["logs", "query", 'count_over_time({job="api"}[1m])', "--follow",
                 "--store", str(store.path)])
    assert code == 2
    assert "a metric query has no lines to show or follow" in capsys.readouterr().err
