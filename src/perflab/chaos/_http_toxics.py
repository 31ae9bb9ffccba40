"""perflab's response toxics (downstream): ``http_corrupt`` breaks a share of the responses on a
route (body bytes flipped, a header set or removed, a garbled status line), ``http_slow_body``
sends their heads at once and their bodies slowly (a slow server, for clients' read timeouts).

Both follow the responses with ``ResponseFollower`` and match each to the request it answers
through the connection's ``RequestLog``. A corruption of content only (body bytes, a header
other than the framing ones) keeps the response's length: the next response on a keep-alive
connection is still framed right. One that breaks framing (the status line, Content-Length,
Transfer-Encoding) closes the connection after that response, so the client meets the broken
answer rather than a stream it cannot resynchronise with.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from perflab.chaos._http import ResponseFollower, Segment, injects

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from perflab.chaos._link import Link
    from perflab.chaos._toxics import Toxic

    Emit = Callable[[bytes], Awaitable[None]]

RESPONSE_TOXICS = ("http_corrupt", "http_slow_body")
CORRUPT_TARGETS = ("body", "header", "status")
FRAMING_HEADERS = ("content-length", "transfer-encoding")
GARBLED_STATUS = b"HTTP/1.1 2\x7f0 garbled by perflab chaos"  # not a status line any client takes
_FLIP = 0xFF  # every bit of a chosen byte: it always differs from what it was


@dataclass(slots=True)
class ResponseState:
    """One response toxic on one connection: where the responses are, and whether the current
    one gets the fault."""

    follower: ResponseFollower
    hit: bool = False
    flips: set[int] = field(default_factory=set)  # body offsets to flip in this response
    length: int | None = None  # this response's body length when known ahead
    seen: int = 0  # body bytes of this response so far
    next_due: float = 0.0  # http_slow_body: when the next body piece may leave


def _state(link: Link, toxic: Toxic) -> ResponseState:
    state = link.responses.get(id(toxic))
    if state is None:
        state = link.responses[id(toxic)] = ResponseState(ResponseFollower(
            link.connection.requests))
    return state


def _start(toxic: Toxic, state: ResponseState, head: Segment) -> None:
    state.hit = head.status >= 200 and injects(toxic, head.request[1])
    state.length, state.seen, state.flips = head.length, 0, set()
    if state.hit and toxic.texts.get("target") == "body" and head.length:
        count = min(toxic.attributes["bytes"], head.length)
        state.flips = set(random.sample(range(head.length), count))


async def http_corrupt(link: Link, toxic: Toxic, data: bytes, _stamp: float,
                       emit: Emit) -> None:
    """Corrupt the responses the toxic draws; pass the others, and every byte after, as they
    are."""
    state = _state(link, toxic)
    target = toxic.texts["target"]
    for seg in state.follower.feed(data):
        if seg.part == "head":
            _start(toxic, state, seg)
            await emit(corrupt_head(toxic, seg.data) if state.hit and target != "body"
                       else seg.data)
        elif seg.part == "body" and state.hit and target == "body":
            await emit(_flipped(toxic, state, seg.data))
        elif seg.part == "end":
            if state.hit and breaks_framing(toxic):
                link.end()  # what was written still goes; then the connection closes
            state.hit = False
        else:
            await emit(seg.data)


def breaks_framing(toxic: Toxic) -> bool:
    """Whether the corruption changes where the response ends for the client."""
    return toxic.texts["target"] == "status" or (
        toxic.texts["target"] == "header" and toxic.texts["header"].lower() in FRAMING_HEADERS)


def corrupt_head(toxic: Toxic, head: bytes) -> bytes:
    """The response head with its status line garbled, or the toxic's header set (``value``)
    or removed (an empty ``value``)."""
    lines = head[:-4].split(b"\r\n")
    if toxic.texts["target"] == "status":
        lines[0] = GARBLED_STATUS
    else:
        name = toxic.texts["header"].encode("latin-1")
        value = toxic.texts["value"].encode("latin-1")
        lines = [lines[0], *(line for line in lines[1:]
                             if line.split(b":", 1)[0].strip().lower() != name.lower())]
        if value:
            lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _flipped(toxic: Toxic, state: ResponseState, piece: bytes) -> bytes:
    if state.length is None and not state.seen:  # length not known: flip in the first piece
        state.flips = set(random.sample(range(len(piece)),
                                        min(toxic.attributes["bytes"], len(piece))))
    start = state.seen
    state.seen += len(piece)
    here = [i - start for i in state.flips if start <= i < state.seen]
    if not here:
        return piece
    out = bytearray(piece)
    for i in here:
        out[i] ^= _FLIP
    return bytes(out)


async def http_slow_body(link: Link, toxic: Toxic, data: bytes, _stamp: float,
                         emit: Emit) -> None:
    """Send the drawn responses' heads at once and their bodies at ``rate`` bytes/s, or
    ``chunk`` bytes every ``delay`` ms."""
    state = _state(link, toxic)
    for seg in state.follower.feed(data):
        if seg.part == "head":
            _start(toxic, state, seg)
            await emit(seg.data)
        elif seg.part == "body" and state.hit:
            await _paced(link, toxic, state, seg.data, emit)
        elif seg.data:
            await emit(seg.data)


async def _paced(link: Link, toxic: Toxic, state: ResponseState, body: bytes,
                 emit: Emit) -> None:
    rate = toxic.attributes["rate"]
    step = max(1, rate // 10) if rate > 0 else toxic.attributes["chunk"]  # 100 ms worth
    for start in range(0, len(body), step):
        piece = body[start:start + step]
        now = time.monotonic()
        if rate > 0:
            state.next_due = max(now, state.next_due) + len(piece) / rate
        else:
            state.next_due = now + toxic.attributes["delay"] / 1000
        await link.hold(toxic, state.next_due)
        await emit(piece)
