"""Benchmark units: tidying (``ns/op`` -> ``sec/op``), prefix class, and benchstat's number scaling.

Values are scaled per table row so that every value in the row shows at least three significant
digits with one shared SI (k, M, µ, n ...) or IEC (Ki, Mi ...) prefix, exactly as benchstat
prints them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

_SEPARATORS = "*/- \t"


def _tokens(unit: str) -> list[tuple[str, int, bool]]:
    """(token, offset, in_denominator) for each token of a unit like ``B/op`` or ``ns*op``."""
    out: list[tuple[str, int, bool]] = []
    denom = False
    i = 0
    n = len(unit)
    while i < n:
        ch = unit[i]
        if ch == "*":
            denom = False
            i += 1
        elif ch == "/":
            denom = True
            i += 1
        elif ch == "-" or ch.isspace():
            i += 1
        else:
            j = i
            while j < n and unit[j] not in "*/-" and not unit[j].isspace():
                j += 1
            out.append((unit[i:j], i, denom))
            i = j
    return out


@lru_cache(maxsize=1024)
def tidy_unit(unit: str) -> tuple[str, float]:
    """The base unit and the factor from ``unit`` to it: ns -> sec (1e-9), MB -> B (1e6)."""
    if unit == "ns/op":
        return "sec/op", 1e-9
    if unit == "MB/s":
        return "B/s", 1e6
    if "ns" not in unit and "MB" not in unit:
        return unit, 1.0
    factor = 1.0
    edits: list[tuple[int, int, str]] = []
    for tok, pos, denom in _tokens(unit):
        if denom:
            continue
        if tok == "ns":
            edits.append((pos, 2, "sec"))
            factor /= 1e9
        elif tok == "MB":
            edits.append((pos, 2, "B"))
            factor *= 1e6
    for pos, length, new in reversed(edits):
        unit = unit[:pos] + new + unit[pos + length:]
    return unit, factor


def tidy(value: float, unit: str) -> tuple[float, str]:
    new_unit, factor = tidy_unit(unit)
    if factor == 1.0:
        return value, new_unit
    return value * factor, new_unit


@lru_cache(maxsize=1024)
def is_binary(unit: str) -> bool:
    """Units measuring bytes in the numerator scale by 1024 (Ki, Mi); others by 1000."""
    return any(tok in ("B", "MB", "bytes") and not denom for tok, _, denom in _tokens(unit))


@dataclass(frozen=True)
class Scaler:
    """Digits after the point, the factor of one prefix, and the prefix itself."""

    prec: int
    factor: float
    prefix: str

    def format(self, value: float) -> str:
        return f"{_fixed(value / self.factor, self.prec)}{self.prefix}"


def _fixed(x: float, prec: int) -> str:
    return f"{x:.{prec}f}"


@dataclass(frozen=True)
class _Factor:
    factor: float
    prefix: str
    t100: float
    t10: float
    t1: float


def _si_factors() -> list[_Factor]:
    # thresholds are parsed from the printed forms so they agree with rounding when printing
    out = []
    exp = 12
    for prefix in ("T", "G", "M", "k", "", "m", "µ", "n"):
        out.append(_Factor(10.0**exp, prefix, float(f"99.995e{exp}"), float(f"9.9995e{exp}"),
                           float(f".99995e{exp}")))
        exp -= 3
    return out


def _iec_factors() -> list[_Factor]:
    out = []
    exp = 40
    for prefix in ("Ti", "Gi", "Mi", "Ki", ""):
        out.append(_Factor(2.0**exp, prefix,
                           math.ldexp(float.fromhex("0x1.8ffae147ae148p0"), 6 + exp),
                           math.ldexp(float.fromhex("0x1.3ffbe76c8b439p0"), 3 + exp),
                           math.ldexp(float.fromhex("0x1.fff972474538fp0"), -1 + exp)))
        exp -= 10
    return out


_SI = _si_factors()
_IEC = _iec_factors()
# thresholds for 3, 4, ... 10 digits after the point below the smallest prefix
_SIGFIGS = [float(f"9.9995e{e}") for e in range(-1, -9, -1)]


def common_scale(values: list[float], binary: bool) -> Scaler:
    """One scaler for a row: chosen by the non-zero value closest to zero."""
    smallest = 0.0
    for v in values:
        a = abs(v)
        if a != 0 and (smallest == 0 or a < smallest):
            smallest = a
    if smallest == 0:
        return Scaler(3, 1.0, "")
    factors = _IEC if binary else _SI
    for f in factors:
        if smallest >= f.t100:
            return Scaler(1, f.factor, f.prefix)
        if smallest >= f.t10:
            return Scaler(2, f.factor, f.prefix)
        if smallest >= f.t1:
            return Scaler(3, f.factor, f.prefix)
    last = factors[-1]
    val = smallest / last.factor
    for i, thresh in enumerate(_SIGFIGS):
        if val >= thresh or i == len(_SIGFIGS) - 1:
            return Scaler(i + 3, last.factor, last.prefix)
    raise AssertionError("unreachable")


def scale(value: float, binary: bool) -> str:
    return common_scale([value], binary).format(value)
