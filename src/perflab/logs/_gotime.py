"""Go's reference-time layouts (``2006-01-02T15:04:05Z07:00``) for the ``date``, ``toDate`` and
``toDateInZone`` template functions: times formatted and read in UTC (Loki's ``date`` formats in
the server's zone; perflab's is UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# longest first, so "2006" wins over "2" and "January" over "Jan"
_ELEMENTS = ("January", "Monday", "2006", "Jan", "Mon", "MST", "Z07:00", "-07:00", "Z0700",
             "-0700", "002", "01", "02", "_2", "03", "04", "05", "06", "15", "PM", "pm", "1",
             "2", "3", "4", "5")
_FRACTION = re.compile(r"[.,](0+|9+)(?!\d)")
_TOKEN = re.compile("|".join([_FRACTION.pattern, *map(re.escape, _ELEMENTS)]))


def _fmt_one(el: str, dt: datetime, ns: int) -> str:
    if el[0] in ".," and el[1:2] in ("0", "9"):
        digits = f"{ns:09d}"[:len(el) - 1]
        if el[1] == "9":
            digits = digits.rstrip("0")
            return el[0] + digits if digits else ""
        return el[0] + digits
    simple = {"January": "%B", "Monday": "%A", "2006": "%Y", "Jan": "%b", "Mon": "%a",
              "002": "%j", "01": "%m", "02": "%d", "03": "%I", "04": "%M", "05": "%S",
              "06": "%y", "15": "%H", "PM": "%p"}
    if el in simple:
        return dt.strftime(simple[el])
    if el == "pm":
        return dt.strftime("%p").lower()
    if el in ("Z07:00", "Z0700"):
        return "Z"
    if el == "-07:00":
        return "+00:00"
    if el == "-0700":
        return "+0000"
    if el == "MST":
        return "UTC"
    if el == "_2":
        return f"{dt.day:2d}"
    if el == "1":
        return str(dt.month)
    if el == "2":
        return str(dt.day)
    if el == "3":
        return str(dt.hour % 12 or 12)
    return str(dt.minute if el == "4" else dt.second)


def go_format(layout: str, ns: int) -> str:
    """A time (ns since the epoch) formatted by a Go layout, in UTC."""
    dt = datetime.fromtimestamp(ns // 10**9, tz=UTC)
    return _TOKEN.sub(lambda m: _fmt_one(m.group(), dt, ns % 10**9), layout)


_PARSE = {"2006": r"(?P<Y>\d{4})", "01": r"(?P<m>\d{2})", "1": r"(?P<m>\d{1,2})",
          "02": r"(?P<d>\d{2})", "_2": r"\s?(?P<d>\d{1,2})", "2": r"(?P<d>\d{1,2})",
          "15": r"(?P<H>\d{2})", "04": r"(?P<M>\d{2})", "4": r"(?P<M>\d{1,2})",
          "05": r"(?P<S>\d{2})", "5": r"(?P<S>\d{1,2})", "Z07:00": r"(?P<z>Z|[+-]\d{2}:\d{2})",
          "-07:00": r"(?P<z>[+-]\d{2}:\d{2})", "Z0700": r"(?P<z>Z|[+-]\d{4})",
          "-0700": r"(?P<z>[+-]\d{4})", "MST": r"(?P<zn>[A-Z]{3,4})"}


def go_parse(layout: str, text: str) -> int:
    """A time read by a Go layout (the common elements), in ns since the epoch; ValueError
    when it does not fit. Without a zone in the layout the time is UTC."""
    parts: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(layout):
        parts.append(re.escape(layout[pos:m.start()]))
        el = m.group()
        if el[0] in ".," and el[1:2] in ("0", "9"):
            width = len(el) - 1
            parts.append(r"(?:[.,](?P<f>\d+))?" if el[1] == "9" else rf"[.,](?P<f>\d{{{width}}})")
        elif el in _PARSE:
            parts.append(_PARSE[el])
        else:
            raise ValueError(f"layout element {el!r} is not supported by toDate here")
        pos = m.end()
    parts.append(re.escape(layout[pos:]))
    try:
        got = re.fullmatch("".join(parts), text)
    except re.error:  # an element twice (a group named twice)
        raise ValueError(f"layout {layout!r} names a part of the time twice") from None
    if got is None:
        raise ValueError(f'parsing time "{text}" as "{layout}": cannot parse')
    g = got.groupdict()
    dt = datetime(int(g.get("Y") or 1), int(g.get("m") or 1), int(g.get("d") or 1),
                  int(g.get("H") or 0), int(g.get("M") or 0), int(g.get("S") or 0), tzinfo=UTC)
    zone = g.get("z")
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        dt -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    frac = (g.get("f") or "").ljust(9, "0")[:9]
    return int(dt.timestamp()) * 10**9 + int(frac or 0)
