"""Query parameters of the API: parsed strictly, refused with a 400 and a reason."""

from __future__ import annotations

import time

from perflab.errors import InvalidValue
from perflab.units import parse_duration_ns, parse_time_ns


class BadParam(Exception):
    """A query parameter that does not parse; becomes a 400 with this message."""


def int_param(params: dict[str, str], key: str, *, default: int | None = None,
              lo: int | None = None, hi: int | None = None) -> int | None:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParam(f"{key} must be an integer, not {raw!r}") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadParam(f"{key} must be between {lo} and {hi}, not {value}")
    return value


def time_param(params: dict[str, str], key: str, *, now_ns: int | None = None) -> int | None:
    """A point in time: ns since the epoch, an ISO-8601 date/time, or a duration ago (``15m``).

    A date/time without a zone is read as UTC: the API's callers may be on other machines (the
    command line reads it as local time, as it prints times).
    """
    raw = params.get(key)
    if raw is None or raw == "":
        return None
    raw = raw.strip()
    if raw.lstrip("-").isdigit():
        return int(raw)
    try:
        return parse_time_ns(raw, naive_utc=True)
    except ValueError:
        pass
    try:
        ago = parse_duration_ns(raw)
    except InvalidValue:
        raise BadParam(
            f"{key} must be ns since the epoch, an ISO-8601 time or a duration ago (15m),"
            f" not {raw!r}"
        ) from None
    return (time.time_ns() if now_ns is None else now_ns) - ago
