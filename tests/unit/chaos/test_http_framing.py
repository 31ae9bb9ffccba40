"""HTTP/1.1 framing on a proxied stream (chaos/_http.py): responses cut into head, body, chunked
framing and end, matched to the requests they answer, wherever the stream's chunks break."""

from __future__ import annotations

from perflab.chaos._http import RequestLog, ResponseFollower, Segment

REQUESTS = (b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /d HTTP/1.1\r\n\r\n"
            b"GET /e HTTP/1.1\r\n\r\n")
RESPONSES = (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
             b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"  # HEAD: no body whatever it says
             b"HTTP/1.1 100 Continue\r\n\r\n"
             b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n"
             b"HTTP/1.1 204 No Content\r\n\r\n"
             b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n")


def _follow(chunks: list[bytes]) -> list[Segment]:
    log = RequestLog()
    log.feed(REQUESTS)
    follower = ResponseFollower(log)
    out: list[Segment] = []
    for chunk in chunks:
        out.extend(follower.feed(chunk))
    return out


def _summary(segments: list[Segment]) -> list[tuple[str, object]]:
    """Adjacent body/frame pieces merged: the same whatever the chunk boundaries."""
    out: list[tuple[str, object]] = []
    for seg in segments:
        if seg.part == "head":
            out.append(("head", (seg.request, seg.status, seg.length)))
        elif seg.part == "end":
            out.append(("end", None))
        elif out and out[-1][0] == seg.part:
            before = out[-1][1]
            assert isinstance(before, bytes)
            out[-1] = (seg.part, before + seg.data)
        else:
            out.append((seg.part, seg.data))
    return out


EXPECTED = [
    ("head", (("GET", "/a"), 200, 5)), ("body", b"hello"), ("end", None),
    ("head", (("HEAD", "/b"), 200, 0)), ("end", None),
    ("head", (("POST", "/c"), 100, 0)), ("end", None),
    ("head", (("POST", "/c"), 201, None)), ("frame", b"3;ext=1\r\n"), ("body", b"abc"),
    ("frame", b"\r\n2\r\n"), ("body", b"de"), ("frame", b"\r\n0\r\nX-Trailer: 1\r\n\r\n"),
    ("end", None),
    ("head", (("GET", "/d"), 204, 0)), ("end", None),
    ("head", (("GET", "/e"), 200, None)), ("frame", b"1\r\n"), ("body", b"z"),
    ("frame", b"\r\n0\r\n\r\n"), ("end", None),
]


def test_responses_are_framed_and_matched_to_their_requests() -> None:
    segments = _follow([RESPONSES])
    assert _summary(segments) == EXPECTED
    assert b"".join(s.data for s in segments) == RESPONSES  # nothing lost, nothing added


def test_the_framing_is_the_same_whatever_the_chunk_boundaries() -> None:
    one_by_one = _follow([RESPONSES[i:i + 1] for i in range(len(RESPONSES))])
    assert _summary(one_by_one) == EXPECTED
    for cut in range(1, len(RESPONSES), 7):
        assert _summary(_follow([RESPONSES[:cut], RESPONSES[cut:]])) == EXPECTED


def test_what_is_not_http_passes_as_a_body() -> None:
    follower = ResponseFollower(RequestLog())
    segments = follower.feed(b"SSH-2.0-OpenSSH\r\n\r\nmore")
    assert [s.part for s in segments] == ["head", "body"]
    assert segments[0].status == 0
    assert follower.feed(b"HTTP/1.1 200 OK\r\n\r\n")[0].part == "body"  # it stays aside


def test_a_body_until_the_close_and_an_unknown_request() -> None:
    follower = ResponseFollower(RequestLog())  # the toxic came after the request went
    segments = follower.feed(b"HTTP/1.0 200 OK\r\n\r\nall of it")
    assert segments[0].request == ("", "")
    assert segments[0].length is None
    assert [(s.part, s.data) for s in segments[1:]] == [("body", b"all of it")]
