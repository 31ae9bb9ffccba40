"""Loki's live tail on a real ``perflab serve``, read with a real websocket client
(websocket-client): Loki's parameters and message shape, lines as they arrive (a line pushed
late with an old time too), the token (a header; none: refused before the socket opens), a
Host the hub does not serve (refused), a bad query (closed with 1008 and its reason), and a
client that leaves (the hub keeps serving and stops cleanly)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import pytest
import websocket
from tests._schemas import validate

from perflab.testing import serve

pytestmark = pytest.mark.integration

TOKEN = "tail-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _push(url: str, job: str, ts_ns: int, line: str) -> None:
    body = json.dumps({"streams": [{"stream": {"job": job}, "values": [
        [str(ts_ns), line]]}]}).encode()
    req = urllib.request.Request(url + "/loki/api/v1/push", data=body, headers={
        "Content-Type": "application/json", **AUTH})
    with urllib.request.urlopen(req, timeout=30) as answer:
        assert answer.status == 204


def _tail_url(url: str, **params: str) -> str:
    return url.replace("http://", "ws://") + "/loki/api/v1/tail?" + urllib.parse.urlencode(params)


def _lines(msg: dict) -> list[str]:
    return [v[1] for s in msg["streams"] for v in s["values"]]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    store = tmp_path_factory.mktemp("tail") / "perflab.db"
    with serve(store, "--no-record", token=TOKEN) as served:
        yield served
    assert served.returncode == 0, served.log()


def test_a_real_client_reads_the_recent_lines_then_what_arrives(hub):
    now = time.time_ns()
    _push(hub.url, "api", now - 10**9, "level=info before the tail")
    ws = websocket.create_connection(
        _tail_url(hub.url, query='{job="api"}', limit="10", delay_for="0",
                  start=str(now - 60 * 10**9)), header=AUTH, timeout=30)
    try:
        first = json.loads(ws.recv())
        validate(first, "loki-tail")
        assert _lines(first) == ["level=info before the tail"]
        _push(hub.url, "other", now, "not this stream")
        _push(hub.url, "api", now - 7200 * 10**9, "level=warn pushed late, two hours old")
        _push(hub.url, "api", now + 10**9, "level=error now")
        got: list[str] = []
        while len(got) < 2:
            msg = json.loads(ws.recv())
            validate(msg, "loki-tail")
            assert msg["dropped_entries"] == []
            got += _lines(msg)
        assert got == ["level=warn pushed late, two hours old", "level=error now"]
    finally:
        ws.close()
    # the hub still answers after the client left
    _push(hub.url, "api", now, "after the client left")


def test_without_the_token_the_socket_is_refused(hub):
    with pytest.raises(websocket.WebSocketBadStatusException) as got:
        websocket.create_connection(_tail_url(hub.url, query='{job="api"}'), timeout=30)
    assert got.value.status_code == 403  # closed before it was accepted


def test_another_host_is_refused(hub):
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(_tail_url(hub.url, query='{job="api"}'),
                                    header={**AUTH, "Host": "evil.example"}, timeout=30)


def test_a_bad_query_closes_with_its_reason(hub):
    ws = websocket.create_connection(_tail_url(hub.url, query='{job="api"'), header=AUTH,
                                     timeout=30)
    try:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        code = int.from_bytes(frame.data[:2], "big")
        assert code == 1008
        assert "invalid LogQL at column" in frame.data[2:].decode()
    finally:
        ws.shutdown()  # the hub closed it: nothing to say back
