"""Prometheus's durations (``1y2w3d4h5m6s7ms``: a year is 365 days, a week 7), in ms."""

from __future__ import annotations

import re

from perflab.errors import InvalidValue

_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?"
                       r"(?:(\d+)ms)?$")
_UNITS_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
MAX_MS = 2**63 // 1_000_000 - 1  # what a nanosecond int64 can still hold


def parse_duration_ms(text: str, *, what: str = "duration") -> int:
    """``5m`` -> 300000. ``InvalidValue`` for anything Prometheus would refuse."""
    m = _DURATION.match(text.strip()) if text and len(text) <= 100 else None
    if m is None or not any(m.groups()):
        raise InvalidValue(f"invalid {what} {text[:100]!r}",
                           hint="write it as Prometheus does: 15s, 5m, 1h30m, 2d, 1w")
    total = sum(int(g) * unit for g, unit in zip(m.groups(), _UNITS_MS, strict=True) if g)
    if total > MAX_MS:
        raise InvalidValue(f"{what} {text!r} is too long")
    return total


def format_duration_ms(ms: int) -> str:
    """The inverse: 300000 -> ``5m``; 0 -> ``0s``."""
    if ms == 0:
        return "0s"
    out = ""
    rest = abs(ms)
    for unit, size in zip(("y", "w", "d", "h", "m", "s", "ms"), _UNITS_MS, strict=True):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return ("-" if ms < 0 else "") + out
