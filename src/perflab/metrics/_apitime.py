"""Times, durations and numbers as Prometheus's HTTP API reads and writes them."""

from __future__ import annotations

import datetime as dt
import math

from perflab.gotemplate import format_float_f
from perflab.metrics._ast import PromQLError
from perflab.metrics._duration import parse_duration_ms

MIN_TIME_MS = -(2**63) // 1_000_000 + 1
MAX_TIME_MS = (2**63 - 1) // 1_000_000 - 1


def parse_time_ms(text: str, what: str = "time") -> int:
    """Unix seconds (``1435781451.781``) or RFC 3339 (``2015-07-01T20:10:51.781Z``) -> ms."""
    raw = text.strip()
    if not raw or len(raw) > 64:
        raise PromQLError(f'invalid parameter "{what}": cannot parse "{text[:64]}" to a valid '
                          "timestamp")
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        if math.isnan(seconds) or math.isinf(seconds) or "_" in raw:
            raise PromQLError(f'invalid parameter "{what}": cannot parse "{raw}" to a valid '
                              "timestamp")
        whole = math.floor(seconds)
        ms = whole * 1000 + round((seconds - whole) * 1000)
        return min(max(int(ms), MIN_TIME_MS), MAX_TIME_MS)
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise PromQLError(f'invalid parameter "{what}": cannot parse "{raw}" to a valid '
                          "timestamp") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def parse_step_ms(text: str, what: str = "step") -> int:
    """A duration (``15s``) or seconds (``15``, ``0.5``) -> ms, above zero."""
    raw = text.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            ms = parse_duration_ms(raw, what=what)
        except Exception:
            raise PromQLError(f'invalid parameter "{what}": cannot parse "{raw[:64]}" to a '
                              "valid duration") from None
    else:
        if math.isnan(seconds) or math.isinf(seconds) or "_" in raw or seconds > 2**40:
            raise PromQLError(f'invalid parameter "{what}": cannot parse "{raw[:64]}" to a '
                              "valid duration")
        ms = round(seconds * 1000)
    if ms <= 0:
        raise PromQLError("zero or negative query resolution step widths are not accepted. "
                          "Try a positive integer")
    return ms


def format_time(ms: int) -> float | int:
    """A sample time as the API writes it: seconds, with milliseconds when there are any."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def format_value(value: float) -> str:
    return format_float_f(value)
