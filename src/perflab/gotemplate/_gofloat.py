"""Go's printing of a float64 (``strconv.FormatFloat``), which templates, PromQL and LogQL all
show."""

from __future__ import annotations

import math
from decimal import Decimal


def format_float_g(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 64)``, which is also ``fmt``'s ``%v`` of a
    float64: the shortest digits, in exponent form when the exponent is below -4 or at least
    6 (``1e+06``, ``1.234567e+06``, ``123456``, ``0.0001``, ``1e-05``)."""
    special = _special(value)
    if special is not None:
        return special
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # where the decimal point falls in the digits
    x = point - 1
    out = "-" if sign else ""
    if x < -4 or x >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{out}{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{out}0.{'0' * -point}{text}"
    if point >= len(text):
        return out + text + "0" * (point - len(text))
    return f"{out}{text[:point]}.{text[point:]}"


def format_float_f(value: float) -> str:
    """``strconv.FormatFloat(value, 'f', -1, 64)``: the shortest decimal that reads back as
    ``value``, never in exponent form."""
    special = _special(value)
    if special is not None:
        return special
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _special(value: float) -> str | None:
    """NaN, the infinities and the zeros as Go prints them (None: another number)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    return None
