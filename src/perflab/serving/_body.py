"""Request bodies read up to a limit, and gzip or snappy decompressed up to a limit (no bombs).

A receiver must never hold more than it decided to: the declared ``Content-Length`` is checked
before reading, the stream is counted while reading (a chunked body declares nothing), and a
compressed body is inflated in steps of at most what is still allowed, so a 10 KB body that
inflates to 10 GB costs ``limit`` bytes of memory, not 10 GB.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import cramjam

from perflab.serving._refusals import BadEncoding, PayloadTooLarge

if TYPE_CHECKING:
    from starlette.requests import Request

_GZIP = 16 + zlib.MAX_WBITS  # zlib's window bits for a gzip header and trailer


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused with ``PayloadTooLarge`` as soon as it passes ``limit``
    bytes (before reading anything when ``Content-Length`` already says so)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() \
            and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; this endpoint takes at most "
                              f"{limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes, the most this endpoint "
                                  "takes")
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip_bounded(data: bytes, limit: int) -> bytes:
    """``data`` (one or more gzip members) decompressed; ``PayloadTooLarge`` as soon as the
    output would pass ``limit`` bytes, ``BadEncoding`` when it is not whole, valid gzip."""
    out = bytearray()
    rest = data
    while True:
        inflater = zlib.decompressobj(wbits=_GZIP)
        pending = rest
        while pending and not inflater.eof:
            try:
                # never 0: zlib reads max_length=0 as "no limit"
                out += inflater.decompress(pending, limit + 1 - len(out))
            except zlib.error as exc:
                raise BadEncoding(f"the body is not valid gzip: {exc}") from exc
            if len(out) > limit:
                raise PayloadTooLarge(f"the body decompresses to more than {limit} bytes, the "
                                      "most this endpoint takes")
            pending = inflater.unconsumed_tail
        if not inflater.eof:
            raise BadEncoding("the gzip body is truncated")
        rest = inflater.unused_data
        if not rest:
            return bytes(out)


def snappy_decompress_bounded(data: bytes, limit: int) -> bytes:
    """A snappy block, refused (413) when it declares more than ``limit`` bytes."""
    declared = 0
    shift = 0
    for i, byte in enumerate(data[:10]):
        declared |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if i == 9:
            raise BadEncoding("the body is not a snappy block (bad length)")
    else:
        raise BadEncoding("the body is not a snappy block (empty)")
    if declared > limit:
        raise PayloadTooLarge(f"the body decompresses to {declared:,} bytes; at most "
                              f"{limit:,} are taken")
    try:
        return bytes(cramjam.snappy.decompress_raw(data))
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise BadEncoding(f"the body is not valid snappy: {exc}") from None
