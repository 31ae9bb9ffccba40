"""Each toxic's effect on real traffic through the proxy to a loopback echo server.

Times are only checked from below (the data was held at least as long as asked): how close
the delays come to their settings is measured by benchmarks/bench_chaos_proxy.py.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import toxiproxy
from tests.unit.chaos.conftest import connect, recv_exactly

from perflab.chaos._link import _slices


def roundtrip(sock: socket.socket, data: bytes) -> float:
    start = time.monotonic()
    sock.sendall(data)
    assert recv_exactly(sock, len(data)) == data
    return time.monotonic() - start


@contextlib.contextmanager
def held_by(client: toxiproxy.Toxiproxy, echo: str, kind: str, attributes: dict[str, int]
            ) -> Iterator[tuple[Any, socket.socket]]:
    """A connection through a proxy with one toxic, whose first bytes the toxic holds."""
    proxy = client.create(upstream=echo, name="p")
    proxy.add_toxic(type=kind, attributes=attributes)
    with connect(proxy.listen) as sock:
        sock.sendall(b"held")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        sock.settimeout(60)
        yield proxy, sock


def test_no_toxic_passes_data_unchanged(client: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = client.create(upstream=echo, name="p")
    payload = bytes(range(256)) * 4096  # 1 MiB
    with connect(proxy.listen) as sock:
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_latency_holds_each_chunk(client: toxiproxy.Toxiproxy, echo: str, stream: str) -> None:
    proxy = client.create(upstream=echo, name="p")
    with connect(proxy.listen) as sock:
        roundtrip(sock, b"warm")
        proxy.add_toxic(type="latency", stream=stream, attributes={"latency": 100})
        assert roundtrip(sock, b"hello") >= 0.1
        proxy.destroy_toxic(f"latency_{stream}")
        assert roundtrip(sock, b"again") < 5  # the toxic went; data still flows


def test_latency_applies_to_connections_made_before_it(client: toxiproxy.Toxiproxy,
                                                       echo: str) -> None:
    proxy = client.create(upstream=echo, name="p")
    with connect(proxy.listen) as sock:
        roundtrip(sock, b"a")
        proxy.add_toxic(type="latency", attributes={"latency": 60, "jitter": 10})
        assert roundtrip(sock, b"b") >= 0.05


def test_toxicity_zero_never_applies(client: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = client.create(upstream=echo, name="p")
    proxy.add_toxic(type="reset_peer", toxicity=0.0)
    with connect(proxy.listen) as sock:
        roundtrip(sock, b"still here")


def test_reset_peer_resets(client: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = client.create(upstream=echo, name="p")
    proxy.add_toxic(type="reset_peer", stream="upstream", attributes={"timeout": 0})
    with connect(proxy.listen) as sock:
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)


def test_limit_data_closes_after_n_bytes(client: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = client.create(upstream=echo, name="p")
    proxy.add_toxic(type="limit_data", attributes={"bytes": 10})
    with connect(proxy.listen) as sock:
        sock.sendall(b"0123456789abcdefghij")
        got = recv_exactly(sock, 20)
        assert got == b"0123456789"
        assert sock.recv(10) == b""


def test_bandwidth_limits_the_rate(client: toxiproxy.Toxiproxy, echo: str) -> None:
    """rate 100 KB/s: 50 kB take at least 0.45 s (the first 100 ms worth may leave at once)."""
    proxy = client.create(upstream=echo, name="p")
    proxy.add_toxic(type="bandwidth", attributes={"rate": 100})
    with connect(proxy.listen) as sock:
        assert roundtrip(sock, b"z" * 50_000) >= 0.4


def test_timeout_closes_without_data(client: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = client.create(upstream=echo, name="p")
    proxy.add_toxic(type="timeout", attributes={"timeout": 100})
    with connect(proxy.listen) as sock:
        sock.sendall(b"lost")
        assert sock.recv(10) == b""


def test_timeout_zero_holds_until_removed(client: toxiproxy.Toxiproxy, echo: str) -> None:
    """timeout 0 keeps the connection open with no data; removing it closes the connection
    (Toxiproxy's Cleanup)."""
    with held_by(client, echo, "timeout", {"timeout": 0}) as (proxy, sock):
        proxy.destroy_toxic("timeout_downstream")
        assert sock.recv(10) == b""


def test_slow_close_delays_the_close(client: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = client.create(upstream=echo, name="p")
    proxy.add_toxic(type="slow_close", attributes={"delay": 200})
    with connect(proxy.listen) as sock:
        roundtrip(sock, b"bye")
        start = time.monotonic()
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(10) == b""
        assert time.monotonic() - start >= 0.2


def test_slicer_passes_every_byte_in_order(client: toxiproxy.Toxiproxy, echo: str) -> None:
    proxy = client.create(upstream=echo, name="p")
    proxy.add_toxic(type="slicer", attributes={"average_size": 100, "size_variation": 20,
                                               "delay": 10})
    payload = bytes(range(256)) * 40
    with connect(proxy.listen) as sock:
        assert roundtrip(sock, payload) > 0


def test_slices_cover_the_chunk_around_the_average_size() -> None:
    bounds = _slices(0, 10_000, 100, 20)
    pairs = list(zip(bounds[::2], bounds[1::2], strict=True))
    assert pairs[0][0] == 0
    assert pairs[-1][1] == 10_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pairs))
    assert all(0 < end - start <= 120 + 40 for start, end in pairs)


def test_removing_a_latency_toxic_releases_what_it_holds(client: toxiproxy.Toxiproxy,
                                                         echo: str) -> None:
    """A chunk held by a 10-minute latency goes as soon as the toxic is removed (Toxiproxy
    passes on what an interrupted toxic holds); a duration's end removes it the same way."""
    with held_by(client, echo, "latency", {"latency": 600_000}) as (proxy, sock):
        proxy.destroy_toxic("latency_downstream")  # the socket waits 60 s, not 10 minutes
        assert recv_exactly(sock, 4) == b"held"
