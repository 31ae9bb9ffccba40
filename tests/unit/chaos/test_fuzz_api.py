"""Fuzzing the fault proxy's readers of untrusted input: toxic and proxy bodies of the API
(any JSON, and real bodies with one value replaced) raise only ``ApiError`` (a 4xx answer), and
the HTTP request heads the http_error toxic reads never raise, nor does the response follower of
the response toxics, which loses and adds no byte wherever the stream's chunks break."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests._fuzz import json_values, mutated_json

from perflab.chaos._http import RequestLog, ResponseFollower
from perflab.chaos._http import request_head as _request_head
from perflab.chaos._proxy import read_proxy
from perflab.chaos._toxics import ApiError, finish_toxic, new_toxic, read_attributes

FUZZ = settings(max_examples=300, deadline=None)
TOXIC_SEEDS: list[dict[str, Any]] = [
    {"name": "l", "type": "latency", "stream": "upstream", "toxicity": 0.5,
     "attributes": {"latency": 100, "jitter": 10}, "duration": "30s"},
    {"type": "http_error", "stream": "upstream",
     "attributes": {"status": 500, "percent": 5, "first": 0, "path_prefix": "/api"}},
    {"type": "slicer", "attributes": {"average_size": 10, "size_variation": 2, "delay": 5}},
    {"type": "http_corrupt", "attributes": {"target": "header", "header": "X-A", "value": "b",
                                            "percent": 50, "bytes": 2, "path_prefix": "/"}},
    {"type": "http_slow_body", "attributes": {"rate": 0, "chunk": 10, "delay": 100}},
]
PROXY_SEED = {"name": "db", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:5432",
              "enabled": True}


@FUZZ
@given(st.one_of(mutated_json(st.sampled_from(TOXIC_SEEDS)), json_values))
def test_toxic_bodies_raise_only_api_errors(body: object) -> None:
    try:
        toxic = new_toxic(body)
        assert isinstance(body, dict)
        finish_toxic(toxic, body)
        read_attributes(toxic.type, body.get("attributes"), toxic.attributes, toxic.texts)
    except ApiError as err:
        assert 400 <= err.status < 500  # noqa: PT017  # a client's fault, never a 500


@FUZZ
@given(st.one_of(mutated_json(st.just(PROXY_SEED)), json_values))
def test_proxy_bodies_raise_only_api_errors(body: object) -> None:
    with contextlib.suppress(ApiError):
        name, listen, upstream, enabled = read_proxy(body, "")
        assert isinstance(name, str)
        assert isinstance(enabled, bool)
        assert listen
        assert upstream


@FUZZ
@given(st.binary(max_size=300) | st.sampled_from([
    b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", b"POST /x HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n"]))
def test_request_heads_never_raise(head: bytes) -> None:
    parsed = _request_head(head)
    if parsed is not None:
        assert isinstance(parsed.path, str)
        assert parsed.length >= 0


RESPONSE_PARTS = st.sampled_from([
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n", b"HTTP/1.1 100 Continue\r\n\r\n",
    b"1\r\n", b"zz;\r\n", b"\r\n", b"HTTP/1.1 200\r\n\r\n"])


@FUZZ
@given(st.lists(RESPONSE_PARTS | st.binary(max_size=40), max_size=8),
       st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=8))
def test_the_response_follower_never_raises_nor_loses_a_byte(parts: list[bytes],
                                                             cuts: list[int]) -> None:
    stream = b"".join(parts)
    log = RequestLog()
    log.feed(b"GET / HTTP/1.1\r\n\r\nHEAD /h HTTP/1.1\r\n\r\n")
    follower = ResponseFollower(log)
    out, at, i = b"", 0, 0
    while at < len(stream):
        step = cuts[i % len(cuts)]
        out += b"".join(seg.data for seg in follower.feed(stream[at:at + step]))
        at, i = at + step, i + 1
    assert out + follower.buffer == stream
