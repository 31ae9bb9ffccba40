"""A small HTTP/1.1 client for scrapes: one kept-alive connection per target, a deadline, a
bounded body (compressed and decompressed), parsed by httptools (the parser uvicorn uses).

A thousand targets are scraped from one event loop; a client of its own (instead of a general
one) keeps a scrape to a few syscalls and one parse.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

from perflab.serving import BadEncoding, PayloadTooLarge, gunzip_bounded


class FetchError(Exception):
    """A scrape that failed: the message is what the targets page shows."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class _Parse:
    limit: int
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    size: int = 0
    done: bool = False
    too_large: bool = False
    _name: bytes = b""

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.too_large = True
            return
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        self.done = True


class HttpClient:
    def __init__(self, url: str, *, insecure: bool = False) -> None:
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rsplit("@", 1)[-1]
        self.host_header = host_header
        self._ssl: ssl.SSLContext | None = None
        if self.scheme == "https":
            self._ssl = ssl.create_default_context()
            if insecure:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    async def get(self, headers: dict[str, str], *, timeout_s: float, limit: int) -> Response:
        """GET the URL; ``FetchError`` for anything but an answer within the deadline."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self._get(headers, limit)
        except TimeoutError:
            await self.close()
            raise FetchError(f"context deadline exceeded (no answer within {timeout_s:g} s)"
                             ) from None
        except (OSError, ssl.SSLError, httptools.HttpParserError) as exc:
            await self.close()
            raise FetchError(_describe(exc)) from None

    async def _get(self, headers: dict[str, str], limit: int) -> Response:
        for attempt in (0, 1):
            fresh = self._writer is None
            if fresh:
                self._reader, self._writer = await asyncio.open_connection(
                    self.host, self.port, ssl=self._ssl, limit=1 << 20)
            assert self._reader is not None
            assert self._writer is not None
            lines = [f"GET {self.target} HTTP/1.1", f"Host: {self.host_header}",
                     "User-Agent: perflab-scrape", "Accept-Encoding: gzip"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            parse = _Parse(limit)
            parser = httptools.HttpResponseParser(parse)
            got_any = False
            try:
                await self._writer.drain()
                while not parse.done:
                    chunk = await self._reader.read(65536)
                    if not chunk:
                        break
                    got_any = True
                    parser.feed_data(chunk)
                    if parse.too_large:
                        await self.close()
                        raise FetchError(f"the answer is over the body size limit of "
                                         f"{limit:,} bytes")
            except (ConnectionResetError, BrokenPipeError):
                if fresh or attempt or got_any:
                    raise
                await self.close()
                continue  # the kept-alive connection was closed by the server: reconnect
            if not parse.done:
                await self.close()
                if not got_any and not fresh and attempt == 0:
                    continue
                raise FetchError("the connection closed before the answer was complete")
            if not parser.should_keep_alive():
                await self.close()
            body = b"".join(parse.body)
            if parse.headers.get("content-encoding", "").lower() == "gzip":
                try:
                    body = gunzip_bounded(body, limit)
                except PayloadTooLarge:
                    raise FetchError(f"the answer decompresses to over the body size limit of "
                                     f"{limit:,} bytes") from None
                except BadEncoding as exc:
                    raise FetchError(exc.message) from None
            return Response(parser.get_status_code(), parse.headers, body)
        raise FetchError("the connection was closed")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return f"{type(exc).__name__}: {exc}"
