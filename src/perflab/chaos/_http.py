"""HTTP/1.1 framing on a proxied byte stream, for the HTTP toxics: where each request head is
(``split_requests``), the requests a connection carried in order (``RequestLog``), and where each
response's head, body and chunked framing are (``ResponseFollower``), so a toxic can change a
response and still pass the bytes after it on a keep-alive connection at the right place.

Only framing is parsed; what is not HTTP/1.x (or a head beyond 64 KiB) makes a follower step
aside: the rest of the stream passes as it is.
"""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from perflab.chaos._toxics import Toxic

MAX_HTTP_HEAD = 64 * 1024
REQUESTS_KEPT = 1024  # pipelined requests a response may still be waiting to match


@dataclass(slots=True)
class RequestHead:
    method: str
    path: str
    length: int  # Content-Length of its body
    chunked: bool


def request_head(head: bytes) -> RequestHead | None:
    """The method, path and body framing of an HTTP/1.x request head, or None."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):  # method target version
        return None
    length, chunked = _framing(lines[1:])
    return RequestHead(parts[0], parts[1], length or 0, chunked)


def _framing(fields: list[str]) -> tuple[int | None, bool]:
    """(Content-Length or None, chunked) of a head's header lines."""
    length: int | None = None
    chunked = False
    for line in fields:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "content-length" and value.isdigit():
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    return length, chunked


@dataclass(slots=True)
class RequestStream:
    """Where a follower is in a stream of requests."""

    buffer: bytes = b""  # the start of a request head
    passing: int = 0  # body bytes of a request still to pass
    raw: bool = False  # not HTTP we follow (or a chunked request body): the rest passes


def split_requests(state: RequestStream, data: bytes) -> list[tuple[bytes, RequestHead | None]]:
    """``data`` cut into request heads (with their parsed head) and the bytes between them
    (bodies, what is not HTTP: None). An unfinished head waits in ``state`` for the next chunk."""
    out: list[tuple[bytes, RequestHead | None]] = []
    buf = state.buffer + data
    state.buffer = b""
    while buf:
        if state.raw or state.passing:
            n = len(buf) if state.raw else min(state.passing, len(buf))
            state.passing -= 0 if state.raw else n
            out.append((buf[:n], None))
            buf = buf[n:]
            continue
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HTTP_HEAD:
                state.raw = True
                continue
            state.buffer = buf  # the rest of the head comes with the next chunk
            break
        head, buf = buf[:end + 4], buf[end + 4:]
        request = request_head(head)
        if request is None:
            state.raw = True
            out.append((head, None))
            continue
        state.raw = request.chunked  # a chunked body: follow no further requests on it
        state.passing = request.length
        out.append((head, request))
    return out


class RequestLog:
    """The requests a connection carried, in order, so each response can be matched to the
    one it answers (HTTP/1.1 answers in order, pipelined or not). Responses are counted by
    each follower: a request is found by its number, the oldest forgotten past 1,024."""

    def __init__(self) -> None:
        self._stream = RequestStream()
        self._heads: collections.deque[tuple[str, str]] = collections.deque(maxlen=REQUESTS_KEPT)
        self._seen = 0

    def feed(self, data: bytes) -> None:
        for _, head in split_requests(self._stream, data):
            if head is not None:
                self._heads.append((head.method, head.path))
                self._seen += 1

    def request(self, number: int) -> tuple[str, str] | None:
        """(method, path) of the connection's ``number``-th request (from 0), if known."""
        index = number - (self._seen - len(self._heads))
        return self._heads[index] if 0 <= index < len(self._heads) else None


Part = Literal["head", "body", "frame", "end"]


@dataclass(slots=True)
class Segment:
    """A piece of the response stream: a response's ``head`` (with the request it answers:
    (method, path), or ("", "") when not known), ``body`` bytes, chunked ``frame`` bytes (chunk
    sizes, their CRLFs, the trailer), or the ``end`` of a response (no bytes)."""

    part: Part
    data: bytes = b""
    request: tuple[str, str] = ("", "")
    status: int = 0
    length: int | None = None  # a head's body length: None when not known ahead (chunked...)


@dataclass(slots=True)
class ResponseFollower:
    """Follows the responses of one connection's downstream stream (``feed`` answers it as
    segments). Body framing as RFC 9112 section 6.3: none for HEAD, 1xx, 204 and 304;
    chunked; Content-Length; else until the connection closes."""

    log: RequestLog
    answered: int = 0  # responses so far (the next one answers request number ``answered``)
    mode: Literal["head", "length", "size", "data", "crlf", "trailer", "raw"] = "head"
    left: int = 0  # body or chunk bytes still to come
    buffer: bytes = b""
    _out: list[Segment] = field(default_factory=list)

    def feed(self, data: bytes) -> list[Segment]:
        self._out = []
        buf = self.buffer + data
        self.buffer = b""
        while buf:
            buf = self._step(buf)
        return self._out

    def _step(self, buf: bytes) -> bytes:
        """Consume what the current mode can from ``buf``; answer the rest."""
        if self.mode == "raw":
            self._out.append(Segment("body", buf))
            return b""
        if self.mode in ("length", "data"):
            n = min(self.left, len(buf))
            self.left -= n
            self._out.append(Segment("body", buf[:n]))
            if not self.left:
                if self.mode == "length":
                    self._finish()
                else:
                    self.mode = "crlf"
            return buf[n:]
        if self.mode == "trailer" and buf.startswith(b"\r\n"):  # no trailer fields
            self._out.append(Segment("frame", buf[:2]))
            self._finish()
            return buf[2:]
        end = buf.find(b"\r\n\r\n" if self.mode in ("head", "trailer") else b"\r\n")
        if end < 0:
            if len(buf) > MAX_HTTP_HEAD:  # not HTTP we follow: the rest passes
                self.mode = "raw"
                return buf
            self.buffer = buf
            return b""
        if self.mode == "head":
            cut = end + 4
            self._head(buf[:cut])
        elif self.mode == "trailer":
            cut = end + 4
            self._out.append(Segment("frame", buf[:cut]))
            self._finish()
        else:
            cut = end + 2
            self._out.append(Segment("frame", buf[:cut]))
            self._chunk_line(buf[:end])
        return buf[cut:]

    def _chunk_line(self, line: bytes) -> None:
        if self.mode == "crlf":
            self.mode = "size"
            return
        size = line.split(b";", 1)[0].strip()
        try:
            self.left = int(size, 16)
        except ValueError:
            self.mode = "raw"
            return
        self.mode = "data" if self.left else "trailer"

    def _head(self, head: bytes) -> None:
        request = self.log.request(self.answered) or ("", "")
        status, length, chunked = _response_head(head)
        no_body = status < 200 or request[0] == "HEAD" or status in (204, 304)
        self._out.append(Segment("head", head, request, status,
                                 0 if no_body else None if chunked else length))
        if status in {0, 101}:  # not HTTP, or switching protocols: no more HTTP/1.1
            self.mode = "raw"
        elif 100 <= status < 200:  # interim: the final answer is still to come
            self._out.append(Segment("end"))
        elif request[0] == "HEAD" or status in (204, 304):
            self._finish()
        elif chunked:
            self.mode = "size"
        elif length is not None:
            self.mode, self.left = "length", length
            if not length:
                self._finish()
        else:
            self.mode = "raw"

    def _finish(self) -> None:
        self._out.append(Segment("end"))
        self.answered += 1
        self.mode = "head"


def _response_head(head: bytes) -> tuple[int, int | None, bool]:
    """(status, Content-Length or None, chunked) of a response head; status 0: not HTTP/1.x."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not (
            parts[1].isdigit() and len(parts[1]) == 3):  # three digits
        return 0, None, False
    return int(parts[1]), *_framing(lines[1:])


def injects(toxic: Toxic, path: str) -> bool:
    """Whether this request (or the response to it) gets the fault: it is on the route, and it
    is among the first N (``first``) or falls in the ``percent`` share."""
    if not path.startswith(toxic.texts.get("path_prefix", "")):
        return False
    toxic.requests += 1
    first = toxic.attributes.get("first", 0)  # only http_error has "first"
    if first > 0:
        return toxic.requests <= first
    return random.random() * 100 < toxic.attributes["percent"]  # noqa: S311  # a fault draw
