"""HTTP/1.1 over one direction of a flow: framing, reordering, and where parsing gives up."""

from __future__ import annotations

from perflab.netcap._http import HttpStream, exchanges


def _starts(stream: HttpStream) -> list[tuple[str, str]]:
    return [m.start for m in stream.messages]


def test_head_204_304_have_no_body() -> None:
    s = HttpStream()
    s.feed(1, b"HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n"
              b"HTTP/1.1 304 Not Modified\r\n\r\n", 10)
    assert _starts(s) == [("204", ""), ("304", "")]


def test_body_counted_across_segments_and_a_missed_hole() -> None:
    s = HttpStream()
    s.feed(1, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"a" * 100, 10)
    head = len(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    s.feed(1 + head + 400, b"c" * 600, 30)         # 300 bytes the capture missed before it
    s.acked(1 + head + 1000, 31)                   # the client acknowledged them all
    assert s.messages[0].start == ("200", "")
    # complete with its last byte, which came at 30 (held until the hole was accounted for)
    assert (s.messages[0].first_ns, s.messages[0].last_ns) == (10, 30)
    assert not s.buffer


def test_retransmitted_bytes_taken_once() -> None:
    s = HttpStream()
    req = b"GET /x HTTP/1.1\r\n\r\n"
    s.feed(1, req[:10], 1)
    s.feed(1, req[:15], 2)  # overlaps what was taken: only the new 5 bytes count
    s.feed(16, req[15:], 3)
    assert _starts(s) == [("GET", "/x")]


def test_not_http_stops_parsing() -> None:
    s = HttpStream()
    s.feed(1, b"\x16\x03\x01 TLS hello\r\n\r\n", 1)
    assert s.broken
    s.feed(30, b"GET / HTTP/1.1\r\n\r\n", 2)
    assert not s.messages


def test_bad_content_length_stops_parsing() -> None:
    s = HttpStream()
    s.feed(1, b"POST / HTTP/1.1\r\nContent-Length: lots\r\n\r\n", 1)
    assert s.broken


def test_endless_header_stops_parsing() -> None:
    s = HttpStream()
    s.feed(1, b"GET / HTTP/1.1\r\nX: " + b"y" * 70_000, 1)
    assert s.broken


def test_too_many_held_segments_stop_parsing() -> None:
    s = HttpStream()
    s.feed(1, b"G", 1)
    for i in range(300):
        s.feed(10 + i * 10, b"x", 2)
    assert s.broken


def test_chunked_waits_for_the_last_chunk() -> None:
    s = HttpStream()
    s.feed(1, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 1)
    assert not s.messages
    rest = b"cde\r\n0\r\nX-Trailer: 1\r\n\r\n"
    s.feed(s.expected or 0, rest, 2)
    assert _starts(s) == [("200", "")]


def test_unanswered_requests_are_left_out() -> None:
    req, resp = HttpStream(), HttpStream()
    req.feed(1, b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 100)
    resp.feed(1, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 150)
    assert exchanges(req.messages, resp.messages) == [("GET", "/a", 50)]
