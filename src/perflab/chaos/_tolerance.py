"""A steady-state probe's tolerance, judged as chaostoolkit-lib's ``within_tolerance`` does:
bool/str equality, an int against the value or its ``status``, a list of allowed values (two
items: a closed range), and the typed ``probe``, ``regex``, ``jsonpath`` and ``range`` forms.

JSONPath is the subset experiments use (``$``, ``.name``, ``['name']``, ``[N]``, ``[*]``, ``..``):
a small walker here instead of a dependency for it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from perflab.errors import UsageError

_STEP = re.compile(r"\.\.|\.?([A-Za-z_][\w-]*|\*)|\[\s*(\*|-?\d+|'[^']*'|\"[^\"]*\")\s*\]")

ProbeRunner = Callable[[dict[str, Any], Any], Any]


def within_tolerance(tolerance: Any, value: Any, run_probe: ProbeRunner) -> bool:
    """Whether ``value`` (a probe's output) meets ``tolerance``; ``run_probe`` runs a probe
    tolerance's provider with the value as its ``value`` argument."""
    if isinstance(tolerance, bool):
        return bool(value == tolerance)
    if isinstance(tolerance, int):
        if isinstance(value, dict) and "status" in value:
            return bool(value["status"] == tolerance)
        return bool(value == tolerance)
    if isinstance(tolerance, str):
        return bool(value == tolerance)
    if isinstance(tolerance, list):
        if isinstance(value, dict) and "status" in value:
            return value["status"] in tolerance
        if len(tolerance) == 2:  # chaostoolkit-lib: two items are a range
            try:
                return bool(tolerance[0] <= value <= tolerance[1])
            except TypeError:
                return False
        return value in tolerance
    if isinstance(tolerance, dict):
        return _typed(tolerance, value, run_probe)
    return False


def _typed(tolerance: dict[str, Any], value: Any, run_probe: ProbeRunner) -> bool:
    kind = tolerance.get("type")
    if kind == "probe":
        return bool(run_probe(tolerance, value))
    target = tolerance.get("target")
    if target and isinstance(value, dict):
        value = value.get(target, value)
    if kind == "regex":
        return isinstance(value, str) and re.search(tolerance["pattern"], value) is not None
    if kind == "range":
        low, high = tolerance["range"]
        try:
            number = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            return False
        return Decimal(low) <= number <= Decimal(high)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    found = jsonpath(tolerance["path"], value)
    result = len(found) > 0
    if tolerance.get("count") is not None:
        result = len(found) == tolerance["count"]
    if "expect" in tolerance:
        expect = tolerance["expect"]
        result = found == (expect if isinstance(expect, list) else [expect])
    return result


def jsonpath(path: str, document: Any) -> list[Any]:
    """The values ``path`` selects in ``document``."""
    text = path.strip()
    if not text.startswith("$"):
        raise UsageError(f"jsonpath {path!r}: must start with $", hint="$.items[0].status")
    nodes: list[Any] = [document]
    pos, deep = 1, False
    while pos < len(text):
        match = _STEP.match(text, pos)
        if match is None:
            raise UsageError(f"jsonpath {path!r}: cannot read from {text[pos:]!r}",
                             hint="supported: $ .name ['name'] [N] [*] ..")
        pos = match.end()
        if match.group(0) == "..":
            deep = True
            continue
        key = match.group(1) if match.group(1) is not None else match.group(2)
        if deep:
            nodes = [d for n in nodes for d in _descendants(n)]
            deep = False
        nodes = [c for n in nodes for c in _children(n, key)]
    return nodes


def _descendants(node: Any) -> list[Any]:
    out = [node]
    children = node.values() if isinstance(node, dict) else node if isinstance(
        node, list) else []
    for child in children:
        out.extend(_descendants(child))
    return out


def _children(node: Any, key: str) -> list[Any]:
    if key == "*":
        return list(node.values()) if isinstance(node, dict) else list(
            node) if isinstance(node, list) else []
    if key[:1] in ("'", '"'):
        key = key[1:-1]
    elif isinstance(node, list):
        try:
            return [node[int(key)]]
        except (ValueError, IndexError):
            return []
    if isinstance(node, dict) and key in node:
        return [node[key]]
    return []
