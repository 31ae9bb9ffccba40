"""Prometheus rule files: read, checked as ``promtool check rules`` checks them.

``load_rule_file(path)`` returns the groups of one file or raises ``RuleFileError`` carrying
every problem found (``perflab rules check`` prints them all, as promtool does): unknown
fields, a group without a name or named twice, a rule that is neither or both ``record`` and
``alert``, an expression that does not parse (with its column), an invalid metric or label
name, ``for``/annotations on a recording rule, a label or annotation template that does not
parse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.errors import InvalidFile, InvalidValue
from perflab.metrics._ast import Node, PromQLError, parse
from perflab.metrics._config import load_yaml, parse_yaml
from perflab.metrics._duration import parse_duration_ms
from perflab.metrics._labels import LABEL_NAME, METRIC_NAME
from perflab.metrics._template import AlertTemplate, TemplateError

_GROUP_KEYS = {"name", "interval", "limit", "rules", "query_offset", "source_tenants"}
_RULE_KEYS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}


class RuleFileError(InvalidFile):
    """Every problem of one rule file (``problems``); the message is the first."""

    def __init__(self, path: str, problems: list[str]) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more, path=path,
                         hint="check it with `perflab rules check FILE`")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RuleSpec:
    kind: str                    # "record" or "alert"
    name: str
    expr_text: str
    expr: Node
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    labels: dict[str, AlertTemplate] = field(default_factory=dict)
    annotations: dict[str, AlertTemplate] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GroupSpec:
    name: str
    file: str
    interval_ms: int | None      # None: the evaluation interval
    limit: int
    rules: tuple[RuleSpec, ...]


def load_rule_file(path: str | Path) -> list[GroupSpec]:
    doc = load_yaml(path)
    return groups_from_doc(doc, str(path))


def parse_rule_text(text: str, where: str) -> list[GroupSpec]:
    return groups_from_doc(parse_yaml(text, where), where)


def groups_from_doc(doc: Any, path: str) -> list[GroupSpec]:
    problems: list[str] = []
    groups: list[GroupSpec] = []
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise RuleFileError(path, ["expected a mapping with 'groups'"])
    unknown = set(doc) - {"groups"}
    if unknown:
        problems.append(f"field {min(map(str, unknown))} not found in type "
                        "rulefmt.RuleGroups")
    raw_groups = doc.get("groups") or []
    if not isinstance(raw_groups, list):
        raise RuleFileError(path, ["groups must be a list"])
    names: set[str] = set()
    for gi, raw in enumerate(raw_groups):
        if not isinstance(raw, dict):
            problems.append(f"group {gi + 1}: expected a mapping")
            continue
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"group {gi + 1}: groupname must not be empty")
            name = f"#{gi + 1}"
        elif name in names:
            problems.append(f"{name}: repeated in the same file")
        names.add(name)
        unknown = set(raw) - _GROUP_KEYS
        if unknown:
            problems.append(f"group {name!r}: field {min(map(str, unknown))} not found "
                            "in type rulefmt.RuleGroup")
        interval = None
        if raw.get("interval") is not None:
            try:
                interval = parse_duration_ms(str(raw["interval"]), what="interval")
            except InvalidValue as exc:
                problems.append(f"group {name!r}: {exc.message}")
        limit = raw.get("limit", 0) or 0
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            problems.append(f"group {name!r}: limit must be a non-negative integer")
            limit = 0
        rules: list[RuleSpec] = []
        raw_rules = raw.get("rules") or []
        if not isinstance(raw_rules, list):
            problems.append(f"group {name!r}: rules must be a list")
            raw_rules = []
        for ri, rule in enumerate(raw_rules, 1):
            spec, errs = _rule(rule, name, ri)
            problems.extend(errs)
            if spec is not None:
                rules.append(spec)
        groups.append(GroupSpec(name, path, interval, limit, tuple(rules)))
    if problems:
        raise RuleFileError(path, problems)
    return groups


def _rule(raw: Any, group: str, index: int) -> tuple[RuleSpec | None, list[str]]:
    where = f"group {group!r}, rule {index}"
    if not isinstance(raw, dict):
        return None, [f"{where}: expected a mapping"]
    problems: list[str] = []
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        problems.append(f"{where}: field {min(map(str, unknown))} not found in type "
                        "rulefmt.RuleNode")
    record, alert = raw.get("record"), raw.get("alert")
    if record is not None and alert is not None:
        problems.append(f"{where}: only one of 'record' and 'alert' must be set")
    if record is None and alert is None:
        problems.append(f"{where}: one of 'record' or 'alert' must be set")
    name = str(record if record is not None else alert or "")
    if record is not None:
        where = f"{where}, {name!r}"
        if not isinstance(record, str) or not METRIC_NAME.match(record):
            problems.append(f"{where}: invalid recording rule name: {record}")
        problems.extend(f"{where}: invalid field '{key}' in recording rule"
                        for key in ("for", "keep_firing_for", "annotations") if raw.get(key))
    elif alert is not None:
        where = f"{where}, {name!r}"
        if not isinstance(alert, str) or not alert:
            problems.append(f"{where}: invalid alert name: {alert}")
    expr_text = raw.get("expr")
    expr: Node | None = None
    if not isinstance(expr_text, str) or not expr_text.strip():
        problems.append(f"{where}: field 'expr' must be set in rule")
    else:
        try:
            expr = parse(expr_text)
        except PromQLError as exc:
            problems.append(f"{where}: could not parse expression: {exc.message}")
        if expr is not None and expr.type not in ("vector", "scalar"):
            problems.append(f"{where}: invalid expression type: the rule's expression must be "
                            "an instant vector or scalar")
    durations = {}
    for key in ("for", "keep_firing_for"):
        durations[key] = 0
        if raw.get(key) is not None and alert is not None:
            try:
                durations[key] = parse_duration_ms(str(raw[key]), what=key)
            except InvalidValue as exc:
                problems.append(f"{where}: {exc.message}")
    labels = _templates(raw.get("labels"), where, "label", problems)
    annotations = _templates(raw.get("annotations"), where, "annotation", problems)
    if "__name__" in labels:
        problems.append(f"{where}: invalid label name: __name__")
    if problems or expr is None or not isinstance(expr_text, str):
        return None, problems
    return RuleSpec("record" if record is not None else "alert", name, expr_text, expr,
                    durations["for"], durations["keep_firing_for"], labels, annotations), []


def _templates(raw: Any, where: str, what: str, problems: list[str]) -> dict[str, AlertTemplate]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: {what}s must be a mapping")
        return {}
    out = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not LABEL_NAME.match(key):
            problems.append(f"{where}: invalid {what} name: {key}")
            continue
        text = "" if value is None else str(value)
        try:
            out[key] = AlertTemplate.compile(text)
        except TemplateError as exc:
            problems.append(f"{where}: {what} {key!r}: template: {exc.message}")
    return out
