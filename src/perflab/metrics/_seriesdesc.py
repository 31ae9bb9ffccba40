"""Prometheus's series notation: ``metric{a="b"} 0+10x5 _ stale 3x2``.

The language of Prometheus's PromQL test files (``load``) and of promtool's rule unit tests
(``input_series``): ``a+bxN`` is ``a, a+b, ... a+N*b`` (N+1 values), ``axN`` is ``a`` N+1 times,
``_`` a missing sample, ``_xN`` N of them, ``stale`` a staleness marker.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from perflab.metrics._ast import PromQLError
from perflab.metrics._labels import NAME, Labels, from_pairs
from perflab.metrics._values import stale_value

# In series values "x" always means "times" (0x10 is 0 eleven times), so no hexadecimal here
_UNSIGNED = r"(?:[iI][nN][fF]|[nN][aA][nN]|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_ITEM = re.compile(
    rf"^(?:(?P<blank>_)(?:x(?P<blank_n>\d+))?"
    rf"|(?P<value>stale|[+-]?{_UNSIGNED})(?:(?P<inc>[+-]{_UNSIGNED})?x(?P<times>\d+))?)$")
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*")
MAX_EXPANSION = 1_000_000  # values one item may expand to


@dataclass(frozen=True, slots=True)
class SeriesDesc:
    labels: Labels
    values: list[float | None]  # None: no sample at that step


def parse_number(text: str) -> float:
    """A PromQL number: decimal, hexadecimal, ``Inf``, ``NaN``."""
    t = text.strip()
    sign = -1.0 if t.startswith("-") else 1.0
    body = t.lstrip("+-")
    if body.lower().startswith("0x"):
        return sign * float(int(body, 16))
    if body.lower() == "inf":
        return sign * math.inf
    if body.lower() == "nan":
        return math.nan
    try:
        return sign * float(body)
    except ValueError:
        raise PromQLError(f"invalid number {text!r}") from None


def parse_series(line: str) -> SeriesDesc:
    labels, rest = parse_metric(line)
    values: list[float | None] = []
    for item in rest.split():
        values.extend(_expand(item))
        if len(values) > MAX_EXPANSION:
            raise PromQLError(f"the series expands to more than {MAX_EXPANSION:,} values")
    return SeriesDesc(labels, values)


def _expand(item: str) -> list[float | None]:
    m = _ITEM.match(item)
    if m is None:
        raise PromQLError(f"unexpected {item!r} in series values")
    if m.group("blank"):
        n = int(m.group("blank_n") or 1)
        _check(n)
        return [None] * n
    raw = m.group("value")
    value = stale_value() if raw == "stale" else parse_number(raw)
    if m.group("times") is None:
        return [value]
    times = int(m.group("times"))
    _check(times)
    inc = parse_number(m.group("inc")) if m.group("inc") else 0.0
    out: list[float | None] = []
    for _ in range(times + 1):
        out.append(value)
        value += inc  # repeated addition, as Prometheus does (not value + i * inc)
    return out


def _check(n: int) -> None:
    if n > MAX_EXPANSION:
        raise PromQLError(f"a series item repeats {n:,} times; at most {MAX_EXPANSION:,}")


def parse_metric(line: str) -> tuple[Labels, str]:
    """``name{a="b"}`` at the start of ``line``: its labels and the rest of the line."""
    pos = 0
    text = line.strip()
    pairs: list[tuple[str, str]] = []
    m = _NAME.match(text)
    if m:
        pairs.append((NAME, m.group(0)))
        pos = m.end()
    if pos < len(text) and text[pos] == "{":
        pos += 1
        while True:
            while pos < len(text) and text[pos] in " \t,":
                pos += 1
            if pos < len(text) and text[pos] == "}":
                pos += 1
                break
            lm = _LABEL.match(text, pos)
            if lm is None:
                raise PromQLError(f"invalid label matcher at {text[pos:pos + 20]!r}")
            value, pos = read_string(text, lm.end())
            pairs.append((lm.group(1), value))
    elif not pairs:
        raise PromQLError(f"no metric in {line!r}")
    return from_pairs(pairs), text[pos:]


def read_string(text: str, pos: int) -> tuple[str, int]:
    """A Go string literal (double, single or back quotes) at ``pos``: (value, end)."""
    if pos >= len(text) or text[pos] not in "\"'`":
        raise PromQLError(f"expected a quoted string at {text[pos:pos + 20]!r}")
    quote = text[pos]
    pos += 1
    out: list[str] = []
    while pos < len(text):
        c = text[pos]
        if c == quote:
            return "".join(out), pos + 1
        if c == "\\" and quote != "`":
            pos += 1
            if pos >= len(text):
                break
            e = text[pos]
            simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'",
                      "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
            if e in simple:
                out.append(simple[e])
                pos += 1
            elif e in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[e]
                digits = text[pos + 1:pos + 1 + width]
                try:
                    out.append(chr(int(digits, 16)))
                except ValueError:
                    raise PromQLError(f"invalid escape \\{e}{digits}") from None
                pos += 1 + width
            elif e in "01234567":
                digits = text[pos:pos + 3]
                try:
                    out.append(chr(int(digits, 8)))
                except ValueError:
                    raise PromQLError(f"invalid escape \\{digits}") from None
                pos += 3
            else:
                raise PromQLError(f"unknown escape sequence \\{e}")
            continue
        out.append(c)
        pos += 1
    raise PromQLError("unterminated quoted string")
