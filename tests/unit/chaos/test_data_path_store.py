"""The proxies' loop never touches the store: neither per connection nor at a toxic's change.

A large store made every toxic change stall every connection for a ``Store.open`` (it checks
the small tables: tens of milliseconds on hundreds of MB). Here every store call of the bands
is counted with the thread that made it, while connections pass and toxics come and go."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.unit.chaos.conftest import connect

from perflab.chaos import FaultBands, running_server
from perflab.serving import listening_socket
from perflab.store import CHAOS_FAULT_EVENT, Store


class _Calls:
    """Every store opened and every event written or ended, by the thread that did it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opens: list[str] = []
        self.writes: list[str] = []
        self._lock = threading.Lock()
        opener = Store.open.__func__  # type: ignore[attr-defined]
        add_event = Store.add_event

        def counted_open(cls: type[Store], *args: Any, **kwargs: Any) -> Store:
            self._note(self.opens)
            return opener(cls, *args, **kwargs)

        def counted_add_event(store: Store, *args: Any, **kwargs: Any) -> int:
            self._note(self.writes)
            return add_event(store, *args, **kwargs)

        monkeypatch.setattr(Store, "open", classmethod(counted_open))
        monkeypatch.setattr(Store, "add_event", counted_add_event)

    def _note(self, into: list[str]) -> None:
        with self._lock:
            into.append(threading.current_thread().name)


def _ping(listen: str, connections: int) -> None:
    socks = [connect(listen) for _ in range(connections)]
    try:
        for sock in socks:
            sock.sendall(b"ping")
        for sock in socks:
            got = b""
            while len(got) < 4:
                got += sock.recv(4)
            assert got == b"ping"
    finally:
        for sock in socks:
            sock.close()


def test_connections_and_toxic_changes_never_touch_the_store_on_the_proxies_loop(
        tmp_path: Path, echo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store_path = tmp_path / "s.db"
    Store.open(store_path).close()
    calls = _Calls(monkeypatch)
    bands = FaultBands(store_path)
    sock = listening_socket("127.0.0.1", 0)
    with running_server(sock, bands=bands) as chaos:
        base = f"http://127.0.0.1:{chaos.port}"
        listen = requests.post(f"{base}/proxies", json={"name": "db", "upstream": echo},
                               timeout=10).json()["listen"]
        _ping(listen, 20)
        assert calls.opens == []  # no toxic yet: nothing to write, per connection neither
        for round_ in range(3):
            r = requests.post(f"{base}/proxies/db/toxics", timeout=10,
                              json={"type": "latency", "attributes": {"latency": 0}})
            assert r.status_code == 200
            _ping(listen, 20)
            r = requests.delete(f"{base}/proxies/db/toxics/latency_downstream", timeout=10)
            assert r.status_code == 204
            assert len(calls.writes) == round_ + 1  # one band per toxic, none per connection
        _ping(listen, 20)
    sock.close()
    assert calls.opens == ["perflab-chaos-bands"]  # opened once, by the bands' writer
    assert set(calls.writes) == {"perflab-chaos-bands"}
    assert bands.run_id is not None
    with Store.open(store_path) as store:
        events = [e for e in store.events(bands.run_id) if e.kind == CHAOS_FAULT_EVENT]
    assert len(events) == 3
    assert all(e.end_ns is not None for e in events)
