"""Label values read as numbers the way Loki's Go code reads them: Go durations
(``time.ParseDuration``) and humanized byte sizes (go-humanize's ``ParseBytes``)."""

from __future__ import annotations

import math
import re

_GO_DURATION = re.compile(r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
              "m": 60.0, "h": 3600.0}
_BYTES_NUM = re.compile(r"[\d.,]*")
_BYTE_UNITS = {"": 1, "b": 1}
for _i, _p in enumerate("kmgtpe", start=1):
    _BYTE_UNITS[_p] = _BYTE_UNITS[_p + "b"] = 1000**_i
    _BYTE_UNITS[_p + "i"] = _BYTE_UNITS[_p + "ib"] = 1024**_i


def parse_go_duration_s(text: str) -> float:
    """A Go duration (``1.5s``, ``1h30m``, ``-250ms``, ``0``) in seconds; ValueError otherwise."""
    if text in ("0", "+0", "-0"):
        return 0.0
    if not _GO_DURATION.fullmatch(text):
        raise ValueError(f'time: invalid duration "{text}"')
    sign = -1.0 if text.startswith("-") else 1.0
    return sign * math.fsum(float(n) * _GO_UNIT_S[u] for n, u in _GO_PART.findall(text))


def parse_go_bytes(text: str) -> float:
    """go-humanize's ``ParseBytes``: ``42MB``, ``1.5 KiB``, ``3k``, ``20B`` in bytes (SI units
    are powers of 1000, IEC ``Ki``/``KiB`` of 1024; case-insensitive), truncated to a
    whole number as it returns a uint64; ValueError otherwise."""
    m = _BYTES_NUM.match(text)
    num = m.group() if m else ""
    try:
        value = float(num.replace(",", ""))
    except ValueError:
        raise ValueError(f"strconv.ParseFloat: parsing {num!r}: invalid syntax") from None
    unit = text[len(num):].strip().lower()
    scale = _BYTE_UNITS.get(unit)
    if scale is None:
        raise ValueError(f"unhandled size name: {unit}")
    total = value * scale
    if not math.isfinite(total) or total >= 2.0**64:
        raise ValueError(f"too large: {text}")
    return float(math.floor(total))
