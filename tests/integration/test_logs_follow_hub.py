"""``perflab logs query --follow`` through the hub: with a real ``perflab serve`` on the same
store (and its token), lines pushed after the follow started arrive through the hub's live tail
(the polling interval is an hour, so only the hub can bring them), then Ctrl-C exits 130 with
every line printed; the hub stopping mid-follow hands over to polling the store; a record left
by a dead hub, or one whose URL does not answer, falls back to polling; ``--verbose`` says which
path was taken."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO

import pytest

import perflab
from perflab.logs import LogEntry, LogSink
from perflab.store import Store, canonical_labels, hub_record_path, publish_hub, running_hub
from perflab.testing import free_port, serve

pytestmark = pytest.mark.integration

SRC = str(Path(perflab.__file__).resolve().parents[1])
TOKEN = "follow-hub-token"
HOUR = "3600"  # the follower's polling interval when only the hub may deliver


class Follow:
    """``perflab logs query QUERY --follow --verbose`` in a child, stdout and stderr read as
    they come."""

    def __init__(self, store: Path, query: str, *args: str, token: str | None = None) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (SRC, os.environ.get("PYTHONPATH")) if p))
        env.pop("PERFLAB_TOKEN", None)
        if token is not None:
            env["PERFLAB_TOKEN"] = token
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "perflab", "logs", "query", query, "--follow", "--verbose",
             "--store", str(store), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._threads: list[threading.Thread] = []
        self.out = self._pump(self.proc.stdout)
        self.err = self._pump(self.proc.stderr)

    def _pump(self, stream: IO[str]) -> queue.Queue[str]:
        got: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            with stream:
                for line in stream:
                    got.put(line.rstrip("\n"))

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        self._threads.append(thread)
        return got

    def line(self) -> str:
        try:
            return self.out.get(timeout=60)
        except queue.Empty:
            msg = f"no line in 60 s; stderr: {list(self.err.queue)}, exit: {self.proc.poll()}"
            raise AssertionError(msg) from None

    def said(self) -> str:
        return self.err.get(timeout=60)

    def stop(self) -> list[str]:
        """Ctrl-C: exit 130, no traceback; what stdout held still (nothing may be lost)."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        assert self.proc.returncode == 130
        for thread in self._threads:  # each reads its pipe to the end, then closes it
            thread.join(timeout=30)
        rest = list(self.err.queue)
        assert not any("Traceback" in line for line in rest), rest
        return list(self.out.queue)


def _push(url: str, job: str, line: str, *, token: str | None = TOKEN) -> None:
    body = json.dumps({"streams": [{"stream": {"job": job}, "values": [
        [str(time.time_ns()), line]]}]}).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url + "/loki/api/v1/push", data=body, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as answer:
        assert answer.status == 204


def _write(path: Path, job: str, line: str) -> None:
    with Store.open(path) as store, store.transaction():
        LogSink(clock=lambda: 0.0).write(store, [
            LogEntry(canonical_labels({"job": job}), time.time_ns(), line)])


def _polls(path: Path, *reasons: str) -> None:
    """A follow on ``path`` says it polls the store, for each of ``reasons``, and does: a line
    written into the store then is printed."""
    follow = Follow(path, '{job="api"}', "--interval", "0.1")
    try:
        said = follow.said()
        assert "following by polling the store" in said
        for reason in reasons:
            assert reason in said
        _write(path, "api", "polled")
        # (after the newest lines already stored, oldest first)
        assert any(follow.line().endswith("} polled") for _ in range(10))
    finally:
        follow.stop()


def test_follow_goes_through_the_hub_and_ctrl_c_loses_nothing(tmp_path):
    path = tmp_path / "perflab.db"
    with serve(path, "--no-record", token=TOKEN) as hub:
        record = running_hub(path)
        assert record is not None
        assert record.url == hub.url
        assert record.token_ref == {"env": "PERFLAB_TOKEN"}  # a reference, never the token
        assert TOKEN not in hub_record_path(path).read_text()
        _push(hub.url, "api", "level=info before the follow")
        follow = Follow(path, '{job="api"}', "--interval", HOUR, token=TOKEN)
        try:
            assert follow.said().startswith(
                f"perflab: following through the hub at {hub.url}")
            assert follow.line().endswith('{job="api"} level=info before the follow')
            _push(hub.url, "other", "not this stream")
            for i in range(5):
                _push(hub.url, "api", f"level=error pushed {i}")
            got = [follow.line().rsplit("} ", 1)[1] for _ in range(5)]
            assert got == [f"level=error pushed {i}" for i in range(5)]  # each once, in order
        finally:
            rest = follow.stop()
        assert rest == []
    assert not hub_record_path(path).exists()  # removed when the hub stopped


def test_json_through_the_hub_is_loki_tail_messages(tmp_path):
    path = tmp_path / "perflab.db"
    with serve(path, "--no-record") as hub:  # no token: the record says so
        assert running_hub(path).token_ref is None  # type: ignore[union-attr]
        follow = Follow(path, '{job="api"} |= "keep"', "--json", "--interval", HOUR)
        try:
            assert "through the hub" in follow.said()
            _push(hub.url, "api", "drop this", token=None)
            _push(hub.url, "api", "keep this", token=None)
            msg = json.loads(follow.line())
            assert msg["streams"][0]["stream"] == {"job": "api"}
            assert [v[1] for v in msg["streams"][0]["values"]] == ["keep this"]
            assert msg["dropped_entries"] == []
        finally:
            follow.stop()


def test_the_hub_stopping_hands_over_to_polling(tmp_path):
    path = tmp_path / "perflab.db"
    with serve(path, "--no-record") as hub:
        follow = Follow(path, '{job="api"}', "--interval", "0.1")
        assert "through the hub" in follow.said()
        _push(hub.url, "api", "through the hub", token=None)
        assert follow.line().endswith("through the hub")
    try:
        assert "following by polling the store from now on" in follow.said()
        _write(path, "api", "written after the hub stopped")
        assert follow.line().endswith("written after the hub stopped")
    finally:
        follow.stop()


def test_a_record_left_by_a_dead_hub_falls_back_to_polling(tmp_path):
    path = tmp_path / "perflab.db"
    Store.open(path).close()
    # a hub killed with -9 leaves its record: written here by a process that then exits
    code = (f"from perflab.store import publish_hub; "
            f"publish_hub({str(path)!r}, 'http://127.0.0.1:{free_port()}', None)")
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(
        os.environ, PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH"))
                                               if p)))
    assert hub_record_path(path).exists()
    assert running_hub(path) is None
    _polls(path, "no running perflab serve recorded")


def test_a_record_whose_url_does_not_answer_falls_back_to_polling(tmp_path):
    path = tmp_path / "perflab.db"
    Store.open(path).close()
    url = f"http://127.0.0.1:{free_port()}"  # this live process, but nothing listens there
    publish_hub(path, url, None)
    _polls(path, f"the hub at {url} did not answer")


def test_a_token_out_of_reach_falls_back_to_polling(tmp_path):
    path = tmp_path / "perflab.db"
    with serve(path, "--no-record", token=TOKEN):  # and no PERFLAB_TOKEN for the follow
        _polls(path, "needs its token, and $PERFLAB_TOKEN gives none here")


def test_a_token_file_is_followed_and_a_refused_token_falls_back_to_polling(tmp_path):
    """The record names the hub's --token-file; the follower reads the token from it. When
    the file no longer holds the hub's token, the hub refuses the tail (403): polling."""
    path = tmp_path / "perflab.db"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with serve(path, "--no-record", "--token-file", str(token_file)) as hub:
        assert running_hub(path).token_ref == {"file": str(token_file)}  # type: ignore[union-attr]
        follow = Follow(path, '{job="api"}', "--interval", HOUR)
        try:
            assert "through the hub" in follow.said()
            _push(hub.url, "api", "with the file's token")
            assert follow.line().endswith("with the file's token")
        finally:
            follow.stop()
        token_file.write_text("not-the-token\n")
        _polls(path, "did not answer: the hub refused the tail (HTTP 403)")
