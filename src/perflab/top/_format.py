"""Compact figures for narrow columns (at most 5 characters): what top and htop users read.

Display only; the JSON output carries exact numbers, and ``perflab.units`` parses and formats
everything users type or read elsewhere.
"""

from __future__ import annotations

import time

_BYTE_UNITS = ("K", "M", "G", "T", "P")


def size(n: float | None) -> str:
    """Bytes, 1024-based like htop: ``512``, ``1.5K``, ``12K``, ``123M``; None -> ``-``."""
    if n is None:
        return "-"
    if n < 1000:
        return f"{n:.0f}"
    v = float(n)
    for unit in _BYTE_UNITS:
        v /= 1024
        if v < 9.95:
            return f"{v:.1f}{unit}"
        if v < 999.5:
            return f"{v:.0f}{unit}"
    return f"{v:.0f}E"


def count(x: float) -> str:
    """A per-second count: ``0.0``, ``12.5``, ``1234``, ``12.3k``, ``4.5M``."""
    if x < 99.95:
        return f"{x:.1f}"
    if x < 9999.5:
        return f"{x:.0f}"
    for unit, scale in (("k", 1e3), ("M", 1e6), ("G", 1e9)):
        v = x / scale
        if v < 99.95:
            return f"{v:.1f}{unit}"
        if v < 999.5:
            return f"{v:.0f}{unit}"
    return f"{x / 1e12:.0f}T"


def pct(x: float) -> str:
    return f"{x:.1f}" if x < 999.95 else f"{x:.0f}"


def uptime(seconds: float) -> str:
    """``3d 04:05`` or ``04:05`` (hours:minutes), as uptime(1) abbreviates it."""
    minutes = int(seconds // 60)
    days, rem = divmod(minutes, 1440)
    hours, mins = divmod(rem, 60)
    return f"{days}d {hours:02d}:{mins:02d}" if days else f"{hours:02d}:{mins:02d}"


def clock(ts_ns: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts_ns / 1e9))
