"""A closed connection is freed by reference counting alone: its sides, links and pumps leave no
reference cycle for the cyclic collector, whose passes stop every thread, the API's too
(issue 17). The collector is off while the connections end, so a cycle would keep them."""

from __future__ import annotations

import gc
import weakref

import requests
from tests.conftest import wait_for
from tests.unit.chaos.conftest import connect

from perflab.chaos import ChaosServer

TIMEOUT = 10


def test_closed_connections_are_freed_without_the_collector(chaos_server: ChaosServer,
                                                            echo: str) -> None:
    base = f"http://127.0.0.1:{chaos_server.port}"
    listen = requests.post(f"{base}/proxies", json={"name": "db", "upstream": echo},
                           timeout=TIMEOUT).json()["listen"]
    # one direction through a toxic (its pump at work), the other on the fast path
    requests.post(f"{base}/proxies/db/toxics", json={"type": "latency", "attributes": {
        "latency": 1}}, timeout=TIMEOUT).raise_for_status()
    proxy = chaos_server.proxies.proxies["db"]
    gc.collect()
    gc.disable()
    try:
        clients = [connect(listen) for _ in range(3)]
        for sock in clients:
            sock.sendall(b"ping")
        for sock in clients:
            assert sock.recv(64) == b"ping"
        refs = [weakref.ref(o) for conn in list(proxy.connections)
                for o in (conn, conn.client, conn.upstream, *conn.links.values())]
        assert len(refs) == 3 * 5
        for sock in clients:
            sock.close()
        wait_for(lambda: not proxy.connections, timeout_s=TIMEOUT, what="the connections to end")
        wait_for(lambda: all(ref() is None for ref in refs), timeout_s=TIMEOUT,
                 what="the connections' objects to be freed")
    finally:
        gc.enable()
