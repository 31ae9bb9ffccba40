"""Reads and toxic changes answer without waiting for the proxies' loop (issue 17: the API
within 50 ms while 1,000 connections keep that loop busy), and a GET right after a change sees
it. Here the proxies' loop is held still by a callback that blocks it: a request that needed a
turn of it would time out."""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import time
from collections.abc import Iterator

import requests
from tests.conftest import wait_for
from tests.unit.chaos.conftest import connect

from perflab.chaos import ChaosServer
from perflab.chaos._server import SWITCH_INTERVAL_S
from perflab.serving import listening_socket
from perflab.serving._heap import GC_THRESHOLDS

TIMEOUT = 10  # a request that waits for the blocked loop would wait 30 s


@contextlib.contextmanager
def loop_blocked(server: ChaosServer, proxy: str) -> Iterator[None]:
    """The proxies' loop stuck in one callback until the block ends."""
    entered, release = threading.Event(), threading.Event()

    def block() -> None:
        entered.set()
        release.wait(30)

    server.proxies.proxies[proxy].loop.call_soon_threadsafe(block)
    assert entered.wait(30)
    try:
        yield
    finally:
        release.set()


def _proxy(base: str, echo: str) -> str:
    r = requests.post(f"{base}/proxies", json={"name": "db", "upstream": echo}, timeout=TIMEOUT)
    assert r.status_code == 201
    return str(r.json()["listen"])


def test_reads_and_toxic_changes_answer_while_the_proxies_loop_is_blocked(
        chaos_server: ChaosServer, echo: str) -> None:
    base = f"http://127.0.0.1:{chaos_server.port}"
    listen = _proxy(base, echo)
    toxics = f"{base}/proxies/db/toxics"
    with loop_blocked(chaos_server, "db"):
        assert requests.get(f"{base}/proxies", timeout=TIMEOUT).json()["db"]["toxics"] == []
        r = requests.post(toxics, timeout=TIMEOUT, json={
            "type": "limit_data", "attributes": {"bytes": 4}})
        assert r.status_code == 200
        assert r.json()["name"] == "limit_data_downstream"
        # read-your-writes: each GET after a change's answer sees that change
        shown = requests.get(f"{base}/proxies/db", timeout=TIMEOUT).json()
        assert [t["name"] for t in shown["toxics"]] == ["limit_data_downstream"]
        r = requests.patch(f"{toxics}/limit_data_downstream", timeout=TIMEOUT,
                           json={"attributes": {"bytes": 3}})
        assert r.json()["attributes"] == {"bytes": 3}
        got = requests.get(f"{toxics}/limit_data_downstream", timeout=TIMEOUT).json()
        assert got["attributes"] == {"bytes": 3}
        r = requests.post(toxics, timeout=TIMEOUT, json={"type": "latency", "stream": "upstream"})
        assert [t["name"] for t in requests.get(toxics, timeout=TIMEOUT).json()] == [
            "latency_upstream", "limit_data_downstream"]  # upstream first, as Toxiproxy
        assert requests.delete(f"{toxics}/latency_upstream", timeout=TIMEOUT).status_code == 204
        r = requests.get(f"{toxics}/latency_upstream", timeout=TIMEOUT)
        assert (r.status_code, r.json()["error"]) == (404, "toxic not found")
        r = requests.post(toxics, timeout=TIMEOUT, json={"type": "limit_data"})
        assert (r.status_code, r.json()["error"]) == (409, "toxic already exists")
        r = requests.get(f"{base}/proxies/nope/toxics", timeout=TIMEOUT)
        assert (r.status_code, r.json()["error"]) == (404, "proxy not found")
    # the change made while the loop was blocked acts on the traffic once it turns
    with connect(listen) as sock:
        sock.sendall(b"pingpong")
        got = b""
        while chunk := sock.recv(64):
            got += chunk
    assert got == b"pin"


def test_a_duration_changed_while_the_loop_is_blocked_counts_from_the_change(
        chaos_server: ChaosServer, echo: str) -> None:
    base = f"http://127.0.0.1:{chaos_server.port}"
    _proxy(base, echo)
    toxics = f"{base}/proxies/db/toxics"
    with loop_blocked(chaos_server, "db"):
        requests.post(toxics, json={"type": "latency", "name": "kept", "duration": "50ms"},
                      timeout=TIMEOUT).raise_for_status()
        requests.patch(f"{toxics}/kept", json={"duration": "1h"},
                       timeout=TIMEOUT).raise_for_status()
        requests.post(toxics, json={"type": "latency", "name": "gone", "stream": "upstream",
                                    "duration": "1h"}, timeout=TIMEOUT).raise_for_status()
        requests.patch(f"{toxics}/gone", json={"duration": "50ms"},
                       timeout=TIMEOUT).raise_for_status()

    def names() -> list[str]:
        return [t["name"] for t in requests.get(toxics, timeout=TIMEOUT).json()]

    wait_for(lambda: names() == ["kept"], timeout_s=20, what="gone to expire")
    time.sleep(0.3)  # long past kept's first 50 ms: that clock was replaced, not running
    assert names() == ["kept"]


def test_only_the_proxys_own_process_has_its_gil_and_collector_tuned() -> None:
    """Run in the main thread (``perflab chaos proxy``: the process is the proxy's), the server
    sets a 1 ms switch interval, so the API's thread waits less for the GIL behind the busy
    proxies' loop, raises the collector's thresholds and freezes what start-up left alive, so
    the collector's passes are rarer and shorter; run in another thread (embedded: the hub,
    tests), it leaves all three alone."""
    before = sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count()
    bad = [{"name": "x", "upstream": "192.0.2.1:80"}]  # not loopback: serve() stops at once
    try:
        with listening_socket("127.0.0.1", 0) as sock:
            thread = threading.Thread(target=ChaosServer(sock, populate=bad).run)
            thread.start()
            thread.join(30)
            assert (sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count()) == before
            server = ChaosServer(sock, populate=bad)
            server.run()
        assert server.failure is not None
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > before[2]
    finally:
        gc.unfreeze()
        sys.setswitchinterval(before[0])
        gc.set_threshold(*before[1])
