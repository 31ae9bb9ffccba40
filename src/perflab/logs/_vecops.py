"""Operators on the vectors of a LogQL metric query at one step: binary operators with vector
matching, vector aggregations and ``label_replace``, with the semantics Loki takes from
Prometheus (pkg/logql/evaluator.go ``vectorBinop``/``resultMetric``; Prometheus's
"Operators" docs).

- Arithmetic ``+ - * / % ^`` keeps the left side's labels (Loki has no metric name to drop);
  a division or modulo by zero is NaN (Loki's MergeBinOp guards it so, unlike Prometheus's
  ±Inf); comparisons filter (the vector's value is kept) unless ``bool``, which gives 0 or 1.
- Two vectors match on all their labels, or ``on(...)``/``ignoring(...)`` them; one-to-one
  needs each side unique per match, ``group_left``/``group_right`` let the named side be
  many, copying ``include`` labels from the one side. A one-to-one result keeps only the
  ``on`` labels (or drops the ``ignoring`` ones).
- ``and`` keeps the left samples that have a match, ``unless`` those that have none, ``or``
  adds the right samples whose match the left lacks.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

from perflab.errors import InvalidValue

Labels = dict[str, str]
Sample = tuple[Labels, float]
Vector = list[Sample]
LabelKey = tuple[tuple[str, str], ...]


class VectorError(InvalidValue):
    """Vectors an operator cannot combine (duplicate matches), as Loki refuses them."""


def key_of(labels: Labels) -> LabelKey:
    return tuple(sorted(labels.items()))


def _pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except (OverflowError, ValueError):
        if a == 0 and b < 0:
            return math.inf
        return math.nan if a < 0 else math.inf


def _div(a: float, b: float) -> float:
    return math.nan if b == 0 else a / b  # Loki guards a division by zero with NaN


def _mod(a: float, b: float) -> float:
    if b == 0 or math.isinf(a):
        return math.nan
    return math.fmod(a, b)  # Go's math.Mod: the sign of the dividend


_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": float.__add__, "-": float.__sub__, "*": float.__mul__, "/": _div, "%": _mod,
    "^": _pow,
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": float.__eq__, "!=": float.__ne__, ">": float.__gt__, ">=": float.__ge__,
    "<": float.__lt__, "<=": float.__le__,
}


def scalar_op(op: str, a: float, b: float, *, return_bool: bool) -> float:
    """``a op b`` for two numbers; a comparison is 0 or 1 (scalars need ``bool``)."""
    if op in _COMPARE:
        hit = _COMPARE[op](float(a), float(b))
        return float(hit) if return_bool else (a if hit else math.nan)
    return _ARITH[op](float(a), float(b))


def vector_scalar(op: str, vec: Vector, scalar: float, *, scalar_left: bool,
                  return_bool: bool) -> Vector:
    out: Vector = []
    for labels, v in vec:
        a, b = (scalar, v) if scalar_left else (v, scalar)
        if op in _COMPARE:
            hit = _COMPARE[op](a, b)
            if return_bool:
                out.append((labels, float(hit)))
            elif hit:
                out.append((labels, v))
        else:
            out.append((labels, _ARITH[op](a, b)))
    return out


def _signature(labels: Labels, on: bool, names: tuple[str, ...]) -> LabelKey:
    if on:
        return tuple(sorted((k, v) for k, v in labels.items() if k in names))
    return tuple(sorted((k, v) for k, v in labels.items() if k not in names))


def set_op(op: str, lhs: Vector, rhs: Vector, on: bool, names: tuple[str, ...]) -> Vector:
    right = {_signature(lab, on, names) for lab, _ in rhs}
    if op == "and":
        return [s for s in lhs if _signature(s[0], on, names) in right]
    if op == "unless":
        return [s for s in lhs if _signature(s[0], on, names) not in right]
    left = {_signature(lab, on, names) for lab, _ in lhs}
    return lhs + [s for s in rhs if _signature(s[0], on, names) not in left]


def vector_vector(op: str, lhs: Vector, rhs: Vector, *, on: bool,
                  names: tuple[str, ...], group: str, include: tuple[str, ...],
                  return_bool: bool) -> Vector:
    """``lhs op rhs`` for two vectors (arithmetic or comparison), matched as Prometheus does."""
    if group == "right":
        lhs, rhs = rhs, lhs
    one: dict[LabelKey, Sample] = {}
    for s in rhs:
        sig = _signature(s[0], on, names)
        if sig in one:
            side = "left" if group == "right" else "right"
            raise VectorError(f"found duplicate series on the {side} hand-side;many-to-many "
                              "matching not allowed: matching labels must be unique on one "
                              f"side (match group {_text(dict(sig))})",
                              hint="match on more labels (on(...)), or use group_left/"
                                   "group_right when one side has many")
        one[sig] = s
    out: Vector = []
    seen: dict[LabelKey, LabelKey] = {}
    for labels, v in lhs:
        sig = _signature(labels, on, names)
        match = one.get(sig)
        if match is None:
            continue
        if not group:
            if sig in seen:
                raise VectorError("multiple matches for labels: many-to-one matching must be "
                                  "explicit (group_left/group_right)")
            seen[sig] = sig
        a, b = (match[1], v) if group == "right" else (v, match[1])
        if op in _COMPARE:
            hit = _COMPARE[op](a, b)
            if not return_bool and not hit:
                continue
            value = float(hit) if return_bool else a
        else:
            value = _ARITH[op](a, b)
        result = _result_labels(labels, match[0], on=on, names=names, group=group,
                                include=include)
        rkey = key_of(result)
        if group and rkey in seen:
            raise VectorError("multiple matches for labels: grouping labels must ensure "
                              "unique matches")
        seen[rkey] = rkey
        out.append((result, value))
    return out


def _result_labels(many: Labels, one: Labels, *, on: bool, names: tuple[str, ...], group: str,
                   include: tuple[str, ...]) -> Labels:
    if not group:
        if on:
            return {k: v for k, v in many.items() if k in names}
        return {k: v for k, v in many.items() if k not in names}
    out = dict(many)
    for name in include:
        if one.get(name):
            out[name] = one[name]
        else:
            out.pop(name, None)
    return out


# -- aggregations --------------------------------------------------------------------------------

def group_labels(labels: Labels, names: tuple[str, ...], *, without: bool) -> Labels:
    if without:
        return {k: v for k, v in labels.items() if k not in names}
    return {k: labels[k] for k in names if k in labels}


def aggregate(op: str, values: list[float]) -> float:
    if op == "sum":
        return math.fsum(values)
    if op == "count":
        return float(len(values))
    if op == "avg":
        return math.fsum(values) / len(values)
    if op == "stddev":
        return statistics.pstdev(values)
    if op == "stdvar":
        return statistics.pvariance(values)
    return min(values) if op == "min" else max(values)


def aggregate_vector(op: str, vec: Vector, names: tuple[str, ...], *, without: bool,
                     param: int | None) -> Vector:
    """One step of ``op [by|without (names)] ([param,] vec)``."""
    groups: dict[LabelKey, list[Sample]] = {}
    for s in vec:
        groups.setdefault(key_of(group_labels(s[0], names, without=without)), []).append(s)
    out: Vector = []
    for key, members in sorted(groups.items()):
        if op in ("sort", "sort_desc"):  # within each group, as Loki's evaluator sorts
            out.extend(sorted(members, key=lambda s: (s[1], key_of(s[0])),
                              reverse=op == "sort_desc"))
        elif op in ("topk", "bottomk", "approx_topk"):  # approx_topk: topk on exact data
            assert param is not None
            ranked = sorted(members, key=lambda s: (_nan_last(s[1], op), key_of(s[0])))
            out.extend(ranked[:param])
        else:
            out.append((dict(key), aggregate(op, [v for _, v in members])))
    return out


def _nan_last(v: float, op: str) -> float:
    if math.isnan(v):
        return math.inf
    return v if op == "bottomk" else -v


def label_replace(vec: Vector, dst: str, src: str,
                  expand: Callable[[str], str | None]) -> Vector:
    """``label_replace``: ``expand(value of src)`` is the new value, or None when the regexp
    does not match (the sample is unchanged); an empty result removes ``dst``."""
    out: Vector = []
    seen: set[LabelKey] = set()
    for labels, v in vec:
        got = expand(labels.get(src, ""))
        new = dict(labels)
        if got is not None:
            if got:
                new[dst] = got
            else:
                new.pop(dst, None)
        k = key_of(new)
        if k in seen:
            raise VectorError(f"vector cannot contain metrics with the same labelset "
                              f"({_text(new)}) after label_replace")
        seen.add(k)
        out.append((new, v))
    return out


def _text(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
