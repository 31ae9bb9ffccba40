"""HTTP/1.1 over one direction of a TCP flow: the byte stream put back in order, cut into
messages (start line, headers, a Content-Length or chunked body), each stamped with the capture
time of the packet that brought its first byte and of the one that completed it."""

from __future__ import annotations

from dataclasses import dataclass, field

_MOD = 1 << 32
_MAX_PENDING = 256  # out-of-order segments held per direction; beyond that, HTTP parsing stops
_MAX_HEAD = 64 * 1024
_METHODS = (b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"PATCH", b"OPTIONS", b"CONNECT",
            b"TRACE")


@dataclass(frozen=True, slots=True)
class Message:
    """A request (``start`` = method and path) or a response (``start`` = status code)."""

    start: tuple[str, str]
    first_ns: int
    last_ns: int


@dataclass(slots=True)
class HttpStream:
    """Bytes of one direction in sequence order; whole messages parsed out of them."""

    expected: int | None = None
    buffer: bytearray = field(default_factory=bytearray)
    first_ns: int | None = None
    pending: dict[int, tuple[bytes, int]] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    broken: bool = False  # not HTTP/1.1, or lost bytes: stop parsing this direction
    skip: int = 0  # body bytes still to come of ``waiting``: counted, never buffered
    waiting: tuple[tuple[str, str], int] | None = None  # (start, first_ns) of that message

    def feed(self, seq: int, payload: bytes, ts_ns: int) -> None:
        if self.broken or not payload:
            return
        if self.expected is None:
            self.expected = seq
        offset = (seq - self.expected) % _MOD
        if offset >= _MOD // 2:  # older than expected: a retransmission; keep only what is new
            payload = payload[(self.expected - seq) % _MOD:]
            offset = 0
        if offset:
            if len(self.pending) >= _MAX_PENDING:
                self.broken = True
            self.pending[seq] = (payload, ts_ns)
            return
        self._append(payload, ts_ns)
        while self.pending:
            ready = [s for s in self.pending if (s - self.expected) % _MOD >= _MOD // 2
                     or s == self.expected]
            if not ready:
                break
            for s in ready:
                data, at = self.pending.pop(s)
                self._append(data[(self.expected - s) % _MOD:] if s != self.expected else data,
                             at)

    def acked(self, ack: int, ts_ns: int) -> None:
        """The peer acknowledged up to ``ack``: bytes below it that the capture missed (tcpdump
        dropped them) existed all the same. Inside a body they are counted as if seen, so the
        framing by length holds and parsing goes on; a hole elsewhere stops it."""
        if self.expected is None or self.broken:
            return
        gap = (ack - self.expected) % _MOD
        if self.pending:
            gap = min(gap, *((s - self.expected) % _MOD for s in self.pending))
        if not 0 < gap < _MOD // 2:
            return
        if gap > self.skip:  # not inside a body (or the ACK of a FIN): nothing to count
            return
        self.feed(self.expected, bytes(gap), ts_ns)  # only counted: the body is not kept

    def _append(self, data: bytes, ts_ns: int) -> None:
        if not data:
            return
        assert self.expected is not None
        self.expected = (self.expected + len(data)) % _MOD
        if self.skip:
            taken = min(self.skip, len(data))
            self.skip -= taken
            data = data[taken:]
            if self.skip or self.waiting is None:
                return
            self.messages.append(Message(self.waiting[0], self.waiting[1], ts_ns))
            self.waiting = None
            if not data:
                return
            self.first_ns = ts_ns
        if self.first_ns is None:
            self.first_ns = ts_ns
        self.buffer += data
        while not self.broken and self._one(ts_ns):
            pass

    def _one(self, ts_ns: int) -> bool:
        """Parse one whole message off the buffer's front; False when more bytes are needed."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > _MAX_HEAD:
                self.broken = True
            return False
        lines = bytes(self.buffer[:end]).split(b"\r\n")
        start = _start_line(lines[0])
        if start is None:
            self.broken = True
            return False
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(b":") for line in lines[1:])}
        body = self._body_length(headers, end + 4, start)
        first = self.first_ns if self.first_ns is not None else ts_ns
        if isinstance(body, _Missing):  # a body by length not all here: count the rest
            self.skip, self.waiting = body.missing, (start, first)
            self.buffer.clear()
            self.first_ns = None
            return False
        if body is None:
            return False
        self.messages.append(Message(start, first, ts_ns))
        del self.buffer[:end + 4 + body]
        self.first_ns = ts_ns if self.buffer else None
        return True

    def _body_length(self, headers: dict[bytes, bytes], at: int,
                     start: tuple[str, str]) -> int | _Missing | None:
        """The body's length once all of it is buffered; for a body by length not all here,
        how many of its bytes are missing; None for a chunked body not complete yet."""
        if start[0] == "HEAD" or start[0] in ("204", "304") or start[0].startswith("1"):
            return 0
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            return _chunked_length(self.buffer, at)
        try:
            length = int(headers.get(b"content-length", b"0"))
        except ValueError:
            self.broken = True
            return None
        if len(self.buffer) >= at + length:
            return length
        return _Missing(at + length - len(self.buffer))


@dataclass(frozen=True, slots=True)
class _Missing:
    missing: int


def _start_line(line: bytes) -> tuple[str, str] | None:
    parts = line.split(b" ")
    if parts[0].startswith(b"HTTP/1.") and len(parts) >= 2:
        return parts[1].decode("latin-1"), ""
    if parts[0] in _METHODS and len(parts) == 3 and parts[2].startswith(b"HTTP/1."):
        return parts[0].decode("latin-1"), parts[1].split(b"?")[0].decode("latin-1")
    return None


def _chunked_length(buffer: bytearray, at: int) -> int | None:
    """The length of a chunked body starting at ``at`` (with its trailer), once complete."""
    pos = at
    while True:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(bytes(buffer[pos:eol]).split(b";")[0], 16)
        except ValueError:
            return None
        if size == 0:
            trailer = buffer.find(b"\r\n\r\n", eol)  # at eol itself when there is none
            return None if trailer < 0 else trailer + 4 - at
        pos = eol + 2 + size + 2
        if pos > len(buffer):
            return None


def exchanges(requests: list[Message], responses: list[Message]) -> list[tuple[str, str, int]]:
    """(method, path, latency ns) per request answered: pipelined responses come in order, so
    the n-th response answers the n-th request; latency runs from the request's last packet to
    the response's first (the server's time plus one network round trip)."""
    final = [r for r in responses if not r.start[0].startswith("1")]  # 100 Continue is not one
    return [(request.start[0], request.start[1], response.first_ns - request.last_ns)
            for request, response in zip(requests, final, strict=False)]
