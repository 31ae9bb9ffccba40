"""Query and path parameters of the API and pages: parsed strictly, refused with a 400 and a
reason, never a 500.

Integers are ASCII digits only (Python's ``int()`` also reads Arabic-Indic digits,
``str.isdigit`` says yes to a superscript two, and ``'1_000'`` is an int literal) and fit
SQLite's 64-bit integers; times fit the store's nanoseconds (years 1678 to 2262);
strings have a length bound.
"""

from __future__ import annotations

import re
import time

from perflab.errors import InvalidValue
from perflab.units import parse_duration_ns, parse_time_ns

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_TEXT = 200  # characters of a name, kind, branch or other string parameter
_ASCII_INT = re.compile(r"-?[0-9]{1,20}")


class BadParam(Exception):
    """A query parameter that does not parse; becomes a 400 with this message."""


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:40] + "...")


def ascii_int(raw: str) -> int | None:
    """``raw`` as a 64-bit integer when it is one written in ASCII digits, else None."""
    if not _ASCII_INT.fullmatch(raw):
        return None
    value = int(raw)
    return value if INT64_MIN <= value <= INT64_MAX else None


def id_value(raw: str, what: str) -> int:
    """A path's id (a run, a series): ASCII digits, at most 2^63 - 1."""
    value = ascii_int(raw)
    if value is None or value < 0:
        raise BadParam(f"a {what} id is an integer (ASCII digits, 0 to 2^63 - 1), not "
                       f"{_shown(raw)}")
    return value


def int_param(params: dict[str, str], key: str, *, default: int | None = None,
              lo: int | None = None, hi: int | None = None) -> int | None:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    value = ascii_int(raw.strip())
    if value is None:
        raise BadParam(f"{key} must be an integer (ASCII digits, 64-bit), not {_shown(raw)}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadParam(f"{key} must be between {lo} and {hi}, not {value}")
    return value


def text_param(params: dict[str, str], key: str, *, max_len: int = MAX_TEXT) -> str | None:
    """A string parameter (None when absent or empty), at most ``max_len`` characters."""
    raw = (params.get(key) or "").strip()
    if len(raw) > max_len:
        raise BadParam(f"{key} must be at most {max_len} characters, not {len(raw)}")
    return raw or None


def time_param(params: dict[str, str], key: str, *, now_ns: int | None = None) -> int | None:
    """A point in time: ns since the epoch, an ISO-8601 date/time, or a duration ago (``15m``).

    A date/time without a zone is read as UTC: the API's callers may be on other machines (the
    command line reads it as local time, as it prints times).
    """
    raw = params.get(key)
    if raw is None or raw == "":
        return None
    raw = raw.strip()
    if len(raw) > MAX_TEXT:
        raise BadParam(f"{key} must be at most {MAX_TEXT} characters")
    if _ASCII_INT.fullmatch(raw) or raw.lstrip("-").isdigit():
        value: int | None = ascii_int(raw)
        if value is None:
            raise BadParam(f"{key} must be ns since the epoch in ASCII digits, between -2^63 "
                           f"and 2^63 - 1, not {_shown(raw)}")
        return value
    try:
        value = parse_time_ns(raw, naive_utc=True)
    except (ValueError, OverflowError, OSError):
        value = None
    if value is None:
        try:
            ago = parse_duration_ns(raw)
        except (InvalidValue, OverflowError):
            raise BadParam(
                f"{key} must be ns since the epoch, an ISO-8601 time or a duration ago (15m),"
                f" not {_shown(raw)}"
            ) from None
        value = (time.time_ns() if now_ns is None else now_ns) - ago
    if not INT64_MIN <= value <= INT64_MAX:
        raise BadParam(f"{key} is out of range: times go from the year 1678 to 2262")
    return value
