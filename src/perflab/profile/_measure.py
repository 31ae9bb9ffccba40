"""Units and number formatting with pprof's rules, so our tables read like ``go tool pprof``.

A value is scaled within its unit family (bytes: B kB MB GB TB PB in steps of 1024; time: ns us
ms s hrs); a table uses one output unit, chosen from its smallest and largest values; labels
have two decimals with a trailing ``.00`` removed; percentages have two decimals, or two
significant digits below 1 %, and exactly "100%" within 0.05 of it.
"""

from __future__ import annotations

_UNIT_FAMILIES: list[list[tuple[str, tuple[str, ...], float]]] = [
    [("B", ("b", "byte"), 1.0), ("kB", ("kb", "kbyte", "kilobyte"), 2.0**10),
     ("MB", ("mb", "mbyte", "megabyte"), 2.0**20), ("GB", ("gb", "gbyte", "gigabyte"), 2.0**30),
     ("TB", ("tb", "tbyte", "terabyte"), 2.0**40), ("PB", ("pb", "pbyte", "petabyte"), 2.0**50)],
    [("ns", ("ns", "nanosecond"), 1.0), ("us", ("μs", "us", "microsecond"), 1e3),
     ("ms", ("ms", "millisecond"), 1e6), ("s", ("s", "sec", "second"), 1e9),
     ("hrs", ("hour", "hr"), 3600e9)],
]
_DEFAULT_UNIT = [("B", 1.0), ("s", 1e9)]


def _sniff(unit: str) -> tuple[int, float] | None:
    u = unit.lower()
    if len(u) > 2:
        u = u.removesuffix("s")
    for fam, units in enumerate(_UNIT_FAMILIES):
        for _name, aliases, factor in units:
            if u in aliases:
                return fam, factor
    return None


def scale(value: int, from_unit: str, to_unit: str) -> tuple[float, str]:
    """``value`` in ``from_unit`` expressed in ``to_unit`` ("auto"/"minimum": the largest unit
    in which it is at least 1). Units pprof does not know pass through unscaled."""
    if value < 0:
        v, u = scale(-value, from_unit, to_unit)
        return -v, u
    found = _sniff(from_unit)
    if found is not None:
        fam, factor = found
        x = value * factor
        if to_unit in ("minimum", "auto"):
            best_f, best_u = 0.0, ""
            for name, _aliases, f in _UNIT_FAMILIES[fam]:
                if f >= best_f and x / f >= 1.0:
                    best_f, best_u = f, name
            if best_f:
                return x / best_f, best_u
            return x / _DEFAULT_UNIT[fam][1], _DEFAULT_UNIT[fam][0]
        target = _sniff(to_unit)
        if target is None or target[0] != fam:
            return x / _DEFAULT_UNIT[fam][1], _DEFAULT_UNIT[fam][0]
        name = next(n for n, _a, f in _UNIT_FAMILIES[fam] if f == target[1])
        return x / target[1], name
    if to_unit in ("count", "sample", "unit", "minimum", "auto"):
        return float(value), ""
    return float(value), to_unit


def scaled_label(value: int, from_unit: str, to_unit: str) -> str:
    v, u = scale(value, from_unit, to_unit)
    sv = f"{v:.2f}".removesuffix(".00")
    if sv in ("0", "-0"):
        return "0"
    return sv + u


def percentage(value: int, total: int) -> str:
    ratio = abs(value / total) * 100 if total else 0.0
    if 99.95 <= ratio <= 100.05:
        return "  100%"
    if ratio >= 1.0:
        return f"{ratio:5.2f}%"
    return f"{ratio:5.2g}%"


def output_unit(min_value: int, max_value: int, sample_unit: str) -> str:
    """The one unit a table uses: that of its smallest value, unless the largest is more than
    100 times bigger, in which case the unit in which the smallest reads at least 0.01."""
    if min_value == 0:
        min_value = max_value
    _, min_unit = scale(min_value, sample_unit, "minimum")
    _, max_unit = scale(max_value, sample_unit, "minimum")
    unit = min_unit
    if min_unit != max_unit and min_value * 100 < max_value:
        _, unit = scale(100 * min_value, sample_unit, "minimum")
    return unit or sample_unit
