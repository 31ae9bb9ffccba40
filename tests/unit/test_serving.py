"""The guard package every port uses: Host rule, token rule, bounded bodies, gzip, concurrency."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import gzip
import weakref
import zlib
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from _webclient import client_class
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from perflab.errors import InvalidValue, UsageError
from perflab.serving import (
    BadEncoding,
    ConcurrencyLimiter,
    HostGuard,
    HostRule,
    PayloadTooLarge,
    Refused,
    TooManyRequests,
    bearer_matches,
    gunzip_bounded,
    is_loopback_host,
    read_body,
    read_token_file,
    require_token_off_loopback,
    settle_heap,
)
from perflab.serving._heap import GC_THRESHOLDS

# -- Host rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.0.0.1:8600", "127.9.9.9", "[::1]:8600", "::1", "localhost",
    "LOCALHOST:8600", "localhost.", "app.localhost:1", "[::1]",
])
def test_loopback_hosts_are_always_served(host):
    assert HostRule.for_listen("127.0.0.1").allows(host)


@pytest.mark.parametrize("host", [
    "evil.example", "evil.example:8600", "127.0.0.1.evil.example", "localhost.evil.example",
    "10.0.0.1", "[2001:db8::1]:80", "", "0.0.0.0", "127.0.0.1@evil.example",
])
def test_other_hosts_are_refused_on_loopback(host):
    assert not HostRule.for_listen("127.0.0.1").allows(host)


def test_listen_name_and_allowed_hosts_are_served():
    rule = HostRule.for_listen("perflab.lan", ["Hub.Example.COM", "10.1.2.3"])
    assert rule.allows("perflab.lan:8600")
    assert rule.allows("hub.example.com")
    assert rule.allows("10.1.2.3:8600")
    assert not rule.allows("other.example.com")
    assert not rule.allows("10.1.2.4")


def test_a_wildcard_listen_serves_any_address_but_only_named_names():
    """An IP literal cannot be DNS-rebound; a name can, so names still need --allowed-host."""
    rule = HostRule.for_listen("0.0.0.0")
    assert rule.allows("192.168.1.5:8600")
    assert rule.allows("[fe80::1]:8600")
    assert not rule.allows("evil.example")


def test_no_host_header_is_not_a_browser_and_passes():
    assert HostRule.for_listen("127.0.0.1").allows(None)


@pytest.mark.parametrize("bad", ["http://x.example", "x.example:80", "x.example/path", "", "a..b",
                                 "<script>"])
def test_allowed_host_values_are_names_or_addresses(bad):
    with pytest.raises(InvalidValue, match="--allowed-host"):
        HostRule.for_listen("127.0.0.1", [bad])


@given(st.text(max_size=300))
def test_any_host_header_is_judged_without_raising(header):
    rule = HostRule.for_listen("127.0.0.1", ["hub.example"])
    assert rule.allows(header) in (True, False)


def test_loopback_listen_addresses_resolve_names():
    assert is_loopback_host("localhost", resolve=True)
    assert is_loopback_host("127.0.0.2", resolve=True)
    assert not is_loopback_host("0.0.0.0", resolve=True)


def _guarded_app() -> Starlette:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hello")
        await ws.close()

    app = Starlette(routes=[Route("/", hello), WebSocketRoute("/ws", echo)])
    app.add_middleware(HostGuard, rule=HostRule.for_listen("127.0.0.1"))
    return app


def test_host_guard_answers_421_json_to_another_host():
    with client_class()(_guarded_app(), base_url="http://127.0.0.1:8600") as c:
        assert c.get("/").text == "hello"
        r = c.get("/", headers={"Host": "evil.example"})
    assert r.status_code == 421
    assert r.json()["status"] == 421
    assert "evil.example" in r.json()["error"]


def test_host_guard_closes_websockets_for_another_host_before_accepting():
    with client_class()(_guarded_app(), base_url="http://127.0.0.1:8600") as c:
        with c.websocket_connect("ws://127.0.0.1:8600/ws") as ws:
            assert ws.receive_text() == "hello"
        with pytest.raises(WebSocketDisconnect) as closed, \
                c.websocket_connect("ws://evil.example:8600/ws"):
            pass
    assert closed.value.code == 1008


# -- token rule --------------------------------------------------------------------------------


def test_a_token_is_required_off_loopback_only():
    require_token_off_loopback("127.0.0.1", None, where="127.0.0.1:1", what="the hub")
    require_token_off_loopback("0.0.0.0", "t", where="0.0.0.0:1", what="the hub")
    with pytest.raises(UsageError, match=r"on 0\.0\.0\.0:1 without a token"):
        require_token_off_loopback("0.0.0.0", None, where="0.0.0.0:1", what="the hub")


def test_bearer_matches_only_the_exact_token():
    assert bearer_matches("Bearer s3cret", b"s3cret")
    assert bearer_matches("bearer  s3cret ", b"s3cret")
    assert not bearer_matches("Bearer s3cre", b"s3cret")
    assert not bearer_matches("Basic s3cret", b"s3cret")
    assert not bearer_matches(None, b"s3cret")


def test_token_file_is_its_first_line(tmp_path):
    f = tmp_path / "token"
    f.write_text("s3cret\n")
    assert read_token_file(f) == "s3cret"
    f.write_text("\n\n")
    with pytest.raises(InvalidValue, match="empty"):
        read_token_file(f)
    with pytest.raises(InvalidValue, match="cannot read"):
        read_token_file(tmp_path / "missing")


# -- bodies ------------------------------------------------------------------------------------


def _body_app(limit: int) -> Starlette:
    async def take(request: Request) -> JSONResponse:
        try:
            body = await read_body(request, limit)
        except Refused as exc:
            return JSONResponse(exc.to_json(), status_code=exc.status)
        return JSONResponse({"size": len(body)})

    return Starlette(routes=[Route("/", take, methods=["POST"])])


def test_read_body_takes_up_to_the_limit_and_refuses_more():
    with client_class()(_body_app(100)) as c:
        assert c.post("/", content=b"x" * 100).json() == {"size": 100}
        r = c.post("/", content=b"x" * 101)
        assert r.status_code == 413
        assert "100" in r.json()["error"]

        def chunks():  # no Content-Length: counted while read
            for _ in range(50):
                yield b"x" * 10

        assert c.post("/", content=chunks()).status_code == 413


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=3000))
def test_gunzip_bounded_is_gzip_within_the_limit(data, limit):
    packed = gzip.compress(data)
    if len(data) <= limit:
        assert gunzip_bounded(packed, limit) == data
    else:
        with pytest.raises(PayloadTooLarge):
            gunzip_bounded(packed, limit)


@given(st.binary(max_size=500))
def test_gunzip_bounded_raises_only_its_refusals_on_any_input(data):
    with contextlib.suppress(BadEncoding, PayloadTooLarge):
        gunzip_bounded(data, 1000)


def test_gunzip_bounded_reads_several_members_and_refuses_truncation():
    assert gunzip_bounded(gzip.compress(b"ab") + gzip.compress(b"cd"), 10) == b"abcd"
    with pytest.raises(BadEncoding, match="truncated"):
        gunzip_bounded(gzip.compress(b"abcdef" * 100)[:-10], 10_000)


def test_a_gzip_bomb_is_refused_without_inflating_it():
    """1 GiB of zeros is ~1 MB of gzip; refused after at most limit + one step of output."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    bomb = b"".join(compressor.compress(block) for _ in range(1024)) + compressor.flush()
    assert len(bomb) < 2 << 20
    with pytest.raises(PayloadTooLarge, match="decompresses to more than"):
        gunzip_bounded(bomb, 1 << 20)


# -- concurrency -------------------------------------------------------------------------------


T = TypeVar("T")

def run_alone(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: a session-wide browser (Playwright's sync API) may
    keep an event loop running in the main thread, where asyncio.run refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()

def test_limiter_lets_n_work_m_wait_and_refuses_the_rest():
    async def scenario() -> list[str]:
        limiter = ConcurrencyLimiter(2, 1)
        gate = asyncio.Event()
        log: list[str] = []

        async def job(name: str) -> None:
            try:
                async with limiter.slot():
                    log.append(f"start {name}")
                    await gate.wait()
            except TooManyRequests:
                log.append(f"429 {name}")

        tasks = [asyncio.create_task(job(n)) for n in "abcd"]
        for _ in range(10):  # let every task reach its slot (one loop turn each)
            await asyncio.sleep(0)
        assert (limiter.active, limiter.waiting, len(log)) == (2, 1, 3)
        gate.set()
        await asyncio.gather(*tasks)
        assert (limiter.active, limiter.waiting) == (0, 0)
        return log

    assert run_alone(scenario()) == ["start a", "start b", "429 d", "start c"]


def test_limiter_forgets_a_cancelled_waiter():
    async def scenario() -> None:
        limiter = ConcurrencyLimiter(1, 1)
        gate = asyncio.Event()

        async def hold() -> None:
            async with limiter.slot():
                await gate.wait()

        holder = asyncio.create_task(hold())
        waiter = asyncio.create_task(hold())
        for _ in range(10):
            await asyncio.sleep(0)
        assert limiter.waiting == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert limiter.waiting == 0
        gate.set()
        await holder
        assert limiter.active == 0
        async with limiter.slot():
            assert limiter.active == 1

    run_alone(scenario())


def test_public_surface_of_perflab_serving():
    import perflab.serving  # noqa: PLC0415

    assert sorted(perflab.serving.__all__) == [
        "BadEncoding", "ConcurrencyLimiter", "HostGuard", "HostRule", "OTLP_MAX_BODY",
        "OtlpSignal", "OtlpSink", "PayloadTooLarge", "Refused", "TooManyRequests",
        "bearer_matches", "datagram_socket", "decode_and_accept", "gunzip_bounded",
        "hex_ids_to_base64", "http_url", "is_loopback_host", "json_body", "json_objects",
        "listening_socket", "media_type", "otlp_error", "otlp_grpc_export", "otlp_http_export",
        "parse_otlp_json", "parse_protobuf", "partial_success", "partial_success_json",
        "read_body", "read_encoded_body",
        "read_token_file", "require_token_off_loopback", "retry_after", "settle_heap",
        "snappy_decompress_bounded",
        "status_protobuf"]


def test_settle_heap_freezes_what_start_up_left_and_raises_the_first_threshold() -> None:
    """A server's process: what its start-up left alive is frozen (the collector's full passes
    no longer walk it), its garbage collected first, and young passes come less often."""
    before = gc.get_threshold(), gc.get_freeze_count()
    gc.disable()  # no automatic pass frees the cycle before settle_heap does
    ref = weakref.ref(_Cycle())  # garbage only the collector frees
    try:
        assert ref() is not None
        settle_heap()
        assert ref() is None  # collected, not frozen for good
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0][0]
        assert gc.get_freeze_count() > before[1]
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*before[0])


class _Cycle:
    def __init__(self) -> None:
        self.me = self
