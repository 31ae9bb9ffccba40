"""perflab's own notification configuration: Alertmanager's ``route`` timings and
``inhibit_rules``, for the alerts the hub sends straight to webhooks.

``perflab serve --notify-config FILE`` reads a file in Alertmanager's configuration format,
the parts that apply without an Alertmanager:

.. code-block:: yaml

    route:                      # the one route: group_by and its three timings
      group_by: [alertname, cluster]
      group_wait: 0s
      group_interval: 10s
      repeat_interval: 1h
    inhibit_rules:
      - source_matchers: [severity="critical"]
        target_matchers: [severity="warning"]
        equal: [alertname, instance]

Anything else (receivers, nested routes, templates) is refused by name, so the file never
means less than it says. An alert sent to an Alertmanager is inhibited by that Alertmanager's
own rules, not these.

Inhibition has Alertmanager 0.25's semantics (``inhibit/inhibit.go``): a target alert is muted
while a firing alert (silenced or not; one whose ``endsAt`` has passed is resolved) matches the
rule's source matchers and has the same value for every ``equal`` label, a label that is
missing counting as the empty value. An alert that matches both sides of a rule is never
muted by an alert that also matches both sides (itself included), so a rule cannot mute every
alert of a set. The older ``source_match`` / ``source_match_re`` / ``target_match`` /
``target_match_re`` maps are read as the matchers they stand for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.errors import InvalidFile, InvalidValue
from perflab.metrics._config import _mapping, load_yaml
from perflab.metrics._duration import parse_duration_ms
from perflab.metrics._labels import LABEL_NAME
from perflab.metrics._matchers import LabelMatcher, all_match, parse_matcher


@dataclass(frozen=True, slots=True)
class InhibitRule:
    source: tuple[LabelMatcher, ...]
    target: tuple[LabelMatcher, ...]
    equal: tuple[str, ...] = ()

    def mutes(self, labels: Mapping[str, str],
              firing: Iterable[Mapping[str, str]]) -> Mapping[str, str] | None:
        """The firing alert that mutes ``labels`` under this rule, or None."""
        if not all_match(list(self.target), labels):
            return None
        two_sided = all_match(list(self.source), labels)
        for source in firing:
            if not all_match(list(self.source), source):
                continue
            if any(source.get(n, "") != labels.get(n, "") for n in self.equal):
                continue
            if two_sided and all_match(list(self.target), source):
                continue  # an alert matching both sides never mutes one that does too
            return source
        return None


def muted(rules: Iterable[InhibitRule], labels: Mapping[str, str],
          firing: Iterable[Mapping[str, str]]) -> bool:
    """Whether any rule mutes ``labels`` given the label sets of the alerts firing now."""
    sources = list(firing)
    return any(rule.mutes(labels, sources) is not None for rule in rules)


@dataclass(frozen=True, slots=True)
class Route:
    group_by: tuple[str, ...] = ("alertname",)
    group_wait_s: float = 0.0
    group_interval_s: float = 10.0
    repeat_interval_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    route: Route = field(default_factory=Route)
    inhibit_rules: tuple[InhibitRule, ...] = ()


_TOP_KEYS = {"route", "inhibit_rules"}
_ROUTE_KEYS = {"group_by", "group_wait", "group_interval", "repeat_interval", "receiver"}
_RULE_KEYS = {"source_matchers", "target_matchers", "equal", "source_match", "source_match_re",
              "target_match", "target_match_re"}


def load_notify_config(path: str | Path) -> NotifyConfig:
    """``InvalidFile`` (exit 2) naming the field for anything wrong or not acted on."""
    doc = load_yaml(path)
    try:
        return notify_config_from_doc(doc)
    except InvalidValue as exc:
        if isinstance(exc, InvalidFile):
            raise
        raise InvalidFile(exc.message, path=str(path), hint=exc.hint) from None


def notify_config_from_doc(doc: Any) -> NotifyConfig:
    top = _mapping(doc, "the notification configuration")
    unknown = set(top) - _TOP_KEYS
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise InvalidValue(f"field(s) perflab does not act on: {names}",
                           hint="perflab reads route (group_by and its timings) and "
                                "inhibit_rules; receivers are --webhook and --alertmanager")
    route = _route(top.get("route"))
    rules = top.get("inhibit_rules")
    rules = [] if rules is None else rules
    if not isinstance(rules, list):
        raise InvalidValue("inhibit_rules must be a list")
    return NotifyConfig(route, tuple(_rule(r, f"inhibit_rules[{i}]")
                                     for i, r in enumerate(rules)))


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidValue(f"{where} must be a list of strings")
    return value


def _seconds(doc: dict[str, Any], key: str, default: float) -> float:
    if key not in doc:
        return default
    value = doc[key]
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidValue(f"route.{key}: expected a duration like 30s")
    return parse_duration_ms(str(value), what=f"route.{key}") / 1000


def _route(value: Any) -> Route:
    doc = _mapping(value, "route")
    unknown = set(doc) - _ROUTE_KEYS
    if unknown:
        raise InvalidValue(f"route: field(s) perflab does not act on: "
                           f"{', '.join(sorted(map(str, unknown)))}",
                           hint="one route only: group_by, group_wait, group_interval, "
                                "repeat_interval")
    default = Route()
    group_by = tuple(_strings(doc.get("group_by"), "route.group_by")) or default.group_by
    for name in group_by:
        if not LABEL_NAME.fullmatch(name):
            raise InvalidValue(f"route.group_by: invalid label name {name!r}")
    interval = _seconds(doc, "group_interval", default.group_interval_s)
    repeat = _seconds(doc, "repeat_interval", default.repeat_interval_s)
    if interval <= 0 or repeat <= 0:
        raise InvalidValue("route.group_interval and route.repeat_interval must be above zero")
    return Route(group_by, _seconds(doc, "group_wait", default.group_wait_s), interval, repeat)


def _rule(value: Any, where: str) -> InhibitRule:
    doc = _mapping(value, where)
    unknown = set(doc) - _RULE_KEYS
    if unknown:
        raise InvalidValue(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    sides = {}
    for side in ("source", "target"):
        found = [_matcher(m, f"{where}.{side}_matchers")
                 for m in _strings(doc.get(f"{side}_matchers"), f"{where}.{side}_matchers")]
        for op, key in (("=", f"{side}_match"), ("=~", f"{side}_match_re")):
            for name, v in _mapping(doc.get(key), f"{where}.{key}").items():
                found.append(_matcher(f"{name}{op}{_quoted(str(v))}", f"{where}.{key}"))
        sides[side] = tuple(found)
    equal = tuple(_strings(doc.get("equal"), f"{where}.equal"))
    for name in equal:
        if not LABEL_NAME.fullmatch(name):
            raise InvalidValue(f"{where}.equal: invalid label name {name!r}")
    return InhibitRule(sides["source"], sides["target"], equal)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _matcher(text: str, where: str) -> LabelMatcher:
    try:
        return parse_matcher(text)
    except InvalidValue as exc:
        raise InvalidValue(f"{where}: {exc.message}", hint=exc.hint) from None
