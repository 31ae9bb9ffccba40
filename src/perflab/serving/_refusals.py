"""What a port answers when a request is over a limit: each refusal carries its HTTP status.

    Refused                 base: ``status`` and a one-line ``message`` for the client
    ├── PayloadTooLarge     413: a body, or what it decompresses to, is over the limit
    ├── TooManyRequests     429: too many requests at once (``retry_after_s`` for the header)
    └── BadEncoding         400: a body that does not decode (bad gzip, unknown encoding)

A gRPC receiver maps 413 and 429 to ``RESOURCE_EXHAUSTED`` and 400 to ``INVALID_ARGUMENT``.
"""

from __future__ import annotations


class Refused(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, object]:
        return {"error": self.message, "status": self.status}


class PayloadTooLarge(Refused):
    status = 413


class TooManyRequests(Refused):
    status = 429

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BadEncoding(Refused):
    status = 400
